"""Every API Insights response, and the GitHub App endpoints, match GitHub's OpenAPI description."""

from __future__ import annotations

import httpx
import pytest

from exporter.simulator import Simulator
from exporter.simulator.routing import iso
from tests.openapi import assert_matches, documented_fields, to_json_schema
from tests.simulator.conftest import NOW, ORG

WINDOW = {"min_timestamp": iso(NOW - 86400), "max_timestamp": iso(NOW)}
BASE = "/orgs/{org}/insights/api"


def _examples(sim: Simulator) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    org = sim.world.org(ORG)
    user = max(org.subjects, key=lambda s: len(s.actors) if s.type == "user" else -1)
    actor = next(a for a in org.actors if a.type == "installation")
    ids = {"org": ORG, "user_id": str(user.id), "actor_type": actor.type, "actor_id": str(actor.id)}
    return [
        (f"{BASE}/route-stats/{{actor_type}}/{{actor_id}}", ids, WINDOW),
        (f"{BASE}/subject-stats", ids, WINDOW),
        (f"{BASE}/summary-stats", ids, WINDOW),
        (f"{BASE}/summary-stats/users/{{user_id}}", ids, WINDOW),
        (f"{BASE}/summary-stats/{{actor_type}}/{{actor_id}}", ids, WINDOW),
        (f"{BASE}/time-stats", ids, {**WINDOW, "timestamp_increment": "1h"}),
        (f"{BASE}/time-stats/users/{{user_id}}", ids, {**WINDOW, "timestamp_increment": "5m"}),
        (f"{BASE}/time-stats/{{actor_type}}/{{actor_id}}", ids, {**WINDOW, "timestamp_increment": "30m"}),
        (f"{BASE}/user-stats/{{user_id}}", ids, WINDOW),
    ]


def test_all_nine_endpoints_are_served(sim: Simulator) -> None:
    templates = {r.template for r in sim.routes if "/insights/api/" in r.template}
    assert templates == {t for t, _, _ in _examples(sim)}


@pytest.mark.parametrize("index", range(9))
async def test_insights_response_matches_description(sim: Simulator, client: httpx.AsyncClient, index: int) -> None:
    template, ids, query = _examples(sim)[index]
    response = await client.get(template.format(**ids), params={**query, "per_page": 100})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body, "an empty answer would validate trivially"
    assert_matches(body, template)
    # The description marks no field required; the simulator sends every documented field and nothing else.
    for item in body if isinstance(body, list) else [body]:
        assert set(item) == documented_fields(template)


async def test_nullable_fields_are_exercised(client: httpx.AsyncClient) -> None:
    """Some subject never hit a rate limit in an hour: its `last_rate_limited_timestamp` is null, which is valid."""
    window = {"min_timestamp": iso(NOW - 6 * 3600), "max_timestamp": iso(NOW - 5 * 3600)}
    body = (await client.get(f"/orgs/{ORG}/insights/api/subject-stats", params={**window, "per_page": 100})).json()
    assert any(row["last_rate_limited_timestamp"] is None for row in body)
    assert_matches(body, f"{BASE}/subject-stats")


async def test_errors_match_basic_error(client: httpx.AsyncClient) -> None:
    bad = await client.get(f"/orgs/{ORG}/insights/api/summary-stats", params=WINDOW,
                           headers={"Authorization": "Bearer "})
    assert bad.status_code == 401
    assert bad.json()["message"] == "Bad credentials" and bad.json()["status"] == "401"
    assert_matches(bad.json(), "/app/installations/{installation_id}/access_tokens", "post", 401)
    missing = await client.get("/orgs/no-such-org/insights/api/summary-stats", params=WINDOW)
    assert missing.status_code == 404 and missing.json()["message"] == "Not Found"
    assert_matches(missing.json(), "/app/installations/{installation_id}/access_tokens", "post", 404)


async def test_installation_endpoints_match_description(sim: Simulator, client: httpx.AsyncClient) -> None:
    import jwt as pyjwt

    token = pyjwt.encode({"iss": "1", "iat": int(NOW) - 30, "exp": int(NOW) + 540}, "k" * 32, algorithm="HS256")
    headers = {"Authorization": f"Bearer {token}"}
    org = await client.get(f"/orgs/{ORG}/installation", headers=headers)
    assert org.status_code == 200, org.text
    assert_matches(org.json(), "/orgs/{org}/installation")
    enterprise = await client.get(f"/enterprises/{sim.world.enterprise}/installation", headers=headers)
    assert enterprise.status_code == 200, enterprise.text
    assert_matches(enterprise.json(), "/enterprises/{enterprise}/installation")
    created = await client.post(f"/app/installations/{org.json()['id']}/access_tokens", headers=headers)
    assert created.status_code == 201, created.text
    assert_matches(created.json(), "/app/installations/{installation_id}/access_tokens", "post", 201)


def test_nullable_conversion() -> None:
    schema = {"type": "object", "properties": {
        "a": {"type": "string", "nullable": True},
        "b": {"nullable": True, "anyOf": [{"type": "integer"}]},
        "nullable": {"type": "integer"},  # a property may be called anything
    }}
    converted = to_json_schema(schema)
    assert converted["properties"]["a"]["type"] == ["string", "null"]
    assert converted["properties"]["b"] == {"anyOf": [{"anyOf": [{"type": "integer"}]}, {"type": "null"}]}
    assert converted["properties"]["nullable"] == {"type": "integer"}


def test_missing_description_says_how_to_install_it(tmp_path) -> None:
    from tests.openapi import description

    with pytest.raises(pytest.fail.Exception, match="npm ci"):
        description(tmp_path / "ghec.deref.json")
