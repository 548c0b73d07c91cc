#!/usr/bin/env python3
"""Write deploy/grafana/dashboards/*.json, the Grafana dashboards of github-insights-exporter.

The dashboards are built with grafana-foundation-sdk's typed builders (the package's `test` extra
installs it), so the library carries Grafana's schema and this file only says what each panel shows.

    python3 deploy/grafana/generate-dashboards.py                  # rewrite the files (and their copies)
    python3 deploy/grafana/generate-dashboards.py --check          # exit 1 if one is out of date
    python3 deploy/grafana/generate-dashboards.py --selector 'job="gh"' --output /tmp/dashboards

CONFIG, below, plays the part of a monitoring mixin's `_config`: its `selector` is added to every
selector of an exporter series (recording rules and ALERTS carry no job label and are left alone),
so the dashboards can be pointed at another job, namespace or cluster.

Conventions (tests/deploy/test_dashboards.py checks them):
* every panel, query and template variable uses the `datasource` variable (type prometheus);
* per-org (per-enterprise) figures are `max by (org)`, as in the recording rules, so identical HA
  replicas are counted once;
* ratios are 0-1 with unit percentunit, durations in seconds, money in USD;
* counters that step once per collector run (5m by default) are graphed on panels with a 5m
  minimum interval, so `$__rate_interval` spans a run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, common, dashboard, prometheus, stat, statetimeline, table
from grafana_foundation_sdk.builders import timeseries as ts
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.prometheus import PromQueryFormat, QueryEditorMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from generated_files import update  # noqa: E402  (deploy/generated_files.py)

HERE = Path(__file__).resolve().parent
OUTPUT_DIR = HERE / "dashboards"
# Copies for the deployments that cannot read files outside their own directory (Helm's .Files,
# kustomize's load restrictor); written and checked with the files above.
COPIES = (HERE.parent / "helm" / "github-insights-exporter" / "files" / "dashboards",
          HERE.parent / "kubernetes" / "base" / "dashboards")


@dataclass(frozen=True)
class Config:
    """What a user changes to point the dashboards at their Prometheus, like a mixin's `_config`."""

    selector: str = 'job="github-insights-exporter"'  # matchers of the exporter's own series
    tags: tuple[str, ...] = ("github-insights-exporter", "github")
    refresh: str = "1m"
    collector_interval: str = "5m"  # collectors.NAME.interval's default

    def series(self, metric: str, *matchers: str) -> str:
        """An exporter series selector: the configured matchers, then the query's own."""
        inside = ", ".join(m for m in (self.selector, *matchers) if m)
        return f"{metric}{{{inside}}}" if inside else metric


CONFIG = Config()

DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
GREEN, YELLOW, ORANGE, RED, BLUE = "green", "yellow", "orange", "red", "blue"

Item = Builder[Any]


# -- queries and panels ------------------------------------------------------------------------


def query(expr: str, legend: str = "", *, instant: bool = False) -> prometheus.Dataquery:
    """A Prometheus query; refIds are given by the panel."""
    target = prometheus.Dataquery().datasource(DATASOURCE).editor_mode(QueryEditorMode.CODE).expr(expr)
    target = target.legend_format(legend or "__auto")
    return target.instant() if instant else target.range()


def steps(*pairs: tuple[str, float | None]) -> dashboard.ThresholdsConfig:
    """Absolute thresholds: (colour, from value); the first has no lower bound."""
    return (
        dashboard.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=v, color=c) for c, v in pairs])
    )


BASE = ((GREEN, None),)


def value_map(mapping: dict[str, tuple[str, str]]) -> dm.ValueMap:
    """Value mappings: raw value -> (text, colour)."""
    return dm.ValueMap(
        options={
            value: dm.ValueMappingResult(text=text, color=color, index=i)
            for i, (value, (text, color)) in enumerate(mapping.items())
        }
    )


def _common(panel: Any, title: str, description: str, targets: Sequence[prometheus.Dataquery], *, unit: str, w: int,
            h: int, interval: str | None = None) -> Any:
    """What every panel has: datasource variable, size, unit and queries named A, B, ..."""
    panel = panel.title(title).description(description).datasource(DATASOURCE).span(w).height(h).unit(unit)
    panel = panel.targets([t.ref_id(chr(ord("A") + i)) for i, t in enumerate(targets)])
    return panel.interval(interval) if interval else panel


def timeseries(title: str, description: str, targets: Sequence[prometheus.Dataquery], unit: str, *, w: int = 12,
               h: int = 8, thresholds: Sequence[tuple[str, float | None]] = BASE, threshold_line: bool = False,
               maximum: float | None = None, interval: str | None = None, stack: bool = False,
               calcs: Sequence[str] = ("mean", "max", "lastNotNull")) -> ts.Panel:
    panel = (
        _common(ts.Panel(), title, description, targets, unit=unit, w=w, h=h, interval=interval)
        .draw_style(cm.GraphDrawStyle.LINE).line_width(1).fill_opacity(10).show_points(cm.VisibilityMode.NEVER)
        .span_nulls(False).axis_soft_min(0)
        .stacking(common.StackingConfig().mode(cm.StackingMode.NORMAL if stack else cm.StackingMode.NONE).group("A"))
        .thresholds_style(common.GraphThresholdsStyleConfig().mode(
            cm.GraphThresholdsStyleMode.DASHED if threshold_line else cm.GraphThresholdsStyleMode.OFF))
        .color_scheme(dashboard.FieldColor().mode(dm.FieldColorModeId.PALETTE_CLASSIC))
        .thresholds(steps(*thresholds))
        .legend(common.VizLegendOptions().display_mode(cm.LegendDisplayMode.TABLE)
                .placement(cm.LegendPlacement.BOTTOM).show_legend(True).calcs(list(calcs)))
        .tooltip(common.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING))
    )
    return panel.max(maximum) if maximum is not None else panel


def _last_value() -> common.ReduceDataOptions:
    return common.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)


def stat_panel(title: str, description: str, targets: Sequence[prometheus.Dataquery], unit: str, *, w: int = 6,
               h: int = 4, thresholds: Sequence[tuple[str, float | None]] = BASE,
               mappings: Sequence[dm.ValueMap] = (), graph: bool = True,
               text_mode: cm.BigValueTextMode = cm.BigValueTextMode.AUTO,
               color_mode: cm.BigValueColorMode = cm.BigValueColorMode.VALUE,
               decimals: int | None = None) -> stat.Panel:
    panel = (
        _common(stat.Panel(), title, description, targets, unit=unit, w=w, h=h)
        .color_scheme(dashboard.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        .thresholds(steps(*thresholds)).mappings(list(mappings))
        .reduce_options(_last_value()).orientation(cm.VizOrientation.AUTO).text_mode(text_mode)
        .color_mode(color_mode).graph_mode(cm.BigValueGraphMode.AREA if graph else cm.BigValueGraphMode.NONE)
        .justify_mode(cm.BigValueJustifyMode.AUTO).wide_layout(True)
    )
    return panel.decimals(decimals) if decimals is not None else panel


def state_timeline(title: str, description: str, targets: Sequence[prometheus.Dataquery], *,
                   mappings: Sequence[dm.ValueMap], w: int = 24, h: int = 6) -> statetimeline.Panel:
    return (
        _common(statetimeline.Panel(), title, description, targets, unit="none", w=w, h=h)
        .color_scheme(dashboard.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        .thresholds(steps(*BASE)).mappings(list(mappings)).fill_opacity(80).line_width(0)
        .show_value(cm.VisibilityMode.NEVER).merge_values(True).row_height(0.8)
        .align_value(cm.TimelineValueAlignment.LEFT)
        .legend(common.VizLegendOptions().display_mode(cm.LegendDisplayMode.LIST)
                .placement(cm.LegendPlacement.BOTTOM).show_legend(False))
        .tooltip(common.VizTooltipOptions().mode(cm.TooltipDisplayMode.SINGLE).sort(cm.SortOrder.NONE))
    )


def bars(title: str, description: str, targets: Sequence[prometheus.Dataquery], unit: str, *, w: int = 12,
         h: int = 8, maximum: float | None = None) -> bargauge.Panel:
    """Horizontal bars of an instant query, one per series, e.g. a topk() ranking."""
    panel = (
        _common(bargauge.Panel(), title, description, [t.instant() for t in targets], unit=unit, w=w, h=h)
        .min(0).color_scheme(dashboard.FieldColor().mode(dm.FieldColorModeId.CONTINUOUS_BL_YL_RD))
        .thresholds(steps(*BASE)).reduce_options(_last_value()).orientation(cm.VizOrientation.HORIZONTAL)
        .display_mode(cm.BarGaugeDisplayMode.GRADIENT).show_unfilled(True).value_mode(cm.BarGaugeValueMode.COLOR)
        .name_placement(cm.BarGaugeNamePlacement.LEFT).sizing(cm.BarGaugeSizing.AUTO).min_viz_height(16)
        .max_viz_height(300)
    )
    return panel.max(maximum) if maximum is not None else panel


def grid(title: str, description: str, targets: Sequence[prometheus.Dataquery],
         columns: Sequence[tuple[str, str, str]], *, keep: Sequence[str], hide: Sequence[str] = (), w: int = 24,
         h: int = 8, sort_by: str | None = None,
         thresholds: dict[str, Sequence[tuple[str, float | None]]] | None = None,
         mappings: dict[str, Sequence[dm.ValueMap]] | None = None) -> table.Panel:
    """An instant table joining one value column per query on the `keep` labels.

    columns: (field produced by Grafana, e.g. "Value #A"; display name; unit). hide: fields not shown,
    e.g. the value of a query that only contributes labels.
    """
    panel = (
        _common(table.Panel(), title, description,
                [t.format(PromQueryFormat.TABLE).instant() for t in targets], unit="short", w=w, h=h)
        .color_scheme(dashboard.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS)).thresholds(steps(*BASE))
        .align(cm.FieldTextAlignment.AUTO).cell_options(cm.TableAutoCellOptions()).filterable(False)
        .show_header(True).cell_height(cm.TableCellHeight.SM)
        .footer(common.TableFooterOptions().show(False).reducer(["sum"]).fields([]))
    )
    for field, name, unit in columns:
        properties = [dm.DynamicConfigValue(id_val="displayName", value=name),
                      dm.DynamicConfigValue(id_val="unit", value=unit)]
        if thresholds and field in thresholds:
            properties += [dm.DynamicConfigValue(id_val="thresholds", value=steps(*thresholds[field]).build()),
                           dm.DynamicConfigValue(id_val="custom.cellOptions", value=cm.TableColorTextCellOptions())]
        if mappings and field in mappings:
            properties.append(dm.DynamicConfigValue(id_val="mappings", value=list(mappings[field])))
        panel = panel.override_by_name(field, properties)
    order = {name: i for i, name in enumerate([*keep, *(c[0] for c in columns)])}
    panel = panel.transformations([
        dm.DataTransformerConfig(id_val="merge", options={}),
        dm.DataTransformerConfig(id_val="organize", options={
            "excludeByName": dict.fromkeys(("Time", *hide), True), "indexByName": order, "renameByName": {}}),
    ])
    if sort_by:
        panel = panel.sort_by([common.TableSortByFieldState().display_name(sort_by).desc(True)])
    return panel


def row(title: str) -> dashboard.Row:
    return dashboard.Row(title).collapsed(False)


# -- template variables ------------------------------------------------------------------------


def label_variable(name: str, label: str, selector: str, *, description: str,
                   multi: bool = True) -> dashboard.QueryVariable:
    """A query variable over `label_values(selector, name)`; multi-valued with All by default."""
    variable = (
        dashboard.QueryVariable(name).label(label).description(description).datasource(DATASOURCE)
        .query(f"label_values({selector}, {name})").refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC).regex("").multi(multi).include_all(multi)
    )
    if multi:
        variable = variable.all_value(".*").current(dm.VariableOption(selected=True, text=["All"], value=["$__all"]))
    return variable


