"""Runs every collector on its interval, on the daemon's asyncio loop.

One APScheduler job per (collector, target): first run at start-up, then every
interval with jitter, never two runs of one job at once. A run publishes its
snapshot and self-metrics; a slow or failing job delays no other, and a scrape
never waits for any of them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from exporter.collectors.base import Collector
from exporter.github.client import requests_in_run
from exporter.github.errors import GitHubError
from exporter.settings import Settings
from exporter.store import SnapshotStore
from exporter.telemetry import ExporterMetrics

log = structlog.get_logger(__name__)


@dataclass
class _Job:
    collector: Collector
    interval: float
    runs: int = 0
    started: datetime | None = None  # when the last run started
    running: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.collector.name, self.collector.target)


class CollectorScheduler:
    def __init__(
        self,
        store: SnapshotStore,
        metrics: ExporterMetrics,
        jitter: float = 0.1,
        after_run: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._after_run = after_run  # e.g. the daemon re-publishing the request plan with the sizes a run saw
        self._metrics = metrics
        self._jitter = jitter
        self._jobs: list[_Job] = []
        self._scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )

    def add(self, collector: Collector, interval: float) -> None:
        job = _Job(collector, interval)
        self._jobs.append(job)
        labels = (collector.name, collector.target)
        self._metrics.collector_runs.labels(*labels)  # exported as 0 before the first run
        self._metrics.collector_failures.labels(*labels)
        self._metrics.collector_interval.labels(*labels).set(interval)
        initial = collector.initial()
        if initial:
            self._store.publish(labels, initial)
        if self._scheduler.running:  # added by a reload: runs now, then on its interval
            self._schedule(job)

    @property
    def jitter(self) -> float:
        return self._jitter

    @jitter.setter
    def jitter(self, value: float) -> None:
        self._jitter = value  # for jobs scheduled from now on

    async def remove(self, key: tuple[str, str], keep_data: bool = False) -> None:
        """Stop a job a reload removed or changed, cancelling a run in flight.

        A removed job's snapshot and self-metrics go; a changed one's snapshot
        stays (`keep_data`) until its successor publishes, so no data gap opens.
        """
        job = next((j for j in self._jobs if j.key == key), None)
        if job is None:
            return
        self._jobs.remove(job)
        if self._scheduler.get_job(_job_id(job)) is not None:
            self._scheduler.remove_job(_job_id(job))
        if job.running is not None:
            job.running.cancel()
            await asyncio.wait([job.running], timeout=3.0)
        if not keep_data:
            self._store.drop(key)
            self._metrics.forget_collector(*key)
        self._store.touch()

    def collector(self, key: tuple[str, str]) -> Collector | None:
        return next((j.collector for j in self._jobs if j.key == key), None)

    @property
    def jobs(self) -> list[tuple[str, str]]:
        return [job.key for job in self._jobs]

    @property
    def collectors(self) -> list[Collector]:
        """The collectors it runs, one per (collector, target) job: what the request plan is made of."""
        return [job.collector for job in self._jobs]

    def retime(self, settings: Settings) -> None:
        """Run every job at the intervals of `settings` (a refitted stretch), keeping collectors, counters and data.

        A job that has run goes next one new interval after its last start (now, if that is past); one still
        waiting for its first run keeps it.
        """
        now = _now()
        for job in self._jobs:
            collector = job.collector
            collector.settings = settings
            collector.options = collector.options_of(settings)
            if collector.options.interval == job.interval:
                continue
            job.interval = collector.options.interval
            self._metrics.collector_interval.labels(*job.key).set(job.interval)
            if self._scheduler.get_job(_job_id(job)) is None:  # not started yet: start() schedules it as it is
                continue
            changes: dict[str, object] = {"trigger": self._trigger(job)}
            if job.started is not None:
                changes["next_run_time"] = max(now, job.started + timedelta(seconds=job.interval))
            self._scheduler.modify_job(_job_id(job), **changes)

    def start(self) -> None:
        for job in self._jobs:
            self._schedule(job)
        self._scheduler.start()

    def _schedule(self, job: _Job) -> None:
        self._scheduler.add_job(
            self._run,
            self._trigger(job),
            args=[job],
            id=_job_id(job),
            next_run_time=_now(),
        )

    def _trigger(self, job: _Job) -> IntervalTrigger:
        return IntervalTrigger(seconds=job.interval, jitter=job.interval * self._jitter)

    def readiness(self) -> tuple[bool, str]:
        """Ready once every job has finished its first run, whatever its outcome."""
        waiting = [f"{name}/{target}" for job in self._jobs if job.runs == 0 for name, target in [job.key]]
        if waiting:
            return False, "waiting for the first run of: " + ", ".join(waiting)
        return True, "ready"

    async def run_once(self, job_key: tuple[str, str]) -> bool:
        """Run one job now (tests and backfill); returns whether it succeeded."""
        job = next(j for j in self._jobs if j.key == job_key)
        return await self._run(job)

    async def _run(self, job: _Job) -> bool:
        job.running = asyncio.current_task()
        job.started = _now()
        name, target = job.key
        counter = [0]
        token = requests_in_run.set(counter)
        start = time.perf_counter()
        outcome, error = "success", None
        try:
            families = await job.collector.collect()
            self._store.publish(job.key, families)
        except asyncio.CancelledError:
            # Only shutdown cancels a run; ending the job quietly keeps APScheduler from
            # logging the cancellation as a crash with a traceback.
            outcome = "cancelled"
        except GitHubError as exc:
            outcome, error = "failure", str(exc)
        except Exception as exc:  # a collector bug must not kill the scheduler; it is logged and counted
            outcome, error = "failure", f"{type(exc).__name__}: {exc}"
            log.exception("collector crashed", collector=name, target=target)
        finally:
            requests_in_run.reset(token)
            duration = time.perf_counter() - start
            job.running = None
            if outcome != "cancelled":
                job.runs += 1
                self._record(job, outcome == "success", duration)
                fields = dict(
                    collector=name,
                    target=target,
                    duration_seconds=round(duration, 3),
                    outcome=outcome,
                    requests=counter[0],
                )
                if error:
                    log.warning("collector run", error=error, **fields)
                else:
                    log.info("collector run", **fields)
                if self._after_run is not None:
                    self._after_run()
        return outcome == "success"

    def _record(self, job: _Job, success: bool, duration: float) -> None:
        name, target = job.key
        m = self._metrics
        m.collector_runs.labels(name, target).inc()
        m.collector_duration.labels(name, target).set(duration)
        m.collector_success.labels(name, target).set(1 if success else 0)
        if success:
            m.collector_last_success.labels(name, target).set(time.time())
        else:
            m.collector_failures.labels(name, target).inc()
        self._store.touch()

    async def shutdown(self, timeout: float = 3.0) -> None:
        """Stop scheduling and cancel runs in flight (their HTTP requests with them)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        running = [job.running for job in self._jobs if job.running is not None]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=timeout)


def _job_id(job: _Job) -> str:
    return f"{job.collector.name}:{job.collector.target}"


def _now() -> datetime:
    return datetime.now(UTC)
