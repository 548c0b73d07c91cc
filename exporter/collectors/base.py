"""The contract every collector follows, so the scheduler can run any of them the same way.

A collector is made once per (family, target) and lives as long as the daemon:
it may keep state between runs (the late-data counters do). `collect()` talks
to GitHub through the shared client and returns a complete list of metric
families for its target; the store swaps them in whole.
"""

from __future__ import annotations

import asyncio
import math
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar, Generic, cast

import httpx
import structlog
from prometheus_client.metrics_core import Metric
from typing_extensions import TypeVar

from exporter.drift import FieldCheck
from exporter.github.client import GitHubClient, Response
from exporter.github.deployment import CLOUD, Deployment
from exporter.github.errors import MalformedResponseError
from exporter.metricspec import MetricSpec
from exporter.settings import CollectorSettings, Settings
from exporter.sharding import Sharder

log = structlog.get_logger(__name__)
Row = TypeVar("Row")
# A collector's section under `collectors:`; covariant so that every Collector[X] is a Collector.
OptionsT = TypeVar("OptionsT", bound=CollectorSettings, default=CollectorSettings, covariant=True)
HOUR = 3600.0  # GitHub's primary rate-limit window
# What a run saw that the next plan depends on (e.g. "repositories": 37), by name; empty before the first run.
Observed = Mapping[str, float]
NOTHING_OBSERVED: Observed = MappingProxyType({})


@dataclass(frozen=True)
class Cadence:
    """`requests` asked once every `every` seconds: one part of a collector's request plan."""

    every: float
    requests: float
    # On boundaries of `every` (e.g. API Insights' rankings), besides once at start-up: the start-up occurrence
    # and the first boundary can fall in one window.
    aligned: bool = False

    @property
    def per_hour(self) -> float:
        """On average over an hour."""
        return self.requests * HOUR / self.every

    @property
    def peak_per_hour(self) -> float:
        """The most one hour-long rate-limit window can hold: one more occurrence than fit whole (jitter, phase),
        and for an aligned cadence one more again (start-up)."""
        return self.requests * (math.floor(HOUR / self.every) + 1 + self.aligned)


def pages(items: float, per_page: int) -> float:
    """Requests a paginated listing of `items` takes (one even when empty)."""
    return max(1.0, math.ceil(items / per_page))


@dataclass(frozen=True)
class HistoricalSample:
    """One past value with its own timestamp, for `backfill` (never served on /metrics)."""

    spec: MetricSpec
    labels: tuple[str, ...]
    value: float
    timestamp: float

    @classmethod
    def from_families(
        cls, families: Iterable[Metric], specs: Mapping[str, MetricSpec], at: float
    ) -> list[HistoricalSample]:
        """Every sample of families a run built (their specs looked up by name), stamped `at`."""
        return [
            cls(spec, tuple(sample.labels[k] for k in spec.labels), sample.value, at)
            for family in families
            for spec in [specs[family.name]]
            for sample in family.samples
        ]


class Kind(StrEnum):
    """What a target is on GitHub."""

    ORGANIZATION = "organization"  # or, for repo_traffic's discovered owners, a user
    ENTERPRISE = "enterprise"
    INSTANCE = "instance"  # a GitHub Enterprise Server host
    REPOSITORIES = "repositories"  # targets.repositories, read as one list


class Target(str):
    """What one collector instance is about: an organization, an enterprise, an organization's team.

    It also is its name, a string: the `target` label, the store's and the sharder's key, the logs' field.
    The name keeps the spelling each collector always used: `owner`, `owner/team`, or `KIND:owner`
    (`tagged`) where a collector takes several kinds.
    """

    kind: Kind
    owner: str
    team: str | None

    def __new__(cls, kind: Kind, owner: str, team: str | None = None, *, tagged: bool = False) -> Target:
        name = f"{owner}/{team}" if team else owner
        self = super().__new__(cls, f"{kind}:{name}" if tagged else name)
        self.kind, self.owner, self.team = kind, owner, team
        return self

    @classmethod
    def organizations(cls, names: Iterable[str], *, tagged: bool = False) -> list[Target]:
        return [cls(Kind.ORGANIZATION, name, tagged=tagged) for name in names]

    @classmethod
    def enterprises(cls, names: Iterable[str], *, tagged: bool = False) -> list[Target]:
        return [cls(Kind.ENTERPRISE, name, tagged=tagged) for name in names]

    @classmethod
    def organizations_and_enterprises(cls, settings: Settings) -> list[Target]:
        """targets.orgs by name and targets.enterprises as `enterprise:NAME`."""
        return cls.organizations(settings.targets.orgs) + cls.enterprises(settings.targets.enterprises, tagged=True)

    @classmethod
    def teams(cls, names: Iterable[str]) -> list[Target]:
        """`org/slug` names (as targets.teams holds them) as targets."""
        return [cls(Kind.ORGANIZATION, *name.split("/", 1)) for name in names]


class FamilyClient:
    """The shared client with the collector's family filled in (it picks the API version and labels metrics)."""

    def __init__(self, client: GitHubClient, family: str) -> None:
        self._client = client
        self.family = family

    async def get(self, route: str, *, params: dict[str, Any] | None = None, **path: Any) -> Response:
        return await self._client.get(route, params=params, family=self.family, **path)

    async def post(self, route: str, *, json: Any, **path: Any) -> Response:
        return await self._client.post(route, json=json, family=self.family, **path)

    def paginate(
        self,
        route: str,
        *,
        params: dict[str, Any] | None = None,
        limit: int | None = None,
        items_key: str | None = None,
        **path: Any,
    ) -> AsyncIterator[Any]:
        return self._client.paginate(
            route, params=params, family=self.family, limit=limit, items_key=items_key, **path
        )

    def download(self, url: str) -> AbstractAsyncContextManager[httpx.Response]:
        return self._client.download(url)

    def count_parse_error(self, endpoint: str) -> None:
        self._client.count_parse_error(self.family, endpoint)

    def report_drift(self, kind: str, check: FieldCheck) -> None:
        """A run's field check (exporter.drift) into github_exporter_unmapped_fields / missing_fields."""
        self._client.drift.report(self.family, kind, check)