# -- dashboards --------------------------------------------------------------------------------


class PrometheusAnnotation(dm.AnnotationQuery):
    """The Prometheus datasource's annotation fields, which the SDK's generic annotation model does not carry."""

    def __init__(self, *, title: str, text: str, tag_keys: str, step: str, **fields: Any) -> None:
        super().__init__(**fields)
        self.extra = {"titleFormat": title, "textFormat": text, "tagKeys": tag_keys, "step": step,
                      "useValueForTime": False}

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(), **self.extra}


class Annotation(Builder[dm.AnnotationQuery]):
    def __init__(self, query: PrometheusAnnotation) -> None:
        self._internal = query

    def build(self) -> dm.AnnotationQuery:
        return self._internal


def place(items: Iterable[Item]) -> list[Item]:
    """Ids in order and grid positions: panels flow left to right, 24 columns, rows start new lines."""
    placed = []
    x = y = line_height = 0
    for number, item in enumerate(items, start=1):
        is_row = isinstance(item, dashboard.Row)
        size = item.build().grid_pos
        w, h = (24, 1) if is_row else (size.w, size.h)
        if is_row or x + w > 24:
            y += line_height
            x = line_height = 0
        item.id(number).grid_pos(dm.GridPos(h=h, w=w, x=x, y=y))
        x += w
        line_height = max(line_height, h)
        if is_row:
            y += h
            x = line_height = 0
        placed.append(item)
    return placed


