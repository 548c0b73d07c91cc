#!/usr/bin/env python3
"""Write deploy/grafana/dashboards/*.json, the Grafana dashboards of github-insights-exporter.

The dashboards are defined here, in one place, so that every panel gets the
same datasource variable, descriptions, units and layout rules; the JSON files
are the artifact that Grafana provisions or imports (Grafana 10 and 11).

    python3 deploy/grafana/generate-dashboards.py           # rewrite the files
    python3 deploy/grafana/generate-dashboards.py --check   # exit 1 if one is out of date

Conventions (tests/deploy/test_dashboards.py checks them):
* every panel, query and template variable uses the `datasource` variable
  (type prometheus); no datasource uid is written into a dashboard;
* per-org (per-enterprise) figures are `max by (org)`, as in the recording
  rules, so identical HA replicas are counted once;
* ratios are 0-1 with unit percentunit, durations in seconds, money in USD;
* counters that step once per collector run (5m by default) are graphed on
  panels with a 5m minimum interval, so `$__rate_interval` spans a run.

Needs only the standard library.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OUTPUT_DIR = HERE / "dashboards"

TAG = "github-insights-exporter"
SCHEMA_VERSION = 39  # Grafana 10.4 / 11.x
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
COLLECTOR_INTERVAL = "5m"  # collectors.NAME.interval's default

GREEN, YELLOW, ORANGE, RED, BLUE = "green", "yellow", "orange", "red", "blue"

Json = dict[str, Any]


# -- queries and panels ------------------------------------------------------------------------

def query(expr: str, legend: str = "", *, instant: bool = False, table: bool = False) -> Json:
    """A Prometheus query; refIds are given by the panel."""
    target: Json = {"datasource": DATASOURCE, "editorMode": "code", "expr": expr, "legendFormat": legend or "__auto"}
    if table:
        target["format"] = "table"
    target["instant"] = instant or table
    target["range"] = not (instant or table)
    return target


def steps(*pairs: tuple[str, float | None]) -> Json:
    """Absolute thresholds: (colour, from value); the first has no lower bound."""
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in pairs]}


BASE = steps((GREEN, None))


def _panel(kind: str, title: str, description: str, targets: Sequence[Json], *, w: int, h: int,
           defaults: Json, options: Json, interval: str | None = None, **extra: Any) -> Json:
    panel: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"h": h, "w": w, "x": 0, "y": 0},
        "fieldConfig": {"defaults": defaults, "overrides": extra.pop("overrides", [])},
        "options": options,
        "targets": [{**t, "refId": chr(ord("A") + i)} for i, t in enumerate(targets)],
    }
    if interval:
        panel["interval"] = interval
    panel.update(extra)
    return panel


def timeseries(title: str, description: str, targets: Sequence[Json], unit: str, *, w: int = 12, h: int = 8,
               thresholds: Json | None = None, threshold_line: bool = False, minimum: float | None = 0,
               maximum: float | None = None, interval: str | None = None, stack: bool = False,
               calcs: Sequence[str] = ("mean", "max", "lastNotNull"), **extra: Any) -> Json:
    custom: Json = {
        "drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never", "spanNulls": False,
        "axisSoftMin": minimum, "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "thresholdsStyle": {"mode": "dashed" if threshold_line else "off"},
    }
    if minimum is None:
        del custom["axisSoftMin"]
    defaults: Json = {"unit": unit, "custom": custom, "color": {"mode": "palette-classic"},
                      "thresholds": thresholds or BASE}
    if maximum is not None:
        defaults["max"] = maximum
    options = {
        "legend": {"displayMode": "table", "placement": "bottom", "showLegend": True, "calcs": list(calcs)},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return _panel("timeseries", title, description, targets, w=w, h=h, defaults=defaults, options=options,
                  interval=interval, **extra)


def stat(title: str, description: str, targets: Sequence[Json], unit: str, *, w: int = 6, h: int = 4,
         thresholds: Json | None = None, mappings: Sequence[Json] = (), graph: bool = True,
         text_mode: str = "auto", color_mode: str = "value", decimals: int | None = None,
         interval: str | None = None, **extra: Any) -> Json:
    defaults: Json = {"unit": unit, "color": {"mode": "thresholds"}, "thresholds": thresholds or BASE,
                      "mappings": list(mappings)}
    if decimals is not None:
        defaults["decimals"] = decimals
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "orientation": "auto", "textMode": text_mode, "colorMode": color_mode,
        "graphMode": "area" if graph else "none", "justifyMode": "auto", "wideLayout": True,
    }
    return _panel("stat", title, description, targets, w=w, h=h, defaults=defaults, options=options,
                  interval=interval, **extra)


def state_timeline(title: str, description: str, targets: Sequence[Json], *, mappings: Sequence[Json],
                   w: int = 24, h: int = 6, **extra: Any) -> Json:
    defaults: Json = {"unit": "none", "color": {"mode": "thresholds"}, "thresholds": BASE,
                      "mappings": list(mappings), "custom": {"fillOpacity": 80, "lineWidth": 0}}
    options = {"showValue": "never", "mergeValues": True, "rowHeight": 0.8, "alignValue": "left",
               "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
               "tooltip": {"mode": "single", "sort": "none"}}
    return _panel("state-timeline", title, description, targets, w=w, h=h, defaults=defaults, options=options,
                  **extra)


def table(title: str, description: str, targets: Sequence[Json], columns: Sequence[tuple[str, str, str]],
          *, keep: Sequence[str], w: int = 24, h: int = 8, sort_by: str | None = None,
          thresholds: dict[str, Json] | None = None, mappings: dict[str, Sequence[Json]] | None = None,
          **extra: Any) -> Json:
    """An instant table joining one value column per query on the `keep` labels.

    columns: (field produced by Grafana, e.g. "Value #A"; display name; unit).
    """
    overrides = []
    for field, name, unit in columns:
        properties: list[Json] = [{"id": "displayName", "value": name}, {"id": "unit", "value": unit}]
        if thresholds and field in thresholds:
            properties += [{"id": "thresholds", "value": thresholds[field]},
                           {"id": "custom.cellOptions", "value": {"type": "color-text"}}]
        if mappings and field in mappings:
            properties.append({"id": "mappings", "value": list(mappings[field])})
        overrides.append({"matcher": {"id": "byName", "options": field}, "properties": properties})
    order = {name: i for i, name in enumerate([*keep, *(c[0] for c in columns)])}
    transformations = [
        {"id": "merge", "options": {}},
        {"id": "organize", "options": {"excludeByName": {"Time": True}, "indexByName": order, "renameByName": {}}},
    ]
    options: Json = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
    if sort_by:
        options["sortBy"] = [{"displayName": sort_by, "desc": True}]
    defaults: Json = {"unit": "short", "color": {"mode": "thresholds"}, "thresholds": BASE,
                      "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": False}}
    return _panel("table", title, description, [{**t, "format": "table", "instant": True, "range": False} for t in targets],
                  w=w, h=h, defaults=defaults, options=options, overrides=overrides,
                  transformations=transformations, **extra)


def row(title: str) -> Json:
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "gridPos": {"h": 1, "w": 24, "x": 0, "y": 0}}


def value_map(mapping: dict[str, tuple[str, str]]) -> Json:
    """Value mappings: raw value -> (text, colour)."""
    return {"type": "value", "options": {
        value: {"text": text, "color": color, "index": i} for i, (value, (text, color)) in enumerate(mapping.items())
    }}


# -- template variables ------------------------------------------------------------------------

def datasource_variable() -> Json:
    return {
        "name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
        "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [], "refresh": 1,
        "regex": "", "skipUrlSync": False,
    }


def label_variable(name: str, label: str, selector: str, *, description: str, multi: bool = True) -> Json:
    """A query variable over `label_values(selector, name)`; multi-valued with All by default."""
    definition = f"label_values({selector}, {name})"
    variable: Json = {
        "name": name, "label": label, "description": description, "type": "query",
        "datasource": DATASOURCE, "definition": definition,
        "query": definition,  # Grafana 10/11 turn the classic string into their editor's model
        "refresh": 2, "sort": 1, "regex": "", "hide": 0, "skipUrlSync": False,
        "multi": multi, "includeAll": multi, "options": [],
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if multi else {},
    }
    if multi:
        variable["allValue"] = ".*"
    return variable


# -- dashboards --------------------------------------------------------------------------------

def layout(panels: Iterable[Json]) -> list[Json]:
    """Ids in order and grid positions: panels flow left to right, 24 columns, rows start new lines."""
    placed: list[Json] = []
    x = y = line_height = 0
    for number, panel in enumerate(panels, start=1):
        panel = {"id": number, **panel}
        w, h = panel["gridPos"]["w"], panel["gridPos"]["h"]
        if panel["type"] == "row" or x + w > 24:
            y += line_height
            x = line_height = 0
        panel["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        x += w
        line_height = max(line_height, h)
        if panel["type"] == "row":
            y += h
            x = line_height = 0
        placed.append(panel)
    return placed


def dashboard(uid: str, title: str, description: str, variables: Sequence[Json], panels: Sequence[Json], *,
              annotations: Sequence[Json] = (), time_from: str = "now-24h") -> Json:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG, "github"],
        "editable": True,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": "1m",
        "schemaVersion": SCHEMA_VERSION,
        "style": "dark",
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "version": 1,
        "weekStart": "",
        "links": [{
            "title": "GitHub dashboards", "type": "dashboards", "tags": [TAG], "asDropdown": True,
            "includeVars": False, "keepTime": True, "icon": "external link", "targetBlank": False,
            "tooltip": "", "url": "",
        }],
        "annotations": {"list": list(annotations)},
        "templating": {"list": [datasource_variable(), *variables]},
        "panels": layout(panels),
    }


# -- API usage and rate limiting ---------------------------------------------------------------

ORG = 'org=~"$org"'
RATIO_1H = "org:github_api_insights_rate_limited_requests_per_requests:ratio_rate1h"
SPIKE_RATIO, SPIKE_REQUESTS = 0.05, 100  # GitHubAPIRateLimitedSpike's thresholds (deploy/prometheus/rules)


def api_usage() -> Json:
    org_var = label_variable("org", "Organization", "github_api_insights_requests_total",
                             description="Organizations with API Insights data (targets.orgs).")
    lag_note = ("API Insights data arrives 4-6 hours late: every figure here describes requests made hours "
                "before they were reported.")
    panels = [
        row("Rate limiting"),
        stat("Rate-limited share, last hour",
             "Share of the org's newly reported API requests that GitHub rate limited over the last hour: "
             f"the ratio GitHubAPIRateLimitedSpike evaluates (it fires at {SPIKE_RATIO:.0%} together with "
             f"{SPIKE_REQUESTS} rate-limited requests). {lag_note}",
             [query(f'{RATIO_1H}{{{ORG}}}', "{{org}}")], "percentunit",
             thresholds=steps((GREEN, None), (ORANGE, SPIKE_RATIO / 2), (RED, SPIKE_RATIO)), decimals=1),
        stat("Rate-limited requests, last hour",
             "Rate-limited API requests newly reported for the org over the last hour; the spike alert "
             f"also needs at least {SPIKE_REQUESTS} of them.",
             [query(f"max by (org) (increase(github_api_insights_rate_limited_requests_total{{{ORG}}}[1h]))", "{{org}}")],
             "short", thresholds=steps((GREEN, None), (RED, SPIKE_REQUESTS)), decimals=0),
        stat("Rate-limited share, summary window",
             "Share of the org's API requests that were rate limited over the trailing summary window "
             "(collectors.api_insights.summary_window, 24h by default), from API Insights' summary-stats.",
             [query(f"max by (org) (github_api_insights_window_rate_limited_requests{{{ORG}}})\n/\n"
                    f"(max by (org) (github_api_insights_window_requests{{{ORG}}}) > 0)", "{{org}}")],
             "percentunit", thresholds=steps((GREEN, None), (ORANGE, SPIKE_RATIO / 2), (RED, SPIKE_RATIO)),
             decimals=2),
        stat("API Insights data lag",
             "Age of the newest API Insights time bucket holding any requests. GitHub usually reports 4-6 "
             "hours late; GitHubInsightsDataStale fires above 8 hours.",
             [query(f"time() - max by (org) (github_api_insights_data_latest_timestamp_seconds{{{ORG}}})", "{{org}}")],
             "s", thresholds=steps((GREEN, None), (YELLOW, 6 * 3600), (RED, 8 * 3600))),
        timeseries("Rate-limited share (1h window)",
                   "The spike alert's ratio over time: rate-limited / all newly reported requests over the last "
                   f"hour. The dashed line is the alert's {SPIKE_RATIO:.0%} threshold; red marks on the graphs "
                   "are GitHubAPIRateLimitedSpike firing. " + lag_note,
                   [query(f"{RATIO_1H}{{{ORG}}}", "{{org}}")], "percentunit",
                   thresholds=steps((GREEN, None), (RED, SPIKE_RATIO)), threshold_line=True),
        timeseries("Rate-limited requests per minute",
                   "Rate-limited API requests per minute newly reported for the org, over 15 minutes "
                   "(recording rule org:github_api_insights_rate_limited_requests_per_minute:rate15m).",
                   [query(f"org:github_api_insights_rate_limited_requests_per_minute:rate15m{{{ORG}}}", "{{org}}")],
                   "reqpm"),
        row("Request volume"),
        timeseries("API requests per minute",
                   "All API requests per minute newly reported for the org, over 15 minutes (recording rule "
                   "org:github_api_insights_requests_per_minute:rate15m). " + lag_note,
                   [query(f"org:github_api_insights_requests_per_minute:rate15m{{{ORG}}}", "{{org}}")], "reqpm"),
        timeseries("Requests in the summary window",
                   "All and rate-limited API requests over the trailing summary window (24h by default), "
                   "as GitHub's summary-stats report them.",
                   [query(f"max by (org) (github_api_insights_window_requests{{{ORG}}})", "{{org}} all"),
                    query(f"max by (org) (github_api_insights_window_rate_limited_requests{{{ORG}}})",
                          "{{org}} rate limited")],
                   "short"),
    ]
    spike_annotation = {
        "name": "Rate-limited spike alerts", "enable": True, "hide": False, "iconColor": "red",
        "datasource": DATASOURCE, "expr": f'ALERTS{{alertname="GitHubAPIRateLimitedSpike", alertstate="firing", {ORG}}}',
        "step": "1m", "titleFormat": "GitHubAPIRateLimitedSpike", "textFormat": "org {{org}}",
        "tagKeys": "org,severity", "useValueForTime": False,
    }
    return dashboard(
        "github-api-usage", "GitHub API usage and rate limiting",
        "API Insights per organization: request volume, rate-limited share and the data lag. "
        "From github-insights-exporter and its recording rules.",
        [org_var], panels, annotations=[spike_annotation],
    )


# -- exporter health ---------------------------------------------------------------------------

INSTANCE = 'job=~"$job", instance=~"$instance"'
RUN = f'{INSTANCE}, collector=~"$collector", target=~"$target"'


def _or_zero(counter: str, by: str, window: str = "$__rate_interval") -> str:
    """rate() of a counter that only appears once something happens, or 0 for every endpoint that was called."""
    return (f"sum by ({by}) (rate({counter}{{{INSTANCE}}}[{window}]))\n"
            f"or\nsum by ({by}) (rate(github_exporter_api_requests_total{{{INSTANCE}}}[{window}])) * 0")


def exporter_health() -> Json:
    variables = [
        label_variable("job", "Job", "github_exporter_build_info",
                       description="Prometheus job scraping the exporter."),
        label_variable("instance", "Instance", 'github_exporter_build_info{job=~"$job"}',
                       description="Exporter replicas of the job."),
        label_variable("collector", "Collector", f"github_exporter_collector_success{{{INSTANCE}}}",
                       description="Metric families (collectors) enabled on the instances."),
        label_variable("target", "Target", f'github_exporter_collector_success{{{INSTANCE}, collector=~"$collector"}}',
                       description="Orgs, enterprises and repositories the collectors read."),
    ]
    requests_rate = f"sum by (endpoint) (rate(github_exporter_api_requests_total{{{INSTANCE}}}[$__rate_interval]))"
    per_run = (f"Each collector run sends its requests at once; the panel's {COLLECTOR_INTERVAL} minimum interval "
               "(collectors' default interval) keeps the rate from dropping to zero between runs.")
    outcome = value_map({"1": ("succeeded", GREEN), "0": ("failed", RED)})
    panels = [
        row("Overview"),
        stat("Scrape", "Whether Prometheus reaches the exporter (up). GitHubExporterDown fires after 5 minutes down.",
             [query(f"up{{{INSTANCE}}}", "{{instance}}")], "none", w=4, graph=False,
             thresholds=steps((RED, None), (GREEN, 1)),
             mappings=[value_map({"1": ("up", GREEN), "0": ("down", RED)})]),
        stat("Version", "Exporter version and Python version (github_exporter_build_info).",
             [query(f"github_exporter_build_info{{{INSTANCE}}}", "{{version}} (Python {{python_version}})", instant=True)],
             "none", w=4, graph=False, text_mode="name", color_mode="none"),
        stat("Failing collectors", "Collector/target pairs whose last run failed; their last good data is "
             "served until store.max_age.",
             [query(f"count(github_exporter_collector_success{{{RUN}}} == 0) or vector(0)", "failing")],
             "short", w=4, thresholds=steps((GREEN, None), (RED, 1)), decimals=0),
        stat("Oldest successful run", "Time since the least recent successful run among the selected "
             "collectors and targets. GitHubExporterCollectorStale fires above 1 hour.",
             [query(f"max(time() - github_exporter_collector_last_success_timestamp_seconds{{{RUN}}})", "oldest")],
             "s", w=4, thresholds=steps((GREEN, None), (YELLOW, 900), (RED, 3600))),
        stat("Rate limit left", "Share of each GitHub rate-limit resource the exporter's credentials have left "
             "(x-ratelimit-remaining / x-ratelimit-limit). GitHubExporterTokenRateLimitLow fires below 10%.",
             [query(f"github_rate_limit_remaining{{{INSTANCE}}} / github_rate_limit_limit{{{INSTANCE}}}", "{{resource}}")],
             "percentunit", w=4, thresholds=steps((RED, None), (ORANGE, 0.1), (GREEN, 0.25))),
        stat("Rate-limit waits", "Times the client paused for a primary or secondary rate limit over the "
             "dashboard's time range.",
             [query(f"sum(increase(github_exporter_api_rate_limit_waits_total{{{INSTANCE}}}[$__range])) or vector(0)",
                    "waits", instant=True)],
             "short", w=4, graph=False, thresholds=steps((GREEN, None), (ORANGE, 1)), decimals=0),
        row("Collectors"),
        table("Collector runs",
              "One line per collector and target: outcome of the last run, how long ago the last successful "
              "one was, its duration and the configured interval.",
              [query(f"max by (collector, target) (github_exporter_collector_success{{{RUN}}})"),
               query(f"time() - max by (collector, target) (github_exporter_collector_last_success_timestamp_seconds{{{RUN}}})"),
               query(f"max by (collector, target) (github_exporter_collector_duration_seconds{{{RUN}}})"),
               query(f"max by (collector, target) (github_exporter_collector_interval_seconds{{{RUN}}})")],
              [("Value #A", "Last run", "none"), ("Value #B", "Since last success", "s"),
               ("Value #C", "Duration", "s"), ("Value #D", "Interval", "s")],
              keep=["collector", "target"], h=7,
              thresholds={"Value #A": steps((RED, None), (GREEN, 1)),
                          "Value #B": steps((GREEN, None), (YELLOW, 900), (RED, 3600))},
              mappings={"Value #A": [outcome]}),
        state_timeline("Last run outcome", "Outcome of each collector's last run for each target over time.",
                       [query(f"max by (collector, target) (github_exporter_collector_success{{{RUN}}})",
                              "{{collector}} {{target}}")],
                       mappings=[outcome]),
        timeseries("Time since last successful run",
                   "Age of each collector's cached data. The dashed line is GitHubExporterCollectorStale's 1 hour; "
                   "data is dropped at store.max_age (3h by default).",
                   [query(f"time() - max by (collector, target) (github_exporter_collector_last_success_timestamp_seconds{{{RUN}}})",
                          "{{collector}} {{target}}")],
                   "s", thresholds=steps((GREEN, None), (RED, 3600)), threshold_line=True),
        timeseries("Run duration", "How long each collector's last run took, GitHub's answers and rate-limit "
                   "waits included.",
                   [query(f"max by (collector, target) (github_exporter_collector_duration_seconds{{{RUN}}})",
                          "{{collector}} {{target}}")], "s"),
        timeseries("Failed runs, last hour",
                   "Share of each collector's runs in the last hour that failed. The dashed line is the 25% at "
                   "which GitHubExporterCollectorFailing fires.",
                   [query(f"max by (collector, target) (increase(github_exporter_collector_failures_total{{{RUN}}}[1h]))\n/\n"
                          f"(max by (collector, target) (increase(github_exporter_collector_runs_total{{{RUN}}}[1h])) > 0)",
                          "{{collector}} {{target}}")],
                   "percentunit", maximum=1, thresholds=steps((GREEN, None), (RED, 0.25)), threshold_line=True),
        timeseries("Runs per hour", "Collector runs per hour, successful or not; a flat zero means the "
                   "collector is stuck.",
                   [query(f"sum by (collector, target) (increase(github_exporter_collector_runs_total{{{RUN}}}[1h]))",
                          "{{collector}} {{target}}")], "short"),
        row("GitHub API requests"),
        timeseries("Requests by endpoint", "HTTP requests per second the exporter sends to GitHub, by route "
                   "template. " + per_run,
                   [query(requests_rate, "{{endpoint}}")], "reqps", interval=COLLECTOR_INTERVAL),
        timeseries("Failed requests by endpoint", "Requests per second that failed (transport error, unreadable "
                   "body or HTTP status 400 or more); 0 for endpoints without failures. Retries and rate-limit "
                   "refusals count too, so a failed request does not always fail a run. " + per_run,
                   [query(_or_zero("github_exporter_api_request_failures_total", "endpoint"), "{{endpoint}}")],
                   "reqps", interval=COLLECTOR_INTERVAL),
        timeseries("304 Not Modified share by endpoint",
                   "Share of requests answered 304 to a conditional request (ETag / Last-Modified): the cached "
                   "body was reused and no primary rate limit was spent. " + per_run,
                   [query(f"({_or_zero('github_exporter_api_not_modified_responses_total', 'endpoint')})\n/\n"
                          f"({requests_rate} > 0)", "{{endpoint}}")],
                   "percentunit", maximum=1, interval=COLLECTOR_INTERVAL),
        timeseries("Request duration by endpoint", "95th and 50th percentile of the time from sending a request "
                   "to reading its whole answer. " + per_run,
                   [query("histogram_quantile(0.95, sum by (endpoint, le) (rate(github_exporter_api_request_duration_seconds_bucket"
                          f"{{{INSTANCE}}}[$__rate_interval])))", "p95 {{endpoint}}"),
                    query("histogram_quantile(0.5, sum by (endpoint, le) (rate(github_exporter_api_request_duration_seconds_bucket"
                          f"{{{INSTANCE}}}[$__rate_interval])))", "p50 {{endpoint}}")],
                   "s", interval=COLLECTOR_INTERVAL),
        row("GitHub rate limits"),
        timeseries("Rate limit left", "Share of each rate-limit resource left for the exporter's credentials. "
                   "The dashed line is GitHubExporterTokenRateLimitLow's 10%.",
                   [query(f"github_rate_limit_remaining{{{INSTANCE}}} / github_rate_limit_limit{{{INSTANCE}}}",
                          "{{resource}} {{instance}}")],
                   "percentunit", maximum=1, thresholds=steps((RED, None), (GREEN, 0.1)), threshold_line=True, w=8),
        timeseries("Requests left and limit", "x-ratelimit-remaining and x-ratelimit-limit of the exporter's "
                   "credentials by resource; every user of the same token or app installation shares them.",
                   [query(f"github_rate_limit_remaining{{{INSTANCE}}}", "{{resource}} remaining"),
                    query(f"github_rate_limit_limit{{{INSTANCE}}}", "{{resource}} limit")], "short", w=8),
        timeseries("Time to reset", "Time until each rate-limit window resets (x-ratelimit-reset).",
                   [query(f"github_rate_limit_reset_timestamp_seconds{{{INSTANCE}}} - time()", "{{resource}} {{instance}}")],
                   "s", w=8, calcs=("lastNotNull",)),
    ]
    return dashboard(
        "github-exporter-health", "GitHub insights exporter health",
        "github-insights-exporter itself: collector runs, GitHub API requests, 304s and rate limits.",
        variables, panels, time_from="now-6h",
    )


DASHBOARDS = {
    "github-api-usage.json": api_usage,
    "github-exporter-health.json": exporter_health,
}


def render(build: Any) -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Do not write; exit 1 if a file is out of date.")
    args = parser.parse_args(argv)
    OUTPUT_DIR.mkdir(exist_ok=True)
    stale = []
    expected = set(DASHBOARDS)
    for name, build in DASHBOARDS.items():
        path = OUTPUT_DIR / name
        text = render(build)
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == text:
            continue
        if args.check:
            sys.stdout.writelines(difflib.unified_diff(
                current.splitlines(keepends=True), text.splitlines(keepends=True), str(path.relative_to(REPO)), "generated"))
            stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(REPO)}")
    unknown = sorted(p.name for p in OUTPUT_DIR.glob("*.json") if p.name not in expected)
    if unknown:
        print(f"not generated here (remove or add to DASHBOARDS): {', '.join(unknown)}", file=sys.stderr)
        return 1
    if stale:
        print(f"out of date: {', '.join(stale)}: run python3 deploy/grafana/generate-dashboards.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
