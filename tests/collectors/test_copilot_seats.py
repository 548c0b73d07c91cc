"""The copilot_seats collector against the simulator's seat listings (GitHub's documented seat shapes)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from exporter.collectors.copilot_seats import SEAT_FIELDS, SEAT_SCHEMA, CopilotSeatsCollector, editor_name
from exporter.settings import Settings
from exporter.simulator import ManualClock, RunningSimulator, SimulatorConfig
from exporter.simulator import copilot_seats as seats_model
from exporter.simulator.routing import parse_iso
from tests.collectors import harness
from tests.collectors.harness import DAY, ENTERPRISE, NOW, ORG, Golden, client_for, render, samples
from tests.tools import promtool_check_metrics

SEATS = "/orgs/{org}/copilot/billing/seats"


def settings_for(running: RunningSimulator, **options: Any) -> Settings:
    """The org and the enterprise as targets; `options` configure copilot_seats."""
    return harness.settings_for(running, targets={"orgs": [ORG], "enterprises": [ENTERPRISE]},
                                collectors={"copilot_seats": options})


async def collect(running: RunningSimulator, target: str = ORG, now: float = NOW, **options: Any) -> list[Metric]:
    settings = settings_for(running, **options)
    running.sim.set_clock(now)
    async with client_for(settings) as client:
        return await CopilotSeatsCollector(client, settings, target, clock=ManualClock(now)).collect()


def idle_users(running: RunningSimulator, days: int, now: float = NOW) -> set[str]:
    """Logins of the org's seats whose simulated last_activity_at is missing or more than `days` days old."""
    world = running.sim.world
    org = world.org(ORG)
    assert org is not None
    idle = set()
    for user in org.users:
        last = seats_model.seat(world, org, user, now)["last_activity_at"]
        if last is None or parse_iso(last) < now - days * DAY:
            idle.add(user.login)
    return idle


async def test_org_exposition_matches_golden(running: RunningSimulator, golden: Golden) -> None:
    text = render(await collect(running))
    golden("copilot_seats_org.prom", text)
    promtool_check_metrics(text)


async def test_enterprise_exposition_matches_golden(running: RunningSimulator, golden: Golden) -> None:
    families = await collect(running, f"enterprise:{ENTERPRISE}")
    text = render(families)
    golden("copilot_seats_enterprise.prom", text)
    org = running.sim.world.org(ORG)
    assert org is not None
    seats = samples(families, "github_copilot_enterprise_seats")
    # Users with a second seat through an enterprise team still count once.
    assert seats[(("enterprise", ENTERPRISE), ("state", "assigned"))] == len(org.users)
    assert not [k for k in seats if dict(k)["state"] == "pending_invitation"], "no enterprise billing details"
    plans = samples(families, "github_copilot_enterprise_seats_plan")
    assert sum(plans.values()) == len(org.users)


async def test_seats_by_state_and_the_billing_breakdown(running: RunningSimulator) -> None:
    families = await collect(running)
    seats = {dict(k)["state"]: v for k, v in samples(families, "github_copilot_seats").items()}
    org = running.sim.world.org(ORG)
    assert org is not None
    assert seats["assigned"] == len(org.users)
    assert 0 < seats["pending_cancellation"] < seats["assigned"]
    assert seats["pending_invitation"] >= 1
    cycle = {dict(k)["state"]: v for k, v in samples(families, "github_copilot_seats_billing_cycle").items()}
    assert cycle["active_this_cycle"] + cycle["inactive_this_cycle"] == seats["assigned"]
    # Every page of the listing was read (the collector asks for 100 per page).
    routes = running.sim.request_counts()["routes"]
    assert routes[SEATS] >= 2 and routes["/orgs/{org}/copilot/billing"] == 1


SUNDAY_NIGHT = parse_iso("2024-09-15T23:30:00Z")  # week-ends are quiet: a short window finds more idle seats


