"""`github-insights-exporter backfill`: GitHub's retained history as OpenMetrics with timestamps.

Prometheus never scraped what happened before the exporter started, but GitHub
keeps some of it (API Insights time stats, Copilot days, traffic days, billing
days). Each collector's `history()` returns it under the live metric names; this
module writes one OpenMetrics file for `promtool tsdb create-blocks-from openmetrics`.
Backfill up to the moment the live exporter started, so the two do not overlap.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest

from exporter.collectors.base import HistoricalSample
from exporter.github.client import GitHubClient
from exporter.github.errors import GitHubError
from exporter.settings import ConfigError, Settings
from exporter.telemetry import ExporterMetrics

log = structlog.get_logger(__name__)


def parse_when(text: str, flag: str) -> float:
    """A date (YYYY-MM-DD, midnight UTC) or an ISO 8601 timestamp."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{flag}: {text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="github-insights-exporter backfill",
        description="Write GitHub's retained history as OpenMetrics for promtool tsdb create-blocks-from openmetrics.",
    )
    parser.add_argument("--config.file", dest="config_file", metavar="PATH")
    parser.add_argument(
        "--from", dest="start", metavar="DATE", help="Start (YYYY-MM-DD or ISO time, UTC); default 24 h before --to."
    )
    parser.add_argument("--to", dest="end", metavar="DATE", help="End (YYYY-MM-DD or ISO time, UTC); default now.")
    parser.add_argument(
        "--output", required=True, metavar="FILE", help="Where to write the OpenMetrics text ('-' for stdout)."
    )
    parser.add_argument("--demo", action="store_true", help="Read the history of the built-in GitHub simulator.")
    parser.add_argument("--log.level", dest="log_level", default="info", choices=["debug", "info", "warn", "error"])
    parser.add_argument("--log.format", dest="log_format", default="logfmt", choices=["logfmt", "json"])
    return parser


def families_of(samples: Iterable[HistoricalSample]) -> list[Metric]:
    """Group samples into one family per metric, each series in time order, as OpenMetrics requires."""
    by_spec: dict[str, tuple[Metric, list[HistoricalSample]]] = {}
    for sample in samples:
        entry = by_spec.setdefault(sample.spec.name, (sample.spec.new(), []))
        entry[1].append(sample)
    families = []
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
    return generate_latest(registry)


async def collect_history(settings: Settings, start: float, end: float) -> list[HistoricalSample]:
    from exporter.daemon import build_collectors

    client = GitHubClient(settings.github, ExporterMetrics(CollectorRegistry()))
    samples: list[HistoricalSample] = []
    try:
        for collector in build_collectors(settings, client):
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


async def _run(args: argparse.Namespace, settings: Settings | None, start: float, end: float) -> int:
    simulator = None
    if args.demo:
        from exporter.daemon import demo_settings
        from exporter.simulator.config import SimulatorConfig
        from exporter.simulator.server import start_simulator

        simulator = await start_simulator(SimulatorConfig.demo())
        settings = demo_settings(args.config_file, simulator.url, simulator.targets(), {})
    assert settings is not None
    try:
        samples = await collect_history(settings, start, end)
    finally:
        if simulator is not None:
            await simulator.stop()
    body = render_openmetrics(samples)
    if args.output == "-":
        sys.stdout.buffer.write(body)
    else:
        Path(args.output).write_bytes(body)
    log.info("backfill written", output=args.output, samples=len(samples), bytes=len(body))
    return 0


def main(argv: Sequence[str]) -> int:
    from exporter import logs
    from exporter.cli import EXIT_CONFIG, PROG, check_runnable
    from exporter.settings import load_settings

    args = build_parser().parse_args(argv)
    logs.configure(args.log_level.replace("warn", "warning"), args.log_format)
    try:
        end = parse_when(args.end, "--to") if args.end else datetime.now(UTC).timestamp()
        start = parse_when(args.start, "--from") if args.start else end - 86400
        if start >= end:
            raise ConfigError("--from must be before --to")
        settings = None
        if not args.demo:
            settings = load_settings(args.config_file)
            check_runnable(settings)
            if settings.github.token:
                logs.register_secret(settings.github.token.get_secret_value())
    except ConfigError as exc:
        print(f"{PROG} backfill: configuration error:", file=sys.stderr)
        for line in str(exc).splitlines():
            print(f"  {line}", file=sys.stderr)
        return EXIT_CONFIG
    return asyncio.run(_run(args, settings, start, end))
