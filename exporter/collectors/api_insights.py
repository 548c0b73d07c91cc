"""API Insights for an organization: who calls GitHub's API, how much, and how often they are rate limited.

Source: GET /orgs/{org}/insights/api/* (API Insights, "API Insights" org permission: read),
and GET /users/{username} to turn configured logins into user ids.

    # HELP github_api_insights_requests_total API requests made in the org ... (time-stats total_request_count)
    # TYPE github_api_insights_requests_total counter
    github_api_insights_requests_total{org="octo-demo"} 1234
    # TYPE github_api_insights_rate_limited_requests_total counter
    # TYPE github_api_insights_data_latest_timestamp_seconds gauge
    # TYPE github_api_insights_window_requests gauge                      (and _window_rate_limited_requests)
    # TYPE github_api_insights_window_seconds gauge
    # TYPE github_api_insights_subject_window_requests gauge              {org,subject_type,subject_name}
    # TYPE github_api_insights_subject_last_request_timestamp_seconds gauge (and _rate_limited_ twins)
    # TYPE github_api_insights_user_requests_total counter                  {org,user_id}
    # TYPE github_api_insights_user_window_requests gauge
    # TYPE github_api_insights_user_info gauge                              {org,user_id,subject_name}
    # TYPE github_api_insights_actor_requests_total counter                 {org,actor_type,actor_id}
    # TYPE github_api_insights_actor_window_requests gauge
    # TYPE github_api_insights_actor_last_request_timestamp_seconds gauge
    # TYPE github_api_insights_actor_info gauge   {org,actor_type,actor_id,actor_name,subject_type,subject_name,user_id}
    # TYPE github_api_insights_route_window_requests gauge   {org,actor_type,actor_id,http_method,route}
    # TYPE github_api_insights_route_last_request_timestamp_seconds gauge

Who is followed, per org and run: the users in `users` (ids, or logins looked
up once) and the actors in `actors`, plus the `top_subjects` busiest subjects
of subject-stats over the summary window. A user subject is followed as a user,
and its `top_actors` busiest actors (user-stats) as actors; an installation
subject is followed as its installation actor. Each followed actor shows its
`top_routes` busiest routes (route-stats). Every listing asks GitHub for the
top of its ranking (`sort=total_request_count`, `direction=desc`,
`per_page=min(N, 100)`) and reads no further page than N items need.

Counters (org, user, actor) come from time-stats buckets through
LateDataCounter: late data is counted once, and the first run after start-up,
or after something starts being followed, is a baseline. The org's, users'
and actors' `*window_*` gauges are summed from the same time-stats buckets
(whole buckets that start within the trailing `summary_window`; promtool
forbids "summary" in a metric name), so summary-stats is never asked. The
subjects' and routes' `*window_*` gauges and the `*_last_*_timestamp_seconds`
times come from the rankings; a null time (nothing rate limited in the
window) exports no sample. API Insights data is 4-6 hours late, so a window
shorter than that shows little. The snapshot is complete
per run: a subject, user or actor that leaves the followed set loses its
series at the next run; its counter state is kept for `forget_after` (so a
quick return continues its counters) and then dropped.

Cardinality, per org, with S = top_subjects, A = top_actors, R = top_routes,
U = len(users), C = len(actors), and A' = max(A, 1):
    followed users  <= S + U
    followed actors <= (S + U) * A' + C    (users' actors, installation subjects, configured)
    series          <= 6 + 4*S + 5*(S + U) + (7 + 4*R) * ((S + U) * A' + C)
Defaults (S=10, A=3, R=10, U=C=0): at most 10 users, 30 actors, 1506 series.

Requests, per org: every run asks time-stats once for the org, once per
followed user and once per followed actor (1 + 10 + 30 = 41 with the
defaults). The rankings (subject-stats when S > 0, user-stats per followed
user when A > 0, route-stats per followed actor when R > 0; again 41) are
asked at the first run of each `ranking_interval` (default 1h); listings are
single pages while N <= 100; a configured login is looked up once. With the
defaults and 5-minute runs at most 12 * 41 + 41 = 533 per hour, whatever the
size of the org.

Every URL repeats until its window moves, so an unchanged answer is a free
304: time-stats starts at the look-back rounded down to 6 hours
(WINDOW_ALIGNMENT) and the rankings at the summary window rounded down to
`ranking_interval`; neither sends max_timestamp ("until now").

Sharding: followed users and actors are split across replicas independently of
which replica owns the org, so one large org spreads its per-actor work. Hence
this collector runs on every replica for every org (`sharded_by_target =
False`): each replica reads subject-stats and user-stats to learn the followed
set (the only duplicated requests), then produces org-level and subject series
only if it owns the org, user series for users it owns
(`{org}/users/{user_id}`) and actor and route series for actors it owns
(`{org}/{actor_type}/{actor_id}`). Every series comes from exactly one replica.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from prometheus_client.metrics_core import Metric

from exporter.collectors import fields
from exporter.collectors.base import NOTHING_OBSERVED, Cadence, Collector, HistoricalSample, Observed, Target
from exporter.collectors.late_data import LateDataCounter
from exporter.drift import Schema
from exporter.github.errors import MalformedResponseError, NotFoundError
from exporter.metricspec import MetricSpec, metric
from exporter.settings import ApiInsightsSettings, Settings, parse_duration

log = structlog.get_logger(__name__)

_BASE = "/orgs/{org}/insights/api"
TIME_STATS = f"{_BASE}/time-stats"
SUBJECT_STATS = f"{_BASE}/subject-stats"
USER_STATS = f"{_BASE}/user-stats/{{user_id}}"
USER_TIME_STATS = f"{_BASE}/time-stats/users/{{user_id}}"
ACTOR_TIME_STATS = f"{_BASE}/time-stats/{{actor_type}}/{{actor_id}}"
ROUTE_STATS = f"{_BASE}/route-stats/{{actor_type}}/{{actor_id}}"
USER_BY_LOGIN = "/users/{username}"

# Each answer's row fields: read, or skipped (integration_id, oauth_application_id: actor_id already names
# the actor). Others show as github_exporter_unmapped_fields{collector="api_insights"} (exporter.drift);
# the tests hold these against the OpenAPI description.
_COUNTS = ("total_request_count", "rate_limited_request_count")
_LAST = ("last_request_timestamp", "last_rate_limited_timestamp")
_BUCKET = Schema({"timestamp", *_COUNTS}, required={"timestamp", *_COUNTS})
ROW_FIELDS: dict[str, Schema] = {
    TIME_STATS: _BUCKET,
    USER_TIME_STATS: _BUCKET,
    ACTOR_TIME_STATS: _BUCKET,
    SUBJECT_STATS: Schema({"subject_type", "subject_name", "subject_id", *_COUNTS, *_LAST},
                          required={"subject_type", "subject_id", *_COUNTS}),
    USER_STATS: Schema({"actor_type", "actor_id", "actor_name", "integration_id", "oauth_application_id", *_COUNTS,
                        *_LAST}, required={"actor_type", "actor_id", *_COUNTS}),
    ROUTE_STATS: Schema({"http_method", "api_route", *_COUNTS, *_LAST},
                        required={"http_method", "api_route", *_COUNTS}),
}

# The actor_type path parameter's enum in GitHub's description; user-stats rows of other types are not followed.
ACTOR_TYPES = ("installation", "classic_pat", "fine_grained_pat", "oauth_app", "github_app_user_to_server")
# subject-stats subject_type -> the actor that makes the calls ("user" subjects are followed as users).
SUBJECT_ACTOR_TYPES = {"installation": "installation"}
PAGE_MAX = 100
RANKING = "total_request_count"
# The time-stats window starts on these boundaries (a multiple of every timestamp_increment), so its URL repeats.
WINDOW_ALIGNMENT = 6 * 3600.0

ORG = ("org",)
SUBJECT = ("org", "subject_type", "subject_name")
USER = ("org", "user_id")
ACTOR = ("org", "actor_type", "actor_id")
ROUTE = ("org", "actor_type", "actor_id", "http_method", "route")
# Gauges summed from time-stats buckets: whole buckets, those that start within the window.
BUCKETS = "summed from the time-stats buckets that start within the trailing collectors.api_insights.summary_window"
# Gauges from the rankings: refreshed every ranking_interval over a window aligned to it.
RANKED = (
    "over the summary window rounded back to the last collectors.api_insights.ranking_interval boundary, as of the "
    "last ranking refresh (every ranking_interval)"
)

# -- the org --------------------------------------------------------------------------------------

REQUESTS = metric(
    __name__,
    "github_api_insights_requests",
    "counter",
    "API requests made in the org; each time bucket's late-arriving growth is counted once, the first run after "
    "start-up is a baseline.",
    ORG,
    f"GET {TIME_STATS}: total_request_count",
)
RATE_LIMITED = metric(
    __name__,
    "github_api_insights_rate_limited_requests",
    "counter",
    "API requests in the org that were rate limited; late data counted once, the first run is a baseline.",
    ORG,
    f"GET {TIME_STATS}: rate_limited_request_count",
)
DATA_LATEST = metric(
    __name__,
    "github_api_insights_data_latest_timestamp_seconds",
    "gauge",
    "Start of the newest time bucket that holds any requests; time() minus this is GitHub's reporting lag.",
    ORG,
    f"GET {TIME_STATS}: timestamp",
)
SUMMARY_REQUESTS = metric(
    __name__,
    "github_api_insights_window_requests",
    "gauge",
    f"API requests in the org, {BUCKETS}.",
    ORG,
    f"GET {TIME_STATS}: total_request_count (sum of buckets)",
)
SUMMARY_RATE_LIMITED = metric(
    __name__,
    "github_api_insights_window_rate_limited_requests",
    "gauge",
    f"Rate-limited API requests in the org, {BUCKETS}.",
    ORG,
    f"GET {TIME_STATS}: rate_limited_request_count (sum of buckets)",
)
SUMMARY_WINDOW = metric(
    __name__,
    "github_api_insights_window_seconds",
    "gauge",
    "Length of the trailing window (collectors.api_insights.summary_window) the github_api_insights_*window_* gauges "
    "and *_last_*_timestamp_seconds cover (the rankings' window may start up to ranking_interval earlier).",
    ORG,
    "configuration collectors.api_insights.summary_window",
)

# -- subjects (users and apps), the top_subjects of subject-stats -----------------------------------

SUBJECT_REQUESTS = metric(
    __name__,
    "github_api_insights_subject_window_requests",
    "gauge",
    f"API requests by a subject (a user or a GitHub App) {RANKED}; only the collectors.api_insights.top_subjects "
    "busiest subjects.",
    SUBJECT,
    f"GET {SUBJECT_STATS}: total_request_count",
)
SUBJECT_RATE_LIMITED = metric(
    __name__,
    "github_api_insights_subject_window_rate_limited_requests",
    "gauge",
    f"Rate-limited API requests by a subject {RANKED}; top subjects only.",
    SUBJECT,
    f"GET {SUBJECT_STATS}: rate_limited_request_count",
)
SUBJECT_LAST_REQUEST = metric(
    __name__,
    "github_api_insights_subject_last_request_timestamp_seconds",
    "gauge",
    "Time of the subject's last API request within the summary window, as of the last ranking refresh; top "
    "subjects only.",
    SUBJECT,
    f"GET {SUBJECT_STATS}: last_request_timestamp",
)
SUBJECT_LAST_RATE_LIMITED = metric(
    __name__,
    "github_api_insights_subject_last_rate_limited_timestamp_seconds",
    "gauge",
    "Time of the subject's last rate-limited request within the summary window; no sample when there was none.",
    SUBJECT,
    f"GET {SUBJECT_STATS}: last_rate_limited_timestamp",
)

# -- followed users -------------------------------------------------------------------------------

USER_REQUESTS = metric(
    __name__,
    "github_api_insights_user_requests",
    "counter",
    "API requests in the org by a followed user, through any of their actors; late data counted once, following "
    "starts with a baseline.",
    USER,
    f"GET {USER_TIME_STATS}: total_request_count",
)
USER_RATE_LIMITED = metric(
    __name__,
    "github_api_insights_user_rate_limited_requests",
    "counter",
    "Rate-limited API requests in the org by a followed user; late data counted once, following starts with a "
    "baseline.",
    USER,
    f"GET {USER_TIME_STATS}: rate_limited_request_count",
)
USER_SUMMARY_REQUESTS = metric(
    __name__,
    "github_api_insights_user_window_requests",
    "gauge",
    f"API requests in the org by a followed user, {BUCKETS}.",
    USER,
    f"GET {USER_TIME_STATS}: total_request_count (sum of buckets)",
)
USER_SUMMARY_RATE_LIMITED = metric(
    __name__,
    "github_api_insights_user_window_rate_limited_requests",
    "gauge",
    f"Rate-limited API requests in the org by a followed user, {BUCKETS}.",
    USER,
    f"GET {USER_TIME_STATS}: rate_limited_request_count (sum of buckets)",
)
USER_INFO = metric(
    __name__,
    "github_api_insights_user_info",
    "gauge",
    "A followed user's login (1 per followed user whose login is known from configuration or subject-stats).",
    (*USER, "subject_name"),
    f"GET {USER_BY_LOGIN}: id; GET {SUBJECT_STATS}: subject_name",
)

# -- followed actors ------------------------------------------------------------------------------

ACTOR_REQUESTS = metric(
    __name__,
    "github_api_insights_actor_requests",
    "counter",
    "API requests in the org by a followed actor (token, OAuth grant or app installation); late data counted once, "
    "following starts with a baseline.",
    ACTOR,
    f"GET {ACTOR_TIME_STATS}: total_request_count",
)
ACTOR_RATE_LIMITED = metric(
    __name__,
    "github_api_insights_actor_rate_limited_requests",
    "counter",
    "Rate-limited API requests in the org by a followed actor; late data counted once, following starts with a "
    "baseline.",
    ACTOR,
    f"GET {ACTOR_TIME_STATS}: rate_limited_request_count",
)
ACTOR_SUMMARY_REQUESTS = metric(
    __name__,
    "github_api_insights_actor_window_requests",
    "gauge",
    f"API requests in the org by a followed actor, {BUCKETS}.",
    ACTOR,
    f"GET {ACTOR_TIME_STATS}: total_request_count (sum of buckets)",
)
ACTOR_SUMMARY_RATE_LIMITED = metric(
    __name__,
    "github_api_insights_actor_window_rate_limited_requests",
    "gauge",
    f"Rate-limited API requests in the org by a followed actor, {BUCKETS}.",
    ACTOR,
    f"GET {ACTOR_TIME_STATS}: rate_limited_request_count (sum of buckets)",
)
ACTOR_LAST_REQUEST = metric(
    __name__,
    "github_api_insights_actor_last_request_timestamp_seconds",
    "gauge",
    "Time of a followed actor's last API request within the summary window, as of the last ranking refresh; only for "
    "actors found through user-stats or subject-stats.",
    ACTOR,
    f"GET {USER_STATS}, GET {SUBJECT_STATS} (installations): last_request_timestamp",
)
ACTOR_LAST_RATE_LIMITED = metric(
    __name__,
    "github_api_insights_actor_last_rate_limited_timestamp_seconds",
    "gauge",
    "Time of a followed actor's last rate-limited request within the summary window; no sample when there was none "
    "or it is unknown.",
    ACTOR,
    f"GET {USER_STATS}, GET {SUBJECT_STATS} (installations): last_rate_limited_timestamp",
)
ACTOR_INFO = metric(
    __name__,
    "github_api_insights_actor_info",
    "gauge",
    "A followed actor and who it acts for (1 per followed actor; labels are empty while unknown, e.g. for a "
    "configured actor not seen in user-stats).",
    (*ACTOR, "actor_name", "subject_type", "subject_name", "user_id"),
    f"GET {USER_STATS}: actor_name; GET {SUBJECT_STATS}: subject_type, subject_name",
)

# -- routes of followed actors --------------------------------------------------------------------

ROUTE_REQUESTS = metric(
    __name__,
    "github_api_insights_route_window_requests",
    "gauge",
    f"API requests by a followed actor to one route (GitHub's route template) {RANKED}; the "
    "collectors.api_insights.top_routes busiest routes per actor.",
    ROUTE,
    f"GET {ROUTE_STATS}: total_request_count",
)
ROUTE_RATE_LIMITED = metric(
    __name__,
    "github_api_insights_route_window_rate_limited_requests",
    "gauge",
    f"Rate-limited API requests by a followed actor to one route {RANKED}; top routes only.",
    ROUTE,
    f"GET {ROUTE_STATS}: rate_limited_request_count",
)
ROUTE_LAST_REQUEST = metric(
    __name__,
    "github_api_insights_route_last_request_timestamp_seconds",
    "gauge",
    "Time of a followed actor's last request to the route within the summary window, as of the last ranking "
    "refresh; top routes only.",
    ROUTE,
    f"GET {ROUTE_STATS}: last_request_timestamp",
)
ROUTE_LAST_RATE_LIMITED = metric(
    __name__,
    "github_api_insights_route_last_rate_limited_timestamp_seconds",
    "gauge",
    "Time of a followed actor's last rate-limited request to the route within the summary window; no sample when "
    "there was none.",
    ROUTE,
    f"GET {ROUTE_STATS}: last_rate_limited_timestamp",
)


# -- parsing --------------------------------------------------------------------------------------


def iso(ts: float) -> str:
    """GitHub's timestamp format for API Insights queries: YYYY-MM-DDTHH:MM:SSZ."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def text(item: dict[str, Any], field: str, endpoint: str) -> str:
    value = item.get(field)
    if not isinstance(value, str) or not value:
        raise MalformedResponseError(f"{endpoint}: {field} {value!r} is not a name", endpoint=endpoint)
    return value


