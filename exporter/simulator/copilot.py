"""Copilot usage: the retired daily summaries and the usage-metrics reports, computed from one activity model.

The unit of truth is a user's activity on one UTC day: a few cells of (editor,
language, feature, model) with counts, derived by hashing the seed, the
organisation, the user and the day. Nothing is stored, a day's figures never
change once the day is over, and every endpoint adds up the same cells:

- the retired summaries (`GET /orgs/{org}/copilot/usage` and
  `/orgs/{org}/team/{team_slug}/copilot/usage`, v18.2.0 description) sum the
  code-completion cells by editor and language, and the chat cells into turns;
- the reports (`/orgs/{org}/copilot/metrics/reports/*` and
  `/enterprises/{enterprise}/copilot/metrics/reports/*`, v23 description)
  answer with signed links to NDJSON files holding per-user rows, user-team
  rows or the entity's day totals.

Time: a day is processed `SimulatorConfig.copilot_report_lag` seconds after it
ends (UTC midnight). Until then its 1-day reports answer 204 and the summaries
do not list it. Weekends are quiet, so some days have no activity at all.

Retirement: GitHub has switched the summaries off on github.com.
`SimulatorConfig.copilot_usage_retired` makes both answer 404 from the start;
at run time a status fault does the same (`sim.fail_next(count=None,
status=410, route="/orgs/{org}/copilot/usage")`). By default they answer, so
the demo shows both parts of the family.

Downloads: links point at another origin (127.0.0.1 and localhost swap; any
other host gets a `copilot-reports.` prefix), carry an expiry and a signature,
and, like a cloud blob store, refuse a request that also sends an
Authorization header (400). `download_counts(sim)` says what was fetched.

NDJSON record schema. The OpenAPI description defines the answers (links,
`report_day`), not the files, so the records follow GitHub's "Data available in
Copilot usage metrics", "Example schema" and "Team-level metrics" pages:

- users-1-day: one row per user with any activity (IDE, CLI, cloud agent, code
  review): `day`, `user_id`, `user_login`, `organization_id` or `enterprise_id`,
  the seven counters, `used_chat`, `used_agent`, `used_cli`,
  `used_copilot_cloud_agent`, `used_copilot_code_review_active` / `_passive`,
  `ai_adoption_phase` (`{"phase", "version": "v1"}`), the breakdown arrays below
  and, on days with CLI use, `totals_by_cli`. users-28-day/latest: the same rows
  for 28 days.
- user-teams-1-day: `user_id`, `user_login`, `day`, `organization_id` or
  `enterprise_id`, `team_id`, `slug`; teams with fewer than 5 seats left out.
  The enterprise report holds enterprise teams and the organisations' teams;
  the enterprise team "platform" shares its slug with an organisation team.
- organization-1-day / enterprise-1-day: the day's totals, which are the sums of
  the users' rows (counters, breakdowns, `totals_by_cli`) plus the IDE, CLI,
  code-review and cloud-agent active-user counts, `totals_by_ai_adoption_phase`
  (`ai_adoption_phase`, `total_engaged_users`) and `pull_requests`, the sums of
  the repos-1-day rows (medians over every merge that day).
- repos-1-day: one row per repository with pull-request activity: `day`,
  `organization_id` or `enterprise_id`, `repository_id`, `repository`
  ("owner/name", an ASSUMPTION: the field list is not published) and
  `pull_requests` (without `copilot_suggestions_by_comment_type`, which GitHub
  says is not available per repository).
- *-28-day/latest: one record with `day_totals` (one entry per day),
  `report_start_day` and `report_end_day`, as in the documented example.

Since August-October 2026 (tests/testdata/copilot-report-fields.json lists every field, with its sources):
entity and user records carry the chat panel mode counts, `totals_by_copilot_app`, `totals_by_vscode_agent`
(only when used, like `totals_by_cli`), `totals_by_3rd_party_agent` (`session_count` on aggregated records
only) and, with CLI use, the CLI customisation top-5 lists and distinct counts; users carry `used_copilot_app`,
`used_vscode_agent` and the last known IDE, plugin and CLI versions; repos-1-day rows carry
`pull_request_review_times` (median and p90 minutes per stage, human reviews only). Entity figures are the
sums of the user rows, except the distinct counts and the top-5 lists (of the summed items).

Drift: the shared switch, family "copilot" (`field_drift.set_field_drift(sim, "copilot", True)`, POST
/_sim/field-drift {"copilot": true}, or POST /_sim/copilot {"field_drift": true}), makes every report
file add a field nobody documents (DRIFT_ADDED) and rename a documented one (DRIFT_RENAMED), as GitHub
does now and then; the exporter should say so on /metrics. /_sim/reset turns it off.

Users: some never use Copilot (their seats stay inactive), some use only the CLI
and GitHub's agents, some lapse for weeks at a time.

Breakdown arrays: `totals_by_ide` (`ide`), `totals_by_feature` (`feature`),
`totals_by_language_feature` (`language`, `feature`), `totals_by_language_model`
(`language`, `model`) and `totals_by_model_feature` (`model`, `feature`), each
entry with the counters; language entries have no interaction count, and
model entries cover chat and agent features only (not completions).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import math
import statistics
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import Response

from exporter.simulator import field_drift
from exporter.simulator.routing import Call, GitHubError, Reply, SimRoute, SimulatorHost, parse_iso
from exporter.simulator.world import EDITORS, LANGUAGES, Org, User, World, stable_hash, unit

DAY = 86400
USAGE_DOCS = "https://docs.github.com/enterprise-cloud@latest/rest/copilot/copilot-usage"
REPORT_DOCS = "https://docs.github.com/enterprise-cloud@latest/rest/copilot/copilot-usage-metrics"
SUMMARY_DAYS = 28
TEAM_SEAT_MINIMUM = 5
USERS_PER_FILE = 5  # users reports are split over several files, as large ones are on GitHub
LINK_LIFETIME = 3600
DOWNLOAD_TEMPLATE = "/copilot-reports/{scope}/{name}/{report}/{day}/{part}.ndjson"

FEATURES = ("code_completion", "chat_inline", "chat_panel_ask_mode", "chat_panel_edit_mode",
            "chat_panel_agent_mode", "agent_edit")
CHAT_FEATURES = ("chat_inline", "chat_panel_ask_mode", "chat_panel_edit_mode")
MODELS = ("gpt-4.1", "claude-sonnet-4", "gpt-4o", "gemini-2.5-pro")
# Enterprise teams; "platform" shares its slug with an organisation team, as GitHub allows.
ENTERPRISE_TEAMS = (("engineering", 0.8), ("security-champions", 0.35), ("platform", 0.45))
COUNTERS = ("user_initiated_interaction_count", "code_generation_activity_count", "code_acceptance_activity_count",
            "loc_suggested_to_add_sum", "loc_suggested_to_delete_sum", "loc_added_sum", "loc_deleted_sum")


# -- the activity model ------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """One slice of a user's day; counters are named as in the report files."""

    ide: str
    language: str
    feature: str
    model: str | None
    user_initiated_interaction_count: int = 0
    code_generation_activity_count: int = 0
    code_acceptance_activity_count: int = 0
    loc_suggested_to_add_sum: int = 0
    loc_suggested_to_delete_sum: int = 0
    loc_added_sum: int = 0
    loc_deleted_sum: int = 0


