"""`scripts/demo` as its header says to run it: an explicit --web.listen-address replaces the default 9877."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.hostile import interrupt
from tests.prometheus_harness import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "demo"
DEFAULT_PORT = 9877
DEMO_LINE = re.compile(r"metrics at (http://\S+)")
STARTED = re.compile(r"event=started .*metrics=(\[[^\]]*\])")


@pytest.fixture
def default_port_taken() -> Iterator[None]:
    """127.0.0.1:9877 held by this test (or by someone else already: taken either way)."""
    sock = socket.socket()
    try:
        try:
            sock.bind(("127.0.0.1", DEFAULT_PORT))
            sock.listen()
        except OSError:
            pass
        with pytest.raises(OSError), socket.create_server(("127.0.0.1", DEFAULT_PORT)):
            pass  # the port must really be taken, or the test proves nothing
        yield
    finally:
        sock.close()


def run_demo(tmp_path: Path, *args: str, listen: str | None = None) -> tuple[str, str]:
    """Start scripts/demo, return its first metrics URL and the addresses its `started` log line names."""
    # The script builds .venv only when missing; ./scripts/test made it already, so no install runs here.
    assert (ROOT / ".venv" / "bin" / "github-insights-exporter").exists(), "run ./scripts/test, which makes .venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_") and k != "LISTEN"}
    if listen is not None:
        env["LISTEN"] = listen
    log = tmp_path / "demo.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen([str(SCRIPT), *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=stderr, text=True)
        try:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            found = DEMO_LINE.search(line)
            assert found, f"demo did not start: {line!r} {log.read_text()[-2000:]}"
            url = found.group(1)
            assert httpx.get(url, timeout=5).status_code == 200
            started = STARTED.search(log.read_text())
            assert started, log.read_text()[-2000:]
            return url, started.group(1)
        finally:
            interrupt(proc)
            proc.stdout.close()  # type: ignore[union-attr]


def test_header_example_serves_only_on_the_chosen_port(tmp_path: Path, default_port_taken: None) -> None:
    port = free_port()
    url, served = run_demo(tmp_path, "--web.listen-address", f"127.0.0.1:{port}")
    assert url == f"http://127.0.0.1:{port}/metrics"
    assert served == f"['http://127.0.0.1:{port}/metrics']", served


def test_listen_still_sets_the_default_and_a_flag_replaces_it(tmp_path: Path, default_port_taken: None) -> None:
    port, other = free_port(), free_port()
    _, served = run_demo(tmp_path, listen=f"127.0.0.1:{port}")
    assert served == f"['http://127.0.0.1:{port}/metrics']", served
    _, served = run_demo(tmp_path, f"--web.listen-address=127.0.0.1:{other}", listen=f"127.0.0.1:{port}")
    assert served == f"['http://127.0.0.1:{other}/metrics']", served
