"""exporter.drift: field paths, the bounds, one log line per new path, and the missing signal coming and going."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from exporter import drift
from exporter.drift import FieldDrift, Schema, paths

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=25,
)


def test_paths_collapse_array_positions_and_keep_leaves() -> None:
    record = {
        "day": "2026-12-05",
        "totals_by_ide": [{"ide": "vscode", "foo": 1}, {"ide": "jetbrains", "bar": {"baz": 2}}],
        "tags": ["a", "b"],
        "empty": [],
        "nothing": {},
        "nested": [[{"x": 1}]],
    }
    assert sorted(set(paths(record))) == [
        "day", "nested[][].x", "tags", "totals_by_ide[].bar.baz", "totals_by_ide[].foo", "totals_by_ide[].ide",
    ]


@given(json_values)
def test_paths_of_any_json_are_bounded_and_never_raise(value: Any) -> None:
    found = list(paths({"root": value}))
    assert all(p.startswith("root") for p in found)
    assert all(p.count(".") + p.count("[]") <= drift.MAX_DEPTH for p in found)


def test_a_required_field_must_be_known() -> None:
    with pytest.raises(ValueError, match="not known"):
        Schema({"a"}, required={"b"})


def test_unmapped_paths_log_once_each_and_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drift, "MAX_PATHS", 3)
    registry = CollectorRegistry()
    ledger = FieldDrift(registry)
    schema = Schema({"day"}, required={"day"})
    with capture_logs() as logs:
        for _ in range(3):  # three runs, many records each: still one line per new path
            check = schema.check()
            for i in range(50):
                check.record({"day": "x", "new": i, "also": {"deep": i}})
            ledger.report("demo", "records", check)
    assert [e["field"] for e in logs] == ["also.deep", "new"]
    assert all(e["log_level"] == "warning" for e in logs)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"collector": "demo", **labels})

    assert value("github_exporter_unmapped_fields", field="new") == 1
    assert value("github_exporter_unmapped_fields", field="also.deep") == 1
    check = schema.check()
    check.record({"day": "x", **{f"f{i}": 1 for i in range(5)}})
    ledger.report("demo", "records", check)
    kept = [f"f{i}" for i in range(5) if value("github_exporter_unmapped_fields", field=f"f{i}") == 1]
    assert kept == ["f0"], "three paths at most per collector"
    assert value("github_exporter_unmapped_fields_dropped_total") == 4
    ledger.report("demo", "records", check)  # the same excess again is not counted again
    assert value("github_exporter_unmapped_fields_dropped_total") == 4


def test_csv_columns_are_paths_too() -> None:
    check = Schema({"date", "sku", "quantity"}, required={"date", "quantity"}).check()
    check.columns(["date", "sku", "quantity_used", "model"])
    assert check.unmapped == {"quantity_used", "model"}
    assert check.missing == {"quantity"}


def test_missing_shows_while_the_field_stays_away_and_goes_when_it_returns() -> None:
    registry = CollectorRegistry()
    ledger = FieldDrift(registry)
    schema = Schema({"day", "count"}, required={"day", "count"})

    def run(*records: dict[str, Any]) -> float | None:
        check = schema.check()
        for record in records:
            check.record(record)
        ledger.report("demo", "records", check)
        return registry.get_sample_value("github_exporter_missing_fields", {"collector": "demo", "field": "count"})

    assert run({"day": 1, "count": 2}) is None
    assert run({"day": 1}, {"day": 2, "count": 0}) is None, "one record carrying it is enough"
    assert run({"day": 1}, {"day": 2}) == 1
    assert run() == 1, "a run without records says nothing"
    assert run({"day": 1, "count": None}) is None, "null is carried: the field arrived"


def test_two_targets_missing_the_same_field_clear_it_only_when_both_have_it_back() -> None:
    registry = CollectorRegistry()
    ledger = FieldDrift(registry)
    schema = Schema({"day", "count"}, required={"count"})

    def run(kind: str, record: dict[str, Any]) -> float | None:
        check = schema.check()
        check.record(record)
        ledger.report("demo", kind, check)
        return registry.get_sample_value("github_exporter_missing_fields", {"collector": "demo", "field": "count"})

    assert run("a", {"day": 1}) == 1
    assert run("b", {"day": 1, "count": 1}) == 1, "b having it does not clear a's signal"
    assert run("b", {"day": 1}) == 1
    assert run("a", {"day": 1, "count": 1}) == 1, "b still lacks it"
    assert run("b", {"day": 1, "count": 1}) is None
