"""The Dockerfile, checked without a Docker engine: parsed with BuildKit's own
parser (the `dockerfile` package), linted with hadolint, and its HEALTHCHECK
command run for real against a local HTTP server."""

from __future__ import annotations

import http.server
import json
import re
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import DOCKERFILE, REPO, module, run
from tests.tools import tool


@cache
def instructions() -> tuple[Any, ...]:
    return tuple(module("dockerfile").parse_file(str(DOCKERFILE)))


def stages() -> list[list[Any]]:
    result: list[list[Any]] = []
    for command in instructions():
        if command.cmd == "FROM":
            result.append([])
        else:
            assert result, "instructions before the first FROM"
        result[-1].append(command)
    return result


def only(stage: list[Any], cmd: str) -> Any:
    found = [command for command in stage if command.cmd == cmd]
    assert len(found) == 1, f"expected one {cmd} in the final stage, found {len(found)}"
    return found[0]


def env_of(stage: list[Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for command in stage:
        if command.cmd == "ENV":
            pairs = command.value
            env.update(zip(pairs[0::2], pairs[1::2], strict=False))
    return env


def test_multi_stage_build_of_a_wheel_into_slim_python() -> None:
    build, runtime = stages()
    assert build[0].value == ("python:3.12-slim", "AS", "build")
    assert runtime[0].value == ("python:3.12-slim", "AS", "runtime")
    build_runs = " ".join(c.value[0] for c in build if c.cmd == "RUN")
    assert "pip wheel" in build_runs
    install = [c for c in runtime if c.cmd == "RUN" and "pip install" in c.value[0]]
    assert len(install) == 1
    command = install[0]
    assert "--mount=type=bind,from=build,source=/wheels,target=/wheels" in command.flags
    assert "--no-index" in command.value[0] and "--find-links=/wheels" in command.value[0]
    assert not [c for c in runtime if c.cmd in ("COPY", "ADD")], "the runtime stage gets nothing but the wheels"


def test_runs_as_a_numeric_non_root_user() -> None:
    runtime = stages()[-1]
    user = only(runtime, "USER").value[0]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, user
    assert gid.isdigit() and int(gid) != 0, user
    position = runtime.index(only(runtime, "USER"))
    assert all(c.cmd != "RUN" for c in runtime[position:]), "nothing runs as root after USER"
    useradd = next(c.value[0] for c in runtime if c.cmd == "RUN" and "useradd" in c.value[0])
    assert f"--uid {uid}" in useradd


def test_entrypoint_is_the_console_script_and_port_the_default() -> None:
    runtime = stages()[-1]
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    entrypoint = only(runtime, "ENTRYPOINT")
    assert entrypoint.json, "exec form, so signals reach the exporter"
    assert entrypoint.value == ("github-insights-exporter",)
    assert pyproject["project"]["scripts"]["github-insights-exporter"] == "exporter.cli:main"
    cli = module("exporter.cli")
    default_port = cli.DEFAULT_LISTEN.rpartition(":")[2]
    assert only(runtime, "EXPOSE").value == (default_port,) == ("9877",)
    cmd = only(runtime, "CMD")
    assert cmd.json
    parsed = cli.build_parser().parse_args(list(cmd.value))
    assert parsed.config_file == "/etc/github-insights-exporter/config.yml"


def test_healthcheck_uses_python_on_the_healthy_endpoint() -> None:
    runtime = stages()[-1]
    healthcheck = only(runtime, "HEALTHCHECK")
    assert healthcheck.json and healthcheck.value[0] == "CMD"
    argv = healthcheck.value[1:]
    assert argv[0] == "python" and not re.search(r"\b(curl|wget)\b", " ".join(argv))
    assert env_of(runtime)["HEALTHCHECK_URL"] == "http://127.0.0.1:9877/-/healthy"
    flags = dict(flag.lstrip("-").split("=", 1) for flag in healthcheck.flags)
    assert set(flags) == {"interval", "timeout", "start-period", "retries"}


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        code = self.status if self.path == "/-/healthy" else 404
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"ok\n" if code == 200 else b"no\n")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[str, type[_Health]]]:
    handler = type("Handler", (_Health,), {"status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def run_healthcheck(url: str) -> int:
    argv = list(only(stages()[-1], "HEALTHCHECK").value[1:])
    argv[0] = sys.executable  # the image's "python"
    return subprocess.run(argv, env={"HEALTHCHECK_URL": url}, capture_output=True, timeout=30).returncode


def test_healthcheck_command_passes_and_fails(health_server: tuple[str, type[_Health]]) -> None:
    base, handler = health_server
    assert run_healthcheck(f"{base}/-/healthy") == 0
    handler.status = 503
    assert run_healthcheck(f"{base}/-/healthy") == 1
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    assert run_healthcheck(f"http://127.0.0.1:{closed}/-/healthy") == 1


def test_hadolint_finds_nothing() -> None:
    result = run([tool("hadolint"), "--format", "json", str(DOCKERFILE)])
    findings = json.loads(result.stdout or "[]")
    assert findings == [] and result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_a_bad_instruction(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(DOCKERFILE.read_text(encoding="utf-8").replace("USER 10001:10001", "USER root"), encoding="utf-8")
    result = run([tool("hadolint"), "--format", "json", str(bad)])
    assert "DL3002" in {finding["code"] for finding in json.loads(result.stdout)}  # last USER is root


# .dockerignore: Docker's rules are that the last matching pattern wins, "!"
# re-includes, and a pattern matching a directory covers all below it.
def ignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    patterns = []
    for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        glob = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(glob):
            if glob.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif glob.startswith("**", i):
                regex += ".*"
                i += 2
            elif glob[i] == "*":
                regex += "[^/]*"
                i += 1
            elif glob[i] == "?":
                regex += "[^/]"
                i += 1
            elif glob[i] == "[":
                end = glob.index("]", i)
                regex += glob[i:end + 1]
                i = end + 1
            else:
                regex += re.escape(glob[i])
                i += 1
        patterns.append((negate, re.compile(regex)))
    return patterns


def in_context(path: str) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    included = True
    for negate, pattern in ignore_patterns():
        if any(pattern.fullmatch(prefix) for prefix in prefixes):
            included = negate
    return included


def test_dockerignore_sends_only_what_the_build_copies() -> None:
    copies = [command for command in instructions() if command.cmd == "COPY" and not command.flags]
    copied = [source for command in copies for source in command.value[:-1]]
    assert copied == ["pyproject.toml", "README.md", "exporter"]
    for source in copied:
        assert (REPO / source).exists(), source
        assert in_context(source), f"{source} is excluded by .dockerignore"
    for path in ("exporter/cli.py", "exporter/simulator/__init__.py", "exporter/py.typed"):
        assert in_context(path), path
    for path in (
        ".git/HEAD",
        ".venv/bin/python",
        "node_modules/@octokit/openapi/package.json",
        "tests/test_cli.py",
        "deploy/compose/compose.yml",
        "exporter/__pycache__/cli.cpython-312.pyc",
        "docs/metrics.md",
        ".env",
    ):
        assert not in_context(path), path
