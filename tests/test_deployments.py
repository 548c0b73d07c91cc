"""The README's "Where each collector works" table, checked against GitHub's own record of its endpoints.

A collector works on a deployment when every endpoint it calls is there: github.com = the api.github.com
(free, Team) or ghec (Enterprise Cloud on github.com) description; GHE.com = ghec (Enterprise Cloud with
data residency, https://api.SUBDOMAIN.ghe.com). GHES is told release by release: 3.17-3.19 from
`@octokit/openapi`'s descriptions, 3.20-3.22 (which it does not ship yet) from GitHub's reference, read
into tests/testdata/ghes-rest-reference.tsv with each source's address and the date read. Every
collector must have a row per entry of its `endpoints` (which tests/test_request_plan_measured.py holds
to what it asks the simulator), and each collector's `deployments` (where the daemon builds it) must
agree with its rows.
"""

from __future__ import annotations

import csv
import datetime
import functools
import itertools

import pytest
from prometheus_client import CollectorRegistry

from exporter.assembly import build_collectors, check_runnable
from exporter.collectors import COLLECTORS
from exporter.github.client import GitHubClient
from exporter.github.deployment import Deployment
from exporter.settings import ConfigError, load_settings
from exporter.telemetry import ExporterMetrics
from tests.openapi import ROOT, description

GENERATED = ROOT / "node_modules" / "@octokit" / "openapi" / "generated"
README = ROOT / "README.md"
REFERENCE = ROOT / "tests" / "testdata" / "ghes-rest-reference.tsv"
DESCRIBED = ("3.17", "3.18", "3.19")  # GHES releases @octokit/openapi 23.0.2 has descriptions of
REFERENCED = ("3.20", "3.21", "3.22")  # the supported releases it does not: read from GitHub's reference
GHES_RELEASES = DESCRIBED + REFERENCED
CLOUD = {  # each: any of the alternatives, every description of it
    Deployment.GITHUB_COM: (("api.github.com",), ("ghec",)),  # a free/Team org or an Enterprise Cloud account
    Deployment.GHE_COM: (("ghec",),),
}
# Kept where it last worked although no current description has its endpoints: accounts that still answer.
RETIRED = {"copilot_usage"}
def endpoint_rows(name: str) -> dict[str, tuple[str, ...]]:
    """A collector's README rows: its name, or "name (kind)" where its target kinds call different endpoints."""
    endpoints = COLLECTORS[name].endpoints
    if isinstance(endpoints, tuple):
        return {name: endpoints}
    return {f"{name} ({kind})": kind_endpoints for kind, kind_endpoints in endpoints.items()}


# The endpoints each row's collector calls (its `endpoints`; its module must name each one).
ENDPOINTS: dict[str, tuple[str, ...]] = {row: e for name in COLLECTORS for row, e in endpoint_rows(name).items()}


@functools.cache
def paths(name: str) -> frozenset[str]:
    return frozenset(description(GENERATED / f"{name}.json")["paths"])


@functools.cache
def reference() -> tuple[dict[str, str], ...]:
    """The lines of the checked-in table (comment lines start with #)."""
    lines = [line for line in REFERENCE.read_text(encoding="utf-8").splitlines() if line and line[0] != "#"]
    return tuple(csv.DictReader(lines, delimiter="\t"))


def on_ghes(endpoints: tuple[str, ...], release: str) -> bool:
    """Every endpoint in that release; decided by any one known absent, else each must be known present."""
    if release in DESCRIBED:
        return all(e in paths(f"ghes-{release}") for e in endpoints)
    known = {r["endpoint"]: r["present"] == "yes" for r in reference() if r["release"] == release}
    if not all(known.get(e, True) for e in endpoints):
        return False
    unread = [e for e in endpoints if e not in known]
    assert not unread, f"GHES {release}: nobody read whether it has {unread}: add them to {REFERENCE.name}"
    return True


def works(endpoints: tuple[str, ...], deployment: Deployment) -> bool:
    """On GHES: on at least one supported release."""
    if deployment is Deployment.GHES:
        return any(on_ghes(endpoints, release) for release in GHES_RELEASES)
    return any(all(e in paths(d) for d in alternative for e in endpoints) for alternative in CLOUD[deployment])


def ghes_cell(endpoints: tuple[str, ...]) -> str:
    """e.g. "no (3.17–3.22)", or "no (3.17–3.20), yes (3.21–3.22)": each answer with the releases it holds for."""
    parts = []
    for ok, run in itertools.groupby(GHES_RELEASES, key=lambda release: on_ghes(endpoints, release)):
        releases = list(run)
        span = releases[0] if len(releases) == 1 else f"{releases[0]}–{releases[-1]}"
        parts.append(f"{'yes' if ok else 'no'} ({span})")
    return ", ".join(parts)


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


