"""The fast encoder writes exactly what prometheus_client writes, in text 0.0.4 and OpenMetrics 1.0."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram, Info, Summary
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    StateSetMetricFamily,
    SummaryMetricFamily,
    UnknownMetricFamily,
)
from prometheus_client.exposition import generate_latest as text_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as om_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.samples import Exemplar

from exporter.exposition import assemble, go_float
from exporter.store import encode_families, merge_families
from exporter.telemetry import ExporterMetrics
from tests.tools import promtool_check_metrics

AWKWARD = ['plain', 'quo"te', "back\\slash", "new\nline", "ünïcødé ✓ 日本", "", 'all \\ " \n of them', "{}=,"]
VALUES = [0, 1, -1, 0.5, 1e-7, 123456.0, 1234567.0, 1e16, 2.0**53, -2.5e22, math.inf, -math.inf, math.nan, 7, True]


class Frozen:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def reference(families: list[Metric]) -> tuple[bytes, bytes]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Frozen(merge_families(families)))
    return text_latest(registry), om_latest(registry)


def ours(families: list[Metric]) -> tuple[bytes, bytes]:
    parts = encode_families(families)
    return b"".join(assemble(parts, openmetrics=False)), b"".join(assemble(parts, openmetrics=True))


def assert_identical(families: list[Metric]) -> None:
    expected_text, expected_om = reference(families)
    text, om = ours(families)
    assert text.decode() == expected_text.decode()
    assert om.decode() == expected_om.decode()


def awkward_families(org: str) -> list[Metric]:
    awkward_help = 'Help with "quotes", back\\slash and\nnewline ✓.'
    gauge = GaugeMetricFamily("github_test_level", awkward_help, labels=["org", "v"])
    counter = CounterMetricFamily("github_test_requests", "Requests.", labels=["v", "org", "a_b"])
    for i, value in enumerate(AWKWARD):
        gauge.add_metric([org, value], VALUES[i % len(VALUES)])
        counter.add_metric([value, org, str(i)], i * 1.5)
    values = GaugeMetricFamily("github_test_values", "Every kind of float.", labels=["org", "i"])
    for i, v in enumerate(VALUES):
        values.add_metric([org, str(i)], v)
    info = InfoMetricFamily("github_test", "Info.", labels=["org"])
    info.add_metric([org], {"version": 'v"1\\', "name": "ünï\n"})
    suffix = "".join(ch for ch in org if ch.isalnum())
    unlabelled = GaugeMetricFamily(f"github_test_unlabelled_org{suffix}", "No labels.", value=3)
    unit = GaugeMetricFamily("github_test_size_bytes", "With a unit.", labels=["org"], unit="bytes")
    unit.add_metric([org], 10)
    untyped = UnknownMetricFamily("github_test_misc", "Unknown.", labels=["org"])
    untyped.add_metric([org], 1)
    return [gauge, counter, values, info, unlabelled, unit, untyped]


def test_awkward_label_values_help_and_floats() -> None:
    assert_identical(awkward_families("octo"))


def test_families_shared_by_several_snapshots_are_grouped() -> None:
    assert_identical(awkward_families("a") + awkward_families("b") + awkward_families('c"'))


def test_histograms_summaries_statesets_and_created_samples() -> None:
    histogram = HistogramMetricFamily("github_test_latency_seconds", "H.", labels=["org"])
    histogram.add_metric(["a"], [("0.1", 1), ("1.0", 3), ("+Inf", 4)], sum_value=2.5)
    gauge_histogram = GaugeHistogramMetricFamily("github_test_queue", "GH.", labels=["org"])
    gauge_histogram.add_metric(["a"], [("1.0", 1), ("+Inf", 2)], gsum_value=3)
    summary = SummaryMetricFamily("github_test_summary", "S.", labels=["org"])
    summary.add_metric(["a"], count_value=2, sum_value=1.5)
    stateset = StateSetMetricFamily("github_test_state", "States.", labels=["org"])
    stateset.add_metric(["a"], {"on": True, "off": False})
    counter = CounterMetricFamily("github_test_made", "With created.", labels=["org"], created=1700000000.5)
    counter.add_metric(["b"], 2, created=1700000001.0)
    assert_identical([histogram, gauge_histogram, summary, stateset, counter])
    second = GaugeHistogramMetricFamily("github_test_queue", "GH.", labels=["org"])
    second.add_metric(["b"], [("+Inf", 5)], gsum_value=7)
    assert_identical([gauge_histogram, counter, second])


def test_timestamps_exemplars_and_odd_names() -> None:
    stamped = GaugeMetricFamily("github_test_stamped", "T.", labels=["org"])
    stamped.add_metric(["a"], 1, timestamp=1700000000.123)
    with_exemplar = CounterMetricFamily("github_test_ex", "E.", labels=["org"])
    with_exemplar.add_sample("github_test_ex_total", {"org": "a"}, 3, exemplar=Exemplar({"trace": 'x"'}, 1.0, 12.5))
    colon = GaugeMetricFamily("github:test_colon", "Colon in name.", labels=["org"])
    colon.add_metric(["a"], 1)
    assert_identical([stamped, with_exemplar, colon])


def test_self_metrics_from_telemetry() -> None:
    registry = CollectorRegistry(auto_describe=True)
    metrics = ExporterMetrics(registry)
    metrics.api_requests.labels("/orgs/{org}/insights/api/routes").inc(3)
    metrics.api_duration.labels('/weird"endpoint\\').observe(0.3)
    metrics.api_duration.labels("/x").observe(100)
    metrics.rate_limit_remaining.labels("installation:octo", "core").set(math.nan)
    metrics.collector_success.labels("api_insights", "octo").set(1)
    families = list(registry.collect())
    assert_identical(families)


def test_prometheus_client_metric_objects() -> None:
    registry = CollectorRegistry(auto_describe=True)
    Counter("github_test_c", "C.", ["a"], registry=registry).labels("x\n").inc()
    Gauge("github_test_g", "G.", registry=registry).set(-0.0)
    Histogram("github_test_h_seconds", "H.", registry=registry).observe(1e-9)
    Summary("github_test_s", "S.", registry=registry).observe(5)
    Info("github_test_i", "I.", registry=registry).info({"k": "v"})
    Enum("github_test_e", "E.", states=["a", "b"], registry=registry).state("b")
    assert_identical(list(registry.collect()))


@pytest.mark.parametrize("value", VALUES + [1e300, 5e-324, 999999.5, 1234567.125, 0.1 + 0.2, -1e16])
def test_go_float_matches_prometheus_client(value: float) -> None:
    from prometheus_client.utils import floatToGoString

    assert go_float(value) == floatToGoString(value)


def test_promtool_accepts_the_text_format_and_openmetrics_parses() -> None:
    histogram = HistogramMetricFamily("github_test_latency_seconds", "H.", labels=["org"])
    histogram.add_metric(["a"], [("0.1", 1), ("+Inf", 4)], sum_value=2.5)
    text, om = ours(awkward_families("a") + awkward_families("b") + [histogram])
    promtool_check_metrics(text)
    # promtool reads text 0.0.4 only; prometheus_client's strict OpenMetrics parser checks the other format.
    parsed = list(text_string_to_metric_families(om.decode()))
    assert sum(len(f.samples) for f in parsed) == sum(1 for line in om.splitlines() if not line.startswith(b"#"))


def test_samples_of_one_family_with_different_label_names() -> None:
    mixed = Metric("github_test_mixed", "Label sets vary.", "gauge")
    mixed.add_sample("github_test_mixed", {"org": "a", "team": "t"}, 1)
    mixed.add_sample("github_test_mixed", {"org": "a", "repo": "r"}, 2)
    mixed.add_sample("github_test_mixed", {"org": "b"}, 3)
    mixed.add_sample("github_test_mixed", {}, 4)
    mixed.add_sample("github_test_mixed", {"team": "u", "org": "c"}, 5)
    assert_identical([mixed])
