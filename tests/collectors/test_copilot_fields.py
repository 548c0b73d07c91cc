"""Every documented Copilot report field is mapped or skipped with a reason; drift shows on the exporter's metrics.

The documented field list is tests/testdata/copilot-report-fields.json: its sources (addresses) and the day
they were read are inside it, with the fields the sources disagree on or are silent about.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.collectors import copilot_fields as fields
from exporter.collectors.copilot import SCHEMAS, CopilotCollector, phase_of, schema_of
from exporter.drift import paths
from exporter.simulator import ManualClock, RunningSimulator
from exporter.simulator import copilot as model
from exporter.simulator.field_drift import set_field_drift
from tests.collectors.harness import ENTERPRISE, NOW, ORG, client_for, settings_for, values

LIST = json.loads((Path(__file__).resolve().parents[1] / "testdata" / "copilot-report-fields.json").read_text())
REPORTS: dict[str, list[str]] = LIST["reports"]
TEAMS = ["octo-demo/backend", "octo-demo/frontend"]


def test_the_list_says_where_it_comes_from_and_when() -> None:
    assert LIST["read"] == "2026-12-06"
    assert all(s["address"] and s["what"] for s in LIST["sources"])
    assert set(REPORTS) == set(SCHEMAS), "one schema per report type"


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_every_documented_field_is_mapped_or_skipped_with_a_reason(report: str) -> None:
    unknown = set(REPORTS[report]) - SCHEMAS[report].known
    assert not unknown, f"{report}: map these in copilot_fields.py, or add them to SKIPPED with a reason: {unknown}"


def test_skips_have_reasons_and_are_not_also_mapped() -> None:
    mapped = fields.entity_paths() | fields.user_paths() | fields.TEAM_PATHS | fields.REPO_PATHS
    for table in (fields.SKIPPED, fields.USER_SKIPPED):
        assert all(isinstance(reason, str) and len(reason) > 10 for reason in table.values())
        assert not mapped & table.keys() - fields.USER_SKIPPED.keys() - {"user_id"}
    assert not fields.user_paths() & fields.USER_SKIPPED.keys(), "a user-row field is either read or skipped"


@pytest.mark.parametrize(
    ("report", "mapped"),
    [("entity-1-day", fields.entity_paths()), ("users-1-day", fields.user_paths()),
     ("user-teams-1-day", fields.TEAM_PATHS), ("repos-1-day", fields.REPO_PATHS)],
)
def test_every_mapped_field_is_documented(report: str, mapped: set[str]) -> None:
    assert mapped <= set(REPORTS[report]), f"{report}: mapped but not in the list: {mapped - set(REPORTS[report])}"


def _record(report_paths: list[str]) -> dict[str, Any]:
    """One record holding every listed path (arrays with one entry)."""
    record: dict[str, Any] = {}
    for path in report_paths:
        node = record
        steps = path.split(".")
        for step in steps[:-1]:
            if step.endswith("[]"):
                node = node.setdefault(step[:-2], [{}])[0]
            else:
                node = node.setdefault(step, {})
        node[steps[-1]] = 1
    return record


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_a_record_with_every_documented_field_leaves_no_drift(report: str) -> None:
    record = _record(REPORTS[report])
    assert set(paths(record)) == set(REPORTS[report])
    check = SCHEMAS[report].check()
    check.record(record)
    assert check.unmapped == set() and check.missing == set()


@pytest.mark.parametrize(("value", "label"), [
    ({"phase": "Phase 2", "phase_number": 2, "version": "v1"}, "2"),  # GitHub's example schema
    ({"phase": 3, "version": "v1"}, "3"),  # the reference page's {phase, version}
    ({"phase": "Phase 1"}, "1"),
    ({"phase_number": 0}, "0"),
    (2, "2"),
    ({"version": "v1"}, "unknown"),
    (None, "unknown"),
])
def test_the_adoption_phase_label_is_its_number_however_github_spells_it(value: Any, label: str) -> None:
    assert phase_of(value) == label


def test_report_routes_name_their_schema() -> None:
    assert schema_of("organization-1-day") == schema_of("enterprise-1-day") == "entity-1-day"
    assert schema_of("enterprise-28-day/latest") == "entity-28-day"
    assert schema_of("users-28-day/latest") == "users-28-day"
    assert schema_of("repos-1-day") == "repos-1-day"


# -- the simulator sends every documented field, consistently ------------------------------------------


def _sent(running: RunningSimulator, report: str) -> set[str]:
    world, out = running.sim.world, set()
    name = {"entity-1-day": "organization-1-day", "entity-28-day": "organization-28-day",
            "users-28-day": "users-28-day"}.get(report, report)
    for kind, owner in (("organization", ORG), ("enterprise", ENTERPRISE)):
        scope = model.scope_of(world, kind, owner)
        assert scope is not None
        days = (19983,) if report.endswith("28-day") else range(19960, 19984)  # 28-day: one report, 28 days
        for day in days:
            for record in model.report_records(world, scope, name.replace("organization", kind), day):
                out |= set(paths(record))
    return out


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_the_simulator_sends_every_documented_field_and_no_other(running: RunningSimulator, report: str) -> None:
    sent, listed = _sent(running, report), set(REPORTS[report])
    assert sent <= listed, f"sent but not documented: {sent - listed}"
    assert listed <= sent, f"documented, never sent: {listed - sent}"


def test_entity_figures_of_the_new_surfaces_are_the_sums_of_the_user_rows(running: RunningSimulator) -> None:
    world = running.sim.world
    for kind, owner in (("organization", ORG), ("enterprise", ENTERPRISE)):
        scope = model.scope_of(world, kind, owner)
        assert scope is not None
        for day in range(19970, 19984):
            entity = model.day_totals(world, scope, day)
            rows = model.user_rows(world, scope, day)
            for mode in fields.CHAT_MODES:
                assert entity[mode] == sum(r[mode] for r in rows), mode
            for surface, flag, active in (
                ("totals_by_copilot_app", "used_copilot_app", "daily_active_copilot_app_users"),
                ("totals_by_vscode_agent", "used_vscode_agent", "daily_active_vscode_agent_users"),
            ):
                users = [r for r in rows if r[flag]]
                assert entity.get(active, 0) == len(users)
                for f in ("session_count", "request_count", "prompt_count"):
                    assert entity.get(surface, {}).get(f, 0) == sum(r[surface][f] for r in users), (surface, f)
            agents: dict[str, int] = {}
            for r in rows:
                for a in r.get(fields.PARTNER_AGENTS, ()):
                    assert "session_count" not in a, "per-user reports carry no partner-agent sessions"
                    agents[a["agent_id"]] = agents.get(a["agent_id"], 0) + a["user_initiated_interaction_count"]
            assert {a["agent_id"]: a["user_initiated_interaction_count"]
                    for a in entity.get(fields.PARTNER_AGENTS, ())} == agents
            for kind_, (array, distinct) in fields.CUSTOMIZATIONS.items():
                items = entity.get(array, [])
                assert len(items) <= 5, "GitHub lists the top 5 items"
                assert entity.get(distinct, 0) >= len(items), kind_


# -- drift on the exporter's own metrics -----------------------------------------------------------------


def _drift(registry: CollectorRegistry) -> dict[str, set[tuple[str, str]]]:
    text = generate_latest(registry).decode()
    out: dict[str, set[tuple[str, str]]] = {"unmapped": set(), "missing": set(), "dropped": set()}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "github_exporter_unmapped_fields" and sample.value == 1:
                out["unmapped"].add((sample.labels["collector"], sample.labels["field"]))
            elif sample.name == "github_exporter_missing_fields" and sample.value == 1:
                out["missing"].add((sample.labels["collector"], sample.labels["field"]))
    return out


async def test_an_added_and_a_renamed_field_show_within_one_run(running: RunningSimulator) -> None:
    registry = CollectorRegistry()
    settings = settings_for(running, targets={"orgs": [ORG], "teams": TEAMS},
                            collectors={"copilot": {"user_label": "login"}})
    async with client_for(settings, registry) as client:
        before = await CopilotCollector(client, settings, ORG, clock=ManualClock(NOW)).collect()
        assert _drift(registry) == {"unmapped": set(), "missing": set(), "dropped": set()}, "every field is known"
        set_field_drift(running.sim, "copilot", True)
        try:
            after = await CopilotCollector(client, settings, ORG, clock=ManualClock(NOW)).collect()  # no traceback
        finally:
            set_field_drift(running.sim, "copilot", False)
        added, (old, new) = model.DRIFT_ADDED[0], model.DRIFT_RENAMED
        drift = _drift(registry)
        assert drift["unmapped"] == {("copilot", new), ("copilot", f"{added}.session_count"),
                                     ("copilot", f"{added}.request_count")}
        assert drift["missing"] == {("copilot", old)}, "the entity report's records all lack it"
        # Every other figure is still right: only the renamed field's own series are gone.
        gone = {f"github_copilot_{p}code_generation_activities" for p in ("", "team_", "user_")}
        kept_before = {k: v for k, v in values(before).items() if k[0] not in gone}
        assert kept_before == {k: v for k, v in values(after).items() if k[0] not in gone}
        assert not {k for k in values(after) if k[0] in gone}
        # The field comes back: the missing signal clears; the unmapped paths stay listed since start.
        await CopilotCollector(client, settings, ORG, clock=ManualClock(NOW)).collect()
        assert _drift(registry)["missing"] == set()


def test_the_daemon_shows_an_added_and_a_renamed_field_on_metrics(tmp_path: Path) -> None:
    """The real exporter process against a simulator whose report files drift: both signals on /metrics, one
    warning per new field however many records and runs, no traceback, the run still a success.

    The daemon asks for yesterday by the wall clock and steps back (lookback_days 3) while a day is not processed
    (6 h), so any hour of any day finds a report.
    """
    from tests.hostile import Daemon, daemon_config

    added, (old, new) = model.DRIFT_ADDED[0], model.DRIFT_RENAMED
    expected = {"unmapped": {("copilot", new), ("copilot", f"{added}.session_count"),
                             ("copilot", f"{added}.request_count")},
                "missing": {("copilot", old)}}
    with RunningSimulator() as drifting:
        set_field_drift(drifting.sim, "copilot", True)
        daemon = Daemon(tmp_path, daemon_config(drifting.sim, drifting.url, {"token": "ghp_driftcheck"}))
        try:
            def arrived(text: str) -> bool:
                found = _signals(text)
                return found["unmapped"] >= expected["unmapped"] and bool(found["missing"]) \
                    and len(_success(text)) >= 2

            # Then a few more runs of every collector: still one warning per field.
            text = daemon.scrape_until(arrived, timeout=40)
        finally:
            daemon.stop()
        output = daemon.output()
    assert _signals(text) == expected, "only the drifted Copilot fields, no other collector's"
    assert _success(text) == {"octo-demo": 1.0, "enterprise:octo-enterprise": 1.0}
    assert "Traceback" not in output
    warned = [json.loads(line)["field"] for line in output.splitlines()
              if "GitHub sent a field this exporter does not know" in line]
    assert sorted(warned) == sorted(f for _, f in expected["unmapped"]), "one warning per new field"


def _signals(text: str) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {"unmapped": set(), "missing": set()}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            kind = {"github_exporter_unmapped_fields": "unmapped", "github_exporter_missing_fields": "missing"}.get(
                sample.name)
            if kind and sample.value == 1:
                out[kind].add((sample.labels["collector"], sample.labels["field"]))
    return out


def _success(text: str) -> dict[str, float]:
    return {s.labels["target"]: s.value for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == "github_exporter_collector_success" and s.labels["collector"] == "copilot"}
