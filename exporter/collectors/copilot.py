"""Copilot usage metrics from GitHub's daily reports, for organisations and enterprises.

Source: GET /orgs/{org}/copilot/metrics/reports/{organization-1-day,users-1-day,user-teams-1-day,
organization-28-day/latest} and the /enterprises/{enterprise}/copilot/metrics/reports/ equivalents
("View Organization/Enterprise Copilot Metrics" permission, or read:org / read:enterprise). Each answers
with signed links to NDJSON files, downloaded without credentials; 204 means the day is not processed yet.

    # HELP github_copilot_code_generation_activities Code generation events ... on the latest reported day. ...
    # TYPE github_copilot_code_generation_activities gauge
    github_copilot_code_generation_activities{org="octo-demo"} 1234
    github_copilot_editor_code_generation_activities{org="octo-demo",editor="vscode"} 812
    github_copilot_language_code_generation_activities{org="octo-demo",language="python",feature="code_completion"} 300
    github_copilot_model_user_initiated_interactions{org="octo-demo",model="gpt-4.1",feature="chat_panel_ask_mode"} 41
    github_copilot_team_code_acceptance_activities{org="octo-demo",team="platform"} 97
    github_copilot_report_day_timestamp_seconds{org="octo-demo"} 1.7265312e+09

Every value is a gauge for ONE day, the newest day GitHub has processed (usually yesterday, UTC):
`github_copilot_report_day_timestamp_seconds` says which. The day's figures are fetched once and served
from memory until the next day is ready; while GitHub answers 204 for the newest day, the previous day
stays. Enterprise figures use the `github_copilot_enterprise_` prefix and an `enterprise` label.

Breakdowns come from the entity report's arrays: by editor (`totals_by_ide`), by feature
(`totals_by_feature`), by language and feature (`totals_by_language_feature`) and by model and feature
(`totals_by_model_feature`, chat and agent work only). Each breakdown is its own metric: summing one over
its labels gives (about) the entity total; adding two breakdowns together double-counts. Team figures
join the users report with the user-teams report (GitHub publishes no team report; teams under 5 seats
are absent); a member of two teams counts in both. Per-user series are opt-in (`user_label`). Editors,
languages, features and models beyond `max_label_values` are summed into `other`. Acceptance rates are
left to PromQL.

ASSUMPTION: the OpenAPI description does not define the NDJSON records. The fields read here follow
GitHub's "Data available in Copilot usage metrics", "Example schema" and "Team-level metrics" pages:
counters `user_initiated_interaction_count`, `code_generation_activity_count`,
`code_acceptance_activity_count`, `loc_suggested_to_add_sum`, `loc_suggested_to_delete_sum`,
`loc_added_sum`, `loc_deleted_sum`; entity records also `daily_active_users`, `weekly_active_users`,
`monthly_active_users`, `monthly_active_chat_users`, `monthly_active_agent_users`; user rows `user_id`,
`user_login`; user-team rows `user_id`, `team_id`, `slug`. A 1-day entity file is read either as flat
day records or as records holding a `day_totals` list (the documented 28-day shape). Parsing is
defensive: unknown fields are ignored, and a missing, null or non-numeric counter contributes nothing
(a total nobody reported is not exported).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import structlog
from prometheus_client.metrics_core import Metric

from exporter import logs
from exporter.collectors.base import Collector, HistoricalSample
from exporter.github.client import DOWNLOAD_ENDPOINT, GitHubClient
from exporter.github.errors import MalformedResponseError
from exporter.github.streams import capped_lines
from exporter.metricspec import MetricSpec, metric
from exporter.settings import CopilotSettings, Settings

log = structlog.get_logger(__name__)

FAMILY = "copilot"
DAY = 86400
OTHER = "other"  # label value for editors, languages, features and models beyond max_label_values
UNKNOWN = "unknown"  # label value when a record does not name its editor, language, feature or model
ENTERPRISE_PREFIX = "enterprise:"  # targets of enterprises; plain names are organisations

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
    "daily_active_users": "Users who used Copilot on the reported day",
    "weekly_active_users": "Users who used Copilot in the seven days ending on the reported day",
    "monthly_active_users": "Users who used Copilot in the 28 days ending on the reported day",
    "monthly_active_chat_users": "Users who used Copilot Chat in the 28 days ending on the reported day",
    "monthly_active_agent_users": "Users who used Copilot agent mode in the 28 days ending on the reported day",
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
)
TEAM_BREAKDOWNS = tuple(b for b in BREAKDOWNS if b.name in ("editor", "language"))


@dataclass(frozen=True)
class Kind:
    """Organisation or enterprise: where its reports live and how its metrics are named."""

    name: str  # "organization" or "enterprise"
    prefix: str
    label: str
    base: str  # route prefix
    entity_report: str
    phrase: str

    def route(self, report: str) -> str:
        return f"{self.base}/{report}"


ORG = Kind(
    "organization", "github_copilot_", "org", "/orgs/{org}/copilot/metrics/reports", "organization-1-day", "in the org"
)
ENTERPRISE = Kind(
    "enterprise",
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


@dataclass(frozen=True)
class Specs:
    """Every metric of one kind, keyed by report field."""

    day: MetricSpec
    totals: dict[str, MetricSpec]
    active: dict[str, MetricSpec]
    breakdowns: dict[tuple[str, str], MetricSpec]  # (breakdown name, counter)
    team_totals: dict[str, MetricSpec]
    team_active: MetricSpec
    team_breakdowns: dict[tuple[str, str], MetricSpec]
    user_totals: dict[str, MetricSpec]
    by_name: dict[str, MetricSpec] = field(default_factory=dict)


def _define(kind: Kind) -> Specs:
    p, owner, phrase = kind.prefix, kind.label, kind.phrase
    entity = f"GET {kind.route(kind.entity_report)} NDJSON"
    users = f"GET {kind.route('users-1-day')} NDJSON"
    joined = f"{users} joined on user_id with GET {kind.route('user-teams-1-day')} NDJSON (slug)"
    team_note = "Team members' sum (a member of two teams counts in both; teams under 5 seats are absent)"

    def spec(name: str, description: str, labels: Sequence[str], source: str) -> MetricSpec:
        return metric(FAMILY, f"{p}{name}", "gauge", description, labels, source)

    specs = Specs(
        day=spec(
            "report_day_timestamp_seconds",
            f"Start (UTC midnight) of the day the github_{p.removeprefix('github_')}* figures describe {phrase}; "
            "it stays on the previous day while GitHub answers 204 for a newer one.",
            [owner],
            f"GET {kind.route(kind.entity_report)}: report_day",
        ),
        totals={
            f: spec(suffix, f"{what} {phrase} {LATEST_DAY}.", [owner], f"{entity}: {f}")
            for f, (suffix, what) in COUNTERS.items()
        },
        active={f: spec(f, f"{what} {phrase}.", [owner], f"{entity}: {f}") for f, what in ACTIVE_USERS.items()},
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
        team_totals={
            f: spec(
                f"team_{COUNTERS[f][0]}",
                f"{COUNTERS[f][1]} by the team's members, {LATEST_DAY}. {team_note}.",
                [owner, "team"],
                f"{joined}: {f}",
            )
            for f in CORE
        },
        team_active=spec(
            "team_active_users",
            f"Team members with Copilot activity {LATEST_DAY}. {team_note}.",
            [owner, "team"],
            f"{joined}: rows per user_id",
        ),
        team_breakdowns={
            (b.name, f): spec(
                f"team_{b.name}_{COUNTERS[f][0]}",
                f"{COUNTERS[f][1]} by the team's members {b.what}, {LATEST_DAY}. {team_note}.",
                [owner, "team", *b.labels],
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
        specs.team_active,
        *specs.totals.values(),
        *specs.active.values(),
        *specs.breakdowns.values(),
        *specs.team_totals.values(),
        *specs.team_breakdowns.values(),
        *specs.user_totals.values(),
    ]
    specs.by_name.update({s.name: s for s in every})
    return specs


SPECS = {kind.name: _define(kind) for kind in KINDS}


# -- parsing ----------------------------------------------------------------------------------------


def number(value: Any) -> float | None:
    """A count from a report, or None for a missing, null or non-numeric value."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def label_value(value: Any) -> str:
    return value if isinstance(value, str) and value else UNKNOWN


