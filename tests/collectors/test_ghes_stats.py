"""GHES on-box statistics: a GHES-mode run (api_url .../api/v3) against the simulator, golden exposition."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from exporter.assembly import build_collectors
from exporter.collectors import deployed_targets
from exporter.collectors.ghes_stats import GhesStatsCollector
from exporter.github.client import GitHubClient
from exporter.github.deployment import Deployment
from exporter.simulator import ManualClock, RunningSimulator
from exporter.simulator.server_statistics import collection, servers
from exporter.telemetry import ExporterMetrics
from tests.collectors.harness import (
    NOW,
    Golden,
    Harness,
    collect_once,
    drift_signals,
    render,
    samples,
    settings_for,
    values,
)
from tests.tools import promtool_check_metrics


@pytest.mark.parametrize(("url", "kind"), [
    ("https://api.github.com", Deployment.GITHUB_COM),
    ("https://api.octocorp.ghe.com", Deployment.GHE_COM),
    ("https://github.example.com/api/v3", Deployment.GHES),
    ("https://github.example.com/api/v3/", Deployment.GHES),
    ("http://127.0.0.1:8080", Deployment.GITHUB_COM),
])
def test_deployment_from_api_url(url: str, kind: Deployment) -> None:
    assert Deployment.of(url) == kind


def test_no_target_unless_api_url_is_ghes(running: RunningSimulator) -> None:
    assert deployed_targets(GhesStatsCollector, settings_for(running)) == []
    ghes = settings_for(running, github={"api_url": f"{running.url}/api/v3"})
    assert deployed_targets(GhesStatsCollector, ghes) == ["127.0.0.1"]


async def test_ghes_mode_exposes_the_instance_statistics(
    running: RunningSimulator, clock: ManualClock, golden: Golden
) -> None:
    settings = settings_for(running, github={"api_url": f"{running.url}/api/v3"})
    client = GitHubClient(settings.github, ExporterMetrics(CollectorRegistry()))
    try:
        assert "ghes_stats" in {c.name for c in build_collectors(settings, client)}
    finally:
        await client.aclose()
    families = await collect_once(settings, clock, "ghes_stats")
    body = render(families)
    golden("ghes_stats.prom", body)
    promtool_check_metrics(body)
    world = running.sim.world
    expected = collection(world.seed, servers(world)[0], int(NOW // 86400))["ghe_stats"]
    assert isinstance(expected, dict)
    repos = samples(families, "github_ghes_repositories")
    assert repos == {(("host", "127.0.0.1"),): expected["repos"]["total_repos"]}
    issues = {dict(k)["state"]: v for k, v in samples(families, "github_ghes_issues_by_state").items()}
    assert issues == {"open": expected["issues"]["open_issues"], "closed": expected["issues"]["closed_issues"]}
    assert running.sim.count("/api/v3/enterprise/stats/{area}") == 1


# -- drift -------------------------------------------------------------------------------------------


def test_every_documented_field_is_mapped() -> None:
    from exporter.collectors.ghes_stats import FIELDS, ROUTE
    from tests.openapi import GHES_3_19, response_paths

    documented = response_paths(ROUTE, source=GHES_3_19)
    assert len(documented) > 30
    assert {p for p in documented if not FIELDS.knows(p)} == set()
    assert FIELDS.known <= documented


async def test_an_added_and_a_renamed_field_show_within_one_run(running: RunningSimulator, clock: ManualClock) -> None:
    from exporter.simulator import ghes_stats as sim_ghes
    from exporter.simulator.field_drift import set_field_drift

    settings = settings_for(running, github={"api_url": f"{running.url}/api/v3"})
    harness = Harness(settings, clock, "ghes_stats")
    try:
        before = values(await harness.collect())
        assert drift_signals(harness.client) == {"unmapped": set(), "missing": set()}, "every field is known"
        set_field_drift(running.sim, "ghes_stats", True)
        try:
            after = values(await harness.collect())  # no traceback
        finally:
            set_field_drift(running.sim, "ghes_stats", False)
        (group, added), (old, new) = sim_ghes.DRIFT_ADDED, sim_ghes.DRIFT_RENAMED
        assert drift_signals(harness.client) == {
            "unmapped": {("ghes_stats", f"{group}.{field}") for field in added} | {("ghes_stats", f"repos.{new}")},
            "missing": {("ghes_stats", f"repos.{old}")},
        }
        gone = ("github_ghes_pushes", (("host", "127.0.0.1"),))
        assert gone in before and gone not in after, "only the renamed field's series goes"
        assert {k: v for k, v in before.items() if k != gone} == after, "every other figure is still right"
        await harness.collect()
        assert drift_signals(harness.client)["missing"] == set(), "the field is back"
    finally:
        await harness.aclose()