@pytest.mark.parametrize("days", [1, 7, 30])
async def test_inactive_seats_follow_inactive_days(running: RunningSimulator, days: int) -> None:
    families = await collect(running, now=SUNDAY_NIGHT, inactive_days=days)
    expected = len(idle_users(running, days, SUNDAY_NIGHT))
    assert samples(families, "github_copilot_seats_inactive") == {(("org", ORG),): expected}


async def test_inactive_days_changes_the_count(running: RunningSimulator) -> None:
    short = samples(await collect(running, now=SUNDAY_NIGHT, inactive_days=1), "github_copilot_seats_inactive")
    long = samples(await collect(running, now=SUNDAY_NIGHT, inactive_days=30), "github_copilot_seats_inactive")
    assert short[(("org", ORG),)] > long[(("org", ORG),)] > 0, "never-active seats are inactive at any window"


async def test_editors_beyond_the_limit_sum_into_other(running: RunningSimulator) -> None:
    name = "github_copilot_seats_last_activity_editor"
    full = samples(await collect(running), name)
    cut = samples(await collect(running, max_label_values=1), name)
    assert len(full) > 2 and len(cut) == 2 and "other" in {dict(k)["editor"] for k in cut}
    assert sum(cut.values()) == sum(full.values())


async def test_pages_are_followed() -> None:
    config = SimulatorConfig(users=130)
    with RunningSimulator(config=config, clock=ManualClock(NOW)) as running:
        families = await collect(running)
        assert running.sim.request_counts()["routes"][SEATS] == 3  # total_seats, then pages of 100 and 30
    assert sum(samples(families, "github_copilot_seats_plan").values()) == 130


def test_editor_name_drops_versions() -> None:
    assert editor_name("vscode/1.77.3/copilot/1.86.82") == "vscode"
    assert editor_name("JetBrains-IC/2024.1") == "jetbrains-ic"
    assert editor_name(None) == editor_name("") == "none"


def test_every_documented_seat_field_is_read_or_skipped_with_a_reason() -> None:
    from tests.openapi import documented_paths, operation

    for route in (SEATS, "/enterprises/{enterprise}/copilot/billing/seats"):
        body = operation(route)["responses"]["200"]["content"]["application/json"]["schema"]
        documented = documented_paths(body["properties"]["seats"]["items"])
        assert "assignee.login" in documented and "assigning_team.slug" in documented
        assert {p for p in documented if not SEAT_SCHEMA.knows(p)} == set(), route
    assert all(reason.startswith(("read: ", "skipped: ")) for reason in SEAT_FIELDS.values())


async def test_the_simulators_seats_leave_no_drift_and_an_unknown_field_shows(running: RunningSimulator) -> None:
    settings = settings_for(running)
    registry = CollectorRegistry()
    async with client_for(settings, registry) as client:
        await CopilotSeatsCollector(client, settings, ORG, clock=ManualClock(NOW)).collect()
        await CopilotSeatsCollector(client, settings, f"enterprise:{ENTERPRISE}", clock=ManualClock(NOW)).collect()
        unmapped = [s for f in registry.collect() for s in f.samples if s.name.startswith("github_exporter_")
                    and ("unmapped" in s.name or "missing" in s.name)]
        assert unmapped == [], "every field the simulator sends is read or skipped"
        check = SEAT_SCHEMA.check()
        check.record({"created_at": "2024-01-01T00:00:00Z", "assignee": {"id": 1, "new": 2}, "seat_tier": "pro"})
        client.drift.report("copilot_seats", "seats", check)
        assert registry.get_sample_value(
            "github_exporter_unmapped_fields", {"collector": "copilot_seats", "field": "seat_tier"}
        ) == 1
        assert registry.get_sample_value(
            "github_exporter_unmapped_fields", {"collector": "copilot_seats", "field": "assignee.new"}
        ) is None, "the user object is skipped whole"
