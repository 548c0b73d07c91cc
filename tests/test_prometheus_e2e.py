"""The dashboards and the alerts against a real Prometheus scraping `github-insights-exporter --demo`.

One stack for the module, everything on loopback:

* a week of the demo world's API Insights history, written by
  `backfill --demo` and loaded as TSDB blocks, ending two hours ago so that
  no 1h window of the live data reaches it;
* the demo exporter as a subprocess, with its GitHub simulator;
* Debian's Prometheus 2.42 with the repository's scrape job and rule files
  unchanged except for 1s scrape and evaluation intervals and the target.

The tests then show that the demo world's normal traffic never meets
GitHubAPIRateLimitedSpike's thresholds, that every dashboard query (variables
resolved as Grafana would) returns data, and that a spike injected through the
simulator's control API makes the alert fire within the bound below.

No rule is overridden: the spike alert's `for: 1m` and its 1h windows work at
these intervals, so the bound is one collector run (15s in the demo), the 1m
`for` and a few evaluations.

The stack runs on the wall clock, whatever the day and hour: Prometheus's `time()`
cannot be shifted, and the freshness rules compare it with the world's timestamps.
That the healthy demo meets no alert at any instant, and each fault still meets its
alert, is what tests/test_alerts_any_instant.py checks, over 60 instants.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from exporter.collectors import COLLECTORS
from tests.deploy.test_dashboards import (
    dashboards,
    expand,
    interpolated,
    label_values_query,
    panels,
    query_variables,
    targets,
)
from tests.hostile import interrupt
from tests.prometheus_harness import Prometheus, require

ROOT = Path(__file__).resolve().parent.parent
SCRAPE_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
RULES_FILE = ROOT / "deploy" / "prometheus" / "rules" / "github-insights-exporter.rules.yml"
ORG = "octo-demo"
SPIKE_ALERT = "GitHubAPIRateLimitedSpike"
HISTORY = 7 * 86400
HISTORY_GAP = 2 * 3600  # > the rules' 1h windows: live and backfilled series never meet in one window
DATA_TIMEOUT = 90.0
SPIKE_TIMEOUT = 150.0  # one collector run (15s) + `for: 1m` + evaluations, with room for a busy machine

# Panels that must show the trouble the stack injects (a 502 and a secondary rate limit), not just zeros.
TROUBLE_PANELS = {"Failed requests by endpoint", "Rate-limit waits"}
TROUBLE_COUNTERS = ("github_exporter_api_request_failures_total", "github_exporter_api_rate_limit_waits_total")

# One exemption from "every query returns data": the ghes_stats collector reads GET /enterprise/stats/all only
# when github.api_url is a GHES instance, and the demo talks to its github.com simulator, so no github_ghes_*
# series exists. These panels must still be accepted by Prometheus, say "GHES only" and stay empty: if the demo
# ever feeds them, they leave this list and must show data like every other panel.
GHES_ONLY_PANELS = {
    "GHES repositories, users and organizations",
    "GHES pull requests",
    "GHES issues by state",
    "GHES comments by type",
    "GHES hooks by state",
}

# The other exemption: the drift table lists the fields GitHub changed (exporter.drift), and the demo's simulator sends
# exactly what the collectors know, so a healthy demo has no github_exporter_unmapped_fields or
# github_exporter_missing_fields series. The table must stay empty (a row means the simulator and the collectors
# disagree on a field); the stats beside it count the same fields as 0 and, like every panel, must show data.
EMPTY_WHEN_HEALTHY = {("github-exporter-health.json", "Changed GitHub fields")}

DEMO_LINE = re.compile(r"metrics at (http://\S+)")
SIMULATOR_LINE = re.compile(r'event="demo: GitHub simulator started" url=(\S+)')


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def prometheus_config(target: str) -> str:
    """deploy/prometheus/prometheus.yml with its job and rule files, scraping `target` every second."""
    config = yaml.safe_load(SCRAPE_CONFIG.read_text(encoding="utf-8"))
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    (job,) = config["scrape_configs"]
    job.update(scrape_interval="1s", scrape_timeout="1s", static_configs=[{"targets": [target]}])
    config["rule_files"] = [str(SCRAPE_CONFIG.parent / pattern) for pattern in config["rule_files"]]
    return yaml.safe_dump(config, sort_keys=False)


def spike_rule() -> dict[str, Any]:
    groups = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["groups"]
    return next(rule for group in groups for rule in group["rules"] if rule.get("alert") == SPIKE_ALERT)


def backfill(workdir: Path, start: float, end: float) -> None:
    """The demo world's API Insights history as TSDB blocks in workdir/data, where Prometheus will find them.

    Only the api_insights collector: the other families' week of history is megabytes the test does not read.
    """
    history = workdir / "history.om"
    config = workdir / "backfill.yml"
    config.write_text(yaml.safe_dump({
        "targets": {"orgs": [ORG]},
        "collectors": {name: {"enabled": name == "api_insights"} for name in COLLECTORS},
    }))
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "backfill", "--demo", "--config.file", str(config),
         "--from", iso(start), "--to", iso(end), "--output", str(history)],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    blocks = subprocess.run(
        [require("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(history), str(workdir / "data")],
        capture_output=True, text=True, timeout=120,
    )
    assert blocks.returncode == 0, blocks.stdout + blocks.stderr


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}


class Demo:
    """`python -m exporter --demo` on a free loopback port; its log goes to a file, read for the simulator's URL."""

    def __init__(self, workdir: Path) -> None:
        self.log_path = workdir / "exporter.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exporter", "--demo", "--web.listen-address", "127.0.0.1:0"],
            cwd=ROOT, env=clean_env(), stdout=subprocess.PIPE, stderr=self._log, text=True,
        )
        try:
            line = self.proc.stdout.readline()
            found = DEMO_LINE.search(line)
            assert found, f"demo did not start: {line!r} {self.logs()}"
            self.metrics_url = found.group(1)
            self.address = self.metrics_url.split("//", 1)[1].split("/", 1)[0]
            simulator = SIMULATOR_LINE.search(self.logs())
            assert simulator, f"no simulator URL in the demo's log: {self.logs()}"
            self.simulator_url = simulator.group(1)
        except BaseException:
            self.stop()
            raise

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text()[-3000:]

    def control(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.simulator_url}/_sim/{path}", json=body, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def stop(self) -> None:
        interrupt(self.proc)
        self.proc.stdout.close()
        self._log.close()


