"""The repository traffic collector: discovery, filters, skipped repositories, the complete day, sharding, history."""

from __future__ import annotations

import copy
import math

import pytest
from prometheus_client import CollectorRegistry

from exporter.assembly import build_collectors
from exporter.collectors.repo_traffic import (
    LIST_TARGET,
    LISTING_FIELDS,
    LISTING_SCHEMA,
    ORG_REPOS,
    USER_REPOS,
    RepoTrafficCollector,
    daily,
    skip_reason,
    top_paths,
    top_referrers,
)
from exporter.github.client import GitHubClient
from exporter.github.errors import (
    APIError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
)
from exporter.settings import API_VERSION, GHES_API_VERSION
from exporter.simulator import ManualClock, RunningSimulator
from exporter.simulator.field_drift import set_field_drift
from exporter.simulator.repo_traffic import (
    ARCHIVED_ON,
    DAY,
    DRIFT_ADDED,
    DRIFT_RENAMED,
    day_counts,
    find,
    org_repos,
    traffic,
    user_repos,
)
from exporter.telemetry import ExporterMetrics
from tests.collectors.harness import (
    NOW,
    ORG,
    Golden,
    Harness,
    collect_once,
    render,
    samples,
    settings_for,
    values,
    values_by,
)
from tests.tools import promtool_check_metrics

P = "github_repo_traffic_"
VIEWS_ROUTE = "/repos/{owner}/{repo}/traffic/views"
PATHS_ROUTE = "/repos/{owner}/{repo}/traffic/popular/paths"


def _settings(running: RunningSimulator, repositories: list[str] | None = None, **collector: object):
    return settings_for(running, targets={"repositories": repositories or []},
                        collectors={"repo_traffic": collector} if collector else {})


def _repos(families, name: str = P + "views_14d") -> set[str]:
    return set(values_by(families, name, "repository"))


def _by_source(families, name: str) -> dict[tuple[str, str], float]:
    return {(s.labels["source"], s.labels["reason"]): s.value for f in families for s in f.samples if s.name == name}


async def test_golden_exposition_and_promtool(running: RunningSimulator, clock: ManualClock, golden: Golden) -> None:
    settings = _settings(running, [f"{ORG}/api", f"{ORG}/cli", f"{ORG}/docs", f"{ORG}/sdk-go"],
                         discover=[ORG, "mona"], top_paths=3, top_referrers=3)
    body = render(await collect_once(settings, clock, "repo_traffic"))
    golden("repo_traffic.prom", body)
    promtool_check_metrics(body)


async def test_a_forbidden_repository_is_skipped_and_the_others_exported(running: RunningSimulator,
                                                                         clock: ManualClock) -> None:
    settings = _settings(running, [f"{ORG}/api", f"{ORG}/cli", f"{ORG}/web", f"{ORG}/gone"])
    families = await collect_once(settings, clock, "repo_traffic")
    assert _repos(families) == {f"{ORG}/api", f"{ORG}/web"}
    assert not [s for f in families for s in f.samples if s.labels.get("repository") == f"{ORG}/cli"]
    skipped = _by_source(families, P + "skipped_repositories")
    assert skipped == {(LIST_TARGET, "forbidden"): 1, (LIST_TARGET, "not_found"): 1,
                       (LIST_TARGET, "moved"): 0, (LIST_TARGET, "unavailable"): 0}
    assert values_by(families, P + "repositories", "source") == {LIST_TARGET: 2}
    assert running.sim.count(PATHS_ROUTE) == 2, "a refused repository costs one request, not four"


