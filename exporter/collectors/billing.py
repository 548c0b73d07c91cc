"""Billing usage reports of an enterprise: month-to-date quantity and USD amounts from usage report exports.

Source: POST/GET /enterprises/{enterprise}/settings/billing/reports[/{report_id}] (public preview;
enterprise admin or billing manager, or "Enterprise administration: write"), then the CSV files
behind the export's signed `download_urls`.

    # HELP github_billing_usage_net_amount_usd Month-to-date billable amount in US dollars ...
    # TYPE github_billing_usage_net_amount_usd gauge
    github_billing_usage_net_amount_usd{enterprise="octo-enterprise",report_type="detailed",product="actions",
        sku="actions_linux",unit_type="Minutes",organization="octo-demo",cost_center="R&D, Data Science"} 12.5
    # HELP github_billing_export_failures_total Usage report exports this exporter watched that ended failed ...
    # TYPE github_billing_export_failures_total counter
    github_billing_export_failures_total{enterprise="octo-enterprise",report_type="detailed"} 0
    # HELP github_billing_export_last_completed_timestamp_seconds Creation time of the newest completed export ...
    # TYPE github_billing_export_last_completed_timestamp_seconds gauge

How a run gets its data, per report type (collectors.billing.report_types):
1. An export this collector is waiting for (kept in memory, never on disk) is polled.
2. Otherwise the enterprise's exports are listed: a completed export of the same type and
   period (first of the month to today, UTC) younger than `max_export_age` is reused
   without a POST (and only downloaded if it is not the one already served); one still
   processing (another replica's, or ours before a restart) is adopted and polled.
3. Otherwise one export is created, at most one per report type per `interval`.
Polling backs off from 2 s to 30 s for up to `poll_timeout`; an export still processing then
is polled again next run rather than created again, and given up after `export_timeout`.
An export that ends `failed` counts in github_billing_export_failures_total, its `error_message`
is logged, and the previous data stays in place. GitHub generates one usage report per account at
a time, so report types are refreshed one after another, and none is created while any export of
the enterprise (this exporter's or anyone's) is still processing: the next type waits for a later run.

The premium_request and ai_credit files carry AI-credit equivalents (`aic_quantity`,
`aic_gross_amount`), exported as github_billing_usage_ai_credits and
github_billing_usage_ai_credit_gross_amount_usd; rows with quantity 0 and only an AI-credit
gross amount (repository-scoped agent SKUs) are counted there rather than dropped.

Amounts are in US dollars, GitHub's only billing currency, so the unit is in the name
(`_usd`, like `_bytes`) instead of a `currency` label that would always say USD: a
dashboard cannot mix currencies by accident, and sum() stays meaningful. Each report
type is a different view of the same bill: sum within one report_type, never across.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import structlog
from prometheus_client.metrics_core import Metric

from exporter.collectors import fields
from exporter.collectors.base import (
    NOTHING_OBSERVED,
    Cadence,
    Collector,
    FamilyClient,
    HistoricalSample,
    Observed,
    Target,
)
from exporter.collectors.billing_csv import (
    BASE_LABELS,
    EXTRA_LABELS,
    HEADER_FIELDS,
    MEASURE_TABLE,
    CsvRecords,
    Totals,
    UsageReader,
)
from exporter.drift import Schema
from exporter.github.errors import MalformedResponseError, NotFoundError
from exporter.metricspec import MetricSpec, metric
from exporter.settings import BillingSettings, Settings

log = structlog.get_logger(__name__)

REPORTS = "/enterprises/{enterprise}/settings/billing/reports"
REPORT = "/enterprises/{enterprise}/settings/billing/reports/{report_id}"
# The export object's fields (the drift signal; tests hold them against the ghec description, read 2026-12-06):
# read, or skipped: `actor` (who asked for the export: not a figure). `error_message` is read though the
# description does not list it (a failed export's reason, logged).
EXPORT_FIELDS = Schema(
    {"id", "report_type", "start_date", "end_date", "status", "download_urls", "created_at", "actor", "error_message"},
    required={"id", "report_type", "start_date", "end_date", "status"},
)
EXPORTS_LIST = Schema({"usage_report_exports[].*"})
STATES = ("processing", "completed", "failed")
POLL_FIRST = 2.0
POLL_CAP = 30.0
# Before the first export finishes, the plan assumes this many polls per export (one taking about 90 s).
DEFAULT_POLLS_PER_EXPORT = 6
DAY = 86400
OTHER = "other"  # the model label of the models beyond collectors.billing.max_models

_USAGE_LABELS = ("enterprise", "report_type", *BASE_LABELS)
_EXPORT_LABELS = ("enterprise", "report_type")
_USAGE_NOTE = (
    "From the newest completed usage report export of this report_type, cached until the next one; sum within one "
    "report_type, never across. model is set in the premium_request and ai_credit reports: the "
    "collectors.billing.max_models models of highest cost, the rest summed into other. repository, username, "
    "workflow_path and exceeds_quota labels appear when listed in collectors.billing.extra_labels (empty where the "
    "report type has no such column)."
)
_CSV = f"usage report CSV at download_urls of GET {REPORT}"

QUANTITY = metric(
    __name__,
    "github_billing_usage_quantity",
    "gauge",
    f"Quantity used this month to date (UTC), in the unit named by unit_type (Minutes, GigabyteHours, Requests ...). "
    f"{_USAGE_NOTE}",
    _USAGE_LABELS,
    f"{_CSV}: quantity",
)
GROSS = metric(
    __name__,
    "github_billing_usage_gross_amount_usd",
    "gauge",
    f"Gross amount this month to date (UTC) in US dollars, GitHub's billing currency, before discounts. {_USAGE_NOTE}",
    _USAGE_LABELS,
    f"{_CSV}: gross_amount",
)
DISCOUNT = metric(
    __name__,
    "github_billing_usage_discount_amount_usd",
    "gauge",
    f"Discount this month to date (UTC) in US dollars, GitHub's billing currency (included usage, public "
    f"repositories). {_USAGE_NOTE}",
    _USAGE_LABELS,
    f"{_CSV}: discount_amount",
)
NET = metric(
    __name__,
    "github_billing_usage_net_amount_usd",
    "gauge",
    f"Billable amount this month to date (UTC) in US dollars, GitHub's billing currency: gross minus discount. "
    f"{_USAGE_NOTE}",
    _USAGE_LABELS,
    f"{_CSV}: net_amount",
)
ROWS = metric(
    __name__,
    "github_billing_report_rows",
    "gauge",
    "Data rows in the usage report the github_billing_usage_* gauges come from (0 for an empty report).",
    _EXPORT_LABELS,
    f"{_CSV}: number of data lines",
)
LATEST_DATE = metric(
    __name__,
    "github_billing_report_latest_date_timestamp_seconds",
    "gauge",
    "Start (00:00 UTC) of the newest day with usage in the served report; time() minus this is GitHub's billing lag.",
    _EXPORT_LABELS,
    f"{_CSV}: date",
)
LAST_COMPLETED = metric(
    __name__,
    "github_billing_export_last_completed_timestamp_seconds",
    "gauge",
    "Creation time of the newest completed export whose data the github_billing_usage_* gauges show (GitHub gives "
    "no completion time); absent until one is known. time() minus this is the age of the billing data.",
    _EXPORT_LABELS,
    f"GET {REPORT}: created_at of an export with status completed",
)
STATE = metric(
    __name__,
    "github_billing_export_state",
    "gauge",
    "1 for the status last seen of the newest export this collector created, adopted or reused, 0 for the others "
    "(all 0 before the first).",
    (*_EXPORT_LABELS, "state"),
    f"GET {REPORT}: status",
)
CREATED = metric(
    __name__,
    "github_billing_export_created",
    "counter",
    "Usage report exports this exporter created (at most one per report type per collection interval).",
    _EXPORT_LABELS,
    f"POST {REPORTS}",
)
POLLS = metric(
    __name__,
    "github_billing_export_polls",
    "counter",
    "Status requests for exports still processing.",
    _EXPORT_LABELS,
    f"GET {REPORT}",
)
REUSES = metric(
    __name__,
    "github_billing_export_reuses",
    "counter",
    "Runs that found a completed export of the same type and period younger than collectors.billing.max_export_age "
    "and so created none.",
    _EXPORT_LABELS,
    f"GET {REPORTS}: usage_report_exports",
)
FAILURES = metric(
    __name__,
    "github_billing_export_failures",
    "counter",
    "Usage report exports this exporter created or adopted that ended with status failed; the previous data is kept.",
    _EXPORT_LABELS,
    f"GET {REPORT}: status failed",
)
TIMEOUTS = metric(
    __name__,
    "github_billing_export_timeouts",
    "counter",
    "Exports given up while still processing after collectors.billing.export_timeout; a new one is created.",
    _EXPORT_LABELS,
    f"GET {REPORT}: status processing",
)
AIC_QUANTITY = metric(
    __name__,
    "github_billing_usage_ai_credits",
    "gauge",
    f"AI credits this month to date (UTC): the AI-credit equivalent of Copilot usage, counted also on rows whose "
    f"quantity is 0 (premium_request and ai_credit reports; 0 where a file has no such column). {_USAGE_NOTE}",
    _USAGE_LABELS,
    f"{_CSV}: aic_quantity",
)
AIC_GROSS = metric(
    __name__,
    "github_billing_usage_ai_credit_gross_amount_usd",
    "gauge",
    f"Gross amount of the AI credits this month to date (UTC) in US dollars, GitHub's billing currency; it carries "
    f"the AI-credit cost of rows whose quantity and gross_amount are 0. {_USAGE_NOTE}",
    _USAGE_LABELS,
    f"{_CSV}: aic_gross_amount",
)
_TOKENS = (
    "tokens behind the AI credits this month to date (UTC); ai_credit report only (GitHub added the columns on "
    f"2026-08-11; 0 where a file has none). {_USAGE_NOTE}"
)
INPUT_TOKENS = metric(__name__, "github_billing_usage_input_tokens", "gauge", f"Input (prompt) {_TOKENS}",
                      _USAGE_LABELS, f"{_CSV}: input")
OUTPUT_TOKENS = metric(__name__, "github_billing_usage_output_tokens", "gauge", f"Output (completion) {_TOKENS}",
                       _USAGE_LABELS, f"{_CSV}: output")
CACHE_READ_TOKENS = metric(__name__, "github_billing_usage_cache_read_tokens", "gauge",
                           f"Prompt-cache read {_TOKENS}", _USAGE_LABELS, f"{_CSV}: cache_read")
CACHE_WRITE_TOKENS = metric(__name__, "github_billing_usage_cache_write_tokens", "gauge",
                            f"Prompt-cache write {_TOKENS}", _USAGE_LABELS, f"{_CSV}: cache_write")
# The gauge of each summed column, in billing_csv.MEASURE_TABLE's order (a test holds the two together).
USAGE_SPECS: dict[str, MetricSpec] = {
    "quantity": QUANTITY, "gross_amount": GROSS, "discount_amount": DISCOUNT, "net_amount": NET,
    "aic_quantity": AIC_QUANTITY, "aic_gross_amount": AIC_GROSS,
    "input": INPUT_TOKENS, "output": OUTPUT_TOKENS, "cache_read": CACHE_READ_TOKENS, "cache_write": CACHE_WRITE_TOKENS,
}


def shown(report_type: str) -> list[int]:
    """Positions (in MEASURE_TABLE and Totals) of the measures a report type documents."""
    return [i for i, measure in enumerate(MEASURE_TABLE) if report_type in measure.report_types]


@dataclass(frozen=True)
class Export:
    """The export object of the REST description, as far as this collector needs it."""

    id: str
    report_type: str
    start_date: str
    end_date: str
    status: str
    download_urls: tuple[str, ...]
    created_at: float | None
    error_message: str = ""

    @property
    def period(self) -> tuple[str, str]:
        return (self.start_date, self.end_date)

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed")

    @classmethod
    def parse(cls, data: Any, endpoint: str) -> Export:
        if not isinstance(data, dict):
            raise MalformedResponseError(f"{endpoint}: expected an export object", endpoint=endpoint)
        for key in ("id", "report_type", "start_date", "end_date", "status"):
            if not isinstance(data.get(key), str):
                raise MalformedResponseError(f"{endpoint}: export has no {key}", endpoint=endpoint)
        urls = data.get("download_urls") or []
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise MalformedResponseError(f"{endpoint}: download_urls is not a list of URLs", endpoint=endpoint)
        error = data.get("error_message")
        return cls(
            data["id"],
            data["report_type"],
            data["start_date"],
            data["end_date"],
            data["status"],
            tuple(urls),
            fields.timestamp(data, "created_at", endpoint),
            error if isinstance(error, str) else "",
        )


@dataclass
class Report:
    """What was read from one export's files."""

    totals: dict[tuple[str, ...], Totals] = field(default_factory=dict)
    rows: int = 0
    latest_day: float | None = None
    daily: dict[tuple[float, tuple[str, ...]], Totals] | None = None  # per day, for history()


