"""docs/metrics.md is generated from the code; this fails when the two differ."""

from pathlib import Path

from exporter.docs import render
from exporter.metricspec import REGISTERED

DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"


def test_metric_reference_matches_code() -> None:
    assert DOC.read_text() == render(), "docs/metrics.md is stale: run `python -m exporter.docs > docs/metrics.md`"


def test_every_spec_names_its_source_and_follows_naming_rules() -> None:
    assert REGISTERED
    for spec in REGISTERED:
        assert spec.source, spec.name
        assert spec.name == spec.name.lower() and " " not in spec.name
        if spec.name.endswith(("_timestamp", "_time")):
            raise AssertionError(f"{spec.name}: times end in _timestamp_seconds")
        if spec.kind == "gauge" and spec.name.endswith("_count"):
            raise AssertionError(f"{spec.name}: use a counter or drop _count")