def day_start(text: Any, endpoint: str) -> float:
    """Epoch seconds of a `YYYY-MM-DD` day's UTC midnight."""
    try:
        return datetime.combine(date.fromisoformat(str(text)[:10]), datetime.min.time(), UTC).timestamp()
    except ValueError:
        raise MalformedResponseError(f"{endpoint}: {text!r} is not a day (YYYY-MM-DD)", endpoint=endpoint) from None


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


@dataclass
class DayData:
    """One day's aggregates for one organisation or enterprise, before they become metric families."""

    day: float
    totals: Sums = field(default_factory=dict)
    breakdowns: dict[str, Tally] = field(default_factory=lambda: {b.name: Tally() for b in BREAKDOWNS})
    team_totals: dict[str, Sums] = field(default_factory=lambda: defaultdict(dict))
    team_active: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    team_breakdowns: dict[str, dict[str, Tally]] = field(
        default_factory=lambda: defaultdict(lambda: {b.name: Tally() for b in TEAM_BREAKDOWNS})
    )
    users: dict[str, Sums] = field(default_factory=dict)

    def add_entity(self, record: dict[str, Any]) -> None:
        add(self.totals, record, [*COUNTERS, *ACTIVE_USERS])
        for b in BREAKDOWNS:
            self.breakdowns[b.name].add_entries(record.get(b.array), b.keys, b.counters)


