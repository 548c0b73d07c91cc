"""github.rate_limit_budget at run time, in virtual time: others spend the token, the exporter keeps off the rest."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from exporter.github.client import GitHubClient
from exporter.github.errors import RateLimitedError
from exporter.settings import GitHubSettings, load_settings
from exporter.telemetry import ExporterMetrics

from .conftest import TOKEN, RecordedSleep

ORG = "octo-demo"
TIME_STATS = "/orgs/{org}/insights/api/time-stats"
LIMIT = 100


async def test_requests_wait_for_the_reset_once_the_budget_is_spent(running, sim, registry: CollectorRegistry) -> None:
    """Budget 0.5 of 100/h: someone else spends 40, the exporter stops before remaining goes under 50."""
    settings = GitHubSettings(api_url=running.url, token=TOKEN, rate_limit_budget=0.5, max_concurrency=1)
    client = GitHubClient(settings, ExporterMetrics(registry), clock=sim.now, sleep=RecordedSleep())
    sim.set_rate_limit(token=TOKEN, limit=LIMIT, remaining=60, reset_in=1800)
    sent = 0
    try:
        with pytest.raises(RateLimitedError) as caught:
            for day in range(1, 29):
                params = {"min_timestamp": f"2024-09-{day:02d}T00:00:00Z", "timestamp_increment": "1h"}
                await client.get(TIME_STATS, params=params, org=ORG)
                sent += 1
                assert sim.rate_limit(TOKEN)["remaining"] >= LIMIT // 2
        deferred_at = sim.count(TIME_STATS)
        assert caught.value.retry_at == pytest.approx(sim.now() + 1800, abs=2)
        assert sim.rate_limit(TOKEN)["remaining"] >= LIMIT // 2
        assert 0 < sent <= 10, "it spent what the budget left it, no more"
        with pytest.raises(RateLimitedError):  # held off: not even sent
            await client.get(TIME_STATS, params={"min_timestamp": "2024-09-01T00:00:00Z", "timestamp_increment": "1h"},
                             org=ORG)
        assert sim.count(TIME_STATS) == deferred_at
        sim.advance_clock(1801)  # the window resets: work resumes
        response = await client.get(TIME_STATS, params={"min_timestamp": "2024-09-02T00:00:00Z",
                                                        "timestamp_increment": "1h"}, org=ORG)
        assert response.status in (200, 304) and sim.count(TIME_STATS) == deferred_at + 1
    finally:
        await client.aclose()


def test_budget_is_a_share() -> None:
    assert load_settings(None, {}).github.rate_limit_budget == 0.5
    for bad in (0, 1.5):
        with pytest.raises(Exception, match="rate_limit_budget"):
            load_settings(None, {"github": {"rate_limit_budget": bad}})
