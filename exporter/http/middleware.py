"""What the web config puts in front of every path: extra headers, a rate limit, basic auth.

Plain ASGI middlewares, so they cover every path including 404s, as in
node_exporter. `with_web_config` stacks the ones a web config asks for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping

import anyio
import bcrypt
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exporter.http.webconfig import WebConfig


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
