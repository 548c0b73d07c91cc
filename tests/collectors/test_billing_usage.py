"""The JSON billing usage collector against the simulator over loopback: golden exposition, budgets, bounds."""

from __future__ import annotations

import math

import pytest

from exporter.collectors import billing_usage as bu
from exporter.collectors.billing_usage import OTHER, Item, top_n
from exporter.github.errors import MalformedResponseError
from exporter.simulator import ManualClock, RunningSimulator
from tests.collectors.harness import (
    ENTERPRISE,
    ORG,
    Golden,
    Harness,
    collect_once,
    drift_signals,
    render,
    samples,
    settings_for,
    values,
)
from tests.tools import promtool_check_metrics


def _settings(running: RunningSimulator, **options: object):  # type: ignore[no-untyped-def]
    return settings_for(running, targets={"enterprises": [ENTERPRISE], "orgs": [ORG]},
                        collectors={"billing_usage": options})


def by_scope(families: list, name: str, account: str = ENTERPRISE) -> dict[str, float]:
    return {dict(k)["budget_scope"]: v for k, v in samples(families, name).items() if dict(k)["account"] == account}


async def test_golden_exposition_and_promtool(running: RunningSimulator, clock: ManualClock, golden: Golden) -> None:
    families = await collect_once(_settings(running), clock, "billing_usage")
    body = render(families)
    golden("billing_usage.prom", body)
    promtool_check_metrics(body)


async def test_budget_spent_is_the_usage_in_its_scope(running: RunningSimulator, clock: ManualClock) -> None:
    families = await collect_once(_settings(running), clock, "billing_usage")
    net = {(dict(k)["account"], dict(k)["product"], dict(k)["sku"]): v
           for k, v in samples(families, "github_billing_metered_net_amount_usd").items()}
    spent = by_scope(families, "github_billing_budget_spent_usd")
    amount = by_scope(families, "github_billing_budget_amount_usd")
    ratio = by_scope(families, "github_billing_budget_spent_ratio")
    # The enterprise-wide Actions budget has spent what the summary says Actions cost.
    actions = sum(v for (account, product, _), v in net.items() if account == ENTERPRISE and product == "actions")
    assert spent["enterprise"] == pytest.approx(actions, abs=0.01) and actions > 0
    # The org-scoped premium request budget: the org's premium request SKU in the summary.
    assert spent["organization"] == pytest.approx(net[(ENTERPRISE, "copilot", "copilot_premium_request")], abs=0.01)
    for scope, value in ratio.items():
        assert value == pytest.approx(spent[scope] / amount[scope], rel=1e-5)
    # A narrower scope spends less than the whole.
    assert 0 < spent["cost_center"] < spent["enterprise"] and 0 < spent["repository"] < spent["enterprise"]
    # Multi-user budgets have an amount but no spent amount (GitHub keeps it per user).
    assert "multi_user_customer" in amount and "multi_user_customer" not in spent
    # By mid-month the simulator has one budget past 100% and one between 80% and 100%.
    assert ratio["repository"] > 1 and 0.8 <= ratio["cost_center"] < 1
    # The organization sees the budgets scoped to it, with the same spent amounts.
    org_spent = by_scope(families, "github_billing_budget_spent_usd", ORG)
    assert org_spent == {"organization": spent["organization"], "repository": spent["repository"]}


async def test_one_summary_request_per_distinct_budget_filter(running: RunningSimulator, clock: ManualClock) -> None:
    await collect_once(settings_for(running, targets={"enterprises": [ENTERPRISE]}), clock, "billing_usage")
    routes = running.sim.request_counts()["routes"]
    # month summary + enterprise, organization, repository and cost-centre budgets (user budgets need none)
    assert routes["/enterprises/{enterprise}/settings/billing/usage/summary"] == 5
    assert routes["/enterprises/{enterprise}/settings/billing/cost-centers"] == 1
    assert not any(route.startswith("/organizations/") for route in routes)


async def test_ai_credits_are_bounded_with_other(running: RunningSimulator, clock: ManualClock) -> None:
    wide = await collect_once(_settings(running, top_n=10), clock, "billing_usage")
    narrow = await collect_once(_settings(running, top_n=1), clock, "billing_usage")
    name = "github_billing_ai_credits_gross_amount_usd"
    wide_enterprise = {dict(k)["sku"]: v for k, v in samples(wide, name).items() if dict(k)["account"] == ENTERPRISE}
    narrow_enterprise = {dict(k)["sku"]: v for k, v in samples(narrow, name).items()
                         if dict(k)["account"] == ENTERPRISE}
    assert len(wide_enterprise) >= 3 and OTHER not in wide_enterprise
    top = max(wide_enterprise, key=wide_enterprise.__getitem__)
    assert set(narrow_enterprise) == {top, OTHER}
    assert math.isclose(sum(narrow_enterprise.values()), sum(wide_enterprise.values()), rel_tol=1e-9)


