"""The command line as a user runs it: a real subprocess, exit codes and messages, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = Path(__file__).parent / "testdata" / "config"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **(env or {})},
        cwd=ROOT,
    )


def test_config_check_accepts_a_good_file() -> None:
    result = run("--config.check", "--config.file", str(TESTDATA / "good-minimal.yml"))
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout


def test_example_config_is_valid() -> None:
    result = run("--config.check", "--config.file", str(ROOT / "config" / "example.yml"), env={"GITHUB_TOKEN": "ghp_x"})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "name", ["invalid-unknown-key.yml", "invalid-duration.yml", "invalid-yaml.yml", "invalid-short-interval.yml"]
)
def test_config_check_rejects_a_bad_file_naming_the_field(name: str) -> None:
    path = TESTDATA / name
    expected = path.read_text().splitlines()[0].removeprefix("# error: ")
    result = run("--config.check", "--config.file", str(path))
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_credentials_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "no-token.yml"
    config.write_text("targets: {orgs: [octo]}\n")
    result = run("--config.check", "--config.file", str(config))
    assert result.returncode == 2
    assert "github.token: no credentials" in result.stderr


def test_shard_index_out_of_range_is_rejected() -> None:
    result = run(
        "--config.check",
        "--config.file",
        str(TESTDATA / "good-minimal.yml"),
        "--shard.index",
        "3",
        "--shard.count",
        "2",
    )
    assert result.returncode == 2
    assert "sharding: index 3 must be below count 2" in result.stderr


def test_token_never_printed_on_config_error(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("github:\n  token: ghp_supersecretvalue123\n  timeout: never\n")
    result = run("--config.check", "--config.file", str(config))
    assert result.returncode == 2
    assert "github.timeout" in result.stderr
    assert "ghp_supersecretvalue123" not in result.stderr + result.stdout


def test_version_flag() -> None:
    result = run("--version")
    assert result.returncode == 0 and "github-insights-exporter" in result.stdout


def test_taken_listen_address_exits_1_with_one_line_and_json_logs() -> None:
    import json
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("--demo", "--log.format", "json", "--web.listen-address", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr and "address already in use" in result.stderr
    assert "Traceback" not in result.stderr
    log_lines = [line for line in result.stderr.splitlines() if line.startswith("{")]
    assert log_lines, result.stderr
    for line in log_lines:
        event = json.loads(line)
        assert {"ts", "level", "event"} <= set(event)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--demo.series", "1000"), "--demo.series: only valid with --demo"),
        (("--demo", "--demo.series", "0"), "--demo.series: 0 is not between 1 and 10000000"),
        (("--demo.start", "2025-03-01"), "--demo.start: only valid with --demo"),
        (("--demo", "--demo.start", "yesterday"), "--demo.start: 'yesterday' is not a date"),
        (("backfill", "--demo.start", "2025-03-01", "--output", "-"), "--demo.start: only valid with --demo"),
        (("backfill", "--demo", "--demo.start", "soon", "--output", "-"), "--demo.start: 'soon' is not a date"),
    ],
)
def test_demo_series_flag_errors_name_the_flag(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_collector_flags_cover_every_collector() -> None:
    from exporter.cli import COLLECTOR_NAMES
    from exporter.collectors import COLLECTORS

    assert set(COLLECTOR_NAMES) == set(COLLECTORS)
