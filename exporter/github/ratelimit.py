"""Rate-limit bookkeeping: the budget per credential and resource, and how long to hold off after a limit.

All decisions come from GitHub's own headers (x-ratelimit-*, retry-after) and
the secondary-limit message, in one place, so the client only asks "wait how long?".
A credential is the token, or one GitHub App installation: each has its own
primary limit, so one running low holds off only its own requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

SECONDARY_LIMIT_DEFAULT_WAIT = 60.0  # GitHub: "wait at least one minute before retrying"
SECONDARY = ("*", "*")  # a secondary limit holds off every request


@dataclass
class Budget:
    limit: int
    remaining: int
    reset_at: float


Key = tuple[str, str]  # (credential, x-ratelimit-resource)


class RateLimitTracker:
    """Remembers each (credential, resource)'s budget and when requests may go out again.

    `share` is the part of each hourly limit this exporter may spend (github.rate_limit_budget): once
    x-ratelimit-remaining, less the `margin` requests that may still be in flight, falls below the rest,
    (1 - share) * limit, that credential's requests wait for the reset, whoever else spends it.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        on_update: Callable[[str, str, Budget], None] | None = None,
        share: float = 1.0,
        margin: int = 0,
    ) -> None:
        self._clock = clock
        self._on_update = on_update
        self._reserve = 1.0 - share
        self._margin = margin
        self.budgets: dict[Key, Budget] = {}
        self._resource_of_endpoint: dict[str, str] = {}
        self._blocked_until: dict[Key, float] = {}  # (credential, resource); ("*", "*") for a secondary limit

    def observe(self, endpoint: str, headers: Mapping[str, str], credential: str = "token") -> None:
        """Record the budget GitHub reported with any response to this credential."""
        resource = headers.get("x-ratelimit-resource")
        try:
            limit = int(headers["x-ratelimit-limit"])
            remaining = int(headers["x-ratelimit-remaining"])
            reset_at = float(headers["x-ratelimit-reset"])
        except (KeyError, ValueError):
            return
        resource = resource or "core"
        self._resource_of_endpoint[endpoint] = resource
        budget = Budget(limit, remaining, reset_at)
        key = (credential, resource)
        self.budgets[key] = budget
        if remaining <= 0 or (self._reserve and remaining - self._margin <= self._reserve * limit):
            self._blocked_until[key] = max(self._blocked_until.get(key, 0.0), reset_at)
        if self._on_update:
            self._on_update(credential, resource, budget)

    def limits(self) -> dict[str, int]:
        """The primary limit each credential last reported (core resource), for the start-up plan."""
        return {credential: b.limit for (credential, resource), b in self.budgets.items() if resource == "core"}

    def wait_after(self, status: int, headers: Mapping[str, str], body_message: str) -> tuple[str, float] | None:
        """(kind, seconds to wait) if this 403/429 is a rate limit, else None."""
        if status not in (403, 429):
            return None
        now = self._clock()
        retry_after = headers.get("retry-after")
        if retry_after is not None:
            try:
                seconds = max(0.0, float(retry_after))
            except ValueError:
                seconds = SECONDARY_LIMIT_DEFAULT_WAIT
            self._blocked_until[SECONDARY] = max(self._blocked_until.get(SECONDARY, 0.0), now + seconds)
            return "secondary", seconds
        if headers.get("x-ratelimit-remaining") == "0":
            try:
                reset_at = float(headers["x-ratelimit-reset"])
            except (KeyError, ValueError):
                reset_at = now + SECONDARY_LIMIT_DEFAULT_WAIT
            return "primary", max(0.0, reset_at - now) + 1.0
        if "secondary rate limit" in body_message.lower() or status == 429:
            self._blocked_until[SECONDARY] = max(self._blocked_until.get(SECONDARY, 0.0),
                                                now + SECONDARY_LIMIT_DEFAULT_WAIT)
            return "secondary", SECONDARY_LIMIT_DEFAULT_WAIT
        return None

    def hold_off(self, endpoint: str, credential: str = "token") -> float:
        """Seconds to wait before sending to this endpoint with this credential (0 when free to go)."""
        now = self._clock()
        until = self._blocked_until.get(SECONDARY, 0.0)
        resource = self._resource_of_endpoint.get(endpoint, "core")  # REST endpoints not yet answered: core
        until = max(until, self._blocked_until.get((credential, resource), 0.0))
        return max(0.0, until - now)
