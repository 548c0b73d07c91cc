"""Every alert of deploy/prometheus/ against the demo's own /metrics at 60 instants of two weeks and four month ends.

The healthy demo world must meet no alert's expression at any instant, and
each fault the e2e tests inject must still meet its alert's. Prometheus's
`time()` is the wall clock, so the demo cannot simply be scraped live at
another instant. Instead, for each instant T:

* the demo's parts run as the daemon wires them: the simulator
  (`SimulatorConfig.demo()`) on loopback with its clock set to T, the client,
  every collector of `demo_settings`, the scheduler's run bookkeeping and the
  store. Everything reads T from the one clock, the scheduler's
  `last_success` stamp included;
* the store's /metrics text is taken after a run at T - 5m (the collectors
  whose counters the rules rate) and after a run of every collector at T,
  stamped with those times and written as OpenMetrics;
* promtool loads every instant into one TSDB, one real Prometheus serves it,
  and each alert's `expr` is evaluated with `/api/v1/query?time=T`, where
  `time()` is T. `for:` clauses are not evaluated: an expression that is
  never true cannot fire.

Instants are at least 70 minutes apart and each has its own `instance` label:
the rules' windows are 1h, so one instant's series never reach another's.
Faults (the e2e tests' rate-limit spike, a route failing, staging's missed
uploads, the tests' world's small budgets) are checked at two instants each.

Cost: about 100 s of CPU in two worker processes, so about a minute on an idle
two-core machine; 142 s with the machine shared by eight test runs (load 7).
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import subprocess
import time
import types
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

import exporter.scheduler
from exporter.assembly import build_collectors, demo_settings
from exporter.github.client import GitHubClient
from exporter.scheduler import CollectorScheduler
from exporter.simulator import ManualClock, RunningSimulator, SimulatorConfig
from exporter.simulator.server import DemoSimulator
from exporter.simulator.server_statistics import DAY, servers
from exporter.simulator.world import World
from exporter.store import SnapshotStore
from exporter.telemetry import ExporterMetrics
from tests.prometheus_harness import Prometheus, require

ROOT = Path(__file__).resolve().parent.parent
RULES_FILE = ROOT / "deploy" / "prometheus" / "rules" / "github-insights-exporter.rules.yml"
ORG = "octo-demo"
# Collector runs 5 minutes before each instant and at it. The rules take rate() and increase() of the
# API Insights counters, the billing export failures and the runs of every collector; the earlier run is
# of the collectors whose counters they rate, so that each window holds two samples, and costs less.
ROUNDS: tuple[tuple[int, tuple[str, ...] | None], ...] = ((-300, ("api_insights", "billing")), (0, None))
# The demo's world, except that a billing export completes when it is created rather than 1.5 s later:
# the world's clock stands still during a run here, and the alerts see the same completed export.
DEMO = {"billing_export_delay": 0.0}


def at(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC).timestamp()


def healthy_instants() -> list[float]:
    """Two weeks around the end of March 2025 (a quarter end, two weekends), four instants a day.

    Each day has one instant at 2 to 3 minutes either side of UTC midnight (alternating, so that no two
    instants are closer than 70 minutes), one at 01:20 (GHES uploads of the day before not yet visible, Copilot's
    report of it not ready), one at 06:10 (the Copilot report just ready) and one at 13:00 UTC.
    Then the minutes around four more month ends: a leap February, a non-leap one, a 30-day month, a year end.
    """
    out = []
    for day in range(24, 24 + 14):  # 2025-03-24 (a Monday) .. 2025-04-06 (a Sunday)
        date = datetime(2025, 3, 1, tzinfo=UTC).timestamp() + (day - 1) * 86400
        near_midnight = date - 180 if day % 2 else date + 120
        out += [near_midnight, date + 80 * 60, date + 6 * 3600 + 600, date + 13 * 3600]
    out += [at("2024-02-29T23:57"), at("2025-03-01T00:03"), at("2025-06-30T23:58"), at("2026-01-01T00:02")]
    return out


@dataclass(frozen=True)
class Fault:
    """What an e2e test injects through the simulator's control API, the alert it must fire, and when."""

    name: str
    alert: str
    inject: Callable[[RunningSimulator, float], None]
    instants: tuple[float, ...]
    config: dict[str, object] = field(default_factory=dict)


def spike(running: RunningSimulator, now: float) -> None:
    """test_prometheus_e2e: ten times the org's rate-limited requests over the last 30 minutes."""
    running.sim.add_spike(ORG, now - 1800, now, factor=10, lag=0)


