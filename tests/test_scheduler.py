"""CollectorScheduler: first run at start, no overlap, no job blocks another, failures keep the last snapshot."""

from __future__ import annotations

import asyncio

from prometheus_client.metrics_core import Metric

from exporter.collectors.base import Collector
from exporter.metricspec import MetricSpec
from exporter.scheduler import CollectorScheduler
from exporter.store import SnapshotStore
from exporter.telemetry import ExporterMetrics

SPEC = MetricSpec("test", "github_test_value", "gauge", "A test value.", ("target",), "test")


class ScriptedCollector(Collector):
    """Runs a script of behaviours, one per run: a number to publish, an exception to raise, or an Event to wait on."""

    name = "scripted"

    def __init__(self, target: str, script: list) -> None:  # noqa: D107 - test double of our own interface
        self.target = target
        self.script = list(script)
        self.runs = 0
        self.active = 0
        self.max_active = 0

    @classmethod
    def targets(cls, settings):  # pragma: no cover - not used by the scheduler
        return []

    async def collect(self) -> list[Metric]:
        self.runs += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            step = self.script.pop(0) if self.script else self.runs
            if isinstance(step, asyncio.Event):
                await step.wait()
                step = self.runs
            if isinstance(step, BaseException):
                raise step
            return [SPEC.one([self.target], step)]
        finally:
            self.active -= 1


def sample(store: SnapshotStore, target: str) -> float | None:
    return store.registry.get_sample_value("github_test_value", {"target": target})


def metric(store: SnapshotStore, name: str, target: str) -> float | None:
    return store.registry.get_sample_value(name, {"collector": "scripted", "target": target})


async def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def make(jitter: float = 0.0) -> tuple[SnapshotStore, CollectorScheduler]:
    store = SnapshotStore(max_age=3600)
    return store, CollectorScheduler(store, ExporterMetrics(store.registry), jitter)


async def test_first_run_at_start_and_readiness() -> None:
    store, scheduler = make()
    a, b = ScriptedCollector("a", [1]), ScriptedCollector("b", [2])
    scheduler.add(a, 3600)
    scheduler.add(b, 3600)
    assert scheduler.readiness()[0] is False
    assert metric(store, "github_exporter_collector_runs_total", "a") == 0
    scheduler.start()
    try:
        await wait_for(lambda: scheduler.readiness()[0])
        assert sample(store, "a") == 1 and sample(store, "b") == 2
        assert metric(store, "github_exporter_collector_success", "a") == 1
        assert metric(store, "github_exporter_collector_last_success_timestamp_seconds", "a") > 0
    finally:
        await scheduler.shutdown()


async def test_a_slow_job_does_not_delay_another() -> None:
    store, scheduler = make()
    gate = asyncio.Event()
    slow, fast = ScriptedCollector("slow", [gate]), ScriptedCollector("fast", [])
    scheduler.add(slow, 3600)
    scheduler.add(fast, 0.05)
    scheduler.start()
    try:
        await wait_for(lambda: fast.runs >= 3)
        assert slow.runs == 1 and sample(store, "slow") is None
        assert "slow" in scheduler.readiness()[1]
        gate.set()
        await wait_for(lambda: sample(store, "slow") is not None)
    finally:
        await scheduler.shutdown()


async def test_runs_of_one_job_never_overlap() -> None:
    _, scheduler = make()
    gate = asyncio.Event()
    job = ScriptedCollector("a", [gate])
    scheduler.add(job, 0.02)
    scheduler.start()
    try:
        await asyncio.sleep(0.3)  # many intervals pass while the first run waits
        assert job.runs == 1
        gate.set()
        await wait_for(lambda: job.runs >= 3)
        assert job.max_active == 1
    finally:
        await scheduler.shutdown()


async def test_failure_keeps_the_last_good_snapshot() -> None:
    store, scheduler = make()
    job = ScriptedCollector("a", [7, RuntimeError("boom")])
    scheduler.add(job, 3600)
    assert await scheduler.run_once(("scripted", "a")) is True
    assert await scheduler.run_once(("scripted", "a")) is False
    assert sample(store, "a") == 7
    assert metric(store, "github_exporter_collector_success", "a") == 0
    assert metric(store, "github_exporter_collector_failures_total", "a") == 1
    assert metric(store, "github_exporter_collector_runs_total", "a") == 2


async def test_shutdown_cancels_runs_in_flight() -> None:
    _, scheduler = make()
    cancelled = asyncio.Event()

    class Stuck(ScriptedCollector):
        async def collect(self):
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.set()
                raise

    job = Stuck("a", [])
    scheduler.add(job, 3600)
    scheduler.start()
    await asyncio.sleep(0.1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await scheduler.shutdown(timeout=2)
    assert cancelled.is_set()
    assert loop.time() - start < 2


class StatisticsLike(ScriptedCollector):
    """A scripted collector that reads its interval from the server_statistics section, as a refit sets it."""

    name = "server_statistics"


async def test_retime_moves_a_job_to_its_new_interval_from_its_last_start_and_keeps_it() -> None:
    from datetime import timedelta

    from exporter.budget import stretch_intervals
    from exporter.settings import load_settings

    store, scheduler = make()
    collector = StatisticsLike("e", [])
    scheduler.add(collector, 3600)
    scheduler.start()
    try:
        await wait_for(lambda: collector.runs == 1 and scheduler.readiness()[0])
        configured = load_settings(None, {"collectors": {"server_statistics": {"interval": "1m"}}})
        for settings, interval in ((configured, 60.0), (stretch_intervals(configured, 30.0), 1800.0)):
            scheduler.retime(settings)
            job = scheduler._scheduler.get_jobs()[0]
            assert job.trigger.interval == timedelta(seconds=interval)
            started = scheduler._jobs[0].started
            assert started is not None and job.next_run_time == started + timedelta(seconds=interval)
            assert collector.options.interval == interval and collector.settings is settings
            assert store.registry.get_sample_value("github_exporter_collector_interval_seconds",
                                                   {"collector": "server_statistics", "target": "e"}) == interval
        assert scheduler.collectors == [collector] and collector.runs == 1, "the same collector, not run again"
    finally:
        await scheduler.shutdown()
