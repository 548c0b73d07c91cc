"""Every simulator family's answers hold to GitHub's OpenAPI description: one check for every route.

Each route of every discovered family (`app.FAMILIES`) is asked once over loopback, its path filled from the
simulator's own world and its required query parameters from `QUERY`, and the 200 answer is validated against the
first description that documents it (`SOURCES`). A route this cannot check must be in `UNCHECKED` with the reason;
a new route that is neither fails here, so a new family needs no hand-written shape test of its own.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from exporter.simulator import RunningSimulator, Simulator
from exporter.simulator.app import FAMILIES
from exporter.simulator.routing import SimRoute, iso
from tests.openapi import API_GITHUB_COM, DESCRIPTION, GHES_3_19, V18_GHEC, description, response_validator
from tests.simulator.conftest import AUTH, NOW, ORG

# Looked in, in this order: GitHub Enterprise Cloud, then GitHub.com (organizations' billing routes), then
# GHES 3.19 (on-box statistics), then @octokit/openapi 18 (the retired Copilot usage summaries).
SOURCES = (DESCRIPTION, API_GITHUB_COM, GHES_3_19, V18_GHEC)
GHES_PREFIX = "/api/v3"  # Enterprise Server serves its REST API under /api/v3; the description omits it

# Routes not checked here, with why; each is checked by the family's own test named after it.
UNCHECKED: dict[str, str] = {
    "POST /enterprises/{enterprise}/settings/billing/reports": "not a GET; answers 202 (test_billing.py)",
    "GET /enterprises/{enterprise}/settings/billing/reports/{report_id}":
        "a report id exists only after the POST creates one (test_billing.py)",
    "POST /app/installations/{installation_id}/access_tokens": "not a GET; answers 201 (test_insights_schema.py)",
}

# Values for the description's required query parameters, by name.
QUERY = {
    "min_timestamp": iso(NOW - 86400),
    "max_timestamp": iso(NOW),
    "timestamp_increment": "1h",
    "day": "2024-09-17",  # NOW is 2024-09-18T16:00Z: yesterday is past Copilot's processing lag
}


def key(route: SimRoute) -> str:
    return f"{route.method} {route.template}"


ROUTES = {key(r): r for family in FAMILIES for r in family}
CHECKED = sorted(k for k in ROUTES if k not in UNCHECKED)


def path_values(sim: Simulator) -> dict[str, str]:
    """A value for every path parameter the families use, taken from the simulator's world."""
    world = sim.world
    org = world.org(ORG)
    assert org is not None
    user = max(org.subjects, key=lambda s: len(s.actors) if s.type == "user" else -1)
    actor = next(a for a in org.actors if a.type == "installation")
    return {
        "org": org.login, "enterprise": world.enterprise, "enterprise_or_org": world.enterprise,
        "team_slug": org.teams[0], "owner": org.login, "repo": org.repos[0], "username": org.users[0].login,
        "user_id": str(user.id), "actor_type": actor.type, "actor_id": str(actor.id), "area": "all",
    }


def documented(path: str) -> tuple[Path, str, dict[str, Any]] | None:
    """The first description with a GET for `path` (a template, or a concrete path such as /enterprise/stats/all)."""
    for source in SOURCES:
        operation = description(source)["paths"].get(path, {}).get("get")
        if operation is not None:
            return source, path, operation
    return None


def jwt_header(now: float) -> dict[str, str]:
    token = jwt.encode({"iss": "1", "iat": int(now) - 30, "exp": int(now) + 540}, "k" * 32, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


def test_every_route_is_checked_or_listed_with_a_reason() -> None:
    assert CHECKED, "no family routes discovered"
    stale = sorted(set(UNCHECKED) - set(ROUTES))
    assert not stale, f"UNCHECKED names routes no family serves any more: {stale}"
    assert all(reason.strip() for reason in UNCHECKED.values())


@pytest.mark.parametrize("route_key", CHECKED)
def test_answer_matches_the_description(running: RunningSimulator, route_key: str) -> None:
    route = ROUTES[route_key]
    hint = f"check {route_key} here, or list it in UNCHECKED with the reason"
    assert route.method == "GET", f"only GETs are checked: {hint}"
    values = path_values(running.sim)
    missing = sorted(set(re.findall(r"{(\w+)}", route.template)) - set(values))
    assert not missing, f"no value for path parameter(s) {missing}: add one to path_values, or {hint}"
    url = route.template.format(**values)
    found = documented(route.template.removeprefix(GHES_PREFIX)) or documented(url.removeprefix(GHES_PREFIX))
    assert found is not None, f"no description documents GET {route.template}: {hint}"
    source, path, operation = found
    required = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query" and p.get("required")]
    assert set(required) <= set(QUERY), f"no value for required query parameter(s) of {path}; add them to QUERY"
    headers = {**AUTH, **(jwt_header(running.sim.now()) if route.auth == "jwt" else {})}
    response = httpx.get(running.url + url, params={name: QUERY[name] for name in required}, headers=headers,
                         timeout=10)
    assert response.status_code == 200, f"{url} answered {response.status_code}: {response.text[:300]}; {hint}"
    assert response.headers["content-type"].startswith("application/json"), hint
    body = response.json()
    assert body, f"{url} answered an empty body, which would validate trivially"
    errors = sorted(response_validator(path, source=source).iter_errors(body), key=lambda e: list(e.path))
    lines = [f"  at /{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:20]]
    assert not errors, f"GET {url} does not match {source.name} {path}:\n" + "\n".join(lines)