def failing_route(running: RunningSimulator, now: float) -> None:
    """A route that keeps answering 502: its collector's runs fail."""
    running.sim.add_fault("status", status=502, count=None, route="/orgs/{org}/insights/api/time-stats")


def staging_behind(first: float, last: float, count: int) -> tuple[float, ...]:
    """Instants in [first, last) when the tests' world's staging server (it misses uploads) is over 2 days behind."""
    config = SimulatorConfig()
    staging = servers(World.from_config(config), config.ghes_missed_upload_share)[1]
    found: list[float] = []
    for minute in range(int(first) // 60, int(last) // 60, 15):
        now = minute * 60.0
        day = int(now // DAY)
        newest = max(d for d in range(day - 10, day) if staging.uploads(config.seed, d)
                     and staging.visible_at(config.seed, d) <= now)
        if now - (newest + 1) * DAY > 2 * DAY + 60 and (not found or now - found[-1] > 2 * DAY):
            found.append(now)
    return tuple(found[:count])


# From late April to June 2025, away from the healthy instants: each fault has its own days.
FAULTS = (
    Fault("spike", "GitHubAPIRateLimitedSpike", spike, (at("2025-05-03T23:57"), at("2025-05-05T13:00"))),
    Fault("failing route", "GitHubExporterCollectorFailing", failing_route,
          (at("2025-05-10T00:02"), at("2025-05-12T09:00"))),
    Fault("staging misses uploads", "GitHubEnterpriseServerStatsStale", lambda running, now: None,
          staging_behind(at("2025-05-14T00:00"), at("2025-06-14T00:00"), 2),
          {"ghes_missed_upload_share": SimulatorConfig().ghes_missed_upload_share}),
    Fault("budgets of the tests' world", "GitHubBudgetSpent", lambda running, now: None,
          (at("2025-04-27T13:00"), at("2025-04-29T22:00")), {"budget_scale": SimulatorConfig().budget_scale}),
)


def alerts() -> dict[str, str]:
    groups = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"] if "alert" in rule}


Sample = tuple[tuple[tuple[str, str], ...], float, float]  # sorted labels, timestamp, value
_now = [0.0]  # the world's time in a sweep worker, for the scheduler's last_success stamp


class Sweep:
    """OpenMetrics samples of many instants, gathered per sample name for one promtool import."""

    def __init__(self) -> None:
        self.samples: dict[str, list[Sample]] = defaultdict(list)

    def add(self, text: str, stamp: float, extra: dict[str, str]) -> None:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                labels = tuple(sorted({**s.labels, **extra}.items()))
                self.samples[s.name].append((labels, stamp, s.value))

    def openmetrics(self) -> str:
        lines = []
        for name in sorted(self.samples):
            lines.append(f"# TYPE {name} unknown")
            for labels, stamp, value in sorted(self.samples[name]):
                body = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                lines.append(f"{name}{{{body}}} {value!r} {stamp:.3f}")
        return "\n".join(lines) + "\n# EOF\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


async def demo_at(running: RunningSimulator, instant: float, sweep: Sweep, label: str, fault: Fault | None) -> None:
    """The demo's collectors and self-metrics at `instant`, run as the daemon runs them, added to `sweep`."""
    clock: ManualClock = running.sim.clock  # type: ignore[assignment]
    running.sim.reset()
    clock.set(instant + ROUNDS[0][0])
    targets = DemoSimulator(running.sim, None, running.url).targets()  # type: ignore[arg-type]
    settings = demo_settings(None, running.url, targets, {})
    store = SnapshotStore(max_age=settings.store.max_age, clock=clock)
    metrics = ExporterMetrics(store.registry)
    client = GitHubClient(settings.github, metrics, clock=clock)
    scheduler = CollectorScheduler(store, metrics, settings.scheduler.jitter)
    try:
        for collector in build_collectors(settings, client, clock=clock):
            scheduler.add(collector, collector.options.interval)
        for offset, only in ROUNDS:
            _now[0] = clock.set(instant + offset)
            if fault is not None and offset == 0:
                fault.inject(running, clock())
            for key in scheduler.jobs:
                if only is None or key[0] in only:
                    await scheduler.run_once(key)
            store.refresh()
            body = store.render("text/plain").body.decode()
            sweep.add(body, clock(), {"job": "github-insights-exporter", "instance": label})
    finally:
        await client.aclose()
        store.close()


@dataclass
class Evaluated:
    prometheus: Prometheus
    healthy: list[float]


def sweep_part(fault_index: int | None, instants: list[float]) -> dict[str, list[Sample]]:
    """One worker process's share of the sweep: the demo (or a faulty one) at each of `instants`."""
    fault = None if fault_index is None else FAULTS[fault_index]
    config = SimulatorConfig.demo(**DEMO, **(fault.config if fault else {}))
    sweep = Sweep()

    async def run() -> None:
        with RunningSimulator(config=config, clock=ManualClock(instants[0])) as running:
            for instant in instants:
                label = f"{fault.name if fault else 'healthy'}-{instant:.0f}"
                await demo_at(running, instant, sweep, label, fault)

    with pytest.MonkeyPatch.context() as monkeypatch:
        # The scheduler stamps last_success with time.time(): here with the world's clock (this process only).
        clock = types.SimpleNamespace(time=lambda: _now[0], perf_counter=time.perf_counter)
        monkeypatch.setattr(exporter.scheduler, "time", clock)
        asyncio.run(run())
    return dict(sweep.samples)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evaluated]:
    workdir = tmp_path_factory.mktemp("alerts-any-instant")
    sweep = Sweep()
    healthy = healthy_instants()
    parts: list[tuple[int | None, list[float]]] = [(None, healthy[0::2]), (None, healthy[1::2])]
    parts += [(index, list(fault.instants)) for index, fault in enumerate(FAULTS)]
    # Two processes: the sweep is CPU-bound, and the machines this runs on have two cores or more.
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        for samples in pool.map(sweep_part, *zip(*parts, strict=True)):
            for name, found in samples.items():
                sweep.samples[name] += found
    points = workdir / "sweep.om"
    points.write_text(sweep.openmetrics())
    blocks = subprocess.run(
        [require("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(points), str(workdir / "data")],
        capture_output=True, text=True, timeout=300,
    )
    assert blocks.returncode == 0, blocks.stdout[-2000:] + blocks.stderr[-2000:]
    config = yaml.safe_dump({"global": {"evaluation_interval": "1h"}})
    with Prometheus(workdir, config, "--storage.tsdb.retention.time=100y") as prometheus:
        yield Evaluated(prometheus, healthy)


def test_the_instants_cover_weekdays_weekends_midnight_and_month_ends() -> None:
    instants = [datetime.fromtimestamp(t, UTC) for t in healthy_instants()]
    assert len(instants) >= 48
    assert {t.weekday() for t in instants} == set(range(7))
    assert sum(t.hour == 23 and t.minute >= 55 for t in instants) >= 7
    assert sum(t.hour == 0 and t.minute <= 5 for t in instants) >= 7
    assert {t.strftime("%m-%d") for t in instants} >= {"03-31", "04-01", "02-29", "06-30", "01-01"}
    assert all(len(fault.instants) == 2 for fault in FAULTS)
    ordered = sorted(healthy_instants() + [t for fault in FAULTS for t in fault.instants])
    assert min(b - a for a, b in itertools.pairwise(ordered)) >= 70 * 60, "instants would share windows"


def every_alert() -> str:
    """One query for every alert's expression, each result labelled with its alert's name."""
    return "\nor\n".join(
        f'label_replace(({expr}), "alertname", "{name}", "", "")' for name, expr in alerts().items()
    )


def test_the_healthy_demo_meets_no_alert_at_any_instant(evaluated: Evaluated) -> None:
    prometheus = evaluated.prometheus
    for instant in evaluated.healthy[:: len(evaluated.healthy) - 1]:
        ok = prometheus.query("count(github_exporter_collector_success == 1)", at=instant)
        assert ok and float(ok[0]["value"][1]) >= 10, "the sweep's data is not there"
    query = every_alert()
    met = [
        (datetime.fromtimestamp(instant, UTC).isoformat(), r["metric"])
        for instant in evaluated.healthy
        for r in prometheus.query(query, at=instant)
    ]
    assert not met, "alert expressions true for the healthy demo:\n" + "\n".join(map(str, met))


def test_one_query_finds_each_alert(evaluated: Evaluated) -> None:
    """The combined query is not blind: at each fault's instants it names that fault's alert."""
    for fault in FAULTS:
        for instant in fault.instants:
            names = {r["metric"]["alertname"] for r in evaluated.prometheus.query(every_alert(), at=instant)}
            assert fault.alert in names, (fault.name, names)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_each_injected_fault_meets_its_alert(evaluated: Evaluated, fault: Fault) -> None:
    expr = alerts()[fault.alert]
    for instant in fault.instants:
        assert evaluated.prometheus.query(expr, at=instant), (
            f"{fault.alert} not true at {datetime.fromtimestamp(instant, UTC)} with {fault.name}"
        )
