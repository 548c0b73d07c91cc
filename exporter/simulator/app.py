"""The simulator's HTTP machinery: one pipeline wrapped around every simulated GitHub endpoint.

Adding an endpoint family (Enterprise Server statistics, repository traffic,
billing exports, Copilot, ...): write `exporter/simulator/<family>.py` with
handlers that take a `routing.Call` and return a JSON-able body (or a
`routing.Reply`, or raise `routing.GitHubError`), and a module-level
`ROUTES: list[SimRoute]` naming method, GitHub path template (`{param}`
syntax, as in the OpenAPI description), auth mode and whether the result is a
paginated list. Then add the module to `FAMILIES` below (and any files it
serves behind signed download links to `DOWNLOADS`). The family gets
authentication, primary and secondary rate limits, page/per_page slicing with
Link headers, ETag/304, request counting and fault injection for free; it
reads the world from `call.sim.world` and the time from `call.now`, never
from the wall clock. State a family needs across requests belongs on
`Simulator`, created lazily, as `Simulator.insights` is.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import threading
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, urlencode

import jwt
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from exporter.simulator import billing as billing_family
from exporter.simulator import billing_usage as billing_usage_family
from exporter.simulator import copilot as copilot_family
from exporter.simulator import copilot_seats as copilot_seats_family
from exporter.simulator import ghes_stats as ghes_stats_family
from exporter.simulator import insights as insights_family
from exporter.simulator import installations as installations_family
from exporter.simulator import repo_traffic as repo_traffic_family
from exporter.simulator import server_statistics as server_statistics_family
from exporter.simulator import users as users_family
from exporter.simulator import versions
from exporter.simulator.billing import Billing
from exporter.simulator.clock import ControllableClock, is_controllable
from exporter.simulator.config import SimulatorConfig
from exporter.simulator.insights import Insights, Spike
from exporter.simulator.routing import (
    REST_DOCS,
    Call,
    Fault,
    GitHubError,
    Principal,
    Reply,
    SimRoute,
    iso,
    parse_iso,
)
from exporter.simulator.world import World, stable_hash

FAMILIES: tuple[Sequence[SimRoute], ...] = (
    installations_family.ROUTES, insights_family.ROUTES, users_family.ROUTES,
    server_statistics_family.ROUTES, repo_traffic_family.ROUTES, billing_family.ROUTES, copilot_family.ROUTES,
    billing_usage_family.ROUTES, ghes_stats_family.ROUTES,
    copilot_seats_family.ROUTES,
)
# Files behind signed download links, served outside the GitHub pipeline (no auth, no rate limit, not JSON):
# (path template, handler(sim, request) -> Response).
DOWNLOADS: tuple[Sequence[tuple[str, Callable[[Simulator, Request], Response]]], ...] = (copilot_family.DOWNLOADS,)

S = TypeVar("S")

RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_DOCS = f"{RATE_LIMIT_DOCS}#about-secondary-rate-limits"
ANONYMOUS_BUDGET = 60
UNMATCHED = "(unmatched)"

log = logging.getLogger(__name__)


@dataclass
class SecondaryLimit:
    """Secondary rate limiting: every request is refused for `requests` requests and/or until `until`."""

    status: int = 403
    retry_after: int = 60
    requests: int | None = None
    until: float | None = None


@dataclass
class _Window:
    limit: int
    used: int
    reset: float
    generation: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass
class _Override:
    generation: int
    remaining: int | None
    reset_at: float | None


@dataclass
class _IssuedToken:
    installation_id: int
    expires_at: float


class _DropConnection(Exception):
    """Raised on purpose after a partial response so the server closes the socket."""


class _DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _DropConnection)


_DROP_FILTER = _DropFilter()


class _DroppingResponse(Response):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"total_request_count": ', "more_body": True})
        raise _DropConnection("simulated connection drop")


class Simulator:
    """A stand-in for GitHub: the world, a clock, rate-limit budgets, fault switches and counters.

    Every run-time switch has a Python method here and a JSON twin under
    `/_sim/` (see `create_app`). Methods are thread-safe, so tests can flip
    switches while a `RunningSimulator` serves from another thread.
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        clock: Callable[[], float] | None = None,
        families: Sequence[Sequence[SimRoute]] = FAMILIES,
    ) -> None:
        self.config = config or SimulatorConfig()
        self.clock: Callable[[], float] = clock or time.time
        self.world = World.from_config(self.config)
        self.routes: tuple[SimRoute, ...] = tuple(r for family in families for r in family)
        self._insights: Insights | None = None
        self._billing: Billing | None = None
        # The origin of signed download links (billing exports): a second loopback port, set by the server.
        self.downloads_url = ""
        self._lock = threading.RLock()
        self._limit = self.config.rate_limit_budget
        self._windows: dict[str, _Window] = {}
        self._override: _Override | None = None
        self._issued: dict[str, _IssuedToken] = {}
        self._serial = 0
        self._last_modified: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self.reset()

    # -- time ------------------------------------------------------------------------------

    def now(self) -> float:
        return float(self.clock())

    @property
    def clock_controllable(self) -> bool:
        return is_controllable(self.clock)

    def set_clock(self, epoch_seconds: float) -> float:
        return self._manual_clock().set(epoch_seconds)

    def advance_clock(self, seconds: float) -> float:
        return self._manual_clock().advance(seconds)

    def _manual_clock(self) -> ControllableClock:
        if not is_controllable(self.clock):
            raise RuntimeError("this simulator's clock is not controllable; build it with clock=ManualClock()")
        return self.clock

    # -- families' state ---------------------------------------------------------------------

    def family_state(self, kind: type[S]) -> S:
        """The one instance of a family's state class (Insights, Billing), made on first use."""
        getters: dict[type, Callable[[], object]] = {Insights: lambda: self.insights, Billing: lambda: self.billing}
        return cast(S, getters[kind]())

    @property
    def insights(self) -> Insights:
        if self._insights is None:
            with self._lock:
                if self._insights is None:
                    c = self.config
                    self._insights = Insights(self.world, c.insights_lag_min, c.insights_lag_full,
                                              c.insights_retention, c.insights_cache_buckets)
        return self._insights

    @property
    def billing(self) -> Billing:
        if self._billing is None:
            with self._lock:
                if self._billing is None:
                    self._billing = Billing(self.world, self.config, lambda: self.downloads_url)
        return self._billing

    def add_spike(self, org: str, start: float, end: float, factor: float = 10.0, lag: float = 0.0,
                  actor_id: int | None = None) -> Spike:
        """Multiply traffic by `factor` in [start, end); the extra is all rate limited.

        Each spiked bucket shows `lag` seconds after it ends, whatever the
        normal data lag, so tests can see a spike at once.
        """
        return self.insights.add_spike(Spike(org, float(start), float(end), float(factor), float(lag), actor_id))

    def clear_spikes(self) -> None:
        self.insights.clear_spikes()

    # -- switches --------------------------------------------------------------------------

    def reset(self) -> None:
        """Clear faults, limits, spikes, issued tokens and counters; keep the world and the clock."""
        with self._lock:
            self._faults: list[Fault] = []
            self._secondary: SecondaryLimit | None = None
            self._limit = self.config.rate_limit_budget
            self._windows.clear()
            self._override = None
            self._issued.clear()
            self._last_modified.clear()
            if self._insights is not None:
                self._insights.clear_spikes()
            if self._billing is not None:
                self._billing.reset()
            self.reset_counters()

    def add_fault(self, kind: str, *, count: int | None = 1, status: int = 502, seconds: float = 0.0,
                  route: str | None = None, size: int = 0, url: str = "") -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use {', '.join(FAULT_KINDS)}")
        if kind in ("status", "html") and not 400 <= status <= 599:
            raise ValueError("a status fault needs an error status (4xx or 5xx)")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1 (or None for until cleared)")
        if kind == "foreign_link" and not url.startswith(("http://", "https://")):
            raise ValueError("a foreign_link fault needs an absolute url")
        fault = Fault(kind, count, int(status), float(seconds), route, max(0, int(size)), url)
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail_next(self, count: int = 1, status: int = 502, route: str | None = None) -> Fault:
        """Answer the next `count` matching requests with `status`."""
        return self.add_fault("status", count=count, status=status, route=route)

    def set_delay(self, seconds: float, route: str | None = None, count: int | None = None) -> Fault:
        return self.add_fault("delay", count=count, seconds=seconds, route=route)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return [Fault(**asdict(f)) for f in self._faults]

    def set_secondary_limit(self, *, requests: int | None = None, duration: float | None = None,
                            status: int = 403, retry_after: int = 60) -> SecondaryLimit:
        """Refuse requests as GitHub's secondary limit does, for `requests` requests and/or `duration` seconds."""
        if status not in (403, 429):
            raise ValueError("a secondary limit answers 403 or 429")
        until = self.now() + duration if duration is not None else None
        limit = SecondaryLimit(status, int(retry_after), requests, until)
        with self._lock:
            self._secondary = limit
        return limit

    def clear_secondary_limit(self) -> None:
        with self._lock:
            self._secondary = None

    def set_rate_limit(self, *, limit: int | None = None, remaining: int | None = None,
                       token: str | None = None, reset_in: float | None = None,
                       installation: int | None = None) -> None:
        """Change the primary budget.

        With `token` (or `installation`: every token issued to that GitHub App
        installation, which share one window as on GitHub), only that window
        changes. Without, `limit` becomes every window's size and
        `remaining`/`reset_in` apply to every current window and to the first
        window of tokens not seen yet.
        """
        now = self.now()
        reset_at = now + reset_in if reset_in is not None else None
        with self._lock:
            if token is not None or installation is not None:
                window = self._window(self._credential_key(token, installation), now)
                self._apply(window, limit, remaining, reset_at)
                return
            if limit is not None:
                self._limit = int(limit)
                for window in self._windows.values():
                    window.limit = int(limit)
            generation = (self._override.generation if self._override else 0) + 1
            self._override = _Override(generation, remaining, reset_at)

    @staticmethod
    def _apply(window: _Window, limit: int | None, remaining: int | None, reset_at: float | None) -> None:
        if limit is not None:
            window.limit = int(limit)
        if remaining is not None:
            window.used = window.limit - max(0, min(int(remaining), window.limit))
        if reset_at is not None:
            window.reset = reset_at

    def rate_limit(self, token: str | None = None, *, installation: int | None = None) -> dict[str, int]:
        """The primary-limit figures a request with `token` (or a token of `installation`) would see now."""
        with self._lock:
            w = self._window(self._credential_key(token, installation), self.now())
            return {"limit": w.limit, "remaining": w.remaining, "used": w.used, "reset": math.ceil(w.reset)}

    # -- tokens ----------------------------------------------------------------------------

    def issue_installation_token(self, installation_id: int) -> tuple[str, float]:
        """A new `ghs_` token for the installation and when it expires (epoch seconds)."""
        with self._lock:
            self._serial += 1
            digest = hashlib.sha256(f"{self.world.seed}:{installation_id}:{self._serial}".encode()).hexdigest()
            token = "ghs_" + digest[:36]
            expires_at = self.now() + self.config.installation_token_lifetime
            self._issued[token] = _IssuedToken(installation_id, expires_at)
            return token, expires_at

    def _credential_key(self, token: str | None, installation: int | None) -> str:
        if installation is not None:
            return f"installation:{installation}"
        if token is None:
            raise ValueError("a token or an installation is needed")
        return self._token_key(token)

    def _token_key(self, token: str) -> str:
        issued = self._issued.get(token)
        if issued is not None:
            return f"installation:{issued.installation_id}"
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]

    # -- counters --------------------------------------------------------------------------

    def reset_counters(self) -> None:
        with self._lock:
            self._counts: Counter[str] = Counter()
            self._method_counts: Counter[str] = Counter()
            self._statuses: Counter[str] = Counter()
            self._route_statuses: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self._headers_seen: dict[str, dict[str, str | None]] = {}

    def request_counts(self) -> dict[str, Any]:
        """Requests per route template and per status, and the headers last seen on each route."""
        with self._lock:
            return {
                "total": sum(self._counts.values()),
                "routes": dict(self._counts),
                "methods": dict(self._method_counts),
                "statuses": dict(self._statuses),
                "route_statuses": {k: dict(v) for k, v in self._route_statuses.items()},
                "headers": {k: dict(v) for k, v in self._headers_seen.items()},
            }

    def count(self, template: str, method: str | None = None) -> int:
        """Requests to a route template, of one method (GET, POST, ...) when given."""
        with self._lock:
            return self._method_counts[f"{method.upper()} {template}"] if method else self._counts[template]

    def last_headers(self, template: str) -> dict[str, str | None]:
        """The last `X-GitHub-Api-Version`, `Accept` and `User-Agent` sent to a route (all None if never called)."""
        with self._lock:
            return dict(self._headers_seen.get(template) or dict.fromkeys(
                ("x-github-api-version", "accept", "user-agent")))

    def state(self) -> dict[str, Any]:
        now = self.now()
        with self._lock:
            secondary = self._secondary_active(now)
            return {
                "now": now,
                "now_iso": iso(now),
                "clock_controllable": self.clock_controllable,
                "orgs": [o.login for o in self.world.orgs.values()],
                "enterprise": self.world.enterprise,
                "insights_lag": {"min": self.insights.lag_min, "full": self.insights.lag_full},
                "faults": [asdict(f) for f in self._faults],
                "secondary_limit": asdict(secondary) if secondary else None,
                "rate_limit": {
                    "limit": self._limit,
                    "windows": {k: {"limit": w.limit, "remaining": w.remaining, "used": w.used,
                                    "reset": math.ceil(w.reset)} for k, w in self._windows.items()},
                },
                "spikes": [s.as_dict() for s in self.insights.spikes],
                "installation_tokens": len(self._issued),
                "requests": sum(self._counts.values()),
            }

    # -- the pipeline ----------------------------------------------------------------------

    def take_fault(self, kind: str, template: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind == kind and fault.matches(template):
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _secondary_active(self, now: float) -> SecondaryLimit | None:
        s = self._secondary
        if s is None:
            return None
        if (s.until is not None and now >= s.until) or (s.requests is not None and s.requests <= 0):
            self._secondary = None
            return None
        return s

    def _take_secondary(self, now: float) -> SecondaryLimit | None:
        with self._lock:
            s = self._secondary_active(now)
            if s is not None and s.requests is not None:
                s.requests -= 1
            return s

    def _window(self, key: str, now: float, budget: int | None = None) -> _Window:
        window = self._windows.get(key)
        generation = self._override.generation if self._override else 0
        if window is None:
            # A token seen for the first time picks up a pending all-tokens override.
            window = _Window(budget if budget is not None else self._limit, 0,
                             now + self.config.rate_limit_window, 0)
            self._windows[key] = window
        elif now >= window.reset:
            window.used, window.reset, window.generation = 0, now + self.config.rate_limit_window, generation
        if self._override is not None and window.generation < generation:
            self._apply(window, None, self._override.remaining, self._override.reset_at)
            window.generation = generation
        return window

    def _authenticate(self, request: Request, route: SimRoute, now: float) -> Principal:
        anonymous = Principal("anonymous", f"anonymous:{request.client.host if request.client else '?'}",
                              "your IP address")
        header = request.headers.get("authorization", "")
        if not header:
            if route.auth == "optional":
                return anonymous
            raise GitHubError(401, "Requires authentication")
        scheme, _, credential = header.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() not in ("bearer", "token") or not credential:
            raise GitHubError(401, "Bad credentials")
        if route.auth == "jwt":
            return self._verify_jwt(credential, now)
        if credential.startswith("eyJ") and credential.count(".") == 2:
            raise GitHubError(401, "Bad credentials")  # a JWT only opens the /app endpoints
        issued = self._issued.get(credential)
        if issued is not None:
            if issued.expires_at <= now:
                raise GitHubError(401, "Bad credentials")
            return Principal("installation", f"installation:{issued.installation_id}",
                             f"installation ID {issued.installation_id}", issued.installation_id)
        if self.config.tokens and credential not in self.config.tokens:
            raise GitHubError(401, "Bad credentials")
        user_id = 1_000 + stable_hash("token-user", credential) % 9_000_000
        return Principal("token", self._token_key(credential), f"user ID {user_id}")

    def _verify_jwt(self, token: str, now: float) -> Principal:
        key = self.config.app_public_key_pem
        try:
            if key:
                claims = jwt.decode(token, key, algorithms=["RS256"],
                                    options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})
            else:
                claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise GitHubError(401, "A JSON web token could not be decoded") from None
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or exp <= now:
            raise GitHubError(401, "'Expiration time' claim ('exp') must be a numeric value representing "
                                   "the future time at which the assertion expires")
        if exp > now + 660:
            raise GitHubError(401, "'Expiration time' claim ('exp') is too far in the future")
        if iat is not None and (not isinstance(iat, int | float) or iat > now + 60):
            raise GitHubError(401, "'Issued at' claim ('iat') must be an Integer representing the time "
                                   "that the assertion was issued")
        iss, app_id = claims.get("iss"), self.config.app_id
        accepted = {str(app_id), installations_family.client_id(self.world.seed, app_id)} if app_id else None
        if iss is None or (accepted is not None and str(iss) not in accepted):
            raise GitHubError(401, "'Issuer' claim ('iss') must be an Integer")
        return Principal("app", f"app:{iss}", f"app ID {iss}")

    def _record_headers(self, template: str, request: Request) -> None:
        h = request.headers
        with self._lock:
            self._counts[template] += 1
            self._method_counts[f"{request.method} {template}"] += 1
            self._headers_seen[template] = {
                "x-github-api-version": h.get("x-github-api-version"),
                "accept": h.get("accept"),
                "user-agent": h.get("user-agent"),
                "if-none-match": h.get("if-none-match"),
                "authorization": "present" if h.get("authorization") else None,  # never the credential itself
            }

    def _record_status(self, template: str, status: int | str) -> None:
        with self._lock:
            self._statuses[str(status)] += 1
            self._route_statuses[template][str(status)] += 1

    def _last_modified_for(self, url: str, etag: str, now: float) -> str:
        with self._lock:
            seen = self._last_modified.get(url)
            if seen is None or seen[0] != etag:
                seen = (etag, formatdate(now, usegmt=True))
                self._last_modified[url] = seen
                while len(self._last_modified) > 4096:
                    self._last_modified.popitem(last=False)
            self._last_modified.move_to_end(url)
            return seen[1]

    async def handle(self, request: Request, route: SimRoute, template: str) -> Response:
        """Run one GitHub request through auth, limits, faults, the handler, paging and caching."""
        self._record_headers(template, request)
        with self._lock:
            self._serial += 1
            request_id = f"{0xC0DE:04X}:{self._serial:06X}:{stable_hash('rid', self._serial) % 16**6:06X}"
        base_headers = {"x-github-request-id": request_id}
        try:
            base_headers["x-github-api-version-selected"] = versions.selected(request.headers)
        except GitHubError as exc:
            return self._error(template, exc, route, base_headers)
        delay = self.take_fault("delay", template)
        if delay is not None and delay.seconds > 0:
            await asyncio.sleep(delay.seconds)
        now = self.now()

        try:
            principal = self._authenticate(request, route, now)
        except GitHubError as exc:
            with self._lock:
                anon = self._window(f"anonymous:{request.client.host if request.client else '?'}", now,
                                    ANONYMOUS_BUDGET)
            return self._error(template, exc, route, {**base_headers, **self._limit_headers(anon, route)})

        with self._lock:
            budget = ANONYMOUS_BUDGET if principal.kind == "anonymous" else None
            window = self._window(principal.key, now, budget)
            limit_headers = self._limit_headers(window, route)
        headers = {**base_headers, **limit_headers}

        secondary = self._take_secondary(now)
        if secondary is not None:
            message = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                       f"If you reach out to GitHub Support for help, please include the request ID {request_id}.")
            return self._error(template, GitHubError(secondary.status, message, documentation_url=SECONDARY_DOCS),
                               route, {**headers, "retry-after": str(secondary.retry_after)})
        if window.remaining <= 0:
            message = (f"API rate limit exceeded for {principal.who}. If you reach out to GitHub Support for help, "
                       f"please include the request ID {request_id}.")
            return self._error(template, GitHubError(403, message, documentation_url=RATE_LIMIT_DOCS), route, headers)

        failure = self.take_fault("status", template)
        if failure is not None:
            return self._error(template, GitHubError(failure.status, _phrase(failure.status)), route, headers)
        html = self.take_fault("html", template)
        if html is not None:
            self._record_status(template, html.status)
            return Response(_HTML_ERROR_PAGE, status_code=html.status, headers=headers, media_type="text/html")
        if self.take_fault("drop", template) is not None:
            self._record_status(template, "dropped")
            return _DroppingResponse()

        try:
            body = await self._request_body(request)
            call = Call(self, route, dict(request.path_params), request.query_params, now, principal, body,
                        str(request.base_url).rstrip("/"))
            result = await run_in_threadpool(route.handler, call)
        except GitHubError as exc:
            return self._error(template, exc, route, self._consume(window, route, headers))
        except Exception:
            log.exception("simulated endpoint %s %s failed", route.method, template)
            return self._error(template, GitHubError(500, "Server Error"), route, headers)
        reply = result if isinstance(result, Reply) else Reply(result)
        reply_headers = dict(reply.headers)
        content = versions.shaped(template, base_headers["x-github-api-version-selected"], reply.body)
        key = route.items_key
        if route.paginated and reply.status == 200 and (isinstance(content, list) or key and isinstance(content, dict)):
            try:
                items = content[key] if key and isinstance(content, dict) else content
                page, link = _paginate(request, cast(list[Any], items))
            except GitHubError as exc:
                return self._error(template, exc, route, self._consume(window, route, headers))
            content = {**content, key: page} if key and isinstance(content, dict) else page
            if link:
                reply_headers["link"] = link
        if reply.status == 200:
            reply_headers.update(self._hostile_link(request, template))
        if reply.status == 204:  # "A header with no content": no body, no ETag
            self._record_status(template, 204)
            return Response(status_code=204, headers={**self._consume(window, route, headers), **reply_headers})
        if self.take_fault("bad_row", template) is not None:
            content = _spoil_first_row(content)
        raw = json.dumps(content, separators=(",", ":")).encode()
        # Faults come before the ETag check: a revalidating client must meet them too.
        malformed = self.take_fault("malformed", template) is not None
        oversized = self.take_fault("oversized", template)

        if request.method == "GET" and reply.status == 200 and not malformed and oversized is None:
            etag = '"' + hashlib.sha256(raw).hexdigest()[:40] + '"'
            reply_headers["etag"] = etag
            reply_headers["last-modified"] = self._last_modified_for(str(request.url), etag, now)
            reply_headers["cache-control"] = "private, max-age=60, s-maxage=60"
            reply_headers["vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
            if _etag_matches(request.headers.get("if-none-match"), etag):
                self._record_status(template, 304)
                # A 304 does not count against the primary rate limit.
                return Response(status_code=304, headers={**headers, **reply_headers})

        headers = {**self._consume(window, route, headers), **reply_headers}
        if malformed:
            raw = raw[: max(1, len(raw) // 2)]
        if oversized is not None:
            raw += b" " * oversized.size
        self._record_status(template, reply.status)
        return Response(raw, status_code=reply.status, headers=headers,
                        media_type="application/json; charset=utf-8")

    def _hostile_link(self, request: Request, template: str) -> dict[str, str]:
        """A next-page link from a loop or foreign_link fault, replacing the honest one."""
        loop = self.take_fault("loop", template)
        if loop is not None:
            return {"link": f'<{request.url}>; rel="next"'}
        foreign = self.take_fault("foreign_link", template)
        if foreign is not None:
            return {"link": f'<{foreign.url}>; rel="next"'}
        return {}

    def _consume(self, window: _Window, route: SimRoute, headers: dict[str, str]) -> dict[str, str]:
        with self._lock:
            window.used += 1
            return {**headers, **self._limit_headers(window, route)}

    @staticmethod
    def _limit_headers(window: _Window, route: SimRoute) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(window.limit),
            "x-ratelimit-remaining": str(window.remaining),
            "x-ratelimit-used": str(window.used),
            "x-ratelimit-reset": str(math.ceil(window.reset)),
            "x-ratelimit-resource": route.resource,
        }

    def _error(self, template: str, exc: GitHubError, route: SimRoute, headers: dict[str, str]) -> Response:
        self._record_status(template, exc.status)
        body = exc.body(route.docs if exc.status == 422 or exc.status == 404 else REST_DOCS)
        return JSONResponse(body, status_code=exc.status, headers={**headers, **exc.headers},
                            media_type="application/json; charset=utf-8")

    @staticmethod
    async def _request_body(request: Request) -> Any:
        if request.method in ("GET", "HEAD", "DELETE"):
            return None
        raw = await request.body()
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise GitHubError(400, "Problems parsing JSON") from None


FAULT_KINDS = ("status", "delay", "malformed", "drop", "html", "oversized", "loop", "foreign_link", "bad_row")
_HTML_ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Unicorn! &middot; GitHub</title></head>"
    b"<body><h1>This page is taking too long to load.</h1><p>Sorry about that.</p></body></html>\n"
)


def _spoil_first_row(content: Any) -> Any:
    """The answer with its first row's timestamps not ISO 8601 and its full_name no owner/name (a bad_row fault).

    The description types those fields as plain strings, so a GitHub bug could send this and still match it.
    """
    rows = content if isinstance(content, list) else next(
        (v for v in content.values() if isinstance(v, list)), None) if isinstance(content, dict) else None
    if not rows or not isinstance(rows[0], dict):
        return content
    rows[0] = {k: ("last tuesday" if k.endswith(("timestamp", "_date")) else "repository" if k == "full_name" else v)
               for k, v in rows[0].items()}
    return content


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Server Error"


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = [c.strip() for c in header.split(",")]
    return "*" in candidates or any(c.removeprefix("W/") == etag for c in candidates)


def _paginate(request: Request, items: list[Any]) -> tuple[list[Any], str | None]:
    """One page of `items` and the Link header GitHub would send with it."""
    query = request.query_params

    def number(name: str, default: int) -> int:
        text = query.get(name)
        if text is None or text == "":
            return default
        try:
            return int(text)
        except ValueError:
            raise GitHubError(422, f"Invalid request.\n\nInvalid value for {name}: {text!r} is not an integer.") \
                from None

    per_page = min(max(number("per_page", 30), 1), 100)
    page = max(number("page", 1), 1)
    last = max(1, math.ceil(len(items) / per_page))
    chunk = items[(page - 1) * per_page: page * per_page]
    if last == 1 and page == 1:
        return chunk, None
    pairs = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k != "page"]
    base = str(request.url.replace(query=""))

    def url(p: int) -> str:
        return f"<{base}?{urlencode([*pairs, ('page', str(p))], safe=':,')}>"

    links = []
    if page > 1:
        links.append(f'{url(min(page - 1, last))}; rel="prev"')
    if page < last:
        links += [f'{url(page + 1)}; rel="next"', f'{url(last)}; rel="last"']
    if page > 1:
        links.append(f'{url(1)}; rel="first"')
    return chunk, ", ".join(links)


