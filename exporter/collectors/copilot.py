"""Copilot usage metrics from GitHub's daily reports, for organisations and enterprises.

Source: GET /orgs/{org}/copilot/metrics/reports/{organization-1-day,users-1-day,user-teams-1-day,repos-1-day,
organization-28-day/latest,users-28-day/latest} and the /enterprises/{enterprise}/copilot/metrics/reports/
equivalents ("View Organization/Enterprise Copilot Metrics" permission, or read:org / read:enterprise; for an
enterprise the "Copilot usage metrics" policy must be enabled). Each answers with signed links to NDJSON files,
downloaded without credentials; 204 means the day is not processed yet.

    # HELP github_copilot_code_generation_activities Code generation events ... on the latest reported day. ...
    # TYPE github_copilot_code_generation_activities gauge
    github_copilot_code_generation_activities{org="octo-demo"} 1234
    github_copilot_editor_code_generation_activities{org="octo-demo",editor="vscode"} 812
    github_copilot_cli_sessions{org="octo-demo"} 17
    github_copilot_pull_requests_created_by_copilot{org="octo-demo"} 3
    github_copilot_repository_pull_requests_merged{org="octo-demo",repository="octo-demo/api"} 4
    github_copilot_team_active_users{org="octo-demo",team_id="42",team="platform"} 9
    github_copilot_report_day_timestamp_seconds{org="octo-demo"} 1.7265312e+09

Every value is a gauge for ONE day, the newest day GitHub has processed (usually yesterday, UTC):
`github_copilot_report_day_timestamp_seconds` says which, taken from the answer's `report_day`. The day's
figures are fetched once and served from memory until the next day is ready; while GitHub answers 204 for the
newest day, the previous day stays. Enterprise figures use the `github_copilot_enterprise_` prefix and an
`enterprise` label. The 1-day reports reach back to 2025-10-10, up to a year (`backfill` reads them; for the
last 28 days it reads the two 28-day reports instead, one download each).

Which report field becomes which metric is data: the tables of `copilot_fields.py` (HELP names each source
field; docs/metrics.md lists them). Entity report fields: the seven activity counters; the active-user counts
(IDE, chat, agent, CLI, Copilot app, VS Code agents window, code review active/passive, cloud agent); the chat
panel interactions by mode; `totals_by_cli`, `totals_by_copilot_app` and `totals_by_vscode_agent` (sessions,
requests, prompts, prompt and output tokens; none of them is in `totals_by_ide` or `totals_by_feature`);
partner agent apps (`totals_by_3rd_party_agent`, keyed by `agent_id`, `agent_name` a label); CLI customisation
(the top 5 skills, custom agents, MCP servers, slash commands and plugins GitHub lists, and the distinct counts);
`pull_requests` (the eleven counts, and the three medians converted from minutes to seconds); breakdowns by
editor (`totals_by_ide`), feature, language x feature, model x feature, language x model, Copilot review
comment type and AI adoption phase. Each breakdown is its own metric: summing one over its labels gives
(about) the entity total; adding two double-counts. Editors, languages, features, models, agents, comment
types and repositories beyond their limits are summed into `other`. `repos-1-day` gives the same pull-request
figures per repository, the busiest `max_repositories` kept (medians cannot be summed, so `other` has none), and
`pull_request_review_times`: median and p90 seconds per review stage (human reviews only).

Teams follow GitHub's "Team-level metrics" recipe: users-1-day inner-joined with user-teams-1-day on
(user_id, day, team) and grouped by `team_id`; the slug is the `team` label (an enterprise report holds
enterprise and organisation teams whose slugs can collide). A member counts as active when they have a row
in the users report, which GitHub writes for any activity (IDE, CLI, code review, cloud agent), so CLI-only
members count. Teams under 5 seats are absent; a member of two teams counts in both. From the users' rows:
the activity counters, `ai_credits_used`, CLI, Copilot app and agents-window figures, users per surface
(`used_*`; `used_copilot_cloud_agent` or its former name `used_copilot_coding_agent`) and per
`ai_adoption_phase`. Per-user series are opt-in (`user_label`) and carry the same figures, the surfaces used
(0/1) and the adoption phase. Acceptance rates are left to PromQL.

Not exported, and why: `copilot_fields.SKIPPED` and `USER_SKIPPED`, the one list the tests read (ids, the
28-day window, version strings, averages of exported sums). Every record read is held against those tables
(`exporter.drift`): a field GitHub adds or renames shows as `github_exporter_unmapped_fields{collector="copilot"}`
and, for a field every record carries, `github_exporter_missing_fields`.

ASSUMPTIONS (the OpenAPI description defines the report answers, not the NDJSON records; the fields follow
"Data available in Copilot usage metrics", "Example schema" and "Team-level metrics"): a 1-day entity file is
read as flat day records or as records holding a `day_totals` list (the documented 28-day shape); a
`totals_by_ai_adoption_phase` entry carries `ai_adoption_phase` (`{"phase", "version"}`) and
`total_engaged_users`; a repos-1-day row carries `repository` ("owner/name"; else `repository_name`, else the
id) and a `pull_requests` object. Where the pages and the description differ, the description wins: the
report list (it has `repos-1-day` and `users-28-day/latest`), the `day` parameter (required, `YYYY-MM-DD`)
and `report_day` (required in the answer). Parsing is defensive: unknown fields are not exported (they show
in the drift metrics), and a missing, null or non-numeric counter contributes nothing (a total nobody
reported is not exported). The shapes of `totals_by_vscode_agent`, the CLI customisation items and
`pull_request_review_times` are ASSUMED (see tests/testdata/copilot-report-fields.json): the sources read
do not give them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client.metrics_core import Metric

from exporter import logs
from exporter.collectors import fields
from exporter.collectors.base import NOTHING_OBSERVED, Cadence, Collector, HistoricalSample, Kind, Observed, Target
from exporter.collectors.copilot_fields import (
    ACTIVE_USERS,
    ALL,
    BREAKDOWNS,
    CHAT_MODES,
    COMMENT_TYPE_COUNTERS,
    COUNTERS,
    CUSTOMIZATION_ITEM,
    CUSTOMIZATIONS,
    MEDIANS,
    PARTNER_AGENTS,
    PARTNER_COUNTERS,
    PULL_REQUESTS,
    REPOSITORY_WEIGHT,
    REVIEW_TIMES,
    SESSION_FIGURES,
    SESSIONS,
    SURFACE_OBJECTS,
    SURFACES,
    TEAM_BREAKDOWNS,
    USER_FIGURES,
    report_schemas,
)
from exporter.github.client import DOWNLOAD_ENDPOINT
from exporter.github.errors import MalformedResponseError
from exporter.github.streams import capped_lines
from exporter.metricspec import MetricSpec, metric
from exporter.settings import CopilotSettings, Settings

log = structlog.get_logger(__name__)

DAY = 86400
OTHER = "other"  # label value for editors, languages, features and models beyond max_label_values
UNKNOWN = "unknown"  # label value when a record does not name its editor, language, feature or model
# Before a day was seen arriving, the plan assumes GitHub processes a day this long after it ends (UTC).
DEFAULT_REPORT_LAG = 6 * 3600.0

@dataclass(frozen=True)
class Scope:
    """Organisation or enterprise: where its reports live and how its metrics are named."""

    name: Kind
    prefix: str
    label: str
    base: str  # route prefix
    entity_report: str
    phrase: str

    def route(self, report: str) -> str:
        return f"{self.base}/{report}"


ORG = Scope(
    Kind.ORGANIZATION,
    "github_copilot_",
    "org",
    "/orgs/{org}/copilot/metrics/reports",
    "organization-1-day",
    "in the org",
)
ENTERPRISE = Scope(
    Kind.ENTERPRISE,
    "github_copilot_enterprise_",
    "enterprise",
    "/enterprises/{enterprise}/copilot/metrics/reports",
    "enterprise-1-day",
    "in the enterprise",
)
KINDS = (ORG, ENTERPRISE)
LATEST_DAY = (
    "on the latest reported day (github_copilot*_report_day_timestamp_seconds), served until the next day is ready"
)
TEAM_LABELS = ("team_id", "team")


@dataclass(frozen=True)
class Specs:
    """Every metric of one kind, keyed by report field path."""

    day: MetricSpec
    totals: dict[str, MetricSpec]  # COUNTERS, ACTIVE_USERS, SESSIONS and "pull_requests.<field>" paths
    chat_modes: MetricSpec
    breakdowns: dict[tuple[str, str], MetricSpec]  # (breakdown name, counter)
    partners: dict[str, MetricSpec]  # PARTNER_COUNTERS
    customizations: MetricSpec
    customization_distinct: MetricSpec
    comment_types: dict[str, MetricSpec]
    adoption: MetricSpec
    repositories: dict[str, MetricSpec]
    review_times: dict[str, MetricSpec]  # REVIEW_TIMES
    team_totals: dict[str, MetricSpec]  # USER_FIGURES
    team_active: MetricSpec
    team_surfaces: MetricSpec
    team_phases: MetricSpec
    team_breakdowns: dict[tuple[str, str], MetricSpec]
    user_totals: dict[str, MetricSpec]  # USER_FIGURES
    user_surfaces: MetricSpec
    user_phases: MetricSpec
    by_name: dict[str, MetricSpec] = field(default_factory=dict)


def _figures() -> dict[str, tuple[str, str]]:
    """USER_FIGURES: {path: (metric suffix, what)}."""
    out = {f: COUNTERS[f] for f in ALL}
    out["ai_credits_used"] = ("ai_credits", "AI credits used")
    for o, (prefix, surface) in SURFACE_OBJECTS.items():
        for f, (suffix, what) in SESSION_FIGURES.items():
            out[f"{o}.{f}"] = (f"{prefix}_{suffix}", f"{surface.capitalize()}: {what}")
    assert tuple(out) == USER_FIGURES
    return out


FIGURES = _figures()


def _define(kind: Scope) -> Specs:
    p, owner, phrase = kind.prefix, kind.label, kind.phrase
    entity = f"GET {kind.route(kind.entity_report)} NDJSON"
    users = f"GET {kind.route('users-1-day')} NDJSON"
    repos = f"GET {kind.route('repos-1-day')} NDJSON"
    joined = (
        f"{users} joined on (user_id, day, team_id) with GET {kind.route('user-teams-1-day')} NDJSON (team_id, slug)"
    )
    team_note = (
        "Team members' sum, by team_id (slug in the team label; a member of two teams counts in both; "
        "teams under 5 seats are absent)"
    )
    user_note = "Only with collectors.copilot.user_label set; the most active max_users users."
    team = [owner, *TEAM_LABELS]

    def spec(name: str, description: str, labels: Sequence[str], source: str) -> MetricSpec:
        return metric(__name__, f"{p}{name}", "gauge", description, labels, source)

    def specs_for(table: Mapping[str, tuple[str, str, *tuple[float, ...]]], *, name: str, then: str,
                  labels: Sequence[str], source: str) -> dict[str, MetricSpec]:
        """A spec per field of a {field: (metric suffix, what, ...)} table: name+suffix, what+then, source+field."""
        return {f: spec(name + row[0], row[1] + then, labels, source + f) for f, row in table.items()}

    totals = specs_for(COUNTERS, name="", then=f" {phrase} {LATEST_DAY}.", labels=[owner], source=f"{entity}: ")
    totals |= {f: spec(f, f"{what} {phrase}.", [owner], f"{entity}: {f}") for f, what in ACTIVE_USERS.items()}
    totals |= {
        path: spec(suffix, f"{what} {phrase} {LATEST_DAY}. Not in the editor or feature breakdowns.", [owner],
                   f"{entity}: {path}")
        for path, (suffix, what) in FIGURES.items()
        if path in SESSIONS
    }
    totals |= {
        f"pull_requests.{f}": spec(
            suffix,
            f"{what} {phrase} {LATEST_DAY}.{' Minutes in the report, seconds here.' if scale != 1 else ''}",
            [owner],
            f"{entity}: pull_requests.{f}",
        )
        for f, (suffix, what, scale) in PULL_REQUESTS.items()
    }
    customization_arrays = ", ".join(f"{a}[]" for a, _ in CUSTOMIZATIONS.values())
    specs = Specs(
        day=spec(
            "report_day_timestamp_seconds",
            f"Start (UTC midnight) of the day the github_{p.removeprefix('github_')}* figures describe {phrase}; "
            "it stays on the previous day while GitHub answers 204 for a newer one.",
            [owner],
            f"GET {kind.route(kind.entity_report)}: report_day",
        ),
        totals=totals,
        chat_modes=spec(
            "chat_panel_interactions",
            f"User-initiated interactions in the IDE chat panel {phrase}, by the mode selected (agent, ask, custom, "
            f"edit, plan, unknown), {LATEST_DAY}.",
            [owner, "mode"],
            f"{entity}: {', '.join(CHAT_MODES)}",
        ),
        breakdowns={
            (b.name, f): spec(
                f"{b.name}_{COUNTERS[f][0]}",
                f"{COUNTERS[f][1]} {phrase} {b.what}, {LATEST_DAY}.",
                [owner, *b.labels],
                f"{entity}: {b.array}[].{f}",
            )
            for b in BREAKDOWNS
            for f in b.counters
        },
        partners=specs_for(
            PARTNER_COUNTERS,
            name="partner_agent_",
            then=f" with a partner agent app (such as Claude or Codex) {phrase}, by agent_id (agent: its current "
            f"agent_name), {LATEST_DAY}. The busiest max_label_values agents; the rest in agent_id=\"other\".",
            labels=[owner, "agent_id", "agent"],
            source=f"{entity}: {PARTNER_AGENTS}[].",
        ),
        customizations=spec(
            "cli_customization_interactions",
            f"Interactions with a Copilot CLI customisation {phrase}: the top 5 items GitHub lists per kind (skill, "
            f"custom_agent, mcp, slash_cmd, plugin), {LATEST_DAY}.",
            [owner, "kind", "name"],
            f"{entity}: {customization_arrays} .{CUSTOMIZATION_ITEM}, .interaction_count",
        ),
        customization_distinct=spec(
            "cli_customization_distinct_used",
            f"Distinct Copilot CLI customisations of a kind used {phrase}, {LATEST_DAY}.",
            [owner, "kind"],
            f"{entity}: {', '.join(d for _, d in CUSTOMIZATIONS.values())}",
        ),
        comment_types={
            f: spec(
                f"code_review_comment_type_{PULL_REQUESTS[f][0].removeprefix('pull_request_copilot_review_')}",
                f"{PULL_REQUESTS[f][1]} {phrase}, by the comment type Copilot assigned, {LATEST_DAY}.",
                [owner, "comment_type"],
                f"{entity}: pull_requests.copilot_suggestions_by_comment_type[].{f}",
            )
            for f in COMMENT_TYPE_COUNTERS
        },
        adoption=spec(
            "adoption_phase_engaged_users",
            f"Users engaged on at least two days of the 28 ending on the reported day {phrase}, by AI adoption "
            "phase (0 none, 1 code first, 2 agent first, 3 multi-agent).",
            [owner, "phase"],
            f"{entity}: totals_by_ai_adoption_phase[].total_engaged_users",
        ),
        repositories=specs_for(
            PULL_REQUESTS,
            name="repository_",
            then=f" in one repository {phrase}, {LATEST_DAY}. The busiest max_repositories repositories; the rest "
            "summed into repository=\"other\" (medians are not summed, so other has none).",
            labels=[owner, "repository"],
            source=f"{repos}: pull_requests.",
        ),
        review_times=specs_for(
            REVIEW_TIMES,
            name="repository_",
            then=f" pull requests in one repository spent in a review stage (human reviews only) {phrase}, "
            f"{LATEST_DAY}. Minutes in the report, seconds here. The busiest max_repositories repositories "
            "(other has none: quantiles cannot be summed).",
            labels=[owner, "repository", "stage"],
            source=f"{repos}: pull_request_review_times[].",
        ),
        team_totals=specs_for(
            FIGURES, name="team_", then=f" by the team's members, {LATEST_DAY}. {team_note}.", labels=team,
            source=f"{joined}: ",
        ),
        team_active=spec(
            "team_active_users",
            f"Team members with any Copilot activity (IDE, CLI, code review, cloud agent) {LATEST_DAY}: "
            f"distinct user_id of the join. {team_note}.",
            team,
            f"{joined}: distinct user_id",
        ),
        team_surfaces=spec(
            "team_surface_active_users",
            f"Team members who used a Copilot surface {LATEST_DAY} (surface {', '.join(SURFACES)}). {team_note}.",
            [*team, "surface"],
            f"{joined}: {', '.join(' / '.join(flags) for flags in SURFACES.values())}",
        ),
        team_phases=spec(
            "team_adoption_phase_users",
            f"Team members with activity {LATEST_DAY}, by their AI adoption phase over the 28 days ending then. "
            f"{team_note}.",
            [*team, "phase"],
            f"{joined}: ai_adoption_phase.phase",
        ),
        team_breakdowns={
            (b.name, f): spec(
                f"team_{b.name}_{COUNTERS[f][0]}",
                f"{COUNTERS[f][1]} by the team's members {b.what}, {LATEST_DAY}. {team_note}.",
                [*team, *b.labels],
                f"{joined}: {b.array}[].{f}",
            )
            for b in TEAM_BREAKDOWNS
            for f in b.counters
        },
        user_totals=specs_for(
            FIGURES, name="user_", then=f" by one user {phrase}, {LATEST_DAY}. {user_note}", labels=[owner, "user"],
            source=f"{users}: ",
        ),
        user_surfaces=spec(
            "user_surface_used",
            f"1 if the user used a Copilot surface {LATEST_DAY}, else 0 (surface {', '.join(SURFACES)}). {user_note}",
            [owner, "user", "surface"],
            f"{users}: {', '.join(' / '.join(flags) for flags in SURFACES.values())}",
        ),
        user_phases=spec(
            "user_adoption_phase_info",
            f"1, labelled with the user's AI adoption phase over the 28 days ending on the reported day {phrase}. "
            f"{user_note}",
            [owner, "user", "phase"],
            f"{users}: ai_adoption_phase.phase",
        ),
    )
    every = [
        specs.day,
        specs.chat_modes,
        specs.customizations,
        specs.customization_distinct,
        specs.adoption,
        specs.team_active,
        specs.team_surfaces,
        specs.team_phases,
        specs.user_surfaces,
        specs.user_phases,
        *specs.totals.values(),
        *specs.breakdowns.values(),
        *specs.partners.values(),
        *specs.comment_types.values(),
        *specs.repositories.values(),
        *specs.review_times.values(),
        *specs.team_totals.values(),
        *specs.team_breakdowns.values(),
        *specs.user_totals.values(),
    ]
    specs.by_name.update({s.name: s for s in every})
    return specs


SPECS = {kind.name: _define(kind) for kind in KINDS}
SCHEMAS = report_schemas()


def schema_of(report: str) -> str:
    """The field schema of a report route ("organization-28-day/latest" -> "entity-28-day")."""
    name = report.removesuffix("/latest")
    for entity in ("organization-", "enterprise-"):
        if name.startswith(entity):
            return "entity-" + name.removeprefix(entity)
    return name


# -- parsing ----------------------------------------------------------------------------------------


def number(value: Any) -> float | None:
    """A report figure; None when not reported and, unlike `fields`' rule, when it is not a number: a record
    holds hundreds of figures, and one whose type GitHub changed is skipped, not the whole day."""
    try:
        return fields.as_number(value, "figure", DOWNLOAD_ENDPOINT)
    except MalformedResponseError:
        return None


def label_value(value: Any) -> str:
    return value if isinstance(value, str) and value else UNKNOWN


def day_text(start: float) -> str:
    return datetime.fromtimestamp(start, UTC).date().isoformat()


Sums = dict[str, float]


def add(into: Sums, item: dict[str, Any], counters: Iterable[str]) -> None:
    for name in counters:
        value = number(item.get(name))
        if value is not None:
            into[name] = into.get(name, 0.0) + value


class Tally:
    """Counter sums under label keys, e.g. ("vscode",) -> {"code_generation_activity_count": 12.0}."""

    def __init__(self) -> None:
        self.sums: dict[tuple[str, ...], Sums] = defaultdict(dict)

    def add_entries(self, entries: Any, keys: Sequence[str], counters: Sequence[str]) -> None:
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, dict):
                add(self.sums[tuple(label_value(entry.get(k)) for k in keys)], entry, counters)

    def folded(
        self,
        limit: int,
        weight: Sequence[str] = ("code_generation_activity_count", "user_initiated_interaction_count"),
        non_additive: Sequence[str] = (),
    ) -> dict[tuple[str, ...], Sums]:
        """The sums with each label position cut to its `limit` biggest values; the rest summed into `other`.

        Values of `non_additive` counters (distinct-user counts) are dropped where several keys merged.
        """
        sums = {k: dict(v) for k, v in self.sums.items()}
        width = len(next(iter(sums), ()))
        for position in range(width):
            size: dict[str, float] = defaultdict(float)
            for key, values in sums.items():
                size[key[position]] += sum(values.get(w, 0.0) for w in weight)
            if len(size) <= limit:
                continue
            keep = {v for v, _ in sorted(size.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]}
            merged: dict[tuple[str, ...], Sums] = {}
            for key, values in sums.items():
                new = key[:position] + ((key[position] if key[position] in keep else OTHER),) + key[position + 1 :]
                if new in merged:
                    add(merged[new], values, values)
                    for name in non_additive:
                        merged[new].pop(name, None)
                else:
                    merged[new] = dict(values)
                    if new != key:
                        for name in non_additive:
                            merged[new].pop(name, None)
            sums = merged
        return sums


def nested(value: Any, path: str) -> Any:
    """`value["a"]["b"]` for path "a.b", or None where a step is missing or not an object."""
    for step in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def flat(record: dict[str, Any]) -> dict[str, Any]:
    """The record's nested figures under their paths ("totals_by_cli.session_count"; medians in seconds)."""
    out: dict[str, Any] = {path: nested(record, path) for path in SESSIONS}
    prs = record.get("pull_requests")
    for name, (_, _, scale) in PULL_REQUESTS.items():
        value = number(nested(prs, name))
        out[f"pull_requests.{name}"] = None if value is None else value * scale
    return out