@dataclass(frozen=True)
class Profile:
    """A user's habits, fixed for the life of the world."""

    editor: str
    second_editor: str | None
    languages: tuple[str, ...]
    level: float
    accept: float
    chat: float
    agent: float
    model: str
    dormant: bool  # holds a seat, never uses Copilot
    lapsing: bool  # uses Copilot in bursts: 20 days on, then 70 days off (seats inactive for weeks)
    lapse_offset: int
    cli_only: bool  # uses Copilot CLI (and GitHub's agents), never the IDE
    cli: float
    cloud_agent: float
    code_review: float


@dataclass(frozen=True)
class Team:
    id: int
    slug: str
    members: tuple[User, ...]

    @property
    def seated(self) -> bool:
        """GitHub leaves teams with fewer than 5 Copilot seats out of team figures."""
        return len(self.members) >= TEAM_SEAT_MINIMUM


@dataclass(frozen=True)
class Scope:
    """An organisation or the enterprise: whose users a report covers."""

    kind: str  # "organization" or "enterprise"
    name: str
    id: int
    users: tuple[tuple[str, User], ...]  # (org login, user)
    teams: tuple[Team, ...]
    repos: tuple[tuple[str, str], ...] = ()  # (org login, repository name)

    @property
    def id_field(self) -> str:
        return "organization_id" if self.kind == "organization" else "enterprise_id"


def _pick(u: float, options: Sequence[str]) -> str:
    """Earlier options are likelier (weights 1, 1/2, 1/3, ...)."""
    weights = [1.0 / (i + 1) ** 1.5 for i in range(len(options))]
    target, acc = u * sum(weights), 0.0
    for option, weight in zip(options, weights, strict=False):
        acc += weight
        if target < acc:
            return option
    return options[-1]


@functools.lru_cache(maxsize=4096)
def profile(seed: int, org: str, user_id: int) -> Profile:
    def u(*parts: object) -> float:
        return unit(seed, "copilot-profile", org, user_id, *parts)

    editor = _pick(u("editor"), EDITORS)
    second = _pick(u("second"), [e for e in EDITORS if e != editor]) if u("has-second") < 0.3 else None
    count = 1 + int(u("languages") * 3)
    languages = tuple(sorted(LANGUAGES, key=lambda lang: (LANGUAGES.index(lang) + 1) * (0.2 + u("lang", lang)))[:count])
    dormant = u("dormant") < 0.12
    cli_only = not dormant and u("cli-only") < 0.12
    return Profile(editor, second, languages, level=0.4 + 1.6 * u("level"), accept=0.22 + 0.16 * u("accept"),
                   chat=0.2 + 0.7 * u("chat"), agent=0.5 * u("agent"), model=_pick(u("model"), MODELS),
                   dormant=dormant, cli_only=cli_only, lapsing=not dormant and u("lapsing") < 0.15,
                   lapse_offset=int(90 * u("lapse-offset")),
                   cli=0.0 if dormant else 0.6 if cli_only else 0.3 if u("cli") > 0.7 else 0.0,
                   cloud_agent=0.0 if dormant or u("cloud") < 0.75 else 0.15,
                   code_review=0.0 if dormant or u("review") < 0.6 else 0.25 * u("review"))


def resting(p: Profile, day: int) -> bool:
    """Whether a lapsing user is in the quiet part of their 90-day cycle."""
    return p.lapsing and (day + p.lapse_offset) % 90 >= 20


def weekday(day: int) -> int:
    """Monday is 0; day 0 (1970-01-01) was a Thursday."""
    return (day + 3) % 7


@functools.lru_cache(maxsize=65536)
def cells(seed: int, org: str, user_id: int, day: int) -> tuple[Cell, ...]:
    """What one user did with Copilot on one day (empty when they did not use it)."""
    p = profile(seed, org, user_id)
    if p.dormant or p.cli_only or resting(p, day):
        return ()
    if unit(seed, "copilot-active", org, user_id, day) >= (0.82 if weekday(day) < 5 else 0.12):
        return ()

    def r(*parts: object) -> float:
        return unit(seed, "copilot-day", org, user_id, day, *parts)

    editors = [p.editor] + ([p.second_editor] if p.second_editor and r("second") < 0.4 else [])
    out: list[Cell] = []
    for i, language in enumerate(p.languages):
        shown = round(p.level / (i + 1) * (20 + 90 * r("shown", language)))
        if shown == 0:
            continue
        accepted = round(shown * p.accept * (0.8 + 0.4 * r("accepted", language)))
        out.append(Cell(editors[i % len(editors)], language, "code_completion", None,
                        code_generation_activity_count=shown, code_acceptance_activity_count=accepted,
                        loc_suggested_to_add_sum=round(shown * (1.2 + 0.9 * r("lines", language))),
                        loc_added_sum=round(accepted * (1.1 + 0.8 * r("kept", language)))))
    main_language = p.languages[0]
    model = p.model if r("usual-model") < 0.75 else _pick(r("model"), MODELS)
    if r("chat") < p.chat:
        turns = 1 + int(r("turns") * 12)
        generated = turns + int(r("blocks") * turns)
        accepted = round(generated * (0.25 + 0.3 * r("applied")))
        out.append(Cell(editors[0], main_language, _pick(r("mode"), CHAT_FEATURES), model,
                        user_initiated_interaction_count=turns, code_generation_activity_count=generated,
                        code_acceptance_activity_count=accepted, loc_suggested_to_add_sum=generated * 4,
                        loc_added_sum=accepted * 3))
    if r("agent") < p.agent:
        prompts = 1 + int(r("prompts") * 5)
        out.append(Cell(editors[0], main_language, "chat_panel_agent_mode", model,
                        user_initiated_interaction_count=prompts, code_generation_activity_count=2 * prompts,
                        code_acceptance_activity_count=prompts, loc_suggested_to_add_sum=12 * prompts,
                        loc_added_sum=6 * prompts))
        out.append(Cell(editors[0], main_language, "agent_edit", model,
                        loc_added_sum=20 + int(180 * r("agent-added")),
                        loc_deleted_sum=5 + int(60 * r("agent-deleted"))))
    return tuple(out)


