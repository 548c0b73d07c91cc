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
    collect_once,
    render,
    samples,
    settings_for,
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
