"""Rate-limit bookkeeping: the budget per resource, and how long to hold off after a limit.

All decisions come from GitHub's own headers (x-ratelimit-*, retry-after) and
the secondary-limit message, in one place, so the client only asks "wait how long?".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

SECONDARY_LIMIT_DEFAULT_WAIT = 60.0  # GitHub: "wait at least one minute before retrying"


@dataclass
class Budget:
    limit: int
    remaining: int
    reset_at: float


class RateLimitTracker:
    """Remembers each resource's budget and when requests may go out again.

    `share` is the part of each hourly limit this exporter may spend (github.rate_limit_budget): once
    x-ratelimit-remaining, less the `margin` requests that may still be in flight, falls below the rest,
    (1 - share) * limit, requests wait for the reset, whoever else spends the token.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        on_update: Callable[[str, Budget], None] | None = None,
        share: float = 1.0,
        margin: int = 0,
    ) -> None:
        self._clock = clock
        self._on_update = on_update
        self._reserve = 1.0 - share
        self._margin = margin
        self.budgets: dict[str, Budget] = {}
        self._resource_of_endpoint: dict[str, str] = {}
        self._blocked_until: dict[str, float] = {}  # resource, or "*" for a secondary limit

    def observe(self, endpoint: str, headers: Mapping[str, str]) -> None:
        """Record the budget GitHub reported with any response."""
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
        self.budgets[resource] = budget
        if remaining <= 0 or (self._reserve and remaining - self._margin <= self._reserve * limit):
            self._blocked_until[resource] = max(self._blocked_until.get(resource, 0.0), reset_at)
        if self._on_update:
            self._on_update(resource, budget)

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
            self._blocked_until["*"] = max(self._blocked_until.get("*", 0.0), now + seconds)
            return "secondary", seconds
        if headers.get("x-ratelimit-remaining") == "0":
            try:
                reset_at = float(headers["x-ratelimit-reset"])
            except (KeyError, ValueError):
                reset_at = now + SECONDARY_LIMIT_DEFAULT_WAIT
            return "primary", max(0.0, reset_at - now) + 1.0
        if "secondary rate limit" in body_message.lower() or status == 429:
            self._blocked_until["*"] = max(self._blocked_until.get("*", 0.0), now + SECONDARY_LIMIT_DEFAULT_WAIT)
            return "secondary", SECONDARY_LIMIT_DEFAULT_WAIT
        return None

    def hold_off(self, endpoint: str) -> float:
        """Seconds to wait before sending to this endpoint (0 when free to go)."""
        now = self._clock()
        until = self._blocked_until.get("*", 0.0)
        resource = self._resource_of_endpoint.get(endpoint)
        if resource is not None:
            until = max(until, self._blocked_until.get(resource, 0.0))
        return max(0.0, until - now)