Usage = tuple[int, int, int, int, int]  # sessions, requests, prompts, prompt tokens, output tokens
# Partner agent apps (totals_by_3rd_party_agent): stable agent_id, changeable agent_name.
PARTNER_AGENTS = (("anthropic-claude", "Claude"), ("openai-codex", "Codex"), ("google-jules", "Jules"))
# CLI customisation: six items of each kind, so GitHub's top 5 leaves one out.
CUSTOMIZATIONS: dict[str, tuple[str, ...]] = {
    "skill": ("test-writer", "changelog", "security-review", "docs", "pdf", "k8s-deploy"),
    "custom_agent": ("planner", "reviewer", "migrator", "release-captain", "triager", "docs-writer"),
    "mcp": ("github", "playwright", "sentry", "postgres", "linear", "azure"),
    "slash_cmd": ("/plan", "/review", "/model", "/compact", "/diff", "/usage"),
    "plugin": ("azure-skills", "terraform", "jira", "datadog", "snyk", "figma"),
}
TOP_ITEMS = 5
CHAT_MODE_FIELDS = {"chat_panel_agent_mode": "chat_panel_agent_mode", "chat_panel_ask_mode": "chat_panel_ask_mode",
                    "chat_panel_edit_mode": "chat_panel_edit_mode", "chat_panel_custom_mode": None,
                    "chat_panel_plan_mode": None, "chat_panel_unknown_mode": None}  # field -> feature of the cells


@dataclass(frozen=True)
class Extras:
    """A user's day beyond the IDE: Copilot CLI, the cloud agent and code review."""

    cli: Usage | None = None
    cloud_agent: bool = False
    review_active: bool = False
    review_passive: bool = False
    app: Usage | None = None  # the Copilot app
    vscode_agent: Usage | None = None  # the VS Code agents window
    partners: tuple[tuple[str, str, int, int], ...] = ()  # (agent_id, agent_name, interactions, sessions)
    customizations: tuple[tuple[str, str, int], ...] = ()  # (kind, item, interactions), with CLI use only

    @property
    def any(self) -> bool:
        return (self.cli is not None or self.cloud_agent or self.review_active or self.review_passive
                or self.app is not None or self.vscode_agent is not None or bool(self.partners))


@functools.lru_cache(maxsize=65536)
def extras(seed: int, org: str, user_id: int, day: int) -> Extras:
    p = profile(seed, org, user_id)
    if resting(p, day):
        return Extras()
    busy = 1.0 if weekday(day) < 5 else 0.15

    def r(*parts: object) -> float:
        return unit(seed, "copilot-extra", org, user_id, day, *parts)

    cli = None
    if r("cli") < p.cli * busy:
        sessions = 1 + int(r("sessions") * 4)
        prompts = sessions * (2 + int(r("prompts") * 6))
        requests = prompts * (1 + int(r("requests") * 3))
        cli = (sessions, requests, prompts, requests * (1500 + int(r("in") * 3000)),
               requests * (300 + int(r("out") * 900)))
    active = r("review") < p.code_review * busy

    def usage(surface: str, chance: float) -> Usage | None:
        if p.dormant or r(surface) >= chance * busy:
            return None
        sessions = 1 + int(r(surface, "sessions") * 3)
        prompts = sessions * (1 + int(r(surface, "prompts") * 5))
        requests = prompts * (1 + int(r(surface, "requests") * 3))
        return (sessions, requests, prompts, requests * (1200 + int(r(surface, "in") * 2500)),
                requests * (250 + int(r(surface, "out") * 700)))

    partners = tuple(
        (agent_id, name, 1 + int(r("partner-prompts", agent_id) * 8), 1 + int(r("partner-sessions", agent_id) * 2))
        for i, (agent_id, name) in enumerate(PARTNER_AGENTS)
        if not p.dormant and r("partner", agent_id) < 0.25 * busy / (i + 1)
    )
    customizations = tuple(
        (kind, _pick(r("custom", kind, n), items), 1 + int(r("custom-count", kind, n) * 6))
        for kind, items in CUSTOMIZATIONS.items()
        for n in range(int(r("custom-items", kind) * 3))
    ) if cli is not None else ()
    return Extras(cli, r("cloud") < p.cloud_agent * busy, active, not active and r("passive") < 0.6 * p.code_review,
                  usage("app", 0.2), usage("vscode-agent", 0.3 * p.agent + 0.05), partners, customizations)


def active_on(seed: int, org: str, user_id: int, day: int) -> bool:
    """Whether the user has a row in that day's users report (any Copilot activity)."""
    return bool(cells(seed, org, user_id, day)) or extras(seed, org, user_id, day).any


@functools.lru_cache(maxsize=65536)
def phase_object(phase: int) -> dict[str, Any]:
    """A user row's `ai_adoption_phase` as GitHub's example schema spells it (read 2026-12-06)."""
    return {"phase": f"Phase {phase}", "phase_number": phase, "version": "v1"}


def adoption_phase(seed: int, org: str, user_id: int, day: int) -> int:
    """Version 1: surfaces used on at least two of the 28 days ending on `day`; 1 IDE, 2 one agent, 3 several."""
    days = range(day - 27, day + 1)
    ide = sum(1 for d in days if cells(seed, org, user_id, d)) >= 2
    agents = 0
    for test in (lambda e: e.cli is not None, lambda e: e.cloud_agent, lambda e: e.review_active):
        agents += sum(1 for d in days if test(extras(seed, org, user_id, d))) >= 2
    return 3 if agents >= 2 else 2 if agents == 1 else 1 if ide else 0


# -- pull requests, per repository --------------------------------------------------------------

