"""GitHubClient against the simulator over loopback: headers, pagination, 304s, rate limits, retries."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from exporter.github.client import GitHubClient
from exporter.github.errors import APIError, MalformedResponseError, NotFoundError, RateLimitedError
from exporter.settings import GitHubSettings
from exporter.telemetry import ExporterMetrics

from .conftest import TOKEN

ORG = "octo-demo"
SUMMARY = "/orgs/{org}/insights/api/summary-stats"
SUBJECTS = "/orgs/{org}/insights/api/subject-stats"
WINDOW = {"min_timestamp": "2024-09-17T00:00:00Z", "max_timestamp": "2024-09-18T00:00:00Z"}


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


async def test_sends_githubs_headers(client: GitHubClient, sim) -> None:
    response = await client.get(SUMMARY, params=WINDOW, org=ORG, family="api_insights")
    assert response.status == 200 and response.data["total_request_count"] > 0
    headers = sim.last_headers(SUMMARY)
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["x-github-api-version"] == "2026-03-10"
    assert headers["user-agent"].startswith("github-insights-exporter/")


async def test_per_family_api_version(running, sim, registry: CollectorRegistry) -> None:
    settings = GitHubSettings(api_url=running.url, token=TOKEN, api_versions={"api_insights": "2022-11-28"})
    client = GitHubClient(settings, ExporterMetrics(registry), clock=sim.now)
    try:
        await client.get(SUMMARY, params=WINDOW, org=ORG, family="api_insights")
    finally:
        await client.aclose()
    assert sim.last_headers(SUMMARY)["x-github-api-version"] == "2022-11-28"


async def test_an_unsupported_version_fails_with_githubs_message(running, sim, registry: CollectorRegistry) -> None:
    settings = GitHubSettings(api_url=running.url, token=TOKEN, api_version="2024-01-01")
    client = GitHubClient(settings, ExporterMetrics(registry), clock=sim.now)
    try:
        with pytest.raises(APIError) as failed:
            await client.get(SUMMARY, params=WINDOW, org=ORG, family="api_insights")
    finally:
        await client.aclose()
    assert failed.value.status == 400
    assert '"2024-01-01", is not a supported version' in failed.value.github_message
    assert value(registry, "github_exporter_api_request_failures_total", endpoint=SUMMARY) == 1


async def test_pagination_follows_link_headers(client: GitHubClient, sim) -> None:
    every = [s async for s in client.paginate(SUBJECTS, params={**WINDOW, "per_page": 100}, org=ORG)]
    paged = [s async for s in client.paginate(SUBJECTS, params={**WINDOW, "per_page": 4}, org=ORG)]
    assert len(every) > 8
    assert [s["subject_name"] for s in paged] == [s["subject_name"] for s in every]
    assert sim.count(SUBJECTS) == 1 + -(-len(every) // 4)


async def test_pagination_stops_at_the_limit_without_extra_requests(client: GitHubClient, sim) -> None:
    items = [s async for s in client.paginate(SUBJECTS, params={**WINDOW, "per_page": 3}, limit=5, org=ORG)]
    assert len(items) == 5
    assert sim.count(SUBJECTS) == 2  # 3 + 2 of the second page; the third page is never asked for


async def test_page_cap(running, sim, registry: CollectorRegistry) -> None:
    settings = GitHubSettings(api_url=running.url, token=TOKEN, max_pages=2)
    client = GitHubClient(settings, ExporterMetrics(registry), clock=sim.now)
    try:
        items = [s async for s in client.paginate(SUBJECTS, params={**WINDOW, "per_page": 2}, org=ORG)]
    finally:
        await client.aclose()
    assert len(items) == 4 and sim.count(SUBJECTS) == 2


async def test_not_modified_reuses_the_body_and_costs_no_budget(client: GitHubClient, sim, registry) -> None:
    first = await client.get(SUMMARY, params=WINDOW, org=ORG)
    remaining = value(registry, "github_rate_limit_remaining", credential="token", resource="core")
    second = await client.get(SUMMARY, params=WINDOW, org=ORG)
    assert second.not_modified and second.status == 304
    assert second.data == first.data
    assert value(registry, "github_exporter_api_not_modified_responses_total", endpoint=SUMMARY) == 1
    assert value(registry, "github_rate_limit_remaining", credential="token", resource="core") == remaining


async def test_rate_limit_gauges_follow_the_headers(client: GitHubClient, registry) -> None:
    await client.get(SUMMARY, params=WINDOW, org=ORG)
    assert value(registry, "github_rate_limit_limit", credential="token", resource="core") == 5000
    assert value(registry, "github_rate_limit_remaining", credential="token", resource="core") == 4999
    assert value(registry, "github_rate_limit_reset_timestamp_seconds", credential="token", resource="core") > 0
    assert value(registry, "github_exporter_api_requests_total", endpoint=SUMMARY) == 1


async def test_server_errors_are_retried_with_backoff(client: GitHubClient, sim, registry, sleeps) -> None:
    sim.fail_next(2, status=502)
    response = await client.get(SUMMARY, params=WINDOW, org=ORG)
    assert response.status == 200
    assert value(registry, "github_exporter_api_requests_total", endpoint=SUMMARY) == 3
    assert value(registry, "github_exporter_api_request_failures_total", endpoint=SUMMARY) == 2
    assert len(sleeps.waits) == 2 and sleeps.waits[1] > sleeps.waits[0] * 0.5
    assert all(0 < w <= 30 for w in sleeps.waits)


async def test_retries_are_bounded(client: GitHubClient, sim) -> None:
    sim.fail_next(10, status=503)
    with pytest.raises(APIError) as caught:
        await client.get(SUMMARY, params=WINDOW, org=ORG)
    assert caught.value.status == 503
    assert sim.count(SUMMARY) == 4  # first try + max_retries


async def test_dropped_connections_are_retried(client: GitHubClient, sim) -> None:
    sim.add_fault("drop", count=1)
    response = await client.get(SUMMARY, params=WINDOW, org=ORG)
    assert response.status == 200


async def test_secondary_limit_waits_as_retry_after_says(client: GitHubClient, sim, sleeps, registry) -> None:
    sim.set_secondary_limit(requests=1, retry_after=7)
    response = await client.get(SUMMARY, params=WINDOW, org=ORG)
    assert response.status == 200
    assert 7 in sleeps.waits
    assert value(registry, "github_exporter_api_rate_limit_waits_total", kind="secondary") == 1


async def test_a_long_secondary_limit_fails_fast_and_holds_off_other_requests(client: GitHubClient, sim) -> None:
    sim.set_secondary_limit(requests=1, retry_after=3600, status=429)
    with pytest.raises(RateLimitedError) as caught:
        await client.get(SUMMARY, params=WINDOW, org=ORG)
    assert caught.value.retry_at >= sim.now() + 3500
    before = sim.count(SUBJECTS)
    with pytest.raises(RateLimitedError):
        await client.get(SUBJECTS, params=WINDOW, org=ORG)
    assert sim.count(SUBJECTS) == before, "a held-off request must not be sent"


async def test_primary_limit_exhausted(client: GitHubClient, sim) -> None:
    sim.set_rate_limit(remaining=0, reset_in=1800)
    with pytest.raises(RateLimitedError) as caught:
        await client.get(SUMMARY, params=WINDOW, org=ORG)
    assert caught.value.status == 403
    assert "rate limit" in str(caught.value)


async def test_not_found_is_typed(client: GitHubClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.get(SUMMARY, params=WINDOW, org="no-such-org")
    assert caught.value.status == 404
    assert caught.value.endpoint == SUMMARY


async def test_malformed_body(client: GitHubClient, sim) -> None:
    sim.add_fault("malformed", count=1)
    with pytest.raises(MalformedResponseError):
        await client.get(SUMMARY, params=WINDOW, org=ORG)


async def test_bad_credentials_never_echo_the_token(running, registry) -> None:
    from exporter.simulator import RunningSimulator, SimulatorConfig

    with RunningSimulator(config=SimulatorConfig(tokens=("ghp_the_only_good_one",))) as strict:
        settings = GitHubSettings(api_url=strict.url, token="ghp_wrongtokenvalue")
        client = GitHubClient(settings, ExporterMetrics(registry))
        try:
            with pytest.raises(APIError) as caught:
                await client.get(SUMMARY, params=WINDOW, org=ORG)
        finally:
            await client.aclose()
    assert caught.value.status == 401
    assert "ghp_wrongtokenvalue" not in str(caught.value) + repr(caught.value)


async def test_a_post_is_never_retried(client: GitHubClient, sim) -> None:
    """Retrying a POST that may have reached GitHub could create a second billing export."""
    route = "/enterprises/{enterprise}/settings/billing/reports"
    sim.fail_next(1, status=502)
    with pytest.raises(APIError) as caught:
        await client.post(route, json={"report_type": "detailed"}, enterprise="octo-enterprise", family="billing")
    assert caught.value.status == 502
    assert sim.count(route, "POST") == 1
