"""Serving on loopback: a background thread for tests, the caller's loop for demo mode, a CLI for humans."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from exporter.simulator import RunningSimulator, Simulator, SimulatorConfig, serve_in_loop, stop_in_loop
from exporter.simulator.routing import iso

ROOT = Path(__file__).resolve().parents[2]


def test_running_simulator_serves_from_a_thread_and_stops_cleanly() -> None:
    threads = threading.active_count()
    with RunningSimulator() as running:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", running.url) and not running.url.endswith(":0")
        assert httpx.get(f"{running.url}/_sim/state").json()["orgs"] == ["octo-demo"]
        assert isinstance(running.sim, Simulator)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running.url}/_sim/state")
    assert threading.active_count() == threads


async def test_serve_in_loop_shares_the_callers_loop_and_leaves_signals_alone() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    server, url = await serve_in_loop(Simulator(SimulatorConfig.demo()))
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{url}/orgs/octo-demo/insights/api/summary-stats",
                                        params={"min_timestamp": iso(time.time() - 86400)},
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
    process = subprocess.Popen([sys.executable, "-m", "exporter.simulator", "--port", "0", "--demo"],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url, line
        assert httpx.get(f"{url[0]}/_sim/state", timeout=5).json()["insights_lag"] == {"min": 0.0, "full": 300.0}
    finally:
        process.terminate()
        assert process.wait(timeout=10) in (0, -signal.SIGTERM)