async def test_values_and_the_latest_complete_day(running: RunningSimulator, clock: ManualClock) -> None:
    clock.set(NOW + 5 * 3600)  # 21:00: today is well under way, and not what the day gauges show
    families = await collect_once(_settings(running, [f"{ORG}/api"]), clock, "repo_traffic")
    sim = running.sim
    repo = find(sim.world, ORG, "api")
    yesterday = math.floor(NOW / DAY) - 1
    views, view_uniques, clones, clone_uniques = day_counts(sim.world.seed, repo, yesterday)
    one = (("repository", f"{ORG}/api"),)
    assert samples(families, P + "day_views")[one] == views
    assert samples(families, P + "day_unique_visitors")[one] == view_uniques
    assert samples(families, P + "day_clones")[one] == clones
    assert samples(families, P + "day_unique_cloners")[one] == clone_uniques
    assert samples(families, P + "day_timestamp_seconds")[one] == yesterday * DAY
    window = traffic(sim.world.seed, repo, clock(), "views", "day")
    assert samples(families, P + "views_14d")[one] == window["count"]
    assert samples(families, P + "unique_visitors_14d")[one] == window["uniques"]
    paths = values_by(families, P + "top_path_views_14d", "path")
    assert 1 <= len(paths) <= 10 and f"/{ORG}/api" in paths
    titles = {s.labels["path"]: s.labels["title"] for f in families for s in f.samples if s.name == P + "top_path_info"}
    assert set(titles) == set(paths) and titles[f"/{ORG}/api"].startswith(f"{ORG}/api: ")
    assert "Google" in values_by(families, P + "top_referrer_views_14d", "referrer")


async def test_a_new_repository_has_zeros_and_no_top_lists(running: RunningSimulator, clock: ManualClock) -> None:
    families = await collect_once(_settings(running, [f"{ORG}/docs"]), clock, "repo_traffic")
    one = (("repository", f"{ORG}/docs"),)
    for name in ("views_14d", "unique_visitors_14d", "clones_14d", "unique_cloners_14d", "day_views", "day_clones"):
        assert samples(families, P + name)[one] == 0, name
    assert not samples(families, P + "top_path_views_14d") and not samples(families, P + "top_referrer_views_14d")
    promtool_check_metrics(render(families))


async def test_discovery_skips_archived_forks_and_read_only(running: RunningSimulator, clock: ManualClock) -> None:
    families = await collect_once(_settings(running, discover=[ORG]), clock, "repo_traffic")
    assert _repos(families) == {f"{ORG}/{n}" for n in ("api", "web", "mobile-app", "infra", "docs")}
    filtered = _by_source(families, P + "filtered_repositories")
    assert filtered == {(ORG, "excluded"): 0, (ORG, "archived"): 1, (ORG, "fork"): 1, (ORG, "no_push_access"): 1}
    assert sum(_by_source(families, P + "skipped_repositories").values()) == 0, "read-only repos are never asked"

    families = await collect_once(_settings(running, discover=[ORG], include_archived=True, include_forks=True),
                                  clock, "repo_traffic")
    assert {f"{ORG}/sdk-go", f"{ORG}/sdk-python"} <= _repos(families)


async def test_a_listed_repository_without_owner_name_is_skipped_and_counted(
    running: RunningSimulator, clock: ManualClock
) -> None:
    """One unreadable row of the listing (Prism's dynamic mode sends a full_name with no '/') spoils nothing else."""
    settings = _settings(running, discover=[ORG])
    clean = _repos(await collect_once(settings, clock, "repo_traffic"))
    running.sim.add_fault("bad_row", route=ORG_REPOS)
    registry = CollectorRegistry()
    client = GitHubClient(settings.github, ExporterMetrics(registry), clock=clock)
    try:
        (collector,) = build_collectors(settings, client, clock=clock)
        spoiled = _repos(await collector.collect())
    finally:
        await client.aclose()
    assert spoiled and len(clean - spoiled) <= 1 and spoiled <= clean, (clean, spoiled)
    counted = registry.get_sample_value(
        "github_exporter_parse_errors_total", {"collector": "repo_traffic", "endpoint": ORG_REPOS}
    )
    assert counted == 1


async def test_include_and_exclude_globs(running: RunningSimulator, clock: ManualClock) -> None:
    settings = _settings(running, discover=[ORG], include=[f"{ORG}/*i*", "OCTO-DEMO/WEB"], exclude=["*/infra"])
    families = await collect_once(settings, clock, "repo_traffic")
    assert _repos(families) == {f"{ORG}/api", f"{ORG}/mobile-app", f"{ORG}/web"}
    # docs, sdk-go and sdk-python do not match include, infra matches exclude
    assert _by_source(families, P + "filtered_repositories")[(ORG, "excluded")] == 4


