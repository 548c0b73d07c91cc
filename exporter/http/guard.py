"""Bounds on what a network client can hold: connections, header-read time and TLS-handshake time.

uvicorn answers 503 past `limit_concurrency` requests but still accepts every
connection and waits forever for a request's headers, so slow clients
(slowloris) could hold every file descriptor. This protocol closes a connection
beyond the cap at once and one whose request headers do not arrive in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterator
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_MAX_REQUESTS = 40  # node_exporter's --web.max-requests default
HEADER_READ_TIMEOUT = 10.0  # seconds from connection (or the last response) to a request's complete headers
TLS_HANDSHAKE_TIMEOUT = 10.0
IDLE_CONNECTIONS_PER_REQUEST = 2  # connections allowed per concurrent request: keep-alive scrapers idle between scrapes


def guarded_protocol(max_requests: int, header_timeout: float = HEADER_READ_TIMEOUT) -> type[H11Protocol]:
    """An h11 protocol class with a connection cap (0: none) and a header-read deadline."""
    max_connections = max_requests * IDLE_CONNECTIONS_PER_REQUEST

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            if max_connections and len(self.connections) >= max_connections:
                transport.abort()  # over the cap: refused before any byte is read
                return
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            if self.cycle is None or self.cycle.response_complete:  # still waiting for a request's headers
                self.transport.abort()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()  # headers are in: the request is the application's now

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if getattr(self, "transport", None) is not None:
                super().connection_lost(exc)

    return GuardedH11Protocol


@contextlib.contextmanager
def tls_handshake_timeout(seconds: float = TLS_HANDSHAKE_TIMEOUT) -> Iterator[None]:
    """While uvicorn creates its servers, give TLS servers a handshake deadline (asyncio's default is 60 s).

    uvicorn has no setting for it and calls loop.create_server itself.
    """
    loop = asyncio.get_running_loop()
    original = loop.create_server

    async def create_server(*args: Any, **kwargs: Any) -> asyncio.Server:
        if kwargs.get("ssl") is not None:
            kwargs.setdefault("ssl_handshake_timeout", seconds)
        return await original(*args, **kwargs)

    loop.create_server = functools.update_wrapper(create_server, original)  # type: ignore[method-assign]
    try:
        yield
    finally:
        del loop.create_server  # back to the class's method
