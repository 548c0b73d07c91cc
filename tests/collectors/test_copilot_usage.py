"""The copilot_usage collector (retired usage summaries): goldens, empty and null answers, retirement, history."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from structlog.testing import capture_logs

from exporter.collectors.copilot_usage import CopilotUsageCollector
from exporter.github.client import Response
from exporter.github.errors import APIError
from exporter.scheduler import CollectorScheduler
from exporter.settings import Settings
from exporter.simulator import ManualClock, RunningSimulator
from exporter.simulator import copilot as model
from exporter.simulator.routing import parse_iso
from exporter.store import SnapshotStore
from exporter.telemetry import ExporterMetrics
from tests.collectors import harness
from tests.collectors.harness import DAY, ENTERPRISE, NOW, ORG, Golden, client_for, render, samples, values
from tests.tools import promtool_check_metrics

ORG_USAGE = "/orgs/{org}/copilot/usage"
TEAM_USAGE = "/orgs/{org}/team/{team_slug}/copilot/usage"
YESTERDAY = parse_iso("2024-09-17T00:00:00Z")


def settings_for(running: RunningSimulator | str, teams: Iterable[str] = (), **options: Any) -> Settings:
    """The org, `teams` and the enterprise as targets; `options` configure copilot_usage."""
    return harness.settings_for(running, targets={"orgs": [ORG], "teams": list(teams), "enterprises": [ENTERPRISE]},
                                collectors={"copilot_usage": options})


async def collect(
    running: RunningSimulator, target: str = ORG, clock: ManualClock | None = None, **options: Any
) -> list[Metric]:
    settings = settings_for(running, [f"{ORG}/platform", f"{ORG}/backend"], **options)
    async with client_for(settings) as client:
        return await CopilotUsageCollector(client, settings, target, clock=clock or ManualClock(NOW)).collect()


def data_families(families: list[Metric]) -> list[Metric]:
    return [f for f in families if not f.name.endswith("_endpoint_retired")]


async def test_org_exposition_matches_golden(running: RunningSimulator, golden: Golden) -> None:
    families = await collect(running)
    assert samples(families, "github_copilot_usage_day_timestamp_seconds") == {(("org", ORG),): YESTERDAY}
    golden("copilot_usage_org.prom", render(families))


async def test_team_exposition_matches_golden(running: RunningSimulator, golden: Golden) -> None:
    families = await collect(running, f"{ORG}/platform")
    assert samples(families, "github_copilot_team_usage_endpoint_retired") == {(("org", ORG), ("team", "platform")): 0}
    golden("copilot_usage_team.prom", render(families))


async def test_promtool_check_metrics_is_clean(running: RunningSimulator) -> None:
    families = await collect(running) + await collect(running, f"{ORG}/platform")
    text = render(families)
    assert 'github_copilot_code_suggestions{editor="vscode"' in text, "the name the deploy rules use"
    promtool_check_metrics(text)


async def test_breakdown_matches_the_summary(running: RunningSimulator) -> None:
    world = running.sim.world
    expected = model.summary(world, world.org(ORG), world.org(ORG).users, int(YESTERDAY // DAY))
    families = await collect(running)
    assert samples(families, "github_copilot_code_suggestions") == {
        (("editor", b["editor"]), ("language", b["language"]), ("org", ORG)): b["suggestions_count"]
        for b in expected["breakdown"]
    }
    assert samples(families, "github_copilot_usage_chat_turns") == {(("org", ORG),): expected["total_chat_turns"]}


async def test_empty_answer_is_a_successful_run_without_figures(running: RunningSimulator) -> None:
    """Team `data` has fewer than 5 seats: GitHub lists no days for it."""
    settings = settings_for(running, teams=[f"{ORG}/data"])
    store = SnapshotStore(max_age=3600)
    metrics = ExporterMetrics(CollectorRegistry())
    async with client_for(settings) as client:
        scheduler = CollectorScheduler(store, metrics)
        collector = CopilotUsageCollector(client, settings, f"{ORG}/data", clock=ManualClock(NOW))
        scheduler.add(collector, 3600)
        assert await scheduler.run_once(("copilot_usage", f"{ORG}/data")) is True
        families = await collector.collect()
    assert data_families(families) == []
    assert metrics.collector_success.labels("copilot_usage", f"{ORG}/data")._value.get() == 1
    # The second run revalidated with the ETag: GitHub answered 304 and spent no rate limit.
    assert running.sim.request_counts()["route_statuses"][TEAM_USAGE] == {"200": 1, "304": 1}


async def test_null_breakdown_exports_totals_only(running: RunningSimulator) -> None:
    """A quiet weekend day of team backend has `breakdown: null`, which the description allows."""
    world = running.sim.world
    org = world.org(ORG)
    team = next(t for t in model.scope_of(world, "organization", ORG).teams if t.slug == "backend")
    quiet = next(
        d
        for d in range(int(YESTERDAY // DAY), int(YESTERDAY // DAY) - 60, -1)
        if model.summary(world, org, team.members, d)["breakdown"] is None
    )
    now = (quiet + 1) * DAY + 12 * 3600  # noon of the next day: the quiet day is the newest one listed
    running.sim.set_clock(now)
    families = await collect(running, f"{ORG}/backend", clock=ManualClock(now))
    names = {f.name for f in data_families(families)}
    assert "github_copilot_team_usage_code_suggestions" in names
    assert not {n for n in names if n.startswith("github_copilot_team_code_")}
    assert samples(families, "github_copilot_team_usage_day_timestamp_seconds") == {
        (("org", ORG), ("team", "backend")): quiet * DAY
    }


class _OneDay:
    """A GitHub that lists one day with some totals left out."""

    def __init__(self, day: dict[str, Any]) -> None:
        from exporter.drift import FieldDrift

        self.day = day
        self.drift = FieldDrift(CollectorRegistry())

    async def paginate(self, route: str, **_: Any):
        yield self.day

    async def get(self, *args: Any, **kwargs: Any) -> Response:  # pragma: no cover - not used
        raise AssertionError("not used")


async def test_missing_totals_are_not_exported_as_zero() -> None:
    settings = settings_for("http://127.0.0.1:1")
    day = {
        "day": "2024-09-17",
        "total_suggestions_count": 10,
        "breakdown": [{"editor": "vscode", "language": "python", "suggestions_count": 10, "unknown_future_field": 1}],
    }
    github = _OneDay(day)
    families = await CopilotUsageCollector(github, settings, ORG, clock=ManualClock(NOW)).collect()  # type: ignore[arg-type]
    from tests.collectors.harness import drift_signals

    assert drift_signals(github)["unmapped"] == {("copilot_usage", "breakdown[].unknown_future_field")}  # type: ignore[arg-type]
    names = {f.name for f in families}
    assert "github_copilot_usage_code_suggestions" in names and "github_copilot_usage_chat_turns" not in names
    assert samples(families, "github_copilot_code_suggestions") == {
        (("editor", "vscode"), ("language", "python"), ("org", ORG)): 10
    }
    assert "github_copilot_code_acceptances" not in names


@pytest.mark.parametrize("status", [404, 410, 405, 400, 422])
async def test_retired_endpoint_logs_once_and_retries_slowly(running: RunningSimulator, status: int) -> None:
    settings = settings_for(running)
    clock = ManualClock(NOW)
    running.sim.fail_next(count=None, status=status, route=ORG_USAGE)
    retired = "github_copilot_usage_endpoint_retired"
    async with client_for(settings) as client:
        collector = CopilotUsageCollector(client, settings, ORG, clock=clock)
        with capture_logs() as logs:
            first = await collector.collect()
            for _ in range(5):  # an hour apart, for five hours: no request, no log
                clock.advance(3600)
                assert values(await collector.collect()) == values(first)
        assert samples(first, retired) == {(("org", ORG),): 1} and data_families(first) == []
        warnings = [e for e in logs if e["log_level"] == "warning"]
        assert len(warnings) == 1 and "retired" in warnings[0]["event"] and warnings[0]["status"] == status
        assert running.sim.count(ORG_USAGE) == 1

        with capture_logs() as logs:
            clock.set(NOW + 24 * 3600)  # a day later it asks again; still gone, and still no second warning
            assert samples(await collector.collect(), retired) == {(("org", ORG),): 1}
        assert running.sim.count(ORG_USAGE) == 2
        assert not [e for e in logs if e["log_level"] == "warning"]

        running.sim.clear_faults()
        with capture_logs() as logs:
            clock.set(NOW + 48 * 3600)
            back = await collector.collect()
        assert samples(back, retired) == {(("org", ORG),): 0} and data_families(back)
        assert [e["event"] for e in logs if e["log_level"] == "info"] == ["Copilot usage summary answers again"]


async def test_retired_endpoint_is_a_successful_run(running: RunningSimulator) -> None:
    running.sim.fail_next(count=None, status=404, route=TEAM_USAGE)
    settings = settings_for(running, teams=[f"{ORG}/platform"])
    metrics = ExporterMetrics(CollectorRegistry())
    async with client_for(settings) as client:
        scheduler = CollectorScheduler(SnapshotStore(max_age=3600), metrics)
        scheduler.add(CopilotUsageCollector(client, settings, f"{ORG}/platform", clock=ManualClock(NOW)), 3600)
        assert await scheduler.run_once(("copilot_usage", f"{ORG}/platform")) is True
    assert metrics.collector_failures.labels("copilot_usage", f"{ORG}/platform")._value.get() == 0


async def test_other_errors_still_fail_the_run(running: RunningSimulator) -> None:
    running.sim.fail_next(status=403, route=ORG_USAGE)
    with pytest.raises(Exception, match="HTTP 403"):
        await collect(running)


async def test_languages_beyond_the_limit_sum_into_other(running: RunningSimulator) -> None:
    full = await collect(running)
    cut = await collect(running, max_label_values=1)
    suggestions = samples(cut, "github_copilot_code_suggestions")
    assert {dict(k)["language"] for k in suggestions} == {"python", "other"}
    assert {dict(k)["editor"] for k in suggestions} == {"vscode", "other"}
    assert sum(suggestions.values()) == sum(samples(full, "github_copilot_code_suggestions").values())
    active = samples(cut, "github_copilot_code_active_users")
    assert active and all(dict(k)["language"] != "other" and dict(k)["editor"] != "other" for k in active)


async def test_history_returns_every_listed_day(running: RunningSimulator) -> None:
    settings = settings_for(running)
    start = NOW - 40 * DAY
    async with client_for(settings) as client:
        history = await CopilotUsageCollector(client, settings, ORG, clock=ManualClock(NOW)).history(start, NOW)
    stamps = sorted({s.timestamp for s in history})
    assert len(stamps) == 28 and stamps[-1] == YESTERDAY + DAY
    assert all(b - a == DAY for a, b in itertools.pairwise(stamps))
    day = {s.timestamp: s.value for s in history if s.spec.name == "github_copilot_usage_day_timestamp_seconds"}
    assert all(at - value == DAY for at, value in day.items())
    async with client_for(settings) as client:
        collector = CopilotUsageCollector(client, settings, ORG, clock=ManualClock(NOW))
        recent = await collector.history(NOW - 2 * DAY, NOW)
    assert sorted({s.timestamp for s in recent}) == [YESTERDAY, YESTERDAY + DAY]


async def test_bad_credentials_are_a_failure_not_retirement(running: RunningSimulator) -> None:
    settings = settings_for(running)
    running.sim.fail_next(count=None, status=401, route=ORG_USAGE)
    async with client_for(settings) as client:
        with pytest.raises(APIError) as caught:
            await CopilotUsageCollector(client, settings, ORG, clock=ManualClock(NOW)).collect()
    assert caught.value.status == 401


def test_copilot_usage_is_off_by_default() -> None:
    assert Settings().collectors.copilot_usage.enabled is False


# -- drift -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", [ORG_USAGE, TEAM_USAGE])
def test_every_documented_field_is_mapped(route: str) -> None:
    from exporter.collectors.copilot_usage import DAY_FIELDS
    from tests.openapi import V18_GHEC, response_paths

    documented = response_paths(route, source=V18_GHEC)
    assert {p for p in documented if not DAY_FIELDS.knows(p)} == set()
    assert DAY_FIELDS.known - {"breakdown"} == documented  # breakdown: null, which the description allows


@pytest.mark.parametrize("target", [ORG, f"{ORG}/platform"])
async def test_an_added_and_a_renamed_field_show_within_one_run(running: RunningSimulator, target: str) -> None:
    from exporter.simulator import field_drift
    from tests.collectors.harness import drift_signals

    settings = settings_for(running, [f"{ORG}/platform"])
    (_, new), (added, _) = field_drift.SUMMARY_RENAMED, field_drift.SUMMARY_ADDED
    async with client_for(settings) as client:
        before = values(await CopilotUsageCollector(client, settings, target, clock=ManualClock(NOW)).collect())
        assert drift_signals(client) == {"unmapped": set(), "missing": set()}, "every field is known"
        field_drift.set_field_drift(running.sim, "copilot_usage", True)
        after = values(await CopilotUsageCollector(client, settings, target, clock=ManualClock(NOW)).collect())
        # old is documented but optional: only `day` is required, so the rename shows as the new name alone.
        assert drift_signals(client) == {"unmapped": {("copilot_usage", new), ("copilot_usage", added)},
                                         "missing": set()}
    gone = {k for k in before if k[0].endswith("usage_chat_turns")}
    assert len(gone) == 1 and not gone & set(after), "only the renamed total's series goes"
    assert {k: v for k, v in before.items() if k not in gone} == after, "every other figure is still right"
