"""Drift: the fields GitHub sends that a collector neither maps nor skips, and documented ones it stopped sending.

GitHub adds and renames fields every few weeks; a parser that ignores what it does not know hides that. This
module makes it visible on /metrics, for any collector and any shape of answer (JSON objects, NDJSON records,
CSV headers), with one small API:

    SCHEMA = Schema(known={"day", "totals_by_ide[].ide", ...}, required={"day"})   # once, from the field tables
    seen = SCHEMA.check()                 # one per run (and per kind of record)
    seen.record(obj)                      # every JSON object / NDJSON record read ...
    seen.columns(["date", "sku", ...])    # ... or a CSV header
    self.client.report_drift("users-1-day of octo-demo", seen)   # after the run, in a collector (FamilyClient)

(the collector's FamilyClient hands the check to the FieldDrift its ExporterMetrics keeps, as
`FieldDrift.report(collector, kind, check)`).

`kind` names what was read and from whom: each kind keeps its own missing state, so two targets of one
collector do not undo each other's signal (the metrics' labels are only collector and field).

A path names a leaf: "a.b" steps into an object, "a[].b" into the entries of an array (positions collapsed);
an empty object or array carries no field, an array of plain values is one. `known` is what the collector
maps plus what it deliberately skips ("a.*" for a whole object skipped); `required` are documented fields
every record carries, so a run whose records all lack one is how a rename shows (the new name arrives as
unmapped at the same time).

On /metrics (FieldDrift):
- github_exporter_unmapped_fields{collector, field} 1 for each path seen since start that is not known; at
  most MAX_PATHS per collector, the rest counted in github_exporter_unmapped_fields_dropped_total{collector};
  one warning log line when a path is first seen, never one per record.
- github_exporter_missing_fields{collector, field} 1 while the last check of a kind of record had records and
  none carried the required field; the series goes when the field comes back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

log = structlog.get_logger(__name__)

MAX_PATHS = 50  # unmapped paths kept per collector; GitHub adding more at once than this is counted, not listed
MAX_DEPTH = 8  # deeper nesting is reported at this depth: no record is walked without bound


def paths(value: Any, prefix: str = "", depth: int = 0) -> Iterator[str]:
    """The leaf paths of a JSON value, array positions collapsed ("totals_by_ide[].ide")."""
    if isinstance(value, dict) and depth < MAX_DEPTH:
        for key, inner in value.items():
            yield from paths(inner, f"{prefix}.{key}" if prefix else str(key), depth + 1)
    elif isinstance(value, list) and depth < MAX_DEPTH:
        if any(isinstance(v, dict | list) for v in value):
            for inner in value:
                yield from paths(inner, f"{prefix}[]", depth + 1)
        elif value and prefix:
            yield prefix  # an array of plain values is one field
    elif prefix:
        yield prefix


class Schema:
    """The fields a collector knows in one kind of record (mapped or skipped), and the ones always sent."""

    def __init__(self, known: Iterable[str], required: Iterable[str] = ()) -> None:
        self.known = frozenset(known)
        self.required = frozenset(required)
        # "assignee.*": a whole object deliberately skipped (say why beside it), whatever fields it grows.
        self.subtrees = tuple(sorted(k.removesuffix("*") for k in self.known if k.endswith(".*")))
        if not self.required <= self.known:
            raise ValueError(f"required fields that are not known: {sorted(self.required - self.known)}")

    def knows(self, path: str) -> bool:
        return path in self.known or path.startswith(self.subtrees) or f"{path}.*" in self.known  # null object

    def check(self) -> FieldCheck:
        return FieldCheck(self)


class FieldCheck:
    """What one run saw: the unknown paths, and which required ones arrived."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.records = 0
        self.unmapped: set[str] = set()
        self._present: set[str] = set()

    def record(self, value: Any) -> None:
        self.records += 1
        for path in paths(value):
            self._see(path)

    def columns(self, names: Iterable[str]) -> None:
        """A CSV header: each column is a path, the header one record."""
        self.records += 1
        for name in names:
            self._see(name)

    def _see(self, path: str) -> None:
        if self.schema.knows(path):
            if path in self.schema.required:
                self._present.add(path)
        elif len(self.unmapped) < 4 * MAX_PATHS:  # a bound on memory; FieldDrift keeps MAX_PATHS, counts the rest
            self.unmapped.add(path)

    @property
    def missing(self) -> set[str]:
        """Required fields none of the records carried (nothing, when there were no records)."""
        return set(self.schema.required - self._present) if self.records else set()


class FieldDrift:
    """The drift metrics of one registry, and what was already logged."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.unmapped = Gauge(
            "github_exporter_unmapped_fields",
            "1 for each field GitHub sent (path, array positions collapsed as []) that the collector neither maps "
            "nor deliberately skips, since start: GitHub added or renamed a field. At most 50 per collector.",
            ["collector", "field"],
            registry=registry,
        )
        self.dropped = Counter(
            "github_exporter_unmapped_fields_dropped",
            "Unmapped field paths beyond the 50 github_exporter_unmapped_fields lists per collector.",
            ["collector"],
            registry=registry,
        )
        self.missing = Gauge(
            "github_exporter_missing_fields",
            "1 while the collector's last run read records of a kind and none carried this documented field that "
            "every record carries: GitHub renamed or dropped it.",
            ["collector", "field"],
            registry=registry,
        )
        self._seen: dict[str, set[str]] = {}
        self._missing: dict[tuple[str, str], set[str]] = {}

    def report(self, collector: str, kind: str, check: FieldCheck) -> None:
        """Publish one run's check of one kind of record (`kind` also names it in the log lines)."""
        seen = self._seen.setdefault(collector, set())
        for path in sorted(check.unmapped - seen):
            if len(seen) >= MAX_PATHS:
                self.dropped.labels(collector).inc()
                if len(seen) < 4 * MAX_PATHS:
                    seen.add(path)  # counted once
                continue
            seen.add(path)
            self.unmapped.labels(collector, path).set(1)
            log.warning(
                "GitHub sent a field this exporter does not know: upgrade the exporter, or tell us",
                collector=collector, report=kind, field=path,
            )
        if not check.records:
            return  # a run without records says nothing about what records carry
        before = self._missing.get((collector, kind), set())
        now = check.missing
        for path in sorted(now - before):
            log.warning(
                "A documented field GitHub always sent is missing (renamed or dropped?): upgrade, or tell us",
                collector=collector, report=kind, field=path, records=check.records,
            )
        self._missing[(collector, kind)] = now
        still = {p for (c, _), paths_ in self._missing.items() if c == collector for p in paths_}
        for path in now:
            self.missing.labels(collector, path).set(1)
        for path in before - still:  # back in every kind of record that had lost it
            self.missing.remove(collector, path)
