"""GitHub's late data: buckets fill in hours after they end, only ever grow, and spikes have their own lag."""

from __future__ import annotations

import httpx
import pytest

from exporter.simulator import ManualClock, Simulator, SimulatorConfig, create_app
from exporter.simulator.routing import iso
from tests.simulator.conftest import AUTH, NOW, ORG

API = f"/orgs/{ORG}/insights/api"
HOUR = 3600
BUCKET_START = NOW - 10 * HOUR + 15 * 60  # 06:15Z, a 5-minute boundary
BUCKET_END = BUCKET_START + 300


async def _bucket(client: httpx.AsyncClient, start: float = BUCKET_START) -> tuple[int, int]:
    rows = (await client.get(f"{API}/time-stats", params={
        "min_timestamp": iso(start), "max_timestamp": iso(start + 300), "timestamp_increment": "5m"})).json()
    assert [r["timestamp"] for r in rows] == [iso(start)]
    return rows[0]["total_request_count"], rows[0]["rate_limited_request_count"]


async def test_a_bucket_is_empty_before_lag_min_grows_and_is_full_after_lag_full(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient,
) -> None:
    seen = []
    for age in [0, 60, 2 * HOUR, 4 * HOUR - 1, 4 * HOUR, 4 * HOUR + 1, 4.5 * HOUR, 5 * HOUR, 5.5 * HOUR,
                6 * HOUR - 1, 6 * HOUR, 6 * HOUR + 1, 7 * HOUR, 29 * 24 * HOUR]:
        clock.set(BUCKET_END + age)
        seen.append((age, *await _bucket(client)))
    by_age = {age: total for age, total, _ in seen}
    full = by_age[29 * 24 * HOUR]
    assert full > 100
    assert by_age[0] == by_age[4 * HOUR - 1] == by_age[4 * HOUR] == 0
    assert 0 < by_age[4.5 * HOUR] < by_age[5 * HOUR] < by_age[5.5 * HOUR] < full
    cells = len(sim.insights.traffic(ORG).cells)  # each cell's count is floored on its own
    for age, share in [(4.5 * HOUR, 0.25), (5 * HOUR, 0.5), (5.5 * HOUR, 0.75)]:  # linear fill from 4 h to 6 h
        assert full * share - cells <= by_age[age] <= full * share
    assert by_age[6 * HOUR] == by_age[7 * HOUR] == full
    totals = [total for _, total, _ in seen]
    limited = [r for _, _, r in seen]
    assert totals == sorted(totals) and limited == sorted(limited), "a later read never shows less"


async def test_counts_never_decrease_on_any_endpoint(sim: Simulator, clock: ManualClock, client) -> None:
    window = {"min_timestamp": iso(NOW - 9 * HOUR), "max_timestamp": iso(NOW + 3 * HOUR)}
    actor = next(a for a in sim.world.org(ORG).actors if a.noisy)
    previous: dict[str, int] = {}
    for step in range(0, 3 * HOUR, 7 * 60 + 13):  # off-grid steps hit buckets mid-fill
        clock.set(NOW + step)
        figures = {}
        summary = (await client.get(f"{API}/summary-stats", params=window)).json()
        figures["org"] = summary["total_request_count"]
        figures["org_rl"] = summary["rate_limited_request_count"]
        for row in (await client.get(f"{API}/subject-stats", params={**window, "per_page": 100})).json():
            figures[f"subject {row['subject_id']}"] = row["total_request_count"]
        for row in (await client.get(f"{API}/route-stats/{actor.type}/{actor.id}", params=window)).json():
            figures[f"route {row['http_method']} {row['api_route']}"] = row["rate_limited_request_count"]
        for key, value in previous.items():
            assert figures.get(key, 0) >= value, f"{key} went down at +{step}s"
        previous = figures
    assert previous["org"] > 0


async def test_time_stats_lists_every_started_bucket_with_zeros_for_unfilled(client) -> None:
    rows = (await client.get(f"{API}/time-stats", params={
        "min_timestamp": iso(NOW - HOUR), "max_timestamp": iso(NOW + HOUR), "timestamp_increment": "5m"})).json()
    assert [r["timestamp"] for r in rows] == [iso(NOW - HOUR + 300 * i) for i in range(12)]
    assert all(r["total_request_count"] == r["rate_limited_request_count"] == 0 for r in rows)


async def test_max_timestamp_defaults_to_now(client, clock: ManualClock) -> None:
    rows = (await client.get(f"{API}/time-stats", params={
        "min_timestamp": iso(NOW - 2 * HOUR), "timestamp_increment": "1h"})).json()
    assert [r["timestamp"] for r in rows] == [iso(NOW - 2 * HOUR), iso(NOW - HOUR)]


def _client(sim: Simulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(sim)), base_url="http://sim", headers=AUTH)


