"""The /_sim/ control API: the same switches as the Simulator's methods, as JSON over HTTP."""

from __future__ import annotations

import httpx

from exporter.simulator import Simulator, create_app
from exporter.simulator.routing import iso
from tests.simulator.conftest import NOW, ORG

API = f"/orgs/{ORG}/insights/api"
WINDOW = {"min_timestamp": iso(NOW - 3600), "max_timestamp": iso(NOW), "timestamp_increment": "5m"}


def test_control_api_needs_no_auth_and_is_not_counted(running, http: httpx.Client) -> None:
    state = httpx.get(f"{running.url}/_sim/state").json()
    assert state["now"] == NOW and state["clock_controllable"] is True and state["orgs"] == [ORG]
    assert httpx.get(f"{running.url}/_sim/requests").json()["total"] == 0


def test_faults_switch(running, http: httpx.Client) -> None:
    set_ = http.post("/_sim/faults", json={"kind": "status", "status": 502, "count": 1,
                                           "route": "/orgs/{org}/insights/api/time-stats"})
    assert set_.json()["faults"][0]["status"] == 502
    assert http.get(f"{API}/time-stats", params=WINDOW).status_code == 502
    assert http.get(f"{API}/time-stats", params=WINDOW).status_code == 200
    http.post("/_sim/faults", json={"faults": [{"kind": "status", "status": 500, "count": None}]})
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 500
    assert http.post("/_sim/faults", json={"clear": True}).json() == {"faults": []}
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 200
    assert http.post("/_sim/faults", json={"kind": "explode"}).status_code == 400


def test_secondary_limit_switch(http: httpx.Client) -> None:
    http.post("/_sim/secondary-limit", json={"status": 429, "retry_after": 7, "requests": 1})
    refused = http.get(f"{API}/summary-stats", params=WINDOW)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "7"
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 200
    http.post("/_sim/secondary-limit", json={})  # until cleared
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 403
    http.post("/_sim/secondary-limit", json={"enabled": False})
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 200


def test_rate_limit_switch(http: httpx.Client) -> None:
    answer = http.post("/_sim/rate-limit", json={"limit": 100, "remaining": 1}).json()
    assert answer["rate_limit"]["limit"] == 100
    ok = http.get(f"{API}/summary-stats", params=WINDOW)
    assert ok.headers["x-ratelimit-limit"] == "100" and ok.headers["x-ratelimit-remaining"] == "0"
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 403
    http.post("/_sim/rate-limit", json={"remaining": 50, "reset_in": 10})
    again = http.get(f"{API}/summary-stats", params=WINDOW)
    assert again.headers["x-ratelimit-remaining"] == "49" and again.headers["x-ratelimit-reset"] == str(int(NOW) + 10)


def test_spike_switch(http: httpx.Client) -> None:
    def limited() -> int:
        return sum(r["rate_limited_request_count"] for r in http.get(f"{API}/time-stats", params=WINDOW).json())

    assert limited() == 0
    spikes = http.post("/_sim/spike", json={"org": ORG, "start": iso(NOW - 1800), "end": NOW, "factor": 3}).json()
    assert spikes["spikes"][0]["start"] == iso(NOW - 1800)
    assert limited() > 0
    assert http.post("/_sim/spike", json={"clear": True}).json() == {"spikes": []}
    assert limited() == 0
    assert http.post("/_sim/spike", json={"org": "nope"}).status_code == 400


def test_clock_switch(running, http: httpx.Client) -> None:
    assert http.post("/_sim/clock", json={"advance": 90}).json()["now"] == NOW + 90
    assert http.post("/_sim/clock", json={"set": "2024-09-19T00:00:00Z"}).json()["now_iso"] == "2024-09-19T00:00:00Z"
    assert running.sim.now() == http.get("/_sim/state").json()["now"]


async def test_clock_switch_refuses_a_real_clock() -> None:
    transport = httpx.ASGITransport(app=create_app(Simulator()))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        response = await client.post("/_sim/clock", json={"advance": 1})
        assert response.status_code == 409 and "not controllable" in response.json()["message"]


def test_reset_restores_everything_but_world_and_clock(running, http: httpx.Client) -> None:
    running.sim.fail_next(5)
    running.sim.set_secondary_limit()
    http.post("/_sim/clock", json={"advance": 60})
    state = http.post("/_sim/reset").json()
    assert state["faults"] == [] and state["secondary_limit"] is None and state["now"] == NOW + 60
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 200
