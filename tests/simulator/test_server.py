"""Serving on loopback: a background thread for tests, the caller's loop for demo mode, a CLI for humans."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from exporter.simulator import ManualClock, RunningSimulator, Simulator, SimulatorConfig, serve_in_loop, stop_in_loop
from exporter.simulator.routing import iso, parse_iso

ROOT = Path(__file__).resolve().parents[2]
NOW = parse_iso("2025-03-12T14:00:00Z")  # a fixed instant: the demo world's traffic differs by day and hour


def test_running_simulator_serves_from_a_thread_and_stops_cleanly() -> None:
    threads = set(threading.enumerate())  # others' idle worker threads may end meanwhile: compare what is new
    with RunningSimulator() as running:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", running.url) and not running.url.endswith(":0")
        assert httpx.get(f"{running.url}/_sim/state").json()["orgs"] == ["octo-demo"]
        assert isinstance(running.sim, Simulator)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running.url}/_sim/state")
    assert not set(threading.enumerate()) - threads, "the simulator's threads are gone"


async def test_serve_in_loop_shares_the_callers_loop_and_leaves_signals_alone() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    server, url = await serve_in_loop(Simulator(SimulatorConfig.demo(), clock=ManualClock(NOW)))
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{url}/orgs/octo-demo/insights/api/summary-stats",
                                        params={"min_timestamp": iso(NOW - 86400)},
                                        headers={"Authorization": "Bearer demo"})
            assert response.status_code == 200 and response.json()["total_request_count"] > 0
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    finally:
        await stop_in_loop(server)
    assert server.serve_task.done()
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{url}/_sim/state")


def test_command_line_prints_its_url() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "exporter.simulator", "--port", "0", "--demo",
                                "--start", "2025-03-12T14:00:00Z"],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url, line
        state = httpx.get(f"{url[0]}/_sim/state", timeout=5).json()
        assert state["insights_lag"] == {"min": 0.0, "full": 300.0}
        assert "2025-03-12T14:00:00Z" <= state["now_iso"] < "2025-03-12T14:01:00Z", "--start sets the world's clock"
        assert state["clock_controllable"]
    finally:
        process.terminate()
        assert process.wait(timeout=10) in (0, -signal.SIGTERM)
