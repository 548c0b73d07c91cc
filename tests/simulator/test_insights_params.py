"""Query parameters as the description lists them: sort, direction, substring filters, validation."""

from __future__ import annotations

import httpx
import pytest

from exporter.simulator import Simulator, SimulatorConfig, create_app
from exporter.simulator.routing import iso
from tests.openapi import operation
from tests.simulator.conftest import AUTH, NOW, ORG

API = f"/orgs/{ORG}/insights/api"
WINDOW = {"min_timestamp": iso(NOW - 86400), "max_timestamp": iso(NOW), "per_page": "100"}


def _sort_enum(template: str) -> list[str]:
    params = operation(f"/orgs/{{org}}/insights/api/{template}")["parameters"]
    return next(p for p in params if p["name"] == "sort")["schema"]["items"]["enum"]


def _paths(sim: Simulator) -> dict[str, str]:
    org = sim.world.org(ORG)
    noisy = next(a for a in org.actors if a.noisy and a.type == "installation")
    user = max((s for s in org.subjects if s.type == "user"), key=lambda s: len(s.actors))
    return {
        "subject-stats": f"{API}/subject-stats",
        "user-stats/{user_id}": f"{API}/user-stats/{user.id}",
        "route-stats/{actor_type}/{actor_id}": f"{API}/route-stats/{noisy.type}/{noisy.id}",
    }


_FIELD = {"subject_name": {"user-stats/{user_id}": "actor_name"}}


@pytest.mark.parametrize("template", ["subject-stats", "user-stats/{user_id}", "route-stats/{actor_type}/{actor_id}"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
async def test_every_documented_sort_key_sorts(sim, client: httpx.AsyncClient, template: str, direction: str) -> None:
    path = _paths(sim)[template]
    for key in _sort_enum(template):
        rows = (await client.get(path, params={**WINDOW, "sort": key, "direction": direction})).json()
        assert len(rows) >= 2, (template, key)
        field = _FIELD.get(key, {}).get(template, key)
        values = [(v is not None, v.lower() if isinstance(v, str) else v) for v in (r[field] for r in rows)]
        assert values == sorted(values, reverse=direction == "desc"), (template, key, direction)


async def test_default_sort_is_total_request_count_descending(sim, client) -> None:
    rows = (await client.get(f"{API}/subject-stats", params=WINDOW)).json()
    totals = [r["total_request_count"] for r in rows]
    assert totals == sorted(totals, reverse=True) and len(set(totals)) > 1


async def test_several_sort_keys_repeated_or_comma_separated(sim, client) -> None:
    path = _paths(sim)["route-stats/{actor_type}/{actor_id}"]
    repeated = (await client.get(path, params=[*WINDOW.items(), ("sort", "http_method"), ("sort", "api_route"),
                                               ("direction", "asc")])).json()
    joined = (await client.get(path, params={**WINDOW, "sort": "http_method,api_route", "direction": "asc"})).json()
    assert repeated == joined
    keys = [(r["http_method"].lower(), r["api_route"].lower()) for r in repeated]
    assert keys == sorted(keys)


@pytest.mark.parametrize(("template", "param", "field"), [
    ("subject-stats", "subject_name_substring", "subject_name"),
    ("user-stats/{user_id}", "actor_name_substring", "actor_name"),
    ("route-stats/{actor_type}/{actor_id}", "api_route_substring", "api_route"),
])
async def test_substring_filters_are_case_insensitive(sim, client, template: str, param: str, field: str) -> None:
    path = _paths(sim)[template]
    everything = (await client.get(path, params=WINDOW)).json()
    needle = everything[-1][field][1:4]
    filtered = (await client.get(path, params={**WINDOW, param: needle.upper()})).json()
    assert filtered == [r for r in everything if needle.lower() in r[field].lower()]
    assert 0 < len(filtered) <= len(everything)
    assert (await client.get(path, params={**WINDOW, param: "no-such-thing"})).json() == []


async def test_per_page_defaults_to_30_and_is_capped_at_100(clock) -> None:
    sim = Simulator(SimulatorConfig(users=110, actors=115), clock=clock)
    transport = httpx.ASGITransport(app=create_app(sim))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim", headers=AUTH) as client:
        window = {k: v for k, v in WINDOW.items() if k != "per_page"}
        assert len((await client.get(f"{API}/subject-stats", params=window)).json()) == 30
        capped = await client.get(f"{API}/subject-stats", params={**window, "per_page": "500"})
        assert len(capped.json()) == 100
        assert 'page=2>; rel="next"' in capped.headers["link"] and 'page=2>; rel="last"' in capped.headers["link"]


@pytest.mark.parametrize("params", [
    {"timestamp_increment": "7m"},
    {"timestamp_increment": ""},
    {"timestamp_increment": None},
    {"min_timestamp": None},
    {"min_timestamp": "yesterday"},
    {"min_timestamp": "2024-09-18"},
    {"min_timestamp": "2024-09-18 10:00:00"},
    {"max_timestamp": "2024-09-18T25:00:00Z"},
    {"max_timestamp": iso(NOW - 2 * 86400)},
], ids=str)
async def test_invalid_time_stats_queries_are_422(client, params) -> None:
    query = {"min_timestamp": iso(NOW - 86400), "timestamp_increment": "1h", **params}
    response = await client.get(f"{API}/time-stats", params={k: v for k, v in query.items() if v is not None})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["status"] == "422" and body["documentation_url"].endswith("#get-time-stats")


@pytest.mark.parametrize("params", [{"sort": "subject_id"}, {"direction": "up"}, {"page": "two"}], ids=str)
async def test_invalid_listing_queries_are_422(client, params) -> None:
    response = await client.get(f"{API}/subject-stats", params={**WINDOW, **params})
    assert response.status_code == 422, response.text


async def test_actor_type_follows_the_description_not_the_seed_page(sim, client) -> None:
    """The seed page writes plural actor types; the description's enum is singular."""
    actor = next(a for a in sim.world.org(ORG).actors if a.type == "classic_pat")
    singular = await client.get(f"{API}/summary-stats/classic_pat/{actor.id}", params=WINDOW)
    assert singular.status_code == 200 and singular.json()["total_request_count"] > 0
    plural = await client.get(f"{API}/summary-stats/classic_pats/{actor.id}", params=WINDOW)
    assert plural.status_code == 422
    assert (await client.get(f"{API}/summary-stats/classic_pat/abc", params=WINDOW)).status_code == 422


async def test_unknown_ids_are_empty_and_org_names_ignore_case(sim, client) -> None:
    zero = {"total_request_count": 0, "rate_limited_request_count": 0}
    assert (await client.get(f"{API}/summary-stats/users/1", params=WINDOW)).json() == zero
    assert (await client.get(f"{API}/summary-stats/oauth_app/1", params=WINDOW)).json() == zero
    assert (await client.get(f"{API}/user-stats/1", params=WINDOW)).json() == []
    assert (await client.get(f"{API}/route-stats/installation/1", params=WINDOW)).json() == []
    series = (await client.get(f"{API}/time-stats/users/1", params={**WINDOW, "timestamp_increment": "1h"})).json()
    assert len(series) == 24 and not any(r["total_request_count"] for r in series)
    upper = await client.get(f"/orgs/{ORG.upper()}/insights/api/summary-stats", params=WINDOW)
    assert upper.json() == (await client.get(f"{API}/summary-stats", params=WINDOW)).json()
