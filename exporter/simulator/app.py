"""The simulator's HTTP machinery: one pipeline wrapped around every simulated GitHub endpoint.

Adding an endpoint family (Enterprise Server statistics, repository traffic,
billing exports, Copilot, ...): write `exporter/simulator/<family>.py` with
handlers that take a `routing.Call` and return a JSON-able body (or a
`routing.Reply`, or raise `routing.GitHubError`), and a module-level
`ROUTES: list[SimRoute]` naming method, GitHub path template (`{param}`
syntax, as in the OpenAPI description), auth mode and whether the result is a
paginated list (and any files it serves behind signed download links as
`DOWNLOADS`): `FAMILIES` below finds the module, nothing here names it. The family gets
authentication, primary and secondary rate limits, page/per_page slicing with
Link headers, ETag/304, request counting and fault injection for free; it
reads the world from `call.sim.world` and the time from `call.now`, never
from the wall clock. State a family needs across requests is a class of its
own, marked `@routing.register_state` and reached with
`call.sim.family_state(Kind)`: made on first use, cleared by reset, shown
under /_sim/state, without an edit here.

The pipeline's parts live beside it, one concern each: `credentials`
(tokens, App JWTs), `ratelimits` (primary windows, secondary limit),
`faults` (armed misbehaviours), `counters` (what was asked), `paging`,
`caching` (ETag, Last-Modified) and `control` (the /_sim/ switches).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import pkgutil
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import Any, cast

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exporter.simulator import billing as billing_family
from exporter.simulator import versions
from exporter.simulator.billing import Billing
from exporter.simulator.caching import CACHE_HEADERS, LastModified, etag_matches, etag_of
from exporter.simulator.clock import ControllableClock, is_controllable
from exporter.simulator.config import SimulatorConfig
from exporter.simulator.control import control_routes
from exporter.simulator.counters import RequestCounters
from exporter.simulator.credentials import Credentials
from exporter.simulator.faults import (
    HTML_ERROR_PAGE,
    DroppingResponse,
    Faults,
    quiet_dropped_connections,
    spoil_first_row,
)
from exporter.simulator.field_drift import answer as drifted_answer
from exporter.simulator.insights import Insights, Spike
from exporter.simulator.paging import paginate
from exporter.simulator.ratelimits import (
    ANONYMOUS_BUDGET,
    RATE_LIMIT_DOCS,
    SECONDARY_DOCS,
    RateLimits,
    SecondaryLimit,
    Window,
)
from exporter.simulator.routing import (
    FS,
    REST_DOCS,
    STATE_KINDS,
    Call,
    FamilyState,
    Fault,
    GitHubError,
    Reply,
    SimRoute,
    iso,
)
from exporter.simulator.world import World, stable_hash

# The modules that assemble the families (the only ones the import contract lets import this one); every other
# module of the package is a family when it has `ROUTES`, and serves signed downloads when it has `DOWNLOADS`.
ASSEMBLERS = frozenset({"app", "server", "__main__"})
FAMILY_MODULES = tuple(
    importlib.import_module(f"exporter.simulator.{m.name}")
    for m in sorted(pkgutil.iter_modules(importlib.import_module("exporter.simulator").__path__), key=lambda m: m.name)
    if m.name not in ASSEMBLERS
)
FAMILIES: tuple[Sequence[SimRoute], ...] = tuple(m.ROUTES for m in FAMILY_MODULES if hasattr(m, "ROUTES"))
# Files behind signed download links, served outside the GitHub pipeline (no auth, no rate limit, not JSON):
# (path template, handler(sim, request) -> Response).
DOWNLOADS: tuple[Sequence[tuple[str, Callable[[Simulator, Request], Response]]], ...] = tuple(
    m.DOWNLOADS for m in FAMILY_MODULES if hasattr(m, "DOWNLOADS"))

UNMATCHED = "(unmatched)"

log = logging.getLogger(__name__)


class Simulator:
    """A stand-in for GitHub: the world, a clock, credentials and the request pipeline.

    Rate limits (`limits`), armed faults (`faults`) and request counters
    (`counters`) are objects of their own; family state is `family_state(Kind)`.
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
        self._states: dict[type[FamilyState], FamilyState] = {}
        # The origin of signed download links (billing exports): a second loopback port, set by the server.
        self.downloads_url = ""
        self._lock = threading.RLock()
        self.limits = RateLimits(self.config.rate_limit_budget, self.config.rate_limit_window)
        self.faults = Faults()
        self.counters = RequestCounters()
        self._serial = 0
        self.credentials = Credentials(self.config, self.world.seed, self._next_serial)
        self.last_modified = LastModified()
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

    def family_state(self, kind: type[FS]) -> FS:
        """The one instance of a family's state class (see `routing.register_state`), made on first use."""
        state = self._states.get(kind)
        if state is None:
            with self._lock:
                state = self._states.get(kind)
                if state is None:
                    state = self._states[kind] = kind.for_simulator(self)
        return cast(FS, state)

    @property
    def insights(self) -> Insights:
        return self.family_state(Insights)

    @property
    def billing(self) -> Billing:
        return self.family_state(Billing)

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
            self.faults.clear()
            self.limits.reset(self.config.rate_limit_budget)
            self.credentials.reset()
            self.last_modified.clear()
            for state in self._states.values():
                state.reset()
            self.reset_counters()

    def add_fault(self, kind: str, *, count: int | None = 1, status: int = 502, seconds: float = 0.0,
                  route: str | None = None, size: int = 0, url: str = "") -> Fault:
        return self.faults.add(kind, count=count, status=status, seconds=seconds, route=route, size=size, url=url)

    def fail_next(self, count: int = 1, status: int = 502, route: str | None = None) -> Fault:
        """Answer the next `count` matching requests with `status`."""
        return self.add_fault("status", count=count, status=status, route=route)

    def set_delay(self, seconds: float, route: str | None = None, count: int | None = None) -> Fault:
        return self.add_fault("delay", count=count, seconds=seconds, route=route)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_secondary_limit(self, *, requests: int | None = None, duration: float | None = None,
                            status: int = 403, retry_after: int = 60) -> SecondaryLimit:
        """Refuse requests as GitHub's secondary limit does, for `requests` requests and/or `duration` seconds."""
        until = self.now() + duration if duration is not None else None
        limit = SecondaryLimit(status, int(retry_after), requests, until)
        self.limits.set_secondary(limit)
        return limit

    def clear_secondary_limit(self) -> None:
        self.limits.set_secondary(None)

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
        key = self.credentials.key(token, installation) if token is not None or installation is not None else None
        self.limits.set(key, now, limit=limit, remaining=remaining, reset_at=reset_at)

    def rate_limit(self, token: str | None = None, *, installation: int | None = None) -> dict[str, int]:
        """The primary-limit figures a request with `token` (or a token of `installation`) would see now."""
        return self.limits.figures(self.credentials.key(token, installation), self.now())

    # -- tokens ----------------------------------------------------------------------------

    def issue_installation_token(self, installation_id: int) -> tuple[str, float]:
        """A new `ghs_` token for the installation and when it expires (epoch seconds)."""
        return self.credentials.issue(installation_id, self.now())

    def _next_serial(self) -> int:
        """A number no earlier request or token had: request IDs and installation tokens draw on it."""
        with self._lock:
            self._serial += 1
            return self._serial

    # -- counters --------------------------------------------------------------------------

    def reset_counters(self) -> None:
        self.counters.reset()

    def request_counts(self) -> dict[str, Any]:
        """Requests per route template and per status, and the headers last seen on each route."""
        return self.counters.as_dict()

    def count(self, template: str, method: str | None = None) -> int:
        """Requests to a route template, of one method (GET, POST, ...) when given."""
        return self.counters.count(template, method)

    def last_headers(self, template: str) -> dict[str, str | None]:
        """The last `X-GitHub-Api-Version`, `Accept` and `User-Agent` sent to a route (all None if never called)."""
        return self.counters.last_headers(template)

    def state(self) -> dict[str, Any]:
        now = self.now()
        return {
            "now": now,
            "now_iso": iso(now),
            "clock_controllable": self.clock_controllable,
            "orgs": [o.login for o in self.world.orgs.values()],
            "enterprise": self.world.enterprise,
            "faults": self.faults.describe(),
            **self.limits.describe(now),
            "installation_tokens": len(self.credentials.issued()),
            "requests": self.counters.total,
            **{k: v for kind in STATE_KINDS for k, v in self.family_state(kind).describe().items()},
        }

    # -- the pipeline ----------------------------------------------------------------------

    def take_fault(self, kind: str, template: str) -> Fault | None:
        return self.faults.take(kind, template)

    async def handle(self, request: Request, route: SimRoute, template: str) -> Response:
        """Run one GitHub request through auth, limits, faults, the handler, paging and caching."""
        self.counters.record_request(template, request.method, request.headers)
        serial = self._next_serial()
        request_id = f"{0xC0DE:04X}:{serial:06X}:{stable_hash('rid', serial) % 16**6:06X}"
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
            principal = self.credentials.authenticate(request, route, now)
        except GitHubError as exc:
            anon = self.limits.window(f"anonymous:{request.client.host if request.client else '?'}", now,
                                      ANONYMOUS_BUDGET)
            return self._error(template, exc, route, {**base_headers, **anon.headers(route.resource)})

        budget = ANONYMOUS_BUDGET if principal.kind == "anonymous" else None
        window = self.limits.window(principal.key, now, budget)
        headers = {**base_headers, **window.headers(route.resource)}

        secondary = self.limits.take_secondary(now)
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
            self.counters.record_status(template, html.status)
            return Response(HTML_ERROR_PAGE, status_code=html.status, headers=headers, media_type="text/html")
        if self.take_fault("drop", template) is not None:
            self.counters.record_status(template, "dropped")
            return DroppingResponse()

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
                page, link = paginate(request, cast(list[Any], items))
            except GitHubError as exc:
                return self._error(template, exc, route, self._consume(window, route, headers))
            content = {**content, key: page} if key and isinstance(content, dict) else page
            if link:
                reply_headers["link"] = link
        if reply.status == 200:
            reply_headers.update(self._hostile_link(request, template))
        if reply.status == 204:  # "A header with no content": no body, no ETag
            self.counters.record_status(template, 204)
            return Response(status_code=204, headers={**self._consume(window, route, headers), **reply_headers})
        if reply.status == 200:
            content = drifted_answer(self, template, content)
        if self.take_fault("bad_row", template) is not None:
            content = spoil_first_row(content)
        raw = json.dumps(content, separators=(",", ":")).encode()
        # Faults come before the ETag check: a revalidating client must meet them too.
        malformed = self.take_fault("malformed", template) is not None
        oversized = self.take_fault("oversized", template)

        if request.method == "GET" and reply.status == 200 and not malformed and oversized is None:
            etag = etag_of(raw)
            reply_headers["etag"] = etag
            reply_headers["last-modified"] = self.last_modified.header(str(request.url), etag, now)
            reply_headers.update(CACHE_HEADERS)
            if etag_matches(request.headers.get("if-none-match"), etag):
                self.counters.record_status(template, 304)
                # A 304 does not count against the primary rate limit.
                return Response(status_code=304, headers={**headers, **reply_headers})

        headers = {**self._consume(window, route, headers), **reply_headers}
        if malformed:
            raw = raw[: max(1, len(raw) // 2)]
        if oversized is not None:
            raw += b" " * oversized.size
        self.counters.record_status(template, reply.status)
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

    def _consume(self, window: Window, route: SimRoute, headers: dict[str, str]) -> dict[str, str]:
        return {**headers, **self.limits.consume(window, route.resource)}

    def _error(self, template: str, exc: GitHubError, route: SimRoute, headers: dict[str, str]) -> Response:
        self.counters.record_status(template, exc.status)
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


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Server Error"


def create_app(sim: Simulator) -> Starlette:
    """The ASGI app: the control API under /_sim/, every family's routes, and GitHub's 404 for the rest."""
    quiet_dropped_connections()

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
    routes = control_routes(sim)
    routes += [Route(path, download(handler), methods=["GET"]) for family in DOWNLOADS for path, handler in family]
    routes += [Route(r.template, endpoint(r, r.template), methods=[r.method]) for r in sim.routes]
    routes.append(Route("/{path:path}", endpoint(catch_all, UNMATCHED),
                        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]))
    app = Starlette(routes=routes, middleware=[Middleware(billing_family.DownloadsOrigin, sim=sim)])
    app.state.simulator = sim
    return app
