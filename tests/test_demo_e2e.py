"""`github-insights-exporter --demo` as a user runs it: a subprocess, scraped over HTTP, checked by promtool."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.tools import promtool_check_metrics

ROOT = Path(__file__).resolve().parent.parent
DEMO_LINE = re.compile(r"metrics at (http://\S+)")
# The demo's world runs from a fixed instant, a Wednesday afternoon mid-month, so what it shows (merges,
# suggestions and premium requests happen on weekdays, billing months start on the 1st) is the same on every
# run whatever the date. DEMO_E2E_START runs these tests at another instant; test_alerts_any_instant.py
# holds the demo world to the alert rules at many.
DEMO_START = os.environ.get("DEMO_E2E_START", "2025-03-12T14:00:00Z")


class DemoProcess:
    def __init__(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exporter", "--demo", "--demo.start", DEMO_START, "--web.listen-address",
             "127.0.0.1:0", *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.started = time.monotonic()
        line = self.proc.stdout.readline()
        match = DEMO_LINE.search(line)
        if not match:
            self.proc.kill()
            raise AssertionError(f"demo did not start: {line!r} {self.proc.stderr.read()}")
        self.metrics_url = match.group(1)
        self.base_url = self.metrics_url.rsplit("/", 1)[0]

    def scrape(self) -> str:
        return httpx.get(self.metrics_url, timeout=5).text

    def stop(self) -> tuple[int, float, str]:
        start = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = -9
        return code, time.monotonic() - start, self.proc.stderr.read()


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoProcess]:
    process = DemoProcess()
    yield process
    if process.proc.poll() is None:
        process.proc.kill()
        process.proc.wait()


def wait_for_metrics(demo: DemoProcess, names: list[str], timeout: float) -> str:
    deadline = demo.started + timeout
    while True:
        body = demo.scrape()
        if all(re.search(rf"^{n}[{{ ]", body, re.M) for n in names):
            return body
        assert time.monotonic() < deadline, f"missing after {timeout}s: {[n for n in names if n not in body]}"
        time.sleep(0.2)


def test_core_metrics_within_ten_seconds(demo: DemoProcess) -> None:
    body = wait_for_metrics(
        demo,
        [
            "github_api_insights_requests_total",
            "github_rate_limit_remaining",
            "github_exporter_collector_success",
            "github_exporter_collector_duration_seconds",
            "github_exporter_collector_last_success_timestamp_seconds",
            "github_exporter_build_info",
        ],
        timeout=10,
    )
    assert 'github_exporter_collector_success{collector="api_insights",target="octo-demo"} 1.0' in body


def test_promtool_finds_nothing_to_complain_about(demo: DemoProcess) -> None:
    promtool_check_metrics(wait_for_metrics(demo, ["github_api_insights_requests_total"], timeout=10))


def test_every_exposed_metric_is_documented(demo: DemoProcess) -> None:
    body = wait_for_metrics(demo, ["github_api_insights_requests_total"], timeout=10)
    documented = (ROOT / "docs" / "metrics.md").read_text()
    missing = sorted(
        {f.name for f in text_string_to_metric_families(body)}
        - {name.removesuffix("_total") for name in re.findall(r"`((?:github|process|python)_\w+)`", documented)}
    )
    assert not missing, f"exposed but not in docs/metrics.md: {missing}"


def test_no_sample_carries_a_timestamp_and_no_secret_is_exposed(demo: DemoProcess) -> None:
    body = wait_for_metrics(demo, ["github_api_insights_requests_total"], timeout=10)
    for line in body.splitlines():
        if line and not line.startswith("#"):
            assert len(line.rsplit("} ", 1)[-1].split()) == 1 or "{" not in line, f"sample with a timestamp: {line}"
    assert "demo-token" not in body


def test_landing_health_and_ready(demo: DemoProcess) -> None:
    landing = httpx.get(demo.base_url + "/", timeout=5)
    assert landing.status_code == 200 and "metrics" in landing.text
    assert httpx.get(demo.base_url + "/-/healthy", timeout=5).status_code == 200
    deadline = time.monotonic() + 30
    while httpx.get(demo.base_url + "/-/ready", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "never became ready"
        time.sleep(0.2)


def test_counters_move_between_runs(demo: DemoProcess) -> None:
    """The demo compresses GitHub's lag so a watcher sees the request counter grow within a minute."""

    def total() -> float:
        match = re.search(r'^github_api_insights_requests_total\{org="octo-demo"\} (\S+)', demo.scrape(), re.M)
        return float(match.group(1)) if match else -1.0

    wait_for_metrics(demo, ["github_api_insights_requests_total"], timeout=10)
    first = total()
    deadline = time.monotonic() + 60
    while total() <= first:
        assert time.monotonic() < deadline, "counter did not move within a minute"
        time.sleep(1)


def test_demo_exposes_budgets_and_ai_credits(demo: DemoProcess) -> None:
    body = wait_for_metrics(
        demo,
        [
            "github_billing_budget_amount_usd",
            "github_billing_budget_spent_ratio",
            "github_billing_ai_credits_gross_amount_usd",
            "github_billing_premium_requests_quantity",
        ],
        timeout=30,
    )
    samples = [s for f in text_string_to_metric_families(body) for s in f.samples]
    ratios = [s.value for s in samples if s.name == "github_billing_budget_spent_ratio"]
    assert ratios and all(r >= 0 for r in ratios)
    success = {s.labels["target"]: s.value for s in samples
               if s.name == "github_exporter_collector_success" and s.labels["collector"] == "billing_usage"}
    assert success and all(v == 1 for v in success.values()), success


def test_sigint_stops_within_five_seconds(demo: DemoProcess) -> None:
    code, seconds, stderr = demo.stop()
    assert code == 0, stderr
    assert seconds < 5, f"took {seconds:.1f}s to stop"
    assert "Traceback" not in stderr
    assert "demo-token" not in stderr


FAMILY_PREFIXES = [
    "github_api_insights_",
    "github_enterprise_server_",
    "github_repo_traffic_",
    "github_billing_",
    "github_copilot_",
]
REQUIRED_LABELS = ["org", "team", "actor_type", "route", "repository", "editor", "language"]


def test_example_config_demo_exposes_every_family_cleanly() -> None:
    """Issue 3's bar: the demo with config/example.yml shows all five families, their labels, and passes promtool."""
    process = DemoProcess("--config.file", str(ROOT / "config" / "example.yml"))
    try:
        deadline = time.monotonic() + 30
        while True:
            body = process.scrape()
            missing = [p for p in FAMILY_PREFIXES if not re.search(rf"^{p}\w+[{{ ]", body, re.M)]
            if not missing:
                break
            assert time.monotonic() < deadline, f"families missing after 30 s: {missing}"
            time.sleep(0.5)
        samples = [s for f in text_string_to_metric_families(body) for s in f.samples]
        present = {label for s in samples for label in s.labels}
        assert set(REQUIRED_LABELS) <= present, f"labels missing: {set(REQUIRED_LABELS) - present}"
        failed = [s.labels for s in samples if s.name == "github_exporter_collector_success" and s.value != 1]
        assert not failed, f"collectors failing in the demo: {failed}"
        promtool_check_metrics(body)
    finally:
        code, seconds, stderr = process.stop()
    assert code == 0 and "Traceback" not in stderr, stderr

