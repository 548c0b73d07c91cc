"""The rate-limit plan: what every collector asks per hour, by credential, and the interval stretch that fits it.

Planning lives here alone so the daemon only asks two questions: "what do these settings
fit to?" at start-up and on reload, and "does the plan still fit?" after each run, when
GitHub has reported a credential's limit (x-ratelimit-limit) or a run has seen new sizes
(pages, repositories). A stretch multiplies every `*interval` of every collector; the
configured settings are never changed, so a refit or a reload starts from them again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import structlog

from exporter.collectors import COLLECTORS, Collector, deployed_targets
from exporter.collectors.base import NOTHING_OBSERVED, Cadence, Observed
from exporter.github.auth import TOKEN_CREDENTIAL, installation_credential
from exporter.settings import Settings

log = structlog.get_logger(__name__)

# The smallest primary limit GitHub gives (a personal token or an installation); the plan is sized
# against it until a credential reports more.
HOURLY_LIMIT = 5000
MAX_FIT_ROUNDS = 40  # x1.5 each: far beyond any interval that could matter
BISECTION_ROUNDS = 20  # the least fitting stretch to 1 part in a million of the first guess
FITS = 1.0 + 1e-9  # a plan at most this far over its budget fits (float rounding)
# A stretch in force is lowered only when one this many times shorter fits: sizes that wobble (an actor more
# or less, a repository listed) would otherwise refit the intervals after every run.
UNSTRETCH_BAND = 1.1


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


def fits(settings: Settings, stretch: float, observed: ObservedSizes | None, limits: Mapping[str, int] | None) -> bool:
    """Whether `settings` with every interval stretched by `stretch` fit the budget."""
    return plan_for(stretch_intervals(settings, stretch), observed, limits).stretch <= FITS


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
        if excess <= FITS:
            break
        fitting, short = fitting * max(excess, 1.5), fitting  # steps: a small excess may need a long way
    for _ in range(BISECTION_ROUNDS):
        middle = (short + fitting) / 2
        if over(middle) <= FITS:
            fitting = middle
        else:
            short = middle
    stretched = stretch_intervals(settings, fitting)
    return stretched, RequestPlan(plan_for(stretched, observed, limits).credentials, fitting)


def stretch_intervals(settings: Settings, stretch: float) -> Settings:
    """Settings with every `*interval` of every collector multiplied by `stretch`."""
    if stretch == 1.0:
        return settings
    sections = {}
    for name in COLLECTORS:
        options = getattr(settings.collectors, name)
        longer = {f: v * stretch for f, v in options.model_dump().items() if f.endswith("interval")}
        sections[name] = options.model_copy(update=longer)
    return settings.model_copy(update={"collectors": settings.collectors.model_copy(update=sections)})


def _plan_fields(plan: RequestPlan) -> dict[str, object]:
    """The plan in a log line: the average, and the credential furthest over its budget."""
    fields: dict[str, object] = dict(planned_per_hour=round(plan.planned), credentials=len(plan.credentials))
    busiest = max(plan.credentials.items(), key=lambda kv: kv[1].over, default=None)
    if busiest is not None:
        name, share = busiest
        fields.update(busiest=name, busiest_planned_per_hour=round(share.planned),
                      busiest_peak_per_hour=round(share.peak), busiest_allowed_per_hour=round(share.allowed))
    return fields


class BudgetPlanner:
    """The stretch in force over the configured settings, fitted again when what GitHub reports moves the plan.

    `fit` decides afresh (start-up, reload); `refit` is asked after every run and changes the stretch only
    when the plan crosses the budget: up as soon as the stretch in force no longer fits (a credential would
    run out), down only when one UNSTRETCH_BAND times shorter fits, so a plan at the edge does not flap.
    """

    def __init__(self, configured: Settings, fitted: bool = True) -> None:
        self.configured = configured
        self.stretch = 1.0
        self._fitted = fitted  # False: the demo's simulator has more than enough, intervals stay as configured
        self._inputs: tuple[dict[tuple[str, str], Observed], dict[str, int]] | None = None

    @property
    def settings(self) -> Settings:
        """The configured settings with the stretch in force."""
        return stretch_intervals(self.configured, self.stretch)

    def fit(
        self, configured: Settings, observed: ObservedSizes | None = None, limits: Mapping[str, int] | None = None
    ) -> Settings:
        """Fit `configured` from scratch (start-up, reload), with one log line saying what the plan is."""
        self.configured = configured
        if not self._fitted:
            return configured
        self._inputs = (dict(observed or {}), dict(limits or {}))
        _, plan = fit_to_budget(configured, observed, limits)
        self.stretch = plan.stretch
        if plan.stretch > 1:
            log.warning(
                "planned GitHub requests exceed github.rate_limit_budget: every interval stretched",
                stretch=round(plan.stretch, 2),
                **_plan_fields(plan),
            )
        else:
            log.info("planned GitHub requests", **_plan_fields(plan))
        return self.settings

    def refit(self, observed: ObservedSizes, limits: Mapping[str, int], settled: bool = True) -> Settings | None:
        """New settings when the sizes runs saw or the limits GitHub reported move the plan across the budget.

        None when the stretch in force stays (the usual answer: the inputs did not change, or the plan still
        fits and no clearly shorter stretch would); otherwise one log line and the refitted settings.
        Until every job has run once (`settled` False) only a newly reported limit refits: sizes wait until
        all are known, so the first runs, which end one by one, make one refit rather than one each.
        """
        inputs = (dict(observed), dict(limits))
        if not self._fitted or inputs == self._inputs:
            return None
        if not settled and self._inputs is not None and inputs[1] == self._inputs[1]:
            return None
        self._inputs = inputs
        configured, before = self.configured, self.stretch
        if fits(configured, before, observed, limits) and (
            before == 1.0 or not fits(configured, before / UNSTRETCH_BAND, observed, limits)
        ):
            return None
        _, plan = fit_to_budget(configured, observed, limits)
        if plan.stretch == before:
            return None
        self.stretch = plan.stretch
        stretched = plan.stretch > before
        (log.warning if stretched else log.info)(
            "rate-limit plan refitted: every interval " + ("stretched" if stretched else "unstretched"),
            stretch=round(plan.stretch, 2),
            stretch_before=round(before, 2),
            limits=dict(sorted(limits.items())),
            **_plan_fields(plan),
        )
        return self.settings
