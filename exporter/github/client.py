"""The only code that talks HTTP to GitHub.

One httpx.AsyncClient with GitHub's headers, bounded concurrency, conditional
requests (a 304 reuses the cached body and costs no primary rate limit),
Link-header pagination, waits on rate limits, and bounded retries with
exponential back-off and jitter for 5xx and transport errors. Every request is
counted by its route template, never by its raw URL.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from exporter import __version__
from exporter.drift import FieldDrift
from exporter.github.auth import AppAuth, TokenAuth, credential_of
from exporter.github.errors import (
    APIError,
    ForbiddenError,
    GitHubError,
    MalformedResponseError,
    NotFoundError,
    RateLimitedError,
    TransportError,
)
from exporter.github.ratelimit import Budget, RateLimitTracker
from exporter.github.streams import parse_json, read_capped
from exporter.github.validators import ValidatorCache
from exporter.settings import GitHubSettings
from exporter.telemetry import ExporterMetrics

log = structlog.get_logger(__name__)

RETRY_STATUSES = frozenset({500, 502, 503, 504})
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
MAX_RATE_LIMIT_RETRIES = 3
USER_AGENT = f"github-insights-exporter/{__version__}"
DOWNLOAD_ENDPOINT = "{signed_download_url}"

# Requests sent by the current task; the scheduler sets it per collector run to log "requests made".
requests_in_run: ContextVar[list[int] | None] = ContextVar("requests_in_run", default=None)


def _count_request(endpoint: str, metrics: ExporterMetrics) -> None:
    metrics.api_requests.labels(endpoint).inc()
    counter = requests_in_run.get()
    if counter is not None:
        counter[0] += 1


@dataclass(frozen=True)
class Response:
    status: int
    data: Any
    headers: httpx.Headers
    not_modified: bool = False


def build_auth(settings: GitHubSettings) -> httpx.Auth | None:
    if settings.app is not None:
        assert settings.app.private_key is not None
        return AppAuth(
            settings.app.app_id,
            settings.app.private_key.get_secret_value(),
            settings.api_url,
            settings.app.installation_ids,
            api_version=settings.api_version,
        )
    if settings.token is not None:
        return TokenAuth(settings.token.get_secret_value(), settings.api_url)
    return None


def expand(route: str, path_params: dict[str, Any]) -> str:
    """Fill a route template such as /orgs/{org}/x with URL-quoted values."""
    try:
        return route.format(**{k: quote(str(v), safe="") for k, v in path_params.items()})
    except KeyError as exc:
        raise ValueError(f"route {route} needs path parameter {exc}") from None


def same_origin(url: httpx.URL, base: httpx.URL) -> bool:
    """Whether `url` is on the API host (scheme, host and port), the only place credentials may go."""
    return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)


def _github_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""


class GitHubClient:
    """Shared by every collector; safe to use from many tasks on one event loop."""

    def __init__(
        self,
        settings: GitHubSettings,
        metrics: ExporterMetrics,
        *,
        auth: httpx.Auth | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep
        self._base = settings.api_url.rstrip("/")
        self._semaphore = asyncio.Semaphore(settings.max_concurrency)
        self.validators = ValidatorCache(settings.validator_cache_bytes)
        self.rate_limits = RateLimitTracker(
            clock, self._export_budget, share=settings.rate_limit_budget, margin=settings.max_concurrency
        )
        timeout = httpx.Timeout(settings.timeout)
        headers = {"Accept": "application/vnd.github+json", "User-Agent": USER_AGENT}
        self._auth = auth if auth is not None else build_auth(settings)
        self._http = httpx.AsyncClient(
            auth=self._auth,
            headers=headers,
            timeout=timeout,
            follow_redirects=False,
        )
        # Signed download links go to other hosts: a separate client that never carries credentials.
        self._downloads = httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT}, timeout=timeout, follow_redirects=True
        )

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._downloads.aclose()

    @property
    def drift(self) -> FieldDrift:
        """Where collectors report fields GitHub sent that they do not know (exporter.drift)."""
        return self._metrics.drift

    def count_parse_error(self, collector: str, endpoint: str) -> None:
        """A row of an answer that a collector skipped because it could not be read."""
        self._metrics.parse_errors.labels(collector, endpoint).inc()

    def _export_budget(self, credential: str, resource: str, budget: Budget) -> None:
        self._metrics.rate_limit_remaining.labels(credential, resource).set(budget.remaining)
        self._metrics.rate_limit_limit.labels(credential, resource).set(budget.limit)
        self._metrics.rate_limit_reset.labels(credential, resource).set(budget.reset_at)

    def credential(self, path: str) -> str:
        """Whose primary rate limit a request to this path spends (see auth.credential_of)."""
        return credential_of(self._auth, path)

    def _api_version(self, family: str) -> str:
        return self._settings.api_versions.get(family, self._settings.api_version)

    def url(self, route: str, **path_params: Any) -> str:
        return self._base + expand(route, path_params)

    async def get(
        self, route: str, *, params: dict[str, Any] | None = None, family: str = "", **path_params: Any
    ) -> Response:
        """GET one resource, revalidating any cached copy."""
        url = httpx.URL(self.url(route, **path_params), params=_clean(params))
        return await self._request("GET", url, route, family)

    async def post(self, route: str, *, json: Any, family: str = "", **path_params: Any) -> Response:
        url = httpx.URL(self.url(route, **path_params))
        return await self._request("POST", url, route, family, json=json)

    async def paginate(
        self,
        route: str,
        *,
        params: dict[str, Any] | None = None,
        family: str = "",
        limit: int | None = None,
        items_key: str | None = None,
        **path_params: Any,
    ) -> AsyncIterator[Any]:
        """Yield items across pages; stop at `limit` items without asking for more pages."""
        url: httpx.URL | None = httpx.URL(self.url(route, **path_params), params=_clean(params))
        seen: set[str] = set()
        yielded = 0
        pages = 0
        while url is not None:
            if str(url) in seen:
                self._metrics.api_failures.labels(route).inc()
                raise MalformedResponseError(f"{route}: the next page link points back at a page already read",
                                             endpoint=route)
            if pages >= self._settings.max_pages:
                self._metrics.api_truncated_listings.labels(route).inc()
                log.warning(
                    "page cap reached; later pages not read", endpoint=route, max_pages=self._settings.max_pages
                )
                return
            seen.add(str(url))
            pages += 1
            response = await self._request("GET", url, route, family)
            items = response.data.get(items_key) if items_key and isinstance(response.data, dict) else response.data
            if not isinstance(items, list):
                raise MalformedResponseError(
                    f"{route}: expected a list of items", endpoint=route, status=response.status
                )
            for item in items:
                yield item
                yielded += 1
                if limit is not None and yielded >= limit:
                    return
            url = self._next_page(response.headers, route)

    def _next_page(self, headers: httpx.Headers, route: str) -> httpx.URL | None:
        """The next page's URL; a link to another host is refused, since the request would carry the token."""
        next_link = _next_link(headers)
        if not next_link:
            return None
        base = httpx.URL(self._base + "/")
        url = base.join(next_link)
        if not same_origin(url, base):
            self._metrics.api_failures.labels(route).inc()
            raise MalformedResponseError(
                f"{route}: the next page link points at another host ({url.host}); not followed", endpoint=route
            )
        return url

    @asynccontextmanager
    async def download(self, url: str) -> AsyncIterator[httpx.Response]:
        """Stream a signed download link; no Authorization header is ever attached."""
        endpoint = DOWNLOAD_ENDPOINT
        _count_request(endpoint, self._metrics)
        start = time.perf_counter()
        try:
            async with self._downloads.stream("GET", url) as response:
                if response.status_code != 200:
                    raise APIError(
                        f"download failed: HTTP {response.status_code}", endpoint=endpoint, status=response.status_code
                    )
                yield response
        except httpx.HTTPError as exc:
            self._metrics.api_failures.labels(endpoint).inc()
            raise TransportError(f"download failed: {type(exc).__name__}", endpoint=endpoint) from None
        except GitHubError:
            self._metrics.api_failures.labels(endpoint).inc()
            raise
        finally:
            self._metrics.api_duration.labels(endpoint).observe(time.perf_counter() - start)

    async def _request(self, method: str, url: httpx.URL, route: str, family: str, json: Any = None) -> Response:
        cache_key = str(url) if method == "GET" else None
        credential = self.credential(url.path)
        attempts = 0
        rate_limit_waits = 0
        while True:
            await self._respect_hold_off(route, credential)
            headers = {"X-GitHub-Api-Version": self._api_version(family)}
            cached = self.validators.get(cache_key) if cache_key else None
            if cached is not None:
                headers.update(cached.conditional_headers())
            # A POST creates something (a billing export): retrying one that may have
            # reached GitHub could create it twice, so only idempotent GETs are retried.
            retries_left = attempts < self._settings.max_retries and method == "GET"
            try:
                response = await self._send(method, url, route, headers, json, credential)
            except TransportError:
                if not retries_left:
                    raise
                attempts += 1
                await self._sleep(self._backoff(attempts))
                continue

            self.rate_limits.observe(route, response.headers, credential)
            status = response.status_code
            if status == 304 and cached is not None:
                self._metrics.api_not_modified.labels(route).inc()
                return Response(status, cached.data(), response.headers, not_modified=True)
            if 200 <= status < 300:
                return await self._success(response, route, cache_key)

            self._metrics.api_failures.labels(route).inc()
            message = _github_message(response)
            wait = self.rate_limits.wait_after(status, response.headers, message)
            if wait is not None:
                kind, seconds = wait
                if seconds > self._settings.max_rate_limit_wait or rate_limit_waits >= MAX_RATE_LIMIT_RETRIES:
                    raise RateLimitedError(
                        f"{route}: {kind} rate limit, retry in {seconds:.0f}s",
                        endpoint=route,
                        status=status,
                        retry_at=self._clock() + seconds,
                        github_message=message,
                    )
                self._metrics.api_rate_limit_waits.labels(kind).inc()
                log.warning("rate limited; waiting", endpoint=route, kind=kind, wait_seconds=round(seconds, 1))
                rate_limit_waits += 1
                await self._sleep(seconds)
                continue
            if status in RETRY_STATUSES and retries_left:
                attempts += 1
                await self._sleep(self._backoff(attempts))
                continue
            raise _error_for(status, route, message)

    async def _send(
        self, method: str, url: httpx.URL, route: str, headers: dict[str, str], json: Any, credential: str
    ) -> httpx.Response:
        async with self._semaphore:
            # Again: a limit or the budget may have been reached while queued.
            await self._respect_hold_off(route, credential)
            _count_request(route, self._metrics)
            start = time.perf_counter()
            try:
                response = await self._read_capped(method, url, route, headers, json)
            except httpx.HTTPError as exc:
                self._metrics.api_failures.labels(route).inc()
                raise TransportError(f"{route}: {type(exc).__name__}", endpoint=route) from None
            except GitHubError:  # too large a body, or a GitHub App token the auth flow could not get
                self._metrics.api_failures.labels(route).inc()
                raise
            finally:
                self._metrics.api_duration.labels(route).observe(time.perf_counter() - start)
        return response

    async def _read_capped(
        self, method: str, url: httpx.URL, route: str, headers: dict[str, str], json: Any
    ) -> httpx.Response:
        """Send, then read the body streamed and capped at github.max_response_bytes."""
        request = self._http.build_request(method, url, headers=headers, json=json)
        response = await self._http.send(request, stream=True)
        try:
            body = await read_capped(response, self._settings.max_response_bytes, route)
        finally:
            await response.aclose()
        # The body is already decoded: drop the headers that would make httpx decode or measure it again.
        kept = [(k, v) for k, v in response.headers.multi_items() if k not in ("content-encoding", "content-length")]
        return httpx.Response(response.status_code, headers=kept, content=body, request=response.request)

    async def _success(self, response: httpx.Response, route: str, cache_key: str | None) -> Response:
        status = response.status_code
        if status == 204 or not response.content:
            return Response(status, None, response.headers)
        try:
            data = await parse_json(response.content)
        except ValueError:
            self._metrics.api_failures.labels(route).inc()
            raise MalformedResponseError(f"{route}: response is not JSON", endpoint=route, status=status) from None
        if cache_key:
            self.validators.remember(cache_key, response.headers, response.content)
        return Response(status, data, response.headers)

    async def _respect_hold_off(self, route: str, credential: str) -> None:
        seconds = self.rate_limits.hold_off(route, credential)
        if seconds <= 0:
            return
        if seconds > self._settings.max_rate_limit_wait:
            raise RateLimitedError(
                f"{route}: rate limited, retry in {seconds:.0f}s",
                endpoint=route,
                status=429,
                retry_at=self._clock() + seconds,
            )
        await self._sleep(seconds)

    def _backoff(self, attempt: int) -> float:
        delay = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (attempt - 1))
        return delay / 2 + random.uniform(0, delay / 2)


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if not params:
        return None
    return {k: v for k, v in params.items() if v is not None}


def _next_link(headers: httpx.Headers) -> str | None:
    link: str | None = headers.get("link")  # httpx types Headers.get as Any
    if not link:
        return None
    for part in link.split(","):
        section = part.split(";")
        if len(section) < 2:
            continue
        if any(p.strip().replace(" ", "") in ('rel="next"', "rel=next") for p in section[1:]):
            return section[0].strip().strip("<>")
    return None


def _error_for(status: int, route: str, message: str) -> APIError:
    text = f"{route}: HTTP {status}" + (f": {message}" if message else "")
    if status in (404, 410):
        return NotFoundError(text, endpoint=route, status=status, github_message=message)
    if status == 403:
        return ForbiddenError(text, endpoint=route, status=status, github_message=message)
    return APIError(text, endpoint=route, status=status, github_message=message)
