"""The JSON billing endpoints: agreement with the usage report files' rows, filters and budgets pages (their
shapes: test_families_match_the_description.py)."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from exporter.simulator import Simulator
from tests.simulator.conftest import ORG

ENTERPRISE = "octo-enterprise"
E = "/enterprises/{enterprise}/settings/billing"
O = "/organizations/{org}/settings/billing"  # noqa: E741


def url(template: str) -> str:
    return template.format(enterprise=ENTERPRISE, org=ORG)


async def test_summary_agrees_with_the_report_rows(sim: Simulator, client: httpx.AsyncClient) -> None:
    body = (await client.get(url(f"{E}/usage/summary"), params={"product": "actions"})).json()
    assert body["timePeriod"] == {"year": 2024, "month": 9} and body["usageItems"]
    expected = sum(r.quantity * r.price * (1 - r.discount_share)
                   for d in range(1, 18) for r in sim.billing.metered_rows(date(2024, 9, d)) if r.product == "actions")
    assert sum(i["netAmount"] for i in body["usageItems"]) == pytest.approx(expected, abs=0.05)
    assert {i["product"] for i in body["usageItems"]} == {"actions"}


async def test_filters_narrow_and_unknown_accounts_are_404(client: httpx.AsyncClient) -> None:
    whole = (await client.get(url(f"{E}/usage/summary"))).json()["usageItems"]
    repo = (await client.get(url(f"{E}/usage/summary"), params={"repository": f"{ORG}/web"})).json()["usageItems"]
    assert 0 < sum(i["netAmount"] for i in repo) < sum(i["netAmount"] for i in whole)
    assert (await client.get(f"{E}/usage/summary".format(enterprise="nope"))).status_code == 404
    assert (await client.get(f"{O}/budgets".format(org="nope"))).status_code == 404
    assert (await client.get(url(f"{E}/usage/summary"), params={"month": "13"})).status_code == 422


async def test_budgets_are_paged(client: httpx.AsyncClient) -> None:
    first = (await client.get(url(f"{E}/budgets"), params={"per_page": 4})).json()
    second = (await client.get(url(f"{E}/budgets"), params={"per_page": 4, "page": 2})).json()
    assert first["has_next_page"] and not second["has_next_page"]
    assert len(first["budgets"]) + len(second["budgets"]) == first["total_count"] == 6
