"""The fields of GitHub's Copilot usage-metrics records and what the `copilot` collector makes of each.

Mapping as data: each table below names report fields (their paths: "a.b" steps into an object, "a[].b"
into an array's entries) and the metric each becomes; `copilot.py` builds its metric specs and its parsing
from these tables, and `report_schemas()` derives from them the fields each report is known to carry, for
the drift signal (`exporter.drift`). A documented field the collector deliberately does not export is in
SKIPPED (or USER_SKIPPED, for the per-user reports) with its reason, and nowhere else. Adding a field GitHub
documents is one entry here, plus the simulator and a golden.

The documented field list the tests hold these tables against is tests/testdata/copilot-report-fields.json
(with its sources and the date they were read).
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.drift import Schema

# Top-level activity counters of entity and user records, and of every breakdown entry.
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
ALL = tuple(COUNTERS)
NO_INTERACTIONS = ALL[1:]  # language entries carry no interaction count
ACTIVE_USERS: dict[str, str] = {
    "daily_active_users": "Users who used Copilot in the IDE on the reported day",
    "weekly_active_users": "Users who used Copilot in the IDE in the seven days ending on the reported day",
    "monthly_active_users": "Users who used Copilot in the IDE in the 28 days ending on the reported day",
    "monthly_active_chat_users": "Users who used Copilot Chat in the 28 days ending on the reported day",
    "monthly_active_agent_users": "Users who used IDE agent mode in the 28 days ending on the reported day",
    "daily_active_cli_users": "Users who used Copilot CLI on the reported day (not in the IDE active-user counts)",
    "daily_active_copilot_app_users": "Users who used the Copilot app on the reported day",
    "daily_active_vscode_agent_users": "Users who used the VS Code agents window on the reported day",
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
# Chat panel interactions by the mode selected: field -> `mode` label of github_copilot*_chat_panel_interactions.
CHAT_MODES: dict[str, str] = {
    "chat_panel_agent_mode": "agent",
    "chat_panel_ask_mode": "ask",
    "chat_panel_custom_mode": "custom",
    "chat_panel_edit_mode": "edit",
    "chat_panel_plan_mode": "plan",
    "chat_panel_unknown_mode": "unknown",
}
# Session surfaces, each an object of SESSION_FIGURES: {object: (metric prefix, what)}. Their use is in neither
# totals_by_ide nor totals_by_feature.
SURFACE_OBJECTS: dict[str, tuple[str, str]] = {
    "totals_by_cli": ("cli", "Copilot CLI"),
    "totals_by_copilot_app": ("copilot_app", "the Copilot app"),
    "totals_by_vscode_agent": ("vscode_agent", "the VS Code agents window"),
}
SESSION_FIGURES: dict[str, tuple[str, str]] = {
    "session_count": ("sessions", "sessions started"),
    "request_count": ("requests", "requests to Copilot (prompts and agentic follow-up calls)"),
    "prompt_count": ("prompts", "user prompts, commands or queries"),
    "token_usage.prompt_tokens_sum": ("prompt_tokens", "prompt tokens sent"),
    "token_usage.output_tokens_sum": ("output_tokens", "output tokens generated"),
}
SESSIONS = tuple(f"{o}.{f}" for o in SURFACE_OBJECTS for f in SESSION_FIGURES)  # "totals_by_cli.session_count", ...
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
# repos-1-day `pull_request_review_times[]` (human reviews only): {field: (metric suffix, what)}, minutes -> seconds.
REVIEW_TIMES: dict[str, tuple[str, str]] = {
    "median_minutes": ("pull_request_review_median_seconds", "Median time"),
    "p90_minutes": ("pull_request_review_p90_seconds", "90th percentile of the time"),
}
# User-row flags -> the `surface` label of the team and user figures; either agent flag means the cloud agent.
SURFACES: dict[str, tuple[str, ...]] = {
    "chat": ("used_chat",),
    "agent": ("used_agent",),
    "cli": ("used_cli",),
    "copilot_app": ("used_copilot_app",),
    "vscode_agent": ("used_vscode_agent",),
    "cloud_agent": ("used_copilot_cloud_agent", "used_copilot_coding_agent"),
    "code_review_active": ("used_copilot_code_review_active",),
    "code_review_passive": ("used_copilot_code_review_passive",),
}
# CLI customisation: {kind label: (array of the top-5 items, distinct count field)}; items hold interaction_count.
CUSTOMIZATIONS: dict[str, tuple[str, str]] = {
    kind: (f"totals_by_{kind}", f"distinct_{kind}_use_count")
    for kind in ("skill", "custom_agent", "mcp", "slash_cmd", "plugin")
}
CUSTOMIZATION_ITEM = "name"  # ASSUMPTION: the sources read do not name the item's key field
# Partner agent apps (totals_by_3rd_party_agent): keyed by the stable agent_id, the changeable agent_name a label.
PARTNER_AGENTS = "totals_by_3rd_party_agent"
PARTNER_COUNTERS: dict[str, tuple[str, str]] = {
    "user_initiated_interaction_count": ("interactions", "User-initiated interactions"),
    "session_count": ("sessions", "Sessions"),
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
    Breakdown("editor", "totals_by_ide", ("ide",), ("editor",), ALL, "by editor (IDE)"),
    Breakdown("feature", "totals_by_feature", ("feature",), ("feature",), ALL, "by Copilot feature"),
    Breakdown(
        "language",
        "totals_by_language_feature",
        ("language", "feature"),
        ("language", "feature"),
        NO_INTERACTIONS,
        "by language and feature",
    ),
    Breakdown(
        "model",
        "totals_by_model_feature",
        ("model", "feature"),
        ("model", "feature"),
        ALL,
        "by model and feature (chat and agent work; completions are not attributed to a model)",
    ),
    Breakdown(
        "language_model",
        "totals_by_language_model",
        ("language", "model"),
        ("language", "model"),
        NO_INTERACTIONS,
        "by language and model (chat and agent work)",
    ),
)
TEAM_BREAKDOWNS = tuple(b for b in BREAKDOWNS if b.name in ("editor", "language"))
# Per-user series (opt-in user_label) and team sums: these user-row figures, besides the surfaces and the phase.
USER_FIGURES = (*ALL, "ai_credits_used", *SESSIONS)

# Documented fields not exported, with the reason (every report).
SKIPPED: dict[str, str] = {
    "organization_id": "an id: the org label already names the owner",
    "enterprise_id": "an id: the enterprise label already names the owner",
    "report_start_day": "the 28-day window: each day_totals entry names its day",
    "report_end_day": "the 28-day window: each day_totals entry names its day",
    "created_at": "when GitHub wrote the 28-day report, not about usage",
    **{
        f"{o}.token_usage.avg_tokens_per_request": "a ratio of exported sums: divide in PromQL"
        for o in SURFACE_OBJECTS
    },
    "totals_by_ai_adoption_phase[].ai_adoption_phase.version": "one version of the phase model so far; the phase "
    "label is enough",
    # go-github's struct has these; the GitHub pages read do not: per-user averages of exported figures.
    "totals_by_ai_adoption_phase[].phase": "go-github's name of the phase (the docs' ai_adoption_phase.phase is read)",
    "totals_by_ai_adoption_phase[].phase_number": "go-github's number of the phase (ai_adoption_phase.phase is read)",
    "totals_by_ai_adoption_phase[].total_pull_requests_merged": "go-github only; pull_requests.total_merged is "
    "exported",
    **{
        f"totals_by_ai_adoption_phase[].avg_{name}": "a per-user average of exported figures (go-github only)"
        for name in (
            "user_initiated_interactions", "code_generation_activities", "code_acceptance_activities",
            "loc_added", "loc_deleted", "pull_requests_reviewed", "pull_requests_created", "pull_requests_merged",
            "pull_requests_median_minutes_to_merge", "pull_requests_minutes_to_review", "pull_requests_review_cycles",
        )
    },
    "repository_id": "repos-1-day: the repository label names it",
}
# Documented per-user fields not exported per user or team (the entity report has them), with the reason.
_PER_ENTITY = "exported per organisation/enterprise from the entity report; per user or team it would multiply series"
USER_SKIPPED: dict[str, str] = {
    "ai_adoption_phase.version": "one version of the phase model so far",
    "totals_by_cli.last_known_cli_version.cli_version": "one version per user: an unbounded label, nothing to alert on",
    "totals_by_cli.last_known_cli_version.sampled_at": "when the version above was seen",
    "totals_by_ide[].last_known_ide_version.ide_version": "one version per user: an unbounded label",
    "totals_by_ide[].last_known_ide_version.sampled_at": "when the version above was seen",
    "totals_by_ide[].last_known_plugin_version.plugin": "one version per user: an unbounded label",
    "totals_by_ide[].last_known_plugin_version.plugin_version": "one version per user: an unbounded label",
    "totals_by_ide[].last_known_plugin_version.sampled_at": "when the version above was seen",
    **{mode: _PER_ENTITY for mode in CHAT_MODES},
    **{f"{b.array}[].{f}": _PER_ENTITY for b in BREAKDOWNS if b not in TEAM_BREAKDOWNS for f in (*b.keys, *b.counters)},
    **{f"{PARTNER_AGENTS}[].{f}": _PER_ENTITY for f in ("agent_id", "agent_name", *PARTNER_COUNTERS)},
    **{f"{array}[].{f}": _PER_ENTITY for array, _ in CUSTOMIZATIONS.values() for f in (CUSTOMIZATION_ITEM,
                                                                                          "interaction_count")},
    **{distinct: _PER_ENTITY for _, distinct in CUSTOMIZATIONS.values()},
}


def entity_paths() -> set[str]:
    """The fields of an organization-1-day / enterprise-1-day record that become metrics."""
    paths = {"day", *ALL, *ACTIVE_USERS, *CHAT_MODES, *SESSIONS}
    for b in BREAKDOWNS:
        paths |= {f"{b.array}[].{f}" for f in (*b.keys, *b.counters)}
    paths |= {f"{PARTNER_AGENTS}[].{f}" for f in ("agent_id", "agent_name", *PARTNER_COUNTERS)}
    for array, distinct in CUSTOMIZATIONS.values():
        paths |= {f"{array}[].{CUSTOMIZATION_ITEM}", f"{array}[].interaction_count", distinct}
    paths |= {f"totals_by_ai_adoption_phase[].{f}" for f in ("ai_adoption_phase.phase", "total_engaged_users")}
    paths |= {f"pull_requests.{f}" for f in PULL_REQUESTS}
    by_type = "pull_requests.copilot_suggestions_by_comment_type[]"
    paths |= {f"{by_type}.{f}" for f in ("comment_type", *COMMENT_TYPE_COUNTERS)}
    return paths


def user_paths() -> set[str]:
    """The fields of a users-1-day row that become team or per-user figures."""
    paths = {"day", "user_id", "user_login", *USER_FIGURES, "ai_adoption_phase.phase", "ai_adoption_phase.phase_number"}
    paths |= {flag for flags in SURFACES.values() for flag in flags}
    for b in TEAM_BREAKDOWNS:
        paths |= {f"{b.array}[].{f}" for f in (*b.keys, *b.counters)}
    return paths


TEAM_PATHS = {"day", "user_id", "user_login", "team_id", "slug"}  # user_login: read by no figure, but harmless
REPO_PATHS = {
    "day",
    "repository",
    *(f"pull_requests.{f}" for f in PULL_REQUESTS),
    "pull_request_review_times[].stage",
    *(f"pull_request_review_times[].{f}" for f in REVIEW_TIMES),
}


def report_schemas() -> dict[str, Schema]:
    """What each report is known to carry (mapped or skipped), and the fields every record of it carries."""
    entity = entity_paths() | SKIPPED.keys()
    users = user_paths() | SKIPPED.keys() | USER_SKIPPED.keys()
    return {
        "entity-1-day": Schema(entity, required={"day", "code_generation_activity_count", "loc_added_sum"}),
        "entity-28-day": Schema(
            {p for p in SKIPPED} | {f"day_totals[].{p}" for p in entity},
            required={"day_totals[].day", "day_totals[].code_generation_activity_count"},
        ),
        "users-1-day": Schema(users, required={"day", "user_id", "user_login"}),
        "users-28-day": Schema(users, required={"day", "user_id", "user_login"}),
        "user-teams-1-day": Schema(TEAM_PATHS | SKIPPED.keys(), required={"user_id", "team_id", "slug"}),
        "repos-1-day": Schema(REPO_PATHS | SKIPPED.keys(), required={"day", "pull_requests.total_created"}),
    }