def phase_of(value: Any) -> str:
    """The phase number of an `ai_adoption_phase` value, so the label is 0-3 whichever way GitHub spells it.

    GitHub's example schema sends `{"phase": "Phase 2", "phase_number": 2, "version": "v1"}` (read 2026-12-06,
    docs.github.com/pt/copilot/reference/copilot-usage-metrics/example-schema); the reference page names only
    `phase`. So `phase_number` wins, then a numeric `phase`, then the number at the end of "Phase N".
    """
    if isinstance(value, dict):
        number = value.get("phase_number")
        value = number if isinstance(number, int) and not isinstance(number, bool) else value.get("phase")
    if isinstance(value, bool) or value is None or value == "":
        return UNKNOWN
    if isinstance(value, int | float):
        return str(int(value))
    spelled = re.search(r"(\d+)\s*$", str(value))
    return spelled.group(1) if spelled else str(value)


TeamKey = tuple[str, str]  # (team_id, slug)
FLAT_PR = tuple(f"pull_requests.{f}" for f in PULL_REQUESTS)


@dataclass
class UserDay:
    """One user's figures on the day, for the opt-in per-user series."""

    sums: Sums = field(default_factory=dict)
    surfaces: dict[str, bool] = field(default_factory=dict)
    phase: str = UNKNOWN


