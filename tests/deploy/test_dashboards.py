"""Grafana dashboards: generated, provisioned, and every query written against metrics that exist.

The helpers at the top (loading dashboards, walking panels and queries,
expanding Grafana's variables) are shared with tests/test_prometheus_e2e.py,
which runs every query against a real Prometheus.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import (
    COMPOSE_FILE,
    DEPLOY,
    GRAFANA,
    REPO,
    load_yaml,
    recording_rules,
    run,
)
from tests.tools import tool

DASHBOARDS_DIR = GRAFANA / "dashboards"
GENERATOR = GRAFANA / "generate-dashboards.py"
METRICS_DOC = REPO / "docs" / "metrics.md"
README_DEPLOY = DEPLOY / "README.md"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PROVISIONED_PATH = "/var/lib/grafana/dashboards"

# File -> uid. Links and bookmarks use the uid: changing one breaks them.
UIDS = {
    "github-copilot.json": "github-copilot",
    "github-billing.json": "github-billing",
    "github-enterprise-server.json": "github-enterprise-server",
    "github-repo-traffic.json": "github-repo-traffic",
    "github-api-usage.json": "github-api-usage",
    "github-exporter-health.json": "github-exporter-health",
}
# Grafana's own variables, and what the end-to-end test puts in their place.
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m", "__range_s": "300"}
# Series Prometheus makes itself.
PROMETHEUS_SERIES = {"ALERTS", "ALERTS_FOR_STATE", "up"}
PANEL_TYPES = {"row", "stat", "timeseries", "table", "state-timeline", "bargauge", "gauge", "piechart"}
RATIO_UNITS = {"percentunit"}
# grafana-foundation-sdk writes the panel schema's defaults `transparent` and `repeatDirection` too.
PANEL_KEYS = {"id", "type", "title", "description", "datasource", "gridPos", "fieldConfig", "options", "targets",
              "interval", "transformations", "collapsed", "panels", "transparent", "repeatDirection"}
DEFAULT_SELECTOR = 'job="github-insights-exporter"'  # the generator's Config.selector


# -- the dashboards as data (shared with the end-to-end test) -----------------------------------

def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(DASHBOARDS_DIR.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that shows data, including those inside collapsed rows."""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def targets(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield panel, target


def query_variables(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in dashboard["templating"]["list"] if v["type"] == "query"]


LABEL_VALUES = re.compile(r"^label_values\((?:(?P<match>.+),\s*)?(?P<label>[a-zA-Z_]\w*)\)$", re.DOTALL)


def label_values_query(variable: dict[str, Any]) -> tuple[str | None, str]:
    """(series selector or None, label) of a `label_values(...)` variable."""
    text = variable["query"] if isinstance(variable["query"], str) else variable["query"]["query"]
    found = LABEL_VALUES.match(text.strip())
    assert found, f"variable {variable['name']}: not a label_values() query: {text!r}"
    return found.group("match"), found.group("label")


VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def referenced_variables(text: str) -> set[str]:
    return {a or b for a, b in VARIABLE.findall(text)}


def interpolated(variable: dict[str, Any], value: str) -> str:
    """A chosen value as Grafana's Prometheus datasource writes it into a query: regex-escaped for a
    multi-value or All variable (used with =~), else only backslashes and quotes escaped."""
    if variable.get("multi") or variable.get("includeAll"):
        return re.sub(r"([\\^$*+?.()|{}\[\]])", r"\\\\\1", value)
    return value.replace("\\", "\\\\").replace("'", "\\'")


def expand(text: str, values: dict[str, str]) -> str:
    """Grafana's interpolation of `$name` / `${name}`: template variables (values already interpolated)
    and built-ins."""

    def replace(found: re.Match[str]) -> str:
        name = found.group(1) or found.group(2)
        if name in BUILTINS:
            return BUILTINS[name]
        assert name in values, f"${name} is not a variable of the dashboard"
        return values[name]

    return VARIABLE.sub(replace, text)


PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "or",
    "and",
    "unless",
    "offset",
    "le",
    "inf",
    "nan",
    "time",
    "vector",
}


