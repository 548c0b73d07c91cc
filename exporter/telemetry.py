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


class ExporterMetrics:
    """Every self-metric, created once per registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.build_info = Gauge(
            "github_exporter_build_info",
            "A metric with a constant '1' value labelled by version and Python version of the exporter.",
            ["version", "python_version"],
            registry=registry,
        )
        self.build_info.labels(__version__, platform.python_version()).set(1)

        # GitHub API client.
        self.api_requests = Counter(
            "github_exporter_api_requests",
            "HTTP requests sent to the GitHub API, by route template.",
            ["endpoint"],
            registry=registry,
        )
        self.api_failures = Counter(
            "github_exporter_api_request_failures",
            "GitHub API requests that failed (transport error, unreadable body, or an HTTP status of 400 or more), "
            "by route template.",
            ["endpoint"],
            registry=registry,
        )
        self.api_not_modified = Counter(
            "github_exporter_api_not_modified_responses",
            "304 Not Modified answers to conditional requests; the cached body was reused "
            "and no primary rate limit was spent.",
            ["endpoint"],
            registry=registry,
        )
        self.api_duration = Histogram(
            "github_exporter_api_request_duration_seconds",
            "Time from sending a GitHub API request to reading its whole response, by route template.",
            ["endpoint"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.api_rate_limit_waits = Counter(
            "github_exporter_api_rate_limit_waits",
            "Times the client paused because GitHub said a primary or secondary rate limit was reached.",
            ["kind"],
            registry=registry,
        )
        self.rate_limit_remaining = Gauge(
            "github_rate_limit_remaining",
            "Requests left in the current rate-limit window (x-ratelimit-remaining), by credential (token, or "
            "installation:OWNER for a GitHub App's installation on a configured owner) and x-ratelimit-resource.",
            ["credential", "resource"],
            registry=registry,
        )
        self.rate_limit_limit = Gauge(
            "github_rate_limit_limit",
            "Requests allowed per rate-limit window (x-ratelimit-limit), by credential (token, or "
            "installation:OWNER) and x-ratelimit-resource.",
            ["credential", "resource"],
            registry=registry,
        )
        self.rate_limit_reset = Gauge(
            "github_rate_limit_reset_timestamp_seconds",
            "When the current rate-limit window resets (x-ratelimit-reset), by credential and x-ratelimit-resource.",
            ["credential", "resource"],
            registry=registry,
        )

        self.api_truncated_listings = Counter(
            "github_exporter_api_truncated_listings",
            "Paginated listings that stopped at github.max_pages with more pages left (Link rel=\"next\"): "
            "the data from them is incomplete.",
            ["endpoint"],
            registry=registry,
        )
        self.parse_errors = Counter(
            "github_exporter_parse_errors",
            "Rows of a GitHub answer that could not be read (e.g. a timestamp that is not ISO 8601) and were "
            "skipped; the rest of the run was kept.",
            ["collector", "endpoint"],
            registry=registry,
        )
        self.drift = FieldDrift(registry)  # github_exporter_unmapped_fields, github_exporter_missing_fields

        # Collector runs.
        self.collector_success = Gauge(
            "github_exporter_collector_success",
            "1 if the last run of the collector for this target succeeded, 0 if it failed.",
            ["collector", "target"],
            registry=registry,
        )
        self.collector_duration = Gauge(
            "github_exporter_collector_duration_seconds",
            "How long the last run of the collector for this target took.",
            ["collector", "target"],
            registry=registry,
        )
        self.collector_last_success = Gauge(
            "github_exporter_collector_last_success_timestamp_seconds",
            "When the collector last finished a successful run for this target; its metrics are cached from then.",
            ["collector", "target"],
            registry=registry,
        )
        self.collector_interval = Gauge(
            "github_exporter_collector_interval_seconds",
            "Configured interval between runs of the collector for this target (collectors.NAME.interval).",
            ["collector", "target"],
            registry=registry,
        )
        self.planned_requests = Gauge(
            "github_exporter_planned_requests_per_hour",
            "GitHub requests per hour the collectors plan on average at their effective intervals, by credential "
            "(token, or installation:OWNER). Intervals are stretched at start-up until the busiest hour fits "
            "github.rate_limit_budget of each credential's hourly limit (5,000 unless a larger one was seen). "
            "Sizes known only at run time (pages, repositories) follow the last run.",
            ["credential"],
            registry=registry,
        )
        self.collector_runs = Counter(
            "github_exporter_collector_runs",
            "Runs of the collector for this target, successful or not.",
            ["collector", "target"],
            registry=registry,
        )
        self.collector_failures = Counter(
            "github_exporter_collector_failures",
            "Runs of the collector for this target that failed; the last good data is kept until store.max_age.",
            ["collector", "target"],
            registry=registry,
        )

        # Configuration reloads (SIGHUP, POST /-/reload), as Prometheus reports its own.
        self.config_last_reload_successful = Gauge(
            "github_exporter_config_last_reload_successful",
            "1 if the last configuration reload succeeded (or none was tried), 0 if the file was refused.",
            registry=registry,
        )
        self.config_last_reload_success = Gauge(
            "github_exporter_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully, at start-up or by a reload.",
            registry=registry,
        )
        self.config_last_reload_successful.set(1)
        self.config_last_reload_success.set_to_current_time()

    def forget_collector(self, name: str, target: str) -> None:
        """Drop the series of a (collector, target) that a reload removed."""
        for family in (
            self.collector_success,
            self.collector_duration,
            self.collector_last_success,
            self.collector_interval,
            self.collector_runs,
            self.collector_failures,
        ):
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