class Collector(ABC, Generic[OptionsT]):
    """Subclasses name their settings section as `Collector[XSettings]`, set `name` and implement `targets`
    and `collect`; state of their own they make in `setup`."""

    name: ClassVar[str]  # the key under `collectors:` in the config, the `collector` label and the metrics' family
    # True: the daemon builds this collector only on the replica that owns the target.
    # False: on every replica; the collector then splits its own work (actors, discovered
    # repositories) with `self.sharder` and produces target-level metrics only where
    # `self.sharder.owns(self.target)`.
    sharded_by_target: ClassVar[bool] = True
    # Where GitHub has the endpoints this collector calls; the daemon builds it only when `github.api_url`
    # is one of them (README "Where each collector works", checked by tests/test_deployments.py).
    deployments: ClassVar[frozenset[Deployment]] = CLOUD
    # The GitHub path templates it calls, spelled as in the OpenAPI description; by target kind ("organizations",
    # "enterprises") where the kinds call different ones. tests/test_deployments.py checks them against GitHub's
    # descriptions, this module's source and the README's table; tests/test_request_plan_measured.py checks
    # the simulator answered nothing else.
    endpoints: ClassVar[tuple[str, ...] | Mapping[str, tuple[str, ...]]]

    def __init__(
        self,
        client: GitHubClient,
        settings: Settings,
        target: Target | str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = FamilyClient(client, self.name)
        # What "now" is and how to wait: the wall clock, or a test's or backfill's fixed clock.
        self._clock = clock
        self._sleep = sleep
        self.settings = settings
        self.target = target if isinstance(target, Target) else self.target_named(settings, target)
        self.options: OptionsT = self.options_of(settings)
        self.observed: dict[str, float] = {}  # sizes the last run saw, for planned_requests_per_hour
        self.setup()

    def setup(self) -> None:
        """Make the collector's own state (caches, counters kept between runs); called once by the base."""

    @classmethod
    def options_of(cls, settings: Settings) -> OptionsT:
        """This collector's section under `collectors:`."""
        options = getattr(settings.collectors, cls.name)
        if not isinstance(options, CollectorSettings):
            raise TypeError(f"collectors.{cls.name} is not a collector's settings section")
        return cast(OptionsT, options)

    @classmethod
    def target_named(cls, settings: Settings, name: str) -> Target:
        """The configured target of this name (as the `target` label spells it)."""
        for target in cls.targets(settings):
            if target == name:
                return target
        raise ValueError(f"{cls.name}: no configured target is named {name!r}")

    def readable_rows(self, items: Iterable[Any], read: Callable[[Any], Row], endpoint: str) -> list[Row]:
        """Each row read on its own: one GitHub cannot be read is skipped and counted, the rest of the run kept.

        Counted in github_exporter_parse_errors_total{collector,endpoint}; a wrong shape of the whole
        answer (not a list) still fails the run.
        """
        kept: list[Row] = []
        for item in items:
            try:
                kept.append(read(item))
            except MalformedResponseError as exc:
                self.client.count_parse_error(endpoint)
                log.warning("row skipped: it cannot be read", collector=self.name, target=self.target,
                            endpoint=endpoint, problem=str(exc))
        return kept

    @property
    def sharder(self) -> Sharder:
        """Which sub-targets (actors, discovered repositories) this replica owns."""
        return Sharder.from_settings(self.settings)

    @classmethod
    @abstractmethod
    def targets(cls, settings: Settings) -> list[Target]:
        """The targets this collector runs for, from the `targets:` section."""

    @abstractmethod
    async def collect(self) -> list[Metric]:
        """Fetch and convert; raise on failure so the last good snapshot is kept."""

    @classmethod
    def cadences(cls, settings: Settings, target: Target, observed: Observed = NOTHING_OBSERVED) -> list[Cadence]:
        """What one target asks at the configured intervals, for the rate-limit budget's plan.

        `observed` holds the sizes the last run saw (pages, repositories, ...); before the first run each
        collector assumes its documented defaults. One request per run unless a collector says more.
        """
        return [Cadence(cls.options_of(settings).interval, 1.0)]

    @classmethod
    def planned_requests_per_hour(
        cls, settings: Settings, target: Target, observed: Observed = NOTHING_OBSERVED
    ) -> float:
        """Requests per hour on average: what a steady hour of this target's runs asks."""
        return sum(c.per_hour for c in cls.cadences(settings, target, observed))

    @classmethod
    def owners(
        cls, settings: Settings, target: Target, observed: Observed = NOTHING_OBSERVED
    ) -> dict[str, list[Cadence]]:
        """The plan of one target split by the account each request is about (a GitHub App installation each)."""
        return {target.owner.lower(): cls.cadences(settings, target, observed)}

    def initial(self) -> list[Metric]:
        """Families served from start-up until the first run publishes, e.g. counters at 0.

        A counter first seen at 1 hides its first increase from increase() and
        rate(); exposing it at 0 before the first run lets alerts see it.
        """
        return []

    async def history(self, start: float, end: float) -> list[HistoricalSample]:
        """What GitHub still holds between start and end, under the live metric names.

        Used by `github-insights-exporter backfill`; families without history return nothing.
        """
        return []
