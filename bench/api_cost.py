"""What the exporter costs in GitHub's rate limit: charged requests per hour against the floor and a naive poller.

    .venv/bin/python bench/api_cost.py [--scenario NAME ...]

Each scenario runs the real collectors against the loopback simulator in
virtual time (a ManualClock: an hour takes seconds), warms up, then records
every request of one steady hour (the `day-*` scenarios: of a whole day, from
start-up). Printed side by side, per scenario, per hour:

- charged: requests GitHub counts against the primary rate limit (every answer but a 304);
- 304 share: the share of requests answered 304 Not Modified (free);
- floor: one request per resource (path and page) whose answer changed since it was last read;
- naive: the same requests without revalidation (every one charged);
- remaining: the lowest x-ratelimit-remaining GitHub reported (the budget keeps it >= (1 - budget) * limit);
- runs / deferred: collector runs that succeeded / that the rate-limit budget (or an error) put off.

The `day-*` scenarios then print the start-up plan (average and busiest hour against the budget, the
stretch), the lowest remaining against the floor (1 - budget) x limit with the requests the exporter sent
below it, and for every target its runs and the longest gap between them against its stretched interval.

Prints figures; asserts nothing (targets live in issue 7 and docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client import CollectorRegistry

from exporter import assembly, budget
from exporter.collectors import COLLECTORS
from exporter.github.auth import AppAuth
from exporter.github.client import GitHubClient
from exporter.github.errors import GitHubError
from exporter.settings import load_settings
from exporter.simulator import ManualClock, RunningSimulator, SimulatorConfig
from exporter.simulator.routing import parse_iso
from exporter.telemetry import ExporterMetrics

START = parse_iso("2024-09-18T12:00:00Z")
HOUR = 3600.0
STEP = 60.0  # the driver's longest step: collectors run when due, the other user spends at least every minute
TOKEN = "ghp_bench"
APP_ID = 4711


@dataclass
class Tally:
    """Requests seen on the wire, and the last body of each resource (for the floor)."""

    recording: bool = False
    requests: int = 0
    not_modified: int = 0
    changed: int = 0
    lowest_remaining: int | None = None  # x-ratelimit-remaining, over the measured hour
    floor: float = 0.0  # (1 - budget) * limit
    below_floor: int = 0  # responses whose remaining was under the floor (another user got there first)
    bodies: dict[str, str] = field(default_factory=dict)

    async def observe(self, response: httpx.Response) -> None:
        url = response.request.url
        resource = url.path + (f"?page={url.params['page']}" if "page" in url.params else "")
        changed = False
        if response.status_code != 304:
            digest = hashlib.sha256(await response.aread()).hexdigest()
            changed = self.bodies.get(resource) != digest
            self.bodies[resource] = digest
        if self.recording:
            if "x-ratelimit-remaining" in response.headers:
                remaining = int(response.headers["x-ratelimit-remaining"])
                self.lowest_remaining = min(remaining, self.lowest_remaining or remaining)
                self.below_floor += remaining < self.floor
            self.requests += 1
            self.not_modified += response.status_code == 304
            self.changed += changed


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    config: SimulatorConfig
    settings: dict[str, Any]
    warmup: float = HOUR
    measured: float = HOUR
    frozen: bool = False  # GitHub's data stands still over the measured hour (the simulator's clock stops)
    others_per_hour: float = 0.0  # requests another user of the same token spends
    app: bool = False  # a GitHub App: one installation (and rate limit) per org


@dataclass
class Outcome:
    tally: Tally
    runs: int
    deferred: int
    cache_bytes: int
    plan: budget.RequestPlan
    intervals: dict[str, float]  # target -> its (stretched) interval
    run_times: dict[str, list[float]]  # target -> when its successful runs started


def insights_settings(**collectors: Any) -> dict[str, Any]:
    only = {name: {"enabled": False} for name in COLLECTORS if name != "api_insights"}
    return {"targets": {"orgs": ["octo-demo"]}, "collectors": {**only, **collectors}}


# One org whose 10 busiest subjects are users with 3 actors each: the measurement (every actor active in
# every bucket), and the same org in a heavy-tailed world (a few busy people's tokens, most idle for hours).
INSIGHTS_ORG = SimulatorConfig(users=10, apps=0, actors=30)
TYPICAL_ORG = replace(INSIGHTS_ORG, heavy_tailed=True)
# Ten such orgs: all active (the worst case, which the plan is sized for) and heavy-tailed.
TEN_ORGS = replace(INSIGHTS_ORG, orgs=tuple(f"org-{i}" for i in range(10)))
TEN_TYPICAL_ORGS = replace(TEN_ORGS, heavy_tailed=True)
# A GitHub App installation's 15,000/h: the first run's 4,000 requests fit in the default budget (half).
THOUSAND_REPOS = SimulatorConfig(repos=1000, rate_limit_budget=15_000, heavy_tailed=True)
DAY = 24 * HOUR
# The day scenarios' time-stats window: the followed series' counters and gauges need the lag, not a day back;
# the requests made are the same, and the simulator sums 5-7 times fewer buckets per answer (bench time).
SHORT_WINDOW = {"lookback": 6 * HOUR, "summary_window": 6 * HOUR}



def day_scenario(name: str, what: str, config: SimulatorConfig, **options: Any) -> Scenario:
    """API Insights of the world's orgs from start-up, over a day unless `measured` says less."""
    settings = {**insights_settings(api_insights=SHORT_WINDOW), "targets": {"orgs": list(config.orgs)}}
    return Scenario(name, what, config, settings, **{"warmup": 0.0, "measured": DAY, **options})