async def test_user_discovery(running: RunningSimulator, clock: ManualClock) -> None:
    harness = Harness(_settings(running, discover=["mona"]), clock, "repo_traffic")
    try:
        families = await harness.collect()
        assert _repos(families) == {"mona/dotfiles"}
        running.sim.reset_counters()
        await harness.collect()
        assert running.sim.count("/orgs/{org}/repos") == 0, "the owner's kind is remembered"
        assert running.sim.count("/users/{username}/repos") == 1
    finally:
        await harness.aclose()
    with pytest.raises(NotFoundError):
        await collect_once(_settings(running, discover=["nobody-here"]), clock, "repo_traffic")


async def test_an_archived_repository_disappears(running: RunningSimulator, clock: ManualClock) -> None:
    clock.set(ARCHIVED_ON - 2 * DAY)
    harness = Harness(_settings(running, discover=[ORG]), clock, "repo_traffic")
    try:
        before = await harness.collect()
        assert f"{ORG}/sdk-go" in _repos(before)
        clock.set(ARCHIVED_ON + 3600)
        after = await harness.collect()
    finally:
        await harness.aclose()
    assert f"{ORG}/sdk-go" not in _repos(after)
    gone = [s for f in after for s in f.samples if s.labels.get("repository") == f"{ORG}/sdk-go"]
    assert gone == [], "no series of the archived repository is left"
    assert _by_source(after, P + "filtered_repositories")[(ORG, "archived")] == 1


async def test_listed_repositories_are_collected_once(running: RunningSimulator, clock: ManualClock) -> None:
    settings = _settings(running, [f"{ORG}/api", f"{ORG}/sdk-go"], discover=[ORG])
    families = await collect_once(settings, clock, "repo_traffic")
    series = [s.labels["repository"] for f in families for s in f.samples if s.name == P + "views_14d"]
    assert sorted(series) == sorted(set(series)), "a repository in both places has one set of series"
    assert f"{ORG}/sdk-go" in series, "listed explicitly, the archived repository is collected"
    assert values_by(families, P + "repositories", "source") == {ORG: 4, LIST_TARGET: 2}


async def test_top_lists_can_be_limited_or_skipped(running: RunningSimulator, clock: ManualClock) -> None:
    families = await collect_once(_settings(running, [f"{ORG}/api"], top_paths=0, top_referrers=2), clock,
                                  "repo_traffic")
    assert running.sim.count(PATHS_ROUTE) == 0
    assert not samples(families, P + "top_path_views_14d")
    assert len(values_by(families, P + "top_referrer_views_14d", "referrer")) == 2


async def test_server_errors_and_rate_limits_fail_the_run(running: RunningSimulator, clock: ManualClock) -> None:
    running.sim.fail_next(count=1, status=502, route=VIEWS_ROUTE)
    with pytest.raises(APIError) as caught:
        await collect_once(_settings(running, [f"{ORG}/api", f"{ORG}/web"]), clock, "repo_traffic")
    assert caught.value.status == 502
    running.sim.set_rate_limit(remaining=0, reset_in=3600)
    with pytest.raises(RateLimitedError):
        await collect_once(_settings(running, [f"{ORG}/api"]), clock, "repo_traffic")


def test_sharding_splits_repositories_not_owners(running: RunningSimulator) -> None:
    listed = [f"{ORG}/{n}" for n in ("api", "web", "infra", "docs", "mobile-app")]
    owned: list[set[str]] = []
    for index in range(2):
        settings = settings_for(running, targets={"repositories": listed},
                                collectors={"repo_traffic": {"discover": [ORG]}}, sharding={"index": index, "count": 2})
        client = GitHubClient(settings.github, ExporterMetrics(CollectorRegistry()))
        jobs = [c for c in build_collectors(settings, client) if c.name == "repo_traffic"]
        assert sorted(c.target for c in jobs) == sorted([ORG, LIST_TARGET]), "every replica runs every job"
        owned.append({r for r in listed if jobs[0].sharder.owns(r)})
    assert owned[0] | owned[1] == set(listed) and not owned[0] & owned[1] and owned[0] and owned[1]


