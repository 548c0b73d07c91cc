"""API Insights for an organization: who calls GitHub's API, how much, and how often they are rate limited.

Source: GET /orgs/{org}/insights/api/* (API Insights, "API Insights" org permission: read).

    # HELP github_api_insights_requests_total API requests made in the org ... (time-stats total_request_count)
    # TYPE github_api_insights_requests_total counter
    github_api_insights_requests_total{org="octo-demo"} 1234
    # HELP github_api_insights_rate_limited_requests_total ... (time-stats rate_limited_request_count)
    # TYPE github_api_insights_rate_limited_requests_total counter
    # HELP github_api_insights_data_latest_timestamp_seconds Start of the newest time-stats bucket that holds data ...
    # TYPE github_api_insights_data_latest_timestamp_seconds gauge
    # HELP github_api_insights_window_requests ... (summary-stats total_request_count over collectors.api_insights.summary_window)
    # TYPE github_api_insights_window_requests gauge
    # HELP github_api_insights_window_rate_limited_requests ...
    # TYPE github_api_insights_window_rate_limited_requests gauge
    # HELP github_api_insights_window_seconds Length of the trailing window the summary gauges cover.
    # TYPE github_api_insights_window_seconds gauge

The counters come from time-stats buckets through LateDataCounter: late data is
counted once, and the first run after start-up is a baseline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client.metrics_core import Metric

from exporter.collectors.base import Collector, HistoricalSample
from exporter.collectors.late_data import LateDataCounter
from exporter.github.client import GitHubClient
from exporter.github.errors import MalformedResponseError
from exporter.metricspec import metric
from exporter.settings import ApiInsightsSettings, Settings, parse_duration

FAMILY = "api_insights"
TIME_STATS = "/orgs/{org}/insights/api/time-stats"
SUMMARY_STATS = "/orgs/{org}/insights/api/summary-stats"

REQUESTS = metric(
    FAMILY, "github_api_insights_requests", "counter",
    "API requests made in the org; each time bucket's late-arriving growth is counted once, the first run after start-up is a baseline.",
    ["org"], f"GET {TIME_STATS}: total_request_count",
)
RATE_LIMITED = metric(
    FAMILY, "github_api_insights_rate_limited_requests", "counter",
    "API requests in the org that were rate limited; late data counted once, the first run is a baseline.",
    ["org"], f"GET {TIME_STATS}: rate_limited_request_count",
)
DATA_LATEST = metric(
    FAMILY, "github_api_insights_data_latest_timestamp_seconds", "gauge",
    "Start of the newest time bucket that holds any requests; time() minus this is GitHub's reporting lag.",
    ["org"], f"GET {TIME_STATS}: timestamp",
)
SUMMARY_REQUESTS = metric(
    FAMILY, "github_api_insights_window_requests", "gauge",
    "API requests in the org over the trailing collectors.api_insights.summary_window.",
    ["org"], f"GET {SUMMARY_STATS}: total_request_count",
)
SUMMARY_RATE_LIMITED = metric(
    FAMILY, "github_api_insights_window_rate_limited_requests", "gauge",
    "Rate-limited API requests in the org over the trailing summary window.",
    ["org"], f"GET {SUMMARY_STATS}: rate_limited_request_count",
)
SUMMARY_WINDOW = metric(
    FAMILY, "github_api_insights_window_seconds", "gauge",
    "Length of the trailing window the github_api_insights_window_* request gauges cover.",
    ["org"], "configuration collectors.api_insights.summary_window",
)


def iso(ts: float) -> str:
    """GitHub's timestamp format for API Insights queries: YYYY-MM-DDTHH:MM:SSZ."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any, field: str, endpoint: str) -> float:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise MalformedResponseError(f"{endpoint}: {field} {value!r} is not a timestamp", endpoint=endpoint) from None


def count(item: dict[str, Any], field: str, endpoint: str) -> float:
    value = item.get(field)
    if value is None:
        return 0.0
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise MalformedResponseError(f"{endpoint}: {field} {value!r} is not a number", endpoint=endpoint)
    return float(value)


