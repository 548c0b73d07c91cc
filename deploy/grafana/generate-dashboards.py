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


def bargauge(title: str, description: str, targets: Sequence[Json], unit: str, *, w: int = 12, h: int = 8,
             thresholds: Json | None = None, maximum: float | None = None, **extra: Any) -> Json:
    """Horizontal bars of an instant query, one per series, e.g. a topk() ranking."""
    defaults: Json = {"unit": unit, "min": 0, "color": {"mode": "continuous-BlYlRd"}, "thresholds": thresholds or BASE}
    if maximum is not None:
        defaults["max"] = maximum
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True, "valueMode": "color",
        "namePlacement": "left", "sizing": "auto", "minVizHeight": 16, "maxVizHeight": 300,
    }
    return _panel("bargauge", title, description, [{**t, "instant": True, "range": False} for t in targets],
                  w=w, h=h, defaults=defaults, options=options, **extra)


def table(title: str, description: str, targets: Sequence[Json], columns: Sequence[tuple[str, str, str]],
          *, keep: Sequence[str], hide: Sequence[str] = (), w: int = 24, h: int = 8, sort_by: str | None = None,
          thresholds: dict[str, Json] | None = None, mappings: dict[str, Sequence[Json]] | None = None,
          **extra: Any) -> Json:
    """An instant table joining one value column per query on the `keep` labels.

    columns: (field produced by Grafana, e.g. "Value #A"; display name; unit). hide: fields not shown,
    e.g. the value of a query that only contributes labels.
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
        {"id": "organize", "options": {"excludeByName": dict.fromkeys(("Time", *hide), True), "indexByName": order,
                                       "renameByName": {}}},
    ]
    options: Json = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
    if sort_by:
        options["sortBy"] = [{"displayName": sort_by, "desc": True}]
    defaults: Json = {
        "unit": "short",
        "color": {"mode": "thresholds"},
        "thresholds": BASE,
        "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": False},
    }
    return _panel(
        "table",
        title,
        description,
        [{**t, "format": "table", "instant": True, "range": False} for t in targets],
        w=w,
        h=h,
        defaults=defaults,
        options=options,
        overrides=overrides,
        transformations=transformations,
        **extra,
    )


def row(title: str) -> Json:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"h": 1, "w": 24, "x": 0, "y": 0},
    }


def value_map(mapping: dict[str, tuple[str, str]]) -> Json:
    """Value mappings: raw value -> (text, colour)."""
    return {
        "type": "value",
        "options": {
            value: {"text": text, "color": color, "index": i}
            for i, (value, (text, color)) in enumerate(mapping.items())
        },
    }


# -- template variables ------------------------------------------------------------------------


def datasource_variable() -> Json:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
    }


def label_variable(name: str, label: str, selector: str, *, description: str, multi: bool = True) -> Json:
    """A query variable over `label_values(selector, name)`; multi-valued with All by default."""
    definition = f"label_values({selector}, {name})"
    variable: Json = {
        "name": name,
        "label": label,
        "description": description,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": definition,
        "query": definition,  # Grafana 10/11 turn the classic string into their editor's model
        "refresh": 2,
        "sort": 1,
        "regex": "",
        "hide": 0,
        "skipUrlSync": False,
        "multi": multi,
        "includeAll": multi,
        "options": [],
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


def dashboard(
    uid: str,
    title: str,
    description: str,
    variables: Sequence[Json],
    panels: Sequence[Json],
    *,
    annotations: Sequence[Json] = (),
    time_from: str = "now-24h",
) -> Json:
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
        "links": [
            {
                "title": "GitHub dashboards",
                "type": "dashboards",
                "tags": [TAG],
                "asDropdown": True,
                "includeVars": False,
                "keepTime": True,
                "icon": "external link",
                "targetBlank": False,
                "tooltip": "",
                "url": "",
            }
        ],
        "annotations": {"list": list(annotations)},
        "templating": {"list": [datasource_variable(), *variables]},
        "panels": layout(panels),
    }


# -- API usage and rate limiting ---------------------------------------------------------------

ORG = 'org=~"$org"'
RATIO_1H = "org:github_api_insights_rate_limited_requests_per_requests:ratio_rate1h"
SPIKE_RATIO, SPIKE_REQUESTS = 0.05, 100  # GitHubAPIRateLimitedSpike's thresholds (deploy/prometheus/rules)


def _actor(selector: str, extra: Sequence[str] = ()) -> str:
    """A per-actor series, deduplicated across replicas, with the actor's name and subject from actor_info."""
    by = ", ".join(("org", "actor_type", "actor_id", *extra))
    return (
        f"max by ({by}) ({selector})\n"
        "* on (org, actor_type, actor_id) group_left (actor_name, subject_name)\n"
        f"topk by (org, actor_type, actor_id) (1, github_api_insights_actor_info{{{ORG}}})"
    )


