"""Wires the parts together on one asyncio loop: client, collectors, scheduler, store, server.

In demo mode it first starts the GitHub simulator on a free loopback port and
points the client at it, with intervals short enough that every metric moves
within a minute.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from exporter import __version__
from exporter.assembly import build_collectors, demo_settings
from exporter.github.client import GitHubClient
from exporter.httpguard import DEFAULT_MAX_REQUESTS
from exporter.scheduler import CollectorScheduler
from exporter.settings import Settings
from exporter.store import SnapshotStore
from exporter.telemetry import ExporterMetrics

if TYPE_CHECKING:
    from exporter.webconfig import WebConfig

log = structlog.get_logger(__name__)

SHUTDOWN_BUDGET = 4.0  # SIGTERM to exit must stay under 5 s


class DaemonError(Exception):
    """A start-up failure worth one line to the user (e.g. the port is taken)."""


@dataclass(frozen=True)
class DaemonOptions:
    """What the command line decides beyond the settings: where to serve, and whether to run the demo."""

    listen_address: str
    telemetry_path: str = "/metrics"
    demo: bool = False
    config_file: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    max_requests: int = DEFAULT_MAX_REQUESTS


class Daemon:
    def __init__(self, settings: Settings, options: DaemonOptions, web_config: WebConfig | None = None) -> None:
        self.settings = settings
        self.options = options
        self.web_config = web_config
        self._stop = asyncio.Event()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)

    async def run(self) -> int:
        from exporter.server import LandingInfo, ServeError, create_app, serve

        self._install_signal_handlers()
        simulator = None
        settings = self.settings
        if self.options.demo:
            from exporter.simulator.config import SimulatorConfig
            from exporter.simulator.server import start_simulator

            simulator = await start_simulator(SimulatorConfig.demo())
            settings = demo_settings(
                self.options.config_file, simulator.url, simulator.targets(), self.options.overrides
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
            telemetry_path=self.options.telemetry_path,
            readiness=scheduler.readiness,
            web_config=self.web_config,
            landing=LandingInfo(),
        )
        try:
            server = await serve(app, self.options.listen_address, self.web_config, self.options.max_requests)
        except ServeError as exc:
            await client.aclose()
            if simulator is not None:
                await simulator.stop()
            raise DaemonError(str(exc)) from None

        scheduler.start()
        log.info(
            "started",
            version=__version__,
            jobs=len(scheduler.jobs),
            metrics=f"{server.url}{self.options.telemetry_path}",
        )
        if self.options.demo:
            print(f"Demo running: metrics at {server.url}{self.options.telemetry_path} (Ctrl-C to stop)", flush=True)

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
