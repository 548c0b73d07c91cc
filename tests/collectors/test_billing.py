"""The billing collector against the simulator over loopback: export reuse, polling, failures, downloads,
golden expositions, promtool, history and the demo."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from structlog.testing import capture_logs

from exporter.collectors.billing import (
    FAILURES,
    LAST_COMPLETED,
    REPORT,
    REPORTS,
    BillingCollector,
    months,
)
from exporter.collectors.billing_csv import ReportFormatError
from exporter.github.client import GitHubClient
from exporter.github.errors import MalformedResponseError
from exporter.settings import ConfigError, load_settings
from exporter.simulator import ManualClock, RunningSimulator, ShiftedClock, Simulator, SimulatorConfig
from exporter.simulator import billing as sim_billing
from exporter.simulator.routing import parse_iso
from exporter.store import SnapshotStore
from exporter.telemetry import ExporterMetrics
from tests.collectors.harness import (
    ENTERPRISE,
    GOLDEN,
    NOW,
    TOKEN,
    Golden,
    Harness,
    drift_signals,
    render,
    settings_for,
    values,
)
from tests.tools import promtool_check_metrics

ALL_TYPES = ["detailed", "summarized", "premium_request", "ai_credit"]
HOUR = 3600.0


@pytest.fixture(scope="module")
def simulator_config() -> SimulatorConfig:
    return SimulatorConfig(billing_rows_per_file=300)  # 300 rows a file: the month's detailed report is three files


@pytest.fixture
def sim(running: RunningSimulator) -> Simulator:
    return running.sim


@asynccontextmanager
async def harnessed(running: RunningSimulator, **options: Any) -> AsyncIterator[Harness]:
    """The enterprise's billing collector (harness.collectors[0]) and its client, polling in simulator time."""
    settings = settings_for(running, targets={"enterprises": [ENTERPRISE]}, collectors={"billing": options})
    clock = running.sim.clock
    assert isinstance(clock, ManualClock)

    async def sleep(seconds: float) -> None:  # polling waits in simulator time
        clock.advance(seconds)

    harness = Harness(settings, clock, "billing", sleep=sleep)
    try:
        yield harness
    finally:
        await harness.aclose()


@asynccontextmanager
async def collector(running: RunningSimulator, **options: Any) -> AsyncIterator[BillingCollector]:
    async with harnessed(running, **options) as harness:
        (billing,) = harness.collectors
        assert isinstance(billing, BillingCollector)
        yield billing


def samples(families: list[Metric], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for f in families for s in f.samples if s.name == name}


def value(families: list[Metric], name: str, report_type: str = "detailed", **labels: str) -> float:
    wanted = {"enterprise": ENTERPRISE, "report_type": report_type, **labels}
    found = [s.value for f in families for s in f.samples if s.name == name and s.labels == wanted]
    assert len(found) == 1, (name, wanted, found)
    return found[0]


def usage(families: list[Metric]) -> dict[str, dict]:
    return {name: samples(families, name) for name in (
        "github_billing_usage_quantity", "github_billing_usage_gross_amount_usd",
        "github_billing_usage_discount_amount_usd", "github_billing_usage_net_amount_usd")}


def posts(sim: Simulator) -> int:
    return sim.count(REPORTS, "POST")


# -- golden files and promtool -------------------------------------------------------------------------


async def test_golden_all_report_types(running: RunningSimulator, golden: Golden) -> None:
    running.sim.billing.set_delay(0)  # completed at once: no polling, so no timing in the output
    async with collector(running, report_types=ALL_TYPES) as c:
        text = render(await c.collect())
    golden("billing.prom", text)
    assert 'cost_center="R&D, Data Science"' in text  # the quoted comma made it through


async def test_golden_extra_labels(running: RunningSimulator, golden: Golden) -> None:
    running.sim.billing.set_delay(0)
    async with collector(running, report_types=["summarized", "premium_request"],
                         extra_labels=["repository", "username"]) as c:
        text = render(await c.collect())
    golden("billing_extra_labels.prom", text)
    assert 'report_type="summarized",repository="api",sku="actions_linux"' in text
    assert 'username=""' in text  # the summarized report has no username column


