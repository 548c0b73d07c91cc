"""A web config file that changes while the exporter runs takes effect without a restart, as exporter-toolkit's does."""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Callable

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from exporter.http.middleware import with_web_config
from exporter.http.webconfig import WebConfig, load_web_config
from exporter.settings import ConfigError

log = structlog.get_logger(__name__)

WEB_CONFIG_RECHECK = 1.0  # seconds between looks at the web config file, as exporter-toolkit re-reads it


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
