"""Which collectors run, for which targets, with which settings: the start-up the daemon and backfill share.

It sits between the runners (daemon, backfill) and the collectors so that
neither runner reaches into the other and the command line stays on top.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from exporter.collectors import COLLECTORS, Collector, deployed_targets
from exporter.collectors.base import NOTHING_OBSERVED, Cadence, Observed
from exporter.github.auth import TOKEN_CREDENTIAL, installation_credential
from exporter.github.client import GitHubClient
from exporter.github.deployment import Deployment
from exporter.settings import ConfigError, Settings, load_settings
from exporter.sharding import Sharder

# The smallest primary limit GitHub gives (a personal token or an installation); the start-up plan is sized
# against it unless a credential was seen with more.
HOURLY_LIMIT = 5000
MAX_FIT_ROUNDS = 40  # x1.5 each: far beyond any interval that could matter
BISECTION_ROUNDS = 20  # the least fitting stretch to 1 part in a million of the first guess
DEMO_INTERVAL = "15s"
DEMO_RANKING_INTERVAL = "1m"  # API Insights rankings: compressed like the intervals, so the followed set moves
DEMO_TOKEN = "demo-token"


def demo_settings(
    settings_file: str | None, api_url: str, world_targets: dict[str, list[str]], flags: dict[str, Any]
) -> Settings:
    """The configuration a demo runs with: the simulator's targets, short intervals, a dummy token."""
    overrides: dict[str, Any] = {"github": {"api_url": api_url, "token": DEMO_TOKEN, "max_rate_limit_wait": 30}}
    if settings_file is None:
        overrides["targets"] = world_targets
        overrides["collectors"] = {name: {"interval": DEMO_INTERVAL} for name in COLLECTORS}
        overrides["collectors"]["api_insights"]["ranking_interval"] = DEMO_RANKING_INTERVAL
        overrides["collectors"]["copilot_usage"]["enabled"] = True  # off by default; the simulator still answers it
    for name, value in flags.get("collectors", {}).items():
        overrides.setdefault("collectors", {}).setdefault(name, {}).update(value)
    if "sharding" in flags:
        overrides["sharding"] = flags["sharding"]
    return load_settings(settings_file, overrides)


def build_collectors(
    settings: Settings, client: GitHubClient, clock: Callable[[], float] = time.time
) -> list[Collector]:
    """A collector per enabled family and target this replica owns.

    Families that shard their own work (sharded_by_target False) get every target.
    """
    sharder = Sharder.from_settings(settings)
    collectors: list[Collector] = []
    for collector_cls in COLLECTORS.values():
        if not collector_cls.options_of(settings).enabled:
            continue
        for target in deployed_targets(collector_cls, settings):
            if sharder.owns(target) or not collector_cls.sharded_by_target:
                collectors.append(collector_cls(client, settings, target, clock=clock))
    return collectors


def load_runnable_settings(config_file: str | None, overrides: dict[str, Any]) -> Settings:
    """The file and environment with the flags' overrides, checked for a real run (raises ConfigError)."""
    settings = load_settings(config_file, overrides)
    check_runnable(settings)
    return settings


def same_setup(collector: Collector, old: Settings, new: Settings) -> bool:
    """Whether a reload can keep this collector as it is: its section, sharding and GitHub access unchanged."""
    cls = type(collector)
    return cls.options_of(old) == cls.options_of(new) and old.sharding == new.sharding and old.github == new.github


@dataclass(frozen=True)
class Share:
    """One credential's requests per hour: on average, in the busiest hour-long window, and what the budget allows."""

    planned: float
    peak: float
    allowed: float
    burst: float  # the least any stretch can bring the peak down to: every cadence once (aligned ones twice)

    @property
    def over(self) -> float:
        """How far over the budget: by the busiest hour, or by the average when no stretch can fit that hour."""
        return (self.peak if self.burst <= self.allowed else self.planned) / self.allowed


@dataclass(frozen=True)
class RequestPlan:
    """Requests per hour per credential, what the budget allows each, and the factor intervals grew by."""

    credentials: dict[str, Share]
    stretch: float

    @property
    def planned(self) -> float:
        return sum(share.planned for share in self.credentials.values())

    @property
    def peak(self) -> float:
        return sum(share.peak for share in self.credentials.values())

    @property
    def allowed(self) -> float:
        return sum(share.allowed for share in self.credentials.values())


# Sizes the last run of each (collector, target) saw, for the plan; empty before the first runs.
ObservedSizes = Mapping[tuple[str, str], Observed]


def observed_sizes(collectors: Iterable[Collector]) -> dict[tuple[str, str], Observed]:
    return {(c.name, c.target): dict(c.observed) for c in collectors}