def day_records(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The day records in an entity file's record: itself, or its `day_totals` list."""
    if "day_totals" in record:
        nested = record["day_totals"]
        return [r for r in nested if isinstance(r, dict)] if isinstance(nested, list) else []
    return [record]


def has_activity(row: dict[str, Any]) -> bool:
    return any((number(row.get(name)) or 0) > 0 for name in COUNTERS)


# -- the collector ----------------------------------------------------------------------------------


class CopilotCollector(Collector):
    """One organisation (target `name`) or enterprise (target `enterprise:slug`): its newest report day."""

    name = "copilot"

    def __init__(
        self, client: GitHubClient, settings: Settings, target: str, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(client, settings, target)
        self.options: CopilotSettings = settings.collectors.copilot
        self._clock = clock
        self.kind = ENTERPRISE if target.startswith(ENTERPRISE_PREFIX) else ORG
        self.owner = target.removeprefix(ENTERPRISE_PREFIX)
        self.specs = SPECS[self.kind.name]
        self._path = {"org" if self.kind is ORG else "enterprise": self.owner}
        self._current: tuple[float, list[Metric]] | None = None
        if self.options.user_hash_key is not None:
            logs.register_secret(self.options.user_hash_key.get_secret_value())

    @classmethod
    def targets(cls, settings: Settings) -> list[str]:
        return [*settings.targets.orgs, *(ENTERPRISE_PREFIX + e for e in settings.targets.enterprises)]

    # -- what to fetch ---------------------------------------------------------------------------

    def _teams(self) -> set[str] | None:
        """Team slugs to export; None for every team in the report."""
        if self.options.teams == "all":
            return None
        if self.options.teams == "none":
            return set()
        prefix = self.owner.lower() + "/"
        return {t.split("/", 1)[1] for t in self.settings.targets.teams if t.lower().startswith(prefix)}

    @property
    def _wants_users(self) -> bool:
        return self.options.user_label != "none"

    async def _links(self, report: str, day: float | None = None) -> dict[str, Any] | None:
        """The report's answer (download links and days), or None while GitHub answers 204."""
        route = self.kind.route(report)
        params = {"day": day_text(day)} if day is not None else None
        response = await self.client.get(route, params=params, family=FAMILY, **self._path)
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

    async def _day(self, day: float, entity: list[dict[str, Any]] | None = None) -> DayData | None:
        """Everything for one day, or None if a report GitHub has not processed yet answers 204.

        `entity` holds the day's entity record when the caller already has it (from the 28-day report).
        """
        data = DayData(day)
        if entity is None:
            answer = await self._links(self.kind.entity_report, day)
            if answer is None:
                return None
            entity = [r async for record in self._records(answer["download_links"]) for r in day_records(record)]
        for record in entity:
            if record.get("day") is None or day_start(record["day"], DOWNLOAD_ENDPOINT) == day:
                data.add_entity(record)
        teams = self._teams()
        if teams == set() and not self._wants_users:
            return data
        members: dict[int, list[str]] = defaultdict(list)
        if teams != set():
            answer = await self._links("user-teams-1-day", day)
            if answer is None:
                return None
            async for row in self._records(answer["download_links"]):
                slug, user_id = row.get("slug"), row.get("user_id")
                if isinstance(slug, str) and slug and isinstance(user_id, int) and (teams is None or slug in teams):
                    members[user_id].append(slug)
        answer = await self._links("users-1-day", day)
        if answer is None:
            return None
        users: dict[str, Sums] = {}
        async for row in self._records(answer["download_links"]):
            user_id = row.get("user_id")
            if row.get("day") is not None and day_start(row["day"], DOWNLOAD_ENDPOINT) != day:
                continue
            for slug in members.get(user_id, ()) if isinstance(user_id, int) else ():
                add(data.team_totals[slug], row, CORE)
                data.team_active[slug] += has_activity(row)
                for b in TEAM_BREAKDOWNS:
                    data.team_breakdowns[slug][b.name].add_entries(row.get(b.array), b.keys, b.counters)
            label = self._user_label(row)
            if label is not None:
                add(users.setdefault(label, {}), row, CORE)
        for slug in {s for slugs in members.values() for s in slugs}:  # members without a row still make a team
            data.team_totals.setdefault(slug, {})
            data.team_active.setdefault(slug, 0)
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
        for name, spec in [*s.totals.items(), *s.active.items()]:
            if name in data.totals:
                families.append(spec.one([owner], data.totals[name]))
        for b in BREAKDOWNS:
            families += _breakdown(s.breakdowns, b, {(): data.breakdowns[b.name].folded(limit)}, [owner])
        for name, spec in s.team_totals.items():
            family = spec.new()
            for team in sorted(data.team_totals):
                if name in data.team_totals[team]:
                    family.add_metric([owner, team], data.team_totals[team][name])
            families.append(family)
        active = s.team_active.new()
        for team in sorted(data.team_active):
            active.add_metric([owner, team], data.team_active[team])
        families.append(active)
        for b in TEAM_BREAKDOWNS:
            per_team: dict[tuple[str, ...], dict[tuple[str, ...], Sums]] = {
                (team,): tallies[b.name].folded(limit) for team, tallies in sorted(data.team_breakdowns.items())
            }
            families += _breakdown(s.team_breakdowns, b, per_team, [owner])
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
                self._current = (day, self._families(data))
                if day < newest:
                    log.info(
                        "Copilot report: newest day not ready yet; serving an older one",
                        target=self.target,
                        serving=day_text(day),
                        waiting_for=day_text(newest),
                    )
                return self._current[1]
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

        Entity figures for the last 28 processed days come from the 28-day report in one download; older
        days, teams and users from the 1-day reports.
        """
        first = math.ceil((start - DAY) / DAY) * DAY  # the first day that ends at or after start
        last = min(math.floor((end - DAY) / DAY) * DAY, self._expected_day())
        recent: dict[float, list[dict[str, Any]]] = defaultdict(list)
        answer = await self._links(f"{self.kind.entity_report.removesuffix('-1-day')}-28-day/latest")
        if answer is not None:
            async for record in self._records(answer["download_links"]):
                for day_record in day_records(record):
                    if day_record.get("day") is not None:
                        recent[day_start(day_record["day"], DOWNLOAD_ENDPOINT)].append(day_record)
        samples: list[HistoricalSample] = []
        day = first
        while day <= last:
            at = day + DAY
            if start <= at <= end:
                data = await self._day(day, recent.get(day))
                if data is not None:
                    samples += self._samples(self._families(data), at)
            day += DAY
        return samples

    def _samples(self, families: list[Metric], at: float) -> list[HistoricalSample]:
        out = []
        for family in families:
            spec = self.specs.by_name[family.name]
            for sample in family.samples:
                out.append(HistoricalSample(spec, tuple(sample.labels[k] for k in spec.labels), sample.value, at))
        return out


def _breakdown(
    specs: dict[tuple[str, str], MetricSpec],
    b: Breakdown,
    sums: dict[tuple[str, ...], dict[tuple[str, ...], Sums]],
    owner: list[str],
) -> list[Metric]:
    """Families for one breakdown; `sums` is {(): {key: Sums}}, or {(team,): {key: Sums}} per team."""
    families: list[Metric] = []
    for counter in b.counters:
        family = specs[(b.name, counter)].new()
        for team, tally in sums.items():
            for key in sorted(tally):
                if counter in tally[key]:
                    family.add_metric([*owner, *team, *key], tally[key][counter])
        families.append(family)
    return families
