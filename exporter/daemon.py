"""Wires the parts together: client, collectors and scheduler on the main loop, the server on a thread of its own.

It serves HTTP first (so `/-/healthy` answers within a second of start-up) and
only then imports and starts what collecting needs. In demo mode it starts the
GitHub simulator on a free loopback port and points the client at it, with
intervals short enough that every metric moves within a minute. SIGHUP (and
POST /-/reload with --web.enable-lifecycle) reloads the configuration.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from exporter import __version__, logs
from exporter.http.guard import DEFAULT_MAX_REQUESTS
from exporter.settings import ConfigError, Settings
from exporter.store import SnapshotStore
from exporter.telemetry import ExporterMetrics, register_runtime_metrics

if TYPE_CHECKING:
    from exporter.budget import BudgetPlanner
    from exporter.github.client import GitHubClient
    from exporter.http.serve import RunningServer
    from exporter.http.thread import ServingThread
    from exporter.http.webconfig import WebConfig
    from exporter.scheduler import CollectorScheduler
    from exporter.simulator.server import DemoSimulator

log = structlog.get_logger(__name__)

SHUTDOWN_BUDGET = 4.0  # SIGTERM to exit must stay under 5 s


class DaemonError(Exception):
    """A start-up failure worth one line to the user (e.g. the port is taken)."""


@dataclass(frozen=True)
class DaemonOptions:
    """What the command line decides beyond the settings: where to serve, and whether to run the demo."""

    listen_addresses: tuple[str, ...]
    telemetry_path: str = "/metrics"
    demo: bool = False
    config_file: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    enable_lifecycle: bool = False  # POST /-/reload, as Prometheus' --web.enable-lifecycle
    web_config_file: str | None = None  # re-read when it changes
    disable_exporter_metrics: bool = False  # no process_* / python_* metrics
    demo_series: int | None = None  # --demo.series: the simulated world's size in exporter series
    demo_start: float | None = None  # --demo.start: the simulated world's clock starts here (epoch seconds)
    max_requests: int = DEFAULT_MAX_REQUESTS


class Daemon:
    """The long-running exporter: collectors on the main loop, HTTP on its own; reloadable (SIGHUP, POST /-/reload)."""

    def __init__(self, settings: Settings, options: DaemonOptions, web_config: WebConfig | None = None) -> None:
        self.settings = settings
        self.options = options
        self.web_config = web_config
        self._stop = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._simulator: DemoSimulator | None = None
        self._client: GitHubClient | None = None
        self._scheduler: CollectorScheduler | None = None
        self._planner: BudgetPlanner | None = None  # the configured settings and the stretch in force
        self._store: SnapshotStore | None = None
        self._metrics: ExporterMetrics | None = None
        self._http: ServingThread | None = None
        self._published_sizes: dict[tuple[str, str], Mapping[str, float]] | None = None  # the plan's last inputs
        self._clock: Callable[[], float] = time.time  # the demo's world clock when --demo.start shifts it

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))

    def _load(self) -> Settings:
        """The configuration as the command line and the file say now, before any stretch (raises ConfigError)."""
        from exporter.assembly import demo_settings, load_runnable_settings

        if self._simulator is not None:
            sim = self._simulator
            return demo_settings(self.options.config_file, sim.url, sim.targets(), self.options.overrides)
        return load_runnable_settings(self.options.config_file, self.options.overrides)

    def _after_run(self) -> None:
        """After every run: fit the plan again if GitHub's limits or the run's sizes moved it, then publish it."""
        self._refit()
        self._publish_plan()

    def _refit(self) -> None:
        """Stretch or unstretch every interval in place when the plan crossed the budget (BudgetPlanner.refit)."""
        from exporter.budget import observed_sizes

        if self._planner is None or self._scheduler is None or self._client is None or self._metrics is None:
            return
        if self._reload_lock.locked():  # a reload fits afresh when it is done
            return
        fitted = self._planner.refit(observed_sizes(self._scheduler.collectors), self._client.rate_limits.limits(),
                                     settled=self._scheduler.readiness()[0])
        if fitted is None:
            return
        self.settings = fitted
        self._scheduler.retime(fitted)
        self._metrics.interval_stretch.set(self._planner.stretch)
        self._publish_plan(force=True)

    def _publish_plan(self, force: bool = False) -> None:
        """github_exporter_planned_requests_per_hour by credential, with the sizes the last runs saw."""
        from exporter.budget import observed_sizes, planned_by_credential

        if self._metrics is None or self._scheduler is None:
            return
        sizes = observed_sizes(self._scheduler.collectors)
        if sizes == self._published_sizes and not force:
            return
        self._published_sizes = sizes
        self._metrics.planned_requests.clear()
        for credential, planned in planned_by_credential(self.settings, sizes).items():
            self._metrics.planned_requests.labels(credential).set(planned)
        if self._store is not None:
            self._store.touch()  # the run's own touch came before this: /metrics would serve the old plan

    async def run(self) -> int:
        from exporter.http.app import create_app
        from exporter.http.landing import LandingInfo
        from exporter.http.listen import ServeError
        from exporter.http.serve import serve
        from exporter.http.thread import ServingThread, run_in_loop

        self._install_signal_handlers()
        main_loop = asyncio.get_running_loop()

        async def reload_from_http() -> str | None:  # the server's loop asks; the reload runs on the main loop
            return await run_in_loop(main_loop, self.reload())

        options = self.options
        log.info("starting", version=__version__, listen_addresses=options.listen_addresses, demo=options.demo)
        # Serve first, so /-/healthy answers while the simulator, client and collectors start.
        store = self._store = SnapshotStore(max_age=self.settings.store.max_age)
        metrics = self._metrics = ExporterMetrics(store.registry)
        if not self.options.disable_exporter_metrics:
            register_runtime_metrics(store.registry)

        def readiness() -> tuple[bool, str]:
            return self._scheduler.readiness() if self._scheduler is not None else (False, "starting")

        app = create_app(
            store,
            telemetry_path=self.options.telemetry_path,
            readiness=readiness,
            web_config=self.web_config,
            landing=LandingInfo(),
            reload=reload_from_http if self.options.enable_lifecycle else None,
            web_config_file=self.options.web_config_file,
        )
        # Scrapes are served on a thread and loop of their own (ServingThread says why).
        http = self._http = ServingThread()
        servers: list[RunningServer] = []
        try:
            for address in self.options.listen_addresses:
                servers.append(await http.run(serve(app, address, self.web_config, self.options.max_requests)))
            await self._start_collecting(store, metrics)
        except ServeError as exc:
            await self._stop_serving(servers)
            raise DaemonError(str(exc)) from None
        except BaseException:
            await self._stop_serving(servers)
            raise
        assert self._scheduler is not None
        log.info(
            "started",
            version=__version__,
            jobs=len(self._scheduler.jobs),
            metrics=[f"{s.url}{self.options.telemetry_path}" for s in servers],
        )
        if self.options.demo:
            url = servers[0].url
            print(f"Demo running: metrics at {url}{self.options.telemetry_path} (Ctrl-C to stop)", flush=True)

        await self._stop.wait()
        log.info("shutting down")
        await asyncio.wait_for(self._shutdown(servers), SHUTDOWN_BUDGET)
        return 0

    async def _start_collecting(self, store: SnapshotStore, metrics: ExporterMetrics) -> None:
        """The demo's simulator (if any), the GitHub client and the scheduler with every collector, started."""
        if self.options.demo:
            from exporter.simulator.config import SimulatorConfig, world_for_series
            from exporter.simulator.server import start_simulator

            world = world_for_series(self.options.demo_series) if self.options.demo_series else {}
            if self.options.demo_start is not None:  # client and collectors read the world's time, as from GitHub
                from exporter.simulator.clock import ShiftedClock

                self._clock = ShiftedClock(self.options.demo_start)
            self._simulator = await start_simulator(SimulatorConfig.demo(**world), clock=self._clock)
            try:
                self.settings = self._load()
            except BaseException:
                await self._simulator.stop()
                raise
            log.info("demo: GitHub simulator started", url=self._simulator.url)
        self.assemble(store, metrics, clock=self._clock).start()

    def assemble(
        self,
        store: SnapshotStore,
        metrics: ExporterMetrics,
        client: GitHubClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> CollectorScheduler:
        """The plan fitted, the client, and a scheduler holding every collector, not started yet.

        Tests run its jobs one by one (run_once) on a clock of their own, with a client they made.
        """
        from exporter.assembly import build_collectors
        from exporter.budget import BudgetPlanner
        from exporter.github.client import GitHubClient
        from exporter.scheduler import CollectorScheduler

        self._store, self._metrics = store, metrics
        # The demo's simulator has more than enough; a real run fits the plan now and after every run.
        planner = self._planner = BudgetPlanner(self.settings, fitted=not self.options.demo)
        settings = self.settings = planner.fit(self.settings)
        metrics.interval_stretch.set(planner.stretch)

        client = self._client = client or GitHubClient(settings.github, metrics, clock=clock)
        scheduler = CollectorScheduler(store, metrics, settings.scheduler.jitter, after_run=self._after_run)
        for collector in build_collectors(settings, client, clock=clock):
            scheduler.add(collector, collector.options.interval)
        self._scheduler = scheduler
        self._publish_plan()
        return scheduler

    async def reload(self) -> str | None:
        """Re-read the configuration; None when applied, else why it was refused (the old one keeps running).

        Collectors whose settings did not change keep running as they are, with
        their counters, their late-data state and their cached snapshot; changed
        ones start afresh; removed ones stop and their series go.
        """
        if self._metrics is None or self._store is None or self._scheduler is None:
            return "still starting"
        async with self._reload_lock:
            try:
                new = self._load()
            except ConfigError as exc:
                self._metrics.config_last_reload_successful.set(0)
                self._store.touch()
                reason = "; ".join(str(exc).splitlines())
                log.error("configuration reload failed; the running configuration stays", error=reason)
                return reason
            if new.github.token:
                logs.register_secret(new.github.token.get_secret_value())
            kept, started, stopped = await self._apply(new)
            self._metrics.config_last_reload_successful.set(1)
            self._metrics.config_last_reload_success.set_to_current_time()
            self._store.touch()
            log.info("configuration reloaded", kept=kept, started=started, stopped=stopped)
            return None

    async def _apply(self, configured: Settings) -> tuple[int, int, int]:
        """Swap in a reloaded configuration: fitted afresh, collectors kept when their configured section is."""
        assert self._scheduler is not None and self._client is not None and self._store is not None
        assert self._metrics is not None and self._planner is not None
        from exporter.assembly import build_collectors, same_setup
        from exporter.budget import observed_sizes
        from exporter.github.client import GitHubClient

        planner, scheduler = self._planner, self._scheduler
        old = planner.configured
        new = planner.fit(configured, observed_sizes(scheduler.collectors), self._client.rate_limits.limits())
        same_github = new.github == self.settings.github
        client = self._client if same_github else GitHubClient(new.github, self._metrics, clock=self._clock)

        wanted = {(c.name, str(c.target)): c for c in build_collectors(new, client, clock=self._clock)}
        kept = stopped = 0
        for key in scheduler.jobs:
            current = scheduler.collector(key)
            fresh = wanted.get(key)
            if current is not None and fresh is not None and client is self._client \
                    and same_setup(current, old, configured):
                del wanted[key]  # target lists (teams, repositories) are read at run time; retime sets them
                kept += 1
            else:
                await scheduler.remove(key, keep_data=fresh is not None)
                stopped += 1
        for collector in wanted.values():
            scheduler.add(collector, collector.options.interval)
        scheduler.retime(new)  # the kept ones: the new settings, and the stretch the new plan needs
        if client is not self._client:
            await self._client.aclose()
            self._client = client
        self._store.max_age = new.store.max_age
        scheduler.jitter = new.scheduler.jitter
        self.settings = new
        self._metrics.interval_stretch.set(planner.stretch)
        self._publish_plan(force=True)
        return kept, len(wanted), stopped

    async def _stop_serving(self, servers: list[RunningServer]) -> None:
        if self._http is None:
            return
        await asyncio.gather(*(self._http.run(server.stop()) for server in servers))
        self._http.close()

    async def _shutdown(self, servers: list[RunningServer]) -> None:
        assert self._scheduler is not None and self._client is not None
        await self._scheduler.shutdown(timeout=1.5)
        await self._stop_serving(servers)
        await self._client.aclose()
        if self._simulator is not None:
            await self._simulator.stop()
