"""The README's "Where each collector works" table, checked against GitHub's OpenAPI descriptions.

A collector works on a deployment when every endpoint it calls is in that deployment's
description: github.com = api.github.com (free, Team) or ghec (Enterprise Cloud on github.com);
GHE.com = ghec (Enterprise Cloud with data residency, https://api.SUBDOMAIN.ghe.com); GHES = each
of the GHES 3.17, 3.18 and 3.19 descriptions. Every collector must have a row, so a new one
cannot be left out, and each endpoint must appear in its collector's module.
"""

from __future__ import annotations

import functools
import inspect
import re

import pytest

from exporter import collectors
from exporter.collectors import COLLECTORS
from tests.openapi import ROOT, description

GENERATED = ROOT / "node_modules" / "@octokit" / "openapi" / "generated"
README = ROOT / "README.md"
GHES_VERSIONS = ("3.17", "3.18", "3.19")
DEPLOYMENTS = {
    "github.com": (("api.github.com",), ("ghec",)),  # any of: a free/Team org or an Enterprise Cloud account
    "GHE.com": (("ghec",),),
    "GHES": (tuple(f"ghes-{v}" for v in GHES_VERSIONS),),  # all of the versions
}
_REPORTS = "/orgs/{org}/copilot/metrics/reports"
_INSIGHTS = "/orgs/{org}/insights/api"
_ENTERPRISE_BILLING = "/enterprises/{enterprise}/settings/billing"
_ORG_BILLING = "/organizations/{org}/settings/billing"
# The endpoints each row's collector calls (its module must name each one).
ENDPOINTS: dict[str, tuple[str, ...]] = {
    "api_insights": (f"{_INSIGHTS}/time-stats", f"{_INSIGHTS}/summary-stats", f"{_INSIGHTS}/subject-stats",
                     f"{_INSIGHTS}/user-stats/{{user_id}}", f"{_INSIGHTS}/route-stats/{{actor_type}}/{{actor_id}}",
                     "/users/{username}"),
    "server_statistics": ("/enterprise-installation/{enterprise_or_org}/server-statistics",),
    "repo_traffic": ("/repos/{owner}/{repo}/traffic/views", "/repos/{owner}/{repo}/traffic/clones",
                     "/repos/{owner}/{repo}/traffic/popular/paths", "/repos/{owner}/{repo}/traffic/popular/referrers",
                     "/orgs/{org}/repos", "/users/{username}/repos"),
    "billing": ("/enterprises/{enterprise}/settings/billing/reports",
                "/enterprises/{enterprise}/settings/billing/reports/{report_id}"),
    "copilot (organizations)": (f"{_REPORTS}/organization-1-day", f"{_REPORTS}/users-1-day",
                                f"{_REPORTS}/user-teams-1-day"),
    "copilot (enterprises)": tuple(
        f"/enterprises/{{enterprise}}/copilot/metrics/reports/{r}"
        for r in ("enterprise-1-day", "users-1-day", "user-teams-1-day")),
    "copilot_usage": ("/orgs/{org}/copilot/usage", "/orgs/{org}/team/{team_slug}/copilot/usage"),
    "billing_usage (enterprises)": tuple(f"{_ENTERPRISE_BILLING}/{leaf}" for leaf in (
        "usage/summary", "premium_request/usage", "ai_credit/usage", "budgets", "cost-centers")),
    "billing_usage (organizations)": tuple(f"{_ORG_BILLING}/{leaf}" for leaf in (
        "usage/summary", "premium_request/usage", "ai_credit/usage", "budgets")),
    "ghes_stats": ("/enterprise/stats/all",),
    "copilot_seats (organizations)": ("/orgs/{org}/copilot/billing/seats", "/orgs/{org}/copilot/billing"),
    "copilot_seats (enterprises)": ("/enterprises/{enterprise}/copilot/billing/seats",),
}


@functools.cache
def paths(name: str) -> frozenset[str]:
    return frozenset(description(GENERATED / f"{name}.json")["paths"])


def works(endpoints: tuple[str, ...], deployment: str) -> bool:
    """Every endpoint in all descriptions of one of the deployment's alternatives."""
    return any(all(e in paths(d) for d in alternative for e in endpoints) for alternative in DEPLOYMENTS[deployment])


def readme_rows() -> dict[str, dict[str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("<!-- deployments:start -->", 1)[1].split("<!-- deployments:end -->", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].replace("`", "")] = dict(zip(header, cells, strict=True))
    return rows


def test_every_collector_has_a_row() -> None:
    assert {name.split(" ")[0] for name in readme_rows()} == set(COLLECTORS)
    assert set(readme_rows()) == set(ENDPOINTS)


@pytest.mark.parametrize("row", sorted(ENDPOINTS))
def test_row_tells_the_truth(row: str) -> None:
    cells = readme_rows()[row]
    for deployment in DEPLOYMENTS:
        said = cells[deployment].split(" ")[0]
        assert said in ("yes", "no"), (row, deployment, cells[deployment])
        truth = "yes" if works(ENDPOINTS[row], deployment) else "no"
        assert said == truth, f"README says {row} on {deployment}: {said}; GitHub's descriptions say {truth}"


@pytest.mark.parametrize("row", sorted(ENDPOINTS))
def test_endpoints_are_the_collectors_own(row: str) -> None:
    module = inspect.getsource(inspect.getmodule(COLLECTORS[row.split(" ")[0]]) or collectors)
    for endpoint in ENDPOINTS[row]:
        tail = re.sub(r"\{[^}]*\}", "", endpoint).rstrip("/").rsplit("/", 1)[-1]
        assert tail in module, f"{row}: {endpoint} does not look like one this collector calls"


def test_ghes_versions_are_installed() -> None:
    for version in GHES_VERSIONS:
        assert (GENERATED / f"ghes-{version}.json").is_file(), f"@octokit/openapi has no ghes-{version} description"
