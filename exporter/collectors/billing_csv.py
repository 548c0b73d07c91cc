"""Streaming reader for GitHub's billing usage report CSV files.

A report can be hundreds of megabytes, so nothing here holds a file: bytes go in
chunk by chunk as they arrive from the download, complete CSV records come out,
and each record is folded into running sums at once. Memory depends on the
number of distinct label sets, never on the number of rows.

    parser = CsvRecords("detailed export 1234 file 1/1")
    for chunk in chunks:
        for record in parser.feed(chunk):
            ...
    for record in parser.finish():
        ...

Files start with a UTF-8 byte-order mark, end lines with CRLF and quote fields
that hold commas, quotes or newlines (RFC 4180). A record is complete when its
lines hold an even number of double quotes (a quote inside a quoted field is
doubled), so a quoted newline never splits a record.

The column sets are those of GitHub's "Billing reports reference"
(https://docs.github.com/en/billing/reference/billing-reports, and its source
github/docs content/billing/reference/billing-reports.md; read 2026-12-06); the
REST description documents only the export object, not the files.
"""

from __future__ import annotations

import codecs
import csv
import math
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from exporter.collectors import fields
from exporter.drift import FieldCheck, Schema
from exporter.github.errors import MalformedResponseError

MAX_RECORD_CHARS = 1 << 20  # a record longer than this means a broken file (an unterminated quote)

MEASURES = ("quantity", "gross_amount", "discount_amount", "net_amount")  # in every report type, required
# AI-credit equivalents GitHub appends to the Copilot reports; optional (older files lack them, read as 0).
AIC_MEASURES = ("aic_quantity", "aic_gross_amount")
# The AI usage report's tokens behind each model's AI credits (changelog 2026-08-11; the reference names the
# fields input, output, cache_read and cache_write); optional like the aic_* columns.
TOKEN_MEASURES = ("input", "output", "cache_read", "cache_write")
_METERED = ("date", "product", "sku", "quantity", "unit_type", "applied_cost_per_quantity",
            "gross_amount", "discount_amount", "net_amount")
# Every column each report type documents, in GitHub's order (for reference and the simulator's tests).
COLUMNS: dict[str, tuple[str, ...]] = {
    "detailed": (*_METERED, "username", "organization", "repository", "workflow_path", "cost_center_name"),
    "summarized": (*_METERED, "organization", "repository", "cost_center_name"),
    "premium_request": ("date", "username", "product", "sku", "model", "quantity", "unit_type",
                        "applied_cost_per_quantity", "gross_amount", "discount_amount", "net_amount",
                        "exceeds_quota", "total_monthly_quota", "organization", "cost_center_name",
                        *AIC_MEASURES),
    "ai_credit": ("date", "username", "product", "sku", "model", "quantity", "unit_type",
                  "applied_cost_per_quantity", "gross_amount", "discount_amount", "net_amount",
                  "total_monthly_quota", "organization", "repository", "cost_center_name", *AIC_MEASURES,
                  *TOKEN_MEASURES),
}
REPORT_TYPES = tuple(COLUMNS)
AIC_REPORT_TYPES = tuple(kind for kind, columns in COLUMNS.items() if AIC_MEASURES[0] in columns)


@dataclass(frozen=True)
class Measure:
    """A CSV column summed into a gauge; an optional one reads 0 in a file without it."""

    column: str
    report_types: tuple[str, ...]  # where GitHub documents it: the gauge is shown for these only
    required: bool = False


# Every summed column, in the order Totals holds them; a new documented column is one row here (and its gauge).
MEASURE_TABLE: tuple[Measure, ...] = (
    *(Measure(column, REPORT_TYPES, required=True) for column in MEASURES),
    *(Measure(column, tuple(k for k, cs in COLUMNS.items() if column in cs))
      for column in (*AIC_MEASURES, *TOKEN_MEASURES)),
)
_POSITION = {m.column: i for i, m in enumerate(MEASURE_TABLE)}
# Documented columns no gauge sums or labels by, and why; every other documented column is a measure or a label.
NOT_EXPORTED = {
    "date": "the gauges are month to date; the newest date is github_billing_report_latest_date_timestamp_seconds",
    "applied_cost_per_quantity": "a unit price, not usage (gross_amount / quantity)",
    "total_monthly_quota": "a per-user plan allowance, repeated on each of the user's rows; summing it means nothing",
}

