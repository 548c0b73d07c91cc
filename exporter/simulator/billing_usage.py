"""The JSON billing endpoints: usage summary, premium requests, AI credits, budgets and cost centres.

Figures come from the same deterministic rows as the usage report files (simulator/billing.py),
so a summary and an export of the same month agree. A month holds the days that are over
(UTC), as the files do. Enterprise routes answer for the world's enterprise, organization
routes for its orgs; filters (organization, repository, product, sku, cost_center_id, user,
model) narrow the rows before they are summed per product, SKU (and model).

Budgets are fixed. At `config.budget_scale` 1 they are sized so that, by the middle of a month,
one is overspent (the `web` repository's Actions), one is past 80% (the Mobile cost centre's
Actions) and the rest are below: enough for the alert rules' tests to show each state. The
demo's healthy world scales them so that none passes 80% on any day. GitHub's budget
objects carry no spent amount except `consumed_amount` on user-scoped budgets.

Drift (`field_drift.set_field_drift(sim, "billing_usage", True)`): the premium request answers add a field
nobody documents (DRIFT_ADDED) and rename their items' discountAmount (DRIFT_RENAMED).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from exporter.simulator.billing import _CREDIT_PRICE, COST_CENTERS, Billing, Row
from exporter.simulator.field_drift import drifted, register_drift
from exporter.simulator.routing import Call, GitHubError, SimRoute

DOCS = "https://docs.github.com/enterprise-cloud@latest/rest/billing"
ENTERPRISE = "/enterprises/{enterprise}/settings/billing"
ORGANIZATION = "/organizations/{org}/settings/billing"
DRIFT_ADDED = ("billingCycle", {"start": "2024-09-01", "end": "2024-09-30"})  # a field nobody documents
DRIFT_RENAMED = ("discountAmount", "discountAmountUsd")  # in usageItems[]: old name -> new name
_POOL_CENTER = "Platform Engineering"  # the one cost centre drawing from the AI credit pool
_POOL_PER_USER = 5000  # AI credits per member and month


def _id(seed: int, *parts: object) -> str:
    digest = hashlib.sha256(":".join(str(p) for p in (seed, *parts)).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _account(call: Call) -> tuple[str, str]:
    """("enterprise" | "organization", canonical name), or a 404 for an unknown account."""
    world = call.sim.world
    if "enterprise" in call.path_params:
        if call.path_params["enterprise"].lower() != world.enterprise.lower():
            raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
        return "enterprise", world.enterprise
    org = world.org(call.path_params["org"])
    if org is None:
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    return "organization", org.login


def _int(call: Call, name: str, default: int, lo: int, hi: int) -> int:
    text = call.query.get(name)
    if text is None:
        return default
    if not text.isdigit() or not lo <= int(text) <= hi:
        raise call.invalid(f"Invalid value for {name}: {text!r}.")
    return int(text)


def _days(call: Call) -> tuple[dict[str, int], list[date]]:
    """The timePeriod asked for (year, month, day; default this month) and its days that are over."""
    today = datetime.fromtimestamp(call.now, UTC).date()
    year = _int(call, "year", today.year, 2000, 9999)
    month = _int(call, "month", today.month, 1, 12)
    period: dict[str, int] = {"year": year, "month": month}
    first = date(year, month, 1)
    following = (first + timedelta(days=32)).replace(day=1)
    if "day" in call.query:
        period["day"] = _int(call, "day", 1, 1, 31)
        first = first.replace(day=min(period["day"], (following - timedelta(days=1)).day))
        following = first + timedelta(days=1)
    days, day = [], first
    while day < min(following, today):
        days.append(day)
        day += timedelta(days=1)
    return period, days


def _centers(call: Call) -> dict[str, str]:
    """Cost centre id -> name."""
    return {_id(call.sim.world.seed, "cost-center", name): name for name in COST_CENTERS}


def _matches(call: Call, row: Row, owner: str | None, kind: str) -> bool:
    """Whether a row passes the account and the query's filters."""
    q = call.query
    org = owner or q.get("organization")
    if org is not None and row.org.lower() != org.lower():
        return False
    if "repository" in q and f"{row.org}/{row.repository}".lower() != q["repository"].lower():
        return False
    if "product" in q and row.product.lower() != q["product"].lower():
        return False
    if "sku" in q and row.sku != q["sku"]:
        return False
    if "user" in q and row.username.lower() != q["user"].lower():
        return False
    if "model" in q and row.model.lower() != q["model"].lower():
        return False
    if "cost_center_id" in q:
        center = "" if q["cost_center_id"] == "none" else _centers(call).get(q["cost_center_id"])
        if center is None:
            raise GitHubError(404, "Cost center not found", documentation_url=call.route.docs)
        if row.cost_center != center:
            return False
    return kind != "summary" or "user" not in q