def identifier(item: dict[str, Any], field: str, endpoint: str) -> int:
    value = item.get(field)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedResponseError(f"{endpoint}: {field} {value!r} is not an id", endpoint=endpoint)
    return value


def objects(data: Any, endpoint: str) -> list[dict[str, Any]]:
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise MalformedResponseError(f"{endpoint}: expected a list of objects", endpoint=endpoint)
    return data


def bucket_list(data: Any, endpoint: str) -> list[Any]:
    if not isinstance(data, list):
        raise MalformedResponseError(f"{endpoint}: expected a list of buckets", endpoint=endpoint)
    return data


def time_bucket(item: Any, endpoint: str) -> tuple[float, float, float]:
    """(bucket start, total, rate limited) from one time-stats bucket."""
    if not isinstance(item, dict):
        raise MalformedResponseError(f"{endpoint}: bucket is not an object", endpoint=endpoint)
    start = fields.timestamp(item, "timestamp", endpoint, required=True)
    total, limited = (fields.count(item, f, endpoint) for f in ("total_request_count", "rate_limited_request_count"))
    return start, total, limited


@dataclass(frozen=True)
class Stats:
    """The figures every listing row carries, over the queried window."""

    total: float
    rate_limited: float
    last_request: float | None
    last_rate_limited: float | None

    @classmethod
    def of(cls, item: dict[str, Any], endpoint: str) -> Stats:
        return cls(
            fields.count(item, "total_request_count", endpoint),
            fields.count(item, "rate_limited_request_count", endpoint),
            fields.timestamp(item, "last_request_timestamp", endpoint),
            fields.timestamp(item, "last_rate_limited_timestamp", endpoint),
        )


