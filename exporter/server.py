"""The HTTP side: landing page, metrics, health and readiness, behind TLS and basic auth.

`create_app` builds a Starlette app; `serve` runs it with uvicorn as a task in
the running asyncio loop and returns a handle with the bound port and `stop()`.
The web config (exporter-toolkit's file format, see `exporter.webconfig`)
applies to every path, as in node_exporter: the extra headers, the rate limit
and basic auth.

A scrape only hands out bytes the store already made in its worker thread
(see `exporter.store`), so it never waits on GitHub or an encoder.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import errno
import hashlib
import hmac
import html
import os
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import bcrypt
import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exporter import __version__
from exporter.httpguard import (
    DEFAULT_MAX_REQUESTS,
    HEADER_READ_TIMEOUT,
    TLS_HANDSHAKE_TIMEOUT,
    guarded_protocol,
    tls_handshake_timeout,
)
from exporter.store import SnapshotStore
from exporter.webconfig import WebConfig

log = structlog.get_logger(__name__)

Readiness = Callable[[], tuple[bool, str]]
Reload = Callable[[], Awaitable[str | None]]  # None when applied, else why not

_BACKLOG = 128
HEALTHY_PATH = "/-/healthy"
READY_PATH = "/-/ready"
RELOAD_PATH = "/-/reload"
WEB_CONFIG_RECHECK = 1.0  # seconds between looks at the web config file, as exporter-toolkit re-reads it


@dataclass(frozen=True)
class LandingInfo:
    """What the landing page at `/` shows."""

    name: str = "GitHub Insights Exporter"
    description: str = "Prometheus exporter for GitHub's statistics REST endpoints"
    version: str = __version__
    links: tuple[tuple[str, str], ...] = ()  # extra (text, href) pairs


class ServeError(Exception):
    """The server could not start; the message names the address and says why."""


# --- the app -----------------------------------------------------------------


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header allows gzip (honouring q=0 and `*`)."""
    if not accept_encoding:
        return False
    star: bool | None = None
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        coding = coding.strip().lower()
        if coding in ("gzip", "x-gzip"):
            return q > 0
        if coding == "*":
            star = q > 0
    return bool(star)


def _landing_page(info: LandingInfo, telemetry_path: str) -> str:
    def link(href: str) -> str:
        # Relative links keep working behind a reverse proxy that adds a path prefix.
        return html.escape(href.lstrip("/") or "./", quote=True)

    links = [("Metrics", telemetry_path), ("Health", HEALTHY_PATH), ("Readiness", READY_PATH), *info.links]
    items = "\n".join(
        f'      <li><a href="{link(href)}">{html.escape(text)}</a></li>' for text, href in links
    )
    name, description, version = (html.escape(v) for v in (info.name, info.description, info.version))
    return f"""<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>{name}</title>
    <style>
      body {{ font-family: sans-serif; margin: 2em; max-width: 50em; }}
      header {{ border-bottom: 1px solid #ccc; }}
    </style>
  </head>
  <body>
    <header><h1>{name}</h1></header>
    <main>
      <p>{description}</p>
      <p>Version: {version}</p>
      <ul>
{items}
      </ul>
    </main>
  </body>
</html>
"""


