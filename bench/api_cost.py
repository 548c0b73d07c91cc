"""What the exporter costs in GitHub's rate limit: charged requests per hour against the floor and a naive poller.

    .venv/bin/python bench/api_cost.py [--scenario NAME ...]

Each scenario runs the real collectors against the loopback simulator in
virtual time (a ManualClock: an hour takes seconds), warms up, then records
every request of one steady hour. Printed side by side, per scenario:

- charged: requests GitHub counts against the primary rate limit (every answer but a 304);
- 304 share: the share of requests answered 304 Not Modified (free);
- floor: one request per resource (path and page) whose answer changed since it was last read;
- naive: the same requests without revalidation (every one charged);
- remaining: the lowest x-ratelimit-remaining GitHub reported (the budget keeps it >= (1 - budget) * limit);
- runs / deferred: collector runs that succeeded / that the rate-limit budget (or an error) put off.

Prints figures; asserts nothing (targets live in issue 7 and docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from prometheus_client import CollectorRegistry

from exporter import assembly
from exporter.github.client import GitHubClient
from exporter.github.errors import GitHubError
from exporter.settings import load_settings
from exporter.simulator import ManualClock, RunningSimulator, SimulatorConfig
from exporter.simulator.routing import parse_iso
from exporter.telemetry import ExporterMetrics

START = parse_iso("2024-09-18T12:00:00Z")
HOUR = 3600.0
STEP = 60.0  # the driver's tick; every collector runs on the first tick at or after it is due


@dataclass
class Tally:
    """Requests seen on the wire, and the last body of each resource (for the floor)."""

    recording: bool = False
    requests: int = 0
    not_modified: int = 0
    changed: int = 0
    lowest_remaining: int | None = None  # x-ratelimit-remaining, over the measured hour
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
    frozen: bool = False  # GitHub's data stands still over the measured hour (the simulator's clock stops)


def insights_settings(**collectors: Any) -> dict[str, Any]:
    only = {name: {"enabled": False} for name in ("server_statistics", "repo_traffic", "billing", "copilot",
                                                   "copilot_usage")}
    return {"targets": {"orgs": ["octo-demo"]}, "collectors": {**only, **collectors}}


# One org whose 10 busiest subjects are users with 3 actors each: the measurement.
INSIGHTS_ORG = SimulatorConfig(users=10, apps=0, actors=30)
TEN_ORGS = SimulatorConfig(orgs=tuple(f"org-{i}" for i in range(10)), users=10, apps=0, actors=30)
# A GitHub App installation's 15,000/h: the first run's 4,000 requests fit in the default budget (half).
THOUSAND_REPOS = SimulatorConfig(repos=1000, rate_limit_budget=15_000)

SCENARIOS = [
    Scenario(
        "insights-active",
        "API Insights, 1 org, 10 users x 3 actors, all active, 5m interval",
        INSIGHTS_ORG,
        insights_settings(),
    ),
    Scenario(
        "insights-unchanged",
        "the same org, no new data over the hour",
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
                **{name: {"enabled": False} for name in ("api_insights", "server_statistics", "billing", "copilot",
                                                         "copilot_usage")},
                "repo_traffic": {"discover": ["octo-demo"]},
            },
        },
    ),
    Scenario(
        "insights-10-orgs",
        "API Insights, 10 such orgs on one 5,000/h token, rate_limit_budget 0.5 (intervals stretched)",
        TEN_ORGS,
        {**insights_settings(), "targets": {"orgs": list(TEN_ORGS.orgs)}},
    ),
]


async def run(scenario: Scenario) -> tuple[Tally, int, int, int]:
    """The steady hour's tally, its successful and deferred collector runs, the validator cache's bytes."""
    with RunningSimulator(config=scenario.config, clock=ManualClock(START)) as running:
        exporter_clock = ManualClock(START)
        github = {"api_url": running.url, "token": "ghp_bench", "max_retries": 0}
        settings = load_settings(None, {"github": github, **scenario.settings})
        fit = getattr(assembly, "fit_to_budget", None)  # absent before issue 7
        if fit is not None:
            settings, _ = fit(settings)

        async def wait(seconds: float) -> None:  # a rate-limit wait passes in virtual time, for both sides
            exporter_clock.advance(seconds)
            if not scenario.frozen:
                running.sim.set_clock(exporter_clock())

        client = GitHubClient(
            settings.github, ExporterMetrics(CollectorRegistry()), clock=exporter_clock, sleep=wait
        )
        tally = Tally()
        client._http.event_hooks["response"].append(tally.observe)  # the bench's only window on the wire
        collectors = assembly.build_collectors(settings, client, clock=exporter_clock)
        due = {id(c): START for c in collectors}
        runs = deferred = 0
        try:
            now = START
            end = START + scenario.warmup + HOUR
            while now < end:
                now = max(now, exporter_clock())  # waits moved virtual time on
                tally.recording = now >= START + scenario.warmup
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
                    due[id(collector)] = now + collector.options.interval
                now += STEP
        finally:
            await client.aclose()
    validators = getattr(client, "validators", None)  # absent before issue 7
    return tally, runs, deferred, validators.bytes if validators is not None else 0


def row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))


def main(names: list[str], say: Callable[..., None] = print) -> None:
    widths = [18, 5, 8, 9, 8, 5, 6, 6, 9, 8]
    say(row(["scenario", "runs", "deferred", "requests", "charged", "304", "floor", "naive", "remaining", "cache kB"],
            widths))
    for scenario in SCENARIOS:
        if names and scenario.name not in names:
            continue
        started = time.perf_counter()
        tally, runs, deferred, cache_bytes = asyncio.run(run(scenario))
        charged = tally.requests - tally.not_modified
        share = tally.not_modified / tally.requests if tally.requests else 0.0
        cells = [scenario.name, str(runs), str(deferred), str(tally.requests), str(charged), f"{share:.0%}",
                 str(tally.changed), str(tally.requests), str(tally.lowest_remaining), str(cache_bytes // 1000)]
        say(row(cells, widths) + f"   per hour; {scenario.what} ({time.perf_counter() - started:.0f}s)", flush=True)


if __name__ == "__main__":
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # figures only
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", default=[], choices=[s.name for s in SCENARIOS])
    main(parser.parse_args().scenario)