async def test_lag_is_configurable(clock: ManualClock) -> None:
    sim = Simulator(SimulatorConfig(insights_lag_min=0, insights_lag_full=0), clock=clock)
    async with _client(sim) as client:
        clock.set(BUCKET_END - 1)
        assert await _bucket(client) == (0, 0)
        clock.set(BUCKET_END)
        assert (await _bucket(client))[0] > 0


async def test_demo_config_grows_between_fifteen_second_runs() -> None:
    clock = ManualClock(NOW)
    sim = Simulator(SimulatorConfig.demo(), clock=clock)
    async with _client(sim) as client:
        last = -1
        for _ in range(45):  # a bit over two 5-minute buckets, one run every 15 s
            clock.advance(15)
            total = (await client.get(f"{API}/summary-stats", params={
                "min_timestamp": iso(NOW - 86400)})).json()["total_request_count"]
            assert total > last
            last = total


async def test_a_spike_shows_at_once_in_time_stats(sim: Simulator, client) -> None:
    window = {"min_timestamp": iso(NOW - HOUR), "max_timestamp": iso(NOW), "timestamp_increment": "5m"}
    before = (await client.get(f"{API}/time-stats", params=window)).json()
    assert all(r["rate_limited_request_count"] == 0 for r in before), "normal data is still 4 h away"
    sim.add_spike(ORG, NOW - HOUR, NOW, factor=10)
    after = (await client.get(f"{API}/time-stats", params=window)).json()
    assert len(after) == 12
    assert all(r["rate_limited_request_count"] > 0 for r in after)
    assert all(r["total_request_count"] == r["rate_limited_request_count"] for r in after)
    # The spike is 9x each cell's full count on top of what shows; full counts appear once the data lag passes.
    sim.clock.set(NOW + 7 * HOUR)
    late = (await client.get(f"{API}/time-stats", params=window)).json()
    for spiked, full in zip(after, late, strict=False):
        base = full["total_request_count"] - spiked["total_request_count"]
        assert base > 0 and spiked["total_request_count"] >= 9 * base - 9 * 200  # floors per cell
        assert full["rate_limited_request_count"] >= spiked["rate_limited_request_count"]


async def test_a_spike_respects_its_own_lag_and_actor(sim: Simulator, clock: ManualClock, client) -> None:
    org = sim.world.org(ORG)
    actor = next(a for a in org.actors if a.type == "classic_pat")
    sim.add_spike(ORG, NOW - HOUR, NOW, factor=5, lag=1800, actor_id=actor.id)
    window = {"min_timestamp": iso(NOW - HOUR), "max_timestamp": iso(NOW), "timestamp_increment": "5m"}
    shown = [r["rate_limited_request_count"] > 0 for r in
             (await client.get(f"{API}/time-stats", params=window)).json()]
    assert shown == [True] * 6 + [False] * 6  # buckets that ended at least 30 min ago
    clock.advance(1800)
    by_actor = (await client.get(f"{API}/time-stats/{actor.type}/{actor.id}", params=window)).json()
    org_wide = (await client.get(f"{API}/time-stats", params=window)).json()
    assert by_actor == org_wide, "only that actor's traffic spiked; the rest is not visible yet"
    sim.clear_spikes()
    assert not any(r["total_request_count"] for r in (await client.get(f"{API}/time-stats", params=window)).json())


def test_spike_rejects_nonsense(sim: Simulator) -> None:
    with pytest.raises(ValueError):
        sim.add_spike("no-such-org", NOW - HOUR, NOW)
    with pytest.raises(ValueError):
        sim.add_spike(ORG, NOW, NOW - HOUR)


async def test_data_older_than_retention_is_gone(clock: ManualClock) -> None:
    """Older buckets are outside every window (30 days by default), which also bounds the work."""
    sim = Simulator(SimulatorConfig(insights_retention=2 * 86400), clock=clock)
    async with _client(sim) as client:
        old = {"min_timestamp": iso(NOW - 400 * 86400), "max_timestamp": iso(NOW - 3 * 86400)}
        assert (await client.get(f"{API}/summary-stats", params=old)).json()["total_request_count"] == 0
        assert (await client.get(f"{API}/time-stats", params={**old, "timestamp_increment": "1d"})).json() == []
        kept = {"min_timestamp": iso(NOW - 400 * 86400), "max_timestamp": iso(NOW)}
        days = (await client.get(f"{API}/time-stats", params={**kept, "timestamp_increment": "1d"})).json()
        assert [d["timestamp"] for d in days] == [iso(NOW - 16 * HOUR - n * 86400) for n in (2, 1, 0)]
        assert days[1]["total_request_count"] > 0


def test_retention_defaults_to_thirty_days(sim: Simulator) -> None:
    assert sim.insights.retention == 30 * 86400
