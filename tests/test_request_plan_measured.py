"""Each collector's request plan against the requests the simulator records, in virtual time.

Every family runs alone against the loopback simulator on a ManualClock shared by both sides: a warm-up
(so run-time sizes such as pages, repositories and export polls are observed), then a steady stretch at
the collector's interval while the simulator counts every REST request it answers (signed downloads and
GitHub App token requests are not REST rate-limited requests and are not counted). The plan, fed the sizes
the last run saw, must match the count within each case's stated tolerance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from exporter.budget import observed_sizes
from exporter.collectors import COLLECTORS, Collector
from exporter.collectors.billing import BillingCollector
from exporter.github.client import GitHubClient
from exporter.github.deployment import Deployment
from exporter.settings import load_settings
from exporter.simulator import ManualClock, RunningSimulator, SimulatorConfig
from exporter.simulator.routing import parse_iso
from exporter.telemetry import ExporterMetrics

START = parse_iso("2024-09-18T12:00:00Z")
HOUR = 3600.0
WORLD = SimulatorConfig()
ORG, ENTERPRISE = WORLD.orgs[0], WORLD.enterprise


@dataclass(frozen=True)
class Case:
    family: str
    targets: dict[str, list[str]]
    collector: dict[str, Any] = field(default_factory=dict)
    config: SimulatorConfig = WORLD
    warmup: float = HOUR
    measured: float = 6 * HOUR
    tolerance: float = 0.0  # relative; every case today: 0, the plan is the count to the request
    api_path: str = ""


# Collectors that need a world, targets, options or a stretch of their own; every other collector gets
# `default_case`: an organisation and an enterprise on the deployment where it runs.
SPECIAL = [
    # The plan is API Insights' worst case (every followed actor asked each run): met when all are active.
    Case("api_insights", {"orgs": [ORG]}, config=SimulatorConfig(users=10, apps=0, actors=30), measured=HOUR),
    Case("repo_traffic", {}, {"discover": [ORG]}),
    Case("repo_traffic", {"repositories": [f"{ORG}/api", f"{ORG}/web"]}),
    Case("billing", {"enterprises": [ENTERPRISE]}, measured=12 * HOUR),
    Case("copilot", {"orgs": [ORG], "enterprises": [ENTERPRISE], "teams": [f"{ORG}/platform"]},
         warmup=24 * HOUR, measured=24 * HOUR),
    Case("copilot_usage", {"orgs": [ORG], "teams": [f"{ORG}/platform"]}, {"enabled": True}),
]


def default_case(name: str) -> Case:
    """An organisation and an enterprise (each collector takes the kinds it reads), under /api/v3 on GHES."""
    ghes = COLLECTORS[name].deployments == {Deployment.GHES}
    return Case(name, {} if ghes else {"orgs": [ORG], "enterprises": [ENTERPRISE]}, api_path="/api/v3" if ghes else "")


CASES = SPECIAL + [default_case(name) for name in COLLECTORS if name not in {case.family for case in SPECIAL}]


async def measure(case: Case) -> tuple[int, float, set[str]]:
    """(requests the simulator answered, requests the plan expected, the routes asked) over the steady stretch."""
    with RunningSimulator(config=case.config, clock=ManualClock(START)) as running:
        sim, clock = running.sim, ManualClock(START)
        collectors_section = {name: {"enabled": name == case.family} for name in COLLECTORS}
        collectors_section[case.family].update(case.collector)
        settings = load_settings(None, {
            "github": {"api_url": running.url + case.api_path, "token": "ghp_plan", "max_retries": 0},
            "targets": case.targets,
            "collectors": collectors_section,
        })
        client = GitHubClient(settings.github, ExporterMetrics(CollectorRegistry()), clock=clock)

        async def sleep(seconds: float) -> None:  # billing's export polling waits in virtual time
            clock.advance(seconds)
            sim.set_clock(clock())

        cls = COLLECTORS[case.family]
        collectors: list[Collector] = [
            BillingCollector(client, settings, t, clock=clock, sleep=sleep) if cls is BillingCollector
            else cls(client, settings, t, clock=clock)
            for t in cls.targets(settings)
        ]
        assert collectors, "the case has a target"
        interval = cls.options_of(settings).interval
        now, end = START, START + case.warmup + case.measured
        plan: float | None = None
        try:
            while now < end:
                if now >= START + case.warmup and plan is None:  # warmed up: plan with what the runs saw, count
                    sizes = observed_sizes(collectors)
                    plan = sum(c.planned_requests_per_hour(settings, c.target, sizes[(c.name, c.target)])
                               for c in collectors)
                    sim.reset_counters()
                clock.set(now)
                sim.set_clock(now)
                for collector in collectors:
                    await collector.collect()
                now += interval
        finally:
            await client.aclose()
        assert plan is not None
        counts = sim.request_counts()
        return counts["total"], plan * case.measured / HOUR, set(counts["routes"])


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.family}-{'-'.join(sorted(c.targets)) or 'none'}")
async def test_the_plan_counts_the_requests_a_steady_stretch_makes(case: Case) -> None:
    made, planned, routes = await measure(case)
    assert made > 0
    assert not undeclared(case.family, routes), f"{case.family} calls endpoints its `endpoints` does not name"
    assert abs(made - planned) <= case.tolerance * planned + 1e-6, (
        f"{case.family}: {made} requests in {case.measured / HOUR:.0f}h, plan {planned:.1f}")


def undeclared(name: str, routes: set[str]) -> set[str]:
    """The simulator's route templates asked that none of the collector's declared `endpoints` matches."""
    declared = COLLECTORS[name].endpoints
    endpoints = declared if isinstance(declared, tuple) else [e for kind in declared.values() for e in kind]
    concrete = [re.sub(r"\{[^}]*\}", "x", e) for e in endpoints]
    return {route for route in routes
            if not any(re.fullmatch(re.sub(r"\{[^}]*\}", "[^/]+", route.removeprefix("/api/v3")), e) for e in concrete)}


def test_every_collector_has_a_measured_case() -> None:
    """Every collector is measured (by default or a special case), and no special case outlives its collector."""
    measured = {case.family for case in CASES}
    assert measured == set(COLLECTORS), f"unmeasured: {set(COLLECTORS) - measured}"
    assert {case.family for case in SPECIAL} <= set(COLLECTORS), "a special case for a collector that no longer exists"