# -- control API ------------------------------------------------------------------------------

def _control_routes(sim: Simulator) -> list[Route]:
    """The control API: no auth, JSON in and out, never counted as GitHub requests.

    GET  /_sim/requests         counts per route template and status, last headers per route
    GET  /_sim/state            clock, switches, budgets, spikes
    POST /_sim/reset-counters   {}
    POST /_sim/reset            {}  (every switch, budget, spike, token and counter)
    POST /_sim/faults           {"kind": "status"|"delay"|"malformed"|"drop"|"html"|"oversized"|"loop"|
                                 "foreign_link"|"bad_row", "count": 1|null, "status": 502, "seconds": 0.5,
                                 "size": bytes, "url": "https://elsewhere/", "route": "/orgs/{org}/insights/api/*"}
                                or {"faults": [...]}, or {"clear": true} (with "faults" to replace)
    POST /_sim/secondary-limit  {"status": 403|429, "retry_after": 60, "requests": K, "duration": s}
                                (neither requests nor duration: until cleared) or {"enabled": false}
    POST /_sim/rate-limit       {"limit": 5000, "remaining": 10, "reset_in": s, "token": "..." | "installation": id}
    POST /_sim/spike            {"org": "octo-demo", "start": ISO|epoch, "end": ISO|epoch, "factor": 10,
                                 "lag": 0, "actor_id": null} or {"clear": true}
    POST /_sim/clock            {"set": ISO|epoch} and/or {"advance": s}; 409 unless the clock is controllable
    POST /_sim/billing          {"fail_next": 1, "delay": 90} (billing exports: next N fail; processing time)
    Bad input answers 400 with {"message": ...}.
    """
    async def body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            return {}
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    def control(fn: Callable[[dict[str, Any]], Any]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                result = fn(await body(request))
            except (ValueError, TypeError, RuntimeError) as exc:
                status = 409 if isinstance(exc, RuntimeError) else 400
                return JSONResponse({"message": str(exc)}, status_code=status)
            return JSONResponse(result)
        return endpoint

    def when(value: Any, default: float) -> float:
        if value is None:
            return default
        if isinstance(value, int | float):
            return float(value)
        return parse_iso(str(value))

    def faults(data: dict[str, Any]) -> dict[str, Any]:
        if data.get("clear"):
            sim.clear_faults()
        for spec in data.get("faults", [data] if "kind" in data else []):
            spec = dict(spec)
            sim.add_fault(spec.pop("kind"), **spec)
        return {"faults": [asdict(f) for f in sim.faults]}

    def secondary(data: dict[str, Any]) -> dict[str, Any]:
        if data.get("enabled", True) is False or data.get("clear"):
            sim.clear_secondary_limit()
            return {"secondary_limit": None}
        limit = sim.set_secondary_limit(requests=data.get("requests"), duration=data.get("duration"),
                                        status=int(data.get("status", 403)),
                                        retry_after=int(data.get("retry_after", 60)))
        return {"secondary_limit": asdict(limit)}

    def rate_limit(data: dict[str, Any]) -> dict[str, Any]:
        sim.set_rate_limit(limit=data.get("limit", data.get("budget")), remaining=data.get("remaining"),
                           token=data.get("token"), reset_in=data.get("reset_in"),
                           installation=data.get("installation"))
        return {"rate_limit": sim.state()["rate_limit"]}

    def spike(data: dict[str, Any]) -> dict[str, Any]:
        if data.get("clear"):
            sim.clear_spikes()
        elif data:
            now = sim.now()
            sim.add_spike(data.get("org", sim.config.orgs[0]), when(data.get("start"), now - 1800),
                          when(data.get("end"), now + 1800), float(data.get("factor", 10.0)),
                          float(data.get("lag", 0.0)), data.get("actor_id"))
        return {"spikes": [s.as_dict() for s in sim.insights.spikes]}

    def clock(data: dict[str, Any]) -> dict[str, Any]:
        if not sim.clock_controllable:
            raise RuntimeError("this simulator's clock is not controllable")
        if "set" in data:
            sim.set_clock(when(data["set"], sim.now()))
        if "advance" in data:
            sim.advance_clock(float(data["advance"]))
        return {"now": sim.now(), "now_iso": iso(sim.now())}

    def reset_counters(_: dict[str, Any]) -> dict[str, Any]:
        sim.reset_counters()
        return sim.request_counts()

    def reset(_: dict[str, Any]) -> dict[str, Any]:
        sim.reset()
        return sim.state()

    return [
        Route("/_sim/requests", control(lambda _: sim.request_counts()), methods=["GET"]),
        Route("/_sim/state", control(lambda _: sim.state()), methods=["GET"]),
        Route("/_sim/reset-counters", control(reset_counters), methods=["POST"]),
        Route("/_sim/reset", control(reset), methods=["POST"]),
        Route("/_sim/faults", control(faults), methods=["POST"]),
        Route("/_sim/secondary-limit", control(secondary), methods=["POST"]),
        Route("/_sim/rate-limit", control(rate_limit), methods=["POST"]),
        Route("/_sim/spike", control(spike), methods=["POST"]),
        Route("/_sim/clock", control(clock), methods=["POST"]),
        Route("/_sim/billing", control(lambda data: billing_family.control(sim, data)), methods=["POST"]),
    ]


def create_app(sim: Simulator) -> Starlette:
    """The ASGI app: the control API under /_sim/, every family's routes, and GitHub's 404 for the rest."""
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if _DROP_FILTER not in uvicorn_errors.filters:
        uvicorn_errors.addFilter(_DROP_FILTER)

    def endpoint(route: SimRoute, template: str) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            return await sim.handle(request, route, template)
        return handle

    def not_found(call: Call) -> Any:
        raise GitHubError(404, "Not Found")

    def download(handler: Callable[[Simulator, Request], Response]) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            return await run_in_threadpool(handler, sim, request)
        return serve

    catch_all = SimRoute("GET", "/{path:path}", not_found, auth="optional")
    routes = _control_routes(sim)
    routes += [Route(path, download(handler), methods=["GET"]) for family in DOWNLOADS for path, handler in family]
    routes += [Route(r.template, endpoint(r, r.template), methods=[r.method]) for r in sim.routes]
    routes.append(Route("/{path:path}", endpoint(catch_all, UNMATCHED),
                        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]))
    app = Starlette(routes=routes, middleware=[Middleware(billing_family.DownloadsOrigin, sim=sim)])
    app.state.simulator = sim
    return app
