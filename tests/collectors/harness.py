"""The plain values and functions of the collector harness; its fixtures are in conftest.py beside this file.

Everything runs on one fixed instant, NOW, which the `running` simulator and its `clock` start at.
"""

from __future__ import annotations

import difflib
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from exporter.collectors import COLLECTORS, Collector
from exporter.github.client import GitHubClient
from exporter.settings import Settings, load_settings
from exporter.simulator import ManualClock, RunningSimulator
from exporter.simulator.routing import parse_iso
from exporter.store import merge_families
from exporter.telemetry import ExporterMetrics

NOW = parse_iso("2024-09-18T16:00:00Z")  # a Wednesday; yesterday (the 17th) is a complete, processed day
DAY = 86400.0
ORG = "octo-demo"
ENTERPRISE = "octo-enterprise"
TOKEN = "ghp_collectortest"
GOLDEN = Path(__file__).resolve().parent / "golden"
DIFF_LINES = 40

Golden = Callable[[str, str], None]  # the `golden` fixture: golden(file name, exposition)


def settings_for(running: RunningSimulator | str, **sections: Any) -> Settings:
    """Settings pointing at the simulator (or at a URL, for a test that fakes GitHub or only validates);
    `sections` are top-level keys (targets=..., collectors=...)."""
    url = running if isinstance(running, str) else running.url
    github = {"api_url": url, "token": TOKEN, "max_retries": 0, **sections.pop("github", {})}
    return load_settings(None, {"github": github, **sections})


@asynccontextmanager
async def client_for(settings: Settings, registry: CollectorRegistry | None = None) -> AsyncIterator[GitHubClient]:
    """A client for a test that builds its collectors itself; `registry` receives the client's self-metrics."""
    client = GitHubClient(settings.github, ExporterMetrics(registry or CollectorRegistry()))
    try:
        yield client
    finally:
        await client.aclose()


def render(families: Iterable[Metric]) -> str:
    """The text exposition of `families` (same-named families from several targets merged), as /metrics renders it."""

    class _Fixed:
        def __init__(self, fams: list[Metric]) -> None:
            self._fams = fams

        def collect(self) -> list[Metric]:
            return self._fams

    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Fixed(merge_families(families)))
    return generate_latest(registry).decode()


def compare_golden(path: Path, exposition: str, *, update: bool) -> None:
    """The exposition equals the file byte for byte, or the test fails with a diff; `update` writes it instead."""
    assert list(text_string_to_metric_families(exposition)), "the exposition is empty or unreadable"
    if update:
        path.write_bytes(exposition.encode())
        return
    if not path.is_file():
        pytest.fail(f"{path} is missing: run with --snapshot-update once and review the file", pytrace=False)
    expected = path.read_bytes().decode()
    if exposition != expected:
        diff = list(difflib.unified_diff(expected.splitlines(), exposition.splitlines(),
                                         f"golden/{path.name}", "exposition", lineterm="", n=1))
        diff = diff or ["(the lines are equal: they differ in line endings or the final newline)"]
        more = f"\n... {len(diff) - DIFF_LINES} more diff lines" if len(diff) > DIFF_LINES else ""
        pytest.fail(f"the exposition differs from golden/{path.name}:\n" + "\n".join(diff[:DIFF_LINES]) + more
                    + "\nIf the change is intended, rerun with --snapshot-update and say why in the commit.",
                    pytrace=False)


class Harness:
    """A client and one collector per target of a family, kept across runs (collectors keep state)."""

    def __init__(self, settings: Settings, clock: ManualClock, name: str,
                 registry: CollectorRegistry | None = None, **extra: Any) -> None:
        """`registry` receives the client's self-metrics; `extra` goes to the collector (billing's `sleep`)."""
        # The client reads rate-limit resets against the simulator's clock, as it would against GitHub's.
        self.client = GitHubClient(settings.github, ExporterMetrics(registry or CollectorRegistry()), clock=clock)
        cls = COLLECTORS[name]
        self.collectors: list[Collector] = [cls(self.client, settings, t, clock=clock, **extra)  # type: ignore[call-arg]
                                            for t in cls.targets(settings)]

    async def collect(self) -> list[Metric]:
        families: list[Metric] = []
        for collector in self.collectors:
            families += await collector.collect()
        return families

    async def aclose(self) -> None:
        await self.client.aclose()


async def collect_once(settings: Settings, clock: ManualClock, name: str) -> list[Metric]:
    harness = Harness(settings, clock, name)
    try:
        return await harness.collect()
    finally:
        await harness.aclose()


def values(families: Iterable[Metric]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample: (name, sorted label pairs) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def samples(families: Iterable[Metric], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Samples of metric `name`: sorted label pairs -> value."""
    return {tuple(sorted(s.labels.items())): s.value
            for f in families for s in f.samples if s.name == name}


def drift_signals(client: GitHubClient) -> dict[str, set[tuple[str, str]]]:
    """What the client's drift metrics list: {"unmapped": {(collector, field)}, "missing": {...}}."""
    drift = client.drift
    return {kind: {(s.labels["collector"], s.labels["field"]) for f in gauge.collect() for s in f.samples
                   if s.value == 1}
            for kind, gauge in (("unmapped", drift.unmapped), ("missing", drift.missing))}


def values_by(families: Iterable[Metric], name: str, label: str) -> dict[str, float]:
    return {s.labels[label]: s.value for f in families for s in f.samples if s.name == name}
