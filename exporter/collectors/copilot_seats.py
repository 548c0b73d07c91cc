"""Copilot seats: how many are assigned, how many wait, and how many nobody uses.

Source: GET /orgs/{org}/copilot/billing/seats and /enterprises/{enterprise}/copilot/billing/seats (paginated,
`{"total_seats", "seats": [...]}`), and for organisations GET /orgs/{org}/copilot/billing (`seat_breakdown`,
`plan_type`). Needs `manage_billing:copilot`, or `read:org` / `read:enterprise`.

    # HELP github_copilot_seats Copilot seats by state ...
    # TYPE github_copilot_seats gauge
    github_copilot_seats{org="octo-demo",state="assigned"} 12
    github_copilot_seats{org="octo-demo",state="pending_cancellation"} 1
    github_copilot_seats{org="octo-demo",state="pending_invitation"} 2
    github_copilot_seats_inactive{org="octo-demo"} 3
    github_copilot_seats_last_activity_editor{org="octo-demo",editor="vscode"} 7
    github_copilot_seats_plan{org="octo-demo",plan_type="business"} 12

Unused seats cost money, so the figure admins watch is `github_copilot_seats_inactive`: assigned seats whose
`last_activity_at` is null or older than `inactive_days`. Utilisation is left to a recording rule.

Choices where the documentation and the OpenAPI description differ (the description wins):
- "pending invitation" is not a seat state in the seats listing; it is `seat_breakdown.pending_invitation` of
  GET /orgs/{org}/copilot/billing. The description has no enterprise billing-details endpoint, so enterprises
  export no pending_invitation series.
- "assigned" is `total_seats` (the enterprise listing counts a user once however many organisations or
  enterprise teams grant the seat); the other per-seat figures count distinct assignees (`assignee.id`), taking
  a user's newest activity and any pending cancellation across their seats.
- `total_seats` is read from a one-seat first page before the listing (one extra request per run), since
  the paginated listing yields only the seats.
- `last_activity_editor` reads like "vscode/1.77.3/copilot/1.86.82"; only the part before the first "/" becomes
  the editor label (versions would make the label unbounded); top `max_label_values`, the rest in `other`,
  never-active seats under editor="none".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.metrics_core import Metric

from exporter.collectors import fields
from exporter.collectors.base import NOTHING_OBSERVED, Cadence, Collector, Kind, Observed, Target, pages
from exporter.drift import Schema
from exporter.github.errors import MalformedResponseError
from exporter.metricspec import MetricSpec, metric
from exporter.settings import CopilotSeatsSettings, Settings

DAY = 86400
OTHER = "other"
NONE = "none"  # editor of a seat that never had activity
SEATS_PAGE = 100  # per_page of the seat listing, GitHub's largest
BREAKDOWN_STATES = ("pending_invitation", "added_this_cycle", "active_this_cycle", "inactive_this_cycle")
# A seat's fields (GET .../copilot/billing/seats, `seats[]`): read, or skipped with the reason. Checked against
# the OpenAPI description by tests/collectors/test_copilot_seats.py; anything else GitHub sends shows as
# github_exporter_unmapped_fields{collector="copilot_seats"} (exporter.drift).
SEAT_FIELDS: dict[str, str] = {
    "assignee.*": "read: assignee.id tells seats apart; the rest of the user object would be per-user labels",
    "last_activity_at": "read: the inactive figure",
    "last_activity_editor": "read: the editor label",
    "plan_type": "read: the plan label",
    "pending_cancellation_date": "read: pending_cancellation",
    "created_at": "skipped: when the seat was assigned; a per-seat timestamp, nothing to count",
    "updated_at": "skipped: a per-seat timestamp, nothing to count",
    "last_authenticated_at": "skipped: activity is last_activity_at (authentication is not use)",
    "organization.*": "skipped: the enterprise listing's organisation of the seat; the target names the owner",
    "assigning_team.*": "skipped: the team granting the seat; per-team seat counts are not exported",
}
SEAT_SCHEMA = Schema(SEAT_FIELDS, required={"created_at"})


@dataclass(frozen=True)
class Scope:
    prefix: str
    label: str
    seats_route: str
    billing_route: str | None
    phrase: str


ORG = Scope("github_copilot_", "org", "/orgs/{org}/copilot/billing/seats", "/orgs/{org}/copilot/billing", "in the org")
ENTERPRISE = Scope(
    "github_copilot_enterprise_",
    "enterprise",
    "/enterprises/{enterprise}/copilot/billing/seats",
    None,
    "in the enterprise",
)
SCOPES = {Kind.ORGANIZATION: ORG, Kind.ENTERPRISE: ENTERPRISE}


@dataclass(frozen=True)
class Specs:
    seats: MetricSpec
    cycle: MetricSpec | None  # organisations only: the description has no enterprise billing details
    inactive: MetricSpec
    editor: MetricSpec
    plan: MetricSpec


def _define(kind: Scope) -> Specs:
    p, owner, phrase, seats = kind.prefix, kind.label, kind.phrase, f"GET {kind.seats_route}"

    def spec(name: str, description: str, labels: Sequence[str], source: str) -> MetricSpec:
        return metric(__name__, f"{p}{name}", "gauge", description, labels, source)

    states = "assigned (total_seats), pending_cancellation (seats with a pending_cancellation_date)"
    sources = f"{seats}: total_seats, seats[].pending_cancellation_date"
    if kind.billing_route:
        states += ", pending_invitation (users invited to a seat)"
        sources += f"; GET {kind.billing_route}: seat_breakdown.pending_invitation"
    return Specs(
        seats=spec("seats", f"Copilot seats {phrase} by state: {states}.", [owner, "state"], sources),
        cycle=spec(
            "seats_billing_cycle",
            f"Copilot seats {phrase} in the current billing cycle: state added_this_cycle, active_this_cycle "
            "(used Copilot this cycle), inactive_this_cycle.",
            [owner, "state"],
            f"GET {kind.billing_route}: seat_breakdown.added_this_cycle, active_this_cycle, inactive_this_cycle",
        )
        if kind.billing_route
        else None,
        inactive=spec(
            "seats_inactive",
            f"Assigned Copilot seats {phrase} without activity for more than collectors.copilot_seats.inactive_days "
            "days (or never): seats paid for and not used.",
            [owner],
            f"{seats}: seats[].last_activity_at",
        ),
        editor=spec(
            "seats_last_activity_editor",
            f"Copilot seats {phrase} by the editor of their last activity (the name before the first /; "
            "none when never active; the most common max_label_values, the rest in other).",
            [owner, "editor"],
            f"{seats}: seats[].last_activity_editor",
        ),
        plan=spec(
            "seats_plan",
            f"Copilot seats {phrase} by Copilot plan (business, enterprise, unknown).",
            [owner, "plan_type"],
            f"{seats}: seats[].plan_type",
        ),
    )


SPECS = {ORG.label: _define(ORG), ENTERPRISE.label: _define(ENTERPRISE)}


def editor_name(value: Any) -> str:
    """"vscode/1.77.3/copilot/1.86.82" -> "vscode"; none for a seat never used."""
    if not isinstance(value, str) or not value.strip():
        return NONE
    return value.split("/", 1)[0].strip().lower() or NONE


def top(counts: Counter[str], limit: int) -> dict[str, int]:
    """The `limit` biggest counts; the rest summed into `other`."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    out = dict(ranked[:limit])
    rest = sum(v for _, v in ranked[limit:])
    if rest:
        out[OTHER] = out.get(OTHER, 0) + rest
    return out


