"""Every fault GitHub can produce, as switches on the simulator, and the exporter daemon run as a user runs it.

Shared by the secrets test, the fault suite and bench/soak.py.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from exporter.simulator import Simulator
from exporter.simulator import billing as sim_billing
from exporter.simulator import copilot as sim_copilot

ROOT = Path(__file__).resolve().parent.parent
OVERSIZED = 2 * 1024 * 1024  # past the daemons' max_response_bytes below


def _secondary(sim: Simulator, status: int) -> None:
    sim.set_secondary_limit(status=status, retry_after=30)


def faults(
    elsewhere_url: str, route: str | None = None, token: str | None = None
) -> dict[str, Callable[[Simulator], Any]]:
    """Fault name -> what switches it on (until `sim.reset()`), on `route` (a glob; None: every route).

    Rate limits are per token (`token`'s window, or every window), so those apply whatever `route` says.
    """
    return {
        "5xx burst": lambda sim: sim.fail_next(count=None, status=502, route=route),
        "timeout": lambda sim: sim.set_delay(3.0, route=route),
        "connection reset": lambda sim: sim.add_fault("drop", count=None, route=route),
        "403 secondary limit": lambda sim: _secondary(sim, 403),
        "429": lambda sim: _secondary(sim, 429),
        "primary limit at zero": lambda sim: sim.set_rate_limit(remaining=0, reset_in=3600, token=token),
        "401": lambda sim: sim.fail_next(count=None, status=401, route=route),
        "404": lambda sim: sim.fail_next(count=None, status=404, route=route),
        "410": lambda sim: sim.fail_next(count=None, status=410, route=route),
        "malformed JSON": lambda sim: sim.add_fault("malformed", count=None, route=route),
        "HTML error page": lambda sim: sim.add_fault("html", count=None, status=502, route=route),
        "oversized body": lambda sim: sim.add_fault("oversized", count=None, size=OVERSIZED, route=route),
        "pagination loop": lambda sim: sim.add_fault("loop", count=None, route=route),
        "next link to another host": lambda sim: sim.add_fault(
            "foreign_link", count=None, url=elsewhere_url, route=route
        ),
        "bad rows": lambda sim: sim.add_fault("bad_row", count=None, route=route),
        "export failed": lambda sim: sim.billing.fail_next_exports(100),
        "export stuck": lambda sim: sim.billing.set_delay(10**6),
        "download fails": lambda sim: (
            sim.fail_next(count=None, status=503, route=sim_billing.DOWNLOAD_TEMPLATE),
            sim.fail_next(count=None, status=500, route=sim_copilot.DOWNLOAD_TEMPLATE),
        ),
    }


GLOBAL_FAULTS = ("403 secondary limit", "429", "primary limit at zero")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def daemon_config(sim: Simulator, api_url: str, credentials: dict[str, Any], interval: str = "1s") -> dict[str, Any]:
    """Every collector on the simulator's targets (a team and two repositories), short intervals and waits."""
    every = {"interval": interval}
    org = next(iter(sim.world.orgs.values()))
    return {
        "github": {
            "api_url": api_url, "timeout": "2s", "max_retries": 0, "max_rate_limit_wait": "1s",
            "max_response_bytes": 1024 * 1024, **credentials,
        },
        "targets": {
            "orgs": [org.login],
            "enterprises": [sim.world.enterprise],
            "teams": [f"{org.login}/{next(iter(org.teams))}"],
            "repositories": [f"{org.login}/{repo}" for repo in list(org.repos)[:2]],
        },
        "collectors": {
            "api_insights": every, "server_statistics": every, "repo_traffic": every,
            "billing": {**every, "poll_timeout": "1s"}, "copilot": every,
            "copilot_usage": {**every, "enabled": True},
        },
        "store": {"max_age": "1h"},
    }


class Daemon:
    """`python -m exporter` with a config file, at debug level, its output kept."""

    def __init__(self, directory: Path, config: dict[str, Any], *extra: str) -> None:
        path = directory / "config.yml"
        path.write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / "daemon.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exporter", "--config.file", str(path), "--web.listen-address",
             f"127.0.0.1:{self.port}", "--log.level", "debug", "--log.format", "json", *extra],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, text=True,
        )
        self.scrapes: list[str] = []
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(self.url + "/-/healthy", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the daemon did not start:\n{self.output()}")
            time.sleep(0.1)

    def scrape(self) -> str:
        response = httpx.get(self.url + "/metrics", timeout=5)
        assert response.status_code == 200, response.status_code
        self.scrapes.append(response.text)
        return response.text

    def scrape_until(self, done: Callable[[str], bool], timeout: float, settle: float = 2.0) -> str:
        """Scrape until `done(text)` or `timeout` seconds, then again after `settle` seconds (a few more runs of
        every collector, for tests that count what repeats); the last scrape's text."""
        deadline = time.monotonic() + timeout
        while not done(self.scrape()) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(settle)
        return self.scrape()

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def stop(self) -> int:
        interrupt(self.proc)
        self._log.close()
        return self.proc.returncode


def interrupt(proc: subprocess.Popen[str]) -> None:
    """Ctrl-C, as a user stops it; killed if it has not exited ten seconds later."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