@dataclass(frozen=True)
class SubjectRow:
    subject_type: str
    subject_name: str
    subject_id: int
    stats: Stats


@dataclass(frozen=True)
class RouteRow:
    http_method: str
    route: str
    stats: Stats


@dataclass(frozen=True, order=True)
class ActorKey:
    actor_type: str
    actor_id: int

    def shard_key(self, org: str) -> str:
        return f"{org}/{self.actor_type}/{self.actor_id}"


@dataclass(frozen=True)
class ActorMeta:
    """Who an actor is, as far as user-stats or subject-stats told; empty strings while unknown."""

    actor_name: str = ""
    subject_type: str = ""
    subject_name: str = ""
    user_id: str = ""
    stats: Stats | None = None  # the discovering row's figures, for the last_* times

    @property
    def known(self) -> bool:
        return bool(self.actor_name or self.subject_type)


@dataclass
class FollowPlan:
    """What one run follows in one org."""

    subjects: list[SubjectRow] = field(default_factory=list)
    users: dict[int, str] = field(default_factory=dict)  # user id -> login ("" while unknown)
    actors: dict[ActorKey, ActorMeta] = field(default_factory=dict)


@dataclass(frozen=True)
class Ranking:
    """One refresh of the rankings: its slot (now // ranking_interval), the follow plan and owned actors' routes."""

    slot: int
    plan: FollowPlan
    routes: dict[ActorKey, list[RouteRow]]


