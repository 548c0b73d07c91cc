"""Shared by the Copilot collector tests: a simulator on a fixed clock, settings, a client, goldens, promtool."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from exporter.github.client import GitHubClient
from exporter.settings import Settings, load_settings
from exporter.simulator import ManualClock, RunningSimulator
from exporter.simulator.routing import parse_iso
from exporter.telemetry import ExporterMetrics
from tests.deploy.helpers import tool

NOW = parse_iso("2024-09-18T16:00:00Z")  # a Wednesday; yesterday (the 17th) is processed
DAY = 86400.0
ORG = "octo-demo"
ENTERPRISE = "octo-enterprise"
GOLDEN = Path(__file__).resolve().parent / "golden"


def serve() -> Iterator[RunningSimulator]:
    """A loopback simulator on the fixed clock; test modules wrap it in a module-scoped fixture."""
    with RunningSimulator(clock=ManualClock(NOW)) as running:
        yield running


def fresh(running: RunningSimulator) -> RunningSimulator:
    """The shared simulator with its switches, counters and clock reset, for one test."""
    running.sim.reset()
    running.sim.set_clock(NOW)
    return running


def settings_for(url: str, collectors: dict[str, Any] | None = None, teams: Iterable[str] = ()) -> Settings:
    return load_settings(None, {
        "github": {"api_url": url, "token": "ghp_collectortest", "max_retries": 0},
        "targets": {"orgs": [ORG], "teams": list(teams), "enterprises": [ENTERPRISE]},
        "collectors": collectors or {},
    })


@asynccontextmanager
async def github(settings: Settings) -> AsyncIterator[GitHubClient]:
    client = GitHubClient(settings.github, ExporterMetrics(CollectorRegistry()))
    try:
        yield client
    finally:
        await client.aclose()


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class _Frozen:
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return self._families


def exposition(families: list[Metric]) -> str:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Frozen(families))
    return generate_latest(registry).decode()


def values(families: list[Metric]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(name, sorted labels): value} of every sample."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def series(families: list[Metric], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: v for (n, labels), v in values(families).items() if n == name}


def assert_golden(name: str, text: str) -> None:
    """Compare with tests/collectors/golden/<name>; UPDATE_GOLDEN=1 rewrites the file instead."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"{path} is missing: run with UPDATE_GOLDEN=1 once and review the file"
    assert text == path.read_text(), f"exposition differs from {path}; if intended, rerun with UPDATE_GOLDEN=1"
    # The golden file is also valid exposition text.
    assert list(text_string_to_metric_families(text))


def assert_promtool_clean(text: str) -> None:
    result = subprocess.run(
        [tool("promtool"), "check", "metrics"], input=text.encode(), capture_output=True, timeout=30, check=False
    )
    output = (result.stdout + result.stderr).decode()
    assert result.returncode == 0 and output.strip() == "", output