async def test_workflow_path_and_exceeds_quota_split_the_same_totals(running: RunningSimulator) -> None:
    """Opt-in like repository: each label splits a series, and the split series sum to the unsplit one."""
    running.sim.billing.set_delay(0)
    types = ["detailed", "premium_request"]
    async with collector(running, report_types=types) as c:
        plain = await c.collect()
    async with collector(running, report_types=types, extra_labels=["workflow_path", "exceeds_quota"]) as c:
        split = await c.collect()
    workflows = {s.labels["workflow_path"] for f in split if f.name == "github_billing_usage_quantity"
                 for s in f.samples if s.labels["report_type"] == "detailed"}
    quotas = {s.labels["exceeds_quota"] for f in split if f.name == "github_billing_usage_quantity"
              for s in f.samples if s.labels["report_type"] == "premium_request"}
    assert ".github/workflows/ci.yml" in workflows and "" in workflows  # storage and seats have no workflow
    assert quotas == {"TRUE", "FALSE"}
    for report_type in types:
        def total(families: list, kind: str = report_type) -> float:
            return sum(s.value for f in families if f.name == "github_billing_usage_net_amount_usd"
                       for s in f.samples if s.labels["report_type"] == kind)
        assert total(split) == pytest.approx(total(plain)) and total(plain) > 0