def api_usage() -> Json:
    org_var = label_variable(
        "org",
        "Organization",
        "github_api_insights_requests_total",
        description="Organizations with API Insights data (targets.orgs).",
    )
    lag_note = (
        "API Insights data arrives 4-6 hours late: every figure here describes requests made hours "
        "before they were reported."
    )
    panels = [
        row("Rate limiting"),
        stat(
            "Rate-limited share, last hour",
            "Share of the org's newly reported API requests that GitHub rate limited over the last hour: "
            f"the ratio GitHubAPIRateLimitedSpike evaluates (it fires at {SPIKE_RATIO:.0%} together with "
            f"{SPIKE_REQUESTS} rate-limited requests). {lag_note}",
            [query(f"{RATIO_1H}{{{ORG}}}", "{{org}}")],
            "percentunit",
            thresholds=steps((GREEN, None), (ORANGE, SPIKE_RATIO / 2), (RED, SPIKE_RATIO)),
            decimals=1,
        ),
        stat(
            "Rate-limited requests, last hour",
            "Rate-limited API requests newly reported for the org over the last hour; the spike alert "
            f"also needs at least {SPIKE_REQUESTS} of them.",
            [
                query(
                    f"max by (org) (increase(github_api_insights_rate_limited_requests_total{{{ORG}}}[1h]))", "{{org}}"
                )
            ],
            "short",
            thresholds=steps((GREEN, None), (RED, SPIKE_REQUESTS)),
            decimals=0,
        ),
        stat(
            "Rate-limited share, summary window",
            "Share of the org's API requests that were rate limited over the trailing summary window "
            "(collectors.api_insights.summary_window, 24h by default), from API Insights' summary-stats.",
            [
                query(
                    f"max by (org) (github_api_insights_window_rate_limited_requests{{{ORG}}})\n/\n"
                    f"(max by (org) (github_api_insights_window_requests{{{ORG}}}) > 0)",
                    "{{org}}",
                )
            ],
            "percentunit",
            thresholds=steps((GREEN, None), (ORANGE, SPIKE_RATIO / 2), (RED, SPIKE_RATIO)),
            decimals=2,
        ),
        stat(
            "API Insights data lag",
            "Age of the newest API Insights time bucket holding any requests. GitHub usually reports 4-6 "
            "hours late; GitHubInsightsDataStale fires above 8 hours.",
            [query(f"time() - max by (org) (github_api_insights_data_latest_timestamp_seconds{{{ORG}}})", "{{org}}")],
            "s",
            thresholds=steps((GREEN, None), (YELLOW, 6 * 3600), (RED, 8 * 3600)),
        ),
        timeseries(
            "Rate-limited share (1h window)",
            "The spike alert's ratio over time: rate-limited / all newly reported requests over the last "
            f"hour. The dashed line is the alert's {SPIKE_RATIO:.0%} threshold; red marks on the graphs "
            "are GitHubAPIRateLimitedSpike firing. " + lag_note,
            [query(f"{RATIO_1H}{{{ORG}}}", "{{org}}")],
            "percentunit",
            thresholds=steps((GREEN, None), (RED, SPIKE_RATIO)),
            threshold_line=True,
        ),
        timeseries(
            "Rate-limited requests per minute",
            "Rate-limited API requests per minute newly reported for the org, over 15 minutes "
            "(recording rule org:github_api_insights_rate_limited_requests_per_minute:rate15m).",
            [query(f"org:github_api_insights_rate_limited_requests_per_minute:rate15m{{{ORG}}}", "{{org}}")],
            "reqpm",
        ),
        row("Request volume"),
        timeseries(
            "API requests per minute",
            "All API requests per minute newly reported for the org, over 15 minutes (recording rule "
            "org:github_api_insights_requests_per_minute:rate15m). " + lag_note,
            [query(f"org:github_api_insights_requests_per_minute:rate15m{{{ORG}}}", "{{org}}")],
            "reqpm",
        ),
        timeseries(
            "Requests in the summary window",
            "All and rate-limited API requests over the trailing summary window (24h by default), "
            "as GitHub's summary-stats report them.",
            [
                query(f"max by (org) (github_api_insights_window_requests{{{ORG}}})", "{{org}} all"),
                query(
                    f"max by (org) (github_api_insights_window_rate_limited_requests{{{ORG}}})", "{{org}} rate limited"
                ),
            ],
            "short",
        ),
        row("Who is rate limited: subjects, actors and routes"),
        bargauge(
            "Top subjects by rate-limited requests",
            "Users and GitHub Apps with the most rate-limited requests over the trailing summary window, "
            "from subject-stats (the collectors.api_insights.top_subjects busiest subjects are followed). "
            "The runbook of GitHubAPIRateLimitedSpike starts here.",
            [
                query(
                    f"topk(10, max by (org, subject_type, subject_name) "
                    f"(github_api_insights_subject_window_rate_limited_requests{{{ORG}}}))",
                    "{{subject_name}} ({{subject_type}})",
                )
            ],
            "short",
        ),
        bargauge(
            "Top subjects by requests",
            "Users and GitHub Apps with the most API requests over the trailing summary window.",
            [
                query(
                    f"topk(10, max by (org, subject_type, subject_name) "
                    f"(github_api_insights_subject_window_requests{{{ORG}}}))",
                    "{{subject_name}} ({{subject_type}})",
                )
            ],
            "short",
        ),
        timeseries(
            "Rate-limited requests per minute by followed actor",
            "Newly reported rate-limited requests per minute, over 15 minutes, of the ten followed actors "
            "(tokens, OAuth grants, app installations) with the most; names from github_api_insights_actor_info.",
            [
                query(
                    f"topk(10, 60 * max by (org, actor_type, actor_id) "
                    f"(rate(github_api_insights_actor_rate_limited_requests_total{{{ORG}}}[15m])))\n"
                    f"* on (org, actor_type, actor_id) group_left (actor_name, subject_name)\n"
                    f"topk by (org, actor_type, actor_id) (1, github_api_insights_actor_info{{{ORG}}})",
                    "{{actor_name}} ({{actor_type}}, {{subject_name}})",
                )
            ],
            "reqpm",
        ),
        timeseries(
            "Rate-limited requests per minute by followed user",
            "Newly reported rate-limited requests per minute, over 15 minutes, of each followed user "
            "through all their actors.",
            [
                query(
                    f"60 * max by (org, user_id) (rate(github_api_insights_user_rate_limited_requests_total{{{ORG}}}[15m]))\n"
                    f"* on (org, user_id) group_left (subject_name)\n"
                    f"topk by (org, user_id) (1, github_api_insights_user_info{{{ORG}}})",
                    "{{subject_name}}",
                )
            ],
            "reqpm",
        ),
        table(
            "Followed actors",
            "Each followed actor over the trailing summary window: requests, rate-limited requests, their share, "
            "and how long ago its last rate-limited request was.",
            [
                query(f"{_actor(f'github_api_insights_actor_window_requests{{{ORG}}}')}"),
                query(f"{_actor(f'github_api_insights_actor_window_rate_limited_requests{{{ORG}}}')}"),
                query(
                    _actor(f"github_api_insights_actor_window_rate_limited_requests{{{ORG}}}")
                    + "\n/ on (org, actor_type, actor_id, actor_name, subject_name)\n("
                    + _actor(f"github_api_insights_actor_window_requests{{{ORG}}}")
                    + " > 0)"
                ),
                query(f"time() - {_actor(f'github_api_insights_actor_last_rate_limited_timestamp_seconds{{{ORG}}}')}"),
            ],
            [
                ("Value #A", "Requests", "short"),
                ("Value #B", "Rate limited", "short"),
                ("Value #C", "Rate-limited share", "percentunit"),
                ("Value #D", "Last rate limited", "s"),
            ],
            keep=["actor_name", "actor_type", "subject_name"],
            sort_by="Rate limited",
            h=9,
            thresholds={"Value #C": steps((GREEN, None), (ORANGE, SPIKE_RATIO / 2), (RED, SPIKE_RATIO))},
        ),
        table(
            "Top routes of followed actors",
            "Routes (GitHub's route templates) of the followed actors with the most rate-limited requests over "
            "the trailing summary window; the collectors.api_insights.top_routes busiest routes per actor.",
            [
                query(
                    f"topk(20, {_actor(f'github_api_insights_route_window_rate_limited_requests{{{ORG}}}', ('http_method', 'route'))})"
                ),
                query(_actor(f"github_api_insights_route_window_requests{{{ORG}}}", ("http_method", "route"))),
            ],
            [("Value #A", "Rate limited", "short"), ("Value #B", "Requests", "short")],
            keep=["actor_name", "http_method", "route"],
            sort_by="Rate limited",
            h=9,
        ),
    ]
    spike_annotation = {
        "name": "Rate-limited spike alerts",
        "enable": True,
        "hide": False,
        "iconColor": "red",
        "datasource": DATASOURCE,
        "expr": f'ALERTS{{alertname="GitHubAPIRateLimitedSpike", alertstate="firing", {ORG}}}',
        "step": "1m",
        "titleFormat": "GitHubAPIRateLimitedSpike",
        "textFormat": "org {{org}}",
        "tagKeys": "org,severity",
        "useValueForTime": False,
    }
    return dashboard(
        "github-api-usage",
        "GitHub API usage and rate limiting",
        "API Insights per organization: request volume, rate-limited share and the data lag. "
        "From github-insights-exporter and its recording rules.",
        [org_var],
        panels,
        annotations=[spike_annotation],
    )