def create_app(
    store: SnapshotStore,
    *,
    telemetry_path: str = "/metrics",
    readiness: Readiness,
    web_config: WebConfig | None = None,
    landing: LandingInfo | Mapping[str, Any] | None = None,
    reload: Reload | None = None,
    web_config_file: str | None = None,
) -> ASGIApp:
    """The ASGI app: `/`, the telemetry path, `/-/healthy`, `/-/ready` and (with `reload`) `/-/reload`.

    With `web_config_file`, the file is looked at again at most once a second
    and a changed, valid one takes effect for the next request (a bad one is
    logged and the running one kept), as exporter-toolkit does.
    """
    if not telemetry_path.startswith("/") or telemetry_path in (HEALTHY_PATH, READY_PATH, RELOAD_PATH):
        raise ValueError(f"telemetry path {telemetry_path!r} must start with / and not be a health path")
    if landing is None:
        landing = LandingInfo()
    elif not isinstance(landing, LandingInfo):
        landing = LandingInfo(**landing)
    page = _landing_page(landing, telemetry_path)

    async def landing_page(request: Request) -> Response:
        return HTMLResponse(page)

    async def metrics(request: Request) -> Response:
        gzipped = accepts_gzip(request.headers.get("accept-encoding"))
        accept = request.headers.get("accept")
        rendition = store.current(accept, gzipped)
        if rendition is None:  # before the first rendition, or a rare name escaping: made once, in a thread
            rendition = await run_in_threadpool(store.render, accept, gzipped)
        return ChunksResponse(rendition.gzip_chunks if gzipped else rendition.chunks, rendition.content_type, gzipped)

    async def healthy(request: Request) -> Response:
        return PlainTextResponse("Healthy")

    async def ready(request: Request) -> Response:
        ok, reason = readiness()
        if ok:
            return PlainTextResponse("Ready")
        return PlainTextResponse(reason or "Not ready", status_code=503)

    async def reload_config(request: Request) -> Response:
        assert reload is not None
        refused = await reload()
        if refused is None:
            return PlainTextResponse("Reloaded")
        return PlainTextResponse(f"failed to reload config: {refused}", status_code=500)

    routes = [
        Route(telemetry_path, metrics, methods=["GET"]),
        Route(HEALTHY_PATH, healthy, methods=["GET"]),
        Route(READY_PATH, ready, methods=["GET"]),
    ]
    if reload is not None:
        routes.append(Route(RELOAD_PATH, reload_config, methods=["POST", "PUT"]))
    if telemetry_path != "/":
        routes.append(Route("/", landing_page, methods=["GET"]))
    router = Starlette(routes=routes)
    if web_config_file is not None:
        return WebConfigReloader(router, web_config_file, web_config)
    return with_web_config(router, web_config)


def with_web_config(app: ASGIApp, web_config: WebConfig | None) -> ASGIApp:
    """`app` behind what the web config asks for: extra headers, rate limit, basic auth."""
    middleware = []
    if web_config is not None:
        if web_config.headers:
            middleware.append(Middleware(ExtraHeadersMiddleware, headers=web_config.headers))
        if web_config.rate_limit.enabled:
            middleware.append(
                Middleware(
                    RateLimitMiddleware,
                    interval=web_config.rate_limit.interval,
                    burst=web_config.rate_limit.burst,
                )
            )
        if web_config.basic_auth_enabled:
            users = {user: h.get_secret_value() for user, h in web_config.basic_auth_users.items()}
            middleware.append(Middleware(BasicAuthMiddleware, users=users))
    for layer in reversed(middleware):
        app = layer.cls(app, *layer.args, **layer.kwargs)
    return app


