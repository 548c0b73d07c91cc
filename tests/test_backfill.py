"""`backfill --demo` writes OpenMetrics that promtool turns into blocks a real Prometheus can query."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client.openmetrics.parser import text_string_to_metric_families

from .prometheus_harness import Prometheus, require

ROOT = Path(__file__).resolve().parent.parent


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# The simulated world stands at a fixed instant (--demo.start), so which days, months and weekends the history
# covers is the same on every run whatever the date. DEMO_E2E_START (as in test_demo_e2e.py) runs it at another.
DEMO_START = os.environ.get("DEMO_E2E_START", "2025-03-12T14:00:00Z")
WORLD = datetime.fromisoformat(DEMO_START.replace("Z", "+00:00")).timestamp()


def backfill(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run(
        [sys.executable, "-m", "exporter", "backfill", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_backfill_loads_into_prometheus(tmp_path: Path) -> None:
    end = (WORLD // 3600) * 3600 - 3600  # the hour before the world's hour, as a backfill before a start
    start = (
        end - 3 * 86400
    )  # three days: every family has history in it (traffic and Copilot days, billing, GHES collections)
    output = tmp_path / "history.om"
    result = backfill(
        "--demo", "--demo.start", DEMO_START, "--from", iso(start), "--to", iso(end), "--output", str(output)
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

    # Retention drops blocks whose data is older than the newest block's by more than --storage.tsdb.retention.time
    # (default 15d); the blocks are from the world's fixed instant, however long ago that is, so keep them all.
    with Prometheus(tmp_path, "global: {scrape_interval: 1m}\n", "--storage.tsdb.retention.time=100y") as prometheus:
        first = prometheus.query('github_api_insights_requests_total{org="octo-demo"}', at=start + 3600)
        assert first and 0 < float(first[0]["value"][1]) < values[-1], "the oldest blocks must be kept"
        at_end = prometheus.query('github_api_insights_requests_total{org="octo-demo"}', at=end)
        assert at_end and float(at_end[0]["value"][1]) == values[-1]
        grown = prometheus.query('increase(github_api_insights_requests_total{org="octo-demo"}[1h])', at=end)
        assert grown and float(grown[0]["value"][1]) > 0
        views = prometheus.query("last_over_time(github_repo_traffic_day_views[2d])", at=end)
        assert views, "traffic days must be queryable from the blocks"


def test_backfill_demo_ends_at_the_worlds_instant() -> None:
    """With --demo.start and no --to, the history runs up to the simulated world's now, not the wall clock's."""
    result = backfill("--demo", "--demo.start", DEMO_START, "--from", iso(WORLD - 7200), "--output", "-")
    assert result.returncode == 0, result.stderr
    families = {f.name: f for f in text_string_to_metric_families(result.stdout)}
    samples = [s for s in families["github_api_insights_requests"].samples if s.labels == {"org": "octo-demo"}]
    stamps = [float(s.timestamp) for s in samples]
    assert stamps and WORLD - 7200 <= min(stamps) and max(stamps) <= WORLD
    assert max(stamps) > WORLD - 600, "the last 5-minute bucket before the world's instant is in the history"


def test_backfill_rejects_a_reversed_range(tmp_path: Path) -> None:
    result = backfill("--demo", "--from", "2026-01-02", "--to", "2026-01-01", "--output", str(tmp_path / "x"))
    assert result.returncode == 2
    assert "--from must be before --to" in result.stderr