COMMENT_TYPES = ("bug_risk", "security", "performance", "maintainability", "readability")
# repos-1-day pull_request_review_times stages (ASSUMPTION: names not published) and their typical minutes.
REVIEW_STAGES = {"first_review": 240.0, "approval": 600.0, "merge_after_approval": 90.0}


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile by linear interpolation between closest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 1)


def review_times(item: dict[str, Any]) -> list[dict[str, Any]]:
    """A repository day's `pull_request_review_times`: median and p90 minutes per stage with human reviews."""
    return [
        {"stage": stage, "median_minutes": quantile(times, 0.5), "p90_minutes": quantile(times, 0.9)}
        for stage, times in item["_review"].items()
        if times
    ]


@functools.lru_cache(maxsize=16384)
def repo_day(seed: int, org: str, repo: str, day: int) -> dict[str, Any]:
    """One repository's pull-request activity on one day, with the merge times behind the medians (minutes)."""
    def r(*parts: object) -> float:
        return unit(seed, "copilot-prs", org, repo, day, *parts)

    busy = 1.0 if weekday(day) < 5 else 0.1
    created = int(9 * busy * r("created"))
    by_copilot = int(created * 0.4 * r("by-copilot"))
    reviewed = int(10 * busy * r("reviewed"))
    reviewed_by_copilot = int(reviewed * 0.6 * r("reviewed-by-copilot"))
    human_reviewed = reviewed - reviewed_by_copilot
    merged = int(created * (0.5 + 0.5 * r("merged")))
    merged_by_copilot = min(by_copilot, merged)
    merged_reviewed = min(reviewed_by_copilot, merged)
    minutes = [round(20 + 3000 * r("minutes", i) ** 2, 1) for i in range(merged)]
    copilot_suggestions = reviewed_by_copilot * (1 + int(r("copilot-suggestions") * 5))
    copilot_applied = int(copilot_suggestions * (0.2 + 0.4 * r("copilot-applied")))
    suggestions = copilot_suggestions + reviewed * int(r("suggestions") * 3)
    by_type: dict[str, list[int]] = {}
    for i in range(copilot_suggestions):
        kind = by_type.setdefault(_pick(r("type", i), COMMENT_TYPES), [0, 0])
        kind[0] += 1
        kind[1] += i < copilot_applied
    return {
        "total_created": created,
        "total_reviewed": reviewed,
        "total_merged": merged,
        "total_suggestions": suggestions,
        "total_applied_suggestions": copilot_applied + int((suggestions - copilot_suggestions) * 0.3),
        "total_created_by_copilot": by_copilot,
        "total_reviewed_by_copilot": reviewed_by_copilot,
        "total_merged_created_by_copilot": merged_by_copilot,
        "total_merged_reviewed_by_copilot": merged_reviewed,
        "total_copilot_suggestions": copilot_suggestions,
        "total_copilot_applied_suggestions": copilot_applied,
        "_minutes": (minutes, minutes[:merged_by_copilot], minutes[merged - merged_reviewed :]),
        # Human reviews only: minutes each pull request reviewed by a person spent in each review stage.
        "_review": {
            stage: [round(scale * (0.2 + 3 * r("review", stage, i) ** 3), 1) for i in range(human_reviewed)]
            for stage, scale in REVIEW_STAGES.items()
        },
        "_by_type": by_type,
    }


def pull_requests(items: Sequence[dict[str, Any]], by_type: bool) -> dict[str, Any]:
    """The `pull_requests` object of a report row from repository days (sums; medians over every merge)."""
    out: dict[str, Any] = {k: sum(i[k] for i in items) for k in PR_SUMS}
    for position, name in enumerate(("median_minutes_to_merge", "median_minutes_to_merge_copilot_authored",
                                     "median_minutes_to_merge_copilot_reviewed")):
        pooled = [m for i in items for m in i["_minutes"][position]]
        if pooled:
            out[name] = statistics.median(pooled)
    if by_type:
        types: dict[str, list[int]] = {}
        for i in items:
            for kind, (made, applied) in i["_by_type"].items():
                total = types.setdefault(kind, [0, 0])
                total[0] += made
                total[1] += applied
        out["copilot_suggestions_by_comment_type"] = [
            {"comment_type": kind, "total_copilot_suggestions": made, "total_copilot_applied_suggestions": applied}
            for kind, (made, applied) in sorted(types.items())
        ]
    return out


PR_SUMS = ("total_created", "total_reviewed", "total_merged", "total_suggestions", "total_applied_suggestions",
           "total_created_by_copilot", "total_reviewed_by_copilot", "total_merged_created_by_copilot",
           "total_merged_reviewed_by_copilot", "total_copilot_suggestions", "total_copilot_applied_suggestions")


def repo_rows(world: World, scope: Scope, day: int) -> list[dict[str, Any]]:
    """The repos-1-day report: one row per repository with pull-request activity that day."""
    rows = []
    for org_login, repo in scope.repos:
        item = repo_day(world.seed, org_login, repo, day)
        if item["total_created"] or item["total_reviewed"] or item["total_merged"]:
            rows.append({
                "day": day_text(day),
                scope.id_field: str(scope.id),
                "repository_id": 1 + stable_hash(world.seed, "repo-id", org_login, repo) % 999_999_999,
                "repository": f"{org_login}/{repo}",
                "pull_requests": pull_requests([item], by_type=False),
            })
            if times := review_times(item):
                rows[-1]["pull_request_review_times"] = times
    return rows


def _org_teams(world: World, org: Org) -> tuple[Team, ...]:
    """Everyone is in one team by rotation; later teams recruit fewer extra members, so one may be under 5 seats."""
    teams = []
    for index, slug in enumerate(org.teams):
        share = max(0.05, 0.55 - 0.15 * index)
        members = tuple(
            u
            for i, u in enumerate(org.users)
            if i % len(org.teams) == index or unit(world.seed, "copilot-team", org.login, slug, u.id) < share
        )
        teams.append(Team(team_id(world.seed, org.login, slug), slug, members))
    return tuple(teams)


def team_id(seed: int, owner: str, slug: str) -> int:
    return 1_000_000 + stable_hash(seed, "copilot-team-id", owner.lower(), slug) % 8_999_999