SCENARIOS = [
    Scenario(
        "insights-active",
        "API Insights, 1 org, 10 users x 3 actors, all active, 5m interval",
        INSIGHTS_ORG,
        insights_settings(),
    ),
    Scenario(
        "insights-typical",
        "the same org in a heavy-tailed world (most actors idle for hours)",
        TYPICAL_ORG,
        insights_settings(),
    ),
    Scenario(
        "insights-unchanged",
        "the same org (all active), no new data over the hour",
        INSIGHTS_ORG,
        insights_settings(),
        frozen=True,
    ),
    Scenario(
        "traffic-1000",
        "repository traffic, 1,000 repositories of one org, 1h interval",
        THOUSAND_REPOS,
        {
            "targets": {},
            "collectors": {
                **{name: {"enabled": False} for name in COLLECTORS if name != "repo_traffic"},
                "repo_traffic": {"discover": ["octo-demo"]},
            },
        },
    ),
    day_scenario("day-token", "10 orgs (all active) on one 5,000/h token, rate_limit_budget 0.5, a day from start-up",
                 TEN_ORGS),
    day_scenario("day-token-shared", "10 heavy-tailed orgs on the token, while another user of it spends 2,000/h",
                 TEN_TYPICAL_ORGS, others_per_hour=2000.0),
    day_scenario("day-app", "10 heavy-tailed orgs through a GitHub App, one installation (5,000/h) each, first 2 hours",
                 TEN_TYPICAL_ORGS, measured=2 * HOUR, app=True),
]


class OtherUser:
    """Someone else spending the same token's rate limit at a steady rate, in virtual time."""

    def __init__(self, sim: Any, token: str, per_hour: float) -> None:
        self._sim, self._token, self._per_hour = sim, token, per_hour
        self._owed = 0.0

    def spend(self, seconds: float) -> None:
        self._owed += self._per_hour * seconds / HOUR
        whole = int(self._owed)
        if whole:
            self._owed -= whole
            remaining = self._sim.rate_limit(self._token)["remaining"]
            self._sim.set_rate_limit(token=self._token, remaining=max(0, remaining - whole))


