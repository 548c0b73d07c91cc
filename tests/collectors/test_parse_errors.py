"""One unreadable row (a timestamp that is not ISO 8601) is skipped and counted; the rest of the run is kept."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from exporter.collectors.api_insights import SUBJECT_STATS, TIME_STATS
from exporter.collectors.server_statistics import ROUTE as SERVER_STATISTICS
from exporter.simulator import ManualClock, RunningSimulator
from tests.collectors.harness import ENTERPRISE, ORG, Harness, settings_for

CASES = {
    "subject-stats": ("api_insights", SUBJECT_STATS, {"orgs": [ORG]}, "github_api_insights_subject_window_requests"),
    "time-stats": ("api_insights", TIME_STATS, {"orgs": [ORG]}, "github_api_insights_requests_total"),
    "server-statistics": (
        "server_statistics", SERVER_STATISTICS, {"enterprises": [ENTERPRISE]}, "github_enterprise_server_issues"
    ),
}


def names(families: list[Metric]) -> set[str]:
    return {s.name for f in families for s in f.samples}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_bad_row_is_skipped_counted_and_the_run_kept(
    running: RunningSimulator, clock: ManualClock, case: str
) -> None:
    collector, endpoint, targets, kept_metric = CASES[case]
    only: dict[str, Any] = {name: {"enabled": name == collector} for name in ("api_insights", "server_statistics")}
    settings = settings_for(running, targets=targets, collectors=only)
    registry = CollectorRegistry()
    harness = Harness(settings, clock, collector, registry)
    assert len(harness.collectors) == 1
    try:
        clean = await harness.collect()
        running.sim.add_fault("bad_row", route=endpoint)
        clock.advance(3600)  # past api_insights.ranking_interval, so subject-stats is asked again
        spoiled = await harness.collect()  # no exception: the run is kept
    finally:
        await harness.aclose()
    assert kept_metric in names(spoiled), sorted(names(spoiled))
    assert len(names(spoiled)) >= len(names(clean)) - 2, "only the bad row's own series may go"
    counted = registry.get_sample_value(
        "github_exporter_parse_errors_total", {"collector": collector, "endpoint": endpoint}
    )
    assert counted == 1