@functools.lru_cache(maxsize=64)
def scopes(world: World) -> dict[tuple[str, str], Scope]:
    """Every organisation and the enterprise, keyed by (kind, lower-case name)."""
    out: dict[tuple[str, str], Scope] = {}
    everyone: list[tuple[str, User]] = []
    business_teams: list[Team] = []
    repos: list[tuple[str, str]] = []
    for org in world.orgs.values():
        users = tuple((org.login, u) for u in org.users)
        everyone.extend(users)
        org_teams = _org_teams(world, org)
        business_teams.extend(org_teams)
        org_repos = tuple((org.login, r) for r in org.repos)
        repos.extend(org_repos)
        out[("organization", org.login.lower())] = Scope(
            "organization", org.login, org.id, users, org_teams, org_repos
        )
    teams = tuple(
        Team(
            team_id(world.seed, world.enterprise, slug),
            slug,
            tuple(u for o, u in everyone if unit(world.seed, "copilot-team", world.enterprise, slug, u.id) < share),
        )
        for slug, share in ENTERPRISE_TEAMS
    )
    # The enterprise user-teams report holds enterprise teams and the organisations' (business) teams.
    out[("enterprise", world.enterprise.lower())] = Scope(
        "enterprise", world.enterprise, world.enterprise_id, tuple(everyone), teams + tuple(business_teams),
        tuple(repos),
    )
    return out


def scope_of(world: World, kind: str, name: str) -> Scope | None:
    return scopes(world).get((kind, name.lower()))


# -- aggregation --------------------------------------------------------------------------------


def _sum(items: Iterable[Cell], names: Sequence[str] = COUNTERS) -> dict[str, int]:
    totals = dict.fromkeys(names, 0)
    for cell in items:
        for name in names:
            totals[name] += getattr(cell, name)
    return totals


def _group(items: Sequence[Cell], keys: Sequence[str], names: Sequence[str]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, ...], list[Cell]] = {}
    for cell in items:
        groups.setdefault(tuple(getattr(cell, k) for k in keys), []).append(cell)
    return [{**dict(zip(keys, key, strict=False)), **_sum(group, names)} for key, group in sorted(groups.items())]


_NO_INTERACTIONS = tuple(n for n in COUNTERS if n != "user_initiated_interaction_count")


def breakdowns(items: Sequence[Cell]) -> dict[str, list[dict[str, Any]]]:
    with_model = [c for c in items if c.model is not None]
    return {
        "totals_by_ide": _group(items, ("ide",), COUNTERS),
        "totals_by_feature": _group(items, ("feature",), COUNTERS),
        "totals_by_language_feature": _group(items, ("language", "feature"), _NO_INTERACTIONS),
        "totals_by_language_model": _group(with_model, ("language", "model"), _NO_INTERACTIONS),
        "totals_by_model_feature": _group(with_model, ("model", "feature"), COUNTERS),
    }


def day_text(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=day)).isoformat()


def day_number(text: str) -> int:
    return (date.fromisoformat(text) - date(1970, 1, 1)).days


def user_rows(world: World, scope: Scope, day: int) -> list[dict[str, Any]]:
    """The users-1-day report: one row per user with any activity that day (IDE, CLI, agents), by user id."""
    rows = []
    for org, user in sorted(scope.users, key=lambda pair: pair[1].id):
        if not active_on(world.seed, org, user.id, day):
            continue
        items = cells(world.seed, org, user.id, day)
        extra = extras(world.seed, org, user.id, day)
        row: dict[str, Any] = {
            "day": day_text(day),
            "user_id": user.id,
            "user_login": user.login,
            scope.id_field: str(scope.id),
            **_sum(items),
            "used_chat": any(c.feature in CHAT_FEATURES for c in items),
            "used_agent": any(c.feature == "chat_panel_agent_mode" for c in items),
            "used_cli": extra.cli is not None,
            "used_copilot_app": extra.app is not None,
            "used_vscode_agent": extra.vscode_agent is not None,
            "used_copilot_cloud_agent": extra.cloud_agent,
            "used_copilot_coding_agent": extra.cloud_agent,  # the former name, still in go-github's struct
            "used_copilot_code_review_active": extra.review_active,
            "used_copilot_code_review_passive": extra.review_passive,
            "ai_adoption_phase": phase_object(adoption_phase(world.seed, org, user.id, day)),
            # Premium requests: chat and agent prompts, and CLI requests, at half a credit each.
            "ai_credits_used": 0.5 * (sum(c.user_initiated_interaction_count for c in items)
                                      + (extra.cli[1] if extra.cli else 0)),
            **breakdowns(items),
            **chat_modes(items),
            **surface_totals([extra]),
            **partner_totals([extra], sessions=False),
            **customization_totals([extra]),
        }
        versions(world.seed, user.id, day, row)
        rows.append(row)
    return rows


def versions(seed: int, user_id: int, day: int, row: dict[str, Any]) -> None:
    """The last IDE, plugin and CLI versions seen for the user, on a users-report row (in place)."""
    minor = stable_hash(seed, "copilot-versions", user_id) % 5
    sampled = f"{day_text(day)}T{9 + minor:02d}:1{minor}:00Z"
    for entry in row["totals_by_ide"]:
        entry["last_known_ide_version"] = {"ide_version": f"1.10{minor}.0", "sampled_at": sampled}
        entry["last_known_plugin_version"] = {"plugin": "copilot-chat", "plugin_version": f"0.3{minor}.2",
                                              "sampled_at": sampled}
    if "totals_by_cli" in row:
        row["totals_by_cli"]["last_known_cli_version"] = {"cli_version": f"1.0.{minor}", "sampled_at": sampled}


def chat_modes(items: Iterable[Cell]) -> dict[str, int]:
    """The chat panel interaction counts by mode (custom, plan and unknown never happen here)."""
    cells_ = list(items)
    return {name: sum(c.user_initiated_interaction_count for c in cells_ if feature and c.feature == feature)
            for name, feature in CHAT_MODE_FIELDS.items()}


def surface_totals(days: Sequence[Extras]) -> dict[str, Any]:
    """`totals_by_cli`, `totals_by_copilot_app`, `totals_by_vscode_agent`: each only when someone used it."""
    out: dict[str, Any] = {}
    for name, attribute in (("totals_by_cli", "cli"), ("totals_by_copilot_app", "app"),
                            ("totals_by_vscode_agent", "vscode_agent")):
        usage: list[Usage] = [u for e in days if (u := getattr(e, attribute)) is not None]
        if usage:  # "Omitted ... with no CLI usage on that day"
            out[name] = cli_totals(usage)
    return out


