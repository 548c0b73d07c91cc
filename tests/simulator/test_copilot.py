"""Copilot usage in the simulator.

Shapes per the OpenAPI descriptions, readiness, retirement, signed downloads, consistency.
"""

from __future__ import annotations

import functools
import json
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
import pytest

from exporter.simulator import ManualClock, RunningSimulator, Simulator, SimulatorConfig, create_app
from exporter.simulator import copilot as cp
from exporter.simulator.routing import iso, parse_iso
from tests.openapi import ROOT, assert_matches, description, to_json_schema
from tests.simulator.conftest import AUTH, NOW, ORG

ENTERPRISE = "octo-enterprise"
YESTERDAY = "2024-09-17"  # NOW is 2024-09-18T16:00Z, past the 6 h processing lag
TODAY = "2024-09-18"
V18 = ROOT / "node_modules" / "octokit-openapi-18" / "generated" / "ghec.deref.json"
ORG_USAGE = "/orgs/{org}/copilot/usage"
TEAM_USAGE = "/orgs/{org}/team/{team_slug}/copilot/usage"
ORG_REPORTS = "/orgs/{org}/copilot/metrics/reports"
ENT_REPORTS = "/enterprises/{enterprise}/copilot/metrics/reports"


@functools.cache
def _v18(path: str) -> jsonschema.Draft4Validator:
    schema = description(V18)["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    return jsonschema.Draft4Validator(to_json_schema(schema))


def assert_matches_v18(body: Any, path: str) -> None:
    errors = [f"/{'/'.join(map(str, e.path))}: {e.message}" for e in _v18(path).iter_errors(body)]
    assert not errors, f"{path} does not match the v18.2.0 description:\n" + "\n".join(errors[:20])


def ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def fetch(http: httpx.Client, path: str, **params: str) -> list[dict[str, Any]]:
    """Every record behind a report's download links, fetched without credentials."""
    answer = http.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return [r for link in answer.json()["download_links"] for r in ndjson(httpx.get(link, timeout=5))]


# -- shapes -----------------------------------------------------------------------------------------


def test_retired_summaries_match_the_v18_description(http: httpx.Client) -> None:
    org = http.get(f"/orgs/{ORG}/copilot/usage")
    team = http.get(f"/orgs/{ORG}/team/platform/copilot/usage")
    assert org.status_code == team.status_code == 200
    assert len(org.json()) == len(team.json()) == 28
    assert_matches_v18(org.json(), ORG_USAGE)
    assert_matches_v18(team.json(), TEAM_USAGE)
    assert org.json()[-1]["day"] == YESTERDAY
    assert {"day", "breakdown", "total_chat_turns", "total_active_chat_users"} <= set(org.json()[-1])


@pytest.mark.parametrize(
    "path, params",
    [
        (f"{ORG_REPORTS}/organization-1-day", {"day": YESTERDAY}),
        (f"{ORG_REPORTS}/users-1-day", {"day": YESTERDAY}),
        (f"{ORG_REPORTS}/user-teams-1-day", {"day": YESTERDAY}),
        (f"{ORG_REPORTS}/organization-28-day/latest", {}),
        (f"{ORG_REPORTS}/repos-1-day", {"day": YESTERDAY}),
        (f"{ORG_REPORTS}/users-28-day/latest", {}),
        (f"{ENT_REPORTS}/repos-1-day", {"day": YESTERDAY}),
        (f"{ENT_REPORTS}/users-28-day/latest", {}),
        (f"{ENT_REPORTS}/enterprise-1-day", {"day": YESTERDAY}),
        (f"{ENT_REPORTS}/users-1-day", {"day": YESTERDAY}),
        (f"{ENT_REPORTS}/user-teams-1-day", {"day": YESTERDAY}),
        (f"{ENT_REPORTS}/enterprise-28-day/latest", {}),
    ],
)
def test_report_answers_match_the_description(http: httpx.Client, path: str, params: dict[str, str]) -> None:
    response = http.get(path.format(org=ORG, enterprise=ENTERPRISE), params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["download_links"], "an empty list would validate trivially"
    assert_matches(body, path)
    if "day" in params:
        assert body["report_day"] == YESTERDAY
    else:
        assert (body["report_start_day"], body["report_end_day"]) == ("2024-08-21", YESTERDAY)


def test_day_not_processed_yet_answers_204_without_a_body(running: RunningSimulator, http: httpx.Client) -> None:
    for day in (TODAY, "2024-09-20"):
        response = http.get(f"/orgs/{ORG}/copilot/metrics/reports/users-1-day", params={"day": day})
        assert response.status_code == 204 and response.content == b"" and "etag" not in response.headers
    # Yesterday becomes ready 6 h after it ended: at 05:59 it is not, at 06:00 it is.
    running.sim.set_clock(parse_iso("2024-09-18T05:59:59Z"))
    assert (
        http.get(f"/orgs/{ORG}/copilot/metrics/reports/organization-1-day", params={"day": YESTERDAY}).status_code
        == 204
    )
    assert http.get(f"/orgs/{ORG}/copilot/usage").json()[-1]["day"] == "2024-09-16"
    running.sim.set_clock(parse_iso("2024-09-18T06:00:00Z"))
    assert (
        http.get(f"/orgs/{ORG}/copilot/metrics/reports/organization-1-day", params={"day": YESTERDAY}).status_code
        == 200
    )
    assert http.get(f"/orgs/{ORG}/copilot/usage").json()[-1]["day"] == YESTERDAY


@pytest.mark.parametrize("day", [None, "yesterday", "2024-13-01"])
def test_day_parameter_is_required_and_a_date(http: httpx.Client, day: str | None) -> None:
    response = http.get(
        f"/orgs/{ORG}/copilot/metrics/reports/organization-1-day", params={} if day is None else {"day": day}
    )
    assert response.status_code == 422 and "day" in response.json()["message"]


def test_unknown_owner_or_team_is_404(http: httpx.Client) -> None:
    assert (
        http.get("/orgs/nobody/copilot/metrics/reports/organization-1-day", params={"day": YESTERDAY}).status_code
        == 404
    )
    assert http.get("/enterprises/nobody/copilot/metrics/reports/enterprise-28-day/latest").status_code == 404
    assert http.get(f"/orgs/{ORG}/team/nobody/copilot/usage").status_code == 404


def test_summary_since_and_until_pick_days(http: httpx.Client) -> None:
    days = http.get(
        f"/orgs/{ORG}/copilot/usage", params={"since": "2024-09-10T00:00:00Z", "until": "2024-09-12T23:59:59Z"}
    ).json()
    assert [d["day"] for d in days] == ["2024-09-10", "2024-09-11", "2024-09-12"]
    assert http.get(f"/orgs/{ORG}/copilot/usage", params={"since": "2024-09-10"}).status_code == 422


# -- retirement -------------------------------------------------------------------------------------


async def test_retired_switch_in_the_config_answers_404() -> None:
    sim = Simulator(SimulatorConfig(copilot_usage_retired=True), clock=ManualClock(NOW))
    transport = httpx.ASGITransport(app=create_app(sim))
    async with httpx.AsyncClient(transport=transport, base_url="https://api.github.test", headers=AUTH) as c:
        for path in (f"/orgs/{ORG}/copilot/usage", f"/orgs/{ORG}/team/platform/copilot/usage"):
            response = await c.get(path)
            assert response.status_code == 404 and response.json()["message"] == "Not Found"
        # The reports are not retired.
        reports = await c.get(f"/orgs/{ORG}/copilot/metrics/reports/organization-1-day", params={"day": YESTERDAY})
        assert reports.status_code == 200


def test_retirement_at_run_time_is_a_status_fault(running: RunningSimulator, http: httpx.Client) -> None:
    running.sim.fail_next(count=None, status=410, route=ORG_USAGE)
    assert [http.get(f"/orgs/{ORG}/copilot/usage").status_code for _ in range(3)] == [410, 410, 410]
    assert http.get(f"/orgs/{ORG}/team/platform/copilot/usage").status_code == 200
    running.sim.clear_faults()
    assert http.get(f"/orgs/{ORG}/copilot/usage").status_code == 200


# -- downloads --------------------------------------------------------------------------------------


def test_download_links_are_signed_on_another_origin_and_refuse_credentials(
    running: RunningSimulator, http: httpx.Client
) -> None:
    links = http.get(f"/orgs/{ORG}/copilot/metrics/reports/users-1-day", params={"day": YESTERDAY}).json()[
        "download_links"
    ]
    assert len(links) > 1, "users reports are split over several files"
    api, link = urlsplit(running.url), urlsplit(links[0])
    assert (link.hostname, link.port) != (api.hostname, api.port) and link.port == api.port
    assert link.hostname == "localhost" and "sig=" in link.query and "se=" in link.query
    before = cp.download_counts(running.sim)
    refused = httpx.get(links[0], headers={"Authorization": AUTH["Authorization"]})
    assert refused.status_code == 400 and "<Code>InvalidArgument</Code>" in refused.text
    assert httpx.get(links[0] + "0").status_code == 403  # signature no longer matches
    assert httpx.get(links[0]).status_code == 200
    after = cp.download_counts(running.sim)
    assert after.get("with_authorization", 0) == before.get("with_authorization", 0) + 1
    assert after.get("bad_signature", 0) == before.get("bad_signature", 0) + 1
    running.sim.advance_clock(cp.LINK_LIFETIME + 1)
    expired = httpx.get(links[0])
    assert expired.status_code == 403 and "expired" in expired.text


def test_download_faults_use_the_download_template(running: RunningSimulator, http: httpx.Client) -> None:
    link = http.get(f"/orgs/{ORG}/copilot/metrics/reports/organization-1-day", params={"day": YESTERDAY}).json()[
        "download_links"
    ][0]
    running.sim.fail_next(status=503, route=cp.DOWNLOAD_TEMPLATE)
    assert [httpx.get(link).status_code for _ in range(2)] == [503, 200]


# -- consistency and time ---------------------------------------------------------------------------


def test_entity_totals_are_the_sum_of_user_rows(http: httpx.Client) -> None:
    for path, users, name in (
        (f"{ORG_REPORTS}/organization-1-day", f"{ORG_REPORTS}/users-1-day", ORG),
        (f"{ENT_REPORTS}/enterprise-1-day", f"{ENT_REPORTS}/users-1-day", ENTERPRISE),
    ):
        (entity,) = fetch(http, path.format(org=name, enterprise=name), day=YESTERDAY)
        rows = fetch(http, users.format(org=name, enterprise=name), day=YESTERDAY)
        # IDE users make daily_active_users; CLI-only users have a row but count only as CLI users.
        assert entity["daily_active_users"] == sum(1 for r in rows if r["totals_by_ide"]) > 0
        assert len(rows) > entity["daily_active_users"], "some user is active outside the IDE only"
        cli = [r["totals_by_cli"] for r in rows if r["used_cli"]]
        assert entity["daily_active_cli_users"] == len(cli) > 0
        for field in ("session_count", "request_count", "prompt_count"):
            assert entity["totals_by_cli"][field] == sum(c[field] for c in cli), field
        tokens = entity["totals_by_cli"]["token_usage"]
        assert tokens["output_tokens_sum"] == sum(c["token_usage"]["output_tokens_sum"] for c in cli)
        for flag, count in (("used_copilot_code_review_active", "daily_active_copilot_code_review_users"),
                            ("used_copilot_cloud_agent", "daily_active_copilot_cloud_agent_users")):
            assert entity[count] == sum(r[flag] for r in rows), count
        repos = fetch(http, path.replace(path.rsplit("/", 1)[1], "repos-1-day").format(org=name, enterprise=name),
                      day=YESTERDAY)
        assert len(repos) > 1
        for field in ("total_created", "total_reviewed", "total_merged", "total_copilot_suggestions"):
            assert entity["pull_requests"][field] == sum(r["pull_requests"][field] for r in repos), field
        prs = entity["pull_requests"]
        by_type = prs["copilot_suggestions_by_comment_type"]
        assert sum(t["total_copilot_suggestions"] for t in by_type) == prs["total_copilot_suggestions"] > 0
        assert entity["daily_active_users"] <= entity["weekly_active_users"] <= entity["monthly_active_users"]
        for counter in cp.COUNTERS:
            assert entity[counter] == sum(r[counter] for r in rows), counter
        by_ide = {e["ide"]: e["code_generation_activity_count"] for e in entity["totals_by_ide"]}
        assert sum(by_ide.values()) == entity["code_generation_activity_count"]
        models = {e["model"] for e in entity["totals_by_model_feature"]}
        assert models and models <= set(cp.MODELS)
        assert "code_completion" not in {e["feature"] for e in entity["totals_by_model_feature"]}


def test_summary_agrees_with_the_reports(http: httpx.Client) -> None:
    summary = http.get(f"/orgs/{ORG}/copilot/usage").json()[-1]
    (entity,) = fetch(http, f"/orgs/{ORG}/copilot/metrics/reports/organization-1-day", day=YESTERDAY)
    completions = next(e for e in entity["totals_by_feature"] if e["feature"] == "code_completion")
    assert summary["total_suggestions_count"] == completions["code_generation_activity_count"]
    assert summary["total_acceptances_count"] == completions["code_acceptance_activity_count"]
    assert summary["total_suggestions_count"] == sum(b["suggestions_count"] for b in summary["breakdown"])
    assert 0.15 < summary["total_acceptances_count"] / summary["total_suggestions_count"] < 0.45


def test_user_teams_leave_out_teams_under_five_seats(running: RunningSimulator, http: httpx.Client) -> None:
    rows = fetch(http, f"/orgs/{ORG}/copilot/metrics/reports/user-teams-1-day", day=YESTERDAY)
    teams = cp.scope_of(running.sim.world, "organization", ORG).teams
    small = [t.slug for t in teams if not t.seated]
    assert small == ["data"], "the default world has one team under 5 seats"
    assert {r["slug"] for r in rows} == {t.slug for t in teams if t.seated}
    assert len(rows) == sum(len(t.members) for t in teams if t.seated)
    assert len(rows) > len({r["user_id"] for r in rows}), "some user is in two teams"
    assert http.get(f"/orgs/{ORG}/team/data/copilot/usage").json() == []


def test_figures_change_once_a_day(running: RunningSimulator, http: httpx.Client) -> None:
    def newest() -> dict[str, Any]:
        return http.get(f"/orgs/{ORG}/copilot/usage").json()[-1]

    first = newest()
    running.sim.advance_clock(6 * 3600)  # later the same day: nothing moves
    assert newest() == first
    running.sim.advance_clock(18 * 3600)  # next day: a new newest day, and the old day kept its figures
    moved = http.get(f"/orgs/{ORG}/copilot/usage").json()
    assert moved[-1]["day"] == TODAY and moved[-2] == first
    assert moved[-1] != first


def test_a_day_without_completions_has_a_null_breakdown(running: RunningSimulator) -> None:
    """The description allows `breakdown: null`; a quiet weekend day of a small team gives one."""
    world = running.sim.world
    org = world.org(ORG)
    team = next(t for t in cp.scope_of(world, "organization", ORG).teams if t.slug == "backend")
    quiet = [
        day
        for day in range(cp.day_number("2024-08-01"), cp.day_number(YESTERDAY))
        if cp.summary(world, org, team.members, day)["breakdown"] is None
    ]
    assert quiet and all(cp.weekday(day) >= 5 for day in quiet)
    body = cp.summary(world, org, team.members, quiet[0])
    assert body["total_suggestions_count"] == 0
    assert_matches_v18([body], TEAM_USAGE)


def test_summaries_are_paginated_by_day(http: httpx.Client) -> None:
    first = http.get(f"/orgs/{ORG}/copilot/usage", params={"per_page": 10})
    assert len(first.json()) == 10 and 'rel="next"' in first.headers["link"]
    assert first.json()[0]["day"] == iso(parse_iso("2024-08-21T00:00:00Z"))[:10]


def test_the_field_drift_switch_adds_and_renames_a_field_until_reset(http: httpx.Client) -> None:
    path = f"{ORG_REPORTS}/organization-1-day".format(org=ORG)
    (plain,) = fetch(http, path, day=YESTERDAY)
    (added, added_value), (old, new) = cp.DRIFT_ADDED, cp.DRIFT_RENAMED
    assert old in plain and new not in plain and added not in plain
    assert http.post("/_sim/copilot", json={"field_drift": "yes"}).status_code == 400
    assert http.post("/_sim/copilot", json={"field_drift": True}).json() == {"field_drift": ["copilot"]}
    assert http.get("/_sim/state").json()["field_drift"] == ["copilot"], "the shared switch, family copilot"
    (drifted,) = fetch(http, path, day=YESTERDAY)
    assert drifted[added] == added_value and drifted[new] == plain[old] and old not in drifted
    assert {k: v for k, v in drifted.items() if k not in (added, new)} == {k: v for k, v in plain.items() if k != old}
    (rows_28,) = fetch(http, f"{ORG_REPORTS}/organization-28-day/latest".format(org=ORG))
    assert all(new in day and old not in day for day in rows_28["day_totals"])
    assert http.post("/_sim/reset").json()["field_drift"] == []
    assert fetch(http, path, day=YESTERDAY) == [plain]
    assert http.post("/_sim/field-drift", json={"copilot": True}).json() == {"field_drift": ["copilot"]}
    assert fetch(http, path, day=YESTERDAY) == [drifted]
    assert http.post("/_sim/copilot", json={"field_drift": False}).json() == {"field_drift": []}
    assert fetch(http, path, day=YESTERDAY) == [plain]
