"""The exporter's own metrics: build info, GitHub API calls, rate limits and collector runs.

They are live prometheus_client objects in the store's registry; the scheduler
marks the exposition stale after every run so a scrape shows their new values.
"""

from __future__ import annotations

import platform

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

from exporter import __version__
from exporter.drift import FieldDrift

# `_created` series double every counter's series count and no exporter in the ecosystem sends them.
disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated

REQUEST_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# The label sets several self-metrics share.
_ENDPOINT = ("endpoint",)
_RATE_LIMIT = ("credential", "resource")
_RUN = ("collector", "target")  # one series per collector run target; a reload that drops the target forgets them


class ExporterMetrics:
    """Every self-metric, created once per registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self._per_run: list[Gauge | Counter] = []
        self.build_info = self._gauge(
            "github_exporter_build_info",
            "A metric with a constant '1' value labelled by version and Python version of the exporter.",
            ("version", "python_version"),
        )
        self.build_info.labels(__version__, platform.python_version()).set(1)

        # GitHub API client.
        self.api_requests = self._counter(
            "github_exporter_api_requests",
            "HTTP requests sent to the GitHub API, by route template.",
            _ENDPOINT,
        )
        self.api_failures = self._counter(
            "github_exporter_api_request_failures",
            "GitHub API requests that failed (transport error, unreadable body, or an HTTP status of 400 or more), "
            "by route template.",
            _ENDPOINT,
        )
        self.api_not_modified = self._counter(
            "github_exporter_api_not_modified_responses",
            "304 Not Modified answers to conditional requests; the cached body was reused "
            "and no primary rate limit was spent.",
            _ENDPOINT,
        )
        self.api_duration = Histogram(
            "github_exporter_api_request_duration_seconds",
            "Time from sending a GitHub API request to reading its whole response, by route template.",
            _ENDPOINT,
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.api_rate_limit_waits = self._counter(
            "github_exporter_api_rate_limit_waits",
            "Times the client paused because GitHub said a primary or secondary rate limit was reached.",
            ("kind",),
        )
        self.rate_limit_remaining = self._gauge(
            "github_rate_limit_remaining",
            "Requests left in the current rate-limit window (x-ratelimit-remaining), by credential (token, or "
            "installation:OWNER for a GitHub App's installation on a configured owner) and x-ratelimit-resource.",
            _RATE_LIMIT,
        )
        self.rate_limit_limit = self._gauge(
            "github_rate_limit_limit",
            "Requests allowed per rate-limit window (x-ratelimit-limit), by credential (token, or "
            "installation:OWNER) and x-ratelimit-resource.",
            _RATE_LIMIT,
        )
        self.rate_limit_reset = self._gauge(
            "github_rate_limit_reset_timestamp_seconds",
            "When the current rate-limit window resets (x-ratelimit-reset), by credential and x-ratelimit-resource.",
            _RATE_LIMIT,
        )

        self.api_truncated_listings = self._counter(
            "github_exporter_api_truncated_listings",
            "Paginated listings that stopped at github.max_pages with more pages left (Link rel=\"next\"): "
            "the data from them is incomplete.",
            _ENDPOINT,
        )
        self.parse_errors = self._counter(
            "github_exporter_parse_errors",
            "Rows of a GitHub answer that could not be read (e.g. a timestamp that is not ISO 8601) and were "
            "skipped; the rest of the run was kept.",
            ("collector", "endpoint"),
        )
        self.drift = FieldDrift(registry)  # github_exporter_unmapped_fields, github_exporter_missing_fields

        # Collector runs.
        self.collector_success = self._gauge(
            "github_exporter_collector_success",
            "1 if the last run of the collector for this target succeeded, 0 if it failed.",
            _RUN,
        )
        self.collector_duration = self._gauge(
            "github_exporter_collector_duration_seconds",
            "How long the last run of the collector for this target took.",
            _RUN,
        )
        self.collector_last_success = self._gauge(
            "github_exporter_collector_last_success_timestamp_seconds",
            "When the collector last finished a successful run for this target; its metrics are cached from then.",
            _RUN,
        )
        self.collector_interval = self._gauge(
            "github_exporter_collector_interval_seconds",
            "Configured interval between runs of the collector for this target (collectors.NAME.interval).",
            _RUN,
        )
        self.planned_requests = self._gauge(
            "github_exporter_planned_requests_per_hour",
            "GitHub requests per hour the collectors plan on average at their effective intervals, by credential "
            "(token, or installation:OWNER). Intervals are stretched at start-up until the busiest hour fits "
            "github.rate_limit_budget of each credential's hourly limit (5,000 unless a larger one was seen). "
            "Sizes known only at run time (pages, repositories) follow the last run.",
            ("credential",),
        )
        self.collector_runs = self._counter(
            "github_exporter_collector_runs",
            "Runs of the collector for this target, successful or not.",
            _RUN,
        )
        self.collector_failures = self._counter(
            "github_exporter_collector_failures",
            "Runs of the collector for this target that failed; the last good data is kept until store.max_age.",
            _RUN,
        )

        # Configuration reloads (SIGHUP, POST /-/reload), as Prometheus reports its own.
        self.config_last_reload_successful = self._gauge(
            "github_exporter_config_last_reload_successful",
            "1 if the last configuration reload succeeded (or none was tried), 0 if the file was refused.",
        )
        self.config_last_reload_success = self._gauge(
            "github_exporter_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully, at start-up or by a reload.",
        )
        self.config_last_reload_successful.set(1)
        self.config_last_reload_success.set_to_current_time()

    def _gauge(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
        gauge = Gauge(name, documentation, labels, registry=self._registry)
        if labels == _RUN:
            self._per_run.append(gauge)
        return gauge

    def _counter(self, name: str, documentation: str, labels: tuple[str, ...]) -> Counter:
        counter = Counter(name, documentation, labels, registry=self._registry)
        if labels == _RUN:
            self._per_run.append(counter)
        return counter

    def forget_collector(self, name: str, target: str) -> None:
        """Drop the series of a (collector, target) that a reload removed: every family labelled by _RUN."""
        for family in self._per_run:
            try:
                family.remove(name, target)
            except KeyError:
                pass


def register_runtime_metrics(registry: CollectorRegistry) -> None:
    """process_* and python_* metrics, as every Prometheus client serves by default.

    --web.disable-exporter-metrics leaves them out, as in node_exporter.
    """
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)

