"""The validator cache: bounded by bytes with LRU eviction, and every GET of a known URL conditional."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CollectorRegistry

from exporter.github.client import GitHubClient
from exporter.github.validators import ENTRY_OVERHEAD, ValidatorCache
from exporter.settings import ConfigError, GitHubSettings, load_settings
from exporter.telemetry import ExporterMetrics

from .conftest import TOKEN

ORG = "octo-demo"
TIME_STATS = "/orgs/{org}/insights/api/time-stats"
VIEWS = "/repos/{owner}/{repo}/traffic/views"


def answer(etag: str | None = '"v1"') -> httpx.Headers:
    return httpx.Headers({"etag": etag} if etag else {})


def test_bounded_by_bytes_and_the_least_recently_used_goes_first() -> None:
    body = b"x" * 1000
    entry = ENTRY_OVERHEAD + len("/u0") + len('"v1"') + len(body)
    cache = ValidatorCache(3 * entry)
    for url in ("/u0", "/u1", "/u2"):
        cache.remember(url, answer(), body)
    assert len(cache) == 3 and cache.bytes == 3 * entry
    assert cache.get("/u0") is not None  # now the most recently used
    cache.remember("/u3", answer(), body)
    assert cache.get("/u1") is None, "the least recently used entry made room"
    assert all(cache.get(u) is not None for u in ("/u0", "/u2", "/u3"))
    assert cache.bytes <= cache.max_bytes


def test_answers_without_validators_or_too_large_are_not_kept() -> None:
    cache = ValidatorCache(2000)
    cache.remember("/plain", answer(None), b"{}")
    cache.remember("/big", answer(), b"x" * 5000)
    assert len(cache) == 0
    cache.remember("/big", answer(), b"[]")
    cache.remember("/big", answer('"v2"'), b"x" * 5000)
    assert cache.get("/big") is None, "a newer answer too large to keep drops the stale one"
    off = ValidatorCache(0)
    off.remember("/a", answer(), b"{}")
    assert len(off) == 0


def test_the_replaced_entry_count_setting_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="etag_cache_entries was replaced by validator_cache_bytes"):
        load_settings(None, {"github": {"etag_cache_entries": 2048}})
    assert load_settings(None, {"github": {"validator_cache_bytes": "8MiB"}}).github.validator_cache_bytes == 8 << 20


async def test_a_cycle_that_fits_is_answered_304_throughout(running, sim, registry: CollectorRegistry) -> None:
    """Fifteen time-stats URLs and two traffic/views: the second cycle is conditional everywhere and costs nothing."""
    client = GitHubClient(GitHubSettings(api_url=running.url, token=TOKEN), ExporterMetrics(registry), clock=sim.now)
    urls = [{"min_timestamp": f"2024-09-{d:02d}T00:00:00Z", "timestamp_increment": "1h"} for d in range(1, 16)]
    repos = ["api", "web"]
    try:
        for _ in range(2):
            first = [await client.get(TIME_STATS, params=p, org=ORG) for p in urls]
            views = [await client.get(VIEWS, owner=ORG, repo=r) for r in repos]
    finally:
        await client.aclose()
    statuses = sim.request_counts()["route_statuses"]
    assert statuses[TIME_STATS] == {"200": len(urls), "304": len(urls)}
    assert statuses[VIEWS] == {"200": len(repos), "304": len(repos)}
    assert all(r.not_modified and r.data for r in first + views), "a 304 hands back the kept body"
    assert 0 < client.validators.bytes <= client.validators.max_bytes
