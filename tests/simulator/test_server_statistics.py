"""Simulated Enterprise Server statistics: documented shape, daily uploads, date range and plausible figures."""

from __future__ import annotations

import itertools

import httpx

from exporter.simulator import ManualClock, Simulator, SimulatorConfig, create_app
from exporter.simulator.routing import iso, parse_iso
from exporter.simulator.server_statistics import DAY, servers
from tests.openapi import assert_matches
from tests.simulator.conftest import AUTH, NOW, ORG

ROUTE = "/enterprise-installation/{enterprise_or_org}/server-statistics"
URL = "/enterprise-installation/octo-enterprise/server-statistics"


async def test_answer_matches_the_description_and_has_both_servers(sim: Simulator, client: httpx.AsyncClient) -> None:
    response = await client.get(URL, params={"date_start": "2024-09-10"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert_matches(body, ROUTE)
    assert {c["server_id"] for c in body} == {s.server_id for s in servers(sim.world)}
    dates = [c["collection_date"] for c in body]
    assert dates == sorted(dates), "collections come oldest first"
    assert all(d.endswith("T23:59:59Z") and "2024-09-10" <= d[:10] <= "2024-09-17" for d in dates)


async def test_date_range_is_honoured(client: httpx.AsyncClient) -> None:
    body = (await client.get(URL, params={"date_start": "2024-09-12", "date_end": "2024-09-13"})).json()
    assert {c["collection_date"][:10] for c in body} == {"2024-09-12", "2024-09-13"}
    assert (await client.get(URL, params={"date_start": "2024-09-20"})).json() == []
    # Timestamps work too; without date_start the answer covers 30 days.
    body = (
        await client.get(URL, params={"date_start": "2024-09-13T00:00:00Z", "date_end": "2024-09-13T23:59:59Z"})
    ).json()
    assert {c["collection_date"] for c in body} == {"2024-09-13T23:59:59Z"}
    body = (await client.get(URL)).json()
    assert min(c["collection_date"] for c in body) >= "2024-08-19"


async def test_bad_ranges_are_refused(client: httpx.AsyncClient) -> None:
    for params in (
        {"date_start": "yesterday"},
        {"date_start": "2024-09-15", "date_end": "2024-09-01"},
        {"date_start": "2023-01-01", "date_end": "2024-09-01"},
    ):
        response = await client.get(URL, params=params)
        assert response.status_code == 422, params
        assert response.json()["message"].startswith("Invalid request.")


async def test_accounts(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"/enterprise-installation/{ORG}/server-statistics")).json() == []
    assert (await client.get("/enterprise-installation/no-such-account/server-statistics")).status_code == 404
    assert (await client.get("/enterprise-installation/Octo-Enterprise/server-statistics")).json()


async def test_a_day_shows_after_its_upload_and_never_changes(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    day = "2024-09-18"
    params = {"date_start": day}
    clock.set(parse_iso(f"{day}T23:00:00Z"))
    assert (await client.get(URL, params=params)).json() == [], "today's collection is not uploaded yet"
    clock.set(parse_iso("2024-09-19T00:20:00Z"))
    assert (await client.get(URL, params=params)).json() == [], "uploads come 30 minutes to 2 hours after midnight"
    clock.set(parse_iso("2024-09-19T02:00:00Z"))
    first = (await client.get(URL, params=params)).json()
    prod = servers(sim.world)[0]
    assert [c["server_id"] for c in first if c["collection_date"][:10] == day][:1] == [prod.server_id]
    clock.advance(5 * DAY)
    assert (await client.get(URL, params={"date_start": day, "date_end": day})).json() == first


async def test_figures_are_consistent_and_grow(client: httpx.AsyncClient, sim: Simulator) -> None:
    prod = servers(sim.world)[0].server_id
    body = [c for c in (await client.get(URL, params={"date_start": "2024-09-01"})).json() if c["server_id"] == prod]
    assert len(body) >= 15, "production uploads every day"
    for c in body:
        s = c["ghe_stats"]
        assert s["issues"]["open_issues"] + s["issues"]["closed_issues"] == s["issues"]["total_issues"]
        assert s["repos"]["root_repos"] + s["repos"]["fork_repos"] == s["repos"]["total_repos"]
        assert s["hooks"]["active_hooks"] + s["hooks"]["inactive_hooks"] == s["hooks"]["total_hooks"]
        assert s["users"]["admin_users"] < s["users"]["total_users"]
        ratio = float(c["actions_stats"]["percentage_of_repos_using_actions"])
        expected = 100 * c["actions_stats"]["number_of_repos_using_actions"] / s["repos"]["total_repos"]
        assert abs(ratio - expected) < 0.01
        assert c["dormant_users"]["dormancy_threshold"] == "90 days"
    for earlier, later in itertools.pairwise(body):
        for group, field in (
            ("repos", "total_repos"),
            ("repos", "total_pushes"),
            ("comments", "total_issue_comments"),
            ("users", "total_users"),
            ("pulls", "total_pulls"),
        ):
            assert later["ghe_stats"][group][field] >= earlier["ghe_stats"][group][field], (group, field)
    assert body[-1]["ghe_stats"]["repos"]["total_pushes"] > body[0]["ghe_stats"]["repos"]["total_pushes"]


async def test_staging_misses_some_uploads_and_runs_ahead(client: httpx.AsyncClient, sim: Simulator) -> None:
    prod, staging = servers(sim.world)
    body = (await client.get(URL, params={"date_start": "2024-07-01"})).json()
    per_server = {s.server_id: [c for c in body if c["server_id"] == s.server_id] for s in (prod, staging)}
    assert len(per_server[staging.server_id]) < len(per_server[prod.server_id])
    staging_latest = per_server[staging.server_id][-1]
    assert staging_latest["packages_stats"] == {
        "registry_enabled": False,
        "registry_v2_enabled": False,
        "ecosystems": [],
    }
    versions = {
        c["server_id"]: tuple(map(int, c["ghes_version"].split(".")))
        for c in body
        if c["collection_date"] == iso(parse_iso("2024-09-10T23:59:59Z"))
    }
    assert versions[staging.server_id] >= versions[prod.server_id]


async def test_days_change_once_a_day(client: httpx.AsyncClient, clock: ManualClock) -> None:
    """Asking twice in a day gives the same answer; a new day adds one collection per server at most."""
    first = (await client.get(URL, params={"date_start": "2024-09-10"})).json()
    clock.advance(3600)
    assert (await client.get(URL, params={"date_start": "2024-09-10"})).json() == first
    assert NOW + 3600 < parse_iso("2024-09-19T00:00:00Z")


async def _worst_age(config: SimulatorConfig, days: int) -> float:
    """The oldest "newest collection" of any server, over every hour of `days` days and minutes around midnight."""
    clock = ManualClock(NOW)
    sim = Simulator(config, clock=clock)
    worst = 0.0
    transport = httpx.ASGITransport(app=create_app(sim))
    async with httpx.AsyncClient(transport=transport, base_url="https://api.github.test", headers=AUTH) as client:
        for hour in range(days * 24):
            for minute in (0, 29, 59) if hour % 24 in (0, 1, 23) else (17,):
                clock.set(NOW - NOW % DAY + hour * 3600 + minute * 60)
                body = (await client.get(URL, params={"date_start": iso(clock() - 5 * DAY)})).json()
                for server in servers(sim.world):
                    newest = max(parse_iso(c["collection_date"]) for c in body if c["server_id"] == server.server_id)
                    worst = max(worst, clock() - newest)
    return worst


async def test_the_demo_world_is_never_two_days_behind() -> None:
    """GitHubEnterpriseServerStatsStale fires past 2 days; the demo's servers stay under it at every hour.

    The tests' world (staging misses about one upload in seven) does not: one missed upload leaves the newest
    collection over two days old early on the second day after it, until the next upload shows. That is why
    `SimulatorConfig.demo()`, the healthy world, misses none.
    """
    assert await _worst_age(SimulatorConfig.demo(), days=21) < 2 * DAY
    assert await _worst_age(SimulatorConfig(), days=21) > 2 * DAY