# Label name -> CSV column. BASE_LABELS are always labels; EXTRA_LABELS only when listed in
# collectors.billing.extra_labels (unbounded: a repository, user or workflow each makes its own series).
# `model` (premium_request and ai_credit reports; "" in the metered ones) is bounded by the collector: the top
# collectors.billing.max_models models by cost keep their name, the rest sum into "other".
BASE_LABELS = ("product", "sku", "unit_type", "organization", "cost_center", "model")
EXTRA_LABELS = ("repository", "username", "workflow_path", "exceeds_quota")
LABEL_COLUMNS = {"product": "product", "sku": "sku", "unit_type": "unit_type", "organization": "organization",
                 "cost_center": "cost_center_name", "model": "model", "repository": "repository",
                 "username": "username", "workflow_path": "workflow_path", "exceeds_quota": "exceeds_quota"}
# Columns a report type aggregates by, which must be there; other label columns may be absent (label "").
# The metered reports are summed by organization and cost centre (the detailed one also by user and workflow);
# the Copilot ones by date, model and user.
_REQUIRED_LABELS = {
    "detailed": {"product", "sku", "unit_type", "organization", "cost_center", "repository", "username",
                 "workflow_path"},
    "summarized": {"product", "sku", "unit_type", "organization", "cost_center", "repository"},
    "premium_request": {"product", "sku", "unit_type", "model", "username"},
    "ai_credit": {"product", "sku", "unit_type", "model", "username"},
}


# The drift signal's view of a file's header (exporter.drift): every documented column is known (a measure, a
# label or NOT_EXPORTED); all but the appended optional ones arrive in every file of the type, so one that stops
# arriving shows as github_exporter_missing_fields even where the reader tolerates its absence (label "").
HEADER_FIELDS: dict[str, Schema] = {
    kind: Schema(columns, required=set(columns) - {*AIC_MEASURES, *TOKEN_MEASURES})
    for kind, columns in COLUMNS.items()
}


class ReportFormatError(MalformedResponseError):
    """A usage report file that cannot be read: a missing column, a bad number, an unterminated quote."""


def required_columns(report_type: str, labels: Sequence[str]) -> tuple[str, ...]:
    """The columns a file of this type must have for these labels: date, the measures, and label columns."""
    needed = _REQUIRED_LABELS[report_type]
    return ("date", *MEASURES, *(LABEL_COLUMNS[name] for name in labels if name in needed))


class _Lines:
    """The iterator csv.reader pulls from; it is only ever asked for lines of a complete record."""

    def __init__(self) -> None:
        self.queue: deque[str] = deque()

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if not self.queue:
            raise StopIteration
        return self.queue.popleft()


class CsvRecords:
    """Bytes in, parsed records out, holding at most one unfinished record."""

    def __init__(self, source: str, max_record_chars: int = MAX_RECORD_CHARS) -> None:
        self.source = source
        self.records = 0  # records returned, header included
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._carry = ""  # text after the last newline seen
        self._pending: list[str] = []  # lines of a record whose quote is still open
        self._pending_chars = 0
        self._quotes = 0
        self._max = max_record_chars
        self._lines = _Lines()
        self._reader = csv.reader(self._lines, strict=True)

    def feed(self, chunk: bytes) -> Iterator[list[str]]:
        try:
            text = self._decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise self._error(f"not UTF-8 text ({exc.reason})") from None
        cut = text.rfind("\n")
        if cut < 0:
            self._carry += text
            if len(self._carry) + self._pending_chars > self._max:
                raise self._error(f"a record is longer than {self._max} characters (unterminated quote?)")
            return
        lines = (self._carry + text[: cut + 1]).split("\n")
        self._carry = text[cut + 1:]
        lines.pop()  # the empty string after the final newline
        for line in lines:
            record = self._line(line + "\n")
            if record is not None:
                yield record

    def finish(self) -> Iterator[list[str]]:
        try:
            tail = self._carry + self._decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise self._error(f"not UTF-8 text ({exc.reason})") from None
        self._carry = ""
        if tail:
            record = self._line(tail)
            if record is not None:
                yield record
        if self._pending:
            raise self._error("the file ends inside a quoted field")

    def _line(self, line: str) -> list[str] | None:
        self._quotes += line.count('"')
        if self._quotes % 2:
            self._pending.append(line)
            self._pending_chars += len(line)
            if self._pending_chars > self._max:
                raise self._error(f"a record is longer than {self._max} characters (unterminated quote?)")
            return None
        queue = self._lines.queue
        if self._pending:
            queue.extend(self._pending)
            self._pending.clear()
            self._pending_chars = 0
        queue.append(line)
        self._quotes = 0
        try:
            record = next(self._reader)
        except csv.Error as exc:
            queue.clear()
            raise self._error(f"record {self.records + 1}: {exc}") from None
        if not record:  # a blank line
            return None
        self.records += 1
        return record

    def _error(self, message: str) -> ReportFormatError:
        return ReportFormatError(f"{self.source}: {message}", endpoint="{signed_download_url}")


