"""Current-month billing from GitHub's JSON billing endpoints: usage, premium requests, AI credits and budgets.

Sources (enterprises: GitHub Enterprise Cloud; organizations: github.com), for the current UTC month:
    GET /enterprises/{enterprise}/settings/billing/usage/summary     and /organizations/{org}/...
    GET .../settings/billing/premium_request/usage
    GET .../settings/billing/ai_credit/usage
    GET .../settings/billing/budgets                                   (pages of 100, has_next_page)
    GET /enterprises/{enterprise}/settings/billing/cost-centers        (names of cost-centre budgets -> ids)

    # HELP github_billing_budget_spent_ratio Share of the budget spent this month ...
    # TYPE github_billing_budget_spent_ratio gauge
    github_billing_budget_spent_ratio{account="octo-enterprise",account_type="enterprise",budget_id="...",
        budget_scope="cost_center",budget_entity="Mobile",budget_sku="actions"} 0.83

One request per endpoint gives month-to-date totals without a usage report export. GitHub's
budget objects carry no spent amount except for user-scoped budgets (`consumed_amount`), so
the spent amount of any other budget is the net amount of usage/summary filtered the way the
budget is scoped (organization, repository or cost centre, and its product or SKU): one more
request per distinct filter. Multi-user budgets have no spent amount (GitHub keeps it per user).

Amounts are US dollars (`_usd`), GitHub's only billing currency. AI credits and premium requests
are kept for the `top_n` product/SKU pairs (by gross amount); the rest sum into product and sku
`other`, so the label values stay bounded while sum() stays the whole. The same items summed by AI model
(`github_billing_{premium_requests,ai_credits}_by_model_*`: cost by model, the first question about Copilot
spend) keep the `top_n` models likewise, the rest in model `other`.

Each answer's fields are mapped or skipped with a reason (FIELDS, SKIPPED); any other field shows as
github_exporter_unmapped_fields{collector="billing_usage"}, and a documented required one of the entries that
stops arriving as github_exporter_missing_fields (exporter.drift). The tests hold the tables against the
OpenAPI description.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client.metrics_core import Metric

from exporter.collectors import fields
from exporter.collectors.base import NOTHING_OBSERVED, Cadence, Collector, Kind, Observed, Target
from exporter.drift import FieldCheck, Schema
from exporter.github.errors import MalformedResponseError
from exporter.metricspec import MetricSpec, metric
from exporter.settings import BillingUsageSettings, Settings

log = structlog.get_logger(__name__)

OTHER = "other"
ENTERPRISE, ORGANIZATION = Kind.ENTERPRISE, Kind.ORGANIZATION
_BASE = {
    ENTERPRISE: "/enterprises/{account}/settings/billing",
    ORGANIZATION: "/organizations/{account}/settings/billing",
}
SUMMARY = "{base}/usage/summary"
PREMIUM = "{base}/premium_request/usage"
CREDITS = "{base}/ai_credit/usage"
BUDGETS = "{base}/budgets"
COST_CENTERS = "/enterprises/{account}/settings/billing/cost-centers"
MAX_BUDGET_PAGES = 10

_ACCOUNT = ("account_type", "account")
_SKU = (*_ACCOUNT, "product", "sku", "unit_type")
_BY_MODEL = (*_ACCOUNT, "model", "unit_type")
_BUDGET = (*_ACCOUNT, "budget_id", "budget_scope", "budget_entity", "budget_sku")
_MONTH = "this month to date (UTC)"
_ENDPOINT = "GET /{enterprises|organizations}/{account}/settings/billing"


# The four measures of each usage entry, in the order BillingUsageCollector._usage adds them: metric suffix,
# HELP ({What}/{what}: the usage named, {month}: the period) and the entry's source field.
_MEASURES = (
    ("quantity", "{What} {month}, net of included usage, in the unit named by unit_type.", "netQuantity"),
    ("gross_amount_usd", "Gross amount of {what} {month} in US dollars, before discounts.", "grossAmount"),
    ("discount_amount_usd", "Discount on {what} {month} in US dollars (included usage).", "discountAmount"),
    ("net_amount_usd", "Billable amount of {what} {month} in US dollars: gross minus discount.", "netAmount"),
)


def _usage_specs(prefix: str, what: str, endpoint: str, bounded: bool, by_model: bool = False
                 ) -> tuple[MetricSpec, ...]:
    """The quantity, gross, discount and net gauges of one usage endpoint (or of its items summed by model)."""
    note = (
        " Kept for the top collectors.billing_usage.top_n product/SKU pairs by gross amount; the rest sum into "
        f"product and sku {OTHER}."
        if bounded
        else ""
    )
    if by_model:
        note = (f" By AI model (usageItems[].model), summed over products and SKUs; kept for the top "
                f"collectors.billing_usage.top_n models by gross amount, the rest sum into model {OTHER}.")
    source = f"{_ENDPOINT}/{endpoint}: {'usageItems[].model, ' if by_model else ''}usageItems"
    labels = _BY_MODEL if by_model else _SKU
    return tuple(
        metric(__name__, f"{prefix}_{suffix}", "gauge", text.format(What=what, what=what.lower(), month=_MONTH) + note,
               labels, f"{source}[].{field}")
        for suffix, text, field in _MEASURES
    )


SUMMARY_SPECS = _usage_specs("github_billing_metered", "Usage of every metered product", "usage/summary", False)
PREMIUM_SPECS = _usage_specs("github_billing_premium_requests", "Premium requests", "premium_request/usage", True)
CREDIT_SPECS = _usage_specs("github_billing_ai_credits", "AI credits", "ai_credit/usage", True)
PREMIUM_MODEL_SPECS = _usage_specs("github_billing_premium_requests_by_model", "Premium requests",
                                   "premium_request/usage", True, by_model=True)
CREDIT_MODEL_SPECS = _usage_specs("github_billing_ai_credits_by_model", "AI credits", "ai_credit/usage", True,
                                  by_model=True)

BUDGET_AMOUNT = metric(
    __name__,
    "github_billing_budget_amount_usd",
    "gauge",
    "Monthly budget in whole US dollars (for a license-based product, a number of licenses).",
    _BUDGET,
    f"{_ENDPOINT}/budgets: budget_amount",
)
BUDGET_SPENT = metric(
    __name__,
    "github_billing_budget_spent_usd",
    "gauge",
    f"Spent against the budget {_MONTH} in US dollars: consumed_amount of a user budget, otherwise the net amount "
    "of usage in the budget's scope and product or SKU. Absent for multi-user budgets.",
    _BUDGET,
    f"{_ENDPOINT}/budgets: consumed_amount; {_ENDPOINT}/usage/summary?organization|repository|cost_center_id"
    "&product|sku: usageItems[].netAmount",
)
BUDGET_RATIO = metric(
    __name__,
    "github_billing_budget_spent_ratio",
    "gauge",
    "Share of the budget spent this month (1 = all of it; above 1 when overspent). Absent when the budget amount is 0 "
    "or the spent amount is unknown.",
    _BUDGET,
    f"{_ENDPOINT}/budgets: budget_amount, and the spent amount above",
)
BUDGET_INFO = metric(
    __name__,
    "github_billing_budget_info",
    "gauge",
    "1 per budget, with its pricing type and whether GitHub stops usage once it is spent.",
    (*_BUDGET, "budget_type", "prevent_further_usage"),
    f"{_ENDPOINT}/budgets: budget_type, prevent_further_usage",
)
_POOL_SOURCE = "GET /enterprises/{enterprise}/settings/billing/cost-centers: ai_credit_pool_state"
POOL_TARGET = metric(
    __name__,
    "github_billing_cost_center_ai_credit_pool_target_credits",
    "gauge",
    "AI credits a cost centre may draw from the AI credit pool this month (its cap). Only for cost centres that "
    "draw from the pool.",
    (*_ACCOUNT, "cost_center"),
    f"{_POOL_SOURCE}.target_amount",
)
POOL_CURRENT = metric(
    __name__,
    "github_billing_cost_center_ai_credit_pool_applied_credits",
    "gauge",
    "AI credits a cost centre applied against its AI credit pool cap this month.",
    (*_ACCOUNT, "cost_center"),
    f"{_POOL_SOURCE}.current_amount",
)
DATA_MONTH = metric(
    __name__,
    "github_billing_month_start_timestamp_seconds",
    "gauge",
    "Start (00:00 UTC) of the month the github_billing_metered_*, premium request, AI credit and budget figures "
    "cover; they restart from 0 when it changes.",
    _ACCOUNT,
    f"{_ENDPOINT}/usage/summary: timePeriod",
)


@dataclass(frozen=True)
class Item:
    """One usageItems entry, reduced to what is exported."""

    product: str
    sku: str
    unit_type: str
    quantity: float
    gross: float
    discount: float
    net: float
    model: str = ""  # the Copilot endpoints' AI model; "" elsewhere

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.product, self.sku, self.unit_type)

    @property
    def model_key(self) -> tuple[str, str]:
        """The labels of the by-model gauges, once by_model() put the model in `product`."""
        return (self.product, self.unit_type)


@dataclass(frozen=True)
class Budget:
    id: str
    scope: str
    entity: str
    sku: str
    pricing: str
    amount: float
    prevent_further_usage: bool
    consumed: float | None

    @property
    def labels(self) -> tuple[str, str, str, str]:
        return (self.id, self.scope, self.entity, self.sku)


# -- the fields of each answer: mapped, or skipped with the reason ------------------------------------------
# Checked against @octokit/openapi's ghec (enterprises) and api.github.com (organizations) descriptions, read
# 2026-12-06, by tests/collectors/test_billing_usage.py. An answer is checked at its top level and, apart, at
# the entries of its list (usageItems, budgets, costCenters): the entries' required fields show renames.

_ECHO = "the query's own filter, echoed back"
_ITEM_MAPPED = ("product", "sku", "unitType", "netQuantity", "grossAmount", "discountAmount", "netAmount")
SKIPPED: dict[str, str] = {
    "timePeriod.year": "the month asked for (github_billing_month_start_timestamp_seconds is the same month)",
    "timePeriod.month": "the month asked for (github_billing_month_start_timestamp_seconds is the same month)",
    "timePeriod.day": _ECHO,
    "enterprise": _ECHO, "organization": _ECHO, "repository": _ECHO, "product": _ECHO, "sku": _ECHO,
    "model": _ECHO, "user": _ECHO, "costCenter.id": _ECHO, "costCenter.name": _ECHO,
    "usageItems[].grossQuantity": "quantity before included usage; netQuantity (exported) is what is billed",
    "usageItems[].discountQuantity": "included usage as a quantity; discountAmount (exported) is its value",
    "usageItems[].pricePerUnit": "a list price; grossAmount / netQuantity gives it in PromQL",
    "total_count": "the budgets are counted by their series; has_next_page drives the paging",
    "effective_budget.id": "the asking user's own effective budget: the list carries every budget",
    "effective_budget.budget_amount": "the asking user's own effective budget: the list carries every budget",
    "effective_budget.consumed_amount": "the asking user's own effective budget: the list carries every budget",
    "budgets[].budget_alerting.will_alert": "alert settings, not a figure",
    "budgets[].budget_alerting.alert_recipients": "logins who get the alert e-mail: personal, unbounded",
    "costCenters[].state": "only active cost centres are asked for (state=active)",
    "costCenters[].azure_subscription": "a payment detail, not a figure",
    "costCenters[].resources[].type": "cost centre membership: unbounded, not a figure",
    "costCenters[].resources[].name": "cost centre membership: unbounded, not a figure",
}
# Read though the description does not list it: GitHub's own budget examples send a list of SKUs.
UNDOCUMENTED = {"budgets[].budget_product_skus"}


def _skipped(prefix: str) -> set[str]:
    """The skipped fields of the entries under `prefix` ("budgets[]."), named within an entry."""
    return {path.removeprefix(prefix) for path in SKIPPED if path.startswith(prefix)}


_PERIOD = {"timePeriod.year", "timePeriod.month", "timePeriod.day"}
_SCOPE = {"enterprise", "organization", "costCenter.id", "costCenter.name"}
_USAGE_ITEM = Schema({*_ITEM_MAPPED, *_skipped("usageItems[].")}, required=_ITEM_MAPPED)
_MODEL_ITEM = Schema({*_ITEM_MAPPED, "model", *_skipped("usageItems[].")}, required={*_ITEM_MAPPED, "model"})


@dataclass(frozen=True)
class Fields:
    """The fields of one answer: its top level (the list's entries apart) and each entry of its list."""

    answer: Schema
    key: str
    entry: Schema

    @classmethod
    def of(cls, key: str, answer: Iterable[str], entry: Schema) -> Fields:
        return cls(Schema({*answer, f"{key}[].*"}), key, entry)

    def check(self) -> tuple[FieldCheck, FieldCheck]:
        return self.answer.check(), self.entry.check()

    def record(self, checks: tuple[FieldCheck, FieldCheck], data: Any) -> None:
        if isinstance(data, dict):
            checks[0].record(data)
            entries = data.get(self.key)
            for entry in entries if isinstance(entries, list) else ():
                if isinstance(entry, dict):
                    checks[1].record(entry)


FIELDS: dict[str, Fields] = {
    SUMMARY: Fields.of("usageItems", {*_PERIOD, *_SCOPE, "repository", "product", "sku"}, _USAGE_ITEM),
    PREMIUM: Fields.of("usageItems", {*_PERIOD, *_SCOPE, "user", "model", "product"}, _MODEL_ITEM),
    CREDITS: Fields.of("usageItems", {*_PERIOD, *_SCOPE, "user", "model", "product"}, _MODEL_ITEM),
    BUDGETS: Fields.of(
        "budgets", {"has_next_page", "total_count", "user", *(f"effective_budget.{f}" for f in _skipped(
            "effective_budget."))},
        Schema({"id", "budget_scope", "budget_entity_name", "user", "budget_product_sku", "budget_product_skus",
                "budget_type", "budget_amount", "prevent_further_usage", "consumed_amount", *_skipped("budgets[].")},
               required={"id", "budget_type", "budget_scope", "budget_amount", "prevent_further_usage"}),
    ),
    COST_CENTERS: Fields.of(
        "costCenters", (),
        Schema({"id", "name", "ai_credit_pool_enabled", "ai_credit_pool_state.current_amount",
                "ai_credit_pool_state.target_amount", *_skipped("costCenters[].")}, required={"id", "name"}),
    ),
}


def parse_items(data: Any, endpoint: str) -> list[Item]:
    items = data.get("usageItems") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise MalformedResponseError(f"{endpoint}: expected usageItems", endpoint=endpoint)
    return [
        Item(
            str(i.get("product", "")),
            str(i.get("sku", "")),
            str(i.get("unitType", "")),
            fields.count(i, "netQuantity", endpoint),
            fields.count(i, "grossAmount", endpoint),
            fields.count(i, "discountAmount", endpoint),
            fields.count(i, "netAmount", endpoint),
            str(i.get("model") or ""),
        )
        for i in items
    ]


def summed(items: Iterable[Item]) -> dict[tuple[str, str, str], Item]:
    """Items with the same product, SKU and unit added up (the per-model rows of the Copilot endpoints)."""
    out: dict[tuple[str, str, str], Item] = {}
    for item in items:
        old = out.get(item.key)
        out[item.key] = item if old is None else Item(
            *item.key, old.quantity + item.quantity, old.gross + item.gross, old.discount + item.discount,
            old.net + item.net,
        )
    return out


def top_n(items: Iterable[Item], n: int) -> list[Item]:
    """The n product/SKU pairs with the largest gross amount, and the rest summed into product and sku `other`."""
    ranked = sorted(summed(items).values(), key=lambda i: (-i.gross, i.key))
    kept, rest = ranked[:n], ranked[n:]
    others = summed(Item(OTHER, OTHER, i.unit_type, i.quantity, i.gross, i.discount, i.net) for i in rest)
    return sorted([*kept, *others.values()], key=lambda i: i.key)


def by_model(items: Iterable[Item], n: int) -> list[Item]:
    """Items summed per model (held in `product`) and unit: the n models of largest gross amount, the rest `other`."""
    return top_n((Item(i.model, "", i.unit_type, i.quantity, i.gross, i.discount, i.net) for i in items), n)


def parse_budget(data: Any, endpoint: str) -> Budget:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise MalformedResponseError(f"{endpoint}: a budget has no id", endpoint=endpoint)
    sku = data.get("budget_product_sku")
    if not isinstance(sku, str):  # GitHub's examples send a list, budget_product_skus
        skus = data.get("budget_product_skus")
        sku = ",".join(s for s in skus if isinstance(s, str)) if isinstance(skus, list) else ""
    return Budget(
        data["id"],
        str(data.get("budget_scope", "")),
        str(data.get("budget_entity_name") or data.get("user") or ""),
        sku,
        str(data.get("budget_type", "")),
        fields.count(data, "budget_amount", endpoint),
        bool(data.get("prevent_further_usage", False)),
        fields.number(data, "consumed_amount", endpoint),
    )


class BillingUsageCollector(Collector[BillingUsageSettings]):
    """One enterprise or organization: five to a few dozen GETs a run, no export."""

    name = "billing_usage"
    endpoints = {
        "enterprises": tuple(f"/enterprises/{{enterprise}}/settings/billing/{leaf}" for leaf in (
            "usage/summary", "premium_request/usage", "ai_credit/usage", "budgets", "cost-centers")),
        "organizations": tuple(f"/organizations/{{org}}/settings/billing/{leaf}" for leaf in (
            "usage/summary", "premium_request/usage", "ai_credit/usage", "budgets")),
    }

    @classmethod
    def targets(cls, settings: Settings) -> list[Target]:
        """`enterprise:NAME` for targets.enterprises, `organization:NAME` for targets.orgs when enabled."""
        orgs = settings.targets.orgs if settings.collectors.billing_usage.organizations else []
        return Target.enterprises(settings.targets.enterprises, tagged=True) + Target.organizations(orgs, tagged=True)

    @classmethod
    def cadences(cls, settings: Settings, target: Target, observed: Observed = NOTHING_OBSERVED) -> list[Cadence]:
        """Per run: usage summary, premium requests, AI credits, the budget pages, an enterprise's cost centres,
        and one usage summary per distinct budget scope GitHub gives no consumed amount for.

        Before the first run: one page of budgets and no such scope.
        """
        per_run = 3 + observed.get("budget_pages", 1) + (target.kind == ENTERPRISE)
        per_run += observed.get("budget_queries", 0)
        return [Cadence(settings.collectors.billing_usage.interval, per_run)]

    async def _get(self, route: str, params: dict[str, Any] | None = None) -> Any:
        template = route.format(base=_BASE[self.target.kind])
        response = await self.client.get(template, params=params, account=self.target.owner)
        FIELDS[route].record(self._checks.setdefault(route, FIELDS[route].check()), response.data)
        return response.data

    async def collect(self) -> list[Metric]:
        """The run's figures; every answer's fields are held against FIELDS (the drift signal) after it."""
        self._checks: dict[str, tuple[FieldCheck, FieldCheck]] = {}
        try:
            return await self._collect()
        finally:
            for route, (answer, entries) in self._checks.items():
                where = f"{route.format(base=_BASE[self.target.kind])} of {self.target.owner}"
                self.client.report_drift(where, answer)
                self.client.report_drift(f"{where}: {FIELDS[route].key}[]", entries)

    async def _collect(self) -> list[Metric]:
        now = datetime.fromtimestamp(self._clock(), UTC)
        month = {"year": now.year, "month": now.month}
        head = [self.target.kind.value, self.target.owner]
        families: list[Metric] = []
        summary = parse_items(await self._get(SUMMARY, month), SUMMARY)
        families += self._usage(SUMMARY_SPECS, head, sorted(summed(summary).values(), key=lambda i: i.key))
        for route, specs, model_specs in ((PREMIUM, PREMIUM_SPECS, PREMIUM_MODEL_SPECS),
                                          (CREDITS, CREDIT_SPECS, CREDIT_MODEL_SPECS)):
            items = parse_items(await self._get(route, month), route)
            families += self._usage(specs, head, top_n(items, self.options.top_n))
            families += self._usage(model_specs, head, by_model(items, self.options.top_n), by_model=True)
        budgets = await self._budgets()
        families += await self._budget_families(head, budgets, month)
        start = datetime(now.year, now.month, 1, tzinfo=UTC).timestamp()
        families.append(DATA_MONTH.one(head, start))
        return families

    @staticmethod
    def _usage(specs: tuple[MetricSpec, ...], head: list[str], items: list[Item], by_model: bool = False
               ) -> list[Metric]:
        out = [spec.new() for spec in specs]
        for item in items:
            key = item.model_key if by_model else item.key
            for family, value in zip(out, (item.quantity, item.gross, item.discount, item.net), strict=True):
                family.add_metric([*head, *key], round(value, 6))
        return list(out)

    async def _budgets(self) -> list[Budget]:
        budgets: list[Budget] = []
        for page in range(1, MAX_BUDGET_PAGES + 1):
            data = await self._get(BUDGETS, {"page": page, "per_page": 100})
            items = data.get("budgets") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise MalformedResponseError(f"{BUDGETS}: expected budgets", endpoint=BUDGETS)
            budgets += [parse_budget(item, BUDGETS) for item in items]
            self.observed["budget_pages"] = page
            if not data.get("has_next_page"):
                break
        return budgets[: self.options.max_budgets]

    async def _budget_families(self, head: list[str], budgets: list[Budget], month: dict[str, int]) -> list[Metric]:
        amount, spent, ratio, info = BUDGET_AMOUNT.new(), BUDGET_SPENT.new(), BUDGET_RATIO.new(), BUDGET_INFO.new()
        pools: list[Metric] = []
        centers: dict[str, str] = {}
        if self.target.kind == ENTERPRISE:
            centers, pools = await self._cost_centers(head)
        asked: dict[tuple[tuple[str, str], ...], float] = {}  # one usage/summary request per distinct filter
        for budget in budgets:
            labels = [*head, *budget.labels]
            amount.add_metric(labels, budget.amount)
            info.add_metric([*labels, budget.pricing, str(budget.prevent_further_usage).lower()], 1.0)
            value = budget.consumed
            query = self._scope_filter(budget, centers)
            if value is None and query is not None:
                key = tuple(sorted(query.items()))
                if key not in asked:
                    items = parse_items(await self._get(SUMMARY, {**month, **query}), SUMMARY)
                    asked[key] = sum(i.net for i in items)
                value = asked[key]
            if value is None:
                continue
            spent.add_metric(labels, round(value, 6))
            if budget.amount > 0:
                ratio.add_metric(labels, round(value / budget.amount, 6))
        self.observed["budget_queries"] = len(asked)
        return [amount, spent, ratio, info, *pools]

    def _scope_filter(self, budget: Budget, centers: dict[str, str]) -> dict[str, str] | None:
        """The usage/summary query that selects a budget's usage; None when it cannot be expressed."""
        query: dict[str, str] = {}
        if budget.scope == ORGANIZATION and self.target.kind == ENTERPRISE:
            query["organization"] = budget.entity
        elif budget.scope == "repository":
            query["repository"] = budget.entity
        elif budget.scope == "cost_center":
            if budget.entity not in centers:
                return None
            query["cost_center_id"] = centers[budget.entity]
        elif budget.scope not in (ENTERPRISE, ORGANIZATION):
            return None  # user budgets carry consumed_amount; multi-user ones are per user
        if budget.sku and "," not in budget.sku:
            query["sku" if budget.pricing == "SkuPricing" else "product"] = budget.sku
        return query

    async def _cost_centers(self, head: list[str]) -> tuple[dict[str, str], list[Metric]]:
        """Cost centre name -> id (to filter usage by a cost-centre budget), and their AI credit pools."""
        pool = {"target": POOL_TARGET.new(), "current": POOL_CURRENT.new()}
        response = await self.client.get(COST_CENTERS, params={"state": "active"}, account=self.target.owner)
        items = response.data.get("costCenters") if isinstance(response.data, dict) else None
        if not isinstance(items, list):
            raise MalformedResponseError(f"{COST_CENTERS}: expected costCenters", endpoint=COST_CENTERS)
        centers: dict[str, str] = {}
        for center in items:
            if not isinstance(center, dict) or not isinstance(center.get("name"), str):
                continue
            centers[center["name"]] = str(center.get("id", ""))
            state = center.get("ai_credit_pool_state")
            if center.get("ai_credit_pool_enabled") and isinstance(state, dict):
                for kind, family in pool.items():
                    value = fields.number(state, f"{kind}_amount", COST_CENTERS)
                    if value is not None:
                        family.add_metric([*head, center["name"]], value)
        return centers, list(pool.values())
