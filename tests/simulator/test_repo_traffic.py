"""Simulated repository traffic and repository listings: documented shapes, time consistency, profiles."""

from __future__ import annotations

import httpx
import pytest

from exporter.simulator import ManualClock, Simulator
from exporter.simulator.repo_traffic import ARCHIVED_ON, DAY, org_repos
from exporter.simulator.routing import parse_iso
from tests.openapi import assert_matches
from tests.simulator.conftest import NOW, ORG

TRAFFIC = "/repos/{owner}/{repo}/traffic"
TODAY = "2024-09-18T00:00:00Z"


def _url(repo: str, what: str) -> str:
    return f"/repos/{ORG}/{repo}/traffic/{what}"


@pytest.mark.parametrize("what", ["views", "clones", "popular/paths", "popular/referrers"])
async def test_traffic_matches_the_description(client: httpx.AsyncClient, what: str) -> None:
    response = await client.get(_url("api", what))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body, "an empty answer would validate trivially"
    assert_matches(body, f"{TRAFFIC}/{what}")
    if what in ("views", "clones"):
        assert_matches((await client.get(_url("api", what), params={"per": "week"})).json(), f"{TRAFFIC}/{what}")


@pytest.mark.parametrize("path", ["/orgs/{org}/repos", "/users/{username}/repos"])
async def test_listings_match_the_description(client: httpx.AsyncClient, path: str) -> None:
    body = (await client.get(path.format(org=ORG, username="mona"), params={"per_page": 100})).json()
    assert body
    assert_matches(body, path)


async def test_views_cover_today_and_14_days_and_total_their_days(client: httpx.AsyncClient) -> None:
    body = (await client.get(_url("api", "views"))).json()
    stamps = [v["timestamp"] for v in body["views"]]
    assert stamps[0] == "2024-09-04T00:00:00Z" and stamps[-1] == TODAY
    assert body["count"] == sum(v["count"] for v in body["views"])
    assert max(v["uniques"] for v in body["views"]) <= body["uniques"] <= sum(v["uniques"] for v in body["views"])
    assert all(0 < v["uniques"] <= v["count"] for v in body["views"])


async def test_days_without_traffic_are_left_out(client: httpx.AsyncClient) -> None:
    body = (await client.get(_url("sdk-python", "clones"))).json()
    assert 0 < len(body["clones"]) < 15
    assert all(c["count"] > 0 for c in body["clones"])


async def test_weeks_start_on_monday_and_add_up_to_the_days(client: httpx.AsyncClient) -> None:
    days = (await client.get(_url("web", "clones"))).json()
    weeks = (await client.get(_url("web", "clones"), params={"per": "week"})).json()
    assert [w["timestamp"] for w in weeks["clones"]] == ["2024-09-02T00:00:00Z", "2024-09-09T00:00:00Z",
                                                           "2024-09-16T00:00:00Z"]
    assert sum(w["count"] for w in weeks["clones"]) == days["count"] == weeks["count"]
    assert weeks["uniques"] == days["uniques"]
    assert (await client.get(_url("web", "clones"), params={"per": "month"})).status_code == 422


async def test_past_days_stay_and_today_grows_during_the_day(client: httpx.AsyncClient, clock: ManualClock) -> None:
    def today(body: dict) -> int:
        return next((v["count"] for v in body["views"] if v["timestamp"] == TODAY), 0)

    clock.set(parse_iso("2024-09-18T01:00:00Z"))
    early = (await client.get(_url("api", "views"))).json()
    clock.set(parse_iso("2024-09-18T12:00:00Z"))
    noon = (await client.get(_url("api", "views"))).json()
    clock.set(parse_iso("2024-09-18T23:59:00Z"))
    late = (await client.get(_url("api", "views"))).json()
    assert today(early) < today(noon) < today(late)
    assert early["views"][:-1] == noon["views"][:-1] == late["views"][:-1], "finished days do not change"
    clock.set(parse_iso("2024-09-19T06:00:00Z"))
    tomorrow = (await client.get(_url("api", "views"))).json()
    yesterday = next(v for v in tomorrow["views"] if v["timestamp"] == TODAY)
    assert yesterday["count"] >= today(late)
    assert tomorrow["views"][0]["timestamp"] == "2024-09-05T00:00:00Z", "the window moved by one day"