async def test_sharded_replicas_export_disjoint_repositories(running: RunningSimulator, clock: ManualClock) -> None:
    seen = []
    for index in range(2):
        settings = settings_for(running, collectors={"repo_traffic": {"discover": [ORG]}},
                                sharding={"index": index, "count": 2})
        seen.append(_repos(await collect_once(settings, clock, "repo_traffic")))
    assert seen[0] | seen[1] == {f"{ORG}/{n}" for n in ("api", "web", "mobile-app", "infra", "docs")}
    assert not seen[0] & seen[1]


async def test_history_has_the_14_complete_days(running: RunningSimulator, clock: ManualClock) -> None:
    settings = _settings(running, [f"{ORG}/api", f"{ORG}/cli"])
    client = GitHubClient(settings.github, ExporterMetrics(CollectorRegistry()))
    try:
        collector = RepoTrafficCollector(client, settings, LIST_TARGET, clock=clock)
        history = await collector.history(NOW - 30 * DAY, NOW)
    finally:
        await client.aclose()
    today = math.floor(NOW / DAY)
    views = {h.timestamp: h.value for h in history if h.spec.name == P + "day_views"}
    assert sorted(views) == [float(d * DAY) for d in range(today - 13, today + 1)]
    repo = find(running.sim.world, ORG, "api")
    assert all(views[(d + 1) * DAY] == day_counts(running.sim.world.seed, repo, d)[0] for d in range(today - 14, today))
    assert {h.labels for h in history} == {(f"{ORG}/api",)}, "the forbidden repository has no history"
    stamps = {h.timestamp: h.value for h in history if h.spec.name == P + "day_timestamp_seconds"}
    assert all(stamps[t] == t - DAY for t in stamps)


def test_parsing_nulls_duplicates_and_limits() -> None:
    answer = {"count": None, "uniques": 3, "views": [
        {"timestamp": "2024-09-17T00:00:00Z", "count": 5, "uniques": None},
        {"timestamp": "2024-09-17T00:00:00Z", "count": 2, "uniques": 1},
        {"timestamp": None, "count": 9, "uniques": 9}, None]}
    assert daily(answer, "views", VIEWS_ROUTE) == {math.floor(NOW / DAY) - 1: (7.0, 1.0)}
    assert daily({"count": 0, "uniques": 0, "views": None}, "views", VIEWS_ROUTE) == {}
    paths = [
        {"path": "/a", "title": "A", "count": 5, "uniques": 2},
        {"path": "/b", "title": "B", "count": 9, "uniques": 1},
        {"path": "/a", "title": "A again", "count": 7, "uniques": None},
        {"path": None, "count": 1},
    ]
    assert top_paths(paths, 10) == [("/a", "A", 12.0, 2.0), ("/b", "B", 9.0, 1.0)]
    assert top_paths(paths, 1) == [("/a", "A", 12.0, 2.0)] and top_paths(None, 10) == []
    referrers = [
        {"referrer": "", "count": 2, "uniques": 2},
        {"referrer": "", "count": 1, "uniques": 1},
        {"referrer": "Google", "count": 4, "uniques": None},
    ]
    assert top_referrers(referrers, 10) == [("Google", 4.0, None), ("", 3.0, 3.0)]


def test_skip_reasons() -> None:
    assert skip_reason(ForbiddenError("x", endpoint="e", status=403)) == "forbidden"
    assert skip_reason(NotFoundError("x", endpoint="e", status=410)) == "not_found"
    assert skip_reason(APIError("x", endpoint="e", status=301)) == "moved"
    assert skip_reason(APIError("x", endpoint="e", status=451)) == "unavailable"


def test_every_documented_traffic_field_is_known() -> None:
    from exporter.collectors.repo_traffic import TRAFFIC_FIELDS
    from tests.openapi import response_paths

    for route, schema in TRAFFIC_FIELDS.items():
        documented = response_paths(route)
        assert documented, route
        assert {p for p in documented if not schema.knows(p)} == set(), route
        assert schema.known <= documented, f"{route}: known but not documented"