# -- exporter health ---------------------------------------------------------------------------

INSTANCE = 'job=~"$job", instance=~"$instance"'
RUN = f'{INSTANCE}, collector=~"$collector", target=~"$target"'


def _or_zero(counter: str, by: str, window: str = "$__rate_interval") -> str:
    """rate() of a counter that only appears once something happens, or 0 for every endpoint that was called."""
    return (
        f"sum by ({by}) (rate({counter}{{{INSTANCE}}}[{window}]))\n"
        f"or\nsum by ({by}) (rate(github_exporter_api_requests_total{{{INSTANCE}}}[{window}])) * 0"
    )


def exporter_health() -> Json:
    variables = [
        label_variable("job", "Job", "github_exporter_build_info", description="Prometheus job scraping the exporter."),
        label_variable(
            "instance",
            "Instance",
            'github_exporter_build_info{job=~"$job"}',
            description="Exporter replicas of the job.",
        ),
        label_variable(
            "collector",
            "Collector",
            f"github_exporter_collector_success{{{INSTANCE}}}",
            description="Metric families (collectors) enabled on the instances.",
        ),
        label_variable(
            "target",
            "Target",
            f'github_exporter_collector_success{{{INSTANCE}, collector=~"$collector"}}',
            description="Orgs, enterprises and repositories the collectors read.",
        ),
    ]
    requests_rate = f"sum by (endpoint) (rate(github_exporter_api_requests_total{{{INSTANCE}}}[$__rate_interval]))"
    per_run = (
        f"Each collector run sends its requests at once; the panel's {COLLECTOR_INTERVAL} minimum interval "
        "(collectors' default interval) keeps the rate from dropping to zero between runs."
    )
    outcome = value_map({"1": ("succeeded", GREEN), "0": ("failed", RED)})
    panels = [
        row("Overview"),
        stat(
            "Scrape",
            "Whether Prometheus reaches the exporter (up). GitHubExporterDown fires after 5 minutes down.",
            [query(f"up{{{INSTANCE}}}", "{{instance}}")],
            "none",
            w=4,
            graph=False,
            thresholds=steps((RED, None), (GREEN, 1)),
            mappings=[value_map({"1": ("up", GREEN), "0": ("down", RED)})],
        ),
        stat(
            "Version",
            "Exporter version and Python version (github_exporter_build_info).",
            [
                query(
                    f"github_exporter_build_info{{{INSTANCE}}}", "{{version}} (Python {{python_version}})", instant=True
                )
            ],
            "none",
            w=4,
            graph=False,
            text_mode="name",
            color_mode="none",
        ),
        stat(
            "Failing collectors",
            "Collector/target pairs whose last run failed; their last good data is served until store.max_age.",
            [query(f"count(github_exporter_collector_success{{{RUN}}} == 0) or vector(0)", "failing")],
            "short",
            w=4,
            thresholds=steps((GREEN, None), (RED, 1)),
            decimals=0,
        ),
        stat(
            "Oldest successful run",
            "Time since the least recent successful run among the selected "
            "collectors and targets. GitHubExporterCollectorStale fires above 1 hour.",
            [query(f"max(time() - github_exporter_collector_last_success_timestamp_seconds{{{RUN}}})", "oldest")],
            "s",
            w=4,
            thresholds=steps((GREEN, None), (YELLOW, 900), (RED, 3600)),
        ),
        stat(
            "Rate limit left",
            "Share of each GitHub rate-limit resource the exporter's credentials have left "
            "(x-ratelimit-remaining / x-ratelimit-limit). GitHubExporterTokenRateLimitLow fires below 10%.",
            [
                query(
                    f"github_rate_limit_remaining{{{INSTANCE}}} / github_rate_limit_limit{{{INSTANCE}}}", "{{resource}}"
                )
            ],
            "percentunit",
            w=4,
            thresholds=steps((RED, None), (ORANGE, 0.1), (GREEN, 0.25)),
        ),
        stat(
            "Rate-limit waits",
            "Times the client paused for a primary or secondary rate limit over the dashboard's time range.",
            [
                query(
                    f"sum(increase(github_exporter_api_rate_limit_waits_total{{{INSTANCE}}}[$__range])) or vector(0)",
                    "waits",
                    instant=True,
                )
            ],
            "short",
            w=4,
            graph=False,
            thresholds=steps((GREEN, None), (ORANGE, 1)),
            decimals=0,
        ),
        row("Collectors"),
        table(
            "Collector runs",
            "One line per collector and target: outcome of the last run, how long ago the last successful "
            "one was, its duration and the configured interval.",
            [
                query(f"max by (collector, target) (github_exporter_collector_success{{{RUN}}})"),
                query(
                    f"time() - max by (collector, target) (github_exporter_collector_last_success_timestamp_seconds{{{RUN}}})"
                ),
                query(f"max by (collector, target) (github_exporter_collector_duration_seconds{{{RUN}}})"),
                query(f"max by (collector, target) (github_exporter_collector_interval_seconds{{{RUN}}})"),
            ],
            [
                ("Value #A", "Last run", "none"),
                ("Value #B", "Since last success", "s"),
                ("Value #C", "Duration", "s"),
                ("Value #D", "Interval", "s"),
            ],
            keep=["collector", "target"],
            h=7,
            thresholds={
                "Value #A": steps((RED, None), (GREEN, 1)),
                "Value #B": steps((GREEN, None), (YELLOW, 900), (RED, 3600)),
            },
            mappings={"Value #A": [outcome]},
        ),
        state_timeline(
            "Last run outcome",
            "Outcome of each collector's last run for each target over time.",
            [
                query(
                    f"max by (collector, target) (github_exporter_collector_success{{{RUN}}})",
                    "{{collector}} {{target}}",
                )
            ],
            mappings=[outcome],
        ),
        timeseries(
            "Time since last successful run",
            "Age of each collector's cached data. The dashed line is GitHubExporterCollectorStale's 1 hour; "
            "data is dropped at store.max_age (3h by default).",
            [
                query(
                    f"time() - max by (collector, target) (github_exporter_collector_last_success_timestamp_seconds{{{RUN}}})",
                    "{{collector}} {{target}}",
                )
            ],
            "s",
            thresholds=steps((GREEN, None), (RED, 3600)),
            threshold_line=True,
        ),
        timeseries(
            "Run duration",
            "How long each collector's last run took, GitHub's answers and rate-limit waits included.",
            [
                query(
                    f"max by (collector, target) (github_exporter_collector_duration_seconds{{{RUN}}})",
                    "{{collector}} {{target}}",
                )
            ],
            "s",
        ),
        timeseries(
            "Failed runs, last hour",
            "Share of each collector's runs in the last hour that failed. The dashed line is the 25% at "
            "which GitHubExporterCollectorFailing fires.",
            [
                query(
                    f"max by (collector, target) (increase(github_exporter_collector_failures_total{{{RUN}}}[1h]))\n/\n"
                    f"(max by (collector, target) (increase(github_exporter_collector_runs_total{{{RUN}}}[1h])) > 0)",
                    "{{collector}} {{target}}",
                )
            ],
            "percentunit",
            maximum=1,
            thresholds=steps((GREEN, None), (RED, 0.25)),
            threshold_line=True,
        ),
        timeseries(
            "Runs per hour",
            "Collector runs per hour, successful or not; a flat zero means the collector is stuck.",
            [
                query(
                    f"sum by (collector, target) (increase(github_exporter_collector_runs_total{{{RUN}}}[1h]))",
                    "{{collector}} {{target}}",
                )
            ],
            "short",
        ),
        row("GitHub API requests"),
        timeseries(
            "Requests by endpoint",
            "HTTP requests per second the exporter sends to GitHub, by route template. " + per_run,
            [query(requests_rate, "{{endpoint}}")],
            "reqps",
            interval=COLLECTOR_INTERVAL,
        ),
        timeseries(
            "Failed requests by endpoint",
            "Requests per second that failed (transport error, unreadable "
            "body or HTTP status 400 or more); 0 for endpoints without failures. Retries and rate-limit "
            "refusals count too, so a failed request does not always fail a run. " + per_run,
            [query(_or_zero("github_exporter_api_request_failures_total", "endpoint"), "{{endpoint}}")],
            "reqps",
            interval=COLLECTOR_INTERVAL,
        ),
        timeseries(
            "304 Not Modified share by endpoint",
            "Share of requests answered 304 to a conditional request (ETag / Last-Modified): the cached "
            "body was reused and no primary rate limit was spent. " + per_run,
            [
                query(
                    f"({_or_zero('github_exporter_api_not_modified_responses_total', 'endpoint')})\n/\n"
                    f"({requests_rate} > 0)",
                    "{{endpoint}}",
                )
            ],
            "percentunit",
            maximum=1,
            interval=COLLECTOR_INTERVAL,
        ),
        timeseries(
            "Request duration by endpoint",
            "95th and 50th percentile of the time from sending a request to reading its whole answer. " + per_run,
            [
                query(
                    "histogram_quantile(0.95, sum by (endpoint, le) (rate(github_exporter_api_request_duration_seconds_bucket"
                    f"{{{INSTANCE}}}[$__rate_interval])))",
                    "p95 {{endpoint}}",
                ),
                query(
                    "histogram_quantile(0.5, sum by (endpoint, le) (rate(github_exporter_api_request_duration_seconds_bucket"
                    f"{{{INSTANCE}}}[$__rate_interval])))",
                    "p50 {{endpoint}}",
                ),
            ],
            "s",
            interval=COLLECTOR_INTERVAL,
        ),
        row("GitHub rate limits"),
        timeseries(
            "Rate limit left",
            "Share of each rate-limit resource left for the exporter's credentials. "
            "The dashed line is GitHubExporterTokenRateLimitLow's 10%.",
            [
                query(
                    f"github_rate_limit_remaining{{{INSTANCE}}} / github_rate_limit_limit{{{INSTANCE}}}",
                    "{{resource}} {{instance}}",
                )
            ],
            "percentunit",
            maximum=1,
            thresholds=steps((RED, None), (GREEN, 0.1)),
            threshold_line=True,
            w=8,
        ),
        timeseries(
            "Requests left and limit",
            "x-ratelimit-remaining and x-ratelimit-limit of the exporter's "
            "credentials by resource; every user of the same token or app installation shares them.",
            [
                query(f"github_rate_limit_remaining{{{INSTANCE}}}", "{{resource}} remaining"),
                query(f"github_rate_limit_limit{{{INSTANCE}}}", "{{resource}} limit"),
            ],
            "short",
            w=8,
        ),
        timeseries(
            "Time to reset",
            "Time until each rate-limit window resets (x-ratelimit-reset).",
            [query(f"github_rate_limit_reset_timestamp_seconds{{{INSTANCE}}} - time()", "{{resource}} {{instance}}")],
            "s",
            w=8,
            calcs=("lastNotNull",),
        ),
    ]
    return dashboard(
        "github-exporter-health",
        "GitHub insights exporter health",
        "github-insights-exporter itself: collector runs, GitHub API requests, 304s and rate limits.",
        variables,
        panels,
        time_from="now-6h",
    )


