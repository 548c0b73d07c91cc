"""`github-insights-exporter backfill`: GitHub's retained history as OpenMetrics with timestamps.

Prometheus never scraped what happened before the exporter started, but GitHub
keeps some of it (API Insights time stats, Copilot days, traffic days, billing
days). Each collector's `history()` returns it under the live metric names; this
module writes one OpenMetrics file for `promtool tsdb create-blocks-from openmetrics`.
Backfill up to the moment the live exporter started, so the two do not overlap.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest

from exporter.assembly import build_collectors, demo_settings
from exporter.collectors.base import HistoricalSample
from exporter.github.client import GitHubClient
from exporter.github.errors import GitHubError
from exporter.settings import Settings
from exporter.telemetry import ExporterMetrics

log = structlog.get_logger(__name__)


def families_of(samples: Iterable[HistoricalSample]) -> list[Metric]:
    """Group samples into one family per metric, each series in time order, as OpenMetrics requires."""
    by_spec: dict[str, tuple[CounterMetricFamily | GaugeMetricFamily, list[HistoricalSample]]] = {}
    for sample in samples:
        entry = by_spec.setdefault(sample.spec.name, (sample.spec.new(), []))
        entry[1].append(sample)
    families: list[Metric] = []
    for family, items in by_spec.values():
        for item in sorted(items, key=lambda s: (s.labels, s.timestamp)):
            family.add_metric(list(item.labels), item.value, timestamp=item.timestamp)
        families.append(family)
    return families


class _Frozen:
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return self._families


def render_openmetrics(samples: Iterable[HistoricalSample]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Frozen(families_of(samples)))
    body: bytes = generate_latest(registry)  # type: ignore[no-untyped-call]  # untyped in prometheus_client
    return body


async def collect_history(
    settings: Settings, start: float, end: float, clock: Callable[[], float] = time.time
) -> list[HistoricalSample]:
    """Each collector's history between start and end; `clock` is what "now" is to the client and collectors."""
    client = GitHubClient(settings.github, ExporterMetrics(CollectorRegistry()), clock=clock)
    samples: list[HistoricalSample] = []
    try:
        for collector in build_collectors(settings, client, clock=clock):
            try:
                found = await collector.history(start, end)
            except GitHubError as exc:
                log.warning(
                    "backfill: history unavailable", collector=collector.name, target=collector.target, error=str(exc)
                )
                continue
            log.info("backfill", collector=collector.name, target=collector.target, samples=len(found))
            samples.extend(s for s in found if start <= s.timestamp <= end)
    finally:
        await client.aclose()
    return samples


async def run(
    settings: Settings | None,
    *,
    config_file: str | None,
    start: float,
    end: float,
    output: str,
    demo_start: float | None = None,
) -> int:
    """Write the history between start and end; settings None means the demo (the built-in simulator).

    demo_start (--demo.start) puts the simulated world, and so the client and collectors that read its
    time as they would GitHub's, at that instant instead of the wall clock's.
    """
    simulator = None
    clock: Callable[[], float] = time.time
    if settings is None:
        from exporter.simulator.clock import ShiftedClock
        from exporter.simulator.config import SimulatorConfig
        from exporter.simulator.server import start_simulator

        if demo_start is not None:
            clock = ShiftedClock(demo_start)
        simulator = await start_simulator(SimulatorConfig.demo(), clock=clock)
        settings = demo_settings(config_file, simulator.url, simulator.targets(), {})
    try:
        samples = await collect_history(settings, start, end, clock)
    finally:
        if simulator is not None:
            await simulator.stop()
    body = render_openmetrics(samples)
    if output == "-":
        sys.stdout.buffer.write(body)
    else:
        Path(output).write_bytes(body)
    log.info("backfill written", output=output, samples=len(samples), bytes=len(body))
    return 0
