"""The exporter's self-metrics: a reload that drops a (collector, target) drops every series labelled by it."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from exporter.telemetry import ExporterMetrics


def _run_families(metrics: ExporterMetrics) -> list[Gauge | Counter]:
    """Every self-metric labelled (collector, target), found from the attributes rather than a hand-kept list."""
    return [
        family for family in vars(metrics).values()
        if isinstance(family, Gauge | Counter) and family._labelnames == ("collector", "target")
    ]


def _targets(registry: CollectorRegistry) -> set[tuple[str, str]]:
    return {
        (sample.labels["collector"], sample.labels["target"])
        for family in registry.collect()
        for sample in family.samples
        if "target" in sample.labels
    }


def test_forget_collector_drops_every_run_series_of_that_target_only() -> None:
    registry = CollectorRegistry()
    metrics = ExporterMetrics(registry)
    families = _run_families(metrics)
    assert len(families) == 6
    for family in families:
        for target in ("octo-demo", "octo-other"):
            child = family.labels("billing", target)
            if isinstance(child, Gauge):
                child.set(1)
            else:
                child.inc()
    assert _targets(registry) == {("billing", "octo-demo"), ("billing", "octo-other")}

    metrics.forget_collector("billing", "octo-demo")
    assert _targets(registry) == {("billing", "octo-other")}
    metrics.forget_collector("billing", "never-seen")  # nothing to drop is not an error
    assert _targets(registry) == {("billing", "octo-other")}