def metric_names(expr: str) -> set[str]:
    """Series names an expression selects: identifiers followed by a selector, a range, or an operator."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)  # label matchers and ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for name in re.findall(r"(?<![\w:$])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()", text):
        if name in PROMQL_WORDS or re.fullmatch(r"\d+\w*", name):
            continue
        names.add(name)
    return names


def documented_metrics() -> set[str]:
    """Series names of docs/metrics.md, with a histogram's _bucket, _sum and _count."""
    names = set()
    for name, kind in re.findall(
        r"^\| `(github_\w+)` \| (\w+) \|", METRICS_DOC.read_text(encoding="utf-8"), re.MULTILINE
    ):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


# -- the tests ---------------------------------------------------------------------------------


def test_dashboards_are_generated_and_up_to_date() -> None:
    result = run([sys.executable, str(GENERATOR), "--check"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_generator_check_detects_a_hand_edited_file(tmp_path: Path) -> None:
    work = tmp_path / "grafana"
    (work / "dashboards").mkdir(parents=True)
    script = work / GENERATOR.name
    script.write_text(GENERATOR.read_text(encoding="utf-8"), encoding="utf-8")
    shared = DEPLOY / "generated_files.py"
    (tmp_path / shared.name).write_text(shared.read_text(encoding="utf-8"), encoding="utf-8")
    assert run([sys.executable, str(script)], cwd=tmp_path).returncode == 0
    edited = work / "dashboards" / "github-api-usage.json"
    edited.write_text(edited.read_text(encoding="utf-8").replace('"now-24h"', '"now-7d"'), encoding="utf-8")
    stale = run([sys.executable, str(script), "--check"], cwd=tmp_path)
    assert stale.returncode == 1 and "out of date: github-api-usage.json" in stale.stderr, stale.stderr
    assert '+    "from": "now-24h"' in stale.stdout


def exporter_series(expr: str) -> list[str]:
    """Each place an exporter series (github_*, up) is selected, with what follows its name; recording rules
    (level:metric:operations) and ALERTS are not the exporter's series."""
    return re.findall(r"(?<![\w:])((?:github_\w+|up)(?![\w:]).{0,40})", expr, re.DOTALL)


def test_every_exporter_series_carries_the_configured_selector(tmp_path: Path) -> None:
    """The generator's selector (a mixin's `_config`) reaches every selector of an exporter series, and only those."""
    selector = 'cluster="eu", job="gh"'
    result = run([sys.executable, str(GENERATOR), "--selector", selector, "--output", str(tmp_path)])
    assert result.returncode == 0, result.stderr
    generated = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(tmp_path.glob("*.json"))}
    assert sorted(generated) == sorted(UIDS)
    for configured, expected in ((generated, selector), (dashboards(), DEFAULT_SELECTOR)):
        checked = 0
        for name, dashboard in configured.items():
            texts = [t["expr"] for _, t in targets(dashboard)]
            texts += [label_values_query(v)[0] or "" for v in query_variables(dashboard)]
            for text in texts:
                for found in exporter_series(text):
                    assert re.match(rf"\w+\{{{re.escape(expected)}", found), f"{name}: {found!r} in {text!r}"
                    checked += 1
            for annotation in dashboard["annotations"]["list"]:
                assert expected not in annotation["expr"], f"{name}: ALERTS has no job label: {annotation['expr']}"
        assert checked > 150, f"only {checked} exporter series found"
    recorded = [t["expr"] for _, t in targets(dashboards()["github-api-usage.json"]) if ":rate15m{" in t["expr"]]
    assert recorded and all(DEFAULT_SELECTOR not in e for e in recorded), "recording rules keep no job label"


def test_files_are_valid_json_with_stable_unique_uids() -> None:
    found = dashboards()
    assert {name: d["uid"] for name, d in found.items()} == UIDS
    assert len(set(UIDS.values())) == len(UIDS)
    titles = [d["title"] for d in found.values()]
    assert len(set(titles)) == len(titles), titles
    for name, dashboard in found.items():
        assert re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"]), name
        assert dashboard.get("id") is None, f"{name}: an id is per Grafana instance; leave it out"
        assert dashboard["schemaVersion"] >= 36, f"{name}: Grafana 10/11 schema expected"
        assert "github-insights-exporter" in dashboard["tags"], name
        assert dashboard["description"].strip(), name
        assert "__inputs" not in dashboard and "__requires" not in dashboard, (
            f"{name}: import through the datasource variable"
        )


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", item
            yield from walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from walk(item, f"{path}[{i}]")


@pytest.mark.parametrize("name", sorted(UIDS))
def test_everything_uses_the_datasource_variable(name: str) -> None:
    dashboard = dashboards()[name]
    first = dashboard["templating"]["list"][0]
    assert (first["name"], first["type"], first["query"]) == ("datasource", "datasource", "prometheus")
    assert not first.get("current"), "no datasource chosen in the file: Grafana picks the default one"
    for path, value in walk(dashboard):
        if path.endswith(".datasource"):
            assert value == DATASOURCE, f"{name}{path}: {value!r} (no hard-coded datasource)"
    for panel in panels(dashboard):
        assert panel["datasource"] == DATASOURCE, f"{name}: panel {panel['title']!r}"
        assert panel["targets"], f"{name}: panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, f"{name}: panel {panel['title']!r}"
    for variable in query_variables(dashboard):
        assert variable["datasource"] == DATASOURCE, f"{name}: variable {variable['name']}"
    for annotation in dashboard["annotations"]["list"]:
        assert annotation["datasource"] == DATASOURCE, f"{name}: annotation {annotation['name']!r}"


@pytest.mark.parametrize("name", sorted(UIDS))
def test_variables_are_label_values_and_all_used(name: str) -> None:
    dashboard = dashboards()[name]
    variables = query_variables(dashboard)
    assert variables, f"{name}: no org/enterprise/repository/... variable"
    defined = {"datasource"} | {v["name"] for v in variables}
    used: set[str] = set()
    texts = [t["expr"] for _, t in targets(dashboard)]
    texts += [a["expr"] for a in dashboard["annotations"]["list"]]
    texts += [label_values_query(v)[0] or "" for v in variables]
    for text in texts:
        refs = referenced_variables(text)
        assert refs - defined - set(BUILTINS) == set(), f"{name}: undefined variables in {text!r}"
        used |= refs
    assert defined - {"datasource"} - used == set(), f"{name}: variables nothing uses"
    for variable in variables:
        match, label = label_values_query(variable)
        assert variable["name"] == label, f"{name}: variable {variable['name']} lists label {label}"
        assert match, f"{name}: variable {variable['name']}: name a metric, label_values({label}) scans every series"
        assert variable["refresh"] == 2, f"{name}: variable {variable['name']}: refresh on time range change"
        if variable["multi"]:
            assert variable["includeAll"] and variable["allValue"] == ".*", variable["name"]
            for text in texts:
                for ref in re.findall(rf'(\w+)\s*(=~|=|!=|!~)\s*"\$\{{?{variable["name"]}\b', text):
                    assert ref[1] == "=~", f"{name}: multi-value ${variable['name']} needs =~ in {text!r}"


@pytest.mark.parametrize("name", sorted(UIDS))
def test_queries_use_only_documented_metrics_and_recording_rules(name: str) -> None:
    known = documented_metrics() | {rule["record"] for rule in recording_rules()} | PROMETHEUS_SERIES
    dashboard = dashboards()[name]
    texts = [t["expr"] for _, t in targets(dashboard)]
    texts += [a["expr"] for a in dashboard["annotations"]["list"]]
    texts += [label_values_query(v)[0] or "" for v in query_variables(dashboard)]
    used: set[str] = set()
    for text in filter(None, texts):
        names = metric_names(text)
        assert names, f"{name}: no metric found in {text!r}"
        unknown = names - known
        assert not unknown, f"{name}: not in docs/metrics.md nor a recording rule: {sorted(unknown)} in {text!r}"
        used |= names
    assert used & documented_metrics(), name


def test_metric_name_extraction() -> None:
    expr = (
        'max by (org) (increase(github_a_total{org=~"$org", x="y_z"}[1h]))\n/\n'
        "(sum without (le) (rate(b:c:d[5m])) > 0) or vector(0) * on (org) group_left (version) "
        "histogram_quantile(0.95, github_h_bucket) - time() + up"
    )
    assert metric_names(expr) == {"github_a_total", "b:c:d", "github_h_bucket", "up"}


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query (variables expanded) as the expression of a recording rule."""
    rules = []
    for name, dashboard in dashboards().items():
        values = {v["name"]: "some-value" for v in query_variables(dashboard)}
        for panel, target in targets(dashboard):
            rules.append(
                {
                    "record": f"dashboard:query:{len(rules)}",
                    "expr": expand(target["expr"], values),
                    "labels": {"dashboard": name, "panel": panel["title"], "ref": target["refId"]},
                }
            )
        for annotation in dashboard["annotations"]["list"]:
            rules.append({"record": f"dashboard:annotation:{len(rules)}", "expr": expand(annotation["expr"], values)})
        for variable in query_variables(dashboard):
            rules.append(
                {"record": f"dashboard:variable:{len(rules)}", "expr": expand(label_values_query(variable)[0], values)}
            )
    path = tmp_path / "dashboard-queries.rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}), encoding="utf-8")
    result = run([tool("promtool"), "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(UIDS))
def test_panels_are_described_with_units_and_laid_out(name: str) -> None:
    dashboard = dashboards()[name]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        assert panel["type"] in PANEL_TYPES, f"{name}: {panel['type']}"
        assert set(panel) <= PANEL_KEYS, f"{name}: {panel['title']!r}: not panel keys: {set(panel) - PANEL_KEYS}"
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, f"{name}: {panel['title']} {grid}"
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{name}: {panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]
    for panel in panels(dashboard):
        title = panel["title"]
        assert panel.get("description", "").strip(), f"{name}: {title!r} has no description"
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{name}: {title!r} has no unit"
        for target in panel["targets"]:
            assert target["expr"].strip() and target["refId"], f"{name}: {title!r}"
        for label, unit, exprs in value_units(panel):
            where = f"{name}: {title!r} {label}"
            if re.search(r"\b(share|ratio)\b", label, re.IGNORECASE) or ":ratio" in exprs or "_ratio{" in exprs:
                assert unit in RATIO_UNITS, f"{where} is a 0-1 ratio, unit {unit}"
            elif re.search(r"_seconds\b", exprs) and "time() -" in exprs:
                assert unit == "s", f"{where} is an age in seconds, unit {unit}"
            elif "_amount_usd" in exprs:
                assert unit == "currencyUSD", f"{where} is money, unit {unit}"


def value_units(panel: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, unit, queries) of what a panel shows: its columns for a table, else the panel as a whole."""
    if panel["type"] != "table":
        return [
            (panel["title"], panel["fieldConfig"]["defaults"]["unit"], " ".join(t["expr"] for t in panel["targets"]))
        ]
    exprs = {f"Value #{t['refId']}": t["expr"] for t in panel["targets"]}
    columns = []
    for override in panel["fieldConfig"]["overrides"]:
        field = override["matcher"]["options"]
        props = {prop["id"]: prop["value"] for prop in override["properties"]}
        if field in exprs:
            columns.append((props.get("displayName", field), props.get("unit", "short"), exprs[field]))
    return columns


def test_provisioning_loads_the_dashboards_directory() -> None:
    provider = load_yaml(GRAFANA / "provisioning" / "dashboards" / "github-insights-exporter.yml")
    (entry,) = provider["providers"]
    assert entry["type"] == "file" and entry["options"]["path"] == PROVISIONED_PATH
    datasources = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert [d["type"] for d in datasources] == ["prometheus"]
    grafana = load_yaml(COMPOSE_FILE)["services"]["grafana"]
    assert f"../grafana/dashboards:{PROVISIONED_PATH}:ro" in grafana["volumes"]
    assert "../grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert (COMPOSE_FILE.parent / "../grafana/dashboards").resolve() == DASHBOARDS_DIR
    assert sorted(p.name for p in DASHBOARDS_DIR.iterdir()) == sorted(UIDS), "only dashboards in the directory"


def test_readme_describes_every_dashboard() -> None:
    readme = README_DEPLOY.read_text(encoding="utf-8")
    for name, dashboard in dashboards().items():
        assert f"`grafana/dashboards/{name}`" in readme, f"{name} missing from deploy/README.md"
        assert dashboard["title"] in readme, f"title of {name} missing from deploy/README.md"