def make_trouble(demo: Demo) -> None:
    """For the exporter-health panels: one 502 and one secondary rate limit (1s retry-after) on the next run.

    The client retries both, so collector runs still succeed and no alert is touched.
    """
    time_stats = "/orgs/{org}/insights/api/time-stats"  # asked by every API Insights run
    demo.control("faults", {"kind": "status", "status": 502, "count": 1, "route": time_stats})
    demo.control("secondary-limit", {"status": 403, "retry_after": 1, "requests": 1})


@dataclass
class Stack:
    prometheus: Prometheus
    demo: Demo
    history: tuple[float, float]
    started: float


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("prometheus-e2e")
    end = (time.time() - HISTORY_GAP) // 300 * 300
    backfill(workdir, end - HISTORY, end)
    demo = Demo(workdir)
    try:
        make_trouble(demo)  # creates the failure and wait counters
        with Prometheus(workdir, prometheus_config(demo.address)) as prometheus:
            started = time.time()
            prometheus.wait_for(
                "the first scrape",
                lambda: all(prometheus.query(counter) for counter in TROUBLE_COUNTERS),
                timeout=DATA_TIMEOUT,
            )
            make_trouble(demo)  # increments them while Prometheus watches: rate() cannot see a counter's birth
            prometheus.wait_for(
                "demo data and the injected failures flowing through scrapes and recording rules",
                lambda: all(
                    prometheus.query(expr)
                    for expr in (
                        f'org:github_api_insights_requests_per_minute:rate15m{{org="{ORG}"}} > 0',
                        f'org:github_api_insights_rate_limited_requests_per_requests:ratio_rate1h{{org="{ORG}"}}',
                        *(f"sum(increase({counter}[1m])) > 0" for counter in TROUBLE_COUNTERS),
                    )
                ),
                timeout=DATA_TIMEOUT,
            )
            yield Stack(prometheus, demo, (end - HISTORY, end), started)
    finally:
        demo.stop()


def test_demo_baseline_never_meets_the_spike_thresholds(stack: Stack) -> None:
    """A week of the demo world's normal traffic, through the real alert expression: never alerting."""
    prometheus = stack.prometheus
    start, end = stack.history
    rule = spike_rule()
    window = (start + 3600, end, 300)  # every 5 minutes with a full hour of history behind it
    ratio = prometheus.query_range(
        "max by (org) (increase(github_api_insights_rate_limited_requests_total[1h]))\n/\n"
        "(max by (org) (increase(github_api_insights_requests_total[1h])) > 0)",
        *window,
    )
    limited = prometheus.query_range(
        "max by (org) (increase(github_api_insights_rate_limited_requests_total[1h]))", *window
    )
    assert [r["metric"] for r in ratio] == [{"org": ORG}], "the backfilled week is not there"
    ratios = [float(v) for _, v in ratio[0]["values"]]
    counts = [float(v) for _, v in limited[0]["values"]]
    assert len(ratios) >= 2000 and max(counts) > 0, "a week of hours, with some rate limiting"
    firing = prometheus.query_range(rule["expr"], *window)
    assert firing == [], (
        f"the demo's normal traffic meets {SPIKE_ALERT}'s thresholds: worst hourly share {max(ratios):.2%}, "
        f"worst hourly count {max(counts):.0f}"
    )
    assert max(ratios) < 0.05 / 2, f"the demo should stay well below the 5% threshold, not {max(ratios):.2%}"