class Totals:
    """Sums of every MEASURE_TABLE column, in its order."""

    __slots__ = ("values",)

    def __init__(self, values: Iterable[float] | None = None) -> None:
        self.values = list(values) if values is not None else [0.0] * len(MEASURE_TABLE)

    def add(self, other: Totals) -> None:
        for i, value in enumerate(other.values):
            self.values[i] += value

    def of(self, column: str) -> float:
        return self.values[_POSITION[column]]


class UsageReader:
    """Turns one file's records into (day start, label values, measures), checking the header first.

    `labels` names the metric labels wanted (BASE_LABELS plus any enabled
    EXTRA_LABELS); a label whose column the file lacks but may lack is "".
    Unknown columns are read by no gauge; `check` (HEADER_FIELDS' check) sees every header, for the drift signal.
    """

    def __init__(self, report_type: str, labels: Sequence[str], source: str, check: FieldCheck | None = None) -> None:
        self.report_type = report_type
        self.check = check
        self.labels = tuple(labels)
        self.source = source
        self.rows = 0
        self._index: tuple[int, ...] | None = None
        self._days: dict[str, float] = {}

    @property
    def has_header(self) -> bool:
        return self._index is not None

    def header(self, record: list[str]) -> None:
        names = [name.strip().lower() for name in record]
        if self.check is not None:
            self.check.columns(names)  # before a missing column fails the file: the signal says why
        position = {name: i for i, name in reversed(list(enumerate(names)))}
        for column in required_columns(self.report_type, self.labels):
            if column not in position:
                raise ReportFormatError(
                    f"{self.source}: required column {column!r} is missing from the {self.report_type} report "
                    f"(found: {', '.join(names) or 'nothing'})", endpoint="{signed_download_url}")
        # -1 marks a label column this file may leave out.
        self._index = (position["date"], *(position.get(LABEL_COLUMNS[name], -1) for name in self.labels))
        self._measures = tuple(position.get(m.column, -1) for m in MEASURE_TABLE)
        self._width = max(*self._index, *self._measures) + 1

    def row(self, record: list[str]) -> tuple[float, tuple[str, ...], Totals]:
        """(start of the usage day, label values, measures) of one data record.

        Rows with quantity 0 but an AI-credit gross amount exist, so no row is skipped.
        """
        index = self._index
        assert index is not None, "header() first"
        self.rows += 1
        if len(record) < self._width:
            raise self._bad(f"has {len(record)} fields, the header has more")
        text = record[index[0]]
        day = self._days.get(text)
        if day is None:
            day = self._day(text)
        columns = self._measures
        try:
            values = [float(record[i]) if i >= 0 and record[i] else 0.0 for i in columns]
        except ValueError:
            for name, i in zip((m.column for m in MEASURE_TABLE), columns, strict=True):
                try:
                    if i >= 0:
                        float(record[i] or 0)
                except ValueError:
                    raise self._bad(f"column {name!r} is not a number: {record[i]!r}") from None
            raise
        if not all(math.isfinite(v) for v in values):
            raise self._bad("has a measure that is not a finite number")
        labels = tuple(record[i] if i >= 0 else "" for i in index[1:])
        return day, labels, Totals(values)

    def _day(self, text: str) -> float:
        try:
            value = fields.day({"date": text}, "date", self.source, required=True)
        except MalformedResponseError:
            raise self._bad(f"column 'date' is not a date (YYYY-MM-DD): {text!r}") from None
        if len(self._days) < 1024:
            self._days[text] = value
        return value

    def _bad(self, message: str) -> ReportFormatError:
        return ReportFormatError(f"{self.source}: data row {self.rows} {message}", endpoint="{signed_download_url}")
