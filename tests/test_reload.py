"""Reloading a running exporter, as Prometheus users expect: SIGHUP and POST /-/reload, good and bad files.

A real daemon (demo mode, so the simulator stands in for GitHub) reads a
config file the test rewrites; the exporter's own metrics say what happened.
"""

from __future__ import annotations

import asyncio
import signal
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import bcrypt
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.test_demo_e2e import DemoProcess

V1 = """
collectors:
  api_insights: {interval: 2s}
  server_statistics: {interval: 2s}
  repo_traffic: {enabled: false}
  billing: {enabled: false}
  copilot: {enabled: false}
  copilot_usage: {enabled: false}
targets:
  orgs: [octo-demo]
  enterprises: [octo-enterprise]
"""

# api_insights unchanged; server_statistics gone; repo_traffic new.
V2 = """
collectors:
  api_insights: {interval: 2s}
  server_statistics: {enabled: false}
  repo_traffic: {interval: 2s, discover: [octo-demo]}
  billing: {enabled: false}
  copilot: {enabled: false}
  copilot_usage: {enabled: false}
targets:
  orgs: [octo-demo]
  enterprises: [octo-enterprise]
"""

BAD = V2.replace("api_insights: {interval: 2s}", "api_insights: {interval: 5x}")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(text: str, name: str, **labels: str) -> float | None:
    want = tuple(sorted(labels.items()))
    for (n, lbl), v in samples(text).items():
        if n == name and all(item in lbl for item in want):
            return v
    return None


def runs(demo: DemoProcess, collector: str) -> float:
    return value(demo.scrape(), "github_exporter_collector_runs_total", collector=collector) or 0.0


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reload") / "config.yml"
    path.write_text(V1)
    return path


@pytest.fixture(scope="module")
def demo(config: Path) -> Iterator[DemoProcess]:
    process = DemoProcess("--config.file", str(config), "--web.enable-lifecycle")
    yield process
    if process.proc.poll() is None:
        process.proc.kill()
        process.proc.wait()


def test_reload_by_http_keeps_unchanged_collectors_and_swaps_the_rest(demo: DemoProcess, config: Path) -> None:
    wait_until(lambda: runs(demo, "api_insights") >= 2 and runs(demo, "server_statistics") >= 1)
    before = runs(demo, "api_insights")
    text = demo.scrape()
    assert value(text, "github_exporter_config_last_reload_successful") == 1
    started_at = value(text, "github_exporter_config_last_reload_success_timestamp_seconds")
    assert started_at is not None and abs(started_at - time.time()) < 120

    config.write_text(V2)
    answer = httpx.post(f"{demo.base_url}/-/reload", timeout=10)
    assert answer.status_code == 200, answer.text

    text = demo.scrape()
    assert value(text, "github_exporter_config_last_reload_successful") == 1
    reloaded_at = value(text, "github_exporter_config_last_reload_success_timestamp_seconds")
    assert reloaded_at is not None and reloaded_at > started_at
    # The unchanged collector kept its counters: no reset to 0.
    assert runs(demo, "api_insights") >= before
    # The removed one is gone with its data and self-metrics; the new one runs.
    assert "github_enterprise_server_" not in text
    assert value(text, "github_exporter_collector_runs_total", collector="server_statistics") is None
    wait_until(lambda: runs(demo, "repo_traffic") >= 1)
    wait_until(lambda: "github_repo_traffic_" in demo.scrape())
    wait_until(lambda: runs(demo, "api_insights") > before)


def test_a_bad_file_is_refused_and_the_running_configuration_stays(demo: DemoProcess, config: Path) -> None:
    config.write_text(BAD)
    answer = httpx.post(f"{demo.base_url}/-/reload", timeout=10)
    assert answer.status_code == 500
    assert "collectors.api_insights.interval" in answer.text
    assert "Traceback" not in answer.text
    assert value(demo.scrape(), "github_exporter_config_last_reload_successful") == 0
    before = runs(demo, "api_insights")
    wait_until(lambda: runs(demo, "api_insights") > before)  # still collecting on the old configuration

    config.write_text(V2)
    demo.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: value(demo.scrape(), "github_exporter_config_last_reload_successful") == 1)


def test_sighup_reloads_a_bad_file_into_a_failed_reload(demo: DemoProcess, config: Path) -> None:
    config.write_text(BAD)
    demo.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: value(demo.scrape(), "github_exporter_config_last_reload_successful") == 0)
    config.write_text(V2)
    demo.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: value(demo.scrape(), "github_exporter_config_last_reload_successful") == 1)
    assert demo.proc.poll() is None


