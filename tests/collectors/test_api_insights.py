"""API Insights collector against the simulator.

Golden expositions, follow logic, late data, sharding, request budget.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from exporter.assembly import build_collectors
from exporter.collectors import api_insights as ai
from exporter.collectors.api_insights import ActorKey, ApiInsightsCollector
from exporter.drift import FieldDrift
from exporter.github.client import Response
from exporter.github.errors import ForbiddenError
from exporter.settings import Settings
from exporter.simulator import ManualClock, RunningSimulator, SimulatorConfig
from exporter.simulator.routing import parse_iso
from tests.collectors.harness import NOW, ORG, TOKEN, Golden, render, settings_for, values
from tests.collectors.harness import Harness as FamilyHarness
from tests.tools import promtool_check_metrics

INSIGHTS = "/orgs/{org}/insights/api"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class Harness:
    """API Insights collectors on one simulator, on its clock; closes their clients at the end."""

    def __init__(self, running: RunningSimulator) -> None:
        self.running = running
        self.sim = running.sim
        self.harnesses: list[FamilyHarness] = []

    def collector(self, sharding: dict[str, int] | None = None, org: str = ORG, clock: ManualClock | None = None,
                  **options: Any) -> ApiInsightsCollector:
        """One org's collector; on the simulator's clock unless `clock` is the exporter's own."""
        settings = settings_for(self.running, targets={"orgs": [org]}, collectors={"api_insights": options},
                                sharding=sharding or {})
        assert isinstance(self.sim.clock, ManualClock)
        harness = FamilyHarness(settings, clock or self.sim.clock, "api_insights")
        self.harnesses.append(harness)
        (collector,) = harness.collectors
        assert isinstance(collector, ApiInsightsCollector)
        return collector

    def at(self, offset: float) -> None:
        self.sim.set_clock(NOW + offset)

    def requests(self) -> dict[str, int]:
        return self.sim.request_counts()["routes"]

    async def close(self) -> None:
        for harness in self.harnesses:
            await harness.aclose()


@pytest.fixture
async def harness(running: RunningSimulator) -> AsyncIterator[Harness]:
    h = Harness(running)
    yield h
    await h.close()


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


def series_of(found: Samples, **labels: str) -> set[str]:
    """Names of the series whose labels include all of `labels`."""
    return {name for (name, lbls), _ in found.items() if set(labels.items()) <= set(lbls)}


def world_org(running: RunningSimulator, org: str = ORG):
    return running.sim.world.org(org)


def user_id_of(running: RunningSimulator, login: str) -> int:
    return next(u.id for u in world_org(running).users if u.login == login)


