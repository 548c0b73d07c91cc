"""Copilot seats in the simulator: shapes per the OpenAPI description, pagination, consistency with activity."""

from __future__ import annotations

import httpx
import pytest

from exporter.simulator import Simulator
from exporter.simulator import copilot as activity
from exporter.simulator.routing import parse_iso
from tests.openapi import assert_matches
from tests.simulator.conftest import NOW, ORG

ENTERPRISE = "octo-enterprise"
ORG_SEATS = "/orgs/{org}/copilot/billing/seats"
ENT_SEATS = "/enterprises/{enterprise}/copilot/billing/seats"
BILLING = "/orgs/{org}/copilot/billing"


@pytest.mark.parametrize("path", [ORG_SEATS, ENT_SEATS, BILLING])
async def test_answers_match_the_description(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path.format(org=ORG, enterprise=ENTERPRISE))
    assert response.status_code == 200, response.text
    body = response.json()
    assert_matches(body, path)
    if path != BILLING:
        assert body["seats"], "an empty list would validate trivially"


async def test_seat_listing_is_paginated_with_link_headers(client: httpx.AsyncClient) -> None:
    first = await client.get(ORG_SEATS.format(org=ORG), params={"per_page": 5})
    assert len(first.json()["seats"]) == 5 and 'rel="next"' in first.headers["link"]
    assert first.json()["total_seats"] == 12, "total_seats is on every page"
    logins = []
    for page in (1, 2, 3):
        answer = await client.get(ORG_SEATS.format(org=ORG), params={"per_page": 5, "page": page})
        logins += [s["assignee"]["login"] for s in answer.json()["seats"]]
    assert len(logins) == len(set(logins)) == 12


async def test_enterprise_counts_a_user_once_however_many_seats(client: httpx.AsyncClient) -> None:
    body = (await client.get(ENT_SEATS.format(enterprise=ENTERPRISE), params={"per_page": 100})).json()
    ids = [s["assignee"]["id"] for s in body["seats"]]
    assert len(ids) > len(set(ids)) == body["total_seats"], "enterprise-team members hold a second seat"
    assert {s["plan_type"] for s in body["seats"]} == {"business", "enterprise"}


async def test_last_activity_is_the_newest_active_day_of_the_model(client: httpx.AsyncClient, sim: Simulator) -> None:
    seats = (await client.get(ORG_SEATS.format(org=ORG), params={"per_page": 100})).json()["seats"]
    today = int(NOW // 86400)
    for seat in seats:
        uid, last = seat["assignee"]["id"], seat["last_activity_at"]
        active = [d for d in range(today - 119, today + 1) if activity.active_on(sim.world.seed, ORG, uid, d)]
        if not active:
            assert last is None and seat["last_activity_editor"] is None
        else:
            assert int(parse_iso(last) // 86400) == max(active) and parse_iso(last) <= NOW
    assert any(s["last_activity_at"] is None for s in seats), "some seats were never used"
    assert any(s["pending_cancellation_date"] for s in seats)


async def test_billing_breakdown_agrees_with_the_listing(client: httpx.AsyncClient) -> None:
    breakdown = (await client.get(BILLING.format(org=ORG))).json()["seat_breakdown"]
    seats = (await client.get(ORG_SEATS.format(org=ORG), params={"per_page": 100})).json()["seats"]
    assert breakdown["total"] == len(seats)
    assert breakdown["pending_cancellation"] == sum(1 for s in seats if s["pending_cancellation_date"])
    assert breakdown["active_this_cycle"] + breakdown["inactive_this_cycle"] == len(seats)


async def test_unknown_owner_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get(ORG_SEATS.format(org="nobody"))).status_code == 404
    assert (await client.get(ENT_SEATS.format(enterprise="nobody"))).status_code == 404
