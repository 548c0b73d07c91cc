"""`backfill --demo` writes OpenMetrics that promtool turns into blocks a real Prometheus can query."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client.openmetrics.parser import text_string_to_metric_families

from .prometheus_harness import Prometheus, require

ROOT = Path(__file__).resolve().parent.parent


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_backfill_loads_into_prometheus(tmp_path: Path) -> None:
    end = (time.time() // 3600) * 3600 - 3600
    start = (
        end - 3 * 86400
    )  # three days: every family has history in it (traffic and Copilot days, billing, GHES collections)
    output = tmp_path / "history.om"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter",
            "backfill",
            "--demo",
            "--from",
            iso(start),
            "--to",
            iso(end),
            "--output",
            str(output),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    text = output.read_text()
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = families["github_api_insights_requests"]
    assert requests.type == "counter"
    samples = [s for s in requests.samples if s.labels == {"org": "octo-demo"}]
    assert len(samples) == 3 * 24 * 12, "one sample per 5-minute bucket"
    values = [s.value for s in samples]
    assert values == sorted(values) and values[-1] > values[0] > 0
    assert all(start <= float(s.timestamp) <= end for s in samples)
    for prefix in (
        "github_api_insights_",
        "github_enterprise_server_",
        "github_repo_traffic_",
        "github_billing_",
        "github_copilot_",
    ):
        assert any(name.startswith(prefix) for name in families), f"no history from {prefix}*"

    blocks = tmp_path / "data"
    created = subprocess.run(
        [require("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(output), str(blocks)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stdout + created.stderr

    with Prometheus(tmp_path, "global: {scrape_interval: 1m}\n") as prometheus:
        at_end = prometheus.query('github_api_insights_requests_total{org="octo-demo"}', at=end)
        assert at_end and float(at_end[0]["value"][1]) == values[-1]
        grown = prometheus.query('increase(github_api_insights_requests_total{org="octo-demo"}[1h])', at=end)
        assert grown and float(grown[0]["value"][1]) > 0
        views = prometheus.query("last_over_time(github_repo_traffic_day_views[2d])", at=end)
        assert views, "traffic days must be queryable from the blocks"


def test_backfill_rejects_a_reversed_range(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter",
            "backfill",
            "--demo",
            "--from",
            "2026-01-02",
            "--to",
            "2026-01-01",
            "--output",
            str(tmp_path / "x"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--from must be before --to" in result.stderr