# -- repository traffic ------------------------------------------------------------------------

REPOSITORY = 'repository=~"$repository"'


def _repo(metric: str, extra: Sequence[str] = ()) -> str:
    return f"max by ({', '.join(('repository', *extra))}) ({metric}{{{REPOSITORY}}})"


def repo_traffic() -> Json:
    repository = label_variable(
        "repository",
        "Repository",
        "github_repo_traffic_views_14d",
        description="Repositories with traffic data (owner/name).",
    )
    fourteen = "over GitHub's 14-day window (today's partial UTC day included), summed over the selected repositories"
    uniques = " Unique counts are per repository: someone who visits two repositories counts twice."
    panels = [
        row("Last 14 days"),
        stat(
            "Views",
            f"Page views {fourteen}.",
            [query(f"sum({_repo('github_repo_traffic_views_14d')})", "views")],
            "short",
            decimals=0,
        ),
        stat(
            "Unique visitors",
            f"Unique visitors {fourteen}.{uniques}",
            [query(f"sum({_repo('github_repo_traffic_unique_visitors_14d')})", "unique visitors")],
            "short",
            decimals=0,
        ),
        stat(
            "Clones",
            f"Clones {fourteen}.",
            [query(f"sum({_repo('github_repo_traffic_clones_14d')})", "clones")],
            "short",
            decimals=0,
        ),
        stat(
            "Unique cloners",
            f"Unique cloners {fourteen}.{uniques}",
            [query(f"sum({_repo('github_repo_traffic_unique_cloners_14d')})", "unique cloners")],
            "short",
            decimals=0,
        ),
        bargauge(
            "Views by repository",
            "Page views per repository over GitHub's 14-day window.",
            [query(f"sort_desc(topk(15, {_repo('github_repo_traffic_views_14d')}))", "{{repository}}")],
            "short",
        ),
        bargauge(
            "Clones by repository",
            "Clones per repository over GitHub's 14-day window.",
            [query(f"sort_desc(topk(15, {_repo('github_repo_traffic_clones_14d')}))", "{{repository}}")],
            "short",
        ),
        row("Per day"),
        timeseries(
            "Views per day",
            "Page views and unique visitors on the latest complete UTC day, per repository; "
            "the value changes once a day, when GitHub's day is complete.",
            [
                query(_repo("github_repo_traffic_day_views"), "{{repository}} views"),
                query(_repo("github_repo_traffic_day_unique_visitors"), "{{repository}} unique"),
            ],
            "short",
        ),
        timeseries(
            "Clones per day",
            "Clones and unique cloners on the latest complete UTC day, per repository.",
            [
                query(_repo("github_repo_traffic_day_clones"), "{{repository}} clones"),
                query(_repo("github_repo_traffic_day_unique_cloners"), "{{repository}} unique"),
            ],
            "short",
        ),
        row("Popular content and referrers"),
        table(
            "Top paths",
            "The repositories' most viewed paths over the 14-day window (up to 10 each), with their page titles.",
            [
                query(
                    f"{_repo('github_repo_traffic_top_path_views_14d', ('path',))}\n"
                    "* on (repository, path) group_left (title)\n"
                    f"topk by (repository, path) (1, github_repo_traffic_top_path_info{{{REPOSITORY}}})"
                ),
                query(
                    f"{_repo('github_repo_traffic_top_path_unique_visitors_14d', ('path',))}\n"
                    "* on (repository, path) group_left (title)\n"
                    f"topk by (repository, path) (1, github_repo_traffic_top_path_info{{{REPOSITORY}}})"
                ),
            ],
            [("Value #A", "Views", "short"), ("Value #B", "Unique visitors", "short")],
            keep=["repository", "path", "title"],
            sort_by="Views",
            w=12,
            h=10,
        ),
        table(
            "Top referrers",
            "Sites referring the most visitors to the repositories over the 14-day window (up to 10 each).",
            [
                query(_repo("github_repo_traffic_top_referrer_views_14d", ("referrer",))),
                query(_repo("github_repo_traffic_top_referrer_unique_visitors_14d", ("referrer",))),
            ],
            [("Value #A", "Views", "short"), ("Value #B", "Unique visitors", "short")],
            keep=["repository", "referrer"],
            sort_by="Views",
            w=12,
            h=10,
        ),
        row("Collection"),
        stat(
            "Repositories exported",
            "Repositories whose traffic the exporter read in its last run, by source "
            "(an owner from collectors.repo_traffic.discover, or targets.repositories).",
            [query("sum by (source) (max by (source, instance) (github_repo_traffic_repositories))", "{{source}}")],
            "short",
            w=8,
            decimals=0,
        ),
        timeseries(
            "Skipped repositories",
            "Repositories skipped in the last run because GitHub refused their traffic, "
            "by reason: forbidden (403: no push access, or traffic unavailable), not_found (404/410), moved "
            "(renamed or transferred), unavailable (another 4xx). The log names them.",
            [query("sum by (reason) (github_repo_traffic_skipped_repositories)", "{{reason}}")],
            "short",
            w=16,
        ),
    ]
    return dashboard(
        "github-repo-traffic",
        "GitHub repository traffic",
        "Views, clones, popular paths and referrers of repositories, from GitHub's traffic API (14 days of history).",
        [repository],
        panels,
        time_from="now-30d",
    )


