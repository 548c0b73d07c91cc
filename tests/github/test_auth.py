"""Auth strategies against the simulator: a GitHub App's JWT buys installation tokens that are reused and refreshed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client import CollectorRegistry

from exporter.github.auth import TOKEN_REFRESH_MARGIN, AppAuth, TokenAuth, owner_of
from exporter.github.client import GitHubClient
from exporter.settings import GitHubSettings
from exporter.simulator import ManualClock, RunningSimulator, SimulatorConfig
from exporter.telemetry import ExporterMetrics
from tests.collectors.harness import NOW

APP_ID = 4242
SUMMARY = "/orgs/{org}/insights/api/summary-stats"
WINDOW = {"min_timestamp": "2024-09-17T00:00:00Z", "max_timestamp": "2024-09-18T00:00:00Z"}
TOKENS = "/app/installations/{installation_id}/access_tokens"


@pytest.fixture
def app_sim(key_pair) -> Iterator[RunningSimulator]:
    config = SimulatorConfig(app_id=APP_ID, app_public_key_pem=key_pair[1], installation_token_lifetime=3600)
    with RunningSimulator(config=config, clock=ManualClock(NOW)) as running:
        yield running


async def test_app_installation_token_is_cached_and_refreshed(app_sim: RunningSimulator, key_pair) -> None:
    sim = app_sim.sim
    auth = AppAuth(APP_ID, key_pair[0], app_sim.url, clock=sim.now)
    client = GitHubClient(
        GitHubSettings(api_url=app_sim.url), ExporterMetrics(CollectorRegistry()), auth=auth, clock=sim.now
    )
    try:
        for _ in range(3):
            response = await client.get(SUMMARY, params=WINDOW, org="octo-demo")
            assert response.status in (200, 304)
        assert sim.count("/orgs/{org}/installation") == 1
        assert sum(v for k, v in sim.request_counts()["routes"].items() if "access_tokens" in k) == 1
        sim.advance_clock(3600 - TOKEN_REFRESH_MARGIN + 1)  # inside the refresh margin
        await client.get(SUMMARY, params=WINDOW, org="octo-demo")
        assert sum(v for k, v in sim.request_counts()["routes"].items() if "access_tokens" in k) == 2
    finally:
        await client.aclose()


async def test_app_signed_with_the_wrong_key_is_refused(app_sim: RunningSimulator) -> None:
    other = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    auth = AppAuth(APP_ID, other, app_sim.url, clock=app_sim.sim.now)
    client = GitHubClient(GitHubSettings(api_url=app_sim.url), ExporterMetrics(CollectorRegistry()), auth=auth)
    try:
        with pytest.raises(Exception) as caught:
            await client.get(SUMMARY, params=WINDOW, org="octo-demo")
    finally:
        await client.aclose()
    assert "BEGIN" not in str(caught.value)


def test_reprs_hide_secrets(key_pair) -> None:
    assert "ghp_x" not in repr(TokenAuth("ghp_xsecret"))
    assert "BEGIN" not in repr(AppAuth(1, key_pair[0], "https://api.github.com"))


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        ("/orgs/Octo/insights/api/time-stats", "octo"),
        ("/repos/octo/api/traffic/views", "octo"),
        ("/api/v3/enterprises/ent/settings/billing/reports", "ent"),
        ("/app/installations/1/access_tokens", None),
    ],
)
def test_owner_of(path: str, owner: str | None) -> None:
    assert owner_of(path) == owner


@pytest.mark.parametrize("fault", ["malformed", "html"])
async def test_malformed_installation_token_answer_is_a_typed_counted_error(
    app_sim: RunningSimulator, key_pair, fault: str
) -> None:
    app_sim.sim.add_fault(fault, route=TOKENS, status=502)
    registry = CollectorRegistry()
    settings = GitHubSettings(api_url=app_sim.url, max_retries=0)
    auth = AppAuth(APP_ID, key_pair[0], app_sim.url, clock=app_sim.sim.now)
    client = GitHubClient(settings, ExporterMetrics(registry), auth=auth, clock=app_sim.sim.now)
    try:
        with pytest.raises(Exception) as caught:
            await client.get(SUMMARY, params=WINDOW, org="octo-demo")
    finally:
        await client.aclose()
    assert type(caught.value).__module__ == "exporter.github.errors", repr(caught.value)
    assert registry.get_sample_value("github_exporter_api_request_failures_total", {"endpoint": SUMMARY}) == 1


@pytest.mark.parametrize("version", ["2026-03-10", "2022-11-28"])
async def test_the_apps_own_requests_send_the_configured_api_version(
    app_sim: RunningSimulator, key_pair, version: str
) -> None:
    sim = app_sim.sim
    auth = AppAuth(APP_ID, key_pair[0], app_sim.url, clock=sim.now, api_version=version)
    client = GitHubClient(GitHubSettings(api_url=app_sim.url, api_version=version),
                          ExporterMetrics(CollectorRegistry()), auth=auth, clock=sim.now)
    try:
        assert (await client.get(SUMMARY, params=WINDOW, org="octo-demo")).status == 200
    finally:
        await client.aclose()
    for route in ("/orgs/{org}/installation", TOKENS, SUMMARY):
        assert sim.last_headers(route)["x-github-api-version"] == version, route
