"""GET /users/{username}: the user object GitHub describes, looked up without regard to case."""

from __future__ import annotations

import httpx

from exporter.simulator import Simulator
from tests.openapi import assert_matches
from tests.simulator.conftest import ORG


async def test_a_login_answers_its_user_as_described(sim: Simulator, client: httpx.AsyncClient) -> None:
    user = sim.world.org(ORG).users[3]
    response = await client.get(f"/users/{user.login.upper()}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert_matches(body, "/users/{username}")
    assert (body["login"], body["id"], body["type"]) == (user.login, user.id, "User")
    assert body == (await client.get(f"/users/{user.login}")).json(), "the same answer every time"


async def test_an_unknown_login_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/no-such-user")
    assert response.status_code == 404
    assert response.json()["message"] == "Not Found"
