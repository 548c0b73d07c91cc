"""Running the app with uvicorn as a task in the running loop, and stopping it within a budget.

`serve` returns a `RunningServer` with the bound address and `stop()`. uvicorn
gets the guarded protocol (`exporter.http.guard`), the web config's TLS
context, and no signal handlers: the daemon owns SIGINT and SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Iterator

import structlog
import uvicorn
from starlette.types import ASGIApp

from exporter.http.guard import (
    DEFAULT_MAX_REQUESTS,
    HEADER_READ_TIMEOUT,
    TLS_HANDSHAKE_TIMEOUT,
    guarded_protocol,
    tls_handshake_timeout,
)
from exporter.http.listen import BACKLOG, ServeError, bind
from exporter.http.webconfig import WebConfig

log = structlog.get_logger(__name__)


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
    sock = bind(listen_address)
    ssl_context: ssl.SSLContext | None = web_config.ssl_context() if web_config is not None else None
    config = uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,
        log_config=_UVICORN_LOGGING,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=1,
        backlog=BACKLOG,
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
