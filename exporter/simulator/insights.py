"""API Insights: simulated request counts and the nine endpoints that report them.

The unit of truth is a request count and a rate-limited count per (actor,
route, 5-minute bucket), derived by hashing the seed, the actor and the bucket
start, so nothing is stored and every read agrees with every other. All
endpoints aggregate those cells, which keeps org, user, actor, subject and
route figures consistent with one another.

GitHub's data arrives hours late: a bucket seen at `now` shows
`floor(full * fill(now - bucket_end))`, with fill rising from 0 at `lag_min`
to 1 at `lag_full`. The floor is taken per cell, so counts only ever grow as
time passes and sums stay exact. Spikes are run-time additions on top: extra
requests, all rate limited, with their own lag.
"""

from __future__ import annotations

import hashlib
import math
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from exporter.simulator.routing import Call, GitHubError, SimRoute, SimulatorHost, iso, parse_iso, register_state
from exporter.simulator.world import ACTOR_TYPES, Org, World

# Which cells of an org's traffic a request is about (an org, a user, an actor); None when unknown.
CellsOf = Callable[[Call, "OrgTraffic"], "range | None"]

BUCKET_SECONDS = 300
FILLING_CACHE = 512  # partly filled buckets kept per organisation (a late-data window holds 24 at a time)
INCREMENTS = {"5m": 300, "10m": 600, "15m": 900, "30m": 1800, "1h": 3600, "1d": 86400}
DOCS = "https://docs.github.com/enterprise-cloud@latest/rest/orgs/api-insights"


@dataclass(frozen=True)
class Spike:
    """Extra, rate-limited traffic: each covered cell's total grows by `factor - 1` times its full count.

    A bucket's spike shows once `lag` seconds have passed since the bucket
    ended, independently of the normal data lag. `actor_id=None` covers
    every actor of the organisation.
    """

    org: str
    start: float
    end: float
    factor: float = 10.0
    lag: float = 0.0
    actor_id: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {"org": self.org, "start": iso(self.start), "end": iso(self.end), "factor": self.factor,
                "lag": self.lag, "actor_id": self.actor_id}


@dataclass
class Totals:
    """Aggregated counts of a group of cells over a window; timestamps in epoch seconds."""

    total: int = 0
    limited: int = 0
    last_request: float | None = None
    last_limited: float | None = None


class _Bucket:
    """One 5-minute bucket's cells: counts and the second within the bucket of each cell's last request."""

    __slots__ = ("totals", "limited", "offsets", "limited_offsets")

    def __init__(
        self, totals: Sequence[int], limited: Sequence[int], offsets: array[int], limited_offsets: array[int]
    ) -> None:
        self.totals = totals
        self.limited = limited
        self.offsets = offsets
        self.limited_offsets = limited_offsets


