"""Which metric each example value of GitHub's description must arrive in, read from the metrics' own definitions.

Every metric names its GitHub source in its HELP (exporter/metricspec.py): `GET /route: field`, where a
field may be a template (`ghe_stats.issues.{state}_issues`: the `state` label holds the part) and may say how
the value is turned into the metric (`/ 100`, `(sum of buckets)`). So for each example value of an operation
the exporter called, the metrics whose source names that operation and field are known without a hand-kept
table, and the value must be in one of them, under the labels the template names:

- numbers and booleans (1/0), ISO-8601 timestamps and dates (epoch seconds), `N days` (seconds): as a
  sample's value; every element of a list must arrive, unless PARTIAL says only some do and why;
- strings a metric names as its source, and ids and flags an `_info` metric names: as a label value
  (`1`, `true`) of a sample that is not 0.

A value whose metric counts or reshapes it is listed in DERIVED with how. A number, boolean or timestamp no
metric names must be listed in NOT_EXPORTED with the reason; an exact
entry there that a metric does name fails too, so the list stays true.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from exporter.metricspec import REGISTERED, MetricSpec

Samples = dict[str, list[tuple[dict[str, str], float]]]

# (operation glob, field glob) -> why the exporter leaves the value out.
NOT_EXPORTED: dict[tuple[str, str], str] = {
    ("GET /orgs/{org}/repos", "*"): "discovery only: full_name, archived, fork and permissions.push choose the "
                                    "repositories (github_repo_traffic_filtered_repositories counts the rest)",
    ("GET /users/{username}", "*"): "only the id of the login configured is read (github_api_insights_user_info)",
    ("GET /orgs/{org}/insights/api/time-stats/*", "timestamp"):
        "a followed user's or actor's buckets are summed; the org's newest bucket is the data's timestamp",
    ("GET /orgs/{org}/insights/api/user-stats/{user_id}", "*_count"):
        "ranks the user's actors (top_actors); the followed actors' counts come from their time-stats",
    ("GET /orgs/{org}/insights/api/*", "*_id"): "identifiers: labels of other metrics, not values",
    ("GET /orgs/{org}/insights/api/user-stats/{user_id}", "oauth_application_id"):
        "the actor's own id (actor_id) identifies it; the OAuth app's id is not a label",
    ("GET /repos/{owner}/{repo}/traffic/*", "*[].timestamp"):
        "only the newest complete day is exported (github_repo_traffic_day_timestamp_seconds)",
    ("GET /*/copilot/billing/seats", "seats[].*"): "per-seat details are summed into counts by state, editor "
                                                  "and plan; user ids and dates would be unbounded labels",
    ("GET /orgs/{org}/copilot/billing", "seat_breakdown.total"): "the same seats by state: github_copilot_seats",
    ("GET /orgs/{org}/copilot/billing", "seat_breakdown.pending_cancellation"):
        "github_copilot_seats{state=pending_cancellation} counts them from the seat list",
    ("GET /*/copilot/metrics/reports/*", "report_day"): "the entity report's report_day is the day gauge; the "
                                                        "other reports are asked for that same day",
    ("GET /*/settings/billing/*usage*", "timePeriod.year"): "github_billing_month_start_timestamp_seconds holds "
                                                            "the period asked for",
    ("GET /*/settings/billing/*usage*", "usageItems[].pricePerUnit"): "a price list, not usage",
    ("GET /*/settings/billing/*usage*", "usageItems[].grossQuantity"): "netQuantity is exported",
    ("GET /*/settings/billing/*usage*", "usageItems[].discountQuantity"): "netQuantity is exported",
    ("GET /*/settings/billing/budgets", "has_next_page"): "pagination",
    ("GET /*/settings/billing/budgets", "total_count"): "pagination",
    ("* /enterprises/{enterprise}/settings/billing/reports*", "*_date"):
        "the period asked for: an answer for another period is refused, not exported",
    ("GET /*/settings/billing/budgets", "budgets[].budget_alerting.*"): "alert recipients are not usage",
    ("GET /*/settings/billing/budgets", "budgets[].prevent_further_usage"): "a label of github_billing_budget_info",
    ("GET /enterprises/{enterprise}/settings/billing/cost-centers", "costCenters[].ai_credit_pool_enabled"):
        "the pool's target and applied credits are exported where a pool exists",
    ("* /enterprises/{enterprise}/settings/billing/reports", "*created_at"):
        "github_billing_export_last_completed_timestamp_seconds holds the completed export's (checked on GET "
        "/reports/{report_id})",
}
# (operation glob, field glob) -> why a value a metric names is turned into something else than its value or label.
DERIVED: dict[tuple[str, str], str] = {
    ("GET /enterprise-installation/{enterprise_or_org}/server-statistics", "packages_stats.ecosystems[].enabled"):
        "GitHub's TRUE/FALSE/READONLY is the state label enabled/disabled/read_only, 1 on the current one",
    ("GET /*/copilot/billing/seats", "seats[].last_activity_at"):
        "counted: seats without activity for collectors.copilot_seats.inactive_days",
    ("GET /*/copilot/billing/seats", "seats[].last_activity_editor"): "the editor's name (before the first /) "
                                                                      "is the label, not the versions",
    ("GET /*/copilot/billing/seats", "seats[].pending_cancellation_date"):
        "counted: github_copilot_seats{state=pending_cancellation}",
}
# (operation glob, field glob) -> why only some elements of a list arrive.
PARTIAL: dict[tuple[str, str], str] = {
    ("GET /repos/{owner}/{repo}/traffic/*", "*[].*"): "the day series show the newest complete day only",
    ("* /enterprises/{enterprise}/settings/billing/reports*", "*status"):
        "the state of the export of each configured report type; the others are someone else's",
    ("GET /orgs/{org}/insights/api/time-stats*", "timestamp"):
        "github_api_insights_data_latest_timestamp_seconds is the newest bucket with requests",
}
_FIELD = re.compile(r"\{(\w+)\}")
_ROUTE = re.compile(r"\b(GET|POST) (/[^\s,]+)")
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d))?$")
_DAYS = re.compile(r"^(\d+) days?$")


@dataclass(frozen=True)
class Source:
    """One field a metric names: a regex over example field paths, and how the value is transformed."""

    spec: MetricSpec
    field: re.Pattern[str]
    per_cent: bool
    summed: bool


def _route_pattern(route: str) -> re.Pattern[str]:
    route = route.split("?", 1)[0]
    out = ""
    for part in re.split(r"(\{[^}]*\})", route):
        if part.startswith("{") and "|" in part:
            out += "(?:" + "|".join(map(re.escape, part[1:-1].split("|"))) + ")"
        elif part.startswith("{"):
            out += r"\{[^}]+\}"
        else:
            out += re.escape(part)
    return re.compile(out)


def _field_pattern(field: str) -> re.Pattern[str]:
    """A source field as a regex over example field paths; `budget_amount` also matches `budgets[].budget_amount`
    (HELP texts name a field from the item it is in)."""
    escaped = re.escape(field).replace(r"\{", "{").replace(r"\}", "}")
    return re.compile(r"(?:.*[.\]])?" + _FIELD.sub(lambda m: f"(?P<{m.group(1)}>[A-Za-z0-9_]+)", escaped))


def sources(operation: str) -> list[Source]:
    """Every (metric, field) whose HELP source names `operation` ("GET /path/{template}")."""
    method, path = operation.split(" ", 1)
    out = []
    for spec in REGISTERED:
        for clause in spec.source.split("; "):
            if ": " not in clause:
                continue
            routes, fields = clause.rsplit(": ", 1)
            if not any(m == method and _route_pattern(r).fullmatch(path) for m, r in _ROUTE.findall(routes)):
                continue
            for field in fields.split(", "):
                name = field.split(" ", 1)[0]
                out.append(Source(spec, _field_pattern(name), "/ 100" in field, "(sum of" in field))
    return out


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(field path, value) of every scalar: `a.b[].c`; a list at the top is the items' fields."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from leaves(sub, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item, f"{path}[]" if path else "")
    else:
        yield path, value


def number(value: Any) -> float | None:
    """The value as a metric would hold it; None for a string that is not a time, date or number of days."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _TIMESTAMP.match(value):
        text = value if "T" in value else value + "T00:00:00Z"
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()
    if isinstance(value, str) and (days := _DAYS.match(value)):
        return int(days.group(1)) * 86400.0
    return None


