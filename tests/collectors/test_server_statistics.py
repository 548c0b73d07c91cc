"""The Server Statistics collector: newest collection per server, every stats group, nulls, lookback, history."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry

from exporter.assembly import build_collectors, demo_settings
from exporter.collectors.server_statistics import (
    ServerStatisticsCollector,
    families_for,
    newest_per_server,
    percentage_ratio,
    threshold_seconds,
)
from exporter.github.client import GitHubClient
from exporter.github.errors import MalformedResponseError, NotFoundError
from exporter.simulator import ManualClock, RunningSimulator
from exporter.simulator.server import DemoSimulator
from exporter.simulator.server_statistics import DAY, collection, servers
from exporter.telemetry import ExporterMetrics
from tests.collectors.harness import (
    ENTERPRISE,
    NOW,
    Golden,
    collect_once,
    render,
    samples,
    settings_for,
    values_by,
)
from tests.tools import promtool_check_metrics

P = "github_enterprise_server_"


def _settings(running: RunningSimulator, **collector: object):
    return settings_for(running, targets={"enterprises": [ENTERPRISE]},
                        collectors={"server_statistics": collector} if collector else {})


async def test_golden_exposition_and_promtool(running: RunningSimulator, clock: ManualClock, golden: Golden) -> None:
    families = await collect_once(_settings(running), clock, "server_statistics")
    body = render(families)
    golden("server_statistics.prom", body)
    promtool_check_metrics(body)


async def test_newest_collection_of_each_server(running: RunningSimulator, clock: ManualClock) -> None:
    prod, staging = servers(running.sim.world)
    seed = running.sim.world.seed
    # A day staging skipped: at 06:00 the next day, production shows that day and staging an older one.
    day = next(d for d in range(int(NOW // DAY) - 2, int(NOW // DAY) - 60, -1) if not staging.uploads(seed, d))
    clock.set((day + 1) * DAY + 6 * 3600)
    families = await collect_once(_settings(running), clock, "server_statistics")
    collected = values_by(families, P + "collection_timestamp_seconds", "server_id")
    assert collected[prod.server_id] == day * DAY + DAY - 1
    staging_day = max(d for d in range(day - 10, day) if staging.uploads(seed, d))
    assert collected[staging.server_id] == staging_day * DAY + DAY - 1
    expected = collection(seed, staging, staging_day)["ghe_stats"]["repos"]["total_repos"]  # type: ignore[index]
    assert values_by(families, P + "repositories", "server_id")[staging.server_id] == expected

    # With a one-day lookback, staging's older upload is out of range and its series go away.
    families = await collect_once(_settings(running, lookback="1d"), clock, "server_statistics")
    assert set(values_by(families, P + "info", "server_id")) == {prod.server_id}


async def test_groups_labels_and_values(running: RunningSimulator, clock: ManualClock) -> None:
    families = await collect_once(_settings(running), clock, "server_statistics")
    prod = servers(running.sim.world)[0]
    raw = collection(running.sim.world.seed, prod, int(NOW // DAY) - 1)
    stats = raw["ghe_stats"]  # type: ignore[index]
    server = (("enterprise_or_org", ENTERPRISE), ("server_id", prod.server_id))

    def key(**extra: str) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((*server, *extra.items())))

    comments = samples(families, P + "comments")
    assert comments[key(type="issue")] == stats["comments"]["total_issue_comments"]
    assert {dict(k)["type"] for k in comments} == {"commit", "gist", "issue", "pull_request"}
    issues = samples(families, P + "issues_by_state")
    assert issues[key(state="open")] == stats["issues"]["open_issues"]
    assert samples(families, P + "issues")[server] == stats["issues"]["total_issues"]
    assert samples(families, P + "actions_repositories_ratio")[server] == pytest.approx(
        float(raw["actions_stats"]["percentage_of_repos_using_actions"]) / 100)  # type: ignore[index]
    assert samples(families, P + "dormancy_threshold_seconds")[server] == 90 * DAY
    info = [s for f in families for s in f.samples if s.name == P + "info" and s.labels["server_id"] == prod.server_id]
    assert info[0].labels["host_name"] == prod.host_name and info[0].labels["ghes_version"] == raw["ghes_version"]
    states = samples(families, P + "packages_ecosystem_state")
    assert states[key(ecosystem="docker", state="read_only")] == 1
    assert states[key(ecosystem="docker", state="enabled")] == 0
    assert sum(v for k, v in states.items() if dict(k)["ecosystem"] == "npm") == 1
    assert samples(families, P + "packages_registry_enabled")[server] == 1
    # Staging has GitHub Packages off and no ecosystems: no per-ecosystem series for it.
    staging = servers(running.sim.world)[1].server_id
    assert not [k for k in samples(families, P + "packages_published") if dict(k)["server_id"] == staging]


def test_nulls_and_missing_groups_leave_samples_out() -> None:
    item = {
        "server_id": "s1", "collection_date": "2024-09-17T23:59:59Z", "host_name": None,
        "ghe_stats": {"issues": {"total_issues": 10, "open_issues": None}, "repos": None, "users": {}},
        "dormant_users": {"total_dormant_users": None, "dormancy_threshold": None},
        "actions_stats": {"number_of_repos_using_actions": 3, "percentage_of_repos_using_actions": None},
        "packages_stats": {"registry_enabled": None, "ecosystems": [
            {"name": "npm", "enabled": None, "published_packages_count": None, "private_packages_count": 4},
            None, {"enabled": "TRUE"}]},
        "github_connect": None,
    }
    families = {f.name: f for f in families_for("acme", newest_per_server([item]))}
    present = {name: len(f.samples) for name, f in families.items() if f.samples}
    assert present == {
        P + "info": 1, P + "collection_timestamp_seconds": 1, P + "issues": 1,
        P + "actions_repositories": 1, P + "packages_by_visibility": 1,
    }
    assert families[P + "info"].samples[0].labels["host_name"] == ""


def test_only_the_newest_collection_counts_and_bad_items() -> None:
    items = [{"server_id": "b", "collection_date": "2024-09-17T23:59:59Z", "ghe_stats": {"pages": {"total_pages": 2}}},
             {"server_id": "a", "collection_date": "2024-09-16T23:59:59Z", "ghe_stats": {"pages": {"total_pages": 5}}},
             {"server_id": "b", "collection_date": "2024-09-15T23:59:59Z", "ghe_stats": {"pages": {"total_pages": 1}}},
             {"server_id": None, "collection_date": "2024-09-18T23:59:59Z"}, {"server_id": "c"}]
    newest = newest_per_server(items)
    assert [(c.server_id, c.data["ghe_stats"]["pages"]["total_pages"]) for c in newest] == [("a", 5), ("b", 2)]
    with pytest.raises(MalformedResponseError):
        newest_per_server([{"server_id": "a", "collection_date": "last tuesday"}])
    with pytest.raises(MalformedResponseError):
        families_for("acme", newest_per_server([{"server_id": "a", "collection_date": "2024-09-16T23:59:59Z",
                                                  "ghe_stats": {"users": {"total_users": "many"}}}]))


def test_percentage_and_threshold_parsing() -> None:
    assert percentage_ratio("47.74") == pytest.approx(0.4774)
    assert percentage_ratio("100%") == 1.0 and percentage_ratio(12) == 0.12
    assert percentage_ratio(None) is None and percentage_ratio("n/a") is None and percentage_ratio("250") is None
    assert percentage_ratio("nan") is None
    assert threshold_seconds("90 days") == 90 * DAY and threshold_seconds("1 week") == 7 * DAY
    assert threshold_seconds("forever") is None and threshold_seconds(None) is None


async def test_org_without_servers_and_unknown_account(running: RunningSimulator, clock: ManualClock) -> None:
    settings = settings_for(running, collectors={"server_statistics": {"orgs": ["octo-demo"]}})
    families = await collect_once(settings, clock, "server_statistics")
    assert families and not any(f.samples for f in families), "every family, no samples"
    promtool_check_metrics(render(families))
    settings = settings_for(running, targets={"enterprises": ["no-such-enterprise"]})
    with pytest.raises(NotFoundError):
        await collect_once(settings, clock, "server_statistics")


def test_targets_are_enterprises_then_connected_orgs(running: RunningSimulator) -> None:
    settings = settings_for(running, targets={"enterprises": [ENTERPRISE], "orgs": ["octo-demo", "other"]},
                            collectors={"server_statistics": {"orgs": ["acme", "Octo-Enterprise"]}})
    assert ServerStatisticsCollector.targets(settings) == [ENTERPRISE, "acme"]


async def test_history_has_every_collection_at_its_date(running: RunningSimulator, clock: ManualClock) -> None:
    settings = _settings(running)
    client = GitHubClient(settings.github, ExporterMetrics(CollectorRegistry()))
    try:
        collector = ServerStatisticsCollector(client, settings, ENTERPRISE, clock=clock)
        start, end = NOW - 10 * DAY, NOW
        history = await collector.history(start, end)
    finally:
        await client.aclose()
    seed, (prod, staging) = running.sim.world.seed, servers(running.sim.world)
    expected = {(s.server_id, d * DAY + DAY - 1) for s in (prod, staging)
                for d in range(math.floor(start / DAY), math.floor(NOW / DAY))
                if s.uploads(seed, d) and start <= d * DAY + DAY - 1 <= end}
    infos = {(h.labels[1], h.timestamp) for h in history if h.spec.name == P + "info"}
    assert infos == expected and len(expected) >= 15
    day = math.floor(NOW / DAY) - 3
    users = [h.value for h in history if h.spec.name == P + "users" and h.labels[1] == prod.server_id
             and h.timestamp == day * DAY + DAY - 1]
    assert users == [collection(seed, prod, day)["ghe_stats"]["users"]["total_users"]]  # type: ignore[index]


async def test_demo_runs_both_families(running: RunningSimulator, clock: ManualClock) -> None:
    """--demo takes its targets from the simulator's world: the enterprise and the repositories are in it."""
    world_targets = DemoSimulator(running.sim, None, running.url).targets()  # type: ignore[arg-type]
    settings = demo_settings(None, running.url, world_targets, {})
    client = GitHubClient(settings.github, ExporterMetrics(CollectorRegistry()), clock=clock)
    try:
        jobs = {(c.name, c.target): c for c in build_collectors(settings, client)}
        assert ("server_statistics", ENTERPRISE) in jobs and ("repo_traffic", "targets.repositories") in jobs
        for name in ("server_statistics", "repo_traffic"):
            collector = next(c for (n, _), c in jobs.items() if n == name)
            collector._clock = clock  # the demo reads the wall clock; this test uses the simulator's
            assert any(f.samples for f in await collector.collect()), name
    finally:
        await client.aclose()


def test_every_documented_collection_field_is_read() -> None:
    from exporter.collectors.server_statistics import COLLECTION_FIELDS, ROUTE
    from tests.openapi import response_paths

    documented = response_paths(ROUTE)
    assert len(documented) > 50
    assert {p for p in documented if not COLLECTION_FIELDS.knows(p)} == set()
    assert COLLECTION_FIELDS.known <= documented


async def test_the_simulators_collections_leave_no_drift(running: RunningSimulator, clock: ManualClock) -> None:
    settings = _settings(running)
    registry = CollectorRegistry()
    client = GitHubClient(settings.github, ExporterMetrics(registry))
    try:
        assert await ServerStatisticsCollector(client, settings, ENTERPRISE, clock=clock).collect()
    finally:
        await client.aclose()
    assert [s for f in registry.collect() for s in f.samples if s.name in (
        "github_exporter_unmapped_fields", "github_exporter_missing_fields")] == []