class OrgTraffic:
    """The traffic model of one organisation.

    Cells are laid out subject by subject, actor by actor, so a subject's,
    an actor's and a single route's cells each form one contiguous range.
    """

    def __init__(self, org: Org, seed: int, insights: Insights, cache_buckets: int = 9000) -> None:
        self.org = org
        self._insights = insights
        self.actors = org.actors
        self.cells: list[tuple[int, int]] = []  # (actor index, route index)
        self.actor_ranges: list[range] = []
        for i, actor in enumerate(self.actors):
            first = len(self.cells)
            self.cells.extend((i, r) for r, _ in actor.routes)
            self.actor_ranges.append(range(first, len(self.cells)))
        self.subject_ranges: list[range] = []
        pos = 0
        for subject in org.subjects:
            n = sum(len(a.routes) for a in subject.actors)
            self.subject_ranges.append(range(pos, pos + n))
            pos += n
        self.all_cells = range(len(self.cells))
        self._keys = [f"{seed}:{org.login.lower()}:{a.type}:{a.id}:".encode() for a in self.actors]
        self._cache: OrderedDict[int, _Bucket] = OrderedDict()
        self._cache_size = cache_buckets
        self._filling: dict[tuple[int, float], _Bucket] = {}  # partly filled buckets, by (start, fill)
        self._lock = threading.Lock()

    # -- lookups ---------------------------------------------------------------------------

    def actor_range(self, actor_type: str, actor_id: int) -> range | None:
        for actor, cells in zip(self.actors, self.actor_ranges, strict=False):
            if actor.type == actor_type and actor.id == actor_id:
                return cells
        return None

    def user_range(self, user_id: int) -> range | None:
        for subject, cells in zip(self.org.subjects, self.subject_ranges, strict=False):
            if subject.type == "user" and subject.id == user_id:
                return cells
        return None

    # -- the unit of truth -----------------------------------------------------------------

    def full(self, start: int) -> _Bucket:
        """The complete counts of the bucket starting at `start` (a multiple of 300)."""
        with self._lock:
            bucket = self._cache.get(start)
            if bucket is not None:
                self._cache.move_to_end(start)
                return bucket
        bucket = self._compute(start)
        with self._lock:
            self._cache[start] = bucket
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return bucket

    def _compute(self, start: int) -> _Bucket:
        human, bot = _rhythm(start)
        stamp = start.to_bytes(8, "big", signed=True)
        totals, limited = array("i"), array("i")
        offsets, limited_offsets = array("H"), array("H")
        hour = (start // 3600).to_bytes(8, "big", signed=True)
        for actor, key in zip(self.actors, self._keys, strict=False):
            d = hashlib.blake2b(key + stamp, digest_size=64).digest()
            level = actor.base_rate * (bot if actor.type == "installation" else human) * (0.7 + d[0] / 427)
            if actor.activity < 1.0 and hashlib.blake2b(key + hour, digest_size=2).digest()[0] >= 256 * actor.activity:
                level = 0.0  # an idle hour
            burst = d[1] < 3  # about one bucket in 85: a short burst of rate limiting
            share2 = actor.rate_limited_share / 128
            for j, (_, weight) in enumerate(actor.routes):
                b = 2 + 6 * j
                total = int(level * weight * (0.6 + d[b] / 320))
                # Rounded up or down by a hashed fraction, so small cells keep their share on average.
                rl = min(total, int(total * share2 * d[b + 1] + d[b + 5] / 256))
                if burst:
                    rl = max(rl, int(total * 0.05 + d[b + 5] / 256))
                offset = ((d[b + 2] << 8) | d[b + 3]) % BUCKET_SECONDS
                totals.append(total)
                limited.append(rl)
                offsets.append(offset)
                limited_offsets.append(offset - ((d[b + 4] * (offset + 1)) >> 8))
        return _Bucket(totals, limited, offsets, limited_offsets)

    def visible(self, start: int, now: float) -> _Bucket | None:
        """The bucket as a reader at `now` sees it, or None when it shows nothing yet."""
        fill = self._insights.fill(now - (start + BUCKET_SECONDS))
        spikes = [s for s in self._insights.spikes_for(self.org.login)
                  if s.start < start + BUCKET_SECONDS and s.end > start
                  and now >= start + BUCKET_SECONDS + s.lag]
        if fill <= 0.0 and not spikes:
            return None
        full = self.full(start)
        if fill >= 1.0 and not spikes:
            return full
        if not spikes:  # a filling bucket: every request of one run (one `now`) asks for the same one
            with self._lock:
                filling = self._filling.get((start, fill))
            if filling is None:
                filling = _Bucket(array("i", (int(t * fill) for t in full.totals)),
                                  array("i", (int(r * fill) for r in full.limited)), full.offsets,
                                  full.limited_offsets)
                with self._lock:
                    if len(self._filling) >= FILLING_CACHE:
                        self._filling.clear()
                    self._filling[(start, fill)] = filling
            return filling
        totals = [int(t * fill) for t in full.totals] if fill > 0 else [0] * len(full.totals)
        limited = [int(r * fill) for r in full.limited] if fill > 0 else [0] * len(full.limited)
        for spike in spikes:
            cells: range | None = self.all_cells
            if spike.actor_id is not None:
                pairs = zip(self.actors, self.actor_ranges, strict=True)
                cells = next((c for a, c in pairs if a.id == spike.actor_id), None)
            for i in cells or ():
                extra = int(full.totals[i] * (spike.factor - 1))
                totals[i] += extra
                limited[i] += extra
        return _Bucket(totals, limited, full.offsets, full.limited_offsets)

    # -- aggregation -----------------------------------------------------------------------

    def window(self, lo: float, hi: float, now: float) -> range:
        """Bucket starts a window covers: every retained bucket overlapping [lo, hi) that started before now."""
        lo = max(lo, now - self._insights.retention)
        first = int(math.floor(lo / BUCKET_SECONDS)) * BUCKET_SECONDS
        end = min(hi, now)
        return range(
            first, int(math.ceil(end / BUCKET_SECONDS)) * BUCKET_SECONDS if end > first else first, BUCKET_SECONDS
        )

    def series(self, cells: range | None, lo: float, hi: float, now: float) -> list[tuple[int, int, int]]:
        """(bucket start, total, rate limited) for every bucket of the window, zeros included."""
        out: list[tuple[int, int, int]] = []
        for start in self.window(lo, hi, now):
            view = self.visible(start, now) if cells else None
            if view is None or cells is None:
                out.append((start, 0, 0))
            else:
                totals: Sequence[int] = view.totals[cells.start : cells.stop]
                limited: Sequence[int] = view.limited[cells.start : cells.stop]
                out.append((start, sum(totals), sum(limited)))
        return out

    def aggregate(self, groups: Sequence[range], lo: float, hi: float, now: float) -> list[Totals]:
        """Totals per group of cells, with the times of the last request and last rate-limited request."""
        result = [Totals() for _ in groups]
        seen: list[tuple[int, _Bucket, list[int], list[int]]] = []
        for start in self.window(lo, hi, now):
            view = self.visible(start, now)
            if view is None:
                continue
            sums = [sum(view.totals[g.start : g.stop]) for g in groups]
            limited = [sum(view.limited[g.start : g.stop]) for g in groups]
            for acc, t, r in zip(result, sums, limited, strict=False):
                acc.total += t
                acc.limited += r
            seen.append((start, view, sums, limited))
        # Latest first, stopping once every group has found its last request.
        pending = {i for i, acc in enumerate(result) if acc.total}
        pending_limited = {i for i, acc in enumerate(result) if acc.limited}
        for start, view, sums, limited in reversed(seen):
            if not pending and not pending_limited:
                break
            for i in [i for i in pending if sums[i]]:
                g = groups[i]
                result[i].last_request = start + max(view.offsets[c] for c in g if view.totals[c])
                pending.discard(i)
            for i in [i for i in pending_limited if limited[i]]:
                g = groups[i]
                result[i].last_limited = start + max(view.limited_offsets[c] for c in g if view.limited[c])
                pending_limited.discard(i)
        return result


def _rhythm(start: int) -> tuple[float, float]:
    """Daily and weekly rhythm for people and for bots: quiet at 03:00 UTC, busiest at 15:00."""
    hour = (start % 86400) / 3600
    weekend = ((start // 86400) + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    human = 0.35 + 0.65 * (0.5 - 0.5 * math.cos(2 * math.pi * (hour - 3) / 24))
    bot = 0.7 + 0.3 * human
    if weekend:
        human, bot = human * 0.45, bot * 0.85
    return human, bot


@register_state
class Insights:
    """API Insights for every organisation of a world: traffic models, the data lag and spikes."""

    @classmethod
    def for_simulator(cls, sim: SimulatorHost) -> Insights:
        c = sim.config
        return cls(sim.world, c.insights_lag_min, c.insights_lag_full, c.insights_retention, c.insights_cache_buckets)

    def __init__(
        self, world: World, lag_min: float, lag_full: float, retention: float = 30 * 86400, cache_buckets: int = 9000
    ) -> None:
        self.world = world
        self.lag_min = lag_min
        self.lag_full = lag_full
        self.retention = retention
        self._orgs = {key: OrgTraffic(org, world.seed, self, cache_buckets) for key, org in world.orgs.items()}
        self._spikes: tuple[Spike, ...] = ()
        self._lock = threading.Lock()

    def traffic(self, org: str) -> OrgTraffic | None:
        return self._orgs.get(org.lower())

    def fill(self, age: float) -> float:
        """Share of a bucket visible `age` seconds after it ended."""
        if age < self.lag_min or (age == self.lag_min and self.lag_full > self.lag_min):
            return 0.0
        if age >= self.lag_full:
            return 1.0
        return (age - self.lag_min) / (self.lag_full - self.lag_min)

    @property
    def spikes(self) -> tuple[Spike, ...]:
        return self._spikes

    def spikes_for(self, org: str) -> Iterable[Spike]:
        key = org.lower()
        return [s for s in self._spikes if s.org.lower() == key]

    def add_spike(self, spike: Spike) -> Spike:
        if self.traffic(spike.org) is None:
            raise ValueError(f"unknown organisation {spike.org!r}")
        if spike.factor < 1 or spike.lag < 0 or spike.end <= spike.start:
            raise ValueError("a spike needs factor >= 1, lag >= 0 and end after start")
        with self._lock:
            self._spikes = (*self._spikes, spike)
        return spike

    def clear_spikes(self) -> None:
        with self._lock:
            self._spikes = ()

    def reset(self) -> None:
        self.clear_spikes()

    def describe(self) -> dict[str, object]:
        return {"insights_lag": {"min": self.lag_min, "full": self.lag_full},
                "spikes": [s.as_dict() for s in self.spikes]}


# -- HTTP handlers --------------------------------------------------------------------------

_ROUTE_SORT = (
    "last_rate_limited_timestamp",
    "last_request_timestamp",
    "rate_limited_request_count",
    "http_method",
    "api_route",
    "total_request_count",
)
_SUBJECT_SORT = (
    "last_rate_limited_timestamp",
    "last_request_timestamp",
    "rate_limited_request_count",
    "subject_name",
    "total_request_count",
)
# The description's enum for user-stats names `subject_name`; it sorts by the actor's name.
_USER_SORT = {**{k: k for k in _SUBJECT_SORT}, "subject_name": "actor_name"}


def _traffic(call: Call) -> OrgTraffic:
    traffic = call.sim.family_state(Insights).traffic(call.path_params["org"])
    if traffic is None:
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    return traffic


def _window(call: Call) -> tuple[float, float]:
    def stamp(name: str) -> float | None:
        text = call.query.get(name)
        if text is None:
            return None
        try:
            return parse_iso(text)
        except ValueError as exc:
            raise call.invalid(f"Invalid value for {name}: {exc}.") from None

    lo = stamp("min_timestamp")
    if lo is None:
        raise call.invalid("min_timestamp is required.")
    hi = stamp("max_timestamp")
    hi = call.now if hi is None else hi
    if hi < lo:
        raise call.invalid("max_timestamp must not be before min_timestamp.")
    return lo, hi


def _actor_cells(call: Call, traffic: OrgTraffic) -> range | None:
    actor_type = call.path_params["actor_type"]
    if actor_type not in ACTOR_TYPES:
        raise call.invalid(f"Invalid value for actor_type: {actor_type!r} is not one of {', '.join(ACTOR_TYPES)}.")
    try:
        actor_id = int(call.path_params["actor_id"])
    except ValueError:
        raise call.invalid(f"Invalid value for actor_id: {call.path_params['actor_id']!r} is not an integer.") from None
    return traffic.actor_range(actor_type, actor_id)


def _user_cells(call: Call, traffic: OrgTraffic) -> range | None:
    user_id = call.path_params["user_id"]
    return traffic.user_range(int(user_id)) if user_id.isdigit() else None


def _time_stats(call: Call, cells_of: CellsOf) -> list[dict[str, object]]:
    traffic = _traffic(call)
    cells = cells_of(call, traffic)
    increment_name = call.query.get("timestamp_increment")
    if increment_name is None:
        raise call.invalid("timestamp_increment is required.")
    increment = INCREMENTS.get(increment_name)
    if increment is None:
        raise call.invalid(
            f"Invalid value for timestamp_increment: {increment_name!r}; use one of {', '.join(INCREMENTS)}."
        )
    lo, hi = _window(call)
    grouped: dict[int, list[int]] = {}
    for start, total, limited in traffic.series(cells, lo, hi, call.now):
        acc = grouped.setdefault(start - start % increment, [0, 0])
        acc[0] += total
        acc[1] += limited
    return [
        {"timestamp": iso(t), "total_request_count": c[0], "rate_limited_request_count": c[1]}
        for t, c in grouped.items()
    ]


def _summary(call: Call, cells_of: CellsOf) -> dict[str, int]:
    traffic = _traffic(call)
    cells = cells_of(call, traffic)
    lo, hi = _window(call)
    totals = traffic.aggregate([cells], lo, hi, call.now)[0] if cells else Totals()
    return {"total_request_count": totals.total, "rate_limited_request_count": totals.limited}


def _counts(t: Totals) -> dict[str, object]:
    return {
        "total_request_count": t.total,
        "rate_limited_request_count": t.limited,
        "last_request_timestamp": iso(t.last_request) if t.last_request is not None else None,
        "last_rate_limited_timestamp": iso(t.last_limited) if t.last_limited is not None else None,
    }


def _listing(
    call: Call,
    rows: list[dict[str, object]],
    sort_fields: dict[str, str],
    filter_param: str,
    filter_field: str,
    tie: Sequence[str],
) -> list[dict[str, object]]:
    """Filter by substring (case-insensitive), then sort as GitHub documents: `sort` keys, one direction."""
    needle = call.query.get(filter_param)
    if needle:
        rows = [r for r in rows if needle.lower() in str(r[filter_field]).lower()]
    keys = call.query_list("sort") or ["total_request_count"]
    for key in keys:
        if key not in sort_fields:
            raise call.invalid(f"Invalid value for sort: {key!r}; use one of {', '.join(sort_fields)}.")
    direction = call.query.get("direction", "desc")
    if direction not in ("asc", "desc"):
        raise call.invalid(f"Invalid value for direction: {direction!r}; use asc or desc.")
    rows.sort(key=lambda r: tuple(_sortable(r[f]) for f in tie))
    rows.sort(key=lambda r: tuple(_sortable(r[sort_fields[k]]) for k in keys), reverse=direction == "desc")
    return rows


def _sortable(value: object) -> tuple[int, object]:
    if value is None:
        return (0, "")
    return (1, value.lower() if isinstance(value, str) else value)


def _all_cells(call: Call, traffic: OrgTraffic) -> range | None:
    return traffic.all_cells


def subject_stats(call: Call) -> list[dict[str, object]]:
    traffic = _traffic(call)
    lo, hi = _window(call)
    aggregates = traffic.aggregate(traffic.subject_ranges, lo, hi, call.now)
    rows = [
        {"subject_type": s.type, "subject_name": s.name, "subject_id": s.id, **_counts(t)}
        for s, t in zip(traffic.org.subjects, aggregates, strict=False)
        if t.total
    ]
    return _listing(
        call,
        rows,
        {k: k for k in _SUBJECT_SORT},
        "subject_name_substring",
        "subject_name",
        ("subject_name", "subject_id"),
    )


def user_stats(call: Call) -> list[dict[str, object]]:
    traffic = _traffic(call)
    lo, hi = _window(call)
    user_id = call.path_params["user_id"]
    pairs = [
        (a, c)
        for a, c in zip(traffic.actors, traffic.actor_ranges, strict=False)
        if a.subject_type == "user" and str(a.subject_id) == user_id
    ]
    aggregates = traffic.aggregate([c for _, c in pairs], lo, hi, call.now)
    rows = [
        {
            "actor_type": a.type,
            "actor_name": a.name,
            "actor_id": a.id,
            "integration_id": a.integration_id,
            "oauth_application_id": a.oauth_application_id,
            **_counts(t),
        }
        for (a, _), t in zip(pairs, aggregates, strict=False)
        if t.total
    ]
    return _listing(call, rows, _USER_SORT, "actor_name_substring", "actor_name", ("actor_name", "actor_id"))


def route_stats(call: Call) -> list[dict[str, object]]:
    traffic = _traffic(call)
    cells = _actor_cells(call, traffic)
    lo, hi = _window(call)
    if cells is None:
        return []
    aggregates = traffic.aggregate([range(c, c + 1) for c in cells], lo, hi, call.now)
    routes = traffic.org.routes
    rows = [
        {
            "http_method": routes[traffic.cells[c][1]].method,
            "api_route": routes[traffic.cells[c][1]].template,
            **_counts(t),
        }
        for c, t in zip(cells, aggregates, strict=False)
        if t.total
    ]
    return _listing(
        call, rows, {k: k for k in _ROUTE_SORT}, "api_route_substring", "api_route", ("api_route", "http_method")
    )


_BASE = "/orgs/{org}/insights/api"
# time-stats and summary-stats answer for three scopes, the same figures over other cells: (path, docs anchor, cells).
# The `users/{user_id}` routes come before `{actor_type}/{actor_id}`, which would match them too.
_SCOPES: tuple[tuple[str, str, CellsOf], ...] = (
    ("", "", _all_cells),
    ("/users/{user_id}", "-by-user", _user_cells),
    ("/{actor_type}/{actor_id}", "-by-actor", _actor_cells),
)


def _scoped(name: str, read: Callable[[Call, CellsOf], object]) -> list[SimRoute]:
    """`name` for the organisation, for one user and for one actor."""

    def handler(cells_of: CellsOf) -> Callable[[Call], object]:
        return lambda call: read(call, cells_of)

    return [
        SimRoute("GET", f"{_BASE}/{name}{path}", handler(cells_of), docs=f"{DOCS}#get-{name}{anchor}")
        for path, anchor, cells_of in _SCOPES
    ]


ROUTES = [
    SimRoute(
        "GET",
        f"{_BASE}/route-stats/{{actor_type}}/{{actor_id}}",
        route_stats,
        paginated=True,
        docs=f"{DOCS}#get-route-stats-by-actor",
    ),
    SimRoute("GET", f"{_BASE}/subject-stats", subject_stats, paginated=True, docs=f"{DOCS}#get-subject-stats"),
    *_scoped("summary-stats", _summary),
    *_scoped("time-stats", _time_stats),
    SimRoute("GET", f"{_BASE}/user-stats/{{user_id}}", user_stats, paginated=True, docs=f"{DOCS}#get-user-stats"),
]
