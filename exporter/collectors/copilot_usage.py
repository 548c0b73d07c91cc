"""The retired Copilot usage summaries: one day's completions and chat totals, by editor and language.

Source: GET /orgs/{org}/copilot/usage and GET /orgs/{org}/team/{team_slug}/copilot/usage (v18.2.0
description; manage_billing:copilot, read:org or read:enterprise). GitHub has closed these down on
github.com in favour of the usage-metrics reports (the `copilot` collector); they may still answer on
other installations (the collector is off by default). Any refusal (a 4xx other than 401 and rate
limits: 404, 410, 405...) is logged once per target and reported by
`github_copilot_usage_endpoint_retired` (or `github_copilot_team_usage_endpoint_retired`) = 1;
the endpoint is then asked again only every `retired_retry` (24 h), and the run counts as a success.

    # HELP github_copilot_code_suggestions Code completion suggestions shown ... on the latest summarised day ...
    # TYPE github_copilot_code_suggestions gauge
    github_copilot_code_suggestions{org="octo-demo",editor="vscode",language="python"} 300
    github_copilot_usage_code_suggestions{org="octo-demo"} 1000
    github_copilot_usage_day_timestamp_seconds{org="octo-demo"} 1.6973280e+09
    github_copilot_team_code_acceptances{org="octo-demo",team="platform",editor="vscode",language="python"} 250
    github_copilot_usage_endpoint_retired{org="octo-demo"} 0

Only the newest day in the answer is exported (the endpoint lists up to 28); `history()` returns all of
them. An empty answer (a team under 5 seats, or no data yet) exports no figures and is not an error; a
null `breakdown` (allowed by the description) exports the totals only. `*_active_users` by editor and
language are distinct-user counts: they do not add up across editors or languages, and the `other`
bucket (languages or editors beyond `max_label_values`) carries none. Ratios are left to PromQL.

Every field of the v18.2.0 description is mapped (DAY_FIELDS); any other a day carries shows as
github_exporter_unmapped_fields{collector="copilot_usage"}, and `day` missing as github_exporter_missing_fields.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import structlog
from prometheus_client.metrics_core import Metric

from exporter.collectors import fields
from exporter.collectors.api_insights import iso
from exporter.collectors.base import NOTHING_OBSERVED, Cadence, Collector, HistoricalSample, Observed, Target, pages
from exporter.collectors.copilot import DAY, Tally, number
from exporter.drift import Schema
from exporter.github.errors import APIError, MalformedResponseError, RateLimitedError
from exporter.metricspec import MetricSpec, metric
from exporter.settings import CopilotUsageSettings, Settings

log = structlog.get_logger(__name__)

ORG_USAGE = "/orgs/{org}/copilot/usage"
TEAM_USAGE = "/orgs/{org}/team/{team_slug}/copilot/usage"
MAX_DAYS = 28  # the endpoint keeps 28 days and pages by day (per_page max 28)

TOTALS = {
    "total_suggestions_count": ("code_suggestions", "Code completion suggestions shown"),
    "total_acceptances_count": ("code_acceptances", "Code completion suggestions accepted"),
    "total_lines_suggested": ("code_lines_suggested", "Lines of code completions suggested"),
    "total_lines_accepted": ("code_lines_accepted", "Lines of code completions accepted"),
    "total_active_users": ("code_active_users", "Users who were shown code completion suggestions"),
    "total_chat_turns": ("chat_turns", "Copilot Chat turns (prompt and response pairs) in the IDE"),
    "total_chat_acceptances": ("chat_acceptances", "Code suggested by Copilot Chat in the IDE that users accepted"),
    "total_active_chat_users": ("chat_active_users", "Users who used Copilot Chat in the IDE"),
}
BREAKDOWN = {
    "suggestions_count": ("suggestions", "Code completion suggestions shown"),
    "acceptances_count": ("acceptances", "Code completion suggestions accepted"),
    "lines_suggested": ("lines_suggested", "Lines of code completions suggested"),
    "lines_accepted": ("lines_accepted", "Lines of code completions accepted"),
    "active_users": (
        "active_users",
        "Users shown code completion suggestions (distinct users: not additive across editors or languages)",
    ),
}
# Every field of a day, all mapped (the tests hold them against octokit-openapi-18's GHEC description, read
# 2026-12-06). Only `day` is required of each day (`breakdown` is required but may be null, which is a leaf
# of its own: "breakdown" below).
DAY_FIELDS = Schema(
    {"day", "breakdown", *TOTALS, "breakdown[].editor", "breakdown[].language",
     *(f"breakdown[].{f}" for f in BREAKDOWN)},
    required={"day"},
)
LATEST = "on the latest summarised day (see *_usage_day_timestamp_seconds)"


class _UsagePath(TypedDict):
    """Path parameters of ORG_USAGE, or of TEAM_USAGE with team_slug."""

    org: str
    team_slug: NotRequired[str]


class _Specs:
    """The metrics of one scope: an org's summary, or a team's."""

    def __init__(self, team: bool) -> None:
        prefix = "github_copilot_team_" if team else "github_copilot_"
        route = TEAM_USAGE if team else ORG_USAGE
        who = "the team's members" if team else "the org's members"
        labels = ["org", "team"] if team else ["org"]
        self.labels = labels
        self.day = metric(
            __name__,
            f"{prefix}usage_day_timestamp_seconds",
            "gauge",
            f"Start (UTC midnight) of the newest day the Copilot usage summary for {who} lists.",
            labels,
            f"GET {route}: day",
        )
        self.retired = metric(
            __name__,
            f"{prefix}usage_endpoint_retired",
            "gauge",
            "1 while the Copilot usage summary endpoint refuses with a 4xx such as 404, 410 or 405 "
            "(GitHub has retired it; "
            "asked again every collectors.copilot_usage.retired_retry), else 0.",
            labels,
            f"GET {route}: HTTP status",
        )
        self.totals = {
            f: metric(
                __name__, f"{prefix}usage_{suffix}", "gauge", f"{what} to {who} {LATEST}.", labels, f"GET {route}: {f}"
            )
            for f, (suffix, what) in TOTALS.items()
        }
        self.breakdown = {
            f: metric(
                __name__,
                f"{prefix}code_{suffix}",
                "gauge",
                f"{what}, to {who} by editor and language, {LATEST}.",
                [*labels, "editor", "language"],
                f"GET {route}: breakdown[].{f}",
            )
            for f, (suffix, what) in BREAKDOWN.items()
        }
        self.by_name: dict[str, MetricSpec] = {
            s.name: s for s in (self.day, self.retired, *self.totals.values(), *self.breakdown.values())
        }


ORG_SPECS = _Specs(team=False)
TEAM_SPECS = _Specs(team=True)


class CopilotUsageCollector(Collector[CopilotUsageSettings]):
    """One org (target `org`) or team (target `org/team-slug`): its newest summarised day."""

    name = "copilot_usage"
    endpoints = ("/orgs/{org}/copilot/usage", "/orgs/{org}/team/{team_slug}/copilot/usage")

    def setup(self) -> None:
        org, team = self.target.owner, self.target.team
        self.labels = [org, team] if team else [org]
        self.specs = TEAM_SPECS if team else ORG_SPECS
        self.route = TEAM_USAGE if team else ORG_USAGE
        self._path: _UsagePath = {"org": org, "team_slug": team} if team else {"org": org}
        self._retry_at: float | None = None
        self._announced = False

    @classmethod
    def targets(cls, settings: Settings) -> list[Target]:
        # The retired summaries exist for organisation teams only: enterprise teams (owner/slug with an
        # enterprise as owner) are the Copilot reports' business.
        orgs = {org.lower() for org in settings.targets.orgs}
        teams = [team for team in settings.targets.teams if team.split("/", 1)[0].lower() in orgs]
        return Target.organizations(settings.targets.orgs) + Target.teams(teams)

    @classmethod
    def cadences(cls, settings: Settings, target: Target, observed: Observed = NOTHING_OBSERVED) -> list[Cadence]:
        """Per run the day pages (28 days a page: one); once GitHub refused, one request per retired_retry."""
        o = settings.collectors.copilot_usage
        if observed.get("retired"):
            return [Cadence(max(o.retired_retry, o.interval), 1.0)]
        return [Cadence(o.interval, pages(observed.get("days", MAX_DAYS), MAX_DAYS))]

    async def _days(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        days = []
        async for item in self.client.paginate(
            self.route, params={"per_page": MAX_DAYS, **params}, **self._path
        ):
            if not isinstance(item, dict):
                raise MalformedResponseError(f"{self.route}: a day is not an object", endpoint=self.route)
            days.append(item)
        check = DAY_FIELDS.check()
        for day in days:
            check.record(day)
        self.client.report_drift(f"{self.route} of {self.target}", check)
        return days

    def _retired(self, now: float, error: APIError) -> list[Metric]:
        self._retry_at = now + self.options.retired_retry
        self.observed["retired"] = 1
        fields = {
            "target": self.target,
            "endpoint": self.route,
            "status": error.status,
            "retry_in_hours": round(self.options.retired_retry / 3600, 1),
        }
        if not self._announced:
            self._announced = True
            log.warning(
                "Copilot usage summary is gone: GitHub has retired this endpoint (or the org or team is "
                "not there); the copilot collector reads the usage-metrics reports instead. Asking again "
                "once per retry period; set collectors.copilot_usage.enabled: false to stop",
                **fields,
            )
        else:
            log.debug("Copilot usage summary still gone", **fields)
        return [self.specs.retired.one(self.labels, 1)]

    async def collect(self) -> list[Metric]:
        now = self._clock()
        if self._retry_at is not None and now < self._retry_at:
            return [self.specs.retired.one(self.labels, 1)]
        try:
            days = await self._days({})
        except APIError as exc:
            if not is_refusal(exc):
                raise
            return self._retired(now, exc)
        if self._retry_at is not None:
            log.info("Copilot usage summary answers again", target=self.target, endpoint=self.route)
            self._retry_at = None
        self.observed.update(retired=0, days=len(days))
        families: list[Metric] = [self.specs.retired.one(self.labels, 0)]
        if days:
            newest = max(days, key=lambda d: fields.day(d, "day", self.route, required=True))
            families += self._families(newest)
        return families

    def _families(self, record: dict[str, Any]) -> list[Metric]:
        s, labels = self.specs, self.labels
        families: list[Metric] = [s.day.one(labels, fields.day(record, "day", self.route, required=True))]
        for name, spec in s.totals.items():
            value = number(record.get(name))
            if value is not None:
                families.append(spec.one(labels, value))
        tally = Tally()
        tally.add_entries(record.get("breakdown"), ("editor", "language"), list(BREAKDOWN))
        folded = tally.folded(
            self.options.max_label_values, weight=("suggestions_count",), non_additive=("active_users",)
        )
        for name, spec in s.breakdown.items():
            family = spec.new()
            for key in sorted(folded):
                if name in folded[key]:
                    family.add_metric([*labels, *key], folded[key][name])
            if family.samples:
                families.append(family)
        return families

    async def history(self, start: float, end: float) -> list[HistoricalSample]:
        """Every day the endpoint still lists (up to 28), each stamped at the end of its day (UTC midnight)."""
        params = {"until": iso(end)}
        if start - DAY > self._clock() - MAX_DAYS * DAY:  # older than 28 days is refused; without it, all are listed
            params["since"] = iso(start - DAY)
        samples = []
        for record in await self._days(params):
            at = fields.day(record, "day", self.route, required=True) + DAY
            if not start <= at <= end:
                continue
            samples += HistoricalSample.from_families(self._families(record), self.specs.by_name, at)
        return samples


def is_refusal(error: APIError) -> bool:
    """A 4xx that says the endpoint will not answer here: not bad credentials, a permission to grant or a rate limit."""
    return 400 <= error.status < 500 and error.status not in (401, 403, 429) and not isinstance(error, RateLimitedError)
