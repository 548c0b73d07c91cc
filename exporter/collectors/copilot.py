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

Entity report fields, each its own metric (HELP names the field): the seven activity counters; the active-user
counts (IDE daily/weekly/monthly, chat, agent, `daily_active_cli_users`, the six `*_copilot_code_review_users`,
the three `*_active_copilot_cloud_agent_users`); `totals_by_cli` (sessions, requests, prompts, prompt and
output tokens; CLI use is in neither `totals_by_ide` nor `totals_by_feature`); `pull_requests` (the eleven
counts, and the three medians converted from minutes to seconds); breakdowns by editor (`totals_by_ide`),
feature, language x feature, model x feature, language x model, Copilot review comment type
(`pull_requests.copilot_suggestions_by_comment_type`) and AI adoption phase (`totals_by_ai_adoption_phase`).
Each breakdown is its own metric: summing one over its labels gives (about) the entity total; adding two
double-counts. Editors, languages, features, models, comment types and repositories beyond their limits are
summed into `other`. `repos-1-day` gives the same pull-request figures per repository, the busiest
`max_repositories` kept (medians cannot be summed, so `other` has none).

Teams follow GitHub's "Team-level metrics" recipe: users-1-day inner-joined with user-teams-1-day on
(user_id, day, team) and grouped by `team_id`; the slug is the `team` label (an enterprise report holds
enterprise and organisation teams whose slugs can collide). A member counts as active when they have a row
in the users report, which GitHub writes for any activity (IDE, CLI, code review, cloud agent), so CLI-only
members count. Teams under 5 seats are absent; a member of two teams counts in both. From the users' rows:
the core counters, `ai_credits_used` (in the enterprise-cloud example schema), CLI figures, users per surface
(`used_chat`, `used_agent`, `used_cli`, `used_copilot_cloud_agent` or its former name
`used_copilot_coding_agent`, `used_copilot_code_review_active` / `_passive`) and per `ai_adoption_phase`.
Per-user series are opt-in (`user_label`). Acceptance rates are left to PromQL.

Not exported, and why: `totals_by_cli.token_usage.avg_tokens_per_request` (a ratio of exported sums: divide in
PromQL); `last_known_ide_version`, `last_known_plugin_version`, `last_known_cli_version` (one version per user:
unbounded labels, and nothing to alert on); the adoption-phase averages (per-user averages of other exported
figures, field names not in the reference); `report_start_day` / `report_end_day` (the day gauge says which
day); ids (`enterprise_id`, `organization_id`, `user_id`: labels already name the owner).

ASSUMPTIONS (the OpenAPI description defines the report answers, not the NDJSON records; the fields follow
"Data available in Copilot usage metrics", "Example schema" and "Team-level metrics"): a 1-day entity file is
read as flat day records or as records holding a `day_totals` list (the documented 28-day shape); a
`totals_by_ai_adoption_phase` entry carries `ai_adoption_phase` (`{"phase", "version"}`) and
`total_engaged_users`; a repos-1-day row carries `repository` ("owner/name"; else `repository_name`, else the
id) and a `pull_requests` object. Where the pages and the description differ, the description wins: the
report list (it has `repos-1-day` and `users-28-day/latest`), the `day` parameter (required, `YYYY-MM-DD`)
and `report_day` (required in the answer). Parsing is defensive: unknown fields are ignored, and a missing,
null or non-numeric counter contributes nothing (a total nobody reported is not exported).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client.metrics_core import Metric

from exporter import logs
from exporter.collectors import fields
from exporter.collectors.base import NOTHING_OBSERVED, Cadence, Collector, HistoricalSample, Kind, Observed, Target
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