def _items(rows: Iterable[tuple[Row, float, float]], with_model: bool) -> list[dict[str, Any]]:
    """Rows (row, quantity, price) summed per product, SKU, unit (and model), shaped as usageItems."""
    sums: dict[tuple[str, ...], list[float]] = {}
    for row, quantity, price in rows:
        key = (row.product, row.sku, row.unit_type, f"{price}", *((row.model,) if with_model else ()))
        acc = sums.setdefault(key, [0.0, 0.0])
        acc[0] += quantity
        acc[1] += quantity * row.discount_share
    items = []
    for key, (quantity, discounted) in sorted(sums.items()):
        price = float(key[3])
        item: dict[str, Any] = {"product": key[0], "sku": key[1]}
        if with_model:
            item["model"] = key[4]
        item.update({
            "unitType": key[2], "pricePerUnit": price,
            "grossQuantity": round(quantity, 4), "grossAmount": round(quantity * price, 4),
            "discountQuantity": round(discounted, 4), "discountAmount": round(discounted * price, 4),
            "netQuantity": round(quantity - discounted, 4), "netAmount": round((quantity - discounted) * price, 4),
        })
        items.append(item)
    return items


def _report(call: Call, kind: str) -> dict[str, Any]:
    account_type, name = _account(call)
    billing = call.sim.family_state(Billing)
    period, days = _days(call)
    owner = name if account_type == "organization" else None
    rows: Iterator[tuple[Row, float, float]]
    if kind == "summary":
        rows = ((r, r.quantity, r.price) for d in days for r in billing.metered_rows(d))
    elif kind == "premium":
        rows = ((r, r.quantity, r.price) for d in days for r in billing.premium_rows(d))
    else:
        rows = ((r, credits, _CREDIT_PRICE) for d in days for r, credits in billing.credit_rows(d))
    body: dict[str, Any] = {"timePeriod": period, account_type: name}
    for key in ("organization", "repository", "product", "sku", "user", "model"):
        if key in call.query and key not in body:
            body[key] = call.query[key]
    body["usageItems"] = _items((r for r in rows if _matches(call, r[0], owner, kind)), with_model=kind != "summary")
    return body


def usage_summary(call: Call) -> dict[str, Any]:
    return _report(call, "summary")


def premium_request_usage(call: Call) -> dict[str, Any]:
    return _report(call, "premium")


def ai_credit_usage(call: Call) -> dict[str, Any]:
    return _report(call, "credits")


def _budget(seed: int, scope: str, entity: str, pricing: str, sku: str, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": _id(seed, "budget", scope, entity, sku), "budget_type": pricing, "budget_product_sku": sku,
        "budget_scope": scope, "budget_entity_name": entity, "budget_amount": amount,
        "prevent_further_usage": scope in ("repository", "user"),
        "budget_alerting": {"will_alert": scope != "user", "alert_recipients": [] if scope == "user" else ["mona"]},
        **extra,
    }