def app_keys() -> tuple[str, str]:
    """A throwaway RSA key pair for the App scenario: (private PEM for the exporter, public PEM for the simulator)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


async def run(scenario: Scenario) -> Outcome:
    """The measured stretch's tally and runs, the validator cache's bytes, the plan and every target's run times."""
    config, github = scenario.config, {"token": TOKEN}
    private = ""
    if scenario.app:
        private, public = app_keys()
        config = replace(config, app_id=APP_ID, app_public_key_pem=public)
        github = {"app": {"app_id": APP_ID, "private_key": private}}
    with RunningSimulator(config=config, clock=ManualClock(START)) as running:
        exporter_clock = ManualClock(START)
        github.update(api_url=running.url, max_retries=0)
        settings = load_settings(None, {"github": github, **scenario.settings})
        settings, plan = budget.fit_to_budget(settings)

        async def wait(seconds: float) -> None:  # a rate-limit wait passes in virtual time, for both sides
            exporter_clock.advance(seconds)
            if not scenario.frozen:
                running.sim.set_clock(exporter_clock())

        auth = AppAuth(APP_ID, private, running.url, clock=exporter_clock) if scenario.app else None
        client = GitHubClient(
            settings.github, ExporterMetrics(CollectorRegistry()), auth=auth, clock=exporter_clock, sleep=wait
        )
        tally = Tally(floor=(1 - settings.github.rate_limit_budget) * config.rate_limit_budget)
        client._http.event_hooks["response"].append(tally.observe)  # the bench's only window on the wire
        other = OtherUser(running.sim, TOKEN, scenario.others_per_hour)
        collectors = assembly.build_collectors(settings, client, clock=exporter_clock)
        due = {id(c): START for c in collectors}
        run_times: dict[str, list[float]] = {c.target: [] for c in collectors}
        runs = deferred = 0
        try:
            now = START
            measured_from = START + scenario.warmup
            end = measured_from + scenario.measured
            while now < end:
                now = max(now, exporter_clock())  # waits moved virtual time on
                tally.recording = now >= measured_from
                exporter_clock.set(now)
                ready = [c for c in collectors if due[id(c)] <= now]
                if ready and not (scenario.frozen and tally.recording):
                    running.sim.set_clock(now)  # frozen: GitHub's data stays as the last warm-up run saw it
                for collector in ready:
                    try:
                        await collector.collect()
                    except GitHubError:  # e.g. deferred by the rate-limit budget: the scheduler tries next time
                        deferred += tally.recording
                    else:
                        runs += tally.recording
                        if tally.recording:
                            run_times[collector.target].append(now)
                    due[id(collector)] = now + collector.options.interval
                later = min(min(due.values()), now + STEP)  # the next run that is due, or the next tick
                if scenario.others_per_hour:
                    running.sim.set_clock(now)
                    other.spend(later - now)
                now = later
        finally:
            await client.aclose()
    intervals = {c.target: c.options.interval for c in collectors}
    return Outcome(tally, runs, deferred, client.validators.bytes, plan, intervals, run_times)


def row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))


def longest_gap(times: list[float], start: float, end: float) -> float:
    """The longest time without a successful run: from the start, between runs, and to the end."""
    marks = [start, *times, end]
    return max(b - a for a, b in zip(marks, marks[1:], strict=False))


def day_report(scenario: Scenario, outcome: Outcome, say: Callable[..., None]) -> None:
    plan, tally = outcome.plan, outcome.tally
    busiest = max(plan.credentials.values(), key=lambda share: share.over)
    say(f"  plan: {len(plan.credentials)} credential(s); busiest: {busiest.planned:.0f}/h on average, "
        f"{busiest.peak:.0f} in its busiest hour, allowed {busiest.allowed:.0f}; stretch {plan.stretch:.2f}")
    say(f"  lowest remaining {tally.lowest_remaining} vs floor {tally.floor:.0f}; "
        f"responses below the floor: {tally.below_floor}; runs {outcome.runs}, deferred {outcome.deferred}")
    start = START + scenario.warmup
    end = start + scenario.measured
    met = 0
    for target, times in sorted(outcome.run_times.items()):
        interval = outcome.intervals[target]
        gap = longest_gap(times, start - interval, end)  # the first run is due at start-up
        ok = gap <= interval + 1.0  # a second for float rounding
        met += ok
        say(f"  {target:<10} runs {len(times):>4}  longest gap {gap / 60:6.1f} min  "
            f"vs interval {interval / 60:5.1f} min  {'ok' if ok else 'LATE'}")
    say(f"  {met} of {len(outcome.run_times)} targets collected at least once per stretched interval")


def main(names: list[str], say: Callable[..., None] = print) -> None:
    widths = [18, 5, 8, 9, 8, 5, 6, 6, 9, 8]
    say(row(["scenario", "runs", "deferred", "requests", "charged", "304", "floor", "naive", "remaining", "cache kB"],
            widths))
    for scenario in SCENARIOS:
        if names and scenario.name not in names:
            continue
        started = time.perf_counter()
        outcome = asyncio.run(run(scenario))
        tally, hours = outcome.tally, scenario.measured / HOUR
        charged = tally.requests - tally.not_modified
        share = tally.not_modified / tally.requests if tally.requests else 0.0
        per_hour = [outcome.runs / hours, outcome.deferred / hours, tally.requests / hours, charged / hours]
        cells = [scenario.name, *(f"{v:.0f}" for v in per_hour), f"{share:.0%}", f"{tally.changed / hours:.0f}",
                 f"{tally.requests / hours:.0f}", str(tally.lowest_remaining), str(outcome.cache_bytes // 1000)]
        say(row(cells, widths) + f"   per hour; {scenario.what} ({time.perf_counter() - started:.0f}s)", flush=True)
        if scenario.name.startswith("day-"):
            day_report(scenario, outcome, say)


if __name__ == "__main__":
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # figures only
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", default=[], choices=[s.name for s in SCENARIOS])
    main(parser.parse_args().scenario)