@dataclass
class TypeState:
    """Everything a report type keeps between runs, in memory only."""

    pending: Export | None = None
    undownloaded: Export | None = None  # completed, but its download failed: downloaded again, not recreated
    served: Export | None = None
    report: Report | None = None
    state: str | None = None
    last_completed: float | None = None
    last_created_at: float | None = None
    created: int = 0
    polls: int = 0
    reuses: int = 0
    failures: int = 0
    timeouts: int = 0


def check_answer(export: Export, report_type: str, period: tuple[str, str], endpoint: str) -> None:
    """GitHub's answer must be the export asked for: another type or period would be served under the wrong labels."""
    if export.report_type != report_type or export.period != period:
        raise MalformedResponseError(
            f"{endpoint}: asked for a {report_type} export of {period[0]}..{period[1]}, GitHub answered "
            f"export {export.id}, a {export.report_type} export of {export.start_date}..{export.end_date}",
            endpoint=endpoint,
        )


def month_to_date(now: float) -> tuple[str, str]:
    """(first of the month, today) in UTC, as YYYY-MM-DD."""
    today = datetime.fromtimestamp(now, UTC).date()
    return today.replace(day=1).isoformat(), today.isoformat()


def months(start: float, end: float) -> list[tuple[date, date]]:
    """(first, last day) of each calendar month overlapping [start, end], the last cut at `end`'s day."""
    first = datetime.fromtimestamp(start, UTC).date().replace(day=1)
    last = datetime.fromtimestamp(end, UTC).date()
    out = []
    while first <= last:
        following = (first + timedelta(days=32)).replace(day=1)
        out.append((first, min(following - timedelta(days=1), last)))
        first = following
    return out


