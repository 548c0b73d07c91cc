"""The ASGI app: landing page, metrics, health, readiness and reload, behind the web config.

A scrape only hands out bytes the store already made in its worker thread
(see `exporter.store`), so it never waits on GitHub or an encoder. Running the
app is `exporter.http.serve`'s job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from exporter.http.landing import HEALTHY_PATH, READY_PATH, RELOAD_PATH, LandingInfo, landing_html
from exporter.http.middleware import with_web_config
from exporter.http.reload import WebConfigReloader
from exporter.http.webconfig import WebConfig
from exporter.store import SnapshotStore

Readiness = Callable[[], tuple[bool, str]]
Reload = Callable[[], Awaitable[str | None]]  # None when applied, else why not


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
    page = landing_html(landing, telemetry_path)

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
