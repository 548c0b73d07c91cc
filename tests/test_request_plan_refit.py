"""The plan follows what GitHub reports: a larger limit unstretches the intervals, a growing org stretches them.

The daemon's own collecting side (plan, client, scheduler with every collector) runs against the loopback
simulator on a ManualClock, job by job with run_once: no wall-clock timing, no reload, no restart.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from exporter.assembly import load_runnable_settings
from exporter.collectors import COLLECTORS
from exporter.daemon import Daemon, DaemonOptions
from exporter.github.auth import AppAuth
from exporter.github.client import GitHubClient
from exporter.scheduler import CollectorScheduler
from exporter.settings import Settings, load_settings
from exporter.simulator import ManualClock, RunningSimulator, SimulatorConfig
from exporter.simulator.installations import installation_id
from exporter.simulator.routing import parse_iso
from exporter.store import SnapshotStore
from exporter.telemetry import ExporterMetrics
from tests.github.conftest import rsa_key_pair

NOW = parse_iso("2024-09-18T12:00:00Z")
APP_ID = 4242
ORG = "octo-demo"


def only(family: str, **options: Any) -> dict[str, dict[str, Any]]:
    """The collectors section with one family enabled."""
    section: dict[str, dict[str, Any]] = {name: {"enabled": name == family} for name in COLLECTORS}
    section[family].update(options)
    return section


def stretch(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("github_exporter_interval_stretch")


def refits(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"].startswith("rate-limit plan refitted")]


@dataclass
class Collecting:
    """A daemon's collecting side, assembled but not started: its jobs run when the test says."""

    client: GitHubClient
    store: SnapshotStore
    scheduler: CollectorScheduler

    async def run_all(self) -> None:
        for key in self.scheduler.jobs:
            assert await self.scheduler.run_once(key), key

    def intervals(self) -> dict[tuple[str, str], float]:
        return {(c.name, c.target): c.options.interval for c in self.scheduler.collectors}


def collecting(settings: Settings, clock: ManualClock, auth: AppAuth | None = None) -> Collecting:
    """Daemon.assemble with a client on the simulator's clock (and its JWTs, for an App)."""
    store = SnapshotStore(max_age=settings.store.max_age)
    metrics = ExporterMetrics(store.registry)
    client = GitHubClient(settings.github, metrics, auth=auth, clock=clock)
    scheduler = Daemon(settings, DaemonOptions(listen_addresses=())).assemble(store, metrics, client, clock=clock)
    return Collecting(client, store, scheduler)


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, str]:
    return rsa_key_pair()


@pytest.fixture
def app_sim(key_pair: tuple[str, str]) -> Iterator[RunningSimulator]:
    """An Enterprise Cloud installation: 15,000 requests an hour."""
    config = SimulatorConfig(orgs=(ORG,), users=10, apps=0, actors=30, app_id=APP_ID, app_public_key_pem=key_pair[1],
                             rate_limit_budget=15_000)
    with RunningSimulator(config=config, clock=ManualClock(NOW)) as running:
        yield running


async def test_an_installation_that_reports_15000_an_hour_unstretches(
    app_sim: RunningSimulator, key_pair: tuple[str, str]
) -> None:
    sim, clock = app_sim.sim, ManualClock(NOW)
    settings = load_settings(None, {
        "github": {"api_url": app_sim.url, "app": {"app_id": APP_ID, "private_key": key_pair[0]},
                   "rate_limit_budget": 0.5, "max_retries": 0},
        "targets": {"orgs": [ORG]},
        # 41 requests a run every 30 s: ~5,000 an hour, twice the budget of 5,000/h, well within that of 15,000/h.
        "collectors": only("api_insights", interval="30s"),
    })
    with capture_logs() as logs:
        running = collecting(settings, clock, AppAuth(APP_ID, key_pair[0], app_sim.url, clock=sim.now))
        registry = running.store.registry
        started = stretch(registry)
        assert started is not None and started > 2, "fitted against 5,000/h before GitHub reported anything"
        assert running.intervals()[("api_insights", ORG)] == pytest.approx(30 * started)
        try:
            await running.run_all()
            assert sim.rate_limit(installation=installation_id(sim.world.seed, "Organization", ORG))["limit"] == 15_000
            assert stretch(registry) == 1.0, "the reported 15,000/h fits the configured intervals"
            assert running.intervals()[("api_insights", ORG)] == 30.0
            assert registry.get_sample_value("github_exporter_collector_interval_seconds",
                                             {"collector": "api_insights", "target": ORG}) == 30.0
            await running.run_all()  # nothing moved: no second refit
        finally:
            await running.client.aclose()
    assert registry.get_sample_value("github_exporter_collector_runs_total",
                                     {"collector": "api_insights", "target": ORG}) == 2, "counters kept"
    [line] = refits(logs)
    assert line["stretch_before"] == round(started, 2) and line["stretch"] == 1.0
    assert line["limits"] == {f"installation:{ORG}": 15_000}