@dataclass
class Holder:
    """One assignee across their seats: newest activity, its editor, plan, pending cancellation."""

    last_activity: float | None = None
    editor: str = NONE
    plan: str = "unknown"
    cancelling: bool = False

    def add(self, seat: dict[str, Any], route: str) -> None:
        at = fields.timestamp(seat, "last_activity_at", route)
        if at is not None and (self.last_activity is None or at > self.last_activity):
            self.last_activity, self.editor = at, editor_name(seat.get("last_activity_editor"))
        plan = seat.get("plan_type")
        if isinstance(plan, str) and plan and self.plan == "unknown":
            self.plan = plan
        self.cancelling = self.cancelling or bool(seat.get("pending_cancellation_date"))


class CopilotSeatsCollector(Collector[CopilotSeatsSettings]):
    """One organisation (target `name`) or enterprise (target `enterprise:slug`): its Copilot seats now."""

    name = "copilot_seats"
    endpoints = {
        "organizations": ("/orgs/{org}/copilot/billing/seats", "/orgs/{org}/copilot/billing"),
        "enterprises": ("/enterprises/{enterprise}/copilot/billing/seats",),
    }

    def setup(self) -> None:
        self.kind = SCOPES[self.target.kind]
        self.owner = self.target.owner
        self.specs = SPECS[self.kind.label]
        self._path: dict[str, Any] = {self.kind.label: self.owner}

    @classmethod
    def targets(cls, settings: Settings) -> list[Target]:
        return Target.organizations_and_enterprises(settings)

    @classmethod
    def cadences(cls, settings: Settings, target: Target, observed: Observed = NOTHING_OBSERVED) -> list[Cadence]:
        """Per run: the seat pages (100 a page; one before the first run), total_seats, an org's seat breakdown."""
        kind = SCOPES[target.kind]
        per_run = pages(observed.get("seats", 0), SEATS_PAGE) + 1 + (kind.billing_route is not None)
        return [Cadence(settings.collectors.copilot_seats.interval, per_run)]

    async def collect(self) -> list[Metric]:
        route = self.kind.seats_route
        holders: dict[str, Holder] = {}
        unnamed = 0
        listing = self.client.paginate(route, params={"per_page": SEATS_PAGE}, items_key="seats",
                                       **self._path)
        seen = 0
        check = SEAT_SCHEMA.check()
        async for seat in listing:
            seen += 1
            if not isinstance(seat, dict):
                raise MalformedResponseError(f"{route}: a seat is not an object", endpoint=route)
            check.record(seat)
            assignee = seat.get("assignee")
            ident = assignee.get("id") if isinstance(assignee, dict) else None
            if ident is None:  # a seat without an assignee still costs; count it on its own
                unnamed += 1
                ident = f"unnamed-{unnamed}"
            holders.setdefault(str(ident), Holder()).add(seat, route)
        self.observed["seats"] = seen
        self.client.report_drift(f"seats of {self.target}", check)
        total = await self._total_seats()
        owner, s = self.owner, self.specs
        cutoff = self._clock() - self.options.inactive_days * DAY
        seats = s.seats.new()
        seats.add_metric([owner, "assigned"], total if total is not None else len(holders))
        seats.add_metric([owner, "pending_cancellation"], sum(h.cancelling for h in holders.values()))
        families: list[Metric] = [seats]
        if s.cycle is not None:
            breakdown = await self._breakdown()
            if isinstance(breakdown.get("pending_invitation"), int):
                seats.add_metric([owner, "pending_invitation"], breakdown["pending_invitation"])
            cycle = s.cycle.new()
            for state in BREAKDOWN_STATES[1:]:
                if isinstance(breakdown.get(state), int):
                    cycle.add_metric([owner, state], breakdown[state])
            families.append(cycle)
        inactive = sum(1 for h in holders.values() if h.last_activity is None or h.last_activity < cutoff)
        families.append(s.inactive.one([owner], inactive))
        editors = s.editor.new()
        by_editor = top(Counter(h.editor for h in holders.values()), self.options.max_label_values)
        for editor, count in sorted(by_editor.items()):
            editors.add_metric([owner, editor], count)
        plans = s.plan.new()
        for plan, count in sorted(Counter(h.plan for h in holders.values()).items()):
            plans.add_metric([owner, plan], count)
        families += [editors, plans]
        return [f for f in families if f.samples]

    async def _total_seats(self) -> float | None:
        """`total_seats` of the first page (the same on every page)."""
        response = await self.client.get(self.kind.seats_route, params={"per_page": 1}, **self._path)
        value = response.data.get("total_seats") if isinstance(response.data, dict) else None
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else None

    async def _breakdown(self) -> dict[str, Any]:
        assert self.kind.billing_route is not None
        response = await self.client.get(self.kind.billing_route, **self._path)
        data = response.data if isinstance(response.data, dict) else {}
        breakdown = data.get("seat_breakdown")
        return breakdown if isinstance(breakdown, dict) else {}