def public_url(url: str) -> str:
    """A download link without its query string, which holds the signature (a credential)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _add(into: dict[Any, Totals], key: Any, measures: Totals) -> None:
    acc = into.get(key)
    if acc is None:
        acc = into[key] = Totals()
    acc.add(measures)


def _fold(report: Report, reader: UsageReader, records: Iterable[list[str]]) -> None:
    """Sum records into the report as they come; the first record of a file is its header."""
    for record in records:
        if not reader.has_header:
            reader.header(record)
            continue
        day, key, measures = reader.row(record)
        _add(report.totals, key, measures)
        if report.latest_day is None or day > report.latest_day:
            report.latest_day = day
        if report.daily is not None:
            _add(report.daily, (day, key), measures)


def bound_models(report: Report, labels: tuple[str, ...], keep: int) -> None:
    """Keep the `keep` models of highest cost (gross_amount plus aic_gross_amount) as label values; sum the rest
    into model "other". Rows without a model (the metered reports) are left alone."""
    position = labels.index("model")
    cost: dict[str, float] = defaultdict(float)
    for key, sums in report.totals.items():
        if key[position]:
            cost[key[position]] += sums.of("gross_amount") + sums.of("aic_gross_amount")
    if len(cost) <= keep:
        return
    kept = set(sorted(cost, key=lambda model: (-cost[model], model))[:keep])

    def bounded(key: tuple[str, ...]) -> tuple[str, ...]:
        model = key[position]
        return key if not model or model in kept else (*key[:position], OTHER, *key[position + 1:])

    by_key, report.totals = report.totals, {}
    for key, measures in by_key.items():
        _add(report.totals, bounded(key), measures)
    if report.daily is not None:
        daily, report.daily = report.daily, {}
        for (day, key), measures in daily.items():
            _add(report.daily, (day, bounded(key)), measures)


async def read_report(
    client: FamilyClient,
    export: Export,
    labels: tuple[str, ...],
    *,
    per_day: bool = False,
    max_models: int = 20,
    target: str = "",
) -> Report:
    """Download every file of a completed export, streaming, and sum its rows by label set (and day).

    Every file's header is held against HEADER_FIELDS, reported as the drift signal even when a file fails."""
    if not export.download_urls:
        raise MalformedResponseError(
            f"{REPORT}: export {export.id} is completed but has no download_urls", endpoint=REPORT
        )
    report = Report(daily={} if per_day else None)
    count = len(export.download_urls)
    schema = HEADER_FIELDS.get(export.report_type)
    check = schema.check() if schema is not None else None
    try:
        for n, url in enumerate(export.download_urls, 1):
            source = f"{export.report_type} export {export.id} file {n}/{count} ({public_url(url)})"
            parser = CsvRecords(source)
            reader = UsageReader(export.report_type, labels, source, check)
            async with client.download(url) as response:
                async for chunk in response.aiter_bytes():
                    _fold(report, reader, parser.feed(chunk))
            _fold(report, reader, parser.finish())
            report.rows += reader.rows
    finally:
        if check is not None:
            client.report_drift(f"{export.report_type} report files of {target}", check)
    bound_models(report, labels, max_models)
    return report


