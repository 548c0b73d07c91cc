"""The simulator's control API under /_sim/: the switches tests and the demo flip over HTTP.

Each route is the JSON twin of a `Simulator` method, so a test in another
process (or a person with curl) can do what a Python test does in-process.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exporter.simulator import billing as billing_family
from exporter.simulator import copilot as copilot_family
from exporter.simulator.field_drift import control as field_drift_control
from exporter.simulator.routing import iso, parse_iso

if TYPE_CHECKING:
    from exporter.simulator.app import Simulator


def control_routes(sim: Simulator) -> list[Route]:
    """The control API: no auth, JSON in and out, never counted as GitHub requests.

    GET  /_sim/requests         counts per route template and status, last headers per route
    GET  /_sim/state            clock, switches, budgets, spikes
    POST /_sim/reset-counters   {}
    POST /_sim/reset            {}  (every switch, budget, spike, token and counter)
    POST /_sim/faults           {"kind": "status"|"delay"|"malformed"|"drop"|"html"|"oversized"|"loop"|
                                 "foreign_link"|"bad_row", "count": 1|null, "status": 502, "seconds": 0.5,
                                 "size": bytes, "url": "https://elsewhere/", "route": "/orgs/{org}/insights/api/*"}
                                or {"faults": [...]}, or {"clear": true} (with "faults" to replace)
    POST /_sim/secondary-limit  {"status": 403|429, "retry_after": 60, "requests": K, "duration": s}
                                (neither requests nor duration: until cleared) or {"enabled": false}
    POST /_sim/rate-limit       {"limit": 5000, "remaining": 10, "reset_in": s, "token": "..." | "installation": id}
    POST /_sim/field-drift      {"billing": true, "ghes_stats": false, ...} (a family's answers add a field and
                                rename one; see simulator/field_drift.py)
    POST /_sim/spike            {"org": "octo-demo", "start": ISO|epoch, "end": ISO|epoch, "factor": 10,
                                 "lag": 0, "actor_id": null} or {"clear": true}
    POST /_sim/clock            {"set": ISO|epoch} and/or {"advance": s}; 409 unless the clock is controllable
    POST /_sim/billing          {"fail_next": 1, "delay": 90} (billing exports: next N fail; processing time)
    POST /_sim/copilot          {"field_drift": true} (the same as /_sim/field-drift {"copilot": true})
    Bad input answers 400 with {"message": ...}.
    """
    async def body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            return {}
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    def control(fn: Callable[[dict[str, Any]], Any]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                result = fn(await body(request))
            except (ValueError, TypeError, RuntimeError) as exc:
                status = 409 if isinstance(exc, RuntimeError) else 400
                return JSONResponse({"message": str(exc)}, status_code=status)
            return JSONResponse(result)
        return endpoint

    def when(value: Any, default: float) -> float:
        if value is None:
            return default
        if isinstance(value, int | float):
            return float(value)
        return parse_iso(str(value))

    def faults(data: dict[str, Any]) -> dict[str, Any]:
        if data.get("clear"):
            sim.clear_faults()
        for spec in data.get("faults", [data] if "kind" in data else []):
            spec = dict(spec)
            sim.add_fault(spec.pop("kind"), **spec)
        return {"faults": sim.faults.describe()}

    def secondary(data: dict[str, Any]) -> dict[str, Any]:
        if data.get("enabled", True) is False or data.get("clear"):
            sim.clear_secondary_limit()
            return {"secondary_limit": None}
        limit = sim.set_secondary_limit(requests=data.get("requests"), duration=data.get("duration"),
                                        status=int(data.get("status", 403)),
                                        retry_after=int(data.get("retry_after", 60)))
        return {"secondary_limit": asdict(limit)}

    def rate_limit(data: dict[str, Any]) -> dict[str, Any]:
        sim.set_rate_limit(limit=data.get("limit", data.get("budget")), remaining=data.get("remaining"),
                           token=data.get("token"), reset_in=data.get("reset_in"),
                           installation=data.get("installation"))
        return {"rate_limit": sim.state()["rate_limit"]}

    def spike(data: dict[str, Any]) -> dict[str, Any]:
        if data.get("clear"):
            sim.clear_spikes()
        elif data:
            now = sim.now()
            sim.add_spike(data.get("org", sim.config.orgs[0]), when(data.get("start"), now - 1800),
                          when(data.get("end"), now + 1800), float(data.get("factor", 10.0)),
                          float(data.get("lag", 0.0)), data.get("actor_id"))
        return {"spikes": [s.as_dict() for s in sim.insights.spikes]}

    def clock(data: dict[str, Any]) -> dict[str, Any]:
        if not sim.clock_controllable:
            raise RuntimeError("this simulator's clock is not controllable")
        if "set" in data:
            sim.set_clock(when(data["set"], sim.now()))
        if "advance" in data:
            sim.advance_clock(float(data["advance"]))
        return {"now": sim.now(), "now_iso": iso(sim.now())}

    def reset_counters(_: dict[str, Any]) -> dict[str, Any]:
        sim.reset_counters()
        return sim.request_counts()

    def reset(_: dict[str, Any]) -> dict[str, Any]:
        sim.reset()
        return sim.state()

    return [
        Route("/_sim/requests", control(lambda _: sim.request_counts()), methods=["GET"]),
        Route("/_sim/state", control(lambda _: sim.state()), methods=["GET"]),
        Route("/_sim/reset-counters", control(reset_counters), methods=["POST"]),
        Route("/_sim/reset", control(reset), methods=["POST"]),
        Route("/_sim/faults", control(faults), methods=["POST"]),
        Route("/_sim/secondary-limit", control(secondary), methods=["POST"]),
        Route("/_sim/rate-limit", control(rate_limit), methods=["POST"]),
        Route("/_sim/field-drift", control(lambda data: field_drift_control(sim, data)), methods=["POST"]),
        Route("/_sim/spike", control(spike), methods=["POST"]),
        Route("/_sim/clock", control(clock), methods=["POST"]),
        Route("/_sim/billing", control(lambda data: billing_family.control(sim, data)), methods=["POST"]),
        Route("/_sim/copilot", control(lambda data: copilot_family.control(sim, data)), methods=["POST"]),
    ]