# -- billing -----------------------------------------------------------------------------------

BILLING = (
    'enterprise=~"$enterprise", report_type="$report_type", organization=~"$organization", '
    'cost_center=~"$cost_center", product=~"$product"'
)
# Every label of a usage gauge, the opt-in extra labels included: deduplicates HA replicas only.
USAGE_LABELS = "enterprise, report_type, product, sku, unit_type, organization, cost_center, repository, username"


def _usage(metric: str, by: str = "") -> str:
    return f"sum{f' by ({by})' if by else ''} (max by ({USAGE_LABELS}) (github_billing_usage_{metric}{{{BILLING}}}))"


def billing() -> Json:
    variables = [
        label_variable(
            "enterprise",
            "Enterprise",
            "github_billing_usage_net_amount_usd",
            description="Enterprises whose usage reports the exporter reads.",
        ),
        label_variable(
            "report_type",
            "Report type",
            'github_billing_usage_net_amount_usd{enterprise=~"$enterprise"}',
            description="Usage report type (collectors.billing.report_types). One at a time: report "
            "types overlap, so their amounts must never be added up.",
            multi=False,
        ),
        label_variable(
            "organization",
            "Organization",
            'github_billing_usage_net_amount_usd{enterprise=~"$enterprise", report_type="$report_type"}',
            description="Organizations in the report (empty for enterprise-level usage).",
        ),
        label_variable(
            "cost_center",
            "Cost center",
            'github_billing_usage_net_amount_usd{enterprise=~"$enterprise", report_type="$report_type"}',
            description="Cost centers in the report (empty for usage outside any cost center).",
        ),
        label_variable(
            "product",
            "Product",
            'github_billing_usage_net_amount_usd{enterprise=~"$enterprise", report_type="$report_type"}',
            description="Products (actions, copilot, packages, ...).",
        ),
    ]
    mtd = "this UTC month to date, from the newest completed usage report export"
    export = 'enterprise=~"$enterprise", report_type="$report_type"'
    panels = [
        row("Month to date"),
        stat(
            "Net amount",
            f"Billable amount in US dollars (gross minus discount) {mtd}.",
            [query(_usage("net_amount_usd"), "net")],
            "currencyUSD",
            decimals=2,
        ),
        stat(
            "Gross amount",
            f"Amount in US dollars before discounts {mtd}.",
            [query(_usage("gross_amount_usd"), "gross")],
            "currencyUSD",
            decimals=2,
        ),
        stat(
            "Discount amount",
            f"Discounts in US dollars (included usage, public repositories) {mtd}.",
            [query(_usage("discount_amount_usd"), "discount")],
            "currencyUSD",
            decimals=2,
        ),
        stat(
            "Billing data age",
            "Time since the export the figures come from was created (GitHub gives no "
            "completion time); exports are reused while younger than collectors.billing.max_export_age.",
            [
                query(
                    f"time() - max by (enterprise, report_type) (github_billing_export_last_completed_timestamp_seconds{{{export}}})",
                    "{{enterprise}} {{report_type}}",
                )
            ],
            "s",
            thresholds=steps((GREEN, None), (YELLOW, 86400), (RED, 2 * 86400)),
        ),
        timeseries(
            "Net amount by product",
            f"Billable amount in US dollars by product {mtd}; it grows through the "
            "month and starts again at 0 on the 1st (UTC).",
            [query(_usage("net_amount_usd", "product"), "{{product}}")],
            "currencyUSD",
            stack=True,
        ),
        bargauge(
            "Net amount by organization",
            f"Billable amount in US dollars by organization {mtd}.",
            [query(f"sort_desc({_usage('net_amount_usd', 'organization')})", "{{organization}}")],
            "currencyUSD",
        ),
        bargauge(
            "Net amount by cost center",
            f"Billable amount in US dollars by cost center {mtd} (an empty name is usage outside any cost center).",
            [query(f"sort_desc({_usage('net_amount_usd', 'cost_center')})", "{{cost_center}}")],
            "currencyUSD",
        ),
        table(
            "Usage by SKU",
            f"Quantity and amounts in US dollars by product and SKU {mtd}; the unit of the "
            "quantity is named by unit_type.",
            [
                query(_usage("quantity", "product, sku, unit_type")),
                query(_usage("gross_amount_usd", "product, sku, unit_type")),
                query(_usage("discount_amount_usd", "product, sku, unit_type")),
                query(_usage("net_amount_usd", "product, sku, unit_type")),
            ],
            [
                ("Value #A", "Quantity", "short"),
                ("Value #B", "Gross", "currencyUSD"),
                ("Value #C", "Discount", "currencyUSD"),
                ("Value #D", "Net", "currencyUSD"),
            ],
            keep=["product", "sku", "unit_type"],
            sort_by="Net",
            w=12,
            h=10,
        ),
        row("Usage report exports"),
        stat(
            "Export state",
            "Status last seen of the newest export the exporter created, adopted or reused. "
            "GitHubBillingExportFailing fires when one failed in the last hour.",
            [
                query(
                    f"max by (enterprise, report_type, state) (github_billing_export_state{{{export}}}) == 1",
                    "{{state}}",
                    instant=True,
                )
            ],
            "none",
            w=6,
            graph=False,
            text_mode="name",
            color_mode="background",
            thresholds=steps((BLUE, None)),
            mappings=[value_map({"1": ("current", BLUE)})],
        ),
        stat(
            "Newest day in the report",
            "Time since the start (00:00 UTC) of the newest day with usage in the served report: GitHub's billing lag.",
            [
                query(
                    f"time() - max by (enterprise, report_type) (github_billing_report_latest_date_timestamp_seconds{{{export}}})",
                    "{{report_type}}",
                )
            ],
            "s",
            w=6,
            thresholds=steps((GREEN, None), (YELLOW, 2 * 86400), (RED, 3 * 86400)),
        ),
        stat(
            "Report rows",
            "Data rows in the usage report the figures come from.",
            [query(f"max by (enterprise, report_type) (github_billing_report_rows{{{export}}})", "{{report_type}}")],
            "short",
            w=4,
            decimals=0,
        ),
        timeseries(
            "Export activity per hour",
            "Exports the exporter created, reused (a recent completed one "
            "existed), polled while processing, gave up on (timed out) and saw fail, per hour.",
            [
                query(f"sum(increase(github_billing_export_{what}_total{{{export}}}[1h]))", label)
                for what, label in (
                    ("created", "created"),
                    ("reuses", "reused"),
                    ("polls", "polled"),
                    ("timeouts", "timed out"),
                    ("failures", "failed"),
                )
            ],
            "short",
            w=8,
        ),
    ]
    return dashboard(
        "github-billing",
        "GitHub billing usage",
        "Month-to-date usage and amounts in US dollars from GitHub's enhanced billing usage report exports, "
        "by product, SKU, organization and cost center, and the state of the exports.",
        variables,
        panels,
        time_from="now-30d",
    )