def partner_totals(days: Sequence[Extras], sessions: bool) -> dict[str, Any]:
    """`totals_by_3rd_party_agent`, the sum over users; session_count in aggregated reports only."""
    sums: dict[tuple[str, str], list[int]] = {}
    for e in days:
        for agent_id, name, prompts, count in e.partners:
            total = sums.setdefault((agent_id, name), [0, 0])
            total[0] += prompts
            total[1] += count
    if not sums:
        return {}
    return {"totals_by_3rd_party_agent": [
        {"agent_id": agent_id, "agent_name": name, "user_initiated_interaction_count": prompts,
         **({"session_count": count} if sessions else {})}
        for (agent_id, name), (prompts, count) in sorted(sums.items())
    ]}


def customization_totals(days: Sequence[Extras]) -> dict[str, Any]:
    """`totals_by_<kind>` (the top 5 items by interactions) and `distinct_<kind>_use_count`, for CLI users."""
    if not any(e.cli is not None for e in days):
        return {}
    out: dict[str, Any] = {}
    for kind in CUSTOMIZATIONS:
        counts: Counter[str] = Counter()
        for e in days:
            for k, item, n in e.customizations:
                if k == kind:
                    counts[item] += n
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_ITEMS]
        out[f"totals_by_{kind}"] = [{"name": item, "interaction_count": n} for item, n in top]
        out[f"distinct_{kind}_use_count"] = len(counts)
    return out


def cli_totals(usage: Sequence[Usage]) -> dict[str, Any]:
    """A `totals_by_cli` (or app, agents window) object from (sessions, requests, prompts, tokens) tuples."""
    sessions, requests, prompts, prompt_tokens, output_tokens = (sum(u[i] for u in usage) for i in range(5))
    return {
        "session_count": sessions,
        "request_count": requests,
        "prompt_count": prompts,
        "token_usage": {
            "prompt_tokens_sum": prompt_tokens,
            "output_tokens_sum": output_tokens,
            "avg_tokens_per_request": round((prompt_tokens + output_tokens) / requests, 1) if requests else 0.0,
        },
    }


def user_team_rows(scope: Scope, day: int) -> list[dict[str, Any]]:
    """The user-teams-1-day report: one row per (user, team) pair of teams with at least 5 seats."""
    return [
        {
            "user_id": u.id,
            "user_login": u.login,
            "day": day_text(day),
            scope.id_field: str(scope.id),
            "team_id": team.id,
            "slug": team.slug,
        }
        for team in scope.teams
        if team.seated
        for u in team.members
    ]


def _active_users(world: World, scope: Scope, days: range, test: Callable[[Cell], bool]) -> int:
    return sum(1 for org, u in scope.users if any(test(c) for d in days for c in cells(world.seed, org, u.id, d)))


def _extra_users(world: World, scope: Scope, days: range, test: Callable[[Extras], bool],
                 unless: Callable[[Extras], bool] | None = None) -> int:
    """Users for whom `test` held on a day of `days` (and, with `unless`, it held on none of them)."""
    def holds(org: str, uid: int, check: Callable[[Extras], bool]) -> bool:
        return any(check(extras(world.seed, org, uid, d)) for d in days)

    return sum(
        1 for org, u in scope.users if holds(org, u.id, test) and not (unless and holds(org, u.id, unless))
    )


def day_totals(world: World, scope: Scope, day: int) -> dict[str, Any]:
    """The organization-1-day / enterprise-1-day record: the entity's totals, the sums of its users' rows."""
    items = [c for org, u in scope.users for c in cells(world.seed, org, u.id, day)]
    days = [extras(world.seed, org, u.id, day) for org, u in scope.users]
    usage = [e.cli for e in days if e.cli is not None]
    month = range(day - 27, day + 1)
    windows = {"daily": range(day, day + 1), "weekly": range(day - 6, day + 1), "monthly": month}
    record: dict[str, Any] = {
        "day": day_text(day),
        scope.id_field: str(scope.id),
        "daily_active_users": _active_users(world, scope, windows["daily"], lambda c: True),
        "weekly_active_users": _active_users(world, scope, windows["weekly"], lambda c: True),
        "monthly_active_users": _active_users(world, scope, month, lambda c: True),
        "monthly_active_chat_users": _active_users(world, scope, month, lambda c: c.feature in CHAT_FEATURES),
        "monthly_active_agent_users": _active_users(
            world, scope, month, lambda c: c.feature == "chat_panel_agent_mode"
        ),
        **_sum(items),
        **breakdowns(items),
        **chat_modes(items),
        **surface_totals(days),
        **partner_totals(days, sessions=True),
        **customization_totals(days),
    }
    if any(e.app is not None for e in days):
        record["daily_active_copilot_app_users"] = sum(e.app is not None for e in days)
    if any(e.vscode_agent is not None for e in days):
        record["daily_active_vscode_agent_users"] = sum(e.vscode_agent is not None for e in days)
    for window, span in windows.items():
        record[f"{window}_active_copilot_code_review_users"] = _extra_users(
            world, scope, span, lambda e: e.review_active
        )
        record[f"{window}_passive_copilot_code_review_users"] = _extra_users(
            world, scope, span, lambda e: e.review_passive, unless=lambda e: e.review_active
        )
        record[f"{window}_active_copilot_cloud_agent_users"] = _extra_users(world, scope, span, lambda e: e.cloud_agent)
    if usage:  # "Omitted ... with no CLI usage on that day"
        record["daily_active_cli_users"] = len(usage)
    phases: Counter[int] = Counter(
        adoption_phase(world.seed, org, u.id, day)
        for org, u in scope.users
        if any(active_on(world.seed, org, u.id, d) for d in month)
    )
    record["totals_by_ai_adoption_phase"] = [
        {"ai_adoption_phase": {"phase": phase, "version": "v1"}, "total_engaged_users": count}
        for phase, count in sorted(phases.items())
    ]
    record["pull_requests"] = pull_requests(
        [repo_day(world.seed, org, repo, day) for org, repo in scope.repos], by_type=True
    )
    return record


