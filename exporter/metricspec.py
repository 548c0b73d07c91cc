"""Metric definitions as data: one place that names, types, labels and documents each metric.

Collectors build their families from these specs, and `python -m exporter.docs`
renders the same specs as docs/metrics.md, so the reference cannot drift from
the code. HELP text ends with the GitHub endpoint and field the value comes from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

Kind = Literal["gauge", "counter"]

REGISTERED: list[MetricSpec] = []


@dataclass(frozen=True)
class MetricSpec:
    family: str  # collector name, for grouping in the docs
    name: str  # without the _total a counter gets on exposition
    kind: Kind
    description: str
    labels: tuple[str, ...]
    source: str  # "GET /orgs/{org}/insights/api/time-stats: total_request_count"

    @property
    def help(self) -> str:
        return f"{self.description} Source: {self.source}."

    @property
    def exposed_name(self) -> str:
        return f"{self.name}_total" if self.kind == "counter" else self.name

    def new(self) -> CounterMetricFamily | GaugeMetricFamily:
        """An empty family to add samples to."""
        if self.kind == "counter":
            return CounterMetricFamily(self.name, self.help, labels=list(self.labels))
        return GaugeMetricFamily(self.name, self.help, labels=list(self.labels))

    def one(self, labels: Sequence[str], value: float) -> CounterMetricFamily | GaugeMetricFamily:
        family = self.new()
        family.add_metric(list(labels), value)
        return family


def metric(family: str, name: str, kind: Kind, description: str, labels: Sequence[str], source: str) -> MetricSpec:
    """Define and register a metric; names must be unique across the exporter.

    `family` is the collector's name; a collector module passes its `__name__`, whose last part it is.
    """
    family = family.rpartition(".")[2]
    if not name.startswith("github_"):
        raise ValueError(f"{name}: every metric starts with github_")
    if kind == "counter" and name.endswith("_total"):
        raise ValueError(f"{name}: give counters their name without _total")
    if kind == "gauge" and name.endswith("_total"):
        raise ValueError(f"{name}: _total is only for counters")
    if any(spec.name == name for spec in REGISTERED):
        raise ValueError(f"{name} is defined twice")
    spec = MetricSpec(family, name, kind, description, tuple(labels), source)
    REGISTERED.append(spec)
    return spec