@dataclass
class DayData:
    """One day's aggregates for one organisation or enterprise, before they become metric families."""

    day: float
    totals: Sums = field(default_factory=dict)
    chat_modes: dict[str, float] = field(default_factory=dict)
    breakdowns: dict[str, Tally] = field(default_factory=lambda: {b.name: Tally() for b in BREAKDOWNS})
    partners: Tally = field(default_factory=Tally)
    partner_names: dict[str, str] = field(default_factory=dict)  # agent_id -> agent_name
    customizations: Tally = field(default_factory=Tally)
    customization_distinct: dict[str, float] = field(default_factory=dict)
    comment_types: Tally = field(default_factory=Tally)
    adoption: dict[str, float] = field(default_factory=dict)
    repositories: Tally = field(default_factory=Tally)
    review_times: dict[tuple[str, str], Sums] = field(default_factory=dict)  # (repository, stage)
    team_totals: dict[TeamKey, Sums] = field(default_factory=lambda: defaultdict(dict))
    team_active: dict[TeamKey, int] = field(default_factory=lambda: defaultdict(int))
    team_surfaces: dict[TeamKey, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    team_phases: dict[TeamKey, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    team_breakdowns: dict[TeamKey, dict[str, Tally]] = field(
        default_factory=lambda: defaultdict(lambda: {b.name: Tally() for b in TEAM_BREAKDOWNS})
    )
    users: dict[str, UserDay] = field(default_factory=dict)

    def add_entity(self, record: dict[str, Any]) -> None:
        add(self.totals, record, [*COUNTERS, *ACTIVE_USERS])
        add(self.totals, flat(record), [*SESSIONS, *FLAT_PR])
        for name, mode in CHAT_MODES.items():
            value = number(record.get(name))
            if value is not None:
                self.chat_modes[mode] = self.chat_modes.get(mode, 0.0) + value
        for b in BREAKDOWNS:
            self.breakdowns[b.name].add_entries(record.get(b.array), b.keys, b.counters)
        agents = record.get(PARTNER_AGENTS)
        self.partners.add_entries(agents, ("agent_id",), tuple(PARTNER_COUNTERS))
        for entry in agents if isinstance(agents, list) else ():
            if isinstance(entry, dict) and isinstance(entry.get("agent_name"), str) and entry["agent_name"]:
                self.partner_names[label_value(entry.get("agent_id"))] = entry["agent_name"]
        for kind, (array, distinct) in CUSTOMIZATIONS.items():
            items = record.get(array)
            entries = [{**i, "kind": kind} for i in items if isinstance(i, dict)] if isinstance(items, list) else []
            self.customizations.add_entries(entries, ("kind", CUSTOMIZATION_ITEM), ("interaction_count",))
            value = number(record.get(distinct))
            if value is not None:
                self.customization_distinct[kind] = self.customization_distinct.get(kind, 0.0) + value
        by_type = nested(record, "pull_requests.copilot_suggestions_by_comment_type")
        self.comment_types.add_entries(by_type, ("comment_type",), COMMENT_TYPE_COUNTERS)
        for entry in record.get("totals_by_ai_adoption_phase") or ():
            engaged = number(entry.get("total_engaged_users")) if isinstance(entry, dict) else None
            if engaged is not None:
                phase = phase_of(entry.get("ai_adoption_phase", entry.get("phase")))
                self.adoption[phase] = self.adoption.get(phase, 0.0) + engaged

    def add_repository(self, row: dict[str, Any]) -> None:
        prs = row.get("pull_requests")
        name = repository_name(row)
        if isinstance(prs, dict):
            entry = {**prs, "repository": name}
            entry.update({m: None if (v := number(prs.get(m))) is None else v * 60 for m in MEDIANS})
            self.repositories.add_entries([entry], ("repository",), tuple(PULL_REQUESTS))
        times = row.get("pull_request_review_times")
        for entry in times if isinstance(times, list) else ():
            if isinstance(entry, dict):
                values = {f: v * 60 for f in REVIEW_TIMES if (v := number(entry.get(f))) is not None}
                self.review_times[(name, label_value(entry.get("stage")))] = values

    def add_member(self, team: TeamKey, row: dict[str, Any]) -> None:
        """One users-report row of a member of `team` (GitHub's recipe: a row means activity that day)."""
        add(self.team_totals[team], row, ["ai_credits_used", *ALL])
        add(self.team_totals[team], flat(row), SESSIONS)
        self.team_active[team] += 1
        surfaces = self.team_surfaces[team]
        for surface, used in surfaces_of(row).items():
            surfaces[surface] = surfaces.get(surface, 0) + used
        phase = phase_of(row.get("ai_adoption_phase"))
        self.team_phases[team][phase] = self.team_phases[team].get(phase, 0) + 1
        for b in TEAM_BREAKDOWNS:
            self.team_breakdowns[team][b.name].add_entries(row.get(b.array), b.keys, b.counters)


def surfaces_of(row: dict[str, Any]) -> dict[str, bool]:
    """Which Copilot surfaces a users-report row says the user used (either flag of a surface counts)."""
    return {surface: any(row.get(f) is True for f in flags) for surface, flags in SURFACES.items()}


def user_day(row: dict[str, Any], into: UserDay | None = None) -> UserDay:
    """A users-report row's figures added to `into` (a user may have rows in several files)."""
    out = into or UserDay()
    add(out.sums, row, ["ai_credits_used", *ALL])
    add(out.sums, flat(row), SESSIONS)
    for surface, used in surfaces_of(row).items():
        out.surfaces[surface] = out.surfaces.get(surface, False) or used
    phase = phase_of(row.get("ai_adoption_phase"))
    out.phase = phase if phase != UNKNOWN else out.phase
    return out


def repository_name(row: dict[str, Any]) -> str:
    """ASSUMPTION (field names undocumented): `repository` ("owner/name"), else `repository_name`, else the id."""
    for name in ("repository", "repository_name", "repo_name"):
        if isinstance(row.get(name), str) and row[name]:
            return str(row[name])
    ident = row.get("repository_id", row.get("repo_id"))
    return str(ident) if isinstance(ident, int | str) and ident != "" else UNKNOWN


def day_records(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The day records in an entity file's record: itself, or its `day_totals` list."""
    if "day_totals" in record:
        inner = record["day_totals"]
        return [r for r in inner if isinstance(r, dict)] if isinstance(inner, list) else []
    return [record]


# -- the collector ----------------------------------------------------------------------------------


def teams_of(settings: Settings, owner: str) -> set[str] | None:
    """Team slugs an owner's figures are exported for; None for every team in the report."""
    mode = settings.collectors.copilot.teams
    if mode == "all":
        return None
    if mode == "none":
        return set()
    prefix = owner.lower() + "/"
    return {t.split("/", 1)[1] for t in settings.targets.teams if t.lower().startswith(prefix)}


class CopilotCollector(Collector[CopilotSettings]):
    """One organisation (target `name`) or enterprise (target `enterprise:slug`): its newest report day."""

    name = "copilot"
    endpoints = {
        "organizations": tuple(f"/orgs/{{org}}/copilot/metrics/reports/{r}"
                               for r in ("organization-1-day", "users-1-day", "user-teams-1-day", "repos-1-day")),
        "enterprises": tuple(f"/enterprises/{{enterprise}}/copilot/metrics/reports/{r}"
                             for r in ("enterprise-1-day", "users-1-day", "user-teams-1-day", "repos-1-day")),
    }

    def setup(self) -> None:
        self.kind = ENTERPRISE if self.target.kind == Kind.ENTERPRISE else ORG
        self.owner = self.target.owner
        self.specs = SPECS[self.kind.name]
        self._path = {"org" if self.kind is ORG else "enterprise": self.owner}
        self._current: tuple[float, list[Metric]] | None = None
        self._waits = 0  # runs that asked for the newest day since the last day arrived
        if self.options.user_hash_key is not None:
            logs.register_secret(self.options.user_hash_key.get_secret_value())

    @classmethod
    def targets(cls, settings: Settings) -> list[Target]:
        return Target.organizations_and_enterprises(settings)

    @classmethod
    def cadences(cls, settings: Settings, target: Target, observed: Observed = NOTHING_OBSERVED) -> list[Cadence]:
        """A day's reports once a day, and one 204 per run while the next day is not processed yet.

        A day costs the entity report, repos-1-day (unless max_repositories is 0), user-teams-1-day when
        teams are exported, and users-1-day when teams or users are. The runs that find the day not ready
        are counted on the last day seen arriving; before that, DEFAULT_REPORT_LAG is assumed.
        """
        o = settings.collectors.copilot
        teams = teams_of(settings, target.owner)
        per_day = 1 + (o.max_repositories > 0) + (teams != set()) + (teams != set() or o.user_label != "none")
        waits = observed.get("waits_per_day", math.ceil(DEFAULT_REPORT_LAG / o.interval))
        return [Cadence(DAY, per_day + waits)]  # the waits spread over hours: at most this in one window

    # -- what to fetch ---------------------------------------------------------------------------

    def _teams(self) -> set[str] | None:
        """Team slugs to export; None for every team in the report."""
        return teams_of(self.settings, self.owner)

    @property
    def _wants_users(self) -> bool:
        return self.options.user_label != "none"

    async def _links(self, report: str, day: float | None = None) -> dict[str, Any] | None:
        """The report's answer (download links and days), or None while GitHub answers 204."""
        route = self.kind.route(report)
        params = {"day": day_text(day)} if day is not None else None
        response = await self.client.get(route, params=params, **self._path)
        if response.status == 204:
            return None
        data = response.data
        if not isinstance(data, dict) or not isinstance(data.get("download_links"), list):
            raise MalformedResponseError(f"{route}: expected an object with download_links", endpoint=route)
        if not all(isinstance(link, str) for link in data["download_links"]):
            raise MalformedResponseError(f"{route}: download_links holds a non-string", endpoint=route)
        return data

    async def _records(self, report: str, links: Sequence[str]) -> AsyncIterator[dict[str, Any]]:
        """Every JSON object in the report files, streamed line by line (a file may also hold a JSON array).

        Each is held against the report's known fields; what GitHub sent that the tables do not know, or a
        field every record carries that none did, shows in the drift metrics (exporter.drift).
        """
        kind = schema_of(report)
        check = SCHEMAS[kind].check()
        for link in links:
            async with self.client.download(link) as response:
                async for line in capped_lines(response, DOWNLOAD_ENDPOINT):  # one record per line, bounded
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        value = json.loads(line)
                    except ValueError:
                        raise MalformedResponseError(
                            "Copilot report file: a line is not JSON", endpoint=DOWNLOAD_ENDPOINT
                        ) from None
                    for record in value if isinstance(value, list) else [value]:
                        if isinstance(record, dict):
                            check.record(record)
                            yield record
        self.client.report_drift(f"{kind} of {self.target}", check)

    async def _rows(self, report: str, day: float) -> list[dict[str, Any]] | None:
        """A 1-day report's records for `day` (rows naming another day are dropped), or None on 204."""
        answer = await self._links(report, day)
        if answer is None:
            return None
        return [row async for row in self._records(report, answer["download_links"]) if _on(row, day)]

    async def _day(
        self,
        day: float,
        entity: list[dict[str, Any]] | None = None,
        user_rows: list[dict[str, Any]] | None = None,
    ) -> DayData | None:
        """Everything for one day, or None if a report GitHub has not processed yet answers 204.

        `entity` holds the day's entity records and `user_rows` its users-report rows when the caller already
        has them (from the 28-day reports).
        """
        if entity is None:
            answer = await self._links(self.kind.entity_report, day)
            if answer is None:
                return None
            reported = fields.day(answer, "report_day", self.kind.entity_report)
            if reported is not None and reported != day:
                log.warning(
                    "Copilot report: GitHub answered another day than asked; exporting the day it names",
                    target=self.target, asked=day_text(day), report_day=day_text(reported),
                )
                day = reported
            records = self._records(self.kind.entity_report, answer["download_links"])
            entity = [r async for record in records for r in day_records(record)]
        data = DayData(day)
        for record in entity:
            if _on(record, day):
                data.add_entity(record)
        if self.options.max_repositories > 0:
            repositories = await self._rows("repos-1-day", day)
            for row in repositories or ():
                data.add_repository(row)
        teams = self._teams()
        if teams == set() and not self._wants_users:
            return data
        # GitHub's recipe: inner join on (user_id, day, entity), grouped by team_id; both sides are one day here.
        members: dict[int, set[TeamKey]] = defaultdict(set)
        if teams != set():
            team_rows = await self._rows("user-teams-1-day", day)
            if team_rows is None:
                return None
            for row in team_rows:
                slug, user_id, team_id = row.get("slug"), row.get("user_id"), row.get("team_id")
                if not (isinstance(user_id, int) and isinstance(team_id, int | str) and str(team_id)):
                    continue
                slug = slug if isinstance(slug, str) and slug else UNKNOWN
                if teams is None or slug in teams:
                    members[user_id].add((str(team_id), slug))
        if user_rows is None:
            user_rows = await self._rows("users-1-day", day)
            if user_rows is None:
                return None
        users: dict[str, UserDay] = {}
        for row in user_rows:
            user_id = row.get("user_id")
            if not _on(row, day):
                continue
            for team in members.get(user_id, ()) if isinstance(user_id, int) else ():
                data.add_member(team, row)
            label = self._user_label(row)
            if label is not None:
                users[label] = user_day(row, users.get(label))
        for team in {t for ts in members.values() for t in ts}:  # members without a row still make a team
            data.team_totals.setdefault(team, {})
            data.team_active.setdefault(team, 0)
        ranked = sorted(
            users.items(),
            key=lambda kv: (
                -(kv[1].sums.get("user_initiated_interaction_count", 0)
                  + kv[1].sums.get("code_generation_activity_count", 0)),
                kv[0],
            ),
        )
        data.users = dict(ranked[: self.options.max_users])
        return data

    def _user_label(self, row: dict[str, Any]) -> str | None:
        mode = self.options.user_label
        if mode == "login":
            login = row.get("user_login")
            return login if isinstance(login, str) and login else None
        user_id = row.get("user_id")
        if mode == "none" or not isinstance(user_id, int):
            return None
        if mode == "id":
            return str(user_id)
        assert self.options.user_hash_key is not None  # settings insist
        key = self.options.user_hash_key.get_secret_value().encode()
        return hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()[:16]

    # -- families ----------------------------------------------------------------------------------

    def _families(self, data: DayData) -> list[Metric]:
        s, owner, limit = self.specs, self.owner, self.options.max_label_values
        families: list[Metric] = [s.day.one([owner], data.day)]
        for name, spec in s.totals.items():
            if name in data.totals:
                families.append(spec.one([owner], data.totals[name]))
        for b in BREAKDOWNS:
            tally: dict[tuple[str, ...], dict[tuple[str, ...], Sums]] = {(): data.breakdowns[b.name].folded(limit)}
            families += _breakdown(s.breakdowns, b.name, b.counters, tally, [owner])
        modes = s.chat_modes.new()
        for mode in sorted(data.chat_modes):
            modes.add_metric([owner, mode], data.chat_modes[mode])
        families.append(modes)
        agents = data.partners.folded(limit, weight=tuple(PARTNER_COUNTERS))
        for f, spec in s.partners.items():
            family = spec.new()
            for (agent_id,) in sorted(agents):
                if f in agents[(agent_id,)]:
                    name = data.partner_names.get(agent_id, agent_id if agent_id in (OTHER, UNKNOWN) else UNKNOWN)
                    family.add_metric([owner, agent_id, name], agents[(agent_id,)][f])
            families.append(family)
        used_items, distinct = s.customizations.new(), s.customization_distinct.new()
        for (kind, name), sums in sorted(data.customizations.sums.items()):
            if "interaction_count" in sums:
                used_items.add_metric([owner, kind, name], sums["interaction_count"])
        for kind in sorted(data.customization_distinct):
            distinct.add_metric([owner, kind], data.customization_distinct[kind])
        families += [used_items, distinct]
        families += _breakdown(
            {("comment_type", f): spec for f, spec in s.comment_types.items()},
            "comment_type",
            COMMENT_TYPE_COUNTERS,
            {(): data.comment_types.folded(limit, weight=COMMENT_TYPE_COUNTERS)},
            [owner],
        )
        adoption = s.adoption.new()
        for phase in sorted(data.adoption):
            adoption.add_metric([owner, phase], data.adoption[phase])
        families.append(adoption)
        repositories = data.repositories.folded(
            self.options.max_repositories, weight=REPOSITORY_WEIGHT, non_additive=MEDIANS
        )
        families += _breakdown(
            {("repository", f): spec for f, spec in s.repositories.items()},
            "repository",
            tuple(PULL_REQUESTS),
            {(): repositories},
            [owner],
        )
        kept = {r for (r,) in repositories} - {OTHER}
        for f, spec in s.review_times.items():
            family = spec.new()
            for (repository, stage), values in sorted(data.review_times.items()):
                if repository in kept and f in values:
                    family.add_metric([owner, repository, stage], values[f])
            families.append(family)
        teams = sorted(data.team_totals)
        for name, spec in s.team_totals.items():
            family = spec.new()
            for team in teams:
                if name in data.team_totals[team]:
                    family.add_metric([owner, *team], data.team_totals[team][name])
            families.append(family)
        active, surfaces, phases = s.team_active.new(), s.team_surfaces.new(), s.team_phases.new()
        for team in teams:
            active.add_metric([owner, *team], data.team_active[team])
            for surface, count in sorted(data.team_surfaces.get(team, {}).items()):
                surfaces.add_metric([owner, *team, surface], count)
            for phase, count in sorted(data.team_phases.get(team, {}).items()):
                phases.add_metric([owner, *team, phase], count)
        families += [active, surfaces, phases]
        for b in TEAM_BREAKDOWNS:
            per_team: dict[tuple[str, ...], dict[tuple[str, ...], Sums]] = {
                team: tallies[b.name].folded(limit) for team, tallies in sorted(data.team_breakdowns.items())
            }
            families += _breakdown(s.team_breakdowns, b.name, b.counters, per_team, [owner])
        for name, spec in s.user_totals.items():
            family = spec.new()
            for user in sorted(data.users):
                if name in data.users[user].sums:
                    family.add_metric([owner, user], data.users[user].sums[name])
            families.append(family)
        used, phases = s.user_surfaces.new(), s.user_phases.new()
        for user in sorted(data.users):
            for surface, flag in data.users[user].surfaces.items():
                used.add_metric([owner, user, surface], float(flag))
            phases.add_metric([owner, user, data.users[user].phase], 1)
        families += [used, phases]
        return [f for f in families if f.samples]

    def _expected_day(self) -> float:
        """Yesterday (UTC): the newest day GitHub could have processed."""
        return (self._clock() // DAY - 1) * DAY

    async def collect(self) -> list[Metric]:
        newest = self._expected_day()
        current = self._current[0] if self._current else None
        if current is not None and current >= newest:
            return self._current[1]  # type: ignore[index]
        oldest = max(newest - (self.options.lookback_days - 1) * DAY, current + DAY if current is not None else -1e18)
        day = newest
        while day >= oldest:
            data = await self._day(day)
            if data is not None:
                if day == newest and self._current is not None:  # a day seen arriving: how long it kept us asking
                    self.observed["waits_per_day"] = self._waits
                self._waits = 0
                self._current = (day, self._families(data))
                if day < newest:
                    log.info(
                        "Copilot report: newest day not ready yet; serving an older one",
                        target=self.target,
                        serving=day_text(day),
                        waiting_for=day_text(newest),
                    )
                return self._current[1]
            self._waits += 1
            day -= DAY
        if self._current is None:
            log.info(
                "Copilot report: no processed day yet",
                target=self.target,
                newest_tried=day_text(newest),
                days_tried=self.options.lookback_days,
            )
            return []
        return self._current[1]

    async def history(self, start: float, end: float) -> list[HistoricalSample]:
        """One sample per series per day GitHub still holds, stamped at the end of the day (UTC midnight).

        For the last 28 processed days the entity figures come from the entity 28-day report and the users'
        rows from users-28-day (one download each); each day's rows are still joined with that day's
        user-teams report, as GitHub's recipe requires. Older days come from the 1-day reports.
        """
        first = math.ceil((start - DAY) / DAY) * DAY  # the first day that ends at or after start
        last = min(math.floor((end - DAY) / DAY) * DAY, self._expected_day())
        recent = await self._by_day(f"{self.kind.entity_report.removesuffix('-1-day')}-28-day/latest", True)
        wants_rows = self._teams() != set() or self._wants_users
        users = await self._by_day("users-28-day/latest", False) if wants_rows else None
        samples: list[HistoricalSample] = []
        day = first
        while day <= last:
            at = day + DAY
            if start <= at <= end:
                rows = users.get(day, []) if users is not None and day in recent else None  # none: nobody active
                data = await self._day(day, recent.get(day), rows)
                if data is not None:
                    samples += HistoricalSample.from_families(self._families(data), self.specs.by_name, at)
            day += DAY
        return samples

    async def _by_day(self, report: str, entity: bool) -> dict[float, list[dict[str, Any]]]:
        """A 28-day report's records grouped by their `day` (entity records unwrapped from `day_totals`)."""
        out: dict[float, list[dict[str, Any]]] = defaultdict(list)
        answer = await self._links(report)
        if answer is not None:
            async for record in self._records(report, answer["download_links"]):
                for row in day_records(record) if entity else [record]:
                    if row.get("day") is not None:
                        out[fields.day(row, "day", DOWNLOAD_ENDPOINT, required=True)].append(row)
        return out


def _on(record: dict[str, Any], day: float) -> bool:
    """Whether a record is about `day` (a record without a day is taken to be)."""
    return record.get("day") is None or fields.day(record, "day", DOWNLOAD_ENDPOINT) == day


def _breakdown(
    specs: dict[tuple[str, str], MetricSpec],
    name: str,
    counters: Sequence[str],
    sums: dict[tuple[str, ...], dict[tuple[str, ...], Sums]],
    owner: list[str],
) -> list[Metric]:
    """Families for one breakdown; `sums` is {(): {key: Sums}}, or {(team_id, slug): {key: Sums}} per team."""
    families: list[Metric] = []
    for counter in counters:
        family = specs[(name, counter)].new()
        for team, tally in sums.items():
            for key in sorted(tally):
                if counter in tally[key]:
                    family.add_metric([*owner, *team, *key], tally[key][counter])
        families.append(family)
    return families