def summary(world: World, org: Org, members: Sequence[User], day: int) -> dict[str, Any]:
    """One day of the retired usage summary for `members`, shaped as the v18.2.0 description says."""
    per_user = {u.id: cells(world.seed, org.login, u.id, day) for u in members}
    completions = [(uid, c) for uid, items in per_user.items() for c in items if c.feature == "code_completion"]
    chats = [
        (uid, c)
        for uid, items in per_user.items()
        for c in items
        if c.feature in CHAT_FEATURES or c.feature == "chat_panel_agent_mode"
    ]
    groups: dict[tuple[str, str], list[tuple[int, Cell]]] = {}
    for uid, c in completions:
        groups.setdefault((c.language, c.ide), []).append((uid, c))
    breakdown = [
        {
            "language": language,
            "editor": editor,
            "suggestions_count": sum(c.code_generation_activity_count for _, c in group),
            "acceptances_count": sum(c.code_acceptance_activity_count for _, c in group),
            "lines_suggested": sum(c.loc_suggested_to_add_sum for _, c in group),
            "lines_accepted": sum(c.loc_added_sum for _, c in group),
            "active_users": len({uid for uid, _ in group}),
        }
        for (language, editor), group in sorted(groups.items())
    ]
    return {
        "day": day_text(day),
        "total_suggestions_count": sum(c.code_generation_activity_count for _, c in completions),
        "total_acceptances_count": sum(c.code_acceptance_activity_count for _, c in completions),
        "total_lines_suggested": sum(c.loc_suggested_to_add_sum for _, c in completions),
        "total_lines_accepted": sum(c.loc_added_sum for _, c in completions),
        "total_active_users": len({uid for uid, _ in completions}),
        "total_chat_acceptances": sum(c.code_acceptance_activity_count for _, c in chats),
        "total_chat_turns": sum(c.user_initiated_interaction_count for _, c in chats),
        "total_active_chat_users": len({uid for uid, _ in chats}),
        # The description allows null: GitHub sends it for a day without completions.
        "breakdown": breakdown or None,
    }


def last_ready_day(now: float, lag: float) -> int:
    """The newest day whose data is processed: it ended at least `lag` seconds ago."""
    return math.floor((now - lag) / DAY) - 1


# -- the retired summaries ------------------------------------------------------------------------


def _org(call: Call) -> Org:
    org = call.sim.world.org(call.path_params["org"])
    if org is None:
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    return org


def _retired(call: Call) -> None:
    if call.sim.config.copilot_usage_retired:
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)


def _summary_days(call: Call) -> range:
    newest = last_ready_day(call.now, call.sim.config.copilot_report_lag)
    first, last = newest - SUMMARY_DAYS + 1, newest
    for name in ("since", "until"):
        text = call.query.get(name)
        if text is None:
            continue
        try:
            stamp = parse_iso(text)
        except ValueError as exc:
            raise call.invalid(f"Invalid value for {name}: {exc}.") from None
        if name == "since":
            first = max(first, math.ceil(stamp / DAY))
        else:
            last = min(last, math.floor(stamp / DAY))
    return range(first, last + 1)


def usage_for_org(call: Call) -> list[dict[str, Any]]:
    org = _org(call)
    _retired(call)
    return [summary(call.sim.world, org, org.users, day) for day in _summary_days(call)]


def usage_for_team(call: Call) -> list[dict[str, Any]]:
    org = _org(call)
    _retired(call)
    team = next(
        (
            t
            for t in scopes(call.sim.world)[("organization", org.login.lower())].teams
            if t.slug == call.path_params["team_slug"]
        ),
        None,
    )
    if team is None:
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    if not team.seated:
        return []  # "only returns results for a given day if the team had five or more members"
    return [summary(call.sim.world, org, team.members, day) for day in _summary_days(call)]


# -- the reports ------------------------------------------------------------------------------------


def _scope(call: Call, kind: str) -> Scope:
    name = call.path_params["org" if kind == "organization" else "enterprise"]
    scope = scope_of(call.sim.world, kind, name)
    if scope is None:
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    return scope


def _requested_day(call: Call) -> int:
    text = call.query.get("day")
    if not text:
        raise call.invalid("day is required.")
    try:
        return day_number(text)
    except ValueError:
        raise call.invalid(f"Invalid value for day: {text!r} is not a date in the format YYYY-MM-DD.") from None


def _signing_key(world: World) -> bytes:
    return hashlib.sha256(f"copilot-downloads:{world.seed}".encode()).digest()