def build(c: Config, uid: str, title: str, description: str, variables: Sequence[dashboard.QueryVariable],
          items: Sequence[Item], *, annotations: Sequence[PrometheusAnnotation] = (),
          time_from: str = "now-24h") -> dashboard.Dashboard:
    board = (
        dashboard.Dashboard(title).uid(uid).description(description).tags(list(c.tags)).editable()
        .tooltip(dm.DashboardCursorSync.CROSSHAIR).fiscal_year_start_month(0).live_now(False).refresh(c.refresh)
        .time(time_from, "now").timezone("browser").version(1).week_start("")
        .link(dashboard.DashboardLink("GitHub dashboards").type(dm.DashboardLinkType.DASHBOARDS).tags([c.tags[0]])
              .as_dropdown(True).include_vars(False).keep_time(True).icon("external link").target_blank(False)
              .tooltip("").url(""))
        .annotations([Annotation(a) for a in annotations])
        .variables([dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus"), *variables])
    )
    for item in place(items):
        board = board.with_row(item) if isinstance(item, dashboard.Row) else board.with_panel(item)
    return board


# -- API usage and rate limiting ---------------------------------------------------------------

ORG = 'org=~"$org"'
RATIO_1H = "org:github_api_insights_rate_limited_requests_per_requests:ratio_rate1h"
SPIKE_RATIO, SPIKE_REQUESTS = 0.05, 100  # GitHubAPIRateLimitedSpike's thresholds (deploy/prometheus/rules)


def api_usage(c: Config) -> dashboard.Dashboard:
    def m(metric: str) -> str:
        return c.series(metric, ORG)

    def actor(metric: str, extra: Sequence[str] = ()) -> str:
        """A per-actor series, deduplicated across replicas, with the actor's name and subject from actor_info."""
        by = ", ".join(("org", "actor_type", "actor_id", *extra))
        return (
            f"max by ({by}) ({m(metric)})\n"
            "* on (org, actor_type, actor_id) group_left (actor_name, subject_name)\n"
            f"topk by (org, actor_type, actor_id) (1, {m('github_api_insights_actor_info')})"
        )

    org_var = label_variable("org", "Organization", c.series("github_api_insights_requests_total"),
                             description="Organizations with API Insights data (targets.orgs).")
    lag_note = (
        "API Insights data arrives 4-6 hours late: every figure here describes requests made hours "
        "before they were reported."
    )
    share = ((GREEN, None), (ORANGE, SPIKE_RATIO / 2), (RED, SPIKE_RATIO))
    route = ("http_method", "route")
    items: list[Item] = [
        row("Rate limiting"),
        stat_panel(
            "Rate-limited share, last hour",
            "Share of the org's newly reported API requests that GitHub rate limited over the last hour: "
            f"the ratio GitHubAPIRateLimitedSpike evaluates (it fires at {SPIKE_RATIO:.0%} together with "
            f"{SPIKE_REQUESTS} rate-limited requests). {lag_note}",
            [query(f"{RATIO_1H}{{{ORG}}}", "{{org}}")], "percentunit", thresholds=share, decimals=1,
        ),
        stat_panel(
            "Rate-limited requests, last hour",
            "Rate-limited API requests newly reported for the org over the last hour; the spike alert "
            f"also needs at least {SPIKE_REQUESTS} of them.",
            [query(f"max by (org) (increase({m('github_api_insights_rate_limited_requests_total')}[1h]))", "{{org}}")],
            "short", thresholds=((GREEN, None), (RED, SPIKE_REQUESTS)), decimals=0,
        ),
        stat_panel(
            "Rate-limited share, summary window",
            "Share of the org's API requests that were rate limited over the trailing summary window "
            "(collectors.api_insights.summary_window, 24h by default), from API Insights' summary-stats.",
            [query(f"max by (org) ({m('github_api_insights_window_rate_limited_requests')})\n/\n"
                   f"(max by (org) ({m('github_api_insights_window_requests')}) > 0)", "{{org}}")],
            "percentunit", thresholds=share, decimals=2,
        ),
        stat_panel(
            "API Insights data lag",
            "Age of the newest API Insights time bucket holding any requests. GitHub usually reports 4-6 "
            "hours late; GitHubInsightsDataStale fires above 8 hours.",
            [query(f"time() - max by (org) ({m('github_api_insights_data_latest_timestamp_seconds')})", "{{org}}")],
            "s", thresholds=((GREEN, None), (YELLOW, 6 * 3600), (RED, 8 * 3600)),
        ),
        timeseries(
            "Rate-limited share (1h window)",
            "The spike alert's ratio over time: rate-limited / all newly reported requests over the last "
            f"hour. The dashed line is the alert's {SPIKE_RATIO:.0%} threshold; red marks on the graphs "
            "are GitHubAPIRateLimitedSpike firing. " + lag_note,
            [query(f"{RATIO_1H}{{{ORG}}}", "{{org}}")], "percentunit",
            thresholds=((GREEN, None), (RED, SPIKE_RATIO)), threshold_line=True,
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
            [query(f"max by (org) ({m('github_api_insights_window_requests')})", "{{org}} all"),
             query(f"max by (org) ({m('github_api_insights_window_rate_limited_requests')})", "{{org}} rate limited")],
            "short",
        ),
        row("Who is rate limited: subjects, actors and routes"),
        bars(
            "Top subjects by rate-limited requests",
            "Users and GitHub Apps with the most rate-limited requests over the trailing summary window, "
            "from subject-stats (the collectors.api_insights.top_subjects busiest subjects are followed). "
            "The runbook of GitHubAPIRateLimitedSpike starts here.",
            [query("topk(10, max by (org, subject_type, subject_name) "
                   f"({m('github_api_insights_subject_window_rate_limited_requests')}))",
                   "{{subject_name}} ({{subject_type}})")],
            "short",
        ),
        bars(
            "Top subjects by requests",
            "Users and GitHub Apps with the most API requests over the trailing summary window.",
            [query("topk(10, max by (org, subject_type, subject_name) "
                   f"({m('github_api_insights_subject_window_requests')}))",
                   "{{subject_name}} ({{subject_type}})")],
            "short",
        ),
        timeseries(
            "Rate-limited requests per minute by followed actor",
            "Newly reported rate-limited requests per minute, over 15 minutes, of the ten followed actors "
            "(tokens, OAuth grants, app installations) with the most; names from github_api_insights_actor_info.",
            [query("topk(10, 60 * max by (org, actor_type, actor_id) "
                   f"(rate({m('github_api_insights_actor_rate_limited_requests_total')}[15m])))\n"
                   "* on (org, actor_type, actor_id) group_left (actor_name, subject_name)\n"
                   f"topk by (org, actor_type, actor_id) (1, {m('github_api_insights_actor_info')})",
                   "{{actor_name}} ({{actor_type}}, {{subject_name}})")],
            "reqpm",
        ),
        timeseries(
            "Rate-limited requests per minute by followed user",
            "Newly reported rate-limited requests per minute, over 15 minutes, of each followed user "
            "through all their actors.",
            [query("60 * max by (org, user_id) "
                   f"(rate({m('github_api_insights_user_rate_limited_requests_total')}[15m]))\n"
                   "* on (org, user_id) group_left (subject_name)\n"
                   f"topk by (org, user_id) (1, {m('github_api_insights_user_info')})", "{{subject_name}}")],
            "reqpm",
        ),
        grid(
            "Followed actors",
            "Each followed actor over the trailing summary window: requests, rate-limited requests, their share, "
            "and how long ago its last rate-limited request was.",
            [
                query(actor("github_api_insights_actor_window_requests")),
                query(actor("github_api_insights_actor_window_rate_limited_requests")),
                query(actor("github_api_insights_actor_window_rate_limited_requests")
                      + "\n/ on (org, actor_type, actor_id, actor_name, subject_name)\n("
                      + actor("github_api_insights_actor_window_requests") + " > 0)"),
                query(f"time() - {actor('github_api_insights_actor_last_rate_limited_timestamp_seconds')}"),
            ],
            [("Value #A", "Requests", "short"), ("Value #B", "Rate limited", "short"),
             ("Value #C", "Rate-limited share", "percentunit"), ("Value #D", "Last rate limited", "s")],
            keep=["actor_name", "actor_type", "subject_name"], sort_by="Rate limited", h=9,
            thresholds={"Value #C": share},
        ),
        grid(
            "Top routes of followed actors",
            "Routes (GitHub's route templates) of the followed actors with the most rate-limited requests over "
            "the trailing summary window; the collectors.api_insights.top_routes busiest routes per actor.",
            [query(f"topk(20, {actor('github_api_insights_route_window_rate_limited_requests', route)})"),
             query(actor("github_api_insights_route_window_requests", route))],
            [("Value #A", "Rate limited", "short"), ("Value #B", "Requests", "short")],
            keep=["actor_name", "http_method", "route"], sort_by="Rate limited", h=9,
        ),
    ]
    spike = PrometheusAnnotation(
        name="Rate-limited spike alerts", enable=True, hide=False, icon_color="red", datasource=DATASOURCE,
        expr=f'ALERTS{{alertname="GitHubAPIRateLimitedSpike", alertstate="firing", {ORG}}}',
        title="GitHubAPIRateLimitedSpike", text="org {{org}}", tag_keys="org,severity", step="1m",
    )
    return build(
        c, "github-api-usage", "GitHub API usage and rate limiting",
        "API Insights per organization: request volume, rate-limited share and the data lag. "
        "From github-insights-exporter and its recording rules.",
        [org_var], items, annotations=[spike],
    )


# -- exporter health ---------------------------------------------------------------------------

INSTANCE = 'job=~"$job", instance=~"$instance"'
RUN = f'{INSTANCE}, collector=~"$collector", target=~"$target"'
COLLECTOR = f'{INSTANCE}, collector=~"$collector"'  # the drift gauges have no target label


def exporter_health(c: Config) -> dashboard.Dashboard:
    def m(metric: str, selector: str = INSTANCE) -> str:
        return c.series(metric, selector)

    def or_zero(counter: str, by: str, window: str = "$__rate_interval") -> str:
        """rate() of a counter that only appears once something happens, or 0 for every endpoint that was called."""
        return (
            f"sum by ({by}) (rate({m(counter)}[{window}]))\n"
            f"or\nsum by ({by}) (rate({m('github_exporter_api_requests_total')}[{window}])) * 0"
        )

    def by_run(metric: str) -> str:
        return f"max by (collector, target) ({m(metric, RUN)})"

    def quantile(q: str) -> str:
        return (f"histogram_quantile({q}, sum by (endpoint, le) "
                f"(rate({m('github_exporter_api_request_duration_seconds_bucket')}[$__rate_interval])))")

    def field_list(gauge: str) -> str:
        """One series per changed field; max by drops the instance, as the alert does."""
        return f"max by (collector, field) ({m(gauge, COLLECTOR)}) > 0"

    def count_fields(gauge: str) -> str:
        """How many fields, 0 rather than no data when none changed (the healthy case)."""
        return f"count({field_list(gauge)}) or vector(0)"

    fields_changed = ("GitHubExporterFieldsChanged fires after 10 minutes; its runbook is in "
                      "deploy/prometheus/README.md#githubexporterfieldschanged.")
    drifted = ((GREEN, None), (ORANGE, 1))

    variables = [
        label_variable("job", "Job", c.series("github_exporter_build_info"),
                       description="Prometheus job scraping the exporter."),
        label_variable("instance", "Instance", c.series("github_exporter_build_info", 'job=~"$job"'),
                       description="Exporter replicas of the job."),
        label_variable("collector", "Collector", m("github_exporter_collector_success"),
                       description="Metric families (collectors) enabled on the instances."),
        label_variable("target", "Target",
                       m("github_exporter_collector_success", COLLECTOR),
                       description="Orgs, enterprises and repositories the collectors read."),
    ]
    requests_rate = f"sum by (endpoint) (rate({m('github_exporter_api_requests_total')}[$__rate_interval]))"
    every_run = c.collector_interval
    per_run = (
        f"Each collector run sends its requests at once; the panel's {every_run} minimum interval "
        "(collectors' default interval) keeps the rate from dropping to zero between runs."
    )
    outcome = value_map({"1": ("succeeded", GREEN), "0": ("failed", RED)})
    left = f"{m('github_rate_limit_remaining')} / {m('github_rate_limit_limit')}"
    age = ((GREEN, None), (YELLOW, 900), (RED, 3600))
    items: list[Item] = [
        row("Overview"),
        stat_panel(
            "Scrape", "Whether Prometheus reaches the exporter (up). GitHubExporterDown fires after 5 minutes down.",
            [query(m("up"), "{{instance}}")], "none", w=4, graph=False, thresholds=((RED, None), (GREEN, 1)),
            mappings=[value_map({"1": ("up", GREEN), "0": ("down", RED)})],
        ),
        stat_panel(
            "Version", "Exporter version and Python version (github_exporter_build_info).",
            [query(m("github_exporter_build_info"), "{{version}} (Python {{python_version}})", instant=True)],
            "none", w=4, graph=False, text_mode=cm.BigValueTextMode.NAME, color_mode=cm.BigValueColorMode.NONE,
        ),
        stat_panel(
            "Failing collectors",
            "Collector/target pairs whose last run failed; their last good data is served until store.max_age.",
            [query(f"count({m('github_exporter_collector_success', RUN)} == 0) or vector(0)", "failing")],
            "short", w=4, thresholds=((GREEN, None), (RED, 1)), decimals=0,
        ),
        stat_panel(
            "Oldest successful run",
            "Time since the least recent successful run among the selected "
            "collectors and targets. GitHubExporterCollectorStale fires above 1 hour.",
            [query(f"max(time() - {m('github_exporter_collector_last_success_timestamp_seconds', RUN)})", "oldest")],
            "s", w=4, thresholds=age,
        ),
        stat_panel(
            "Rate limit left",
            "Share of each GitHub rate-limit resource the exporter's credentials have left "
            "(x-ratelimit-remaining / x-ratelimit-limit). GitHubExporterTokenRateLimitLow fires below 10%.",
            [query(left, "{{resource}}")], "percentunit", w=4, thresholds=((RED, None), (ORANGE, 0.1), (GREEN, 0.25)),
        ),
        stat_panel(
            "Rate-limit waits",
            "Times the client paused for a primary or secondary rate limit over the dashboard's time range.",
            [query(f"sum(increase({m('github_exporter_api_rate_limit_waits_total')}[$__range])) or vector(0)",
                   "waits", instant=True)],
            "short", w=4, graph=False, thresholds=((GREEN, None), (ORANGE, 1)), decimals=0,
        ),
        row("GitHub field drift"),
        stat_panel(
            "GitHub fields not mapped",
            "Fields GitHub sent since the exporter started that a collector neither exports nor deliberately "
            f"skips: new or renamed fields. {fields_changed} The listed paths "
            "(github_exporter_unmapped_fields, at most 50 per collector) plus those beyond the list "
            "(github_exporter_unmapped_fields_dropped_total).",
            [query(f"({count_fields('github_exporter_unmapped_fields')})\n+\n"
                   f"(sum(max by (collector) ({m('github_exporter_unmapped_fields_dropped_total', COLLECTOR)})) "
                   "or vector(0))", "not mapped")],
            "short", w=4, h=6, thresholds=drifted, decimals=0,
        ),
        stat_panel(
            "Documented fields missing",
            "Documented fields that every record carries and no record of a collector's last run held: "
            f"renamed or dropped by GitHub (github_exporter_missing_fields). {fields_changed}",
            [query(count_fields("github_exporter_missing_fields"), "missing")],
            "short", w=4, h=6, thresholds=drifted, decimals=0,
        ),
        grid(
            "Changed GitHub fields",
            "Each field a collector found changed: sent but not mapped (github_exporter_unmapped_fields, until the "
            "exporter restarts) or documented but missing from its last run (github_exporter_missing_fields); "
            f"a rename shows as both. Empty while GitHub sends what the exporter knows. {fields_changed}",
            [query(field_list("github_exporter_unmapped_fields")), query(field_list("github_exporter_missing_fields"))],
            [("Value #A", "Sent, not mapped", "none"), ("Value #B", "Documented, missing", "none")],
            keep=["collector", "field"], w=16, h=6,
            mappings={"Value #A": [value_map({"1": ("yes", ORANGE)})], "Value #B": [value_map({"1": ("yes", ORANGE)})]},
        ),
        row("Collectors"),
        grid(
            "Collector runs",
            "One line per collector and target: outcome of the last run, how long ago the last successful "
            "one was, its duration and the configured interval.",
            [query(by_run("github_exporter_collector_success")),
             query(f"time() - {by_run('github_exporter_collector_last_success_timestamp_seconds')}"),
             query(by_run("github_exporter_collector_duration_seconds")),
             query(by_run("github_exporter_collector_interval_seconds"))],
            [("Value #A", "Last run", "none"), ("Value #B", "Since last success", "s"),
             ("Value #C", "Duration", "s"), ("Value #D", "Interval", "s")],
            keep=["collector", "target"], h=7,
            thresholds={"Value #A": ((RED, None), (GREEN, 1)), "Value #B": age}, mappings={"Value #A": [outcome]},
        ),
        state_timeline(
            "Last run outcome", "Outcome of each collector's last run for each target over time.",
            [query(by_run("github_exporter_collector_success"), "{{collector}} {{target}}")], mappings=[outcome],
        ),
        timeseries(
            "Time since last successful run",
            "Age of each collector's cached data. The dashed line is GitHubExporterCollectorStale's 1 hour; "
            "data is dropped at store.max_age (3h by default).",
            [query(f"time() - {by_run('github_exporter_collector_last_success_timestamp_seconds')}",
                   "{{collector}} {{target}}")],
            "s", thresholds=((GREEN, None), (RED, 3600)), threshold_line=True,
        ),
        timeseries(
            "Run duration",
            "How long each collector's last run took, GitHub's answers and rate-limit waits included.",
            [query(by_run("github_exporter_collector_duration_seconds"), "{{collector}} {{target}}")], "s",
        ),
        timeseries(
            "Failed runs, last hour",
            "Share of each collector's runs in the last hour that failed. The dashed line is the 25% at "
            "which GitHubExporterCollectorFailing fires.",
            [query(f"max by (collector, target) (increase({m('github_exporter_collector_failures_total', RUN)}[1h]))"
                   f"\n/\n(max by (collector, target) (increase({m('github_exporter_collector_runs_total', RUN)}[1h]))"
                   " > 0)", "{{collector}} {{target}}")],
            "percentunit", maximum=1, thresholds=((GREEN, None), (RED, 0.25)), threshold_line=True,
        ),
        timeseries(
            "Runs per hour",
            "Collector runs per hour, successful or not; a flat zero means the collector is stuck.",
            [query(f"sum by (collector, target) (increase({m('github_exporter_collector_runs_total', RUN)}[1h]))",
                   "{{collector}} {{target}}")],
            "short",
        ),
        row("GitHub API requests"),
        timeseries(
            "Requests by endpoint",
            "HTTP requests per second the exporter sends to GitHub, by route template. " + per_run,
            [query(requests_rate, "{{endpoint}}")], "reqps", interval=every_run,
        ),
        timeseries(
            "Failed requests by endpoint",
            "Requests per second that failed (transport error, unreadable "
            "body or HTTP status 400 or more); 0 for endpoints without failures. Retries and rate-limit "
            "refusals count too, so a failed request does not always fail a run. " + per_run,
            [query(or_zero("github_exporter_api_request_failures_total", "endpoint"), "{{endpoint}}")],
            "reqps", interval=every_run,
        ),
        timeseries(
            "304 Not Modified share by endpoint",
            "Share of requests answered 304 to a conditional request (ETag / Last-Modified): the cached "
            "body was reused and no primary rate limit was spent. " + per_run,
            [query(f"({or_zero('github_exporter_api_not_modified_responses_total', 'endpoint')})\n/\n"
                   f"({requests_rate} > 0)", "{{endpoint}}")],
            "percentunit", maximum=1, interval=every_run,
        ),
        timeseries(
            "Request duration by endpoint",
            "95th and 50th percentile of the time from sending a request to reading its whole answer. " + per_run,
            [query(quantile("0.95"), "p95 {{endpoint}}"), query(quantile("0.5"), "p50 {{endpoint}}")],
            "s", interval=every_run,
        ),
        row("GitHub rate limits"),
        timeseries(
            "Rate limit left",
            "Share of each rate-limit resource left for the exporter's credentials. "
            "The dashed line is GitHubExporterTokenRateLimitLow's 10%.",
            [query(left, "{{credential}} {{resource}} {{instance}}")],
            "percentunit", maximum=1, thresholds=((RED, None), (GREEN, 0.1)), threshold_line=True, w=8,
        ),
        timeseries(
            "Requests left and limit",
            "x-ratelimit-remaining and x-ratelimit-limit of the exporter's "
            "credentials (the token, or each GitHub App installation) by resource; every user of the same token "
            "or app installation shares them.",
            [query(m("github_rate_limit_remaining"), "{{credential}} {{resource}} remaining"),
             query(m("github_rate_limit_limit"), "{{credential}} {{resource}} limit")],
            "short", w=8,
        ),
        timeseries(
            "Time to reset", "Time until each rate-limit window resets (x-ratelimit-reset).",
            [query(f"{m('github_rate_limit_reset_timestamp_seconds')} - time()",
                   "{{credential}} {{resource}} {{instance}}")],
            "s", w=8, calcs=("lastNotNull",),
        ),
    ]
    return build(
        c, "github-exporter-health", "GitHub insights exporter health",
        "github-insights-exporter itself: collector runs, GitHub API requests, 304s and rate limits.",
        variables, items, time_from="now-6h",
    )


# -- repository traffic ------------------------------------------------------------------------

REPOSITORY = 'repository=~"$repository"'


def repo_traffic(c: Config) -> dashboard.Dashboard:
    def repo(metric: str, extra: Sequence[str] = ()) -> str:
        return f"max by ({', '.join(('repository', *extra))}) ({c.series(metric, REPOSITORY)})"

    def top(metric: str, key: str) -> str:
        return (f"{repo(metric, (key,))}\n* on (repository, path) group_left (title)\n"
                f"topk by (repository, path) (1, {c.series('github_repo_traffic_top_path_info', REPOSITORY)})")

    repository = label_variable("repository", "Repository", c.series("github_repo_traffic_views_14d"),
                                description="Repositories with traffic data (owner/name).")
    fourteen = "over GitHub's 14-day window (today's partial UTC day included), summed over the selected repositories"
    uniques = " Unique counts are per repository: someone who visits two repositories counts twice."
    items: list[Item] = [
        row("Last 14 days"),
        *(
            stat_panel(title, f"{text} {fourteen}.{uniques if 'Unique' in title else ''}",
                       [query(f"sum({repo(metric)})", title.lower())], "short", decimals=0)
            for title, metric, text in (
                ("Views", "github_repo_traffic_views_14d", "Page views"),
                ("Unique visitors", "github_repo_traffic_unique_visitors_14d", "Unique visitors"),
                ("Clones", "github_repo_traffic_clones_14d", "Clones"),
                ("Unique cloners", "github_repo_traffic_unique_cloners_14d", "Unique cloners"),
            )
        ),
        bars("Views by repository", "Page views per repository over GitHub's 14-day window.",
             [query(f"sort_desc(topk(15, {repo('github_repo_traffic_views_14d')}))", "{{repository}}")], "short"),
        bars("Clones by repository", "Clones per repository over GitHub's 14-day window.",
             [query(f"sort_desc(topk(15, {repo('github_repo_traffic_clones_14d')}))", "{{repository}}")], "short"),
        row("Per day"),
        timeseries(
            "Views per day",
            "Page views and unique visitors on the latest complete UTC day, per repository; "
            "the value changes once a day, when GitHub's day is complete.",
            [query(repo("github_repo_traffic_day_views"), "{{repository}} views"),
             query(repo("github_repo_traffic_day_unique_visitors"), "{{repository}} unique")],
            "short",
        ),
        timeseries(
            "Clones per day", "Clones and unique cloners on the latest complete UTC day, per repository.",
            [query(repo("github_repo_traffic_day_clones"), "{{repository}} clones"),
             query(repo("github_repo_traffic_day_unique_cloners"), "{{repository}} unique")],
            "short",
        ),
        row("Popular content and referrers"),
        grid(
            "Top paths",
            "The repositories' most viewed paths over the 14-day window (up to 10 each), with their page titles.",
            [query(top("github_repo_traffic_top_path_views_14d", "path")),
             query(top("github_repo_traffic_top_path_unique_visitors_14d", "path"))],
            [("Value #A", "Views", "short"), ("Value #B", "Unique visitors", "short")],
            keep=["repository", "path", "title"], sort_by="Views", w=12, h=10,
        ),
        grid(
            "Top referrers",
            "Sites referring the most visitors to the repositories over the 14-day window (up to 10 each).",
            [query(repo("github_repo_traffic_top_referrer_views_14d", ("referrer",))),
             query(repo("github_repo_traffic_top_referrer_unique_visitors_14d", ("referrer",)))],
            [("Value #A", "Views", "short"), ("Value #B", "Unique visitors", "short")],
            keep=["repository", "referrer"], sort_by="Views", w=12, h=10,
        ),
        row("Collection"),
        stat_panel(
            "Repositories exported",
            "Repositories whose traffic the exporter read in its last run, by source "
            "(an owner from collectors.repo_traffic.discover, or targets.repositories).",
            [query(f"sum by (source) (max by (source, instance) ({c.series('github_repo_traffic_repositories')}))",
                   "{{source}}")],
            "short", w=8, decimals=0,
        ),
        timeseries(
            "Skipped repositories",
            "Repositories skipped in the last run because GitHub refused their traffic, "
            "by reason: forbidden (403: no push access, or traffic unavailable), not_found (404/410), moved "
            "(renamed or transferred), unavailable (another 4xx). The log names them.",
            [query(f"sum by (reason) ({c.series('github_repo_traffic_skipped_repositories')})", "{{reason}}")],
            "short", w=16,
        ),
    ]
    return build(
        c, "github-repo-traffic", "GitHub repository traffic",
        "Views, clones, popular paths and referrers of repositories, from GitHub's traffic API (14 days of history).",
        [repository], items, time_from="now-30d",
    )


# -- billing -----------------------------------------------------------------------------------

BILLING = (
    'enterprise=~"$enterprise", report_type="$report_type", organization=~"$organization", '
    'cost_center=~"$cost_center", product=~"$product"'
)
EXPORT = 'enterprise=~"$enterprise", report_type="$report_type"'
# Every label of a usage gauge, the opt-in extra labels included: deduplicates HA replicas only.
USAGE_LABELS = ("enterprise, report_type, product, sku, unit_type, organization, cost_center, model, repository, "
                "username, workflow_path, exceeds_quota")
# Every label of the JSON billing endpoints' gauges (usage summary, premium requests, AI credits; budgets).
METERED_LABELS = "account_type, account, product, sku, unit_type"
BUDGET_LABELS = "account_type, account, budget_id, budget_scope, budget_entity, budget_sku"


def billing(c: Config) -> dashboard.Dashboard:
    def usage(metric: str, by: str = "", selector: str = BILLING) -> str:
        return (f"sum{f' by ({by})' if by else ''} "
                f"(max by ({USAGE_LABELS}) ({c.series(f'github_billing_usage_{metric}', selector)}))")

    # The model panels read the reports that name a model, whichever report type the dashboard shows: only the
    # premium_request and ai_credit reports have a model column, and only ai_credit the token columns.
    by_model = BILLING.replace('report_type="$report_type"', 'report_type=~"premium_request|ai_credit"')
    ai_credit = BILLING.replace('report_type="$report_type"', 'report_type="ai_credit"')

    def export(metric: str) -> str:
        return f"max by (enterprise, report_type) ({c.series(metric, EXPORT)})"

    net = "github_billing_usage_net_amount_usd"
    in_report = 'enterprise=~"$enterprise", report_type="$report_type"'
    variables = [
        label_variable("enterprise", "Enterprise", c.series(net),
                       description="Enterprises whose usage reports the exporter reads."),
        label_variable("report_type", "Report type", c.series(net, 'enterprise=~"$enterprise"'),
                       description="Usage report type (collectors.billing.report_types). One at a time: report "
                       "types overlap, so their amounts must never be added up.", multi=False),
        label_variable("organization", "Organization", c.series(net, in_report),
                       description="Organizations in the report (empty for enterprise-level usage)."),
        label_variable("cost_center", "Cost center", c.series(net, in_report),
                       description="Cost centers in the report (empty for usage outside any cost center)."),
        label_variable("product", "Product", c.series(net, in_report),
                       description="Products (actions, copilot, packages, ...)."),
    ]
    mtd = "this UTC month to date, from the newest completed usage report export"
    current = "From the JSON billing usage endpoints (GET .../settings/billing/usage/summary and its siblings)"
    budgets = "From GET .../settings/billing/budgets"

    def budget(metric: str) -> str:
        return f"max by ({BUDGET_LABELS}) ({c.series(metric)})"

    def metered(metric: str, by: str) -> str:
        return f"sum by ({by}) (max by ({METERED_LABELS}) ({c.series(metric)}))"

    def pool(credits: str) -> str:
        metric = f"github_billing_cost_center_ai_credit_pool_{credits}_credits"
        return f"max by (account_type, account, cost_center) ({c.series(metric)})"

    items: list[Item] = [
        row("Month to date"),
        stat_panel("Net amount", f"Billable amount in US dollars (gross minus discount) {mtd}.",
                   [query(usage("net_amount_usd"), "net")], "currencyUSD", decimals=2),
        stat_panel("Gross amount", f"Amount in US dollars before discounts {mtd}.",
                   [query(usage("gross_amount_usd"), "gross")], "currencyUSD", decimals=2),
        stat_panel("Discount amount", f"Discounts in US dollars (included usage, public repositories) {mtd}.",
                   [query(usage("discount_amount_usd"), "discount")], "currencyUSD", decimals=2),
        stat_panel(
            "Billing data age",
            "Time since the export the figures come from was created (GitHub gives no "
            "completion time); exports are reused while younger than collectors.billing.max_export_age.",
            [query(f"time() - {export('github_billing_export_last_completed_timestamp_seconds')}",
                   "{{enterprise}} {{report_type}}")],
            "s", thresholds=((GREEN, None), (YELLOW, 86400), (RED, 2 * 86400)),
        ),
        timeseries(
            "Net amount by product",
            f"Billable amount in US dollars by product {mtd}; it grows through the "
            "month and starts again at 0 on the 1st (UTC).",
            [query(usage("net_amount_usd", "product"), "{{product}}")], "currencyUSD", stack=True,
        ),
        bars("Net amount by organization", f"Billable amount in US dollars by organization {mtd}.",
             [query(f"sort_desc({usage('net_amount_usd', 'organization')})", "{{organization}}")], "currencyUSD"),
        bars("Net amount by cost center",
             f"Billable amount in US dollars by cost center {mtd} (an empty name is usage outside any cost center).",
             [query(f"sort_desc({usage('net_amount_usd', 'cost_center')})", "{{cost_center}}")], "currencyUSD"),
        bars("Net amount by model",
             f"Billable amount in US dollars by model {mtd}, from the premium_request and ai_credit reports whatever "
             "the report type chosen above (the metered reports have no model). Models beyond "
             "collectors.billing.max_models sum into other.",
             [query(f"sort_desc({usage('net_amount_usd', 'model, report_type', by_model)})",
                    "{{model}} ({{report_type}})")], "currencyUSD"),
        grid(
            "AI credits and tokens by model",
            f"AI credits and the tokens behind them by model {mtd}, from the ai_credit report whatever the report "
            "type chosen above (the token columns are in that report only).",
            [query(usage(what, "model", ai_credit)) for what in ("ai_credits", "input_tokens", "output_tokens",
                                                                 "cache_read_tokens", "cache_write_tokens")],
            [("Value #A", "AI credits", "short"), ("Value #B", "Input tokens", "short"),
             ("Value #C", "Output tokens", "short"), ("Value #D", "Cache read tokens", "short"),
             ("Value #E", "Cache write tokens", "short")],
            keep=["model"], sort_by="AI credits", w=12,
        ),
        grid(
            "Usage by SKU",
            f"Quantity and amounts in US dollars by product and SKU {mtd}; the unit of the "
            "quantity is named by unit_type.",
            [query(usage(what, "product, sku, unit_type"))
             for what in ("quantity", "gross_amount_usd", "discount_amount_usd", "net_amount_usd")],
            [("Value #A", "Quantity", "short"), ("Value #B", "Gross", "currencyUSD"),
             ("Value #C", "Discount", "currencyUSD"), ("Value #D", "Net", "currencyUSD")],
            keep=["product", "sku", "unit_type"], sort_by="Net", w=12, h=10,
        ),
        row("Usage report exports"),
        stat_panel(
            "Export state",
            "Status last seen of the newest export the exporter created, adopted or reused. "
            "GitHubBillingExportFailing fires when one failed in the last hour.",
            [query(f"max by (enterprise, report_type, state) ({c.series('github_billing_export_state', EXPORT)}) == 1",
                   "{{state}}", instant=True)],
            "none", w=6, graph=False, text_mode=cm.BigValueTextMode.NAME,
            color_mode=cm.BigValueColorMode.BACKGROUND, thresholds=((BLUE, None),),
            mappings=[value_map({"1": ("current", BLUE)})],
        ),
        stat_panel(
            "Newest day in the report",
            "Time since the start (00:00 UTC) of the newest day with usage in the served report: GitHub's billing lag.",
            [query(f"time() - {export('github_billing_report_latest_date_timestamp_seconds')}", "{{report_type}}")],
            "s", w=6, thresholds=((GREEN, None), (YELLOW, 2 * 86400), (RED, 3 * 86400)),
        ),
        stat_panel("Report rows", "Data rows in the usage report the figures come from.",
                   [query(export("github_billing_report_rows"), "{{report_type}}")], "short", w=4, decimals=0),
        timeseries(
            "Export activity per hour",
            "Exports the exporter created, reused (a recent completed one "
            "existed), polled while processing, gave up on (timed out) and saw fail, per hour.",
            [
                query(f"sum(increase({c.series(f'github_billing_export_{what}_total', EXPORT)}[1h]))", label)
                for what, label in (("created", "created"), ("reuses", "reused"), ("polls", "polled"),
                                    ("timeouts", "timed out"), ("failures", "failed"))
            ],
            "short", w=8,
        ),
        row("Budgets and current-month usage (billing API)"),
        stat_panel(
            "Budget spent share",
            f"Spent / budgeted amount of each budget this month. GitHubBudgetSpent fires at 1. {budgets}.",
            [query(f"sort_desc({budget('github_billing_budget_spent_ratio')})",
                   "{{account}} {{budget_scope}} {{budget_entity}} {{budget_sku}}")],
            "percentunit", w=8, h=8, thresholds=((GREEN, None), (ORANGE, 0.8), (RED, 1)), decimals=1,
        ),
        grid(
            "Budgets",
            f"Each budget this month: amount spent, budgeted amount and the spent share. {budgets}.",
            [query(budget("github_billing_budget_spent_usd")), query(budget("github_billing_budget_amount_usd")),
             query(budget("github_billing_budget_spent_ratio"))],
            [("Value #A", "Spent", "currencyUSD"), ("Value #B", "Budget", "currencyUSD"),
             ("Value #C", "Spent share", "percentunit")],
            keep=["account", "budget_scope", "budget_entity", "budget_sku"], sort_by="Spent share", w=16,
            thresholds={"Value #C": ((GREEN, None), (ORANGE, 0.8), (RED, 1))},
        ),
        timeseries(
            "AI credits by SKU", f"AI credits used this month by SKU. {current}.",
            [query(metered("github_billing_ai_credits_quantity", "sku"), "{{sku}}")], "short", w=8,
        ),
        timeseries(
            "AI credit cost", f"Net amount in US dollars of the AI credits used this month, per account. {current}.",
            [query(metered("github_billing_ai_credits_net_amount_usd", "account"), "{{account}}")],
            "currencyUSD", w=8,
        ),
        timeseries(
            "Premium requests", f"Copilot premium requests this month by SKU (model). {current}.",
            [query(metered("github_billing_premium_requests_quantity", "sku"), "{{sku}}")], "short", w=8,
        ),
        *(
            grid(
                f"{title} by model (current month)",
                f"{what} this month by account and AI model, summed over products and SKUs; models beyond "
                f"collectors.billing_usage.top_n sum into other. The quantity's unit is named by unit_type. {current}.",
                [query(f"max by (account, model, unit_type) ({c.series(f'{prefix}_by_model_{measure}')})")
                 for measure in ("quantity", "gross_amount_usd", "discount_amount_usd", "net_amount_usd")],
                [("Value #A", "Quantity", "short"), ("Value #B", "Gross", "currencyUSD"),
                 ("Value #C", "Discount", "currencyUSD"), ("Value #D", "Net", "currencyUSD")],
                keep=["account", "model", "unit_type"], sort_by="Net", w=12,
            )
            for title, what, prefix in (
                ("Premium requests", "Copilot premium requests", "github_billing_premium_requests"),
                ("AI credits", "AI credits", "github_billing_ai_credits"),
            )
        ),
        timeseries(
            "Metered net amount by product",
            f"Billable amount in US dollars this month by product, from the usage summary. {current}.",
            [query(metered("github_billing_metered_net_amount_usd", "product"), "{{product}}")], "currencyUSD",
            stack=True, w=8,
        ),
        timeseries(
            "Cost center AI credit pool used share",
            f"AI credits applied / the pool's target credits of each cost center this month. {current}.",
            [query(f"{pool('applied')}\n/\n({pool('target')} > 0)", "{{account}} {{cost_center}}")],
            "percentunit", w=16, thresholds=((GREEN, None), (ORANGE, 0.8), (RED, 1)), threshold_line=True,
        ),
    ]
    return build(
        c, "github-billing", "GitHub billing usage",
        "Month-to-date usage and amounts in US dollars from GitHub's enhanced billing usage report exports, "
        "by product, SKU, organization, cost center and model, and the state of the exports.",
        variables, items, time_from="now-30d",
    )


# -- Enterprise Server statistics --------------------------------------------------------------

GHES = 'enterprise_or_org=~"$enterprise_or_org"'
HOST = f'{GHES}, host_name=~"$host_name"'
ON_SERVER = "* on (enterprise_or_org, server_id) group_left (host_name)\n"
# Descriptions of the panels that only a GHES instance feeds start with it (tests/test_prometheus_e2e.py reads it).
GHES_ONLY = "GHES only:"


def enterprise_server(c: Config) -> dashboard.Dashboard:
    servers = f"topk by (enterprise_or_org, server_id) (1, {c.series('github_enterprise_server_info', HOST)})"

    def server(metric: str, extra: Sequence[str] = ()) -> str:
        """A per-server gauge with the server's host name, limited to the selected host names."""
        by = ", ".join(("enterprise_or_org", "server_id", *extra))
        return f"max by ({by}) ({c.series(metric, GHES)})\n{ON_SERVER}{servers}"

    def several(title: str, description: str, series: Sequence[tuple[str, str]]) -> ts.Panel:
        return timeseries(title, description, [query(server(f"github_enterprise_server_{metric}"),
                                                     f"{{{{host_name}}}} {label}") for metric, label in series],
                          "short")

    variables = [
        label_variable("enterprise_or_org", "Enterprise or org", c.series("github_enterprise_server_info"),
                       description="Enterprise accounts (or orgs) the servers upload Server Statistics to."),
        label_variable("host_name", "Server", c.series("github_enterprise_server_info", GHES),
                       description="GitHub Enterprise Server instances, by host name."),
    ]
    daily = "from the server's newest Server Statistics collection (uploaded daily)"

    def ghes(metric: str, label: str = "") -> str:
        return f"max by ({', '.join(filter(None, ('host', label)))}) ({c.series(metric)})"

    def on_box(title: str, what: str, targets: Sequence[prometheus.Dataquery]) -> ts.Panel:
        return timeseries(
            f"GHES {title[0].lower()}{title[1:]}",
            f"{GHES_ONLY} {what} on each instance, by host, from its own GET /enterprise/stats/all "
            "(ghes_stats collector, which runs only when github.api_url is a GHES instance).",
            targets, "short", w=8,
        )

    collection_age = f"time() - ({server('github_enterprise_server_collection_timestamp_seconds')})"
    days = ((GREEN, None), (YELLOW, 2 * 86400), (RED, 3 * 86400))
    items: list[Item] = [
        row("Servers"),
        grid(
            "Servers", "Every server: version, age of its newest collection, users and repositories.",
            [
                query("max by (enterprise_or_org, server_id, host_name, ghes_version) "
                      f"({c.series('github_enterprise_server_info', HOST)})"),
                query(collection_age),
                query(server("github_enterprise_server_users")),
                query(server("github_enterprise_server_repositories")),
                query(server("github_enterprise_server_organizations")),
            ],
            [("Value #B", "Collection age", "s"), ("Value #C", "Users", "short"),
             ("Value #D", "Repositories", "short"), ("Value #E", "Organizations", "short")],
            keep=["host_name", "ghes_version", "enterprise_or_org"], hide=["Value #A"], h=6,
            thresholds={"Value #B": days},
        ),
        stat_panel(
            "Collection age",
            "Time since each server's newest collection was taken. Servers upload Server "
            "Statistics once a day; an older one means the server stopped uploading.",
            [query(collection_age, "{{host_name}}")], "s", w=8, thresholds=days,
        ),
        stat_panel(
            "Dormant share",
            f"Share of user accounts that are dormant (no activity for the server's dormancy threshold), {daily}.",
            [query(f"({server('github_enterprise_server_dormant_users')})\n/ on (enterprise_or_org, server_id, "
                   f"host_name)\n({server('github_enterprise_server_users')} > 0)", "{{host_name}}")],
            "percentunit", w=8, thresholds=((GREEN, None), (ORANGE, 0.25), (RED, 0.5)), decimals=1,
        ),
        stat_panel(
            "Actions adoption",
            f"Share of repositories with GitHub Actions enabled, as the server computes it, {daily}.",
            [query(server("github_enterprise_server_actions_repositories_ratio"), "{{host_name}}")],
            "percentunit", w=8, decimals=1,
        ),
        row("Users and content"),
        several("Users", f"User accounts, site administrators, suspended and dormant users, {daily}.",
                (("users", "users"), ("admin_users", "admins"), ("suspended_users", "suspended"),
                 ("dormant_users", "dormant"))),
        several("Repositories", f"Repositories (not forks), forks, and those owned by organizations, {daily}.",
                (("root_repositories", "root"), ("fork_repositories", "forks"),
                 ("organization_repositories", "in organizations"))),
        timeseries(
            "Pushes per day",
            "Pushes on each server over the last day; the server's count only grows, so "
            "this is its delta over 24 hours (0 until two daily collections are known).",
            [query(f"delta({c.series('github_enterprise_server_pushes', GHES)}[1d])\n{ON_SERVER}{servers}",
                   "{{host_name}}")],
            "short",
        ),
        several("Pull requests", f"Merged pull requests, and open ones that can and cannot be merged, {daily}.",
                (("merged_pull_requests", "merged"), ("mergeable_pull_requests", "mergeable"),
                 ("unmergeable_pull_requests", "unmergeable"))),
        timeseries(
            "Issues and milestones by state", f"Open and closed issues and milestones, {daily}.",
            [query(server("github_enterprise_server_issues_by_state", ("state",)), "{{host_name}} issues {{state}}"),
             query(server("github_enterprise_server_milestones_by_state", ("state",)),
                   "{{host_name}} milestones {{state}}")],
            "short",
        ),
        several("Organizations and teams",
                f"Organizations, disabled organizations, teams and team memberships, {daily}.",
                (("organizations", "organizations"), ("disabled_organizations", "disabled"), ("teams", "teams"),
                 ("team_members", "team members"))),
        row("Packages"),
        bars(
            "Published packages by ecosystem", f"Published packages per ecosystem on the selected servers, {daily}.",
            [query("sort_desc(sum by (ecosystem) "
                   f"({server('github_enterprise_server_packages_published', ('ecosystem',))}))",
                   "{{ecosystem}}")],
            "short", w=8,
        ),
        timeseries(
            "Package downloads per day", "Packages downloaded in the 24 hours before each collection, by ecosystem.",
            [query("sum by (host_name, ecosystem) "
                   f"({server('github_enterprise_server_packages_daily_downloaded', ('ecosystem',))})",
                   "{{host_name}} {{ecosystem}}")],
            "short", w=8,
        ),
        grid(
            "Package ecosystems", "State of each package ecosystem (enabled, disabled, read_only) per server.",
            [query(f"({server('github_enterprise_server_packages_ecosystem_state', ('ecosystem', 'state'))}) == 1")],
            [], keep=["host_name", "ecosystem", "state"], hide=["Value"], w=8, h=8,
        ),
        row("GHES instance (on-box statistics)"),
        on_box("Repositories, users and organizations", "Repositories, user accounts and organizations",
               [query(ghes(f"github_ghes_{what}"), f"{{{{host}}}} {what}")
                for what in ("repositories", "users", "organizations")]),
        on_box("Pull requests", "All, merged, mergeable and unmergeable pull requests",
               [query(ghes(f"github_ghes_{what}pull_requests"), f"{{{{host}}}} {label}")
                for what, label in (("", "all"), ("merged_", "merged"), ("mergeable_", "mergeable"),
                                    ("unmergeable_", "unmergeable"))]),
        on_box("Issues by state", "Open and closed issues",
               [query(ghes("github_ghes_issues_by_state", "state"), "{{host}} {{state}}")]),
        on_box("Comments by type", "Comments on commits, gists, issues and pull requests",
               [query(ghes("github_ghes_comments", "type"), "{{host}} {{type}}")]),
        on_box("Hooks by state", "Active and inactive webhooks",
               [query(ghes("github_ghes_hooks_by_state", "state"), "{{host}} {{state}}")]),
    ]
    return build(
        c, "github-enterprise-server", "GitHub Enterprise Server statistics",
        "Users, repositories, pull requests, issues, packages and Actions adoption of GitHub Enterprise Server "
        "instances, from the Server Statistics they upload daily.",
        variables, items, time_from="now-30d",
    )


# -- Copilot -----------------------------------------------------------------------------------

TEAM = 'org=~"$org", team=~"$team"'


def copilot(c: Config) -> dashboard.Dashboard:
    def usage(metric: str, by: str = "", labels: str = "", selector: str = ORG) -> str:
        """A daily Copilot gauge, deduplicated per series across replicas, summed by `by`."""
        inner = ", ".join(filter(None, ("org", labels)))
        return f"sum{f' by ({by})' if by else ''} (max by ({inner}) ({c.series(f'github_copilot_{metric}', selector)}))"

    def acceptance(prefix: str, by: str = "", labels: str = "", selector: str = ORG) -> str:
        """Accepted / generated code of the usage-metrics reports; no sample where nothing was generated."""
        return (
            f"{usage(f'{prefix}code_acceptance_activities', by, labels, selector)}\n/\n"
            f"({usage(f'{prefix}code_generation_activities', by, labels, selector)} > 0)"
        )

    def team(metric: str) -> str:
        return usage(metric, "org, team", "team", TEAM)

    def cli(metric: str) -> str:
        """A Copilot CLI figure per org; GitHub omits them on days without CLI use, which this shows as 0."""
        return f"{usage(metric, 'org')}\nor\n{usage('daily_active_users', 'org')} * 0"

    variables = [
        label_variable("org", "Organization", c.series("github_copilot_daily_active_users"),
                       description="Organizations with Copilot usage-metrics reports."),
        label_variable("team", "Team", c.series("github_copilot_team_active_users", ORG),
                       description="Teams with Copilot figures (teams under 5 seats are absent)."),
    ]
    day = (
        "on the latest reported day (GitHub reports a day once it is complete, so this is yesterday or "
        "older); the value changes once a day"
    )
    report = "From the usage-metrics reports (organization-1-day)"
    seats = "From the Copilot seat listings (GET /orgs/{org}/copilot/billing/seats)"
    no_cli = "GitHub omits the CLI figures of a day without CLI use, shown as 0"
    busiest = usage("repository_pull_requests_merged", "org, repository", "repository")
    legacy = (
        "From the usage summary (GET /orgs/{org}/copilot/usage, which GitHub is retiring: "
        "github_copilot_usage_endpoint_retired says when it is gone)"
    )
    items: list[Item] = [
        row("Adoption"),
        *(
            stat_panel(title, f"{text}, summed over the selected organizations. {report}.",
                       [query(usage(metric), title.lower())], "short", w=4, decimals=0)
            for title, metric, text in (
                ("Daily active users", "daily_active_users", "Users who used Copilot on the reported day"),
                ("Weekly active users", "weekly_active_users",
                 "Users who used Copilot in the 7 days ending on the reported day"),
                ("Monthly active users", "monthly_active_users",
                 "Users who used Copilot in the 28 days ending on the reported day"),
                ("Monthly chat users", "monthly_active_chat_users",
                 "Users who used Copilot Chat in the 28 days ending on the reported day"),
                ("Monthly agent users", "monthly_active_agent_users",
                 "Users who used agent mode in the 28 days ending on the reported day"),
            )
        ),
        stat_panel(
            "Reported day",
            "Age of the day the Copilot figures describe (its start, 00:00 UTC). GitHub "
            "publishes a day once it is over; more than two days means no newer report.",
            [query(f"time() - max by (org) ({c.series('github_copilot_report_day_timestamp_seconds', ORG)})",
                   "{{org}}")],
            "s", w=4, thresholds=((GREEN, None), (YELLOW, 2 * 86400), (RED, 3 * 86400)),
        ),
        timeseries(
            "Active users", f"Daily, weekly and monthly active Copilot users per organization, {day}. {report}.",
            [query(usage(f"{p}_active_users", "org"), f"{{{{org}}}} {p}") for p in ("daily", "weekly", "monthly")],
            "short",
        ),
        timeseries(
            "Interactions and code generation",
            f"Prompts users sent to Copilot (chat, inline chat, agent), "
            f"code generation events and accepted code per organization, {day}. {report}.",
            [query(usage("interactions", "org"), "{{org}} interactions"),
             query(usage("code_generation_activities", "org"), "{{org}} generated"),
             query(usage("code_acceptance_activities", "org"), "{{org}} accepted")],
            "short",
        ),
        row("Acceptance"),
        stat_panel(
            "Acceptance ratio",
            f"Accepted code generation events / all code generation events over the selected "
            f"organizations, {day}. {report}.",
            [query(acceptance(""), "accepted")], "percentunit", w=6, decimals=1,
            thresholds=((ORANGE, None), (GREEN, 0.2)),
        ),
        timeseries(
            "Completion acceptance ratio by org",
            "Accepted / shown code completion suggestions per "
            "organization (recording rule org:github_copilot_code_acceptances_per_suggestions:ratio). "
            f"{legacy}.",
            [query(f"org:github_copilot_code_acceptances_per_suggestions:ratio{{{ORG}}}", "{{org}}")],
            "percentunit", maximum=1, w=9,
        ),
        timeseries(
            "Acceptance ratio by feature",
            f"Accepted / generated code per Copilot feature (completions, "
            f"chat, agent, ...) over the selected organizations, {day}. {report}.",
            [query(acceptance("feature_", "feature", "feature"), "{{feature}}")], "percentunit", maximum=1, w=9,
        ),
        bars(
            "Completion acceptance ratio by editor and language",
            "Accepted / shown code completion "
            "suggestions by editor and language over all organizations (recording rule "
            f"editor_language:github_copilot_code_acceptances_per_suggestions:ratio). {legacy}.",
            [query("topk(15, editor_language:github_copilot_code_acceptances_per_suggestions:ratio)",
                   "{{editor}} {{language}}")],
            "percentunit", maximum=1, w=12, h=10,
        ),
        bars(
            "Acceptance ratio by language",
            f"Accepted / generated code per language over the selected organizations, all features, {day}. {report}.",
            [query(f"sort_desc({acceptance('language_', 'language', 'language, feature')})", "{{language}}")],
            "percentunit", maximum=1, w=12, h=10,
        ),
        timeseries(
            "Lines of code",
            f"Lines Copilot suggested to add, and lines added in the editor (accepted "
            f"suggestions, applied blocks, agent edits), {day}. {report}.",
            [query(usage("lines_suggested_to_add"), "suggested to add"), query(usage("lines_added"), "added")],
            "short",
        ),
        bars("Interactions by editor", f"Prompts users sent to Copilot by editor (IDE), {day}. {report}.",
             [query(f"sort_desc({usage('editor_interactions', 'editor', 'editor')})", "{{editor}}")], "short"),
        bars(
            "Interactions by model",
            f"Prompts users sent to Copilot by model (chat and agent; completions "
            f"are not attributed to a model), {day}. {report}.",
            [query(f"sort_desc({usage('model_interactions', 'model', 'model, feature')})", "{{model}}")], "short",
        ),
        row("Teams"),
        grid(
            "Teams",
            f"Per team, {day}: members active, interactions, code generated and accepted, and the "
            f"acceptance ratio. Team figures are their members' sums (a member of two teams counts in both). {report}.",
            [query(team("team_active_users")), query(team("team_interactions")),
             query(team("team_code_generation_activities")), query(team("team_code_acceptance_activities")),
             query(acceptance("team_", "org, team", "team", TEAM))],
            [("Value #A", "Active users", "short"), ("Value #B", "Interactions", "short"),
             ("Value #C", "Generated", "short"), ("Value #D", "Accepted", "short"),
             ("Value #E", "Acceptance ratio", "percentunit")],
            keep=["org", "team"], sort_by="Active users", w=12, h=9,
        ),
        timeseries(
            "Completion acceptance ratio by team", f"Accepted / shown code completion suggestions per team. {legacy}.",
            [query(f"{team('team_usage_code_acceptances')}\n/\n({team('team_usage_code_suggestions')} > 0)",
                   "{{team}}")],
            "percentunit", maximum=1, h=9,
        ),
        timeseries(
            "Team members by surface",
            f"Team members active on each Copilot surface (IDE, github.com, CLI, ...), {day}. {report}.",
            [query(usage("team_surface_active_users", "org, team, surface", "team, surface", TEAM),
                   "{{team}} {{surface}}")],
            "short", w=24,
        ),
        row("Copilot CLI"),
        timeseries(
            "CLI sessions and requests",
            f"Copilot CLI sessions and requests per organization, {day}. {report}; {no_cli}.",
            [query(cli("cli_sessions"), "{{org}} sessions"), query(cli("cli_requests"), "{{org}} requests")],
            "short", w=8,
        ),
        timeseries(
            "CLI tokens", f"Prompt and output tokens of Copilot CLI per organization, {day}. {report}; {no_cli}.",
            [query(cli("cli_prompt_tokens"), "{{org}} prompt"), query(cli("cli_output_tokens"), "{{org}} output")],
            "short", w=8,
        ),
        timeseries(
            "CLI users", f"Users who used Copilot CLI on the reported day, per organization. {report}; {no_cli}.",
            [query(cli("daily_active_cli_users"), "{{org}}")], "short", w=8,
        ),
        row("Agents, the Copilot app and CLI customisation"),
        timeseries(
            "Partner agent interactions",
            f"Prompts users sent to partner agent apps (such as Claude or Codex), per agent over the selected "
            f"organizations, {day}; agents beyond collectors.copilot.max_label_values are in \"other\". {report}.",
            [query(usage("partner_agent_interactions", "agent", "agent_id, agent"), "{{agent}}")], "short", w=8,
        ),
        timeseries(
            "Copilot app and agents window users",
            f"Users of the Copilot app and of the VS Code agents window on the reported day, per organization. "
            f"{report}; GitHub omits a surface nobody used that day, shown as 0.",
            [query(cli("daily_active_copilot_app_users"), "{{org}} Copilot app"),
             query(cli("daily_active_vscode_agent_users"), "{{org}} agents window")], "short", w=8,
        ),
        timeseries(
            "Copilot app and agents window requests",
            f"Requests to Copilot from the Copilot app and the VS Code agents window, per organization, {day}. "
            f"{report}; GitHub omits a surface nobody used that day, shown as 0.",
            [query(cli("copilot_app_requests"), "{{org}} Copilot app"),
             query(cli("vscode_agent_requests"), "{{org}} agents window")], "short", w=8,
        ),
        bars(
            "CLI customisations used",
            f"Interactions with Copilot CLI skills, custom agents, MCP servers, slash commands and plugins (the top "
            f"5 of each kind GitHub lists), over the selected organizations, {day}. {report}.",
            [query(f"sort_desc({usage('cli_customization_interactions', 'kind, name', 'kind, name')})",
                   "{{kind}} {{name}}")],
            "short",
        ),
        timeseries(
            "Chat panel interactions by mode",
            f"Prompts sent in the IDE chat panel by the mode selected (agent, ask, edit, plan, custom), over the "
            f"selected organizations, {day}. {report}.",
            [query(usage("chat_panel_interactions", "mode", "mode"), "{{mode}}")], "short",
        ),
        row("Pull requests and code review"),
        timeseries(
            "Pull request review times",
            f"Time pull requests spent in each review stage, human reviews only: the median over repositories of "
            f"each repository's median and 90th percentile (quantiles cannot be summed), {day}. From repos-1-day.",
            [query(f"quantile by (stage) (0.5, max by (org, repository, stage) "
                   f"({c.series(f'github_copilot_repository_pull_request_review_{q}_seconds', ORG)}))",
                   f"{{{{stage}}}} {q}") for q in ("median", "p90")],
            "s", w=24,
        ),
        timeseries(
            "Pull requests created and merged",
            f"Pull requests created and merged, all and those Copilot created, over the selected organizations, "
            f"{day}. {report}.",
            [query(usage(f"pull_requests_{metric}"), label) for metric, label in (
                ("created", "created"), ("created_by_copilot", "created by Copilot"), ("merged", "merged"),
                ("merged_created_by_copilot", "merged, created by Copilot"))],
            "short",
        ),
        timeseries(
            "Code review users",
            f"Users who used Copilot code review actively (requested or applied a review) and passively (received "
            f"one), in the 1, 7 and 28 days ending on the reported day, over the selected organizations. {report}.",
            [query(usage(f"{period}_{kind}_copilot_code_review_users"), f"{period} {kind}")
             for kind in ("active", "passive") for period in ("daily", "weekly", "monthly")],
            "short",
        ),
        timeseries(
            "Cloud agent users",
            f"Users of the Copilot cloud agent in the 1, 7 and 28 days ending on the reported day, over the "
            f"selected organizations. {report}.",
            [query(usage(f"{period}_active_copilot_cloud_agent_users"), period)
             for period in ("daily", "weekly", "monthly")],
            "short",
        ),
        timeseries(
            "Adoption phases", f"Engaged users in each Copilot adoption phase, {day}. {report}.",
            [query(usage("adoption_phase_engaged_users", "phase", "phase"), "{{phase}}")], "short",
        ),
        grid(
            "Busiest repositories",
            f"The ten repositories with the most merged pull requests, and how many of those Copilot created, "
            f"{day}. {report}.",
            [query(f"topk(10, {busiest})"),
             query(f"{usage('repository_pull_requests_merged_created_by_copilot', 'org, repository', 'repository')}"
                   f"\nand on (org, repository)\ntopk(10, {busiest})")],
            [("Value #A", "Merged", "short"), ("Value #B", "Merged, created by Copilot", "short")],
            keep=["org", "repository"], sort_by="Merged",
        ),
        row("Seats"),
        stat_panel(
            "Seat utilisation",
            "Share of assigned Copilot seats with activity within collectors.copilot_seats.inactive_days "
            f"(recording rule org:github_copilot_seats_utilisation:ratio). {seats}.",
            [query(f"org:github_copilot_seats_utilisation:ratio{{{ORG}}}", "{{org}}")], "percentunit", w=4, h=8,
            thresholds=((RED, None), (ORANGE, 0.5), (GREEN, 0.8)), decimals=1,
        ),
        timeseries(
            "Seats by state", f"Copilot seats per organization by state (assigned, pending ...). {seats}.",
            [query(usage("seats", "org, state", "state"), "{{org}} {{state}}")], "short", w=10,
        ),
        timeseries(
            "Inactive seats",
            f"Assigned seats without activity within collectors.copilot_seats.inactive_days, per organization. "
            f"{seats}.",
            [query(usage("seats_inactive", "org"), "{{org}}")], "short", w=10,
        ),
        bars("Seats by last-activity editor", f"Seats by the editor of their last Copilot activity. {seats}.",
             [query(f"sort_desc({usage('seats_last_activity_editor', 'editor', 'editor')})", "{{editor}}")],
             "short"),
        bars("Seats by plan", f"Copilot seats by plan type (business, enterprise). {seats}.",
             [query(f"sort_desc({usage('seats_plan', 'plan_type', 'plan_type')})", "{{plan_type}}")], "short"),
    ]
    return build(
        c, "github-copilot", "GitHub Copilot adoption",
        "Copilot users, interactions, code generation and acceptance by organization, team, feature, language, "
        "editor and model, from GitHub's Copilot usage-metrics reports and the retiring usage summary.",
        variables, items, time_from="now-30d",
    )


DASHBOARDS: dict[str, Callable[[Config], dashboard.Dashboard]] = {
    "github-api-usage.json": api_usage,
    "github-billing.json": billing,
    "github-copilot.json": copilot,
    "github-enterprise-server.json": enterprise_server,
    "github-exporter-health.json": exporter_health,
    "github-repo-traffic.json": repo_traffic,
}


def render(board: dashboard.Dashboard) -> str:
    return JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False).encode(board.build()) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Do not write; exit 1 if a file is out of date.")
    parser.add_argument("--selector", default=CONFIG.selector,
                        help=f"Matchers of the exporter's series (default: {CONFIG.selector}); '' for none.")
    parser.add_argument("--output", type=Path, help=f"Write the JSON files only there (default: {OUTPUT_DIR} "
                        "and the copies in the Helm chart and the kustomize base).")
    args = parser.parse_args(argv)
    config = replace(CONFIG, selector=args.selector)
    directories = [args.output] if args.output else [OUTPUT_DIR, *COPIES]
    texts = {name: render(of(config)) for name, of in DASHBOARDS.items()}
    stale = update({directory / name: text for directory in directories for name, text in texts.items()},
                   check=args.check)
    unknown = sorted(str(p) for d in directories for p in d.glob("*.json") if p.name not in DASHBOARDS)
    if unknown:
        print(f"not generated here (remove or add to DASHBOARDS): {', '.join(unknown)}", file=sys.stderr)
        return 1
    if stale and args.check:
        names = ", ".join(sorted({path.name for path in stale}))
        print(f"out of date: {names}: run python3 deploy/grafana/generate-dashboards.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
