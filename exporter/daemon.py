"""Wires the parts together on one asyncio loop: client, collectors, scheduler, store, server.

In demo mode it first starts the GitHub simulator on a free loopback port and
points the client at it, with intervals short enough that every metric moves
within a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

import structlog

from exporter import __version__
from exporter.collectors import COLLECTORS, Collector
from exporter.github.client import GitHubClient
from exporter.scheduler import CollectorScheduler
from exporter.settings import Settings, load_settings
from exporter.sharding import Sharder
from exporter.store import SnapshotStore
from exporter.telemetry import ExporterMetrics

log = structlog.get_logger(__name__)

DEMO_INTERVAL = "15s"
DEMO_TOKEN = "demo-token"
SHUTDOWN_BUDGET = 4.0  # SIGTERM to exit must stay under 5 s


class DaemonError(Exception):
    """A start-up failure worth one line to the user (e.g. the port is taken)."""


def demo_settings(
    settings_file: str | None, api_url: str, world_targets: dict[str, list[str]], flags: dict[str, Any]
) -> Settings:
    """The configuration a demo runs with: the simulator's targets, short intervals, a dummy token."""
    overrides: dict[str, Any] = {"github": {"api_url": api_url, "token": DEMO_TOKEN, "max_rate_limit_wait": 30}}
    if settings_file is None:
        overrides["targets"] = world_targets
        overrides["collectors"] = {name: {"interval": DEMO_INTERVAL} for name in COLLECTORS}
    for name, value in flags.get("collectors", {}).items():
        overrides.setdefault("collectors", {}).setdefault(name, {}).update(value)
    if "sharding" in flags:
        overrides["sharding"] = flags["sharding"]
    return load_settings(settings_file, overrides)


def build_collectors(
    settings: Settings, client: GitHubClient, clock: Callable[[], float] = time.time
) -> list[Collector]:
    """A collector per enabled family and target this replica owns (every target, for families that shard their own work)."""
    sharder = Sharder.from_settings(settings)
    collectors: list[Collector] = []
    for collector_cls in COLLECTORS.values():
        if not collector_cls.options_of(settings).enabled:
            continue
        for target in collector_cls.targets(settings):
            if sharder.owns(target) or not collector_cls.sharded_by_target:
                collectors.append(collector_cls(client, settings, target, clock=clock))
    return collectors


class Daemon:
    def __init__(self, settings: Settings, args: argparse.Namespace, web_config: Any = None) -> None:
        self.settings = settings
        self.args = args
        self.web_config = web_config
        self._stop = asyncio.Event()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)

    async def run(self) -> int:
        from exporter.cli import flag_overrides
        from exporter.server import LandingInfo, ServeError, create_app, serve

        self._install_signal_handlers()
        simulator = None
        settings = self.settings
        if self.args.demo:
            from exporter.simulator.config import SimulatorConfig
            from exporter.simulator.server import start_simulator

            simulator = await start_simulator(SimulatorConfig.demo())
            settings = demo_settings(
                self.args.config_file, simulator.url, simulator.targets(), flag_overrides(self.args)
            )
            log.info("demo: GitHub simulator started", url=simulator.url)

        store = SnapshotStore(max_age=settings.store.max_age)
        metrics = ExporterMetrics(store.registry)
        client = GitHubClient(settings.github, metrics)
        scheduler = CollectorScheduler(store, metrics, settings.scheduler.jitter)
        for collector in build_collectors(settings, client):
            scheduler.add(collector, collector.options.interval)

        app = create_app(
            store,
            telemetry_path=self.args.telemetry_path,
            readiness=scheduler.readiness,
            web_config=self.web_config,
            landing=LandingInfo(),
        )
        try:
            server = await serve(app, self.args.listen_address, self.web_config)
        except ServeError as exc:
            await client.aclose()
            if simulator is not None:
                await simulator.stop()
            raise DaemonError(str(exc)) from None

        scheduler.start()
        log.info(
            "started", version=__version__, jobs=len(scheduler.jobs), metrics=f"{server.url}{self.args.telemetry_path}"
        )
        if self.args.demo:
            print(f"Demo running: metrics at {server.url}{self.args.telemetry_path} (Ctrl-C to stop)", flush=True)

        await self._stop.wait()
        log.info("shutting down")
        await asyncio.wait_for(self._shutdown(scheduler, server, client, simulator), SHUTDOWN_BUDGET)
        return 0

    async def _shutdown(self, scheduler: CollectorScheduler, server: Any, client: GitHubClient, simulator: Any) -> None:
        await scheduler.shutdown(timeout=1.5)
        await server.stop()
        await client.aclose()
        if simulator is not None:
            await simulator.stop()