class BillingCollector(Collector[BillingSettings]):
    """One enterprise: one export per configured report type, polled, downloaded and summed."""

    name = "billing"
    endpoints = ("/enterprises/{enterprise}/settings/billing/reports",
                 "/enterprises/{enterprise}/settings/billing/reports/{report_id}")

    def setup(self) -> None:
        self.labels = (
            *BASE_LABELS,
            *(name for name in EXTRA_LABELS if name in self.options.extra_labels),
        )
        self.states: dict[str, TypeState] = {report_type: TypeState() for report_type in self.options.report_types}
        self._finished_ids: set[str] = set()  # exports seen finishing during this run (the listing is older)

    @classmethod
    def targets(cls, settings: Settings) -> list[Target]:
        return Target.enterprises(settings.targets.enterprises)

    @classmethod
    def cadences(cls, settings: Settings, target: Target, observed: Observed = NOTHING_OBSERVED) -> list[Cadence]:
        """One listing per run, and per report type one export (a POST and its polls) per reuse cycle.

        A completed export is reused while younger than max_export_age, so a new one is created every
        max_export_age rounded up to whole intervals (at least one interval). The download is not a REST
        request (a signed link on another host) and costs no rate limit.
        """
        o = settings.collectors.billing
        cycle = max(1, math.ceil(o.max_export_age / o.interval)) * o.interval
        polls = observed.get("polls_per_export", DEFAULT_POLLS_PER_EXPORT)
        return [Cadence(o.interval, 1.0), Cadence(cycle, len(o.report_types) * (1 + polls))]

    # -- one run ------------------------------------------------------------------------------

    async def collect(self) -> list[Metric]:
        now = self._clock()
        period = month_to_date(now)
        for state in self.states.values():
            if state.served is not None and state.served.start_date != period[0]:
                state.served, state.report = None, None  # last month's figures are not month-to-date
        listed: list[Export] = []
        if any(state.pending is None for state in self.states.values()):
            listed = await self._list()
        self._finished_ids.clear()
        # One report type after another: GitHub allows one export in progress per account at a time.
        errors: list[Exception] = []
        for report_type in self.states:
            try:
                await self._refresh(report_type, period, listed)
            except Exception as exc:  # one report type failing does not stop the others
                errors.append(exc)
                log.warning(
                    "billing report not refreshed",
                    enterprise=self.target,
                    report_type=report_type,
                    error=str(exc) or type(exc).__name__,
                )
        created = sum(state.created for state in self.states.values())
        if created:
            self.observed["polls_per_export"] = sum(state.polls for state in self.states.values()) / created
        if errors:
            raise errors[0]
        return self.families()

    async def _refresh(self, report_type: str, period: tuple[str, str], listed: list[Export]) -> None:
        state = self.states[report_type]
        if state.pending is not None:
            done = await self._wait(report_type, state.pending, first_wait=False)
            if done is not None:
                await self._finish(report_type, done)
            return
        if state.undownloaded is not None and state.undownloaded.period == period:
            await self._download_again(report_type, state.undownloaded)
            return
        now = self._clock()
        same = [e for e in listed if e.report_type == report_type and e.period == period]
        fresh = [
            e
            for e in same
            if e.status == "completed" and e.created_at is not None and now - e.created_at < self.options.max_export_age
        ]
        if fresh:
            newest = max(fresh, key=lambda e: e.created_at or 0.0)
            state.reuses += 1
            state.state = "completed"
            if state.served is None or state.served.id != newest.id:
                await self._load(report_type, newest)
            return
        export: Export
        running = [
            e
            for e in same
            if not e.finished and (e.created_at is None or now - e.created_at < self.options.export_timeout)
        ]
        if running:
            export = max(running, key=lambda e: e.created_at or 0.0)
            state.state = "processing"
            log.info("billing export adopted", enterprise=self.target, report_type=report_type, id=export.id)
        else:
            busy = self._in_progress(listed, now)
            if busy is not None:
                log.info(
                    "billing export not created: another export of this account is in progress (GitHub allows one)",
                    enterprise=self.target,
                    report_type=report_type,
                    in_progress=busy,
                )
                return
            if state.last_created_at is not None and now - state.last_created_at < self.options.interval:
                log.info(
                    "billing export not created: one was created less than an interval ago",
                    enterprise=self.target,
                    report_type=report_type,
                )
                return
            export = await self._create(report_type, period)
        done = export if export.finished else await self._wait(report_type, export, first_wait=True)
        if done is not None:
            await self._finish(report_type, done)

    def _in_progress(self, listed: list[Export], now: float) -> str | None:
        """The report type of an export of this account still processing (ours or anyone's), if any."""
        for report_type, state in self.states.items():
            if state.pending is not None:
                return report_type
        for export in listed:
            if (
                not export.finished
                and export.id not in self._finished_ids
                and (export.created_at is None or now - export.created_at < self.options.export_timeout)
            ):
                return export.report_type
        return None

    async def _list(self) -> list[Export]:
        response = await self.client.get(REPORTS, enterprise=self.target)
        data = response.data
        items = data.get("usage_report_exports") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise MalformedResponseError(f"{REPORTS}: expected usage_report_exports", endpoint=REPORTS)
        listing = EXPORTS_LIST.check()
        listing.record(data)
        self.client.report_drift(f"export list of {self.target}", listing)
        return self._exports(items, REPORTS)

    def _exports(self, items: list[Any], endpoint: str) -> list[Export]:
        """Export objects, their fields held against EXPORT_FIELDS (one check per answer)."""
        check = EXPORT_FIELDS.check()
        for item in items:
            if isinstance(item, dict):
                check.record(item)
        self.client.report_drift(f"export objects of {self.target}", check)
        return [Export.parse(item, endpoint) for item in items]

    async def _create(self, report_type: str, period: tuple[str, str]) -> Export:
        state = self.states[report_type]
        state.last_created_at = self._clock()
        body = {"report_type": report_type, "start_date": period[0], "end_date": period[1]}
        response = await self.client.post(REPORTS, json=body, enterprise=self.target)
        (export,) = self._exports([response.data], REPORTS)
        check_answer(export, report_type, period, REPORTS)
        state.created += 1
        state.state = export.status if export.status in STATES else "processing"
        log.info(
            "billing export created",
            enterprise=self.target,
            report_type=report_type,
            id=export.id,
            start_date=period[0],
            end_date=period[1],
        )
        return export

    async def _wait(
        self, report_type: str, export: Export, *, first_wait: bool, timeout: float | None = None
    ) -> Export | None:
        """Poll with back-off until the export finishes or `timeout` (default poll_timeout) passes.

        Returns the finished export; None while it is still processing (it stays
        pending, to be polled next run) or once it was given up or vanished.
        """
        state = self.states[report_type]
        state.pending = export
        asked = export
        deadline = self._clock() + (self.options.poll_timeout if timeout is None else timeout)
        delay = POLL_FIRST
        if first_wait:
            if self._clock() + delay > deadline:
                return None
            await self._sleep(delay)
            delay = min(delay * 2, POLL_CAP)
        while True:
            try:
                response = await self.client.get(REPORT, enterprise=self.target, report_id=export.id)
            except NotFoundError:
                log.warning(
                    "billing export vanished while processing",
                    enterprise=self.target,
                    report_type=report_type,
                    id=export.id,
                )
                state.pending = None
                self._finished_ids.add(export.id)
                return None
            state.polls += 1
            (export,) = self._exports([response.data], REPORT)
            check_answer(export, asked.report_type, asked.period, REPORT)
            if export.finished:
                state.pending = None
                self._finished_ids.add(export.id)
                return export
            state.pending = export
            state.state = "processing"
            now = self._clock()
            created = export.created_at if export.created_at is not None else now
            if now - created >= self.options.export_timeout:
                state.timeouts += 1
                state.pending = None
                self._finished_ids.add(export.id)
                log.warning(
                    "billing export given up: still processing",
                    enterprise=self.target,
                    report_type=report_type,
                    id=export.id,
                    age_seconds=round(now - created),
                )
                return None
            if now + delay > deadline:
                log.info(
                    "billing export still processing; polled again next run",
                    enterprise=self.target,
                    report_type=report_type,
                    id=export.id,
                )
                return None
            await self._sleep(delay)
            delay = min(delay * 2, POLL_CAP)

    async def _finish(self, report_type: str, export: Export, *, load: bool = True) -> None:
        """A watched export ended: count a failure, or read a completed month-to-date report."""
        state = self.states[report_type]
        state.pending = None
        state.state = export.status
        if export.status == "failed":
            state.failures += 1
            log.warning(
                "billing export failed; previous data kept",
                enterprise=self.target,
                report_type=report_type,
                id=export.id,
                error_message=export.error_message or "(none given)",
            )
            return
        if load and export.start_date == month_to_date(self._clock())[0]:
            await self._load(report_type, export)  # (one finished after the month turned is not month-to-date)

    async def _download_again(self, report_type: str, export: Export) -> None:
        """Read a completed export whose download failed, asking for it afresh (signed links expire)."""
        state = self.states[report_type]
        state.undownloaded = None
        try:
            response = await self.client.get(REPORT, enterprise=self.target, report_id=export.id)
        except NotFoundError:
            log.warning("billing export vanished before it was downloaded", enterprise=self.target,
                        report_type=report_type, id=export.id)
            return
        (again,) = self._exports([response.data], REPORT)
        check_answer(again, report_type, export.period, REPORT)
        log.info("billing export downloaded again", enterprise=self.target, report_type=report_type, id=export.id)
        await self._finish(report_type, again)

    async def _load(self, report_type: str, export: Export) -> None:
        state = self.states[report_type]
        try:
            report = await read_report(self.client, export, self.labels, max_models=self.options.max_models,
                                       target=self.target)
        except Exception:
            state.undownloaded = export
            raise
        state.served, state.report = export, report
        state.last_completed = export.created_at if export.created_at is not None else self._clock()
        log.info(
            "billing report read",
            enterprise=self.target,
            report_type=report_type,
            id=export.id,
            rows=report.rows,
            series=len(report.totals),
        )

    # -- exposition ---------------------------------------------------------------------------

    def spec(self, spec: MetricSpec) -> MetricSpec:
        """The usage spec with this configuration's extra labels."""
        extra = self.labels[len(BASE_LABELS) :]
        return replace(spec, labels=spec.labels + extra) if extra else spec

    def families(self) -> list[Metric]:
        usage = [self.spec(spec).new() for spec in USAGE_SPECS.values()]
        rows, latest, completed, states = ROWS.new(), LATEST_DATE.new(), LAST_COMPLETED.new(), STATE.new()
        counters = {spec: spec.new() for spec in (CREATED, POLLS, REUSES, FAILURES, TIMEOUTS)}
        for report_type, state in self.states.items():
            head = [self.target, report_type]
            if state.report is not None:
                for key in sorted(state.report.totals):
                    t = state.report.totals[key]
                    for i in shown(report_type):
                        usage[i].add_metric([*head, *key], round(t.values[i], 6))
                rows.add_metric(head, state.report.rows)
                if state.report.latest_day is not None:
                    latest.add_metric(head, state.report.latest_day)
            if state.last_completed is not None:
                completed.add_metric(head, state.last_completed)
            for name in STATES:
                states.add_metric([*head, name], 1.0 if state.state == name else 0.0)
            for spec, value in (
                (CREATED, state.created),
                (POLLS, state.polls),
                (REUSES, state.reuses),
                (FAILURES, state.failures),
                (TIMEOUTS, state.timeouts),
            ):
                counters[spec].add_metric(head, value)
        return [*usage, rows, latest, completed, states, *counters.values()]

    def initial(self) -> list[Metric]:
        """The export counters at 0 for every report type before the first run."""
        return [family for family in self.families() if family.type == "counter"]

    # -- backfill -----------------------------------------------------------------------------

    async def history(self, start: float, end: float) -> list[HistoricalSample]:
        """Month-to-date values as they stood at the end of each day (23:59:59 UTC) between start and end.

        Every report type has a `date` column (usage is logged per UTC day), so each
        calendar month in the range is read from one export covering the whole month
        (up to today), reused when a completed one exists, created otherwise and waited
        for up to `export_timeout`. A series is emitted from its first day with usage
        to the newest day in the report.
        """
        now = self._clock()
        end = min(end, now)
        if end < start:
            return []
        samples: list[HistoricalSample] = []
        specs = [self.spec(spec) for spec in USAGE_SPECS.values()]
        today = datetime.fromtimestamp(now, UTC).date().isoformat()
        for first, last in months(start, end):
            period = (first.isoformat(), last.isoformat())
            listed = await self._list()
            for report_type in self.states:
                export = await self._history_export(report_type, period, listed, closed=period[1] < today)
                if export is None:
                    continue
                report = await read_report(self.client, export, self.labels, per_day=True,
                                           max_models=self.options.max_models, target=self.target)
                samples.extend(self._daily_samples(report_type, report, specs, start, end))
        return samples

    async def _history_export(
        self, report_type: str, period: tuple[str, str], listed: list[Export], closed: bool
    ) -> Export | None:
        now = self._clock()
        same = [e for e in listed if e.report_type == report_type and e.period == period]
        # A month that is over does not change: any completed export of it will do.
        usable = [
            e
            for e in same
            if e.status == "completed"
            and (closed or (e.created_at is not None and now - e.created_at < self.options.max_export_age))
        ]
        if usable:
            return max(usable, key=lambda e: e.created_at or 0.0)
        running = [e for e in same if not e.finished]
        export = running[0] if running else await self._create(report_type, period)
        done = (
            export
            if export.finished
            else await self._wait(report_type, export, first_wait=True, timeout=self.options.export_timeout)
        )
        if done is not None:
            await self._finish(report_type, done, load=False)
        if done is None or done.status != "completed":
            log.warning(
                "backfill: billing export did not complete",
                enterprise=self.target,
                report_type=report_type,
                start_date=period[0],
                end_date=period[1],
            )
            return None
        return done

    def _daily_samples(
        self, report_type: str, report: Report, specs: list[MetricSpec], start: float, end: float
    ) -> list[HistoricalSample]:
        assert report.daily is not None
        if report.latest_day is None:
            return []
        by_key: dict[tuple[str, ...], dict[float, Totals]] = {}
        for (day, key), totals in report.daily.items():
            by_key.setdefault(key, {})[day] = totals
        samples = []
        for key, days in sorted(by_key.items()):
            labels = (self.target, report_type, *key)
            running = Totals()
            day = min(days)
            while day <= report.latest_day:
                t = days.get(day)
                if t is not None:
                    running.add(t)
                at = day + DAY - 1
                if start <= at <= end:
                    for i in shown(report_type):
                        samples.append(HistoricalSample(specs[i], labels, round(running.values[i], 6), at))
                day += DAY
        return samples