class WebConfigReloader:
    """Serves through the web config in force, re-reading its file when it changes.

    Headers, rate limit and basic auth change for the next request. TLS
    certificates change for the next handshake (see `TLSReloader`); turning
    TLS on or off needs a restart, which the log says.
    """

    def __init__(
        self,
        app: ASGIApp,
        path: str,
        current: WebConfig | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app = app
        self._path = path
        self._clock = clock
        self._config = current
        self._stack = with_web_config(app, current)
        self._stamp = self._file_stamp()
        self._next_look = clock() + WEB_CONFIG_RECHECK
        self.tls = TLSReloader(current.ssl_context() if current is not None else None)

    def _file_stamp(self) -> tuple[float, int] | None:
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return (st.st_mtime, st.st_size)

    def _look(self) -> None:
        from exporter.settings import ConfigError
        from exporter.webconfig import load_web_config

        self._next_look = self._clock() + WEB_CONFIG_RECHECK
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            config = load_web_config(self._path)
        except ConfigError as exc:
            log.error("web config reload failed; the running one stays", file=self._path, error=str(exc))
            return
        if config.tls_enabled != (self._config is not None and self._config.tls_enabled):
            log.error("web config: turning TLS on or off needs a restart; the rest applies", file=self._path)
        else:
            self.tls.use(config.ssl_context())
        self._config = config
        self._stack = with_web_config(self._app, config)
        log.info("web config reloaded", file=self._path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._clock() >= self._next_look:
            self._look()
        await self._stack(scope, receive, send)


class TLSReloader:
    """Lets new TLS handshakes use a newer context (certificates, client CA) than the one uvicorn was given.

    The served context's SNI callback, which OpenSSL runs early in every
    handshake, swaps in the newest context, so a rotated certificate needs no restart.
    """

    def __init__(self, served: ssl.SSLContext | None) -> None:
        self._current = served
        if served is not None:
            served.sni_callback = self._pick

    def use(self, context: ssl.SSLContext | None) -> None:
        if context is not None:
            self._current = context

    def _pick(self, connection: ssl.SSLObject, server_name: str | None, served: ssl.SSLContext) -> None:
        if self._current is not None and self._current is not served:
            connection.context = self._current


class ChunksResponse(Response):
    """A body already made, sent as the byte strings it is stored in (no join, no copy per scrape)."""

    def __init__(self, chunks: tuple[bytes, ...], content_type: str, gzipped: bool) -> None:
        super().__init__(headers={"Content-Type": content_type, "Vary": "Accept, Accept-Encoding"})
        self.chunks = chunks
        self.headers["Content-Length"] = str(sum(map(len, chunks)))
        if gzipped:
            self.headers["Content-Encoding"] = "gzip"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if scope.get("method") == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        last = len(self.chunks) - 1
        for i, chunk in enumerate(self.chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < last})
        if last < 0:
            await send({"type": "http.response.body", "body": b""})


# --- middleware (plain ASGI, so they cover every path including 404s) --------


class ExtraHeadersMiddleware:
    """Adds the web config's `http_server_config.headers` to every response."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self._headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self._names = {name for name, _ in self._headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in self._names]
                message = {**message, "headers": kept + self._headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RateLimitMiddleware:
    """exporter-toolkit's `rate_limit`: a token bucket of `burst`, one token back per `interval`."""

    def __init__(
        self, app: ASGIApp, interval: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.app = app
        self._interval = interval
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._last = clock()

    def _allow(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) / self._interval)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._allow():
            await PlainTextResponse("Too Many Requests", status_code=429)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _bcrypt_matches(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # e.g. a password longer than bcrypt's 72 bytes
        return False


class BasicAuthMiddleware:
    """HTTP basic auth against bcrypt hashes, as exporter-toolkit's `basic_auth_users`.

    bcrypt is slow on purpose, so a successful check is remembered per user as
    an HMAC (with a per-process random key) of user, password and stored hash:
    never the password itself. A later request with the same credentials is
    compared against it in constant time. Anything else costs a bcrypt check,
    including an unknown user (against a decoy hash of the highest configured
    cost), so response times do not tell which users exist. bcrypt runs in a
    worker thread, one check at a time, so failed logins cannot use every core.
    """

    def __init__(self, app: ASGIApp, users: Mapping[str, str]) -> None:
        self.app = app
        self._users = {user.encode(): hashed.encode() for user, hashed in users.items()}
        cost = max(int(hashed[4:6]) for hashed in self._users.values())
        # A valid salt with a digest no password produces: checking it costs as much as a real one.
        self._decoy = bcrypt.gensalt(rounds=cost) + b"." * 31
        self._key = secrets.token_bytes(32)
        self._accepted: dict[bytes, bytes] = {}
        self._limiter: anyio.CapacityLimiter | None = None

    def _fingerprint(self, user: bytes, password: bytes, hashed: bytes) -> bytes:
        message = b"".join(len(part).to_bytes(4, "big") + part for part in (user, password, hashed))
        return hmac.new(self._key, message, hashlib.sha256).digest()

    async def check(self, user: bytes, password: bytes) -> bool:
        stored = self._users.get(user)
        hashed = stored if stored is not None else self._decoy
        fingerprint = self._fingerprint(user, password, hashed)
        remembered = self._accepted.get(user)
        if stored is not None and remembered is not None and hmac.compare_digest(remembered, fingerprint):
            return True
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(1)
        matches = await anyio.to_thread.run_sync(_bcrypt_matches, password, hashed, limiter=self._limiter)
        if matches and stored is not None:
            self._accepted[user] = fingerprint
            return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        credentials = _basic_credentials(scope)
        if credentials is not None and await self.check(*credentials):
            await self.app(scope, receive, send)
            return
        response = PlainTextResponse("Unauthorized", status_code=401, headers={"WWW-Authenticate": "Basic"})
        await response(scope, receive, send)


def _basic_credentials(scope: Scope) -> tuple[bytes, bytes] | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, encoded = value.strip().partition(b" ")
            if scheme.lower() != b"basic":
                return None
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                return None
            user, sep, password = decoded.partition(b":")
            return (user, password) if sep else None
    return None


# --- running it --------------------------------------------------------------


def parse_listen_address(address: str) -> tuple[str, int]:
    """`host:port` (host may be empty or a [bracketed] IPv6 address) to (host, port)."""
    host, sep, port_text = address.rpartition(":")
    if not sep:
        raise ServeError(f"invalid listen address {address!r}: expected host:port, e.g. :9101")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ServeError(f"invalid listen address {address!r}: put an IPv6 address in brackets, e.g. [::1]:9101")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ServeError(f"invalid listen address {address!r}: port must be a number from 0 to 65535")
    return host, int(port_text)


def _listening_socket(family: int, sockaddr: Any, *, dualstack: bool = False) -> socket.socket:
    # proto must be IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on connections accepted
    # from such a socket, and without it every reply on a kept-alive connection waits ~40 ms
    # (Nagle's algorithm against the client's delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dualstack else 1)
        sock.bind(sockaddr)
        sock.listen(_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def _bind(address: str) -> socket.socket:
    host, port = parse_listen_address(address)
    try:
        if host in ("", "::") and socket.has_dualstack_ipv6():
            # Like Go's net.Listen: an empty host or [::] listens on IPv4 and IPv6.
            return _listening_socket(socket.AF_INET6, ("::", port), dualstack=True)
        if host == "":
            return _listening_socket(socket.AF_INET, ("0.0.0.0", port))
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, sockaddr = infos[0]
        return _listening_socket(family, sockaddr)
    except socket.gaierror as exc:
        raise ServeError(f"cannot listen on {address}: cannot resolve {host!r}: {exc.strerror}") from None
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise ServeError(f"cannot listen on {address}: {reason}") from None


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers (the daemon owns SIGINT/SIGTERM), reporting start-up."""

    def __init__(self, config: uvicorn.Config, handshake_timeout: float = TLS_HANDSHAKE_TIMEOUT) -> None:
        super().__init__(config)
        self.started_event = asyncio.Event()
        self.handshake_timeout = handshake_timeout

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        with tls_handshake_timeout(self.handshake_timeout):
            await super().startup(sockets=sockets)
        self.started_event.set()


# uvicorn's own info lines ("Started server process", "Shutting down") repeat ours.
_UVICORN_LOGGING = {
    "version": 1,
    "incremental": True,
    "loggers": {"uvicorn.error": {"level": "WARNING"}},
}


class RunningServer:
    """A server started by `serve`: where it listens, and how to stop it."""

    def __init__(self, server: _Server, task: asyncio.Task[None], sock: socket.socket, tls: bool) -> None:
        self._server = server
        self._task = task
        self._sock = sock
        self.tls = tls
        sockname = sock.getsockname()
        self.host: str = sockname[0]
        self.port: int = sockname[1]

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.address}"

    @property
    def running(self) -> bool:
        return not self._task.done()

    async def wait(self) -> None:
        """Until the server exits (after `stop()`, or if it fails)."""
        await asyncio.shield(self._task)

    async def stop(self, timeout: float = 1.0) -> None:
        """Stop accepting, let requests in flight finish for up to `timeout` seconds, release the port."""
        try:
            if not self._task.done():
                self._server.should_exit = True
                try:
                    await asyncio.wait_for(asyncio.shield(self._task), timeout)
                except TimeoutError:
                    self._server.force_exit = True
                    self._task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._task
        finally:
            for server in getattr(self._server, "servers", []):
                server.close()
            self._sock.close()


T = TypeVar("T")


def run_in_loop(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
    """Run `coro` on `loop` (another thread's) and wait for it from the caller's loop; cancelling cancels it."""
    return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))


class ServingThread:
    """The HTTP side's own thread and event loop.

    Collectors turn GitHub's answers into metric families on the main loop, tens of
    milliseconds at a stretch for a big org. Served from a loop of its own, a scrape
    waits for them at most one GIL switch interval, never a whole conversion.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="http", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """Run `coro` (e.g. `serve(...)`, `RunningServer.stop()`) on the serving loop."""
        return run_in_loop(self.loop, coro)

    def close(self) -> None:
        """Stop the loop and its thread (stop every server on it first)."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()


async def serve(
    app: ASGIApp,
    listen_address: str,
    web_config: WebConfig | None = None,
    max_requests: int = DEFAULT_MAX_REQUESTS,
    *,
    header_timeout: float = HEADER_READ_TIMEOUT,
    handshake_timeout: float = TLS_HANDSHAKE_TIMEOUT,
) -> RunningServer:
    """Start serving `app` on `listen_address` as a task in the running loop.

    Past `max_requests` concurrent connections requests are answered 503 (0: no limit), past twice that
    connections are closed; request headers must arrive within 10 s and a TLS handshake end within 10 s.

    Accepts `:9101`, `0.0.0.0:9101`, `127.0.0.1:0`, `[::1]:0` and host names.
    Raises ServeError (message names the address) if it cannot listen.
    """
    sock = _bind(listen_address)
    ssl_context: ssl.SSLContext | None = web_config.ssl_context() if web_config is not None else None
    config = uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,
        log_config=_UVICORN_LOGGING,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=1,
        backlog=_BACKLOG,
        http=guarded_protocol(max_requests, header_timeout),
        limit_concurrency=max_requests or None,
        ssl_context_factory=(lambda _config, _default: ssl_context) if ssl_context is not None else None,
    )
    server = _Server(config, handshake_timeout)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"http server {listen_address}")
    started = asyncio.create_task(server.started_event.wait())
    try:
        await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # cancelled while starting: leave nothing behind
        server.force_exit = server.should_exit = True
        task.cancel()
        sock.close()
        raise
    finally:
        started.cancel()
    if not server.started_event.is_set():
        sock.close()
        exc = task.exception() if not task.cancelled() else None
        raise ServeError(f"cannot serve on {listen_address}: {exc or 'server stopped during start-up'}")
    running = RunningServer(server, task, sock, tls=ssl_context is not None)
    task.add_done_callback(_log_unexpected_exit)
    log.info(
        "serving HTTP",
        address=running.address,
        tls=running.tls,
        client_auth=(web_config.tls_server_config.effective_client_auth if running.tls and web_config else None),
        basic_auth=bool(web_config and web_config.basic_auth_enabled),
    )
    return running


def _log_unexpected_exit(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("HTTP server failed", error=str(task.exception()))