COUNTERS: dict[str, tuple[str, str]] = {
    "user_initiated_interaction_count": (
        "interactions",
        "User-initiated interactions: prompts users sent to Copilot (chat, inline chat, agent)",
    ),
    "code_generation_activity_count": (
        "code_generation_activities",
        "Code generation events (completions shown, code blocks generated)",
    ),
    "code_acceptance_activity_count": (
        "code_acceptance_activities",
        "Generated code users accepted (completions, apply, insert, copy button)",
    ),
    "loc_suggested_to_add_sum": (
        "lines_suggested_to_add",
        "Lines of code Copilot suggested to add (agent edits excluded)",
    ),
    "loc_suggested_to_delete_sum": ("lines_suggested_to_delete", "Lines of code Copilot suggested to delete"),
    "loc_added_sum": (
        "lines_added",
        "Lines of code added in the editor (accepted suggestions, applied blocks, agent edits)",
    ),
    "loc_deleted_sum": ("lines_deleted", "Lines of code deleted in the editor (agent edits)"),
}
CORE = (
    "user_initiated_interaction_count",
    "code_generation_activity_count",
    "code_acceptance_activity_count",
    "loc_suggested_to_add_sum",
    "loc_added_sum",
)
ACTIVE_USERS: dict[str, str] = {
    "daily_active_users": "Users who used Copilot in the IDE on the reported day",
    "weekly_active_users": "Users who used Copilot in the IDE in the seven days ending on the reported day",
    "monthly_active_users": "Users who used Copilot in the IDE in the 28 days ending on the reported day",
    "monthly_active_chat_users": "Users who used Copilot Chat in the 28 days ending on the reported day",
    "monthly_active_agent_users": "Users who used IDE agent mode in the 28 days ending on the reported day",
    "daily_active_cli_users": "Users who used Copilot CLI on the reported day (not in the IDE active-user counts)",
    "daily_active_copilot_code_review_users": "Users who requested a Copilot code review or applied one of its "
    "suggestions on the reported day",
    "weekly_active_copilot_code_review_users": "Users who actively used Copilot code review in the seven days "
    "ending on the reported day",
    "monthly_active_copilot_code_review_users": "Users who actively used Copilot code review in the 28 days "
    "ending on the reported day",
    "daily_passive_copilot_code_review_users": "Users whose pull requests Copilot code review was assigned to "
    "automatically, without active use, on the reported day",
    "weekly_passive_copilot_code_review_users": "Users with only automatic Copilot code reviews in the seven days "
    "ending on the reported day",
    "monthly_passive_copilot_code_review_users": "Users with only automatic Copilot code reviews in the 28 days "
    "ending on the reported day",
    "daily_active_copilot_cloud_agent_users": "Users who used the Copilot cloud agent on the reported day",
    "weekly_active_copilot_cloud_agent_users": "Users who used the Copilot cloud agent in the seven days ending "
    "on the reported day",
    "monthly_active_copilot_cloud_agent_users": "Users who used the Copilot cloud agent in the 28 days ending on "
    "the reported day",
}
# totals_by_cli: {field path: (metric suffix, what)}. CLI use is in neither totals_by_ide nor totals_by_feature.
CLI: dict[str, tuple[str, str]] = {
    "session_count": ("cli_sessions", "Copilot CLI sessions started"),
    "request_count": ("cli_requests", "Requests to Copilot from the CLI (prompts and agentic follow-up calls)"),
    "prompt_count": ("cli_prompts", "User prompts, commands or queries in Copilot CLI sessions"),
    "token_usage.prompt_tokens_sum": ("cli_prompt_tokens", "Prompt tokens sent by Copilot CLI requests"),
    "token_usage.output_tokens_sum": ("cli_output_tokens", "Output tokens generated for Copilot CLI requests"),
}
# pull_requests: {field: (metric suffix, what, scale)}; medians are minutes in the report, seconds here.
PULL_REQUESTS: dict[str, tuple[str, str, float]] = {
    "total_created": ("pull_requests_created", "Pull requests created", 1),
    "total_reviewed": ("pull_requests_reviewed", "Pull requests reviewed (once per pull request and day)", 1),
    "total_merged": ("pull_requests_merged", "Pull requests merged", 1),
    "total_created_by_copilot": ("pull_requests_created_by_copilot", "Pull requests Copilot (cloud agent) created", 1),
    "total_reviewed_by_copilot": ("pull_requests_reviewed_by_copilot", "Pull requests Copilot code review reviewed", 1),
    "total_merged_created_by_copilot": (
        "pull_requests_merged_created_by_copilot",
        "Pull requests created by Copilot and merged",
        1,
    ),
    "total_merged_reviewed_by_copilot": (
        "pull_requests_merged_reviewed_by_copilot",
        "Pull requests reviewed by Copilot code review and merged",
        1,
    ),
    "total_suggestions": ("pull_request_review_suggestions", "Pull request review suggestions, any author", 1),
    "total_applied_suggestions": (
        "pull_request_review_applied_suggestions",
        "Pull request review suggestions applied, any author",
        1,
    ),
    "total_copilot_suggestions": (
        "pull_request_copilot_review_suggestions",
        "Pull request review suggestions by Copilot",
        1,
    ),
    "total_copilot_applied_suggestions": (
        "pull_request_copilot_review_applied_suggestions",
        "Pull request review suggestions by Copilot that were applied",
        1,
    ),
    "median_minutes_to_merge": (
        "pull_request_median_time_to_merge_seconds",
        "Median time from creation to merge of the pull requests merged",
        60,
    ),
    "median_minutes_to_merge_copilot_authored": (
        "pull_request_copilot_authored_median_time_to_merge_seconds",
        "Median time from creation to merge of the pull requests Copilot created and that were merged",
        60,
    ),
    "median_minutes_to_merge_copilot_reviewed": (
        "pull_request_copilot_reviewed_median_time_to_merge_seconds",
        "Median time from creation to merge of the merged pull requests Copilot code review reviewed",
        60,
    ),
}
MEDIANS = tuple(f for f in PULL_REQUESTS if f.startswith("median_"))
REPOSITORY_WEIGHT = ("total_created", "total_reviewed", "total_merged")
COMMENT_TYPE_COUNTERS = ("total_copilot_suggestions", "total_copilot_applied_suggestions")
# User-row flags -> the `surface` label of the team figures; either agent flag means the cloud agent.
SURFACES: dict[str, tuple[str, ...]] = {
    "chat": ("used_chat",),
    "agent": ("used_agent",),
    "cli": ("used_cli",),
    "cloud_agent": ("used_copilot_cloud_agent", "used_copilot_coding_agent"),
    "code_review_active": ("used_copilot_code_review_active",),
    "code_review_passive": ("used_copilot_code_review_passive",),
}


