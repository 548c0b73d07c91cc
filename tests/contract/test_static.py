"""Static mode: Prism answers every call with the description's own example; each value must reach its metric.

Each collector is built as the daemon builds it and run (twice: a second run must hold too) against
Prism behind the harness proxy (tests/contract/harness.py says what the proxy rewrites), its clock set
to the day the examples describe. Then, for every operation it called, every value of that operation's
example is looked for in the metric whose HELP names the field as its source (tests/contract/examples.py),
and Prism must have found nothing wrong with any request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from exporter.collectors import COLLECTORS
from exporter.github.deployment import Deployment
from exporter.settings import API_VERSION, GHES_API_VERSION
from exporter.simulator import RunningSimulator
from exporter.simulator import billing as sim_billing
from exporter.simulator import copilot as sim_copilot
from tests.contract import description, examples
from tests.contract.harness import ContractProxy
from tests.contract.rig import Outcome, run_family

# family -> (the clock: when the examples' data is current, settings beyond the defaults)
SCENARIOS: dict[str, tuple[str, dict[str, Any]]] = {
    # time-stats buckets are of 2024-09-11, subject/route stats of 2024-09-18: a window over both
    "api_insights": ("2024-09-18T16:00:00Z", {"collectors": {"api_insights": {
        "lookback": "8d", "summary_window": "8d", "users": ["octocat"]}}}),
    "server_statistics": ("2021-12-15T12:00:00Z", {}),  # collection_date 2021-12-14
    "repo_traffic": ("2016-10-24T12:00:00Z", {  # the last day of the 14 the traffic examples cover
        "targets": {"repositories": ["octo-demo/website"]},
        "collectors": {"repo_traffic": {"discover": ["octo-demo"]}}}),
    "copilot": ("2025-07-02T12:00:00Z", {"collectors": {"copilot": {"teams": "all"}}}),  # report_day 2025-07-01
    "copilot_seats": ("2021-10-15T12:00:00Z", {}),
    "billing_usage": ("2025-07-02T12:00:00Z", {"collectors": {"billing_usage": {"organizations": True}}}),
    "copilot_usage": ("2025-07-02T12:00:00Z", {"collectors": {"copilot_usage": {"enabled": True}}}),
}
# Any other collector (its examples carry no date to be current at, it needs no settings beyond the defaults).
DEFAULT_SCENARIO: tuple[str, dict[str, Any]] = ("2025-07-02T12:00:00Z", {})
# Billing: the examples describe a `detailed` export of 2024-01-01..2024-01-31 created 2024-01-15.
BILLING_AT = "2024-01-31T12:00:00Z"
BILLING_REUSE = {"collectors": {"billing": {"report_types": ["detailed"], "max_export_age": "30d"}}}
BILLING_CREATE = {"collectors": {"billing": {"report_types": ["detailed"], "max_export_age": "1h",
                                             "export_timeout": "1h"}}}


async def run_all(proxy: ContractProxy, downloads: RunningSimulator) -> dict[str, Outcome]:
    outcomes = {family: await run_family(proxy, family, *SCENARIOS.get(family, DEFAULT_SCENARIO), times=2)
                for family in COLLECTORS if family != "billing"}
    # The listed export is completed and young: reused. Its first download fails, so the next run asks
    # GET /reports/{report_id} afresh (signed links expire) and reads it.
    downloads.sim.fail_next(count=1, status=503, route=sim_billing.DOWNLOAD_TEMPLATE)
    reuse = await run_family(proxy, "billing", BILLING_AT, BILLING_REUSE, times=2)
    # Too old to reuse, none processing: created with POST, answered completed, read.
    create = await run_family(proxy, "billing", BILLING_AT, BILLING_CREATE)
    outcomes["billing"] = Outcome("billing", reuse.runs + create.runs, reuse.exchanges + create.exchanges,
                                  create.samples, create.text)
    outcomes["billing (reused)"] = reuse
    return outcomes


@pytest.fixture(scope="module")
def static(static_github: ContractProxy, downloads: RunningSimulator) -> dict[str, Outcome]:
    return asyncio.run(run_all(static_github, downloads))


@pytest.fixture(scope="module")
def doc(contract_description: Any) -> dict[str, Any]:
    return description.build()


FAMILIES = sorted(COLLECTORS)


def test_no_scenario_outlives_its_collector() -> None:
    assert set(SCENARIOS) <= set(COLLECTORS) - {"billing"}


@pytest.mark.parametrize("family", FAMILIES)
def test_no_request_violations(static: dict[str, Outcome], family: str) -> None:
    outcome = static[family]
    assert outcome.exchanges, f"{family} sent nothing"
    found = [f"{e}: {v}" for e in outcome.exchanges for v in e.violations]
    assert not found, f"Prism found {len(found)} request violation(s) from {family}:\n" + "\n".join(found)
    unknown = [str(e) for e in outcome.exchanges if e.prism_error and family != "copilot_usage"]
    assert not unknown, f"{family} asked for what the description does not have:\n" + "\n".join(unknown)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_request_sends_the_default_api_version(static: dict[str, Outcome], family: str) -> None:
    """The description Prism serves is API_VERSION's; every request the exporter sent asked for the default version
    (2022-11-28 for a GHES-only collector, whose api_url is a GHES URL: docs/github-api-version.md)."""
    sent = {e.api_version for e in static[family].exchanges}
    ghes_only = Deployment.GITHUB_COM not in COLLECTORS[family].deployments
    assert sent == {GHES_API_VERSION if ghes_only else API_VERSION}, f"{family} sent {sent}"


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "copilot_usage"])
def test_every_example_value_arrives(static: dict[str, Outcome], doc: dict[str, Any], family: str) -> None:
    outcome = static[family if family != "billing" else "billing (reused)"]
    if family == "billing":  # the reused export's runs: the failed download, then GET /reports/{id}
        assert outcome.runs == [False, True], outcome.runs
    else:
        assert all(outcome.runs), f"{family} failed against GitHub's own examples: {outcome.runs}"
    operations = sorted({op for e in static[family].exchanges
                         if (op := description.operation(doc, e.method, e.path)) is not None})
    assert operations
    problems, checked = [], 0
    for op in operations:
        samples = static[family].samples if op.startswith("POST") else outcome.samples
        count, found = examples.check(op, description.example(doc, op), samples)
        checked += count
        problems += [f"{op}: {p}" for p in found]
    print(f"{family}: {len(operations)} operations, {checked} example values checked")
    assert not problems, "\n".join(problems)


def test_billing_reads_the_files_behind_the_export(static: dict[str, Outcome], downloads: RunningSimulator) -> None:
    """create -> poll -> download -> parse end to end: the rows served are the rows of the file downloaded."""
    samples = static["billing"].samples
    rows = {labels["report_type"]: value for labels, value in samples["github_billing_report_rows"]}
    made = [e for e in downloads.sim.billing.exports() if e.report_type == "detailed"]
    assert made and rows == {"detailed": float(downloads.sim.billing.row_count(made[0]))}
    assert any(v > 0 for _, v in samples["github_billing_usage_quantity"])


def test_no_credentials_reach_the_download_host(static: dict[str, Outcome], downloads: RunningSimulator) -> None:
    billing = downloads.sim.billing.downloads()
    copilot = sim_copilot.download_counts(downloads.sim)
    assert billing.get("served", 0) > 0 and copilot.get("ok", 0) > 0, (billing, copilot)
    assert billing.get("refused_authorization", 0) == 0 and copilot.get("with_authorization", 0) == 0


def test_retired_copilot_usage_is_reported_not_crashed(static: dict[str, Outcome]) -> None:
    """The retired endpoints are in no current description: Prism answers 404, the collector says retired."""
    outcome = static["copilot_usage"]
    assert all(outcome.runs)
    assert {e.prism_error for e in outcome.exchanges} == {"NO_PATH_MATCHED_ERROR"}
    assert outcome.samples["github_copilot_usage_endpoint_retired"] == [({"org": "octo-demo"}, 1.0)]


def test_the_check_notices_a_value_in_the_wrong_place(static: dict[str, Outcome], doc: dict[str, Any]) -> None:
    """The check can fail: a metric gone, or its label values swapped, is reported against the example's field."""
    op = "GET /enterprise-installation/{enterprise_or_org}/server-statistics"
    example = description.example(doc, op)
    samples = static["server_statistics"].samples
    assert examples.check(op, example, samples)[1] == []
    gone = {k: v for k, v in samples.items() if k != "github_enterprise_server_issues_by_state"}
    swapped = {**samples, "github_enterprise_server_issues_by_state": [
        ({**labels, "state": {"open": "closed", "closed": "open"}[labels["state"]]}, value)
        for labels, value in samples["github_enterprise_server_issues_by_state"]]}
    for broken in (gone, swapped):
        fields = [p.split(" = ")[0] for p in examples.check(op, example, broken)[1]]
        assert fields == ["ghe_stats.issues.open_issues", "ghe_stats.issues.closed_issues"]