async def test_quiet_repository_has_zeros_and_empty_lists(client: httpx.AsyncClient) -> None:
    assert (await client.get(_url("docs", "views"))).json() == {"count": 0, "uniques": 0, "views": []}
    assert (await client.get(_url("docs", "clones"))).json() == {"count": 0, "uniques": 0, "clones": []}
    assert (await client.get(_url("docs", "popular/paths"))).json() == []
    assert (await client.get(_url("docs", "popular/referrers"))).json() == []


async def test_read_only_repository_answers_403_and_unknown_404(client: httpx.AsyncClient) -> None:
    for what in ("views", "clones", "popular/paths", "popular/referrers"):
        response = await client.get(_url("cli", what))
        assert response.status_code == 403
        assert response.json()["message"] == "Must have push access to repository"
        assert_matches(response.json(), f"{TRAFFIC}/{what}", status=403)
        assert (await client.get(_url("no-such-repo", what))).status_code == 404


async def test_top_lists_are_at_most_ten_and_sorted(client: httpx.AsyncClient) -> None:
    paths = (await client.get(_url("api", "popular/paths"))).json()
    referrers = (await client.get(_url("api", "popular/referrers"))).json()
    views = (await client.get(_url("api", "views"))).json()
    for rows in (paths, referrers):
        assert 1 <= len(rows) <= 10
        assert [r["count"] for r in rows] == sorted((r["count"] for r in rows), reverse=True)
        assert all(0 < r["uniques"] <= r["count"] for r in rows)
    assert sum(p["count"] for p in paths) <= views["count"]
    assert all(p["path"].startswith(f"/{ORG}/api") and p["title"] for p in paths)


async def test_org_listing_has_the_profiles(client: httpx.AsyncClient, clock: ManualClock) -> None:
    body = (await client.get(f"/orgs/{ORG}/repos", params={"per_page": 100})).json()
    by_name = {r["name"]: r for r in body}
    assert len(by_name) == 8
    assert by_name["sdk-go"]["archived"] and not by_name["api"]["archived"]
    assert by_name["sdk-python"]["fork"] and not by_name["api"]["fork"]
    assert by_name["cli"]["permissions"]["push"] is False and by_name["api"]["permissions"]["push"] is True
    clock.set(ARCHIVED_ON - DAY)
    before = {r["name"]: r for r in (await client.get(f"/orgs/{ORG}/repos", params={"per_page": 100})).json()}
    assert before["sdk-go"]["archived"] is False, "the archived repository was active before ARCHIVED_ON"


async def test_org_listing_pages_filters_and_sorts(client: httpx.AsyncClient) -> None:
    first = await client.get(f"/orgs/{ORG}/repos", params={"per_page": 5})
    assert len(first.json()) == 5 and 'rel="next"' in first.headers["link"]
    forks = (await client.get(f"/orgs/{ORG}/repos", params={"type": "forks"})).json()
    assert [r["name"] for r in forks] == ["sdk-python"]
    names = [r["full_name"] for r in (await client.get(f"/orgs/{ORG}/repos", params={"sort": "full_name"})).json()]
    assert names == sorted(names)
    assert (await client.get(f"/orgs/{ORG}/repos", params={"type": "everything"})).status_code == 422
    assert (await client.get("/orgs/mona/repos")).status_code == 404, "a user is not an organization"


async def test_user_listing(client: httpx.AsyncClient) -> None:
    body = (await client.get("/users/mona/repos")).json()
    assert {r["full_name"]: (r["fork"], r["archived"]) for r in body} == {
        "mona/dotfiles": (False, False), "mona/forked-lib": (True, False), "mona/old-notes": (False, True)}
    assert all(r["owner"]["type"] == "User" and r["visibility"] == "public" for r in body)
    assert (await client.get("/users/nobody-here/repos")).status_code == 404


def test_profiles_fit_any_world_size(sim: Simulator) -> None:
    from exporter.simulator.world import World

    assert [r.profile for r in org_repos(World(repos=1), ORG)] == [""]
    assert [r.profile for r in org_repos(World(repos=3), ORG)] == ["", "fork", "archived"]
    assert NOW > ARCHIVED_ON
