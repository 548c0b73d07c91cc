"""The field-drift switch: per family, off after /_sim/reset, shown in /_sim/state, only drifting what it names."""

from __future__ import annotations

import httpx
import pytest

from exporter.simulator import Simulator, repo_traffic
from exporter.simulator import ghes_stats as ghes
from exporter.simulator.field_drift import SUMMARY_ADDED, SUMMARY_RENAMED, drifted, set_field_drift
from tests.simulator.conftest import ORG


def test_drifted_renames_in_place_and_adds() -> None:
    assert list(drifted({"a": 1, "b": 2, "c": 3}, ("b", "bb"), ("new", 4)).items()) == [
        ("a", 1), ("bb", 2), ("c", 3), ("new", 4)]
    assert drifted({"a": 1}, ("x", "y")) == {"a": 1}


def test_an_unknown_family_is_refused(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="unknown family"):
        set_field_drift(sim, "nobody", True)


async def test_each_family_drifts_alone_until_reset(sim: Simulator, client: httpx.AsyncClient) -> None:
    stats, usage = "/api/v3/enterprise/stats/all", f"/orgs/{ORG}/copilot/usage"
    plain_stats, plain_usage = (await client.get(stats)).json(), (await client.get(usage)).json()
    set_field_drift(sim, "ghes_stats", True)
    assert sim.state()["field_drift"] == ["ghes_stats"]
    (added, value), (old, new) = ghes.DRIFT_ADDED, ghes.DRIFT_RENAMED
    now = (await client.get(stats)).json()
    assert now[added] == value and now["repos"][new] == plain_stats["repos"][old] and old not in now["repos"]
    assert (await client.get("/api/v3/enterprise/stats/repos")).json() == plain_stats["repos"], "only /all"
    assert (await client.get(usage)).json() == plain_usage, "copilot_usage is not drifting"
    set_field_drift(sim, "copilot", True)
    assert sim.state()["field_drift"] == ["copilot", "ghes_stats"]
    assert (await client.get(usage)).json() == plain_usage, "the reports' family is not the summaries'"
    set_field_drift(sim, "copilot_usage", True)
    days = (await client.get(usage)).json()
    assert days and all(SUMMARY_RENAMED[1] in d and SUMMARY_ADDED[0] in d and SUMMARY_RENAMED[0] not in d
                        for d in days)
    sim.reset()
    assert sim.state()["field_drift"] == []
    assert (await client.get(stats)).json() == plain_stats


async def test_the_switch_over_http(client: httpx.AsyncClient) -> None:
    bad = await client.post("/_sim/field-drift", json={"billing": "yes"})
    assert bad.status_code == 400 and "families" in bad.json()["message"]
    assert (await client.post("/_sim/field-drift", json={"nobody": True})).status_code == 400
    on = await client.post("/_sim/field-drift", json={"billing": True, "copilot_usage": True})
    assert on.json() == {"field_drift": ["billing", "copilot_usage"]}
    assert (await client.post("/_sim/field-drift", json={"billing": False})).json() == {
        "field_drift": ["copilot_usage"]}
    assert (await client.get("/_sim/state")).json()["field_drift"] == ["copilot_usage"]
    assert (await client.post("/_sim/reset")).json()["field_drift"] == []


async def test_repo_traffic_drifts_its_listings_only(sim: Simulator, client: httpx.AsyncClient) -> None:
    listings, views = (f"/orgs/{ORG}/repos", "/users/mona/repos"), f"/repos/{ORG}/api/traffic/views"
    plain = {url: (await client.get(url)).json() for url in (*listings, views)}
    set_field_drift(sim, "repo_traffic", True)
    (old, new), (added, value) = repo_traffic.DRIFT_RENAMED, repo_traffic.DRIFT_ADDED
    for url in listings:
        now = (await client.get(url)).json()
        assert plain[url] and len(now) == len(plain[url])
        assert [r[new] for r in now] == [r[old] for r in plain[url]]
        assert all(old not in r and r[added] == value for r in now)
    assert (await client.get(views)).json() == plain[views], "the traffic answers stay as they are"
