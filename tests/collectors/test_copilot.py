"""The copilot collector (usage-metrics reports) against the simulator, and its parsing on odd files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from exporter.collectors.copilot import CopilotCollector, Tally
from exporter.drift import FieldDrift
from exporter.github.client import Response
from exporter.github.errors import MalformedResponseError
from exporter.github.streams import MAX_LINE_BYTES, BodyTooLargeError
from exporter.settings import ConfigError, Settings
from exporter.simulator import ManualClock, RunningSimulator
from exporter.simulator import copilot as model
from exporter.simulator.routing import parse_iso
from tests.collectors import harness
from tests.collectors.harness import DAY, ENTERPRISE, NOW, ORG, Golden, client_for, render, samples, values
from tests.tools import promtool_check_metrics

YESTERDAY = parse_iso("2024-09-17T00:00:00Z")
REPORTS = "/orgs/{org}/copilot/metrics/reports"
TEAMS = [f"{ORG}/platform", f"{ORG}/frontend", f"{ORG}/data"]
KEY = "test-hash-key-0123456789"


def settings_for(running: RunningSimulator | str, target_teams: Iterable[str] = (), **options: Any) -> Settings:
    """The org, `target_teams` and the enterprise as targets; `options` configure copilot (its own `teams` too)."""
    targets = {"orgs": [ORG], "teams": list(target_teams), "enterprises": [ENTERPRISE]}
    return harness.settings_for(running, targets=targets, collectors={"copilot": options})


async def collect(running: RunningSimulator, target: str = ORG, clock: ManualClock | None = None,
                  target_teams: list[str] = TEAMS, **options: Any) -> list[Metric]:
    settings = settings_for(running, target_teams, **options)
    async with client_for(settings) as client:
        return await CopilotCollector(client, settings, target, clock=clock or ManualClock(NOW)).collect()


def member_cells(running: RunningSimulator, slug: str, day: float = YESTERDAY) -> tuple[list, int]:
    """The simulator's own cells for a team's members on a day, and how many members were active."""
    team = next(t for t in model.scope_of(running.sim.world, "organization", ORG).teams if t.slug == slug)
    seed, number = running.sim.world.seed, int(day // DAY)
    per_user = [model.cells(seed, ORG, u.id, number) for u in team.members]
    return [c for cells in per_user for c in cells], sum(model.active_on(seed, ORG, u.id, number) for u in team.members)


# -- goldens and promtool ---------------------------------------------------------------------------

async def test_org_exposition_matches_golden(running: RunningSimulator, golden: Golden) -> None:
    golden("copilot_org.prom", render(await collect(running)))


async def test_enterprise_exposition_matches_golden(running: RunningSimulator, golden: Golden) -> None:
    families = await collect(running, f"enterprise:{ENTERPRISE}", teams="all", user_label="hashed",
                             user_hash_key=KEY, max_users=3)
    text = render(families)
    assert 'github_copilot_enterprise_team_active_users{enterprise="octo-enterprise",team="engineering",' in text
    assert "security-champions" not in text, "a team under 5 seats is not in the user-teams report"
    assert len(samples(families, "github_copilot_enterprise_user_interactions")) == 3
    golden("copilot_enterprise.prom", text)


async def test_promtool_check_metrics_is_clean(running: RunningSimulator) -> None:
    families = await collect(running, user_label="login")
    families += await collect(running, f"enterprise:{ENTERPRISE}", teams="all", user_label="id")
    text = render(families)
    assert "github_copilot_user_interactions{" in text and "github_copilot_enterprise_user_lines_added{" in text
    promtool_check_metrics(text)


# -- what is fetched, and when ----------------------------------------------------------------------

async def test_a_day_is_fetched_once_and_downloads_carry_no_credentials(running: RunningSimulator) -> None:
    settings = settings_for(running, TEAMS, user_label="id")
    clock = ManualClock(NOW)
    async with client_for(settings) as client:
        collector = CopilotCollector(client, settings, ORG, clock=clock)
        first = await collector.collect()
        counts = running.sim.request_counts()
        assert counts["routes"] == {f"{REPORTS}/organization-1-day": 1, f"{REPORTS}/user-teams-1-day": 1,
                                    f"{REPORTS}/users-1-day": 1, f"{REPORTS}/repos-1-day": 1}
        downloads = model.download_counts(running.sim)
        assert downloads.get("ok", 0) >= 4 and downloads.get("with_authorization", 0) == 0
        clock.advance(6 * 3600)  # later the same day: served from memory, nothing asked
        assert values(await collector.collect()) == values(first)
        assert running.sim.request_counts()["total"] == counts["total"]
        assert model.download_counts(running.sim) == downloads


async def test_day_not_ready_serves_the_previous_day_and_says_which(running: RunningSimulator) -> None:
    settings = settings_for(running, TEAMS)
    clock = ManualClock(parse_iso("2024-09-18T03:00:00Z"))  # the 17th is not processed until 06:00
    running.sim.set_clock(clock())
    day_gauge = "github_copilot_report_day_timestamp_seconds"
    async with client_for(settings) as client:
        collector = CopilotCollector(client, settings, ORG, clock=clock)
        older = await collector.collect()
        assert samples(older, day_gauge) == {(("org", ORG),): YESTERDAY - DAY}
        assert running.sim.request_counts()["route_statuses"][f"{REPORTS}/organization-1-day"] == {"204": 1, "200": 1}

        running.sim.set_clock(clock.set(parse_iso("2024-09-18T07:00:00Z")))
        newer = await collector.collect()
        assert samples(newer, day_gauge) == {(("org", ORG),): YESTERDAY}
        assert values(newer) != values(older)

        # Next day, before processing: one 204, and the 17th stays.
        running.sim.set_clock(clock.set(parse_iso("2024-09-19T03:00:00Z")))
        running.sim.reset_counters()
        kept = await collector.collect()
        assert values(kept) == values(newer)
        assert running.sim.request_counts()["route_statuses"] == {f"{REPORTS}/organization-1-day": {"204": 1}}


async def test_no_processed_day_yet_is_not_an_error(running: RunningSimulator) -> None:
    running.sim.set_clock(parse_iso("2024-09-18T03:00:00Z"))
    families = await collect(running, clock=ManualClock(parse_iso("2024-09-18T03:00:00Z")), lookback_days=1)
    assert families == []


async def test_a_failed_download_fails_the_run(running: RunningSimulator) -> None:
    running.sim.fail_next(status=500, route=model.DOWNLOAD_TEMPLATE)
    with pytest.raises(Exception, match="download failed: HTTP 500"):
        await collect(running)


# -- teams --------------------------------------------------------------------------------------------

async def test_team_figures_join_users_with_user_teams(running: RunningSimulator) -> None:
    families = await collect(running)
    for slug in ("platform", "frontend"):
        cells, active = member_cells(running, slug)
        team = next(t for t in model.scope_of(running.sim.world, "organization", ORG).teams if t.slug == slug)
        labels = (("org", ORG), ("team", slug), ("team_id", str(team.id)))
        assert samples(families, "github_copilot_team_code_generation_activities")[labels] == \
            sum(c.code_generation_activity_count for c in cells)
        assert samples(families, "github_copilot_team_lines_added")[labels] == sum(c.loc_added_sum for c in cells)
        assert samples(families, "github_copilot_team_active_users")[labels] == active
        by_editor = {
            dict(k)["editor"]: v
            for k, v in samples(families, "github_copilot_team_editor_interactions").items()
            if dict(k)["team"] == slug
        }
        assert sum(by_editor.values()) == sum(c.user_initiated_interaction_count for c in cells)
    teams = {dict(k)["team"] for k in samples(families, "github_copilot_team_active_users")}
    assert teams == {"platform", "frontend"}, "only targets.teams; data is under 5 seats, backend not listed"
    # A member of both teams counts in both: the two teams together exceed their distinct members' total.
    world = running.sim.world
    both = {u.id for u in model.scope_of(world, "organization", ORG).teams[0].members} & {
        u.id for u in model.scope_of(world, "organization", ORG).teams[1].members
    }
    assert both
    team_sum = sum(samples(families, "github_copilot_team_code_generation_activities").values())
    distinct = {u.id: u for t in model.scope_of(world, "organization", ORG).teams[:2] for u in t.members}
    distinct_total = sum(
        c.code_generation_activity_count
        for uid in distinct
        for c in model.cells(world.seed, ORG, uid, int(YESTERDAY // DAY))
    )
    assert team_sum > distinct_total


@pytest.mark.parametrize("mode, expected", [("all", {"platform", "frontend", "backend"}), ("none", set())])
async def test_team_modes(running: RunningSimulator, mode: str, expected: set[str]) -> None:
    families = await collect(running, teams=mode)
    assert {dict(k)["team"] for k in samples(families, "github_copilot_team_active_users")} == expected
    routes = running.sim.request_counts()["routes"]
    if mode == "none":  # neither teams nor users wanted: only the entity and repository reports are asked for
        assert set(routes) == {f"{REPORTS}/organization-1-day", f"{REPORTS}/repos-1-day"}


# -- per-user series ----------------------------------------------------------------------------------


async def test_user_label_none_exports_no_user_samples(running: RunningSimulator) -> None:
    families = await collect(running)
    assert not [f for f in families if f.name.startswith("github_copilot_user_")]


async def test_user_label_login_and_id(running: RunningSimulator) -> None:
    org = running.sim.world.org(ORG)
    active = {u for u in org.users if model.active_on(running.sim.world.seed, ORG, u.id, int(YESTERDAY // DAY))}
    by_login = {
        dict(k)["user"] for k in samples(await collect(running, user_label="login"), "github_copilot_user_interactions")
    }
    assert by_login == {u.login for u in active}
    by_id = {
        dict(k)["user"] for k in samples(await collect(running, user_label="id"), "github_copilot_user_interactions")
    }
    assert by_id == {str(u.id) for u in active}


async def test_user_label_hashed_is_stable_and_not_reversible(running: RunningSimulator) -> None:
    org = running.sim.world.org(ORG)

    async def labels(key: str) -> list[str]:
        families = await collect(running, user_label="hashed", user_hash_key=key)
        return sorted(dict(k)["user"] for k in samples(families, "github_copilot_user_code_generation_activities"))

    first, again, other = await labels(KEY), await labels(KEY), await labels(KEY + "x")
    assert first == again and len(first) > 5, "the same key gives the same labels on every run"
    assert all(len(h) == 16 and int(h, 16) >= 0 for h in first)
    assert not set(first) & set(other), "another key gives other labels"
    # Someone who knows every login and id, but not the key, cannot recompute a label.
    guesses = {hashlib.sha256(str(x).encode()).hexdigest()[:16] for u in org.users for x in (u.login, u.id)}
    guesses |= {str(x) for u in org.users for x in (u.login, u.id)}
    assert not set(first) & guesses


def test_user_label_hashed_needs_a_key() -> None:
    with pytest.raises(ConfigError, match="collectors.copilot: .*user_hash_key"):
        settings_for("http://127.0.0.1:1", user_label="hashed")


async def test_max_users_keeps_the_most_active(running: RunningSimulator) -> None:
    everyone = samples(await collect(running, user_label="id"), "github_copilot_user_interactions")
    top = samples(await collect(running, user_label="id", max_users=2), "github_copilot_user_interactions")
    assert len(top) == 2 and set(top) <= set(everyone)


# -- bounded labels -----------------------------------------------------------------------------------


async def test_languages_beyond_the_limit_sum_into_other(running: RunningSimulator) -> None:
    name = "github_copilot_language_code_generation_activities"
    full = samples(await collect(running, teams="none"), name)
    cut = samples(await collect(running, teams="none", max_label_values=2), name)
    assert len({dict(k)["language"] for k in full}) > 3
    assert {dict(k)["language"] for k in cut} <= ({dict(k)["language"] for k in full} | {"other"})
    assert len({dict(k)["language"] for k in cut}) == 3 and "other" in {dict(k)["language"] for k in cut}
    assert sum(cut.values()) == sum(full.values())


# -- history ------------------------------------------------------------------------------------------


async def test_history_gives_one_sample_per_day_at_the_end_of_the_day(running: RunningSimulator) -> None:
    settings = settings_for(running, TEAMS)
    start, end = parse_iso("2024-09-14T12:00:00Z"), NOW
    async with client_for(settings) as client:
        samples = await CopilotCollector(client, settings, ORG, clock=ManualClock(NOW)).history(start, end)
    stamps = sorted({s.timestamp for s in samples})
    assert stamps == [parse_iso(f"2024-09-{d}T00:00:00Z") for d in (15, 16, 17, 18)]
    day_gauge = {s.timestamp: s.value for s in samples if s.spec.name == "github_copilot_report_day_timestamp_seconds"}
    assert all(at - value == DAY for at, value in day_gauge.items())
    routes = running.sim.request_counts()["routes"]
    # The 28-day reports cover the entity figures and the users' rows; teams still need each day's user-teams.
    assert routes[f"{REPORTS}/organization-28-day/latest"] == routes[f"{REPORTS}/users-28-day/latest"] == 1
    assert f"{REPORTS}/organization-1-day" not in routes and f"{REPORTS}/users-1-day" not in routes
    assert routes[f"{REPORTS}/user-teams-1-day"] == 4
    live = await collect(running)
    on_17th = {
        (s.spec.name, tuple(sorted(zip(s.spec.labels, s.labels, strict=False)))): s.value
        for s in samples
        if s.timestamp == YESTERDAY + DAY
    }
    assert on_17th == values(live), "backfill writes what the live collector serves"


# -- parsing odd files (a fake GitHub) ---------------------------------------------------------------


class _Lines:
    def __init__(self, lines: list[str]) -> None:
        self._lines = lines

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        for line in self._lines:
            yield (line + "\n").encode()


class FakeGitHub:
    """Answers every report with one link whose file holds the given lines."""

    def __init__(self, files: dict[str, list[str]], report_day: str = "2024-09-17") -> None:
        self.files = files
        self.report_day = report_day
        self.downloaded: list[str] = []
        self.drift = FieldDrift(CollectorRegistry())

    async def get(self, route: str, *, params: dict[str, Any] | None = None, family: str = "", **path: Any) -> Response:
        report = route.rsplit("/reports/", 1)[1]
        return Response(200, {"download_links": [f"https://blob.test/{report}"], "report_day": self.report_day}, {})

    @asynccontextmanager
    async def download(self, url: str) -> AsyncIterator[_Lines]:
        self.downloaded.append(url)
        yield _Lines(self.files.get(url.rsplit("/", 1)[1], []))


async def collect_fake(
    files: dict[str, list[str]], target: str = ORG, report_day: str = "2024-09-17", **options: Any
) -> list[Metric]:
    settings = settings_for("http://127.0.0.1:1", TEAMS, **options)
    github = FakeGitHub(files, report_day)
    return await CopilotCollector(github, settings, target, clock=ManualClock(NOW)).collect()  # type: ignore[arg-type]


def lines(*records: dict[str, Any]) -> list[str]:
    return [json.dumps(r) for r in records]


async def test_teams_by_githubs_recipe_with_colliding_slugs_and_a_cli_only_member() -> None:
    """Rows shaped as "Team-level Copilot usage metrics" shows them: the enterprise user-teams report holds an
    enterprise team and an organisation (business) team that share the slug "platform"."""
    day, other_day = "2024-09-17", "2024-09-16"
    ent = {"enterprise_id": "13213"}
    user_teams = lines(
        {"user_id": 1001, "user_login": "alice", "day": day, **ent, "team_id": 42, "slug": "platform"},
        {"user_id": 1001, "user_login": "alice", "day": day, **ent, "team_id": 77, "slug": "platform"},
        {"user_id": 1002, "user_login": "bob", "day": day, **ent, "team_id": 42, "slug": "platform"},
        {"user_id": 1003, "user_login": "carol", "day": day, **ent, "team_id": 77, "slug": "platform"},
        # Another day's membership must not join with this day's activity.
        {"user_id": 1003, "user_login": "carol", "day": other_day, **ent, "team_id": 42, "slug": "platform"},
    )
    ide = {"user_initiated_interaction_count": 0, "code_acceptance_activity_count": 0, "loc_suggested_to_add_sum": 0,
           "loc_suggested_to_delete_sum": 0, "loc_added_sum": 0, "loc_deleted_sum": 0}
    users = lines(
        {"user_id": 1001, "user_login": "alice", "day": day, **ent, **ide, "code_generation_activity_count": 40,
         "used_chat": True, "used_agent": True, "used_cli": False},
        {"user_id": 1002, "user_login": "bob", "day": day, **ent, **ide, "code_generation_activity_count": 25,
         "used_chat": True, "used_agent": False, "used_cli": False,
         "ai_adoption_phase": {"phase": 1, "version": "v1"}},
        # CLI only: no IDE activity at all, yet a member with activity (GitHub counts any activity).
        {"user_id": 1003, "user_login": "carol", "day": day, **ent, **ide, "code_generation_activity_count": 0,
         "used_chat": False, "used_agent": False, "used_cli": True, "totals_by_ide": [],
         "totals_by_cli": {"session_count": 2, "request_count": 6, "prompt_count": 3,
                           "token_usage": {"output_tokens_sum": 5000, "prompt_tokens_sum": 3800,
                                           "avg_tokens_per_request": 1466.7}},
         "ai_adoption_phase": {"phase": 2, "version": "v1"}},
    )
    entity = lines({"day": day, **ent, "daily_active_users": 2, "daily_active_cli_users": 1})
    families = await collect_fake(
        {"enterprise-1-day": entity, "user-teams-1-day": user_teams, "users-1-day": users, "repos-1-day": []},
        f"enterprise:{ENTERPRISE}",
        teams="all",
    )
    prefix = "github_copilot_enterprise_team_"

    def team(team_id: int) -> tuple[tuple[str, str], ...]:
        return (("enterprise", ENTERPRISE), ("team", "platform"), ("team_id", str(team_id)))

    assert samples(families, prefix + "active_users") == {team(42): 2, team(77): 2}
    assert samples(families, prefix + "code_generation_activities") == {team(42): 65, team(77): 40}
    assert samples(families, prefix + "cli_sessions") == {team(77): 2}
    assert samples(families, prefix + "cli_output_tokens") == {team(77): 5000}
    surfaces = {(dict(k)["team_id"], dict(k)["surface"]): v for k, v in
                samples(families, prefix + "surface_active_users").items()}
    assert surfaces[("77", "cli")] == 1 and surfaces[("42", "cli")] == 0 and surfaces[("42", "chat")] == 2
    phases = {(dict(k)["team_id"], dict(k)["phase"]): v for k, v in
              samples(families, prefix + "adoption_phase_users").items()}
    assert phases == {("42", "unknown"): 1, ("42", "1"): 1, ("77", "unknown"): 1, ("77", "2"): 1}


async def test_the_day_github_names_is_the_day_exported() -> None:
    record = {"day": "2024-09-16", "code_generation_activity_count": 7}
    families = await collect_fake({"organization-1-day": lines(record), "repos-1-day": []}, report_day="2024-09-16",
                                  teams="none")
    assert samples(families, "github_copilot_report_day_timestamp_seconds") == {(("org", ORG),): YESTERDAY - DAY}
    assert samples(families, "github_copilot_code_generation_activities") == {(("org", ORG),): 7}


async def test_repositories_beyond_the_limit_sum_into_other_without_medians() -> None:
    def repo(name: str, created: int, minutes: float) -> dict[str, Any]:
        return {"day": "2024-09-17", "organization_id": "1", "repository_id": len(name), "repository": name,
                "pull_requests": {"total_created": created, "total_reviewed": 1, "total_merged": 1,
                                  "median_minutes_to_merge": minutes}}

    rows = lines(repo("o/a", 9, 10), repo("o/b", 5, 20), repo("o/c", 1, 30), repo("o/d", 0, 40))
    families = await collect_fake({"organization-1-day": [], "repos-1-day": rows}, teams="none", max_repositories=2)
    created = {dict(k)["repository"]: v
               for k, v in samples(families, "github_copilot_repository_pull_requests_created").items()}
    assert created == {"o/a": 9, "o/b": 5, "other": 1}
    medians = {dict(k)["repository"]: v for k, v in
               samples(families, "github_copilot_repository_pull_request_median_time_to_merge_seconds").items()}
    assert medians == {"o/a": 600, "o/b": 1200}, "minutes become seconds; a median of several repositories is not"


async def test_nulls_missing_and_odd_values_are_skipped() -> None:
    entity = {
        "day": "2024-09-17",
        "organization_id": "1",
        "daily_active_users": 3,
        "code_generation_activity_count": None,
        "code_acceptance_activity_count": "12",
        "loc_added_sum": True,
        "new_field_github_added": {"x": 1},
        "totals_by_ide": [
            {"ide": "vscode", "code_generation_activity_count": 5},
            {"ide": None, "code_generation_activity_count": 2},
            {"code_generation_activity_count": 1},
            "not an object",
        ],
        "totals_by_feature": None,
    }
    families = await collect_fake(
        {"organization-1-day": ["", json.dumps(entity), "  "], "user-teams-1-day": [], "users-1-day": []}
    )
    got = values(families)
    assert got[("github_copilot_daily_active_users", (("org", ORG),))] == 3
    names = {name for name, _ in got}
    assert "github_copilot_code_generation_activities" not in names  # null
    assert "github_copilot_code_acceptance_activities" not in names  # a string
    assert "github_copilot_lines_added" not in names  # a boolean
    assert samples(families, "github_copilot_editor_code_generation_activities") == {
        (("editor", "unknown"), ("org", ORG)): 3,
        (("editor", "vscode"), ("org", ORG)): 5,
    }


async def test_day_totals_shape_and_json_array_files_are_read() -> None:
    day = {"day": "2024-09-17", "code_generation_activity_count": 7}
    other_day = {"day": "2024-09-16", "code_generation_activity_count": 100}
    teams = [{"user_id": 1, "slug": "platform", "team_id": 9}, {"user_id": 2, "slug": "platform", "team_id": 9}]
    # Only users with activity have a row; a row with zero counters still counts as an active member.
    users = [
        {"user_id": 1, "user_login": "a", "day": "2024-09-17", "code_generation_activity_count": 3},
        {"user_id": 2, "user_login": "b", "day": "2024-09-17", "code_generation_activity_count": 0},
    ]
    families = await collect_fake(
        {
            "organization-1-day": [json.dumps({"day_totals": [other_day, day]})],
            "repos-1-day": [],
            "user-teams-1-day": [json.dumps(teams)],
            "users-1-day": [json.dumps(u) for u in users],
        }
    )
    assert samples(families, "github_copilot_code_generation_activities") == {(("org", ORG),): 7}
    team = (("org", ORG), ("team", "platform"), ("team_id", "9"))
    assert samples(families, "github_copilot_team_code_generation_activities") == {team: 3}
    assert samples(families, "github_copilot_team_active_users") == {team: 2}


async def test_a_line_that_is_not_json_fails_the_run() -> None:
    with pytest.raises(MalformedResponseError, match="not JSON"):
        await collect_fake(
            {
                "organization-1-day": [
                    '{"day": "2024-09-17"',
                ]
            }
        )


def test_tally_folding_keeps_sums_and_drops_merged_distinct_counts() -> None:
    tally = Tally()
    entries = [
        {"editor": e, "language": lang, "suggestions_count": n, "active_users": 1}
        for e, lang, n in [("vscode", "python", 10), ("vscode", "go", 5), ("vim", "python", 1), ("vim", "rust", 1)]
    ]
    tally.add_entries(entries, ("editor", "language"), ("suggestions_count", "active_users"))
    folded = tally.folded(1, weight=("suggestions_count",), non_additive=("active_users",))
    assert folded == {
        ("vscode", "python"): {"suggestions_count": 10, "active_users": 1},
        ("vscode", "other"): {"suggestions_count": 5},
        ("other", "python"): {"suggestions_count": 1},
        ("other", "other"): {"suggestions_count": 1},
    }


# -- the demo -----------------------------------------------------------------------------------------


async def test_demo_shows_both_parts_with_org_team_editor_language(running: RunningSimulator) -> None:
    from exporter.assembly import build_collectors, demo_settings
    from exporter.collectors import COLLECTORS
    from exporter.simulator.server import DemoSimulator

    targets = DemoSimulator(running.sim, None, running.url).targets()  # type: ignore[arg-type]
    settings = demo_settings(None, running.url, targets, {})
    labels: dict[str, set[str]] = {}
    async with client_for(settings) as client:
        collectors = [c for c in build_collectors(settings, client) if c.name in ("copilot", "copilot_usage")]
        assert {(c.name, c.target) for c in collectors} >= {
            ("copilot", ORG),
            ("copilot", f"enterprise:{ENTERPRISE}"),
            ("copilot_usage", ORG),
            ("copilot_usage", f"{ORG}/platform"),
        }
        for collector in collectors:
            collector._clock = ManualClock(NOW)  # the simulator's fixed day
            for family in await collector.collect():
                for sample in family.samples:
                    labels.setdefault(collector.name, set()).update(sample.labels)
    assert {"copilot", "copilot_usage"} <= set(COLLECTORS)
    assert labels["copilot_usage"] >= {"org", "team", "editor", "language"}
    assert labels["copilot"] >= {"org", "team", "editor", "language", "feature", "model", "enterprise"}


async def test_demo_exposes_every_copilot_and_seat_family(running: RunningSimulator) -> None:
    from exporter.assembly import build_collectors, demo_settings
    from exporter.metricspec import REGISTERED
    from exporter.simulator.server import DemoSimulator

    targets = DemoSimulator(running.sim, None, running.url).targets()  # type: ignore[arg-type]
    settings = demo_settings(None, running.url, targets, {})
    names: set[str] = set()
    async with client_for(settings) as client:
        for collector in build_collectors(settings, client):
            if collector.name in ("copilot", "copilot_seats"):
                collector._clock = ManualClock(NOW)
                names |= {family.name for family in await collector.collect()}
    # Per-user series are opt-in (user_label); they are in the goldens.
    expected = {
        s.name
        for s in REGISTERED
        if s.family in ("copilot", "copilot_seats") and "_user_" not in s.name
    }
    assert not expected - names, f"not in the demo: {sorted(expected - names)}"


async def test_a_line_over_the_cap_fails_the_run_without_being_kept() -> None:
    huge = '{"day": "2024-09-17", "padding": "' + "x" * (MAX_LINE_BYTES + 1) + '"}'
    with pytest.raises(BodyTooLargeError, match="line is longer"):
        await collect_fake({"organization-1-day": [huge]})