def time_buckets(data: Any, endpoint: str) -> list[tuple[float, float, float]]:
    """(bucket start, total, rate limited) from a time-stats answer."""
    if not isinstance(data, list):
        raise MalformedResponseError(f"{endpoint}: expected a list of buckets", endpoint=endpoint)
    buckets = []
    for item in data:
        if not isinstance(item, dict):
            raise MalformedResponseError(f"{endpoint}: bucket is not an object", endpoint=endpoint)
        start = parse_time(item.get("timestamp"), "timestamp", endpoint)
        buckets.append((start, count(item, "total_request_count", endpoint), count(item, "rate_limited_request_count", endpoint)))
    return buckets


class RequestCounters:
    """The pair of late-data counters (all requests, rate-limited ones) for one series."""

    def __init__(self) -> None:
        self.requests = LateDataCounter()
        self.rate_limited = LateDataCounter()

    def observe(self, buckets: list[tuple[float, float, float]], window_start: float) -> None:
        self.requests.observe(((s, t) for s, t, _ in buckets), window_start)
        self.rate_limited.observe(((s, r) for s, _, r in buckets), window_start)


class ApiInsightsCollector(Collector):
    """One org: time-stats feed the request counters, summary-stats the window gauges."""

    name = "api_insights"

    def __init__(self, client: GitHubClient, settings: Settings, target: str, clock: Callable[[], float] = time.time) -> None:
        super().__init__(client, settings, target)
        self.options: ApiInsightsSettings = settings.collectors.api_insights  # typed for this family
        self._clock = clock
        self._org_counters = RequestCounters()
        self._latest_data: float | None = None

    @classmethod
    def targets(cls, settings: Settings) -> list[str]:
        return list(settings.targets.orgs)

    def _window_start(self, now: float) -> float:
        step = parse_duration(self.options.timestamp_increment)
        return math.floor((now - self.options.lookback) / step) * step

    async def _time_stats(self, route: str, window_start: float, window_end: float | None = None, **path: Any) -> list[tuple[float, float, float]]:
        params = {"min_timestamp": iso(window_start), "timestamp_increment": self.options.timestamp_increment}
        if window_end is not None:
            params["max_timestamp"] = iso(window_end)
        response = await self.client.get(route, family=FAMILY, params=params, org=self.target, **path)
        return time_buckets(response.data if response.data is not None else [], route)

    async def _summary(self, route: str, now: float, **path: Any) -> tuple[float, float]:
        response = await self.client.get(
            route,
            family=FAMILY,
            params={"min_timestamp": iso(now - self.options.summary_window), "max_timestamp": iso(now)},
            org=self.target,
            **path,
        )
        data = response.data or {}
        if not isinstance(data, dict):
            raise MalformedResponseError(f"{route}: expected an object", endpoint=route)
        return count(data, "total_request_count", route), count(data, "rate_limited_request_count", route)

    async def collect(self) -> list[Metric]:
        now = self._clock()
        window_start = self._window_start(now)
        buckets = await self._time_stats(TIME_STATS, window_start)
        summary_total, summary_limited = await self._summary(SUMMARY_STATS, now)

        self._org_counters.observe(buckets, window_start)
        with_data = [start for start, total, _ in buckets if total > 0]
        if with_data:
            self._latest_data = max(with_data + ([self._latest_data] if self._latest_data else []))

        org = self.target
        families: list[Metric] = [
            REQUESTS.one([org], self._org_counters.requests.total),
            RATE_LIMITED.one([org], self._org_counters.rate_limited.total),
            SUMMARY_REQUESTS.one([org], summary_total),
            SUMMARY_RATE_LIMITED.one([org], summary_limited),
            SUMMARY_WINDOW.one([org], self.options.summary_window),
        ]
        if self._latest_data is not None:
            families.append(DATA_LATEST.one([org], self._latest_data))
        return families

    async def history(self, start: float, end: float) -> list[HistoricalSample]:
        """The org counters as they would have read at the end of each bucket since `start`."""
        step = parse_duration(self.options.timestamp_increment)
        aligned = math.floor(start / step) * step
        buckets = sorted(await self._time_stats(TIME_STATS, aligned, end))
        samples: list[HistoricalSample] = []
        requests = limited = 0.0
        labels = (self.target,)
        for bucket_start, total, rate_limited in buckets:
            requests += total
            limited += rate_limited
            at = bucket_start + step
            if start <= at <= end:
                samples.append(HistoricalSample(REQUESTS, labels, requests, at))
                samples.append(HistoricalSample(RATE_LIMITED, labels, limited, at))
        return samples