def budgets_of(call: Call, account_type: str, name: str) -> list[dict[str, Any]]:
    world = call.sim.world
    seed = world.seed
    org = world.org(name) if account_type == "organization" else sorted(world.orgs.values(), key=lambda o: o.login)[0]
    assert org is not None
    repo = "web" if "web" in org.repos else org.repos[0]
    scale = call.sim.config.budget_scale
    wide = scale * len(world.orgs)  # enterprise-wide budgets: every organisation spends from them
    out = [
        _budget(seed, "organization", org.login, "SkuPricing", "copilot_premium_request", round(50 * scale)),
        _budget(seed, "repository", f"{org.login}/{repo}", "ProductPricing", "actions", round(120 * scale)),
    ]
    if account_type == "enterprise":
        user = org.users[0].login
        _, days = _days(call)
        consumed = sum(credits * _CREDIT_PRICE for d in days for r, credits in
                       call.sim.family_state(Billing).credit_rows(d) if r.username == user)
        out = [
            _budget(seed, "enterprise", "", "ProductPricing", "actions", round(800 * wide)),
            *out,
            _budget(seed, "cost_center", "Mobile", "ProductPricing", "actions", round(290 * wide)),
            _budget(seed, "user", "", "SkuPricing", "copilot_ai_credit", round(40 * scale), user=user,
                    consumed_amount=round(consumed, 4)),
            _budget(seed, "multi_user_customer", "", "SkuPricing", "copilot_ai_credit", round(500 * wide)),
        ]
    return out


def budgets(call: Call) -> dict[str, Any]:
    account_type, name = _account(call)
    found = budgets_of(call, account_type, name)
    if "scope" in call.query:
        found = [b for b in found if b["budget_scope"] == call.query["scope"]]
    per_page = _int(call, "per_page", 30, 1, 100)
    page = _int(call, "page", 1, 1, 10_000)
    chunk = found[(page - 1) * per_page: page * per_page]
    return {"budgets": chunk, "has_next_page": page * per_page < len(found), "total_count": len(found)}


def cost_centers(call: Call) -> dict[str, Any]:
    _account(call)
    world = call.sim.world
    billing = call.sim.family_state(Billing)
    _, days = _days(call)
    pool_users = sorted({r.username for d in days[-1:] for r, _ in billing.credit_rows(d)
                         if r.cost_center == _POOL_CENTER})
    current = sum(c for d in days for r, c in billing.credit_rows(d) if r.cost_center == _POOL_CENTER)
    out = []
    for center_id, name in _centers(call).items():
        center: dict[str, Any] = {"id": center_id, "name": name, "state": "active",
                                  "resources": [{"type": "User", "name": u} for u in pool_users]
                                  if name == _POOL_CENTER else [{"type": "Org", "name": next(iter(world.orgs))}],
                                  "ai_credit_pool_enabled": name == _POOL_CENTER}
        if name == _POOL_CENTER:
            center["ai_credit_pool_state"] = {"target_amount": _POOL_PER_USER * max(1, len(pool_users)),
                                              "current_amount": round(current, 2)}
        out.append(center)
    if call.query.get("state") == "deleted":
        out = []
    return {"costCenters": out}


def _routes() -> list[SimRoute]:
    out = []
    for base in (ENTERPRISE, ORGANIZATION):
        out += [
            SimRoute("GET", f"{base}/usage/summary", usage_summary, docs=f"{DOCS}/usage"),
            SimRoute("GET", f"{base}/premium_request/usage", premium_request_usage, docs=f"{DOCS}/usage"),
            SimRoute("GET", f"{base}/ai_credit/usage", ai_credit_usage, docs=f"{DOCS}/usage"),
            SimRoute("GET", f"{base}/budgets", budgets, docs=f"{DOCS}/budgets"),
        ]
    out.append(SimRoute("GET", f"{ENTERPRISE}/cost-centers", cost_centers, docs=f"{DOCS}/cost-centers"))
    return out


def _drifted(content: Any) -> Any:
    if not isinstance(content, dict) or not isinstance(content.get("usageItems"), list):
        return content
    items = [drifted(i, DRIFT_RENAMED) if isinstance(i, dict) else i for i in content["usageItems"]]
    return drifted({**content, "usageItems": items}, ("", ""), DRIFT_ADDED)


ROUTES = _routes()
for _base in (ENTERPRISE, ORGANIZATION):
    register_drift("billing_usage", f"{_base}/premium_request/usage", _drifted)