# -- Enterprise Server statistics --------------------------------------------------------------

GHES = 'enterprise_or_org=~"$enterprise_or_org"'


def _server(metric: str, extra: Sequence[str] = ()) -> str:
    """A per-server gauge with the server's host name, limited to the selected host names."""
    by = ", ".join(("enterprise_or_org", "server_id", *extra))
    return (
        f"max by ({by}) ({metric}{{{GHES}}})\n"
        "* on (enterprise_or_org, server_id) group_left (host_name)\n"
        f'topk by (enterprise_or_org, server_id) (1, github_enterprise_server_info{{{GHES}, host_name=~"$host_name"}})'
    )


def enterprise_server() -> Json:
    variables = [
        label_variable(
            "enterprise_or_org",
            "Enterprise or org",
            "github_enterprise_server_info",
            description="Enterprise accounts (or orgs) the servers upload Server Statistics to.",
        ),
        label_variable(
            "host_name",
            "Server",
            f"github_enterprise_server_info{{{GHES}}}",
            description="GitHub Enterprise Server instances, by host name.",
        ),
    ]
    daily = "from the server's newest Server Statistics collection (uploaded daily)"
    panels = [
        row("Servers"),
        table(
            "Servers",
            "Every server: version, age of its newest collection, users and repositories.",
            [
                query(
                    f'max by (enterprise_or_org, server_id, host_name, ghes_version) (github_enterprise_server_info{{{GHES}, host_name=~"$host_name"}})'
                ),
                query(f"time() - ({_server('github_enterprise_server_collection_timestamp_seconds')})"),
                query(_server("github_enterprise_server_users")),
                query(_server("github_enterprise_server_repositories")),
                query(_server("github_enterprise_server_organizations")),
            ],
            [
                ("Value #B", "Collection age", "s"),
                ("Value #C", "Users", "short"),
                ("Value #D", "Repositories", "short"),
                ("Value #E", "Organizations", "short"),
            ],
            keep=["host_name", "ghes_version", "enterprise_or_org"],
            hide=["Value #A"],
            h=6,
            thresholds={"Value #B": steps((GREEN, None), (YELLOW, 2 * 86400), (RED, 3 * 86400))},
        ),
        stat(
            "Collection age",
            "Time since each server's newest collection was taken. Servers upload Server "
            "Statistics once a day; an older one means the server stopped uploading.",
            [query(f"time() - ({_server('github_enterprise_server_collection_timestamp_seconds')})", "{{host_name}}")],
            "s",
            w=8,
            thresholds=steps((GREEN, None), (YELLOW, 2 * 86400), (RED, 3 * 86400)),
        ),
        stat(
            "Dormant share",
            f"Share of user accounts that are dormant (no activity for the server's dormancy threshold), {daily}.",
            [
                query(
                    f"({_server('github_enterprise_server_dormant_users')})\n/ on (enterprise_or_org, server_id, host_name)\n"
                    f"({_server('github_enterprise_server_users')} > 0)",
                    "{{host_name}}",
                )
            ],
            "percentunit",
            w=8,
            thresholds=steps((GREEN, None), (ORANGE, 0.25), (RED, 0.5)),
            decimals=1,
        ),
        stat(
            "Actions adoption",
            f"Share of repositories with GitHub Actions enabled, as the server computes it, {daily}.",
            [query(_server("github_enterprise_server_actions_repositories_ratio"), "{{host_name}}")],
            "percentunit",
            w=8,
            decimals=1,
        ),
        row("Users and content"),
        timeseries(
            "Users",
            f"User accounts, site administrators, suspended and dormant users, {daily}.",
            [
                query(_server(f"github_enterprise_server_{m}"), f"{{{{host_name}}}} {label}")
                for m, label in (
                    ("users", "users"),
                    ("admin_users", "admins"),
                    ("suspended_users", "suspended"),
                    ("dormant_users", "dormant"),
                )
            ],
            "short",
        ),
        timeseries(
            "Repositories",
            f"Repositories (not forks), forks, and those owned by organizations, {daily}.",
            [
                query(_server(f"github_enterprise_server_{m}"), f"{{{{host_name}}}} {label}")
                for m, label in (
                    ("root_repositories", "root"),
                    ("fork_repositories", "forks"),
                    ("organization_repositories", "in organizations"),
                )
            ],
            "short",
        ),
        timeseries(
            "Pushes per day",
            "Pushes on each server over the last day; the server's count only grows, so "
            "this is its delta over 24 hours (0 until two daily collections are known).",
            [
                query(
                    f"delta(github_enterprise_server_pushes{{{GHES}}}[1d])\n"
                    "* on (enterprise_or_org, server_id) group_left (host_name)\n"
                    f'topk by (enterprise_or_org, server_id) (1, github_enterprise_server_info{{{GHES}, host_name=~"$host_name"}})',
                    "{{host_name}}",
                )
            ],
            "short",
        ),
        timeseries(
            "Pull requests",
            f"Merged pull requests, and open ones that can and cannot be merged, {daily}.",
            [
                query(_server(f"github_enterprise_server_{m}"), f"{{{{host_name}}}} {label}")
                for m, label in (
                    ("merged_pull_requests", "merged"),
                    ("mergeable_pull_requests", "mergeable"),
                    ("unmergeable_pull_requests", "unmergeable"),
                )
            ],
            "short",
        ),
        timeseries(
            "Issues and milestones by state",
            f"Open and closed issues and milestones, {daily}.",
            [
                query(
                    _server("github_enterprise_server_issues_by_state", ("state",)), "{{host_name}} issues {{state}}"
                ),
                query(
                    _server("github_enterprise_server_milestones_by_state", ("state",)),
                    "{{host_name}} milestones {{state}}",
                ),
            ],
            "short",
        ),
        timeseries(
            "Organizations and teams",
            f"Organizations, disabled organizations, teams and team memberships, {daily}.",
            [
                query(_server(f"github_enterprise_server_{m}"), f"{{{{host_name}}}} {label}")
                for m, label in (
                    ("organizations", "organizations"),
                    ("disabled_organizations", "disabled"),
                    ("teams", "teams"),
                    ("team_members", "team members"),
                )
            ],
            "short",
        ),
        row("Packages"),
        bargauge(
            "Published packages by ecosystem",
            f"Published packages per ecosystem on the selected servers, {daily}.",
            [
                query(
                    f"sort_desc(sum by (ecosystem) ({_server('github_enterprise_server_packages_published', ('ecosystem',))}))",
                    "{{ecosystem}}",
                )
            ],
            "short",
            w=8,
        ),
        timeseries(
            "Package downloads per day",
            "Packages downloaded in the 24 hours before each collection, by ecosystem.",
            [
                query(
                    f"sum by (host_name, ecosystem) ({_server('github_enterprise_server_packages_daily_downloaded', ('ecosystem',))})",
                    "{{host_name}} {{ecosystem}}",
                )
            ],
            "short",
            w=8,
        ),
        table(
            "Package ecosystems",
            "State of each package ecosystem (enabled, disabled, read_only) per server.",
            [query(f"({_server('github_enterprise_server_packages_ecosystem_state', ('ecosystem', 'state'))}) == 1")],
            [],
            keep=["host_name", "ecosystem", "state"],
            hide=["Value"],
            w=8,
            h=8,
        ),
    ]
    return dashboard(
        "github-enterprise-server",
        "GitHub Enterprise Server statistics",
        "Users, repositories, pull requests, issues, packages and Actions adoption of GitHub Enterprise Server "
        "instances, from the Server Statistics they upload daily.",
        variables,
        panels,
        time_from="now-30d",
    )


