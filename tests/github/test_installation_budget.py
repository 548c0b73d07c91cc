"""A GitHub App's installations each have their own rate limit: one drained by someone else defers only its own work."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from exporter.collectors.api_insights import ApiInsightsCollector
from exporter.github.auth import AppAuth
from exporter.github.client import GitHubClient
from exporter.github.errors import RateLimitedError
from exporter.settings import Settings, load_settings
from exporter.simulator import ManualClock, RunningSimulator, SimulatorConfig
from exporter.simulator.installations import installation_id
from exporter.telemetry import ExporterMetrics
from tests.collectors.harness import NOW

APP_ID = 5151
ORGS = ("org-a", "org-b")
LIMIT = 1000


@pytest.fixture
def app_sim(key_pair: tuple[str, str]) -> Iterator[RunningSimulator]:
    config = SimulatorConfig(orgs=ORGS, users=3, apps=0, actors=6, app_id=APP_ID, app_public_key_pem=key_pair[1],
                             rate_limit_budget=LIMIT)
    with RunningSimulator(config=config, clock=ManualClock(NOW)) as running:
        yield running


def app_settings(url: str, private_key: str) -> Settings:
    return load_settings(None, {
        "github": {"api_url": url, "app": {"app_id": APP_ID, "private_key": private_key}, "rate_limit_budget": 0.5,
                   "max_retries": 0, "max_rate_limit_wait": 30},
        "targets": {"orgs": list(ORGS)},
        "collectors": {"api_insights": {"top_subjects": 3, "top_actors": 2}},
    })


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def test_a_drained_installation_defers_only_its_own_runs(app_sim: RunningSimulator, key_pair) -> None:
    sim = app_sim.sim
    drained = installation_id(sim.world.seed, "Organization", "org-a")
    other = installation_id(sim.world.seed, "Organization", "org-b")
    # Another user of org-a's installation spent it down to 400 of 1,000: below the floor (1 - 0.5) * 1,000.
    sim.set_rate_limit(installation=drained, remaining=400, reset_in=1800)
    settings = app_settings(app_sim.url, key_pair[0])
    registry = CollectorRegistry()
    auth = AppAuth(APP_ID, key_pair[0], app_sim.url, clock=sim.now)  # JWTs signed in the simulator's time
    client = GitHubClient(settings.github, ExporterMetrics(registry), auth=auth, clock=sim.now)
    collectors = {org: ApiInsightsCollector(client, settings, org, clock=sim.now) for org in ORGS}
    try:
        with pytest.raises(RateLimitedError) as deferred:
            await collectors["org-a"].collect()
        assert deferred.value.retry_at == pytest.approx(NOW + 1800, abs=2)
        spent_on_a = 400 - sim.rate_limit(installation=drained)["remaining"]
        assert spent_on_a <= settings.github.max_concurrency, "org-a stopped at the first answer that showed the floor"

        families = await collectors["org-b"].collect()  # not held off by org-a's installation
        assert any(f.samples for f in families)
        b = sim.rate_limit(installation=other)
        assert b["used"] > 10 and b["remaining"] >= LIMIT // 2

        with pytest.raises(RateLimitedError):  # org-a stays deferred until its own reset, and sends nothing
            await collectors["org-a"].collect()
        assert 400 - sim.rate_limit(installation=drained)["remaining"] == spent_on_a
    finally:
        await client.aclose()
    a_remaining = value(registry, "github_rate_limit_remaining", credential="installation:org-a", resource="core")
    b_remaining = value(registry, "github_rate_limit_remaining", credential="installation:org-b", resource="core")
    assert a_remaining is not None and a_remaining < LIMIT // 2
    assert b_remaining == sim.rate_limit(installation=other)["remaining"]
    assert value(registry, "github_rate_limit_remaining", credential="token", resource="core") is None
