"""The simulator answers the REST API versions GitHub supports and refuses any other with GitHub's 400.

Sources (read 2026-12-06) are in exporter/simulator/versions.py: GitHub's "API Versions" page
(https://docs.github.com/en/rest/about-the-rest-api/api-versions) and the 2026-03-12 changelog.
"""

from __future__ import annotations

import httpx
import pytest

from exporter.simulator import Simulator
from exporter.simulator.routing import iso
from exporter.simulator.versions import DEFAULT, SUPPORTED
from tests.simulator.conftest import NOW, ORG

SUMMARY = f"/orgs/{ORG}/insights/api/summary-stats"
TEMPLATE = "/orgs/{org}/insights/api/summary-stats"
WINDOW = {"min_timestamp": iso(NOW - 86400), "max_timestamp": iso(NOW)}


def test_both_current_versions_are_supported() -> None:
    assert set(SUPPORTED) == {"2022-11-28", "2026-03-10"} and DEFAULT == "2022-11-28"


@pytest.mark.parametrize("version", ["2022-11-28", "2026-03-10"])
async def test_a_supported_version_is_served_and_echoed(client: httpx.AsyncClient, version: str) -> None:
    answer = await client.get(SUMMARY, params=WINDOW, headers={"X-GitHub-Api-Version": version})
    assert answer.status_code == 200 and answer.json()["total_request_count"] > 0
    assert answer.headers["x-github-api-version-selected"] == version


async def test_without_the_header_a_request_gets_2022_11_28(client: httpx.AsyncClient) -> None:
    del client.headers["X-GitHub-Api-Version"]
    answer = await client.get(SUMMARY, params=WINDOW)
    assert answer.status_code == 200
    assert answer.headers["x-github-api-version-selected"] == "2022-11-28"


@pytest.mark.parametrize("version", ["v3", "2023-01-01", "2026-03-11", "2026-3-10", "latest"])
async def test_any_other_version_gets_githubs_400(client: httpx.AsyncClient, sim: Simulator, version: str) -> None:
    before = (await client.get(SUMMARY, params=WINDOW)).headers["x-ratelimit-remaining"]
    answer = await client.get(SUMMARY, params=WINDOW, headers={"X-GitHub-Api-Version": version})
    assert answer.status_code == 400
    assert answer.json() == {
        "message": f'The version you specified in the "X-GitHub-API-Version" request header, "{version}", '
                   'is not a supported version. The following versions are currently supported: '
                   '"2026-03-10" (most recent), "2022-11-28".',
        "documentation_url": "https://docs.github.com/rest",
        "status": "400",
    }
    assert "x-github-api-version-selected" not in answer.headers
    after = (await client.get(SUMMARY, params=WINDOW)).headers["x-ratelimit-remaining"]
    assert int(before) - int(after) == 1  # the refused request spent no rate limit: only the second 200 did
    assert sim.request_counts()["statuses"]["400"] == 1


@pytest.mark.parametrize(("version", "sent"), [("2022-11-28", True), ("2026-03-10", False)])
async def test_repository_lists_drop_has_downloads_from_2026_03_10(
    client: httpx.AsyncClient, version: str, sent: bool
) -> None:
    answer = await client.get(f"/orgs/{ORG}/repos", params={"per_page": 100}, headers={"X-GitHub-Api-Version": version})
    repos = answer.json()
    assert answer.status_code == 200 and repos
    assert all(("has_downloads" in repo) is sent and "full_name" in repo and "permissions" in repo for repo in repos)