def sim_get(running: RunningSimulator, path: str, **params: Any) -> Any:
    """Ask the simulator directly (not counted against the collector: counters are reset by callers)."""
    with httpx.Client(base_url=running.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as http:
        response = http.get(path, params=params)
        response.raise_for_status()
        return response.json()


# -- golden expositions and promtool -------------------------------------------------------------


async def test_golden_defaults_after_an_hour(harness: Harness, golden: Golden) -> None:
    collector = harness.collector()
    await collector.collect()
    harness.at(3600)
    families = await collector.collect()
    body = render(families)
    golden("api_insights_defaults.txt", body)
    promtool_check_metrics(body)


async def test_golden_configured_follow(harness: Harness, golden: Golden) -> None:
    """Configured users (a login and an id) and an actor, a small top-N, few routes.

    octocat's quieter token is configured but not among octocat's top 1 actor,
    so nothing names it: its info labels stay empty.
    """
    org = world_org(harness.running)
    octocat = next(s for s in org.subjects if s.name == "octocat")
    actor = min(octocat.actors, key=lambda a: a.base_rate)
    collector = harness.collector(
        users=["mona", octocat.id],
        actors=[{"actor_type": actor.type, "actor_id": actor.id}],
        top_subjects=2,
        top_actors=1,
        top_routes=2,
        summary_window="6h",
    )
    await collector.collect()
    harness.at(1800)
    body = render(await collector.collect())
    golden("api_insights_configured.txt", body)
    promtool_check_metrics(body)


# -- request budget -----------------------------------------------------------------------------


async def test_one_run_with_defaults_on_the_demo_world(harness: Harness) -> None:
    collector = harness.collector()
    families = await collector.collect()
    counts = harness.requests()
    # 10 top subjects: 3 installations and 7 users, whose top 3 actors are 13 actors: 16 actors.
    assert counts == {
        f"{INSIGHTS}/time-stats": 1,
        f"{INSIGHTS}/subject-stats": 1,
        f"{INSIGHTS}/user-stats/{{user_id}}": 7,
        f"{INSIGHTS}/time-stats/users/{{user_id}}": 7,
        f"{INSIGHTS}/time-stats/{{actor_type}}/{{actor_id}}": 16,
        f"{INSIGHTS}/route-stats/{{actor_type}}/{{actor_id}}": 16,
    }
    assert sum(counts.values()) == 48
    assert len(values(families)) == 485


RANKINGS = (
    f"{INSIGHTS}/subject-stats",
    f"{INSIGHTS}/user-stats/{{user_id}}",
    f"{INSIGHTS}/route-stats/{{actor_type}}/{{actor_id}}",
)


async def test_unchanged_answers_are_free_304s_and_rankings_keep_their_cadence(harness: Harness) -> None:
    """GitHub's data stands still (the simulator's clock) while the exporter runs every 5 minutes for an hour.

    Every run asks the URLs of the run before, so each unchanged time-stats answer is a 304; the rankings are
    asked once per ranking_interval, again at the next hour and not before.
    """
    exporter_clock = ManualClock(NOW + 60)
    collector = harness.collector(clock=exporter_clock)
    first = values(await collector.collect())
    once = harness.requests()
    for _ in range(11):
        exporter_clock.advance(300)
        found = values(await collector.collect())
    counts = harness.sim.request_counts()
    for route in RANKINGS:
        assert counts["routes"][route] == once[route], f"{route} is asked once within the ranking interval"
    time_routes = [r for r in once if r not in RANKINGS]
    for route in time_routes:
        assert counts["routes"][route] == 12 * once[route]
        assert counts["route_statuses"][route].get("304", 0) == 11 * once[route], route
    counters = {k: v for k, v in first.items() if k[0].endswith("_total")}
    assert counters and {k: found[k] for k in counters} == counters, "unchanged answers move no counter"
    window = ("github_api_insights_window_requests", (("org", ORG),))
    assert 0 < found[window] < first[window], "the trailing window slid past an hour of old buckets"
    exporter_clock.advance(300)  # 17:01: a new ranking interval
    await collector.collect()
    after = harness.requests()
    for route in RANKINGS:
        assert after[route] == 2 * once[route], f"{route} is asked again in the next interval"


def bound(top_subjects: int, top_actors: int, users: int = 0, actors: int = 0) -> int:
    """The module docstring's worst case for a run that refreshes the rankings: 2 + 2 per followed user and actor."""
    followed_users = top_subjects + users
    followed_actors = followed_users * max(top_actors, 1) + actors
    return 2 + 2 * followed_users + 2 * followed_actors


async def test_requests_grow_with_top_n_not_with_the_org() -> None:
    """An org four times the demo's size costs no more than the top-N bound, and so does the demo."""
    config = SimulatorConfig(users=48, actors=120, apps=10)
    with RunningSimulator(config=config, clock=ManualClock(NOW)) as big:
        h = Harness(big)
        try:
            org = big.sim.world.org(ORG)
            assert len(org.subjects) == 58 and len(org.actors) == 120
            collector = h.collector(top_subjects=15, top_actors=2, top_routes=3)
            families = await collector.collect()
            counts = h.requests()
        finally:
            await h.close()
    total = sum(counts.values())
    assert total <= bound(15, 2), counts
    assert counts[f"{INSIGHTS}/subject-stats"] == 1
    assert 1 <= counts[f"{INSIGHTS}/user-stats/{{user_id}}"] <= 15, "the top 15 hold users, whose actors are looked up"
    assert counts[f"{INSIGHTS}/route-stats/{{actor_type}}/{{actor_id}}"] <= 15 * 2
    found = values(families)
    assert sum(1 for (n, _) in found if n == "github_api_insights_subject_window_requests") == 15
    routes_per_actor: dict[tuple, int] = {}
    for name, labels in found:
        if name == "github_api_insights_route_window_requests":
            key = tuple(v for k, v in labels if k in ("actor_type", "actor_id"))
            routes_per_actor[key] = routes_per_actor.get(key, 0) + 1
    assert routes_per_actor and max(routes_per_actor.values()) <= 3


async def test_listings_read_only_the_pages_top_n_needs(harness: Harness) -> None:
    # 15 subjects at per_page=4 make four pages; the second is never asked for.
    page = sim_get(
        harness.running,
        f"/orgs/{ORG}/insights/api/subject-stats",
        min_timestamp="2024-09-17T16:00:00Z",
        per_page=4,
        sort="total_request_count",
        direction="desc",
    )
    assert len(page) == 4
    harness.sim.reset_counters()
    collector = harness.collector(top_subjects=4, top_actors=1, top_routes=2)
    found = values(await collector.collect())
    counts = harness.requests()
    assert counts[f"{INSIGHTS}/subject-stats"] == 1
    subjects = {dict(lbls)["subject_name"] for (n, lbls) in found if n == "github_api_insights_subject_window_requests"}
    assert subjects == {row["subject_name"] for row in page}, "the top 4 by total_request_count, as GitHub ranks them"
    # Every user's and actor's listing was a single page too.
    assert counts[f"{INSIGHTS}/user-stats/{{user_id}}"] == sum(1 for r in page if r["subject_type"] == "user")
    assert (
        counts[f"{INSIGHTS}/route-stats/{{actor_type}}/{{actor_id}}"]
        == counts[f"{INSIGHTS}/time-stats/{{actor_type}}/{{actor_id}}"]
    )


class _RecordingClient:
    """Stands in for GitHubClient.paginate to check the parameters of a listing beyond 100 items."""

    def __init__(self, items: int) -> None:
        self.items = items
        self.calls: list[tuple[str, dict[str, Any], int | None]] = []
        self.drift = FieldDrift(CollectorRegistry())

    async def paginate(self, route: str, *, params: dict[str, Any], family: str, limit: int | None, **path: Any):
        self.calls.append((route, params, limit))
        for i in range(min(self.items, limit or self.items)):
            yield {"subject_type": "user", "subject_name": f"u{i}", "subject_id": i + 1, "total_request_count": 1}


async def test_top_n_above_a_page_uses_full_pages_and_the_limit() -> None:
    settings = Settings(targets={"orgs": [ORG]}, collectors={"api_insights": {"top_subjects": 150}})
    client = _RecordingClient(500)
    collector = ApiInsightsCollector(client, settings, ORG, clock=lambda: NOW)  # type: ignore[arg-type]
    rows = await collector._subjects(NOW - 3600, NOW)
    assert len(rows) == 150
    ((route, params, limit),) = client.calls
    assert route == ai.SUBJECT_STATS and limit == 150
    assert params["per_page"] == 100 and params["sort"] == "total_request_count" and params["direction"] == "desc"


# -- edge cases -------------------------------------------------------------------------------------


async def test_an_org_without_traffic() -> None:
    """Nothing visible at all (data never arrives): zero counters and summaries, no subjects, no times, no routes."""
    config = SimulatorConfig(insights_lag_min=40 * 86400.0, insights_lag_full=41 * 86400.0)
    with RunningSimulator(config=config, clock=ManualClock(NOW)) as quiet:
        h = Harness(quiet)
        try:
            org = quiet.sim.world.org(ORG)
            actor = org.actors[0]
            collector = h.collector(users=[org.users[0].id], actors=[{"actor_type": actor.type, "actor_id": actor.id}])
            await collector.collect()
            h.at(600)
            families = await collector.collect()
        finally:
            await h.close()
    found = values(families)
    assert all(v == 0 for (name, _), v in found.items() if not name.endswith(("_info", "_window_seconds"))), found
    names = {name for name, _ in found}
    assert names == {
        "github_api_insights_requests_total",
        "github_api_insights_rate_limited_requests_total",
        "github_api_insights_window_requests",
        "github_api_insights_window_rate_limited_requests",
        "github_api_insights_window_seconds",
        "github_api_insights_user_requests_total",
        "github_api_insights_user_rate_limited_requests_total",
        "github_api_insights_user_window_requests",
        "github_api_insights_user_window_rate_limited_requests",
        "github_api_insights_actor_requests_total",
        "github_api_insights_actor_rate_limited_requests_total",
        "github_api_insights_actor_window_requests",
        "github_api_insights_actor_window_rate_limited_requests",
        "github_api_insights_actor_info",
    }
    # A configured actor nobody described: its info says so with empty labels.
    info = [dict(lbls) for (name, lbls) in found if name == "github_api_insights_actor_info"]
    assert info == [
        {
            "org": ORG,
            "actor_type": actor.type,
            "actor_id": str(actor.id),
            "actor_name": "",
            "subject_type": "",
            "subject_name": "",
            "user_id": "",
        }
    ]
    promtool_check_metrics(render(families))


class _EmptyClient:
    """Answers every GET with no body (time stats: an empty list) and every listing with no items."""

    def __init__(self) -> None:
        self.routes: list[str] = []
        self.drift = FieldDrift(CollectorRegistry())

    async def get(self, route: str, **kwargs: Any) -> Response:
        self.routes.append(route)
        return Response(200, [] if "time-stats" in route else None, httpx.Headers())

    async def paginate(self, route: str, **kwargs: Any):
        self.routes.append(route)
        for item in ():
            yield item


async def test_empty_and_null_bodies_are_no_traffic() -> None:
    """GitHub may answer an idle org with [] or an empty body rather than zero buckets."""
    options = {"actors": [{"actor_type": "oauth_app", "actor_id": 7}], "users": [42]}
    settings = Settings(targets={"orgs": [ORG]}, collectors={"api_insights": options})
    client = _EmptyClient()
    collector = ApiInsightsCollector(client, settings, ORG, clock=lambda: NOW)  # type: ignore[arg-type]
    found = values(await collector.collect())
    assert value(found, "github_api_insights_requests_total", org=ORG) == 0
    assert value(found, "github_api_insights_window_requests", org=ORG) == 0
    assert value(found, "github_api_insights_user_window_requests", org=ORG, user_id="42") == 0
    assert value(found, "github_api_insights_actor_requests_total", org=ORG, actor_type="oauth_app", actor_id="7") == 0
    assert not any(name.startswith(("github_api_insights_route_", "github_api_insights_subject_")) for name, _ in found)
    assert {ai.SUBJECT_STATS, ai.USER_STATS, ai.ROUTE_STATS} <= set(client.routes)


async def test_null_last_rate_limited_timestamp_exports_no_sample(harness: Harness) -> None:
    rows = sim_get(
        harness.running,
        f"/orgs/{ORG}/insights/api/subject-stats",
        min_timestamp="2024-09-18T10:00:00Z",
        max_timestamp="2024-09-18T16:00:00Z",
        per_page=100,
    )
    collector = harness.collector(summary_window="6h", top_subjects=15, top_actors=0, top_routes=0)
    found = values(await collector.collect())
    nulls = [r for r in rows if r["last_rate_limited_timestamp"] is None]
    assert nulls and len(nulls) < len(rows) == 15, "some subjects were rate limited in these 6 hours, some not"
    for row in rows:
        labels = {"org": ORG, "subject_type": row["subject_type"], "subject_name": row["subject_name"]}
        assert value(found, "github_api_insights_subject_last_request_timestamp_seconds", **labels) == parse_iso(
            row["last_request_timestamp"]
        )
        limited = value(found, "github_api_insights_subject_last_rate_limited_timestamp_seconds", **labels)
        if row["last_rate_limited_timestamp"] is None:
            assert limited is None
        else:
            assert limited == parse_iso(row["last_rate_limited_timestamp"])


async def test_a_subject_that_leaves_the_top_n(harness: Harness) -> None:
    """Its series go at the next run; its state stays for forget_after, then goes; a newcomer starts at a baseline."""
    org = world_org(harness.running)
    collector = harness.collector(
        top_subjects=5, top_actors=2, top_routes=1, summary_window="6h", forget_after="30m", ranking_interval="5m"
    )
    first = values(await collector.collect())
    top = {dict(lbl)["subject_name"] for (n, lbl) in first if n == "github_api_insights_subject_window_requests"}
    assert len(top) == 5
    # A quiet user's only token suddenly makes 200 times its traffic and climbs into the top 5.
    climber = next(s for s in org.subjects if s.type == "user" and s.name not in top and len(s.actors) == 1)
    actor = climber.actors[0]
    harness.sim.add_spike(ORG, NOW - 3600, NOW + 4 * 3600, factor=200, lag=0, actor_id=actor.id)
    harness.at(300)
    second = values(await collector.collect())
    now_top = {dict(lbl)["subject_name"] for (n, lbl) in second if n == "github_api_insights_subject_window_requests"}
    assert climber.name in now_top and len(now_top) == 5
    (dropped,) = top - now_top
    dropped_subject = next(s for s in org.subjects if s.name == dropped)
    assert dropped_subject.type == "user" and len(dropped_subject.actors) == 2, (
        "the test wants a user with two actors to go"
    )
    dropped_actor = dropped_subject.actors[0]
    # Gone from the snapshot: subject gauges, user series, its actors' series and routes.
    assert series_of(first, user_id=str(dropped_subject.id)) and series_of(first, actor_id=str(dropped_actor.id))
    assert not series_of(second, subject_name=dropped)
    assert not series_of(second, user_id=str(dropped_subject.id))
    for gone in dropped_subject.actors:
        assert not series_of(second, actor_id=str(gone.id))
    # ... but their counters are remembered for a quick return.
    assert (
        ActorKey(dropped_actor.type, dropped_actor.id) in collector._actors and dropped_subject.id in collector._users
    )
    # The newcomer starts from a baseline: no spike of its whole window into the counter.
    labels = {"org": ORG, "actor_type": actor.type, "actor_id": str(actor.id)}
    assert value(second, "github_api_insights_actor_requests_total", **labels) == 0
    assert value(second, "github_api_insights_actor_window_requests", **labels) > 0
    # 35 minutes later (more than forget_after since it was last followed) its state is dropped.
    harness.at(300 + 35 * 60)
    third = values(await collector.collect())
    assert dropped not in {
        dict(lbl)["subject_name"] for (n, lbl) in third if n == "github_api_insights_subject_window_requests"
    }
    assert ActorKey(dropped_actor.type, dropped_actor.id) not in collector._actors
    assert dropped_subject.id not in collector._users
    # Memory holds what the last 30 minutes followed, no more.
    assert set(collector._actors) <= {
        ActorKey(a.type, a.id) for s in org.subjects if s.name in now_top for a in s.actors
    }


def _visible_total(running: RunningSimulator, route: str, since: float, **path: Any) -> tuple[int, int]:
    buckets = sim_get(running, route.format(org=ORG, **path), min_timestamp=ai.iso(since), timestamp_increment="5m")
    return sum(b["total_request_count"] for b in buckets), sum(b["rate_limited_request_count"] for b in buckets)


async def test_late_data_is_counted_once_for_actor_and_user_counters(harness: Harness) -> None:
    org = world_org(harness.running)
    subject = next(s for s in org.subjects if s.type == "user" and len(s.actors) == 2)
    actor = subject.actors[1]
    collector = harness.collector(
        users=[subject.id], actors=[{"actor_type": actor.type, "actor_id": actor.id}], top_subjects=0, top_actors=0
    )
    window_start = collector._window_start(NOW)
    actor_path = {"actor_type": actor.type, "actor_id": actor.id}
    base_actor = _visible_total(harness.running, ai.ACTOR_TIME_STATS, window_start, **actor_path)
    base_user = _visible_total(harness.running, ai.USER_TIME_STATS, window_start, user_id=subject.id)
    await collector.collect()
    for offset in (300, 300, 3600, 3 * 3600, 7 * 3600):
        harness.at(offset)
        found = values(await collector.collect())
        seen_actor = _visible_total(harness.running, ai.ACTOR_TIME_STATS, window_start, **actor_path)
        seen_user = _visible_total(harness.running, ai.USER_TIME_STATS, window_start, user_id=subject.id)
        labels = {"org": ORG, "actor_type": actor.type, "actor_id": str(actor.id)}
        assert value(found, "github_api_insights_actor_requests_total", **labels) == seen_actor[0] - base_actor[0]
        assert (
            value(found, "github_api_insights_actor_rate_limited_requests_total", **labels)
            == seen_actor[1] - base_actor[1]
        )
        user = {"org": ORG, "user_id": str(subject.id)}
        assert value(found, "github_api_insights_user_requests_total", **user) == seen_user[0] - base_user[0]
        assert (
            value(found, "github_api_insights_user_rate_limited_requests_total", **user) == seen_user[1] - base_user[1]
        )
    assert seen_actor[0] - base_actor[0] > 0, "late data arrived in the meantime"


async def test_a_spike_shows_in_the_noisy_actors_rate_limited_counter(harness: Harness) -> None:
    org = world_org(harness.running)
    noisy = next(a for a in org.actors if a.noisy and a.type == "installation")
    collector = harness.collector(ranking_interval="5m")  # the routes below come from a ranking refreshed at +5m
    await collector.collect()
    harness.sim.add_spike(ORG, NOW - 3600, NOW + 3600, factor=10, lag=0, actor_id=noisy.id)
    harness.at(300)
    found = values(await collector.collect())
    limited = {
        dict(lbl)["actor_id"]: v
        for (n, lbl), v in found.items()
        if n == "github_api_insights_actor_rate_limited_requests_total"
    }
    spiked = limited.pop(str(noisy.id))
    assert spiked > 1000
    assert spiked > 20 * max(limited.values())
    org_limited = value(found, "github_api_insights_rate_limited_requests_total", org=ORG)
    assert org_limited >= spiked
    # The routes of that actor show the extra rate limiting too.
    routes = [
        v
        for (n, lbl), v in found.items()
        if n == "github_api_insights_route_window_rate_limited_requests" and dict(lbl)["actor_id"] == str(noisy.id)
    ]
    assert sum(routes) > spiked / 2


# -- configuration and identity -------------------------------------------------------------------


async def test_logins_are_looked_up_once_and_cached(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    bchen = user_id_of(harness.running, "bchen")
    collector = harness.collector(users=["bchen", "no-such-user"], top_subjects=0, top_actors=1, top_routes=0)
    await collector.collect()
    harness.at(300)
    found = values(await collector.collect())
    assert harness.requests()["/users/{username}"] == 2, "one lookup per login over two runs"
    assert value(found, "github_api_insights_user_info", org=ORG, user_id=str(bchen), subject_name="bchen") == 1
    followed = {dict(lbl)["user_id"] for (n, lbl) in found if n == "github_api_insights_user_requests_total"}
    assert followed == {str(bchen)}
    # bchen's top actor is followed, with its identity from user-stats.
    info = [dict(lbl) for (n, lbl) in found if n == "github_api_insights_actor_info"]
    assert len(info) == 1 and info[0]["user_id"] == str(bchen) and info[0]["subject_name"] == "bchen"
    assert info[0]["subject_type"] == "user" and info[0]["actor_name"]


async def test_a_failed_request_fails_the_run_and_moves_no_counter(harness: Harness) -> None:
    collector = harness.collector(top_subjects=3)
    await collector.collect()
    harness.at(3600)
    reference = harness.collector(top_subjects=3)
    harness.at(0)
    await reference.collect()
    harness.at(3600)
    harness.sim.fail_next(1, status=403, route=ai.ACTOR_TIME_STATS)
    with pytest.raises(ForbiddenError):
        await collector.collect()
    assert values(await collector.collect()) == values(await reference.collect())


# -- sharding ---------------------------------------------------------------------------------------


async def test_replicas_split_users_and_actors_and_each_series_comes_from_one(harness: Harness) -> None:
    single = harness.collector()
    replicas = [harness.collector(sharding={"index": i, "count": 3}) for i in range(3)]
    for c in (single, *replicas):
        await c.collect()
    harness.at(3600)
    whole = values(await single.collect())
    parts = [values(await c.collect()) for c in replicas]
    keys = [set(p) for p in parts]
    assert set().union(*keys) == set(whole)
    assert sum(len(k) for k in keys) == len(whole), "no series comes from two replicas"
    merged = {k: v for p in parts for k, v in p.items()}
    assert merged == whole
    org_series = {
        k
        for k in whole
        if k[0] in ("github_api_insights_requests_total", "github_api_insights_subject_window_requests")
    }
    owners = [i for i, k in enumerate(keys) if org_series & k]
    assert len(owners) == 1 and replicas[owners[0]].owns_org()
    assert all(any(k[0].startswith("github_api_insights_actor_") for k in part) for part in keys), (
        "actors spread over all 3"
    )


def test_every_replica_builds_the_collector_for_every_org() -> None:
    for index in range(3):
        settings = Settings(
            targets={"orgs": ["a-org", "b-org", "c-org", "d-org"]}, sharding={"index": index, "count": 3}
        )
        built = [c.target for c in build_collectors(settings, None) if c.name == "api_insights"]  # type: ignore[arg-type]
        assert built == ["a-org", "b-org", "c-org", "d-org"]


# -- backfill -----------------------------------------------------------------------------------------


async def test_history_covers_followed_users_and_actors(harness: Harness) -> None:
    collector = harness.collector(top_subjects=5, top_actors=1)
    samples_ = await collector.history(NOW - 12 * 3600, NOW - 6 * 3600)
    by_series: dict[tuple[str, tuple[str, ...]], list[tuple[float, float]]] = {}
    for s in samples_:
        by_series.setdefault((s.spec.name, s.labels), []).append((s.timestamp, s.value))
    names = {name for name, _ in by_series}
    assert names == {
        "github_api_insights_requests",
        "github_api_insights_rate_limited_requests",
        "github_api_insights_user_requests",
        "github_api_insights_user_rate_limited_requests",
        "github_api_insights_actor_requests",
        "github_api_insights_actor_rate_limited_requests",
    }
    for points in by_series.values():
        values = [v for _, v in sorted(points)]
        assert values == sorted(values), "a counter never goes down"
        assert len(points) == 6 * 12, "one point at the end of each 5-minute bucket of the 6 hours"
    assert sum(1 for name, _ in by_series if name == "github_api_insights_user_requests") >= 1
    # The last point of each actor is everything its time stats hold for the period (complete by now).
    for (name, labels), points in by_series.items():
        if name == "github_api_insights_actor_requests":
            org, actor_type, actor_id = labels
            buckets = sim_get(
                harness.running,
                ai.ACTOR_TIME_STATS.format(org=org, actor_type=actor_type, actor_id=actor_id),
                min_timestamp=ai.iso(NOW - 12 * 3600),
                max_timestamp=ai.iso(NOW - 6 * 3600),
                timestamp_increment="5m",
            )
            assert max(v for _, v in points) == sum(b["total_request_count"] for b in buckets) > 0


# -- drift ---------------------------------------------------------------------------------------------


def test_every_documented_row_field_is_known() -> None:
    from tests.openapi import response_paths

    for route, schema in ai.ROW_FIELDS.items():
        documented = response_paths(route)
        assert {p for p in documented if not schema.knows(p)} == set(), route
        assert schema.known <= documented, f"{route}: known but not documented"


async def test_a_followed_run_leaves_no_drift_and_a_renamed_count_shows(harness: Harness) -> None:
    collector = harness.collector(users=["mona"], top_subjects=3, top_actors=2, top_routes=2)
    await collector.collect()
    drift = harness.harnesses[-1].client.drift
    unmapped = [s for f in drift.unmapped.collect() for s in f.samples]
    assert unmapped == [], "every field the simulator sends is known"
    assert {r for r in harness.requests() if "/insights/api/" in r} >= {ai.TIME_STATS, ai.SUBJECT_STATS,
                                                                        ai.USER_STATS, ai.ROUTE_STATS}
    renamed = [{"timestamp": "2024-09-18T00:00:00Z", "total_requests": 3, "rate_limited_request_count": 0}]
    collector._check_fields(ai.TIME_STATS, renamed)
    assert [s.labels["field"] for f in drift.unmapped.collect() for s in f.samples] == ["total_requests"]
    assert [s.labels["field"] for f in drift.missing.collect() for s in f.samples] == ["total_request_count"]