@pytest.mark.parametrize("route", [ORG_REPOS, USER_REPOS])
def test_the_listing_table_is_the_descriptions_repository_under_each_version(route: str) -> None:
    """Read or skipped: every field a listed repository has under each API version the exporter sends, no other;
    a field a version removed (has_downloads) stays known and is not required."""
    from tests.contract.description import at_version
    from tests.openapi import operation, table_paths

    item = operation(route)["responses"]["200"]["content"]["application/json"]["schema"]["items"]
    by_version = {v: table_paths(at_version(copy.deepcopy(item), v)) for v in (GHES_API_VERSION, API_VERSION)}
    assert set(LISTING_FIELDS) == set().union(*by_version.values())
    for version, documented in by_version.items():
        assert LISTING_SCHEMA.required <= documented, version
    assert LISTING_SCHEMA.required == {"full_name"}, "only what discovery cannot do without"
    assert {f for f, why in LISTING_FIELDS.items() if why.startswith("read: ")} == {
        "full_name", "archived", "fork", "permissions.push"}
    assert all(why.startswith(("read: ", "skipped: ")) for why in LISTING_FIELDS.values())


def _drift(registry: CollectorRegistry) -> set[tuple[str, str]]:
    return {(s.name, s.labels["field"]) for f in registry.collect() for s in f.samples
            if s.name in ("github_exporter_unmapped_fields", "github_exporter_missing_fields")
            and s.labels["collector"] == "repo_traffic"}


@pytest.mark.parametrize("version", [GHES_API_VERSION, API_VERSION])
async def test_the_simulators_answers_leave_no_drift(running: RunningSimulator, clock: ManualClock,
                                                     version: str) -> None:
    settings = settings_for(running, github={"api_version": version},
                            targets={"repositories": [f"{ORG}/api", f"{ORG}/web"]},
                            collectors={"repo_traffic": {"discover": [ORG, "mona"], "top_paths": 3,
                                                         "top_referrers": 3}})
    registry = CollectorRegistry()
    harness = Harness(settings, clock, "repo_traffic", registry)
    try:
        families = await harness.collect()
    finally:
        await harness.aclose()
    assert values_by(families, P + "repositories", "source")[ORG] > 0, "the listing was read"
    assert running.sim.count(ORG_REPOS) and running.sim.count(USER_REPOS)
    assert _drift(registry) == set()


async def test_a_drifting_listing_shows_both_signals_and_the_listed_repositories_are_as_before(
        running: RunningSimulator, clock: ManualClock) -> None:
    listed = [f"{ORG}/api", f"{ORG}/web"]
    settings = _settings(running, listed, discover=[ORG, "mona"])
    before = await collect_once(settings, clock, "repo_traffic")
    set_field_drift(running.sim, "repo_traffic", True)
    registry = CollectorRegistry()
    harness = Harness(settings, clock, "repo_traffic", registry)
    try:
        during = await harness.collect()  # no failure: discovery reads nothing it can name, the list job is whole
        signals = _drift(registry)
        set_field_drift(running.sim, "repo_traffic", False)
        after = await harness.collect()
    finally:
        await harness.aclose()
    (old, new), (added, _) = DRIFT_RENAMED, DRIFT_ADDED
    assert signals == {("github_exporter_unmapped_fields", new), ("github_exporter_unmapped_fields", added),
                       ("github_exporter_missing_fields", old)}
    assert _drift(registry) == {("github_exporter_unmapped_fields", new), ("github_exporter_unmapped_fields", added)}, \
        "full_name back: no longer missing (the unmapped ones stay: seen since start)"

    def of_listed(families) -> dict:
        return {k: v for k, v in values(families).items() if ("repository", listed[0]) in k[1]
                or ("repository", listed[1]) in k[1]}

    assert of_listed(during) == of_listed(before) != {}
    assert values_by(during, P + "repositories", "source") == {LIST_TARGET: 2, ORG: 0, "mona": 0}
    assert values_by(before, P + "repositories", "source")[ORG] > 0
    assert values_by(after, P + "repositories", "source") == values_by(before, P + "repositories", "source")
    unreadable = {s.labels["endpoint"]: s.value for f in registry.collect() for s in f.samples
                  if s.name == "github_exporter_parse_errors_total" and s.labels["collector"] == "repo_traffic"}
    world = running.sim.world
    assert unreadable == {ORG_REPOS: len([r for r in org_repos(world, ORG) or [] if r.created_at <= clock()]),
                          USER_REPOS: len(user_repos(world, "mona") or [])}, "each unnamed repository counted"