def test_runtime_metrics_are_served_by_default(demo: DemoProcess) -> None:
    text = demo.scrape()
    assert (value(text, "process_resident_memory_bytes") or 0) > 0
    assert value(text, "python_info") == 1


def _web_config(path: Path, user: str, password: bytes) -> None:
    hashed = bcrypt.hashpw(password, bcrypt.gensalt(rounds=4)).decode()
    path.write_text(f"basic_auth_users:\n  {user}: {hashed}\n")


def test_web_config_is_reread_and_flags_of_exporter_toolkit(tmp_path: Path) -> None:
    web = tmp_path / "web.yml"
    _web_config(web, "alice", b"first")
    process = DemoProcess(
        "--web.config.file",
        str(web),
        "--web.listen-address",
        "127.0.0.1:0",
        "--web.disable-exporter-metrics",
    )
    try:
        url = process.metrics_url
        assert httpx.get(url, timeout=5).status_code == 401
        first = httpx.get(url, auth=("alice", "first"), timeout=5)
        assert first.status_code == 200
        # --web.disable-exporter-metrics: no process or runtime metrics; the exporter's own stay.
        assert "process_resident_memory_bytes" not in first.text and "python_info" not in first.text
        assert "github_exporter_build_info" in first.text
        # No --web.enable-lifecycle: no reload over HTTP.
        assert httpx.post(f"{process.base_url}/-/reload", auth=("alice", "first"), timeout=5).status_code in (404, 405)

        time.sleep(1.1)  # a new mtime even on coarse file systems
        _web_config(web, "bob", b"second")
        wait_until(lambda: httpx.get(url, auth=("bob", "second"), timeout=5).status_code == 200)
        assert httpx.get(url, auth=("alice", "first"), timeout=5).status_code == 401

        web.write_text("basic_auth_users: [not, a, mapping]\n")
        time.sleep(1.5)
        assert httpx.get(url, auth=("bob", "second"), timeout=5).status_code == 200, "a bad file keeps the old one"
    finally:
        code, _, stderr = process.stop()
    assert code == 0
    assert "web config reload failed" in stderr
    assert "Traceback" not in stderr


def test_repeated_listen_address_serves_on_each(tmp_path: Path) -> None:
    process = DemoProcess("--web.listen-address", "127.0.0.1:0")
    try:
        wait_until(lambda: "github_exporter_build_info" in process.scrape())
    finally:
        code, _, stderr = process.stop()
    assert code == 0
    # Both listeners were started (DemoProcess already passes one 127.0.0.1:0).
    assert stderr.count("serving HTTP") == 2, stderr


async def _served_common_name(address: tuple[str, int], trust: ssl.SSLContext) -> str:
    reader, writer = await asyncio.open_connection(*address, ssl=trust, server_hostname="localhost")
    try:
        cert = writer.get_extra_info("peercert")
        return next(value for rdn in cert["subject"] for key, value in rdn if key == "commonName")
    finally:
        writer.close()


async def test_a_rotated_tls_certificate_is_served_without_a_restart(tmp_path: Path) -> None:
    from exporter.http.app import create_app
    from exporter.http.serve import serve
    from exporter.http.webconfig import load_web_config
    from tests.test_server import _write_cert, _write_key, always_ready, make_store

    _write_cert(tmp_path / "first.crt", _write_key(tmp_path / "first.key"), "first")
    _write_cert(tmp_path / "second.crt", _write_key(tmp_path / "second.key"), "second")
    (tmp_path / "trust.pem").write_text((tmp_path / "first.crt").read_text() + (tmp_path / "second.crt").read_text())
    trust = ssl.create_default_context(cafile=tmp_path / "trust.pem")
    trust.check_hostname = False  # both are self-signed for "localhost"; the test reads which one is served
    web = tmp_path / "web.yml"
    web.write_text("tls_server_config:\n  cert_file: first.crt\n  key_file: first.key\n")
    config = load_web_config(web)
    app = create_app(make_store(), readiness=always_ready, web_config=config, web_config_file=str(web))
    server = await serve(app, "127.0.0.1:0", config)
    try:
        address = (server.host, server.port)
        assert await _served_common_name(address, trust) == "first"
        await asyncio.sleep(1.1)
        web.write_text("tls_server_config:\n  cert_file: second.crt\n  key_file: second.key\n")
        async with httpx.AsyncClient(verify=trust, timeout=5) as c:
            assert (await c.get(f"{server.url}/-/healthy")).status_code == 200  # this request notices the change
        assert await _served_common_name(address, trust) == "second"
    finally:
        await server.stop()
