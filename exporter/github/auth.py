"""Credentials as httpx.Auth: a personal access token, or a GitHub App's installation tokens.

A GitHub App signs a short-lived JWT with its private key and trades it for an
installation token per owner (org or enterprise), cached until shortly before
`expires_at`. The owner is read from the request path, so one client serves
every target.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncGenerator, Callable, Generator
from datetime import datetime
from typing import Any

import httpx
import jwt

from exporter import logs
from exporter.github.errors import APIError, MalformedResponseError

TOKEN_REFRESH_MARGIN = 300.0  # refresh an installation token five minutes before it expires
JWT_LIFETIME = 540  # GitHub allows at most ten minutes
JWT_CLOCK_SKEW = 60

_OWNER_IN_PATH = re.compile(
    r"/(?:orgs|repos|users|enterprises|enterprise-installation)/([^/]+)"
)


class TokenAuth(httpx.Auth):
    """A personal access token (classic or fine-grained), sent as a Bearer token."""

    def __init__(self, token: str, api_url: str | None = None) -> None:
        self._header = f"Bearer {token}"
        self._api = httpx.URL(api_url.rstrip("/") + "/") if api_url else None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._api is None or _same_origin(request.url, self._api):
            request.headers["Authorization"] = self._header  # never to another host, whatever sent us there
        yield request

    def __repr__(self) -> str:
        return "TokenAuth(<redacted>)"


def _same_origin(url: httpx.URL, base: httpx.URL) -> bool:
    return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)


def owner_of(path: str) -> str | None:
    """The org, user or enterprise a request is about, from its path."""
    match = _OWNER_IN_PATH.search(path)
    return match.group(1).lower() if match else None


TOKEN_CREDENTIAL = "token"


def installation_credential(owner: str) -> str:
    """The name of the GitHub App installation on `owner` in budgets and labels (bounded by configured owners)."""
    return f"installation:{owner.lower()}"


def credential_of(auth: httpx.Auth | None, path: str) -> str:
    """Whose rate limit a request to `path` spends: the token's, or the installation's of the path's owner."""
    owner = owner_of(path) if isinstance(auth, AppAuth) else None
    return installation_credential(owner) if owner else TOKEN_CREDENTIAL


class AppAuth(httpx.Auth):
    """GitHub App: JWT → installation token per owner, refreshed before it expires."""

    def __init__(
        self,
        app_id: int,
        private_key_pem: str,
        api_url: str,
        installation_ids: dict[str, int] | None = None,
        clock: Callable[[], float] = time.time,
        api_version: str | None = None,
    ) -> None:
        self._app_id = app_id
        self._api_version = api_version  # github.api_version: the App's own requests belong to no collector
        self._key = private_key_pem
        self._api = httpx.URL(api_url.rstrip("/") + "/")
        self._installation_ids = {k.lower(): v for k, v in (installation_ids or {}).items()}
        self._tokens: dict[int, tuple[str, float]] = {}
        self._clock = clock

    def __repr__(self) -> str:
        return f"AppAuth(app_id={self._app_id}, key=<redacted>)"

    def app_jwt(self) -> str:
        now = int(self._clock())
        payload = {"iat": now - JWT_CLOCK_SKEW, "exp": now + JWT_LIFETIME, "iss": str(self._app_id)}
        return jwt.encode(payload, self._key, algorithm="RS256")

    def _app_request(self, method: str, path: str) -> httpx.Request:
        headers = {"Authorization": f"Bearer {self.app_jwt()}", "Accept": "application/vnd.github+json"}
        if self._api_version is not None:
            headers["X-GitHub-Api-Version"] = self._api_version
        return httpx.Request(method, self._api.join(path.lstrip("/")), headers=headers)

    def _lookup_path(self, path: str, owner: str) -> str:
        api_prefix = self._api.path.rstrip("/")
        rest = path[len(api_prefix):] if path.startswith(api_prefix) else path
        if rest.startswith("/repos/"):
            repo = rest.split("/")[3]
            return f"repos/{owner}/{repo}/installation"
        if rest.startswith("/users/"):
            return f"users/{owner}/installation"
        if rest.startswith(("/enterprises/", "/enterprise-installation/")):
            return f"enterprises/{owner}/installation"
        return f"orgs/{owner}/installation"

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not _same_origin(request.url, self._api):
            yield request  # credentials go to the API host only, never to signed download URLs
            return
        owner = owner_of(request.url.path)
        if owner is None:
            raise APIError("GitHub App auth: cannot tell the owner of this request", endpoint="auth", status=0)
        installation_id = self._installation_ids.get(owner)
        if installation_id is None:
            response = yield self._app_request("GET", self._lookup_path(request.url.path, owner))
            await response.aread()
            if response.status_code != 200:
                raise APIError(
                    f"GitHub App {self._app_id} is not installed on {owner!r} (HTTP {response.status_code})",
                    endpoint="/{owner}/installation",
                    status=response.status_code,
                )
            installation_id = _installation_id(response)
            self._installation_ids[owner] = installation_id
        cached = self._tokens.get(installation_id)
        if cached is None or cached[1] - TOKEN_REFRESH_MARGIN <= self._clock():
            response = yield self._app_request("POST", f"app/installations/{installation_id}/access_tokens")
            await response.aread()
            if response.status_code != 201 and response.status_code != 200:
                raise APIError(
                    f"GitHub App {self._app_id}: installation token request failed (HTTP {response.status_code})",
                    endpoint="/app/installations/{installation_id}/access_tokens",
                    status=response.status_code,
                )
            cached = _installation_token(response)
            logs.register_secret(cached[0])  # scrubbed from any log line that might quote it
            self._tokens[installation_id] = cached
        request.headers["Authorization"] = f"Bearer {cached[0]}"
        yield request


def _auth_answer(response: httpx.Response, endpoint: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise MalformedResponseError(f"GitHub App auth: {endpoint} did not answer a JSON object", endpoint=endpoint,
                                     status=response.status_code)
    return body


def _installation_id(response: httpx.Response) -> int:
    """The id from GET /{owner}/installation; anything else is a typed error, never a KeyError."""
    endpoint = "/{owner}/installation"
    value = _auth_answer(response, endpoint).get("id")
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise MalformedResponseError(f"GitHub App auth: {endpoint} answered no installation id", endpoint=endpoint,
                                     status=response.status_code)
    return value


def _installation_token(response: httpx.Response) -> tuple[str, float]:
    """The token and when it expires, from POST .../access_tokens."""
    endpoint = "/app/installations/{installation_id}/access_tokens"
    body = _auth_answer(response, endpoint)
    token, expires = body.get("token"), body.get("expires_at")
    try:
        if not isinstance(token, str) or not token or not isinstance(expires, str):
            raise ValueError
        expires_at = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise MalformedResponseError(
            f"GitHub App auth: {endpoint} answered no token or no ISO 8601 expires_at", endpoint=endpoint,
            status=response.status_code,
        ) from None
    return token, expires_at
