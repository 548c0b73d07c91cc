"""Fixtures: a simulator on a hand-driven clock, an in-process client, and a client of the loopback server
(`running`, in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from exporter.simulator import ManualClock, RunningSimulator, Simulator, SimulatorConfig, create_app
from tests.collectors.harness import NOW

ORG = "octo-demo"
TOKEN = "ghp_simulatortesttoken"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def sim(clock: ManualClock) -> Simulator:
    return Simulator(SimulatorConfig(), clock=clock)


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(sim))
    async with httpx.AsyncClient(transport=transport, base_url="https://api.github.test", headers=AUTH) as c:
        yield c


@pytest.fixture
def http(running: RunningSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url, headers=AUTH, timeout=5) as c:
        yield c
