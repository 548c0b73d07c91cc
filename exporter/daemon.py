"""Wires the parts together on one asyncio loop: client, collectors, scheduler, store, server.

It serves HTTP first (so `/-/healthy` answers within a second of start-up) and
only then imports and starts what collecting needs. In demo mode it starts the
GitHub simulator on a free loopback port and points the client at it, with
intervals short enough that every metric moves within a minute.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from exporter import __version__
from exporter.settings import Settings
from exporter.store import SnapshotStore
from exporter.telemetry import ExporterMetrics

if TYPE_CHECKING:
    from exporter.github.client import GitHubClient
    from exporter.scheduler import CollectorScheduler
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
    demo_series: int | None = None  # --demo.series: the simulated world's size in exporter series


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
        log.info("starting", version=__version__, listen_address=self.options.listen_address, demo=self.options.demo)
        # Serve first, so /-/healthy answers while the simulator, client and collectors start.
        store = SnapshotStore(max_age=self.settings.store.max_age)
        metrics = ExporterMetrics(store.registry)
        started: list[CollectorScheduler] = []

        def readiness() -> tuple[bool, str]:
            return started[0].readiness() if started else (False, "starting")

        app = create_app(
            store,
            telemetry_path=self.options.telemetry_path,
            readiness=readiness,
            web_config=self.web_config,
            landing=LandingInfo(),
        )
        try:
            server = await serve(app, self.options.listen_address, self.web_config)
        except ServeError as exc:
            raise DaemonError(str(exc)) from None
        try:
            scheduler, client, simulator = await self._start_collecting(store, metrics)
        except BaseException:
            await server.stop()
            raise
        started.append(scheduler)
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

    async def _start_collecting(
        self, store: SnapshotStore, metrics: ExporterMetrics
    ) -> tuple[CollectorScheduler, GitHubClient, Any]:
        """The demo's simulator (if any), the GitHub client and the scheduler with every collector, started."""
        from exporter.assembly import build_collectors, demo_settings
        from exporter.github.client import GitHubClient
        from exporter.scheduler import CollectorScheduler

        simulator = None
        settings = self.settings
        if self.options.demo:
            from exporter.simulator.config import SimulatorConfig, world_for_series
            from exporter.simulator.server import start_simulator

            world = world_for_series(self.options.demo_series) if self.options.demo_series else {}
            simulator = await start_simulator(SimulatorConfig.demo(**world))
            try:
                settings = demo_settings(
                    self.options.config_file, simulator.url, simulator.targets(), self.options.overrides
                )
            except BaseException:
                await simulator.stop()
                raise
            log.info("demo: GitHub simulator started", url=simulator.url)

        client = GitHubClient(settings.github, metrics)
        scheduler = CollectorScheduler(store, metrics, settings.scheduler.jitter)
        for collector in build_collectors(settings, client):
            scheduler.add(collector, collector.options.interval)
        scheduler.start()
        return scheduler, client, simulator

    async def _shutdown(self, scheduler: CollectorScheduler, server: Any, client: GitHubClient, simulator: Any) -> None:
        await scheduler.shutdown(timeout=1.5)
        await server.stop()
        await client.aclose()
        if simulator is not None:
            await simulator.stop()
