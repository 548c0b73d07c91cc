"""Who a request comes from: configured tokens, the installation tokens the simulator issues, GitHub App JWTs.

GitHub answers a bad credential 401 whatever the endpoint, and rate-limits by
credential, so the simulator decides both here: `authenticate` returns the
`routing.Principal` whose `key` names the budget the request draws on.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from starlette.requests import Request

from exporter.simulator import installations as installations_family
from exporter.simulator.config import SimulatorConfig
from exporter.simulator.routing import GitHubError, Principal, SimRoute
from exporter.simulator.world import stable_hash


@dataclass
class _IssuedToken:
    installation_id: int
    expires_at: float


class Credentials:
    """The installation tokens issued so far, and the checks every request's Authorization header goes through.

    `serial` numbers each token (the simulator shares it with request IDs), so
    tokens differ while staying reproducible for a seed.
    """

    def __init__(self, config: SimulatorConfig, seed: int, serial: Callable[[], int]) -> None:
        self._config = config
        self._seed = seed
        self._serial = serial
        self._lock = threading.Lock()
        self._issued: dict[str, _IssuedToken] = {}

    def reset(self) -> None:
        """Forget every issued token (a client must buy a new one)."""
        with self._lock:
            self._issued.clear()

    def issued(self) -> set[str]:
        """Every installation token issued since the last reset (for tests that look for leaks)."""
        with self._lock:
            return set(self._issued)

    def issue(self, installation_id: int, now: float) -> tuple[str, float]:
        """A new `ghs_` token for the installation and when it expires (epoch seconds)."""
        serial = self._serial()
        digest = hashlib.sha256(f"{self._seed}:{installation_id}:{serial}".encode()).hexdigest()
        token = "ghs_" + digest[:36]
        expires_at = now + self._config.installation_token_lifetime
        with self._lock:
            self._issued[token] = _IssuedToken(installation_id, expires_at)
        return token, expires_at

    def key(self, token: str | None, installation: int | None) -> str:
        """The rate-limit budget of a token, or of every token of an installation."""
        if installation is not None:
            return f"installation:{installation}"
        if token is None:
            raise ValueError("a token or an installation is needed")
        return self._token_key(token)

    def _token_key(self, token: str) -> str:
        with self._lock:
            issued = self._issued.get(token)
        if issued is not None:
            return f"installation:{issued.installation_id}"
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]

    def authenticate(self, request: Request, route: SimRoute, now: float) -> Principal:
        """Who sent `request`, or the GitHubError (401) GitHub would answer."""
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
        with self._lock:
            issued = self._issued.get(credential)
        if issued is not None:
            if issued.expires_at <= now:
                raise GitHubError(401, "Bad credentials")
            return Principal("installation", f"installation:{issued.installation_id}",
                             f"installation ID {issued.installation_id}", issued.installation_id)
        if self._config.tokens and credential not in self._config.tokens:
            raise GitHubError(401, "Bad credentials")
        user_id = 1_000 + stable_hash("token-user", credential) % 9_000_000
        return Principal("token", self._token_key(credential), f"user ID {user_id}")

    def _verify_jwt(self, token: str, now: float) -> Principal:
        key = self._config.app_public_key_pem
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
        iss, app_id = claims.get("iss"), self._config.app_id
        accepted = {str(app_id), installations_family.client_id(self._seed, app_id)} if app_id else None
        if iss is None or (accepted is not None and str(iss) not in accepted):
            raise GitHubError(401, "'Issuer' claim ('iss') must be an Integer")
        return Principal("app", f"app:{iss}", f"app ID {iss}")
