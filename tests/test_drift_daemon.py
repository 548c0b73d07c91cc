"""The exporter process against a simulator whose billing files, billing usage and retired Copilot summaries
drift: both signals on /metrics for each family, one warning per new field, no traceback, the runs a success.

(GHES statistics need a GHES api_url: tests/collectors/test_ghes_stats.py flips their family; the Copilot
reports' family, "copilot", has its own test, tests/collectors/test_copilot_fields.py.)
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from exporter.simulator import RunningSimulator, SimulatorConfig, field_drift
from exporter.simulator import billing as sim_billing
from exporter.simulator import billing_usage as sim_billing_usage
from tests.hostile import Daemon, daemon_config

FAMILIES = ("billing", "billing_usage", "copilot_usage")
WORLD = os.environ.get("DEMO_E2E_START", "2025-03-12T14:00:00Z")  # as tests/test_demo_e2e.py


def _expected() -> dict[str, set[tuple[str, str]]]:
    (csv_added, _), (csv_old, csv_new) = sim_billing.DRIFT_ADDED, sim_billing.DRIFT_RENAMED
    (usage_added, usage_value), (usage_old, usage_new) = sim_billing_usage.DRIFT_ADDED, sim_billing_usage.DRIFT_RENAMED
    (_, summary_new), (summary_added, _) = field_drift.SUMMARY_RENAMED, field_drift.SUMMARY_ADDED
    return {
        "unmapped": {("billing", csv_added), ("billing", csv_new), ("billing_usage", usage_new),
                     *(("billing_usage", f"{usage_added}.{f}") for f in usage_value),
                     ("copilot_usage", summary_new), ("copilot_usage", summary_added)},
        # The summaries' renamed total is optional (only `day` is required): it shows as unmapped only.
        "missing": {("billing", csv_old), ("billing_usage", usage_old)},
    }


def test_the_daemon_shows_each_familys_added_and_renamed_fields(tmp_path: Path) -> None:
    """The demo's own simulator, exporter and world at one fixed instant, its families switched to drift over HTTP
    as a user would. On the wall clock this failed on every month's first day: the month then has no finished
    usage day, so GitHub's usage answers have no entries and a renamed entry field cannot show (nor can it at
    such an instant through DEMO_E2E_START)."""
    expected = _expected()
    world = SimulatorConfig.demo()
    with RunningSimulator(config=world) as spare:  # only for the demo world's targets
        config = daemon_config(spare.sim, spare.url, {"token": "ghp_driftfamilies"})
    # These three only, at intervals the rate-limit budget does not stretch: billing's second run reads files.
    off = {"enabled": False}
    config["collectors"] = {
        "api_insights": off, "server_statistics": off, "repo_traffic": off, "copilot": off, "copilot_seats": off,
        "billing": {"interval": "5s", "poll_timeout": "1s", "report_types": ["premium_request"],
                    "max_export_age": "1s"},
        "billing_usage": {"interval": "5s"}, "copilot_usage": {"interval": "5s", "enabled": True},
    }
    daemon = Daemon(tmp_path, config, "--demo", "--demo.start", WORLD)
    try:
        deadline = time.monotonic() + 20  # /-/healthy answers before the simulator has started
        while not (started := [json.loads(line) for line in daemon.output().splitlines()
                               if "demo: GitHub simulator started" in line]):
            assert time.monotonic() < deadline, daemon.output()
            time.sleep(0.1)
        switched = httpx.post(started[0]["url"] + "/_sim/field-drift", json=dict.fromkeys(FAMILIES, True), timeout=5)
        assert switched.json() == {"field_drift": sorted(FAMILIES)}, switched.text
        # Then a few more runs of every collector: still one warning per field.
        text = daemon.scrape_until(lambda text: _signals(text, FAMILIES) == expected, timeout=60)
    finally:
        daemon.stop()
    output = daemon.output()
    assert _signals(text, FAMILIES) == expected
    success = {(s.labels["collector"], s.labels["target"]): s.value
               for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "github_exporter_collector_success" and s.labels["collector"] in FAMILIES}
    assert set(success) >= {("billing", "octo-enterprise"), ("copilot_usage", "octo-demo")}
    assert set(success.values()) == {1.0}, success
    assert "Traceback" not in output
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]  # not the demo banner
    warned = [(line["collector"], line["field"]) for line in logged
              if "GitHub sent a field this exporter does not know" in line.get("event", "")
              and line.get("collector") in FAMILIES]
    assert sorted(warned) == sorted(expected["unmapped"]), "one warning per new field"


def _signals(text: str, collectors: tuple[str, ...]) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {"unmapped": set(), "missing": set()}
    names = {"github_exporter_unmapped_fields": "unmapped", "github_exporter_missing_fields": "missing"}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in names and sample.value == 1 and sample.labels["collector"] in collectors:
                out[names[sample.name]].add((sample.labels["collector"], sample.labels["field"]))
    return out