def _signature(world: World, path: str, expires: int) -> str:
    return hmac.new(_signing_key(world), f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()[:40]


def download_origin(base_url: str) -> str:
    """Another origin than the API's, still answered by this server."""
    parts = urlsplit(base_url)
    host = parts.hostname or "localhost"
    other = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(host, f"copilot-reports.{host}")
    netloc = f"{other}:{parts.port}" if parts.port else other
    return urlunsplit((parts.scheme, netloc, "", "", ""))


def _links(call: Call, scope: Scope, report: str, day: int, parts: int) -> list[str]:
    expires = int(call.now) + LINK_LIFETIME
    origin = download_origin(call.base_url)
    links = []
    for part in range(1, parts + 1):
        path = DOWNLOAD_TEMPLATE.format(scope=scope.kind, name=scope.name, report=report, day=day_text(day), part=part)
        links.append(f"{origin}{path}?se={expires}&sig={_signature(call.sim.world, path, expires)}")
    return links


def _parts(world: World, scope: Scope, report: str, day: int) -> int:
    if report == "users-1-day":
        return math.ceil(len(user_rows(world, scope, day)) / USERS_PER_FILE)
    if report == "user-teams-1-day":
        return 1 if user_team_rows(scope, day) else 0
    if report == "repos-1-day":
        return 1 if repo_rows(world, scope, day) else 0
    return 1


def one_day_report(kind: str, report: str) -> Callable[[Call], Any]:
    def handler(call: Call) -> Any:
        scope = _scope(call, kind)
        day = _requested_day(call)
        if day > last_ready_day(call.now, call.sim.config.copilot_report_lag):
            return Reply(None, status=204)
        parts = _parts(call.sim.world, scope, report, day)
        return {"download_links": _links(call, scope, report, day, parts), "report_day": day_text(day)}

    return handler


def latest_28_day_report(kind: str, report: str) -> Callable[[Call], Any]:
    def handler(call: Call) -> Any:
        scope = _scope(call, kind)
        end = last_ready_day(call.now, call.sim.config.copilot_report_lag)
        return {
            "download_links": _links(call, scope, report, end, 1),
            "report_start_day": day_text(end - 27),
            "report_end_day": day_text(end),
        }

    return handler


def report_records(world: World, scope: Scope, report: str, day: int) -> list[dict[str, Any]]:
    """Every record of a report, across all its files."""
    if report == "users-1-day":
        return user_rows(world, scope, day)
    if report == "user-teams-1-day":
        return user_team_rows(scope, day)
    if report == "repos-1-day":
        return repo_rows(world, scope, day)
    if report == "users-28-day":
        window = {"report_start_day": day_text(day - 27), "report_end_day": day_text(day)}
        return [{**row, **window} for d in range(day - 27, day + 1) for row in user_rows(world, scope, d)]
    if report.endswith("-28-day"):
        return [
            {
                "day_totals": [day_totals(world, scope, d) for d in range(day - 27, day + 1)],
                scope.id_field: str(scope.id),
                "report_start_day": day_text(day - 27),
                "report_end_day": day_text(day),
                "created_at": f"{day_text(day + 1)}T05:12:00Z",
            }
        ]
    return [day_totals(world, scope, day)]


# -- signed downloads -------------------------------------------------------------------------------

_downloads: weakref.WeakKeyDictionary[SimulatorHost, Counter[str]] = weakref.WeakKeyDictionary()
_downloads_lock = threading.Lock()


def download_counts(sim: SimulatorHost) -> dict[str, int]:
    """Downloads by outcome: "ok", "with_authorization" (refused), "expired", "bad_signature", "not_found"."""
    with _downloads_lock:
        return dict(_downloads.get(sim, Counter()))


def _count(sim: SimulatorHost, outcome: str) -> None:
    with _downloads_lock:
        _downloads.setdefault(sim, Counter())[outcome] += 1


# -- field drift: GitHub adds a field and renames another ------------------------------------------
# The switch is the shared one (simulator/field_drift.py, family "copilot"); the report files are not JSON
# answers of the pipeline, so download() asks `drifting` itself, as billing's CSV files do.

DRIFT_ADDED = ("totals_by_copilot_spaces", {"session_count": 3, "request_count": 7})  # a field nobody documents
DRIFT_RENAMED = ("code_generation_activity_count", "code_generation_event_count")  # old name -> new name


def control(sim: SimulatorHost, data: dict[str, Any]) -> dict[str, Any]:
    """POST /_sim/copilot {"field_drift": true|false}: /_sim/field-drift {"copilot": ...}; returns its answer."""
    return field_drift.control(sim, {"copilot": data["field_drift"]} if "field_drift" in data else {})


def drifted(record: dict[str, Any]) -> dict[str, Any]:
    """A record as GitHub might send it after a change: DRIFT_RENAMED's field renamed, DRIFT_ADDED added (to
    each day of a 28-day record instead of the record itself)."""
    if "day_totals" in record:
        renamed = field_drift.drifted(record, DRIFT_RENAMED)
        return {**renamed, "day_totals": [drifted(day) for day in record["day_totals"]]}
    return field_drift.drifted(record, DRIFT_RENAMED, DRIFT_ADDED)


def _blob_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status_code=status, media_type="application/xml")


def download(sim: SimulatorHost, request: Request) -> Response:
    """Serve one report file behind a signed link: no credentials accepted, only the signature."""
    if "authorization" in request.headers:
        _count(sim, "with_authorization")
        return _blob_error(
            400,
            "InvalidArgument",
            "Only one auth mechanism allowed; the signature query "
            "parameters or the Authorization header should be specified, not both",
        )
    path = request.url.path
    try:
        expires = int(request.query_params.get("se", ""))
    except ValueError:
        expires = -1
    if not hmac.compare_digest(request.query_params.get("sig", ""), _signature(sim.world, path, expires)):
        _count(sim, "bad_signature")
        return _blob_error(403, "SignatureDoesNotMatch", "The request signature does not match")
    if sim.now() > expires:
        _count(sim, "expired")
        return _blob_error(403, "AccessDenied", "Request has expired")
    fault = sim.take_fault("status", DOWNLOAD_TEMPLATE)  # the pipeline's fault switches, shared
    if fault is not None:
        return _blob_error(fault.status, "InternalError", "Simulated failure")
    p = request.path_params
    scope = scope_of(sim.world, p["scope"], p["name"])
    if scope is None:
        _count(sim, "not_found")
        return _blob_error(404, "NoSuchKey", "The specified key does not exist.")
    day = day_number(p["day"])
    records = report_records(sim.world, scope, p["report"], day)
    if field_drift.drifting(sim, "copilot"):
        records = [drifted(r) for r in records]
    if p["report"] == "users-1-day":
        part = int(p["part"])
        records = records[(part - 1) * USERS_PER_FILE : part * USERS_PER_FILE]
    _count(sim, "ok")
    body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
    return Response(body, media_type="application/x-ndjson")


_ORG_REPORTS = "/orgs/{org}/copilot/metrics/reports"
_ENTERPRISE_REPORTS = "/enterprises/{enterprise}/copilot/metrics/reports"

ROUTES = [
    SimRoute(
        "GET",
        "/orgs/{org}/copilot/usage",
        usage_for_org,
        paginated=True,
        docs=f"{USAGE_DOCS}#get-a-summary-of-copilot-usage-for-organization-members",
    ),
    SimRoute(
        "GET",
        "/orgs/{org}/team/{team_slug}/copilot/usage",
        usage_for_team,
        paginated=True,
        docs=f"{USAGE_DOCS}#get-a-summary-of-copilot-usage-for-a-team",
    ),
    *(
        SimRoute("GET", f"{_ORG_REPORTS}/{report}", one_day_report("organization", report), docs=REPORT_DOCS)
        for report in ("organization-1-day", "users-1-day", "user-teams-1-day", "repos-1-day")
    ),
    *(
        SimRoute("GET", f"{_ORG_REPORTS}/{report}/latest", latest_28_day_report("organization", report),
                 docs=REPORT_DOCS)
        for report in ("organization-28-day", "users-28-day")
    ),
    *(
        SimRoute("GET", f"{_ENTERPRISE_REPORTS}/{report}", one_day_report("enterprise", report), docs=REPORT_DOCS)
        for report in ("enterprise-1-day", "users-1-day", "user-teams-1-day", "repos-1-day")
    ),
    *(
        SimRoute("GET", f"{_ENTERPRISE_REPORTS}/{report}/latest", latest_28_day_report("enterprise", report),
                 docs=REPORT_DOCS)
        for report in ("enterprise-28-day", "users-28-day")
    ),
]

# Served outside the GitHub pipeline: (path, handler(sim, request)).
DOWNLOADS = [(DOWNLOAD_TEMPLATE, download)]