def resolve_variables(prometheus: Prometheus, dashboard: dict[str, Any]) -> dict[str, str]:
    """Each variable's label_values() answered by Prometheus, in order (later ones use earlier ones).

    A multi-value variable gets every value it offers, as Grafana writes a selection of all of them,
    `(a|b)`; a single-value one its first value.
    """
    values: dict[str, str] = {}
    for variable in query_variables(dashboard):
        match, label = label_values_query(variable)
        found = sorted(prometheus.label_values(label, expand(match, values) if match else None))
        assert found, f"{dashboard['uid']}: variable {variable['name']} has no values"
        if variable["multi"]:
            values[variable["name"]] = "(" + "|".join(interpolated(variable, v) for v in found) + ")"
        else:
            values[variable["name"]] = interpolated(variable, found[0])
    return values


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_every_panel_query_returns_data(stack: Stack, name: str) -> None:
    prometheus = stack.prometheus
    dashboard = dashboards()[name]
    values = resolve_variables(prometheus, dashboard)
    empty, quiet, fed, drifted = [], [], [], []
    now = time.time()
    since = now - (now - stack.started) // 5 * 5  # steps of 5s ending at now, as Grafana's graphs do
    for panel, target in targets(dashboard):
        expr = expand(target["expr"], values)
        if target.get("range", True) and not target.get("instant"):
            result = prometheus.query_range(expr, since, now, 5)
            numbers = [float(v) for series in result for _, v in series["values"]]
        else:
            result = prometheus.query(expr)
            numbers = [float(series["value"][1]) for series in result]
        where = f"{panel['title']!r} {target['refId']}: {expr}"
        if panel["title"] in GHES_ONLY_PANELS:  # the query ran without error (Prometheus accepted it)
            assert panel["description"].startswith("GHES only"), where
            if result:
                fed.append(where)
        elif (name, panel["title"]) in EMPTY_WHEN_HEALTHY:
            if result:
                drifted.append(where)
        elif not result:
            empty.append(where)
        elif panel["title"] in TROUBLE_PANELS and not any(n > 0 for n in numbers):
            quiet.append(where)
    assert not empty, f"{name} with {values}: queries without data:\n" + "\n".join(empty)
    assert not quiet, f"{name}: panels that do not show the injected failures:\n" + "\n".join(quiet)
    assert not fed, f"{name}: GHES-only panels with data: drop them from GHES_ONLY_PANELS:\n" + "\n".join(fed)
    assert not drifted, f"{name}: the demo's simulator and the collectors disagree on fields:\n" + "\n".join(drifted)


def test_ghes_only_exemption_names_real_panels() -> None:
    """Every exempt title is a panel of the Enterprise Server dashboard, so a renamed panel cannot slip through."""
    titles = {panel["title"] for panel in panels(dashboards()["github-enterprise-server.json"])}
    assert GHES_ONLY_PANELS <= titles, GHES_ONLY_PANELS - titles


def test_empty_when_healthy_exemption_names_real_panels() -> None:
    """Every exempt (dashboard, title) is a panel there, so a renamed panel cannot slip through."""
    missing = {(name, title) for name, title in EMPTY_WHEN_HEALTHY
               if title not in {panel["title"] for panel in panels(dashboards()[name])}}
    assert not missing, missing


def test_injected_spike_fires_the_alert(stack: Stack) -> None:
    prometheus = stack.prometheus
    pending = prometheus.query("ALERTS")
    assert pending == [], f"the healthy demo has alerts pending or firing: {[a['metric'] for a in pending]}"
    assert prometheus.query(spike_rule()["expr"]) == [], "the alert's condition holds before any spike"
    collector_ok = prometheus.query('github_exporter_collector_success{collector="api_insights"}')
    assert [s["value"][1] for s in collector_ok] == ["1"], collector_ok

    now = time.time()
    stack.demo.control("spike", {"org": ORG, "start": now - 1800, "end": now, "factor": 10, "lag": 0})
    injected = time.monotonic()
    firing = prometheus.wait_for(
        f"{SPIKE_ALERT} firing after the spike",
        lambda: prometheus.query(f'ALERTS{{alertname="{SPIKE_ALERT}", alertstate="firing"}}'),
        timeout=SPIKE_TIMEOUT,
        interval=1,
    )
    took = time.monotonic() - injected
    assert [a["metric"]["org"] for a in firing] == [ORG]
    assert firing[0]["metric"]["severity"] == "warning"
    assert took >= 60, f"fired after {took:.0f}s, sooner than the rule's `for: 1m`"

    (alert,) = [a for a in prometheus.api("alerts")["alerts"] if a["labels"]["alertname"] == SPIKE_ALERT]
    annotations = alert["annotations"]
    assert annotations["summary"] == spike_rule()["annotations"]["summary"], "a static summary"
    assert ORG in annotations["description"] and "%" in annotations["description"], annotations
    assert annotations["dashboard_url"].endswith(f"/d/github-api-usage?var-org={ORG}"), annotations
    assert "error" not in annotations["description"] and "<no value>" not in annotations["description"], annotations
    assert re.search(r"\d", annotations["description"].split("rate-limited")[0]), annotations["description"]

    usage = dashboards()["github-api-usage.json"]
    (annotation,) = usage["annotations"]["list"]
    marks = prometheus.query(expand(annotation["expr"], resolve_variables(prometheus, usage)))
    assert [m["metric"]["org"] for m in marks] == [ORG], "the dashboards' alert annotation shows the spike"