@dataclass(frozen=True)
class Breakdown:
    """One of the report's `totals_by_*` arrays and the labels its entries become."""

    name: str
    array: str
    keys: tuple[str, ...]  # fields of an entry
    labels: tuple[str, ...]  # their label names
    counters: tuple[str, ...]
    what: str


BREAKDOWNS = (
    Breakdown("editor", "totals_by_ide", ("ide",), ("editor",), CORE, "by editor (IDE)"),
    Breakdown("feature", "totals_by_feature", ("feature",), ("feature",), CORE, "by Copilot feature"),
    Breakdown(
        "language",
        "totals_by_language_feature",
        ("language", "feature"),
        ("language", "feature"),
        CORE[1:],
        "by language and feature",
    ),
    Breakdown(
        "model",
        "totals_by_model_feature",
        ("model", "feature"),
        ("model", "feature"),
        CORE,
        "by model and feature (chat and agent work; completions are not attributed to a model)",
    ),
    Breakdown(
        "language_model",
        "totals_by_language_model",
        ("language", "model"),
        ("language", "model"),
        CORE[1:],
        "by language and model (chat and agent work)",
    ),
)
TEAM_BREAKDOWNS = tuple(b for b in BREAKDOWNS if b.name in ("editor", "language"))


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
    """Every metric of one kind, keyed by report field."""

    day: MetricSpec
    totals: dict[str, MetricSpec]  # COUNTERS, ACTIVE_USERS, "cli.<path>", "pr.<field>"
    breakdowns: dict[tuple[str, str], MetricSpec]  # (breakdown name, counter)
    comment_types: dict[str, MetricSpec]
    adoption: MetricSpec
    repositories: dict[str, MetricSpec]
    team_totals: dict[str, MetricSpec]  # CORE and "cli.<path>"
    team_active: MetricSpec
    team_surfaces: MetricSpec
    team_phases: MetricSpec
    team_breakdowns: dict[tuple[str, str], MetricSpec]
    user_totals: dict[str, MetricSpec]
    by_name: dict[str, MetricSpec] = field(default_factory=dict)


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
    team = [owner, *TEAM_LABELS]

    def spec(name: str, description: str, labels: Sequence[str], source: str) -> MetricSpec:
        return metric(__name__, f"{p}{name}", "gauge", description, labels, source)

    totals = {f: spec(suffix, f"{what} {phrase} {LATEST_DAY}.", [owner], f"{entity}: {f}") for f, (suffix, what) in
              COUNTERS.items()}
    totals |= {f: spec(f, f"{what} {phrase}.", [owner], f"{entity}: {f}") for f, what in ACTIVE_USERS.items()}
    totals |= {
        f"cli.{f}": spec(suffix, f"{what} {phrase} {LATEST_DAY}.", [owner], f"{entity}: totals_by_cli.{f}")
        for f, (suffix, what) in CLI.items()
    }
    totals |= {
        f"pr.{f}": spec(
            suffix,
            f"{what} {phrase} {LATEST_DAY}.{' Minutes in the report, seconds here.' if scale != 1 else ''}",
            [owner],
            f"{entity}: pull_requests.{f}",
        )
        for f, (suffix, what, scale) in PULL_REQUESTS.items()
    }
    specs = Specs(
        day=spec(
            "report_day_timestamp_seconds",
            f"Start (UTC midnight) of the day the github_{p.removeprefix('github_')}* figures describe {phrase}; "
            "it stays on the previous day while GitHub answers 204 for a newer one.",
            [owner],
            f"GET {kind.route(kind.entity_report)}: report_day",
        ),
        totals=totals,
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
        repositories={
            f: spec(
                f"repository_{suffix}",
                f"{what} in one repository {phrase}, {LATEST_DAY}. The busiest max_repositories repositories; "
                "the rest summed into repository=\"other\" (medians are not summed, so other has none).",
                [owner, "repository"],
                f"{repos}: pull_requests.{f}",
            )
            for f, (suffix, what, _) in PULL_REQUESTS.items()
        },
        team_totals={
            f: spec(
                f"team_{COUNTERS[f][0]}",
                f"{COUNTERS[f][1]} by the team's members, {LATEST_DAY}. {team_note}.",
                team,
                f"{joined}: {f}",
            )
            for f in CORE
        }
        | {
            "ai_credits_used": spec(
                "team_ai_credits",
                f"AI credits the team's members used, {LATEST_DAY}. {team_note}.",
                team,
                f"{joined}: ai_credits_used",
            )
        }
        | {
            f"cli.{f}": spec(
                f"team_{suffix}",
                f"{what} by the team's members, {LATEST_DAY}. {team_note}.",
                team,
                f"{joined}: totals_by_cli.{f}",
            )
            for f, (suffix, what) in CLI.items()
        },
        team_active=spec(
            "team_active_users",
            f"Team members with any Copilot activity (IDE, CLI, code review, cloud agent) {LATEST_DAY}: "
            f"distinct user_id of the join. {team_note}.",
            team,
            f"{joined}: distinct user_id",
        ),
        team_surfaces=spec(
            "team_surface_active_users",
            f"Team members who used a Copilot surface {LATEST_DAY} (surface chat, agent, cli, cloud_agent, "
            f"code_review_active, code_review_passive). {team_note}.",
            [*team, "surface"],
            f"{joined}: used_chat, used_agent, used_cli, used_copilot_cloud_agent / used_copilot_coding_agent, "
            "used_copilot_code_review_active, used_copilot_code_review_passive",
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
        user_totals={
            f: spec(
                f"user_{COUNTERS[f][0]}",
                f"{COUNTERS[f][1]} by one user {phrase}, {LATEST_DAY}. "
                "Only with collectors.copilot.user_label set; the most active max_users users.",
                [owner, "user"],
                f"{users}: {f}",
            )
            for f in CORE
        },
    )
    every = [
        specs.day,
        specs.adoption,
        specs.team_active,
        specs.team_surfaces,
        specs.team_phases,
        *specs.totals.values(),
        *specs.breakdowns.values(),
        *specs.comment_types.values(),
        *specs.repositories.values(),
        *specs.team_totals.values(),
        *specs.team_breakdowns.values(),
        *specs.user_totals.values(),
    ]
    specs.by_name.update({s.name: s for s in every})
    return specs


SPECS = {kind.name: _define(kind) for kind in KINDS}


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
    """The record's CLI and pull-request figures under "cli.<path>" / "pr.<field>" keys (medians in seconds)."""
    out: dict[str, Any] = {}
    cli = record.get("totals_by_cli")
    for path in CLI:
        out[f"cli.{path}"] = nested(cli, path)
    prs = record.get("pull_requests")
    for name, (_, _, scale) in PULL_REQUESTS.items():
        value = number(nested(prs, name))
        out[f"pr.{name}"] = None if value is None else value * scale
    return out


def phase_of(value: Any) -> str:
    """The phase of an `ai_adoption_phase` value: an object with `phase` (and `version`), or the phase itself."""
    if isinstance(value, dict):
        value = value.get("phase")
    if isinstance(value, bool) or value is None or value == "":
        return UNKNOWN
    return str(int(value)) if isinstance(value, int | float) else str(value)


TeamKey = tuple[str, str]  # (team_id, slug)
FLAT_CLI = tuple(f"cli.{p}" for p in CLI)
FLAT_PR = tuple(f"pr.{f}" for f in PULL_REQUESTS)


@dataclass
class DayData:
    """One day's aggregates for one organisation or enterprise, before they become metric families."""

    day: float
    totals: Sums = field(default_factory=dict)
    breakdowns: dict[str, Tally] = field(default_factory=lambda: {b.name: Tally() for b in BREAKDOWNS})
    comment_types: Tally = field(default_factory=Tally)
    adoption: dict[str, float] = field(default_factory=dict)
    repositories: Tally = field(default_factory=Tally)
    team_totals: dict[TeamKey, Sums] = field(default_factory=lambda: defaultdict(dict))
    team_active: dict[TeamKey, int] = field(default_factory=lambda: defaultdict(int))
    team_surfaces: dict[TeamKey, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    team_phases: dict[TeamKey, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    team_breakdowns: dict[TeamKey, dict[str, Tally]] = field(
        default_factory=lambda: defaultdict(lambda: {b.name: Tally() for b in TEAM_BREAKDOWNS})
    )
    users: dict[str, Sums] = field(default_factory=dict)

    def add_entity(self, record: dict[str, Any]) -> None:
        add(self.totals, record, [*COUNTERS, *ACTIVE_USERS])
        add(self.totals, flat(record), [*FLAT_CLI, *FLAT_PR])
        for b in BREAKDOWNS:
            self.breakdowns[b.name].add_entries(record.get(b.array), b.keys, b.counters)
        by_type = nested(record, "pull_requests.copilot_suggestions_by_comment_type")
        self.comment_types.add_entries(by_type, ("comment_type",), COMMENT_TYPE_COUNTERS)
        for entry in record.get("totals_by_ai_adoption_phase") or ():
            engaged = number(entry.get("total_engaged_users")) if isinstance(entry, dict) else None
            if engaged is not None:
                phase = phase_of(entry.get("ai_adoption_phase", entry.get("phase")))
                self.adoption[phase] = self.adoption.get(phase, 0.0) + engaged

    def add_repository(self, row: dict[str, Any]) -> None:
        prs = row.get("pull_requests")
        if isinstance(prs, dict):
            entry = {**prs, "repository": repository_name(row)}
            entry.update({m: None if (v := number(prs.get(m))) is None else v * 60 for m in MEDIANS})
            self.repositories.add_entries([entry], ("repository",), tuple(PULL_REQUESTS))

    def add_member(self, team: TeamKey, row: dict[str, Any]) -> None:
        """One users-report row of a member of `team` (GitHub's recipe: a row means activity that day)."""
        add(self.team_totals[team], row, [*CORE, "ai_credits_used"])
        add(self.team_totals[team], flat(row), FLAT_CLI)
        self.team_active[team] += 1
        surfaces = self.team_surfaces[team]
        for surface, flags in SURFACES.items():
            surfaces[surface] = surfaces.get(surface, 0) + any(row.get(f) is True for f in flags)
        phase = phase_of(row.get("ai_adoption_phase"))
        self.team_phases[team][phase] = self.team_phases[team].get(phase, 0) + 1
        for b in TEAM_BREAKDOWNS:
            self.team_breakdowns[team][b.name].add_entries(row.get(b.array), b.keys, b.counters)


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

    async def _records(self, links: Sequence[str]) -> AsyncIterator[dict[str, Any]]:
        """Every JSON object in the report files, streamed line by line (a file may also hold a JSON array)."""
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
                            yield record

    async def _rows(self, report: str, day: float) -> list[dict[str, Any]] | None:
        """A 1-day report's records for `day` (rows naming another day are dropped), or None on 204."""
        answer = await self._links(report, day)
        if answer is None:
            return None
        return [row async for row in self._records(answer["download_links"]) if _on(row, day)]

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
            entity = [r async for record in self._records(answer["download_links"]) for r in day_records(record)]
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
        users: dict[str, Sums] = {}
        for row in user_rows:
            user_id = row.get("user_id")
            if not _on(row, day):
                continue
            for team in members.get(user_id, ()) if isinstance(user_id, int) else ():
                data.add_member(team, row)
            label = self._user_label(row)
            if label is not None:
                add(users.setdefault(label, {}), row, CORE)
        for team in {t for ts in members.values() for t in ts}:  # members without a row still make a team
            data.team_totals.setdefault(team, {})
            data.team_active.setdefault(team, 0)
        ranked = sorted(
            users.items(),
            key=lambda kv: (
                -(kv[1].get("user_initiated_interaction_count", 0) + kv[1].get("code_generation_activity_count", 0)),
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
                if name in data.users[user]:
                    family.add_metric([owner, user], data.users[user][name])
            families.append(family)
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
            async for record in self._records(answer["download_links"]):
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