class RequestCounters:
    """The pair of late-data counters (all requests, rate-limited ones) for one series."""

    def __init__(self) -> None:
        self.requests = LateDataCounter()
        self.rate_limited = LateDataCounter()

    def observe(self, buckets: list[tuple[float, float, float]], window_start: float) -> None:
        self.requests.observe(((s, t) for s, t, _ in buckets), window_start)
        self.rate_limited.observe(((s, r) for s, _, r in buckets), window_start)


@dataclass
class Followed:
    """Counter state of a followed user or actor, kept `forget_after` past the last run that followed it."""

    counters: RequestCounters
    followed_at: float
    login: str = ""  # users
    meta: ActorMeta = field(default_factory=ActorMeta)  # actors: the last known identity


T = TypeVar("T")


async def concurrently(aws: Iterable[Awaitable[T]]) -> list[T]:
    """Await all (the client bounds concurrency); on the first failure cancel the rest and raise it as is."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


K = TypeVar("K")


def _drop_followed_before(states: dict[K, Followed], horizon: float) -> None:
    for key in [k for k, s in states.items() if s.followed_at < horizon]:
        del states[key]


def _family(spec: MetricSpec, samples: Iterable[tuple[tuple[str, ...], float | None]]) -> Metric | None:
    """A family of the samples whose value is known, or None when there is none."""
    family = spec.new()
    for labels, value in sorted(samples, key=lambda s: s[0]):
        if value is not None:
            family.add_metric(list(labels), value)
    return family if family.samples else None


def _cumulative(
    specs: tuple[MetricSpec, MetricSpec],
    labels: tuple[str, ...],
    buckets: list[tuple[float, float, float]],
    step: float,
    start: float,
    end: float,
) -> list[HistoricalSample]:
    """The counter pair as it would have read at the end of each bucket."""
    samples: list[HistoricalSample] = []
    requests = limited = 0.0
    for bucket_start, total, rate_limited in sorted(buckets):
        requests += total
        limited += rate_limited
        at = bucket_start + step
        if start <= at <= end:
            samples.append(HistoricalSample(specs[0], labels, requests, at))
            samples.append(HistoricalSample(specs[1], labels, limited, at))
    return samples


class ApiInsightsCollector(Collector[ApiInsightsSettings]):
    """One org: its counters and summary, its top subjects, and the users, actors and routes it follows."""

    name = "api_insights"
    endpoints = tuple(f"/orgs/{{org}}/insights/api/{leaf}" for leaf in (
        "time-stats", "time-stats/users/{user_id}", "time-stats/{actor_type}/{actor_id}", "summary-stats",
        "subject-stats", "user-stats/{user_id}", "route-stats/{actor_type}/{actor_id}",
    )) + ("/users/{username}",)
    sharded_by_target = False  # followed users and actors are sharded by their own keys; see the module docstring

    def setup(self) -> None:
        self._org_counters = RequestCounters()
        self._latest_data: float | None = None
        self._users: dict[int, Followed] = {}
        self._actors: dict[ActorKey, Followed] = {}
        self._logins: dict[str, int | None] = {}  # configured login (lower case) -> user id, None if not found
        self._ranking: Ranking | None = None  # the last refresh of who is followed, reused until its slot ends

    @classmethod
    def targets(cls, settings: Settings) -> list[Target]:
        return Target.organizations(settings.targets.orgs)

    @classmethod
    def cadences(cls, settings: Settings, target: Target, observed: Observed = NOTHING_OBSERVED) -> list[Cadence]:
        """The worst case of the module docstring: every followed series asked each run and each ranking."""
        o = settings.collectors.api_insights
        users = o.top_subjects + len(o.users)
        series = 1 + users + users * max(o.top_actors, 1) + len(o.actors)
        return [Cadence(o.interval, series), Cadence(o.ranking_interval, series, aligned=True)]

    # -- ownership ---------------------------------------------------------------------------------

    def owns_org(self) -> bool:
        return self.sharder.owns(self.target)

    def owns_user(self, user_id: int) -> bool:
        return self.sharder.owns(f"{self.target}/users/{user_id}")

    def owns_actor(self, key: ActorKey) -> bool:
        return self.sharder.owns(key.shard_key(self.target))

    # -- requests ----------------------------------------------------------------------------------

    def _window_start(self, now: float) -> float:
        """Start of the time-stats query: the look-back (and summary window) rounded down to WINDOW_ALIGNMENT.

        It moves four times a day, so between two moves every run asks the same URL and GitHub answers an
        unchanged series with a free 304.
        """
        span = max(self.options.lookback, self.options.summary_window)
        return math.floor((now - span) / WINDOW_ALIGNMENT) * WINDOW_ALIGNMENT

    def _ranked_since(self, now: float) -> float:
        """Start of the rankings' window: the summary window rounded down to the ranking interval."""
        step = self.options.ranking_interval
        return math.floor((now - self.options.summary_window) / step) * step

    def _window_totals(self, buckets: list[tuple[float, float, float]], now: float) -> tuple[float, float]:
        """Requests and rate-limited requests of the buckets that start within the trailing summary window."""
        since = now - self.options.summary_window
        inside = [(total, limited) for start, total, limited in buckets if since <= start < now]
        return sum(t for t, _ in inside), sum(r for _, r in inside)

    async def _time_stats(
        self, route: str, window_start: float, window_end: float | None = None, **path: Any
    ) -> list[tuple[float, float, float]]:
        params = {"min_timestamp": iso(window_start), "timestamp_increment": self.options.timestamp_increment}
        if window_end is not None:
            params["max_timestamp"] = iso(window_end)
        response = await self.client.get(route, params=params, org=self.target, **path)
        data = bucket_list(response.data if response.data is not None else [], route)
        self._check_fields(route, data)
        return self.readable_rows(data, lambda item: time_bucket(item, route), route)

    def _check_fields(self, route: str, rows: list[Any]) -> None:
        """Hold an answer's rows against ROW_FIELDS: the drift signal (one answer at a time)."""
        check = ROW_FIELDS[route].check()
        for row in rows:
            if isinstance(row, dict):
                check.record(row)
        self.client.report_drift(f"{route} of {self.target}", check)

    async def _top(
        self, route: str, limit: int, lo: float, hi: float | None, **path: Any
    ) -> list[dict[str, Any]]:
        """The `limit` busiest rows of a listing over [lo, hi] (hi None: until now), reading only the pages needed."""
        if limit <= 0:
            return []
        params = {
            "min_timestamp": iso(lo),
            "max_timestamp": None if hi is None else iso(hi),
            "sort": RANKING,
            "direction": "desc",
            "per_page": min(limit, PAGE_MAX),
        }
        rows = [
            row
            async for row in self.client.paginate(
                route, params=params, limit=limit, org=self.target, **path
            )
        ]
        self._check_fields(route, rows)
        return objects(rows, route)

    async def _subjects(self, lo: float, hi: float | None) -> list[SubjectRow]:
        rows = await self._top(SUBJECT_STATS, self.options.top_subjects, lo, hi)
        return self.readable_rows(
            rows,
            lambda r: SubjectRow(
                text(r, "subject_type", SUBJECT_STATS),
                text(r, "subject_name", SUBJECT_STATS),
                identifier(r, "subject_id", SUBJECT_STATS),
                Stats.of(r, SUBJECT_STATS),
            ),
            SUBJECT_STATS,
        )

    async def _user_actors(self, user_id: int, lo: float, hi: float | None) -> list[tuple[ActorKey, str, Stats]]:
        rows = await self._top(USER_STATS, self.options.top_actors, lo, hi, user_id=user_id)
        found = []
        for r in rows:
            actor_type = text(r, "actor_type", USER_STATS)
            key = ActorKey(actor_type, identifier(r, "actor_id", USER_STATS))
            if actor_type not in ACTOR_TYPES:
                log.debug("API Insights actor type not followed", org=self.target, actor_type=actor_type)
                continue
            found.append((key, str(r.get("actor_name") or ""), Stats.of(r, USER_STATS)))
        return found

    async def _routes(self, key: ActorKey, lo: float, hi: float | None) -> list[RouteRow]:
        rows = await self._top(
            ROUTE_STATS, self.options.top_routes, lo, hi, actor_type=key.actor_type, actor_id=key.actor_id
        )
        return self.readable_rows(
            rows,
            lambda r: RouteRow(
                text(r, "http_method", ROUTE_STATS), text(r, "api_route", ROUTE_STATS), Stats.of(r, ROUTE_STATS)
            ),
            ROUTE_STATS,
        )

    async def _user_id(self, user: int | str) -> int | None:
        """A configured user's id: numbers are ids; a login is looked up once (a 404 is remembered too)."""
        if isinstance(user, int):
            return user
        key = user.lower()
        if key not in self._logins:
            try:
                response = await self.client.get(USER_BY_LOGIN, username=user)
            except NotFoundError:
                log.warning("API Insights: configured user not found; not followed", user=user)
                self._logins[key] = None
            else:
                data = response.data if isinstance(response.data, dict) else {}
                self._logins[key] = identifier(data, "id", USER_BY_LOGIN)
        return self._logins[key]

    async def _plan(self, lo: float, hi: float | None) -> FollowPlan:
        """Who to follow over [lo, hi]: configured users and actors, the top subjects and their actors."""
        plan = FollowPlan(subjects=await self._subjects(lo, hi))
        for user in self.options.users:
            user_id = await self._user_id(user)
            if user_id is not None:
                plan.users.setdefault(user_id, user if isinstance(user, str) else "")
        for configured in self.options.actors:
            plan.actors[ActorKey(configured.actor_type, configured.actor_id)] = ActorMeta()
        for subject in plan.subjects:
            if subject.subject_type == "user":
                plan.users[subject.subject_id] = subject.subject_name
            elif subject.subject_type in SUBJECT_ACTOR_TYPES:
                key = ActorKey(SUBJECT_ACTOR_TYPES[subject.subject_type], subject.subject_id)
                plan.actors[key] = ActorMeta(
                    subject.subject_name, subject.subject_type, subject.subject_name, "", subject.stats
                )
        if self.options.top_actors:
            user_ids = sorted(plan.users)
            found = await concurrently(self._user_actors(u, lo, hi) for u in user_ids)
            for user_id, actors in zip(user_ids, found, strict=False):
                for key, actor_name, stats in actors:
                    plan.actors[key] = ActorMeta(actor_name, "user", plan.users[user_id], str(user_id), stats)
        return plan

    # -- a run -------------------------------------------------------------------------------------

    async def _rank(self, now: float) -> Ranking:
        """Refresh who is followed (subject-stats, user-stats) and the routes of owned actors (route-stats).

        The window starts at an aligned boundary and has no max_timestamp, so the URLs repeat within a
        ranking interval and an unchanged ranking is answered 304.
        """
        since = self._ranked_since(now)
        plan = await self._plan(since, None)
        actors = sorted(k for k in plan.actors if self.owns_actor(k))
        routes = await concurrently(self._routes(k, since, None) for k in actors)
        return Ranking(math.floor(now / self.options.ranking_interval), plan, dict(zip(actors, routes, strict=True)))

    async def collect(self) -> list[Metric]:
        now = self._clock()
        window_start = self._window_start(now)
        ranking = self._ranking
        if ranking is None or ranking.slot != math.floor(now / self.options.ranking_interval):
            ranking = await self._rank(now)
        plan = ranking.plan
        owner = self.owns_org()
        users = sorted(u for u in plan.users if self.owns_user(u))
        actors = sorted(k for k in plan.actors if self.owns_actor(k))

        async def org() -> list[tuple[float, float, float]] | None:
            return await self._time_stats(TIME_STATS, window_start) if owner else None

        # Everything is fetched before any counter moves, so a failed run leaves no trace in the state.
        # One task per kind of result keeps each result's own type; concurrently() awaits them together.
        org_task = asyncio.ensure_future(org())
        users_task = asyncio.ensure_future(
            concurrently(self._time_stats(USER_TIME_STATS, window_start, user_id=u) for u in users)
        )
        actors_task = asyncio.ensure_future(
            concurrently(
                self._time_stats(ACTOR_TIME_STATS, window_start, actor_type=k.actor_type, actor_id=k.actor_id)
                for k in actors
            )
        )
        await concurrently([org_task, users_task, actors_task])
        org_data, user_data, actor_data = org_task.result(), users_task.result(), actors_task.result()
        self._ranking = ranking

        families: list[Metric | None] = []
        if org_data is not None:
            families += self._org_families(org_data, window_start, now, plan.subjects)
        families += self._user_families(plan, users, user_data, window_start, now)
        routes = [ranking.routes.get(k, []) for k in actors]
        families += self._actor_families(plan, actors, list(zip(actor_data, routes, strict=True)), window_start, now)
        self._forget(now)
        log.debug(
            "API Insights run",
            org=self.target,
            subjects=len(plan.subjects),
            users=len(plan.users),
            actors=len(plan.actors),
            owned_users=len(users),
            owned_actors=len(actors),
        )
        return [f for f in families if f is not None]

    def _org_families(
        self,
        buckets: list[tuple[float, float, float]],
        window_start: float,
        now: float,
        subjects: list[SubjectRow],
    ) -> list[Metric | None]:
        self._org_counters.observe(buckets, window_start)
        summary = self._window_totals(buckets, now)
        with_data = [start for start, total, _ in buckets if total > 0]
        if with_data:
            self._latest_data = max(with_data + ([self._latest_data] if self._latest_data else []))
        org = (self.target,)
        rows = [((self.target, s.subject_type, s.subject_name), s.stats) for s in subjects]
        return [
            REQUESTS.one(org, self._org_counters.requests.total),
            RATE_LIMITED.one(org, self._org_counters.rate_limited.total),
            SUMMARY_REQUESTS.one(org, summary[0]),
            SUMMARY_RATE_LIMITED.one(org, summary[1]),
            SUMMARY_WINDOW.one(org, self.options.summary_window),
            DATA_LATEST.one(org, self._latest_data) if self._latest_data is not None else None,
            _family(SUBJECT_REQUESTS, ((labels, s.total) for labels, s in rows)),
            _family(SUBJECT_RATE_LIMITED, ((labels, s.rate_limited) for labels, s in rows)),
            _family(SUBJECT_LAST_REQUEST, ((labels, s.last_request) for labels, s in rows)),
            _family(SUBJECT_LAST_RATE_LIMITED, ((labels, s.last_rate_limited) for labels, s in rows)),
        ]

    def _user_families(
        self,
        plan: FollowPlan,
        users: list[int],
        data: list[list[tuple[float, float, float]]],
        window_start: float,
        now: float,
    ) -> list[Metric | None]:
        counters, summaries, info = [], [], []
        for user_id, buckets in zip(users, data, strict=False):
            state = self._users.get(user_id)
            if state is None:
                state = self._users[user_id] = Followed(RequestCounters(), now)
            state.followed_at = now
            state.login = plan.users[user_id] or state.login
            state.counters.observe(buckets, window_start)
            labels = (self.target, str(user_id))
            counters.append((labels, state.counters))
            summaries.append((labels, self._window_totals(buckets, now)))
            if state.login:
                info.append(((*labels, state.login), 1.0))
        return [
            _family(USER_REQUESTS, ((labels, c.requests.total) for labels, c in counters)),
            _family(USER_RATE_LIMITED, ((labels, c.rate_limited.total) for labels, c in counters)),
            _family(USER_SUMMARY_REQUESTS, ((labels, s[0]) for labels, s in summaries)),
            _family(USER_SUMMARY_RATE_LIMITED, ((labels, s[1]) for labels, s in summaries)),
            _family(USER_INFO, info),
        ]

    def _actor_families(
        self,
        plan: FollowPlan,
        actors: list[ActorKey],
        data: list[tuple[list[tuple[float, float, float]], list[RouteRow]]],
        window_start: float,
        now: float,
    ) -> list[Metric | None]:
        counters, summaries, times, info, routes = [], [], [], [], []
        for key, (buckets, route_rows) in zip(actors, data, strict=False):
            state = self._actors.get(key)
            if state is None:
                state = self._actors[key] = Followed(RequestCounters(), now)
            state.followed_at = now
            meta = plan.actors[key]
            if meta.known:
                state.meta = replace(meta, stats=None)
            state.counters.observe(buckets, window_start)
            labels = (self.target, key.actor_type, str(key.actor_id))
            counters.append((labels, state.counters))
            summaries.append((labels, self._window_totals(buckets, now)))
            if meta.stats is not None:
                times.append((labels, meta.stats))
            m = state.meta
            info.append(((*labels, m.actor_name, m.subject_type, m.subject_name, m.user_id), 1.0))
            routes += [((*labels, r.http_method, r.route), r.stats) for r in route_rows]
        return [
            _family(ACTOR_REQUESTS, ((labels, c.requests.total) for labels, c in counters)),
            _family(ACTOR_RATE_LIMITED, ((labels, c.rate_limited.total) for labels, c in counters)),
            _family(ACTOR_SUMMARY_REQUESTS, ((labels, s[0]) for labels, s in summaries)),
            _family(ACTOR_SUMMARY_RATE_LIMITED, ((labels, s[1]) for labels, s in summaries)),
            _family(ACTOR_LAST_REQUEST, ((labels, s.last_request) for labels, s in times)),
            _family(ACTOR_LAST_RATE_LIMITED, ((labels, s.last_rate_limited) for labels, s in times)),
            _family(ACTOR_INFO, info),
            _family(ROUTE_REQUESTS, ((labels, s.total) for labels, s in routes)),
            _family(ROUTE_RATE_LIMITED, ((labels, s.rate_limited) for labels, s in routes)),
            _family(ROUTE_LAST_REQUEST, ((labels, s.last_request) for labels, s in routes)),
            _family(ROUTE_LAST_RATE_LIMITED, ((labels, s.last_rate_limited) for labels, s in routes)),
        ]

    def _forget(self, now: float) -> None:
        """Drop the state of users and actors no run has followed for `forget_after`."""
        horizon = now - self.options.forget_after
        _drop_followed_before(self._users, horizon)
        _drop_followed_before(self._actors, horizon)

    # -- backfill ----------------------------------------------------------------------------------

    async def history(self, start: float, end: float) -> list[HistoricalSample]:
        """The counters as they would have read at the end of each bucket since `start`.

        Covers the org and the users and actors that would be followed over
        [start, end] (configured ones, the top subjects of that period and
        their top actors): one time-stats request each, plus the discovery.
        """
        step = parse_duration(self.options.timestamp_increment)
        aligned = math.floor(start / step) * step
        samples: list[HistoricalSample] = []
        if self.owns_org():
            buckets = await self._time_stats(TIME_STATS, aligned, end)
            samples += _cumulative((REQUESTS, RATE_LIMITED), (self.target,), buckets, step, start, end)
        plan = await self._plan(start, end)
        users = sorted(u for u in plan.users if self.owns_user(u))
        actors = sorted(k for k in plan.actors if self.owns_actor(k))
        user_buckets = await concurrently(self._time_stats(USER_TIME_STATS, aligned, end, user_id=u) for u in users)
        actor_buckets = await concurrently(
            self._time_stats(ACTOR_TIME_STATS, aligned, end, actor_type=k.actor_type, actor_id=k.actor_id)
            for k in actors
        )
        for user_id, buckets in zip(users, user_buckets, strict=False):
            samples += _cumulative(
                (USER_REQUESTS, USER_RATE_LIMITED), (self.target, str(user_id)), buckets, step, start, end
            )
        for key, buckets in zip(actors, actor_buckets, strict=False):
            labels = (self.target, key.actor_type, str(key.actor_id))
            samples += _cumulative((ACTOR_REQUESTS, ACTOR_RATE_LIMITED), labels, buckets, step, start, end)
        return samples
