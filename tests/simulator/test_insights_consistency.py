"""Every endpoint aggregates the same cells: org, user, actor, subject and route figures add up exactly."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from exporter.simulator import Simulator
from exporter.simulator.routing import iso
from tests.simulator.conftest import NOW, ORG

API = f"/orgs/{ORG}/insights/api"
# Eight hours back: complete buckets, buckets still filling (4-6 h old) and buckets not shown yet.
WINDOW = {"min_timestamp": iso(NOW - 8 * 3600 + 437), "max_timestamp": iso(NOW)}


@pytest.fixture(params=[False, True], ids=["plain", "with-spike"])
def spiked(request: pytest.FixtureRequest, sim: Simulator) -> bool:
    if request.param:
        sim.add_spike(ORG, NOW - 3 * 3600, NOW - 2 * 3600, factor=4)
    return request.param


async def _get(client: httpx.AsyncClient, path: str, **params: object):
    response = await client.get(path, params={**WINDOW, "per_page": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()


def _series(rows: list[dict]) -> dict[str, tuple[int, int]]:
    return {r["timestamp"]: (r["total_request_count"], r["rate_limited_request_count"]) for r in rows}


async def test_org_time_stats_is_the_sum_over_every_actor(sim, client, spiked) -> None:
    org = _series(await _get(client, f"{API}/time-stats", timestamp_increment="5m"))
    assert sum(t for t, _ in org.values()) > 0
    total: Counter = Counter()
    limited: Counter = Counter()
    for actor in sim.world.org(ORG).actors:
        for ts, (t, r) in _series(await _get(client, f"{API}/time-stats/{actor.type}/{actor.id}",
                                             timestamp_increment="5m")).items():
            total[ts] += t
            limited[ts] += r
    assert {ts: (total[ts], limited[ts]) for ts in org} == org
    assert set(total) == set(org)


async def test_org_time_stats_is_the_sum_over_users_and_apps(sim, client, spiked) -> None:
    org = _series(await _get(client, f"{API}/time-stats", timestamp_increment="15m"))
    summed: Counter = Counter()
    for subject in sim.world.org(ORG).subjects:
        if subject.type == "user":
            rows = await _get(client, f"{API}/time-stats/users/{subject.id}", timestamp_increment="15m")
        else:
            (actor,) = subject.actors
            rows = await _get(client, f"{API}/time-stats/installation/{actor.id}", timestamp_increment="15m")
        for ts, (t, r) in _series(rows).items():
            summed[ts, "t"] += t
            summed[ts, "r"] += r
    assert {ts: (summed[ts, "t"], summed[ts, "r"]) for ts in org} == org


@pytest.mark.parametrize("increment", ["5m", "10m", "15m", "30m", "1h", "1d"])
async def test_summary_is_the_sum_of_time_stats(client, spiked, increment) -> None:
    series = await _get(client, f"{API}/time-stats", timestamp_increment=increment)
    summary = await _get(client, f"{API}/summary-stats")
    assert summary["total_request_count"] == sum(r["total_request_count"] for r in series) > 0
    assert summary["rate_limited_request_count"] == sum(r["rate_limited_request_count"] for r in series) > 0


async def test_subject_stats_add_up_to_the_org_summary(sim, client, spiked) -> None:
    subjects = await _get(client, f"{API}/subject-stats")
    summary = await _get(client, f"{API}/summary-stats")
    assert sum(s["total_request_count"] for s in subjects) == summary["total_request_count"]
    assert sum(s["rate_limited_request_count"] for s in subjects) == summary["rate_limited_request_count"]
    assert {s["subject_type"] for s in subjects} == {"user", "installation"}


async def test_user_stats_add_up_to_the_user_summary_and_last_times_agree(sim, client, spiked) -> None:
    subjects = {s["subject_id"]: s for s in await _get(client, f"{API}/subject-stats")}
    for user in sim.world.org(ORG).users:
        actors = await _get(client, f"{API}/user-stats/{user.id}")
        summary = await _get(client, f"{API}/summary-stats/users/{user.id}")
        assert sum(a["total_request_count"] for a in actors) == summary["total_request_count"]
        assert sum(a["rate_limited_request_count"] for a in actors) == summary["rate_limited_request_count"]
        if actors:
            subject = subjects[user.id]
            assert subject["last_request_timestamp"] == max(a["last_request_timestamp"] for a in actors)
            assert subject["last_rate_limited_timestamp"] == max(
                (a["last_rate_limited_timestamp"] for a in actors if a["last_rate_limited_timestamp"]), default=None)


async def test_route_stats_add_up_to_the_actor_summary(sim, client, spiked) -> None:
    for actor in sim.world.org(ORG).actors:
        routes = await _get(client, f"{API}/route-stats/{actor.type}/{actor.id}")
        summary = await _get(client, f"{API}/summary-stats/{actor.type}/{actor.id}")
        assert sum(r["total_request_count"] for r in routes) == summary["total_request_count"]
        assert sum(r["rate_limited_request_count"] for r in routes) == summary["rate_limited_request_count"]
        for route in routes:
            assert route["last_request_timestamp"] <= WINDOW["max_timestamp"]
            if route["last_rate_limited_timestamp"]:
                assert route["last_rate_limited_timestamp"] <= route["last_request_timestamp"]


async def test_installation_subject_matches_its_actor(sim, client) -> None:
    subjects = {s["subject_id"]: s for s in await _get(client, f"{API}/subject-stats")}
    for app in sim.world.org(ORG).apps:
        actor = await _get(client, f"{API}/summary-stats/installation/{app.installation_id}")
        subject = subjects[app.installation_id]
        assert subject["subject_name"] == app.name
        assert subject["total_request_count"] == actor["total_request_count"]


async def test_traffic_has_a_daily_rhythm_and_noisy_actors(sim, client) -> None:
    day = {"min_timestamp": iso(NOW - 7 * 86400), "max_timestamp": iso(NOW - 6 * 86400)}  # a Wednesday, UTC
    hourly = await _get(client, f"{API}/time-stats", timestamp_increment="1h", **day)
    by_hour = {r["timestamp"][11:13]: r["total_request_count"] for r in hourly}
    assert len(by_hour) == 24
    assert by_hour["15"] > 1.5 * by_hour["03"]
    org = sim.world.org(ORG)
    noisy = [a for a in org.actors if a.noisy]
    quiet = [a for a in org.actors if not a.noisy]
    share = {}
    for actor in noisy + quiet:
        s = await _get(client, f"{API}/summary-stats/{actor.type}/{actor.id}", **day)
        share[actor.id] = s["rate_limited_request_count"] / max(1, s["total_request_count"])
    assert min(share[a.id] for a in noisy) > 3 * max(share[a.id] for a in quiet)
