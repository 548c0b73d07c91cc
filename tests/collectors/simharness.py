"""Running collectors against the loopback simulator, golden exposition files and promtool, for collector tests.

Import the fixtures into a test module (`from tests.collectors.simharness import running, clock`):
`running` is a simulator shared by the module, reset and set to NOW before each test; `clock`
is its ManualClock, which tests hand to collectors so both sides agree on the time.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric

from exporter.collectors import COLLECTORS, Collector
from exporter.github.client import GitHubClient
from exporter.settings import Settings, load_settings
from exporter.simulator import ManualClock, RunningSimulator
from exporter.simulator.routing import parse_iso
from exporter.store import merge_families
from exporter.telemetry import ExporterMetrics

NOW = parse_iso("2024-09-18T16:00:00Z")
GOLDEN = Path(__file__).resolve().parent / "golden"
PROMTOOL = "/usr/bin/promtool"


@pytest.fixture(scope="module")
def _shared() -> Iterator[RunningSimulator]:
    with RunningSimulator(clock=ManualClock(NOW)) as running:
        yield running


@pytest.fixture
def running(_shared: RunningSimulator) -> Iterator[RunningSimulator]:
    _shared.sim.reset()
    _shared.sim.set_clock(NOW)
    yield _shared


@pytest.fixture
def clock(running: RunningSimulator) -> ManualClock:
    return running.sim.clock  # type: ignore[return-value]


def settings_for(running: RunningSimulator, **sections: Any) -> Settings:
    """Settings pointing at the simulator; `sections` are top-level keys (targets=..., collectors=...)."""
    github = {"api_url": running.url, "token": "ghp_collectortest", "max_retries": 0, **sections.pop("github", {})}
    return load_settings(None, {"github": github, **sections})


def families_text(families: Iterable[Metric]) -> bytes:
    """The text exposition of `families` (same-named families from several targets merged), as /metrics renders it."""

    class _Fixed:
        def __init__(self, fams: list[Metric]) -> None:
            self._fams = fams

        def collect(self) -> list[Metric]:
            return self._fams

    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Fixed(merge_families(families)))
    return generate_latest(registry)


class Harness:
    """A client and one collector per target of a family, kept across runs (collectors keep state)."""

    def __init__(self, settings: Settings, clock: ManualClock, name: str) -> None:
        # The client reads rate-limit resets against the simulator's clock, as it would against GitHub's.
        self.client = GitHubClient(settings.github, ExporterMetrics(CollectorRegistry()), clock=clock)
        cls = COLLECTORS[name]
        self.collectors: list[Collector] = [cls(self.client, settings, t, clock=clock)  # type: ignore[call-arg]
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


def samples(families: Iterable[Metric], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Samples of metric `name`: sorted label pairs -> value."""
    return {tuple(sorted(s.labels.items())): s.value
            for f in families for s in f.samples if s.name == name}


def values_by(families: Iterable[Metric], name: str, label: str) -> dict[str, float]:
    return {s.labels[label]: s.value for f in families for s in f.samples if s.name == name}


def assert_golden(filename: str, body: bytes) -> None:
    """Compare with tests/collectors/golden/<filename>; UPDATE_GOLDEN=1 rewrites the file instead."""
    path = GOLDEN / filename
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(body)
    assert path.is_file(), f"{path} is missing: run the test once with UPDATE_GOLDEN=1"
    expected = path.read_bytes()
    if body != expected:
        want, got = expected.decode().splitlines(), body.decode().splitlines()
        diff = [f"-{a}\n+{b}" for a, b in zip(want, got, strict=False) if a != b][:10]
        pytest.fail(f"{filename} differs from the exposition ({len(want)} vs {len(got)} lines); first differences:\n"
                    + "\n".join(diff) + "\nRewrite with UPDATE_GOLDEN=1 if the change is intended.")


def promtool_check(body: bytes) -> None:
    if not Path(PROMTOOL).is_file():
        pytest.fail(f"{PROMTOOL} is missing: install Debian's prometheus package (scripts/test does)")
    result = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True, timeout=60, check=False)
    problems = (result.stdout + result.stderr).decode().strip()
    assert result.returncode == 0 and not problems, problems