def _by_model(families: list, name: str, report_type: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for f in families:
        for s in f.samples:
            if s.name == name and s.labels["report_type"] == report_type:
                out[s.labels["model"]] = out.get(s.labels["model"], 0.0) + s.value
    return out


@pytest.mark.parametrize("report_type", ["premium_request", "ai_credit"])
async def test_models_beyond_max_models_sum_into_other(running: RunningSimulator, report_type: str) -> None:
    """Premium requests and AI credits by model, bounded: the costliest models keep their name, the sums hold."""
    running.sim.billing.set_delay(0)
    async with collector(running, report_types=[report_type]) as c:
        every = await c.collect()
    async with collector(running, report_types=[report_type], max_models=2) as c:
        bounded = await c.collect()
    cost = {model: gross + _by_model(every, "github_billing_usage_ai_credit_gross_amount_usd", report_type)[model]
            for model, gross in _by_model(every, "github_billing_usage_gross_amount_usd", report_type).items()}
    assert len(cost) >= 3 and "" not in cost  # the Copilot reports always name the model
    top = sorted(cost, key=lambda m: -cost[m])[:2]
    for name in ("github_billing_usage_quantity", "github_billing_usage_net_amount_usd",
                 "github_billing_usage_ai_credits"):
        full, kept = _by_model(every, name, report_type), _by_model(bounded, name, report_type)
        assert set(kept) == {*top, "other"}
        assert all(kept[m] == pytest.approx(full[m]) for m in top)
        assert kept["other"] == pytest.approx(sum(v for m, v in full.items() if m not in top))


async def test_history_bounds_models_as_the_live_series_do(running: RunningSimulator) -> None:
    running.sim.billing.set_delay(0)
    async with collector(running, report_types=["premium_request"], max_models=1) as c:
        live = await c.collect()
        history = await c.history(parse_iso("2024-09-01T00:00:00Z"), NOW)
    name = "github_billing_usage_quantity"
    last: dict[str, tuple[float, float]] = {}
    for s in history:
        if s.spec.name == name:
            model = s.labels[s.spec.labels.index("model")]
            at, total = last.get(model, (s.timestamp, 0.0))
            if s.timestamp > at:
                total = 0.0
            if s.timestamp >= at:
                last[model] = (s.timestamp, total + s.value)
    assert {m: v for m, (_, v) in last.items()} == pytest.approx(_by_model(live, name, "premium_request"))
    assert len(last) == 2 and "other" in last


async def test_metered_reports_have_no_model(running: RunningSimulator) -> None:
    running.sim.billing.set_delay(0)
    async with collector(running, report_types=["detailed", "summarized"], max_models=1) as c:
        families = await c.collect()
    for report_type in ("detailed", "summarized"):
        assert set(_by_model(families, "github_billing_usage_quantity", report_type)) == {""}


@pytest.mark.parametrize("name", ["billing.prom", "billing_extra_labels.prom"])
def test_promtool_check_metrics_is_clean(name: str) -> None:
    promtool_check_metrics((GOLDEN / name).read_bytes())


def test_deploy_rules_names_are_kept() -> None:
    assert FAILURES.exposed_name == "github_billing_export_failures_total"
    assert LAST_COMPLETED.exposed_name == "github_billing_export_last_completed_timestamp_seconds"
    assert FAILURES.labels == LAST_COMPLETED.labels == ("enterprise", "report_type")
    metrics_doc = (Path(__file__).parents[2] / "docs" / "metrics.md").read_text()
    assert "| `github_billing_export_failures_total` | counter |" in metrics_doc
    assert "| `github_billing_export_last_completed_timestamp_seconds` | gauge |" in metrics_doc


# -- the export life cycle -------------------------------------------------------------------------------


async def test_failures_counter_is_zero_from_start_up(running: RunningSimulator) -> None:
    async with collector(running, report_types=["detailed", "premium_request"]) as c:
        store = SnapshotStore(max_age=3 * HOUR)
        from exporter.scheduler import CollectorScheduler

        CollectorScheduler(store, ExporterMetrics(store.registry)).add(c, 3600)
        text = store.render(None).body.decode()  # before any run
    for report_type in ("detailed", "premium_request"):
        labels = f'enterprise="{ENTERPRISE}",report_type="{report_type}"'
        assert f"github_billing_export_failures_total{{{labels}}} 0.0" in text
        assert f"github_billing_export_created_total{{{labels}}} 0.0" in text
    assert "github_billing_usage" not in text and "last_completed_timestamp_seconds{" not in text
    assert running.sim.request_counts()["total"] == 0


async def test_export_is_reused_while_fresh_without_a_post(running: RunningSimulator) -> None:
    sim = running.sim
    async with collector(running) as c:
        first = await c.collect()
        assert posts(sim) == 1 and sim.billing.downloads()["served"] == 3
        assert value(first, "github_billing_export_created_total") == 1
        sim.reset_counters()
        sim.advance_clock(HOUR)
        second = await c.collect()
        assert posts(sim) == 0  # reused: no POST
        assert sim.billing.downloads()["served"] == 3  # and not downloaded again: it is the one already read
        assert sim.count(REPORTS, "GET") == 1
        assert value(second, "github_billing_export_reuses_total") == 1
        assert usage(second) == usage(first)

    async with collector(running) as restarted:  # a new process (or replica) reuses it too, reading it once
        third = await restarted.collect()
        assert posts(sim) == 0 and sim.billing.downloads()["served"] == 6
        assert usage(third) == usage(first)
        assert value(third, "github_billing_export_created_total") == 0

        sim.advance_clock(6 * HOUR)  # older than max_export_age (6h): a new export
        await restarted.collect()
        assert posts(sim) == 1


async def test_max_export_age_is_configurable(running: RunningSimulator) -> None:
    async with collector(running, max_export_age="30m", interval="10m") as c:
        await c.collect()
        running.sim.advance_clock(20 * 60)
        await c.collect()
        assert posts(running.sim) == 1
        running.sim.advance_clock(15 * 60)
        await c.collect()
        assert posts(running.sim) == 2


async def test_pending_export_is_polled_next_run_not_created_again(running: RunningSimulator) -> None:
    sim = running.sim
    sim.billing.set_delay(2.5 * HOUR)
    async with collector(running, poll_timeout="60s", export_timeout="6h") as c:
        first = await c.collect()
        assert posts(sim) == 1
        assert value(first, "github_billing_export_state", state="processing") == 1
        polls = value(first, "github_billing_export_polls_total")
        assert polls >= 3  # back-off: 2 s, 4 s, 8 s, 16 s, 30 s within the minute
        assert not any(usage(first).values())
        assert not samples(first, "github_billing_export_last_completed_timestamp_seconds")

        sim.advance_clock(HOUR)
        lists = sim.count(REPORTS, "GET")
        second = await c.collect()
        assert posts(sim) == 1, "a slow export must be polled, not created again"
        assert sim.count(REPORTS, "GET") == lists  # it knew which export to poll without listing
        assert value(second, "github_billing_export_polls_total") > polls
        assert value(second, "github_billing_export_state", state="processing") == 1

        sim.advance_clock(1.5 * HOUR)
        third = await c.collect()
        assert posts(sim) == 1
        assert value(third, "github_billing_export_state", state="completed") == 1
        assert value(third, "github_billing_report_rows") > 700
        assert value(third, "github_billing_export_last_completed_timestamp_seconds") == NOW


async def test_a_processing_export_is_adopted_after_a_restart(running: RunningSimulator) -> None:
    sim = running.sim
    sim.billing.set_delay(HOUR)
    async with collector(running, poll_timeout="10s") as before:
        await before.collect()
    async with collector(running, poll_timeout="10s") as after:
        sim.advance_clock(HOUR)
        families = await after.collect()
    assert posts(sim) == 1
    assert value(families, "github_billing_export_created_total") == 0
    assert value(families, "github_billing_report_rows") > 0


async def test_an_export_processing_too_long_is_given_up(running: RunningSimulator) -> None:
    sim = running.sim
    sim.billing.set_delay(100 * HOUR)
    async with collector(running, poll_timeout="10s", export_timeout="2h") as c:
        await c.collect()
        sim.advance_clock(2 * HOUR)
        given_up = await c.collect()
        assert value(given_up, "github_billing_export_timeouts_total") == 1
        assert posts(sim) == 1
        sim.advance_clock(HOUR)
        await c.collect()
        assert posts(sim) == 2


async def test_failed_export_counts_and_keeps_previous_data(running: RunningSimulator) -> None:
    sim = running.sim
    async with collector(running) as c:
        good = await c.collect()
        sim.billing.fail_next_exports(1)
        sim.advance_clock(7 * HOUR)  # the good export is no longer fresh
        failed = await c.collect()
        assert posts(sim) == 2
        assert value(failed, "github_billing_export_failures_total") == 1
        assert value(failed, "github_billing_export_state", state="failed") == 1
        assert usage(failed) == usage(good) and usage(good)["github_billing_usage_net_amount_usd"]
        assert value(failed, "github_billing_export_last_completed_timestamp_seconds") == NOW

        sim.advance_clock(10 * 60)  # less than an interval later: no second export
        again = await c.collect()
        assert posts(sim) == 2 and value(again, "github_billing_export_created_total") == 2

        sim.advance_clock(HOUR)
        recovered = await c.collect()
        assert posts(sim) == 3
        assert value(recovered, "github_billing_export_failures_total") == 1
        assert value(recovered, "github_billing_export_state", state="completed") == 1
        assert value(recovered, "github_billing_export_last_completed_timestamp_seconds") > NOW


async def test_authorization_is_never_sent_to_the_download_host(running: RunningSimulator) -> None:
    sim = running.sim
    async with collector(running) as c:
        await c.collect()
        export = (await c.client.get(REPORTS, enterprise=ENTERPRISE)).data["usage_report_exports"][0]
    urls = export["download_urls"]
    assert len(urls) == 3 and all(not u.startswith(running.url) for u in urls)
    counts = sim.billing.downloads()
    assert counts["served"] == 3
    assert counts["refused_authorization"] == 0 and counts["authorization_headers_seen"] == 0
    # The control: the same link with the API's credentials is refused, so a leak would have failed the run.
    leaked = await asyncio.to_thread(httpx.get, urls[0], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert leaked.status_code == 403 and sim.billing.downloads()["refused_authorization"] == 1


async def test_missing_column_fails_the_run_naming_column_and_file(running: RunningSimulator,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sim = running.sim
    original = sim_billing.Billing.file

    def without_net_amount(self: sim_billing.Billing, export: sim_billing.Export, part: int) -> Iterator[bytes]:
        for chunk in original(self, export, part):
            yield chunk.replace(b",net_amount,", b",net,")

    async with harnessed(running) as harness:
        (c,) = harness.collectors
        good = await c.collect()
        monkeypatch.setattr(sim_billing.Billing, "file", without_net_amount)
        sim.advance_clock(7 * HOUR)
        with pytest.raises(ReportFormatError) as info:
            await c.collect()
        assert drift_signals(harness.client) == {"unmapped": {("billing", "net")},
                                                 "missing": {("billing", "net_amount")}}, "shown though it failed"
        message = str(info.value)
        assert "required column 'net_amount' is missing from the detailed report" in message
        assert f"file 1/3 ({sim.downloads_url}/enterprises/{ENTERPRISE}/metered_exports/" in message
        assert "signature" not in message  # the link's credential stays out of logs
        monkeypatch.undo()
        sim.advance_clock(10 * 60)
        fixed = await c.collect()  # the completed export is read again, not created again
    assert posts(sim) == 2
    assert value(fixed, "github_billing_export_last_completed_timestamp_seconds") > NOW + 7 * HOUR
    assert value(good, "github_billing_export_last_completed_timestamp_seconds") == NOW


async def test_empty_report_on_the_first_of_the_month(running: RunningSimulator) -> None:
    running.sim.set_clock(parse_iso("2024-10-01T06:00:00Z"))
    running.sim.billing.set_delay(0)
    async with collector(running) as c:
        families = await c.collect()
    assert value(families, "github_billing_report_rows") == 0
    assert value(families, "github_billing_export_state", state="completed") == 1
    assert not any(usage(families).values())
    assert not samples(families, "github_billing_report_latest_date_timestamp_seconds")


async def test_last_months_figures_are_dropped_when_the_month_turns(running: RunningSimulator) -> None:
    sim = running.sim
    sim.set_clock(parse_iso("2024-09-30T20:00:00Z"))
    sim.billing.set_delay(0)
    async with collector(running) as c:
        september = await c.collect()
        assert usage(september)["github_billing_usage_net_amount_usd"]
        sim.set_clock(parse_iso("2024-10-01T01:00:00Z"))
        october = await c.collect()
    assert posts(sim) == 2
    assert not any(usage(october).values())
    assert value(october, "github_billing_report_rows") == 0


async def test_lists_once_and_creates_one_export_per_report_type(running: RunningSimulator) -> None:
    sim = running.sim
    sim.billing.set_delay(0)
    async with collector(running, report_types=ALL_TYPES) as c:
        await c.collect()
    bodies = {(e.report_type, e.start.isoformat(), e.end.isoformat()) for e in sim.billing.exports()}
    assert bodies == {(t, "2024-09-01", "2024-09-18") for t in ALL_TYPES}
    assert sim.count(REPORTS, "GET") == 1 and posts(sim) == 4


async def test_api_errors_fail_the_run(running: RunningSimulator) -> None:
    running.sim.fail_next(1, status=403, route=REPORTS)
    async with collector(running) as c:
        with pytest.raises(Exception, match="HTTP 403"):
            await c.collect()
    running.sim.fail_next(1, status=404, route=REPORT)  # unused: nothing polled yet
    assert posts(running.sim) == 0


# -- history ----------------------------------------------------------------------------------------------


async def test_history_is_month_to_date_at_the_end_of_each_day(running: RunningSimulator) -> None:
    sim = running.sim
    sim.billing.set_delay(0)
    async with collector(running) as c:
        live = await c.collect()
        history = await c.history(parse_iso("2024-08-25T00:00:00Z"), NOW)
    assert posts(sim) == 2  # September's export is reused; August is created once
    net = [s for s in history if s.spec.name == "github_billing_usage_net_amount_usd"]
    days = sorted({s.timestamp for s in net})
    assert days[0] == parse_iso("2024-08-25T23:59:59Z") and days[-1] == parse_iso("2024-09-17T23:59:59Z")
    assert all(b - a == 86400 for a, b in itertools.pairwise(days))
    series: dict[tuple[str, ...], list[tuple[float, float]]] = {}
    for s in net:
        series.setdefault(s.labels, []).append((s.timestamp, s.value))
    key = ("octo-enterprise", "detailed", "actions", "actions_linux", "Minutes", "octo-demo", "Mobile", "")
    points = sorted(series[key])
    august = [v for t, v in points if t < parse_iso("2024-09-01T00:00:00Z")]
    september = [v for t, v in points if t > parse_iso("2024-09-01T00:00:00Z")]
    assert august == sorted(august) and september == sorted(september)  # month to date only grows
    assert september[0] < august[-1]  # and starts again with the month
    labels = dict(zip(("enterprise", "report_type", "product", "sku", "unit_type", "organization", "cost_center",
                       "model"), key, strict=True))
    assert september[-1] == value(live, "github_billing_usage_net_amount_usd", **{
        k: v for k, v in labels.items() if k not in ("enterprise", "report_type")})


def test_months_cover_the_range() -> None:
    spans = months(parse_iso("2024-07-15T12:00:00Z"), parse_iso("2024-09-18T16:00:00Z"))
    assert [(a.isoformat(), b.isoformat()) for a, b in spans] == [
        ("2024-07-01", "2024-07-31"), ("2024-08-01", "2024-08-31"), ("2024-09-01", "2024-09-18")]


# -- settings and the demo --------------------------------------------------------------------------------


def test_settings_defaults_and_validation() -> None:
    billing = load_settings(None).collectors.billing
    assert (billing.interval, billing.report_types, billing.max_export_age, billing.poll_timeout,
            billing.export_timeout, billing.extra_labels) == (3600, ["detailed"], 6 * HOUR, 120, HOUR, [])
    for bad, message in (
        ({"report_types": ["monthly"]}, "collectors.billing.report_types.0"),
        ({"report_types": []}, "collectors.billing.report_types"),
        ({"report_types": ["detailed", "detailed"]}, "listed once"),
        ({"extra_labels": ["workflow_name"]}, "collectors.billing.extra_labels.0"),  # closed down: workflow_path
        ({"max_export_age": "0s"}, "greater than zero"),
        ({"max_age": "1h"}, "collectors.billing.max_age: unknown key"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_settings(None, {"collectors": {"billing": bad}})


async def test_billing_runs_in_the_demo() -> None:
    from exporter.assembly import build_collectors, demo_settings
    from exporter.simulator.server import start_simulator

    # A fixed instant mid-month that runs on (the export completes 1.5 s after it is made): on the 1st of a
    # month the wall clock would ask for a month without a finished day.
    clock = ShiftedClock(parse_iso("2025-03-12T14:00:00Z"))
    demo = await start_simulator(SimulatorConfig.demo(), clock=clock)
    try:
        settings = demo_settings(None, demo.url, demo.targets(), {})
        client = GitHubClient(settings.github, ExporterMetrics(CollectorRegistry()), clock=clock)
        try:
            (billing,) = [c for c in build_collectors(settings, client, clock=clock) if c.name == "billing"]
            assert billing.target == ENTERPRISE and billing.options.interval == 15
            families = await billing.collect()  # real time: the demo export completes before the first poll
        finally:
            await client.aclose()
    finally:
        await demo.stop()
    assert value(families, "github_billing_report_rows") > 0
    assert value(families, "github_billing_export_state", state="completed") == 1


async def test_report_types_are_exported_one_at_a_time(running: RunningSimulator) -> None:
    sim = running.sim
    sim.billing.set_delay(10 * 60)  # longer than poll_timeout: each export outlives a run
    async with collector(running, report_types=ALL_TYPES, poll_timeout="1m", interval="5m") as c:
        created = []
        for _ in range(12):
            await c.collect()
            created.append(posts(sim))
            sim.advance_clock(5 * 60)
        counts = sim.request_counts()["route_statuses"].get(REPORTS, {})
        assert "400" not in counts  # GitHub's one-export-in-progress rule was never hit
        assert created[0] == 1 and created[-1] == 4  # one at a time, all four in the end
        assert all(b - a <= 1 for a, b in itertools.pairwise(created))


async def test_failed_export_logs_its_error_message(running: RunningSimulator) -> None:
    running.sim.billing.fail_next_exports(1)
    async with collector(running) as c:
        with capture_logs() as logs:
            failed = await c.collect()
    assert value(failed, "github_billing_export_failures_total") == 1
    (entry,) = [e for e in logs if e["event"].startswith("billing export failed")]
    assert "could not be generated" in entry["error_message"]


async def test_ai_credit_cost_is_kept_on_rows_without_quantity(running: RunningSimulator) -> None:
    async with collector(running, report_types=["ai_credit", "premium_request"]) as c:
        families = await c.collect()
    credits = samples(families, "github_billing_usage_ai_credit_gross_amount_usd")
    quantity = samples(families, "github_billing_usage_quantity")
    zero_quantity_cost = [v for k, v in credits.items() if quantity[k] == 0 and v > 0]
    assert zero_quantity_cost  # coding agent / code review rows carry their cost in aic_gross_amount only
    premium = {k: v for k, v in samples(families, "github_billing_usage_ai_credits").items()
               if ("report_type", "premium_request") in k}
    assert premium and all(v > 0 for v in premium.values())
    assert not [s for f in families for s in f.samples
                if s.name == "github_billing_usage_ai_credits" and s.labels["report_type"] == "detailed"]


async def test_a_failed_download_of_a_completed_export_is_retried_not_recreated(running: RunningSimulator) -> None:
    sim = running.sim
    sim.fail_next(status=503, route=sim_billing.DOWNLOAD_TEMPLATE)
    async with collector(running, max_export_age="1h") as c:  # stale by the next run: the listing alone would not do
        with pytest.raises(Exception, match="download failed"):
            await c.collect()
        assert posts(sim) == 1
        sim.advance_clock(HOUR)
        retried = await c.collect()
    assert posts(sim) == 1, "a new export was created instead of downloading the completed one again"
    assert usage(retried)["github_billing_usage_net_amount_usd"]


@pytest.mark.parametrize(
    "answer",
    [{"report_type": "summarized"}, {"start_date": "2024-08-01"}, {"end_date": "2024-09-30"}],
)
async def test_a_post_answer_for_another_export_fails_the_run_saying_why(
    running: RunningSimulator, answer: dict[str, str]
) -> None:
    """GitHub's (or a proxy's) answer to the POST must be the export asked for."""
    running.sim.billing.misanswer_next_post(**answer)
    async with collector(running) as c:
        asked = c.states["detailed"]
        with pytest.raises(MalformedResponseError, match="asked for a detailed export of 2024-09-01..2024-09-18"):
            await c.collect()
        families = c.families()
    assert asked.served is None and not usage(families)["github_billing_usage_net_amount_usd"]
    assert all(value(families, "github_billing_export_state", state=s) == 0 for s in ("completed", "processing"))


# -- drift -------------------------------------------------------------------------------------------


def test_every_documented_column_is_known_and_the_always_sent_ones_required() -> None:
    from exporter.collectors.billing_csv import AIC_MEASURES, COLUMNS, HEADER_FIELDS, TOKEN_MEASURES

    for kind, columns in COLUMNS.items():
        assert HEADER_FIELDS[kind].known == set(columns)
        assert HEADER_FIELDS[kind].required == set(columns) - {*AIC_MEASURES, *TOKEN_MEASURES}
        assert tuple(sim_billing.COLUMNS[kind]) == columns, "the simulator writes every documented column"


def test_every_documented_export_field_is_known() -> None:
    from exporter.collectors.billing import EXPORT_FIELDS, EXPORTS_LIST
    from tests.openapi import response_paths

    single = response_paths(REPORT)
    assert single == {p.removeprefix("usage_report_exports[].") for p in response_paths(REPORTS)}
    assert {p for p in single if not EXPORT_FIELDS.knows(p)} == set()
    assert EXPORT_FIELDS.known - single == {"error_message"}, "read though undocumented: a failed export's reason"
    assert all(EXPORTS_LIST.knows(p) for p in response_paths(REPORTS))


async def test_every_column_and_field_leaves_no_drift_and_a_drift_shows_within_one_run(
    running: RunningSimulator,
) -> None:
    from exporter.simulator.field_drift import set_field_drift

    running.sim.billing.set_delay(0)
    async with harnessed(running, report_types=ALL_TYPES) as harness:
        (c,) = harness.collectors
        before = values(await c.collect())
        assert drift_signals(harness.client) == {"unmapped": set(), "missing": set()}, "every column is known"
        set_field_drift(running.sim, "billing", True)
        running.sim.advance_clock(7 * HOUR)  # past max_export_age: new exports, new files
        posted = posts(running.sim)
        after = values(await c.collect())  # no traceback
        assert posts(running.sim) == posted + len(ALL_TYPES), "the drifted files were read"
        (added, _), (old, new) = sim_billing.DRIFT_ADDED, sim_billing.DRIFT_RENAMED
        assert drift_signals(harness.client) == {"unmapped": {("billing", added), ("billing", new)},
                                                 "missing": {("billing", old)}}
        timing = ("github_billing_export_last_completed_timestamp_seconds", "github_billing_export_created_total")
        assert {k: v for k, v in before.items() if k[0] not in timing} == {
            k: v for k, v in after.items() if k[0] not in timing}, "every figure is still right"
        set_field_drift(running.sim, "billing", False)
        running.sim.advance_clock(7 * HOUR)
        await c.collect()
        assert drift_signals(harness.client)["missing"] == set(), "the column is back"