async def test_a_discovered_org_that_grows_stretches_without_a_reload() -> None:
    with RunningSimulator(config=SimulatorConfig(orgs=(ORG,), repos=100), clock=ManualClock(NOW)) as sim_running:
        sim, clock = sim_running.sim, ManualClock(NOW)
        settings = load_settings(None, {
            "github": {"api_url": sim_running.url, "token": "ghp_grow", "rate_limit_budget": 0.5, "max_retries": 0},
            # 100 repositories every 15 minutes: 401 requests a run, at most 5 runs (2,005) in an hour of 2,500.
            "collectors": only("repo_traffic", interval="15m", discover=[ORG]),
        })
        with capture_logs() as logs:
            running = collecting(settings, clock)
            registry = running.store.registry
            [key] = running.intervals()
            try:
                await running.run_all()
                assert stretch(registry) == 1.0 and running.intervals()[key] == 900.0
                collector = running.scheduler.collector(key)

                sim.world.resize_repos(ORG, 300)  # 1,203 requests a run: 5 in an hour would be 6,015
                clock.advance(900)
                sim.set_clock(clock())
                await running.run_all()
            finally:
                await running.client.aclose()
        grown = stretch(registry)
        assert grown is not None and 2.0 < grown < 2.001, "the least stretch that lets only 2 runs in an hour"
        assert running.intervals()[key] == pytest.approx(900 * grown)
        assert running.scheduler.collector(key) is collector, "the same collector, with its state"
        assert registry.get_sample_value("github_exporter_collector_runs_total",
                                         {"collector": key[0], "target": key[1]}) == 2
        seen = collector.observed if collector is not None else {}
        assert seen["listed"] == 300
        per_run = math.ceil(seen["listed"] / 100) + 4 * seen["collected"] + seen["skipped"]  # listing, 4 a repository
        assert registry.get_sample_value("github_exporter_planned_requests_per_hour", {"credential": "token"}) \
            == pytest.approx(per_run * 3600 / (900 * grown))
        served = running.store.render(None).body.decode().splitlines()
        assert f"github_exporter_interval_stretch {grown!r}" in served, "what /metrics serves"
        [line] = refits(logs)
        assert line["stretch_before"] == 1.0 and line["stretch"] == round(grown, 2)
        assert line["log_level"] == "warning"


async def test_a_reload_fits_afresh_from_what_github_reported_and_keeps_the_collectors(tmp_path: Path) -> None:
    config = SimulatorConfig(orgs=(ORG,), users=10, apps=0, actors=30, rate_limit_budget=15_000)
    with RunningSimulator(config=config, clock=ManualClock(NOW)) as sim_running:
        clock = ManualClock(NOW)
        file = tmp_path / "config.yml"
        file.write_text(yaml.safe_dump({
            "github": {"api_url": sim_running.url, "token": "ghp_reload", "rate_limit_budget": 0.5, "max_retries": 0},
            "targets": {"orgs": [ORG]},
            "collectors": only("api_insights", interval="30s"),
        }))
        settings = load_runnable_settings(str(file), {})
        store = SnapshotStore(max_age=settings.store.max_age)
        metrics = ExporterMetrics(store.registry)
        client = GitHubClient(settings.github, metrics, clock=clock)
        daemon = Daemon(settings, DaemonOptions(listen_addresses=(), config_file=str(file)))
        scheduler = daemon.assemble(store, metrics, client, clock=clock)
        key = ("api_insights", ORG)
        try:
            assert (stretch(store.registry) or 0) > 2
            assert await scheduler.run_once(key)
            assert stretch(store.registry) == 1.0
            collector = scheduler.collector(key)
            assert await daemon.reload() is None
        finally:
            await client.aclose()
    assert stretch(store.registry) == 1.0, "fitted against the 15,000/h GitHub reported, not 5,000/h again"
    assert scheduler.collector(key) is collector and collector is not None and collector.options.interval == 30.0
    assert store.registry.get_sample_value("github_exporter_collector_runs_total",
                                           {"collector": "api_insights", "target": ORG}) == 1