def cadences_by_credential(settings: Settings, observed: ObservedSizes | None = None) -> dict[str, list[Cadence]]:
    """What every enabled collector and target asks, by the credential it spends.

    With a token there is one credential; with a GitHub App, each owner's installation is its own.
    """
    observed = observed or {}
    per_installation = settings.github.app is not None
    plan: dict[str, list[Cadence]] = defaultdict(list)
    for cls in COLLECTORS.values():
        if not cls.options_of(settings).enabled:
            continue
        for target in deployed_targets(cls, settings):
            sizes = observed.get((cls.name, target), NOTHING_OBSERVED)
            for owner, cadences in cls.owners(settings, target, sizes).items():
                plan[installation_credential(owner) if per_installation and owner else TOKEN_CREDENTIAL] += cadences
    return dict(plan)


def planned_by_credential(settings: Settings, observed: ObservedSizes | None = None) -> dict[str, float]:
    """Requests per hour on average, by credential."""
    return {credential: sum(c.per_hour for c in cadences)
            for credential, cadences in cadences_by_credential(settings, observed).items()}


def planned_requests_per_hour(settings: Settings, observed: ObservedSizes | None = None) -> float:
    return sum(planned_by_credential(settings, observed).values())


def plan_for(
    settings: Settings, observed: ObservedSizes | None = None, limits: Mapping[str, int] | None = None
) -> RequestPlan:
    """Each credential's busiest hour against github.rate_limit_budget of its limit (HOURLY_LIMIT unless more seen).

    GitHub's window is an hour from its first request, so the budget must hold the busiest hour-long window
    (every cadence's runs that can fall in it, all targets in phase), not only the average. When even one run
    of everything at once exceeds the budget, no stretch can hold that, and the average is fitted instead
    (the run-time budget then defers what does not fit).
    """
    limits = limits or {}
    shares = {
        credential: Share(
            sum(c.per_hour for c in cadences),
            sum(c.peak_per_hour for c in cadences),
            settings.github.rate_limit_budget * max(HOURLY_LIMIT, limits.get(credential, 0)),
            sum(c.requests * (1 + c.aligned) for c in cadences),
        )
        for credential, cadences in cadences_by_credential(settings, observed).items()
    }
    stretch = max([1.0, *(share.over for share in shares.values())])
    return RequestPlan(shares, stretch)


def fit_to_budget(
    settings: Settings, observed: ObservedSizes | None = None, limits: Mapping[str, int] | None = None
) -> tuple[Settings, RequestPlan]:
    """Settings whose intervals (every `*interval` of every collector) fit github.rate_limit_budget.

    Each credential (the token, or each GitHub App installation) is compared with its own limit; when the
    busiest hour of one exceeds its budget, every interval is stretched until it fits, so each collector keeps
    its share (intervals are per collector, not per installation).
    """
    plan = plan_for(settings, observed, limits)
    if plan.stretch == 1.0:
        return settings, plan

    def over(stretch: float) -> float:
        return plan_for(stretch_intervals(settings, stretch), observed, limits).stretch

    # The busiest hour falls in steps as intervals grow (whole runs per window): find a stretch that fits,
    # then the least one that does.
    fitting, short = plan.stretch, 1.0
    for _ in range(MAX_FIT_ROUNDS):
        excess = over(fitting)
        if excess <= 1.0 + 1e-9:
            break
        fitting, short = fitting * max(excess, 1.5), fitting  # steps: a small excess may need a long way
    for _ in range(BISECTION_ROUNDS):
        middle = (short + fitting) / 2
        if over(middle) <= 1.0 + 1e-9:
            fitting = middle
        else:
            short = middle
    stretched = stretch_intervals(settings, fitting)
    return stretched, RequestPlan(plan_for(stretched, observed, limits).credentials, fitting)


def stretch_intervals(settings: Settings, stretch: float) -> Settings:
    """Settings with every `*interval` of every collector multiplied by `stretch`."""
    sections = {}
    for name in COLLECTORS:
        options = getattr(settings.collectors, name)
        longer = {f: v * stretch for f, v in options.model_dump().items() if f.endswith("interval")}
        sections[name] = options.model_copy(update=longer)
    return settings.model_copy(update={"collectors": settings.collectors.model_copy(update=sections)})


def check_runnable(settings: Settings) -> None:
    """What a valid file can still lack for a real run: credentials, an enabled collector, a target."""
    problems = []
    if not settings.github.has_credentials:
        problems.append("github.token: no credentials: set GITHUB_TOKEN, github.token, github.token_file or github.app")
    enabled = [name for name, cls in COLLECTORS.items() if cls.options_of(settings).enabled]
    if not enabled:
        problems.append("collectors: every collector is disabled")
    elif not any(deployed_targets(COLLECTORS[name], settings) for name in enabled):
        if Deployment.of(settings.github.api_url) is Deployment.GHES:  # the GHES-only collectors need no target
            works = ", ".join(name for name, cls in COLLECTORS.items() if Deployment.GHES in cls.deployments)
            problems.append(f"collectors: github.api_url is a GHES instance, where only these work: {works}")
        else:
            problems.append("targets: no enabled collector has a target (add orgs, teams, enterprises or repositories)")
    if problems:
        raise ConfigError("\n".join(problems))