@pytest.mark.parametrize("what", ["premium_requests", "ai_credits"])
async def test_cost_by_model_is_the_same_whole_bounded_with_other(
    running: RunningSimulator, clock: ManualClock, what: str
) -> None:
    import httpx

    from tests.collectors.harness import TOKEN

    wide = await collect_once(_settings(running, top_n=10), clock, "billing_usage")
    narrow = await collect_once(_settings(running, top_n=1), clock, "billing_usage")
    route = "premium_request" if what == "premium_requests" else "ai_credit"
    expected: dict[str, float] = {}
    answer = httpx.get(f"{running.url}/enterprises/{ENTERPRISE}/settings/billing/{route}/usage",
                       params={"year": 2024, "month": 9}, headers={"Authorization": f"Bearer {TOKEN}"})
    for item in answer.json()["usageItems"]:
        expected[item["model"]] = expected.get(item["model"], 0) + item["grossAmount"]
    for families, models in ((wide, sorted(expected)), (narrow, sorted([max(expected, key=expected.get), OTHER]))):
        by_model = {dict(k)["model"]: v for k, v in samples(families, f"github_billing_{what}_by_model_gross_amount_usd"
                                                            ).items() if dict(k)["account"] == ENTERPRISE}
        assert sorted(by_model) == models
        assert math.isclose(sum(by_model.values()), sum(expected.values()), rel_tol=1e-9)
    assert len(expected) >= 3, "three models or more: the narrow run folds some into other"


def test_top_n_keeps_the_largest_and_sums_the_rest() -> None:
    items = [Item("copilot", sku, "Credits", q, q / 100, 0, q / 100) for sku, q in (("a", 5), ("b", 50), ("c", 7))]
    kept = top_n([*items, Item("copilot", "b", "Credits", 1, 0.01, 0, 0.01)], 1)
    assert [(i.product, i.sku, i.quantity) for i in kept] == [("copilot", "b", 51), (OTHER, OTHER, 12)]


async def test_malformed_budget_answer_fails_the_run(running: RunningSimulator, clock: ManualClock) -> None:
    running.sim.add_fault("malformed", route="/enterprises/{enterprise}/settings/billing/budgets")
    with pytest.raises(MalformedResponseError):
        await collect_once(settings_for(running, targets={"enterprises": [ENTERPRISE]}), clock, "billing_usage")


# -- drift -------------------------------------------------------------------------------------------

DOCUMENTED = {  # the collector's route -> (where GitHub's description lists it, which description)
    "enterprise": ("/enterprises/{enterprise}/settings/billing", "ghec"),
    "organization": ("/organizations/{org}/settings/billing", "api.github.com"),
}


@pytest.mark.parametrize(("account", "route"), [  # cost centres are an enterprise's only
    (account, route) for account in DOCUMENTED for route in sorted(bu.FIELDS)
    if account == "enterprise" or route != bu.COST_CENTERS])
def test_every_documented_field_is_mapped_or_skipped_with_a_reason(account: str, route: str) -> None:
    from tests.openapi import API_GITHUB_COM, DESCRIPTION, response_paths

    base, source = DOCUMENTED[account]
    path = route.replace("{base}", base).replace("/enterprises/{account}", "/enterprises/{enterprise}")
    documented = response_paths(path, source=DESCRIPTION if source == "ghec" else API_GITHUB_COM)
    fields = bu.FIELDS[route]
    entry = f"{fields.key}[]."
    assert {p for p in documented if not fields.answer.knows(p)} == set(), "neither mapped nor skipped"
    assert {p for p in documented if p.startswith(entry) and not fields.entry.knows(p.removeprefix(entry))} == set()
    known = {p for p in fields.answer.known if not p.endswith("[].*")} | {entry + p for p in fields.entry.known}
    if account == "enterprise":  # the organizations' answers are the enterprises' less the enterprise filters
        assert known - documented <= bu.UNDOCUMENTED, "known but not documented"
    assert {p for p in fields.entry.required if entry + p not in documented} == set()


def test_every_skipped_field_says_why() -> None:
    assert all(len(reason) > 10 for reason in bu.SKIPPED.values())


async def test_every_documented_field_leaves_no_drift_and_a_drift_shows_within_one_run(
    running: RunningSimulator, clock: ManualClock
) -> None:
    from exporter.simulator import billing_usage as sim_bu
    from exporter.simulator.field_drift import set_field_drift

    harness = Harness(_settings(running), clock, "billing_usage")
    try:
        before = values(await harness.collect())
        assert drift_signals(harness.client) == {"unmapped": set(), "missing": set()}, "every field is known"
        set_field_drift(running.sim, "billing_usage", True)
        after = values(await harness.collect())  # no traceback
        (added, value), (old, new) = sim_bu.DRIFT_ADDED, sim_bu.DRIFT_RENAMED
        assert drift_signals(harness.client) == {
            "unmapped": {("billing_usage", f"{added}.{f}") for f in value} | {("billing_usage", new)},
            "missing": {("billing_usage", old)},
        }
        changed = {k for k in before if k[0] in ("github_billing_premium_requests_discount_amount_usd",
                                                 "github_billing_premium_requests_by_model_discount_amount_usd")}
        assert changed and all(after[k] == 0 for k in changed), "the renamed discount reads as not reported"
        assert {k: v for k, v in before.items() if k not in changed} == {
            k: v for k, v in after.items() if k not in changed}, "every other figure is still right"
        set_field_drift(running.sim, "billing_usage", False)
        await harness.collect()
        assert drift_signals(harness.client)["missing"] == set()
    finally:
        await harness.aclose()