# -- Copilot -----------------------------------------------------------------------------------

COPILOT = 'org=~"$org"'
TEAM = 'org=~"$org", team=~"$team"'


def _copilot(metric: str, by: str = "", labels: str = "", selector: str = COPILOT) -> str:
    """A daily Copilot gauge, deduplicated per series across replicas, summed by `by`."""
    inner = ", ".join(filter(None, ("org", labels)))
    return f"sum{f' by ({by})' if by else ''} (max by ({inner}) (github_copilot_{metric}{{{selector}}}))"


def _acceptance(prefix: str, by: str = "", labels: str = "", selector: str = COPILOT) -> str:
    """Accepted / generated code of the usage-metrics reports; no sample where nothing was generated."""
    return (
        f"{_copilot(f'{prefix}code_acceptance_activities', by, labels, selector)}\n/\n"
        f"({_copilot(f'{prefix}code_generation_activities', by, labels, selector)} > 0)"
    )


def copilot() -> Json:
    variables = [
        label_variable(
            "org",
            "Organization",
            "github_copilot_daily_active_users",
            description="Organizations with Copilot usage-metrics reports.",
        ),
        label_variable(
            "team",
            "Team",
            'github_copilot_team_active_users{org=~"$org"}',
            description="Teams with Copilot figures (teams under 5 seats are absent).",
        ),
    ]
    day = (
        "on the latest reported day (GitHub reports a day once it is complete, so this is yesterday or "
        "older); the value changes once a day"
    )
    report = "From the usage-metrics reports (organization-1-day)"
    legacy = (
        "From the usage summary (GET /orgs/{org}/copilot/usage, which GitHub is retiring: "
        "github_copilot_usage_endpoint_retired says when it is gone)"
    )
    panels = [
        row("Adoption"),
        *(
            stat(
                title,
                f"{text}, summed over the selected organizations. {report}.",
                [query(_copilot(metric), title.lower())],
                "short",
                w=4,
                decimals=0,
            )
            for title, metric, text in (
                ("Daily active users", "daily_active_users", "Users who used Copilot on the reported day"),
                (
                    "Weekly active users",
                    "weekly_active_users",
                    "Users who used Copilot in the 7 days ending on the reported day",
                ),
                (
                    "Monthly active users",
                    "monthly_active_users",
                    "Users who used Copilot in the 28 days ending on the reported day",
                ),
                (
                    "Monthly chat users",
                    "monthly_active_chat_users",
                    "Users who used Copilot Chat in the 28 days ending on the reported day",
                ),
                (
                    "Monthly agent users",
                    "monthly_active_agent_users",
                    "Users who used agent mode in the 28 days ending on the reported day",
                ),
            )
        ),
        stat(
            "Reported day",
            "Age of the day the Copilot figures describe (its start, 00:00 UTC). GitHub "
            "publishes a day once it is over; more than two days means no newer report.",
            [query(f"time() - max by (org) (github_copilot_report_day_timestamp_seconds{{{COPILOT}}})", "{{org}}")],
            "s",
            w=4,
            thresholds=steps((GREEN, None), (YELLOW, 2 * 86400), (RED, 3 * 86400)),
        ),
        timeseries(
            "Active users",
            f"Daily, weekly and monthly active Copilot users per organization, {day}. {report}.",
            [query(_copilot(f"{m}_active_users", "org"), f"{{{{org}}}} {m}") for m in ("daily", "weekly", "monthly")],
            "short",
        ),
        timeseries(
            "Interactions and code generation",
            f"Prompts users sent to Copilot (chat, inline chat, agent), "
            f"code generation events and accepted code per organization, {day}. {report}.",
            [
                query(_copilot("interactions", "org"), "{{org}} interactions"),
                query(_copilot("code_generation_activities", "org"), "{{org}} generated"),
                query(_copilot("code_acceptance_activities", "org"), "{{org}} accepted"),
            ],
            "short",
        ),
        row("Acceptance"),
        stat(
            "Acceptance ratio",
            f"Accepted code generation events / all code generation events over the selected "
            f"organizations, {day}. {report}.",
            [query(_acceptance(""), "accepted")],
            "percentunit",
            w=6,
            decimals=1,
            thresholds=steps((ORANGE, None), (GREEN, 0.2)),
        ),
        timeseries(
            "Completion acceptance ratio by org",
            "Accepted / shown code completion suggestions per "
            "organization (recording rule org:github_copilot_code_acceptances_per_suggestions:ratio). "
            f"{legacy}.",
            [query(f"org:github_copilot_code_acceptances_per_suggestions:ratio{{{COPILOT}}}", "{{org}}")],
            "percentunit",
            maximum=1,
            w=9,
        ),
        timeseries(
            "Acceptance ratio by feature",
            f"Accepted / generated code per Copilot feature (completions, "
            f"chat, agent, ...) over the selected organizations, {day}. {report}.",
            [query(_acceptance("feature_", "feature", "feature"), "{{feature}}")],
            "percentunit",
            maximum=1,
            w=9,
        ),
        bargauge(
            "Completion acceptance ratio by editor and language",
            "Accepted / shown code completion "
            "suggestions by editor and language over all organizations (recording rule "
            f"editor_language:github_copilot_code_acceptances_per_suggestions:ratio). {legacy}.",
            [
                query(
                    "topk(15, editor_language:github_copilot_code_acceptances_per_suggestions:ratio)",
                    "{{editor}} {{language}}",
                )
            ],
            "percentunit",
            maximum=1,
            w=12,
            h=10,
        ),
        bargauge(
            "Acceptance ratio by language",
            f"Accepted / generated code per language over the selected organizations, all features, {day}. {report}.",
            [query(f"sort_desc({_acceptance('language_', 'language', 'language, feature')})", "{{language}}")],
            "percentunit",
            maximum=1,
            w=12,
            h=10,
        ),
        timeseries(
            "Lines of code",
            f"Lines Copilot suggested to add, and lines added in the editor (accepted "
            f"suggestions, applied blocks, agent edits), {day}. {report}.",
            [query(_copilot("lines_suggested_to_add"), "suggested to add"), query(_copilot("lines_added"), "added")],
            "short",
        ),
        bargauge(
            "Interactions by editor",
            f"Prompts users sent to Copilot by editor (IDE), {day}. {report}.",
            [query(f"sort_desc({_copilot('editor_interactions', 'editor', 'editor')})", "{{editor}}")],
            "short",
        ),
        bargauge(
            "Interactions by model",
            f"Prompts users sent to Copilot by model (chat and agent; completions "
            f"are not attributed to a model), {day}. {report}.",
            [query(f"sort_desc({_copilot('model_interactions', 'model', 'model, feature')})", "{{model}}")],
            "short",
        ),
        row("Teams"),
        table(
            "Teams",
            f"Per team, {day}: members active, interactions, code generated and accepted, and the "
            f"acceptance ratio. Team figures are their members' sums (a member of two teams counts in both). {report}.",
            [
                query(_copilot("team_active_users", "org, team", "team", TEAM)),
                query(_copilot("team_interactions", "org, team", "team", TEAM)),
                query(_copilot("team_code_generation_activities", "org, team", "team", TEAM)),
                query(_copilot("team_code_acceptance_activities", "org, team", "team", TEAM)),
                query(_acceptance("team_", "org, team", "team", TEAM)),
            ],
            [
                ("Value #A", "Active users", "short"),
                ("Value #B", "Interactions", "short"),
                ("Value #C", "Generated", "short"),
                ("Value #D", "Accepted", "short"),
                ("Value #E", "Acceptance ratio", "percentunit"),
            ],
            keep=["org", "team"],
            sort_by="Active users",
            w=12,
            h=9,
        ),
        timeseries(
            "Completion acceptance ratio by team",
            f"Accepted / shown code completion suggestions per team. {legacy}.",
            [
                query(
                    f"{_copilot('team_usage_code_acceptances', 'org, team', 'team', TEAM)}\n/\n"
                    f"({_copilot('team_usage_code_suggestions', 'org, team', 'team', TEAM)} > 0)",
                    "{{team}}",
                )
            ],
            "percentunit",
            maximum=1,
            h=9,
        ),
    ]
    return dashboard(
        "github-copilot",
        "GitHub Copilot adoption",
        "Copilot users, interactions, code generation and acceptance by organization, team, feature, language, "
        "editor and model, from GitHub's Copilot usage-metrics reports and the retiring usage summary.",
        variables,
        panels,
        time_from="now-30d",
    )


DASHBOARDS = {
    "github-api-usage.json": api_usage,
    "github-billing.json": billing,
    "github-copilot.json": copilot,
    "github-enterprise-server.json": enterprise_server,
    "github-exporter-health.json": exporter_health,
    "github-repo-traffic.json": repo_traffic,
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
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    str(path.relative_to(REPO)),
                    "generated",
                )
            )
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
