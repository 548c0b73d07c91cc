"""GHES on-box statistics: every area's answer matches GitHub's GHES 3.17-3.19 descriptions."""

from __future__ import annotations

import functools

import httpx
import jsonschema
import pytest

from exporter.simulator.ghes_stats import AREAS
from tests.openapi import ROOT, description, to_json_schema

GENERATED = ROOT / "node_modules" / "@octokit" / "openapi" / "generated"
VERSIONS = ("3.17", "3.18", "3.19")


@functools.cache
def validator(version: str, area: str) -> jsonschema.Draft4Validator:
    spec = description(GENERATED / f"ghes-{version}.deref.json")
    schema = spec["paths"][f"/enterprise/stats/{area}"]["get"]["responses"]["200"]["content"]["application/json"]
    return jsonschema.Draft4Validator(to_json_schema(schema["schema"]))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("area", ["all", *AREAS])
async def test_answers_match_the_ghes_description(client: httpx.AsyncClient, version: str, area: str) -> None:
    response = await client.get(f"/api/v3/enterprise/stats/{area}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body
    errors = [f"/{'/'.join(map(str, e.path))}: {e.message}" for e in validator(version, area).iter_errors(body)]
    assert not errors, errors


async def test_github_com_has_no_such_route_and_unknown_areas_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/enterprise/stats/all")).status_code == 404
    assert (await client.get("/api/v3/enterprise/stats/nothing")).status_code == 404