def rows_of(name: str) -> list[str]:
    return [row for row in ENDPOINTS if row.split(" ")[0] == name]


def test_every_collector_has_a_row() -> None:
    assert {name.split(" ")[0] for name in readme_rows()} == set(COLLECTORS)
    assert set(readme_rows()) == set(ENDPOINTS)


@pytest.mark.parametrize("row", sorted(ENDPOINTS))
def test_row_tells_the_truth(row: str) -> None:
    cells = readme_rows()[row]
    for deployment in CLOUD:
        said = cells[deployment].split(" ")[0]
        assert said in ("yes", "no"), (row, deployment, cells[deployment])
        truth = "yes" if works(ENDPOINTS[row], deployment) else "no"
        assert said == truth, f"README says {row} on {deployment}: {said}; GitHub's descriptions say {truth}"
    truth = ghes_cell(ENDPOINTS[row])
    assert cells[Deployment.GHES] == truth, f"README says {row} on GHES: {cells[Deployment.GHES]}; GitHub: {truth}"


@pytest.mark.parametrize("name", sorted(COLLECTORS))
def test_deployments_attribute_agrees_with_the_table(name: str) -> None:
    """Built wherever GitHub has the endpoints of one of its rows, and nowhere else (unless retired)."""
    has = {d for d in Deployment for row in rows_of(name) if works(ENDPOINTS[row], d)}
    declared = COLLECTORS[name].deployments
    assert has <= declared, f"{name} is not built on {sorted(has - declared)}, where GitHub has its endpoints"
    if name not in RETIRED:
        assert declared <= has, f"{name} is built on {sorted(declared - has)}, where GitHub has none of its rows"


@pytest.mark.parametrize("api_url", ["https://api.github.com", "https://api.octo.ghe.com",
                                     "https://github.example.com/api/v3"])
async def test_the_daemon_builds_what_the_readme_says_works_there(api_url: str) -> None:
    deployment = Deployment.of(api_url)
    settings = load_settings(None, {
        "github": {"api_url": api_url, "token": "ghp_deployments"},
        "targets": {"orgs": ["octo"], "enterprises": ["octo-ent"], "repositories": ["octo/web"]},
        "collectors": {"copilot_usage": {"enabled": True}, "billing_usage": {"organizations": True}},
    })
    client = GitHubClient(settings.github, ExporterMetrics(CollectorRegistry()))
    try:
        built = {c.name for c in build_collectors(settings, client)}
    finally:
        await client.aclose()
    said = {row.split(" ")[0] for row, cells in readme_rows().items() if "yes" in cells[deployment]}
    assert built == said | (RETIRED if deployment is not Deployment.GHES else set())


def test_reference_table_is_well_formed() -> None:
    known = {e for endpoints in ENDPOINTS.values() for e in endpoints}
    keys = [(r["release"], r["endpoint"]) for r in reference()]
    assert len(keys) == len(set(keys)), "a release and endpoint listed twice"
    assert {release for release, _ in keys} == set(REFERENCED)
    for r in reference():
        assert r["endpoint"] in known, f"{r['endpoint']}: no collector calls it"
        assert r["present"] in ("yes", "no"), r
        assert r["source"].startswith("https://") and r["evidence"], r
        datetime.date.fromisoformat(r["read"])


def test_ghes_sources_are_where_the_table_says() -> None:
    for release in DESCRIBED:
        assert (GENERATED / f"ghes-{release}.json").is_file(), f"@octokit/openapi has no ghes-{release} description"
    for release in REFERENCED:  # once it ships one, the description is the better source
        assert not (GENERATED / f"ghes-{release}.json").is_file(), (
            f"@octokit/openapi now describes GHES {release}: move it to DESCRIBED and drop its reference lines")


def test_on_ghes_a_run_without_ghes_stats_says_what_works_there() -> None:
    settings = load_settings(None, {
        "github": {"api_url": "https://github.example.com/api/v3", "token": "ghp_deployments"},
        "targets": {"orgs": ["octo"], "enterprises": ["octo-ent"]},
        "collectors": {"ghes_stats": {"enabled": False}},
    })
    with pytest.raises(ConfigError) as raised:
        check_runnable(settings)
    assert str(raised.value) == "collectors: github.api_url is a GHES instance, where only these work: ghes_stats"