def _listed(table: dict[tuple[str, str], str], operation: str, field: str) -> str | None:
    return next((why for (op, f), why in table.items()
                 if fnmatch.fnmatchcase(operation, op) and fnmatch.fnmatchcase(field, f)), None)


def _found(source: Source, field: str, value: Any, samples: Samples) -> bool:
    match = source.field.fullmatch(field)
    if match is None:
        return False
    labels = match.groupdict()
    wanted = number(value)
    if source.per_cent and isinstance(value, str):
        wanted = float(value) / 100
    for sample_labels, sample_value in samples.get(source.spec.exposed_name, []):
        if any(sample_labels.get(k) != v for k, v in labels.items()):
            continue
        if wanted is not None and abs(sample_value - wanted) <= 1e-9 * max(1.0, abs(wanted)):
            return True
        shown = str(value).lower() if isinstance(value, bool) else str(value)  # a flag, an id or a name
        if sample_value != 0 and shown in sample_labels.values():
            return True
    return False


def check(operation: str, example: Any, samples: Samples) -> tuple[int, list[str]]:
    """How many example values were checked, and what did not arrive where the metrics' sources say."""
    candidates = sources(operation)
    groups: dict[str, list[Any]] = {}
    for field, value in leaves(example):
        if value is not None:
            groups.setdefault(field, []).append(value)
    checked, problems = 0, []
    for field, values in groups.items():
        named = [s for s in candidates if s.field.fullmatch(field)]
        measurable = [v for v in values if number(v) is not None]
        if not named:
            if measurable and _listed(NOT_EXPORTED, operation, field) is None:
                problems.append(f"{field} = {measurable[0]!r}: no metric names it as its source, and NOT_EXPORTED "
                                "does not say why")
            continue
        if (operation, field) in NOT_EXPORTED:
            problems.append(f"{field}: NOT_EXPORTED says {NOT_EXPORTED[operation, field]!r}, but "
                            f"{named[0].spec.name} names it")
            continue
        if _listed(DERIVED, operation, field) is not None:
            continue
        checked += len(values)
        summed = [s for s in named if s.summed]
        if summed and measurable and any(_found(s, field, sum(map(number, measurable)), samples)  # type: ignore[arg-type]
                                         for s in summed):
            continue
        arrived = [v for v in values if any(_found(s, field, v, samples) for s in named)]
        partial = _listed(PARTIAL, operation, field)
        if (partial is None and len(arrived) < len(values)) or not arrived:
            missing = [v for v in values if v not in arrived]
            problems.append(f"{field} = {missing[0]!r} is in none of {sorted({s.spec.exposed_name for s in named})}")
    return checked, problems
