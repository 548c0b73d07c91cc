"""GitHub's rate limits as the simulator keeps them: a primary window per credential, and the secondary limit.

A window is GitHub's `x-ratelimit-*` figures for one budget (a token, every
token of one installation, an app, an anonymous address): it refills
`window_seconds` after it opened. Tests change the figures while requests run,
so every method takes the lock.
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass
from typing import Any

RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_DOCS = f"{RATE_LIMIT_DOCS}#about-secondary-rate-limits"
ANONYMOUS_BUDGET = 60


@dataclass
class SecondaryLimit:
    """Secondary rate limiting: every request is refused for `requests` requests and/or until `until`."""

    status: int = 403
    retry_after: int = 60
    requests: int | None = None
    until: float | None = None


@dataclass
class Window:
    """One budget's primary-limit figures; `generation` says which all-windows override it has taken."""

    limit: int
    used: int
    reset: float
    generation: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def figures(self) -> dict[str, int]:
        return {"limit": self.limit, "remaining": self.remaining, "used": self.used, "reset": math.ceil(self.reset)}

    def headers(self, resource: str) -> dict[str, str]:
        """The `x-ratelimit-*` headers GitHub sends with a response drawing on this window."""
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-reset": str(math.ceil(self.reset)),
            "x-ratelimit-resource": resource,
        }

    def apply(self, limit: int | None, remaining: int | None, reset_at: float | None) -> None:
        if limit is not None:
            self.limit = int(limit)
        if remaining is not None:
            self.used = self.limit - max(0, min(int(remaining), self.limit))
        if reset_at is not None:
            self.reset = reset_at


@dataclass
class _Override:
    generation: int
    remaining: int | None
    reset_at: float | None


class RateLimits:
    """Every primary window by budget key, a pending all-windows override, and the secondary limit switch."""

    def __init__(self, budget: int, window_seconds: float) -> None:
        self._window_seconds = window_seconds
        self._lock = threading.Lock()
        self.reset(budget)

    def reset(self, budget: int) -> None:
        """Forget every window, override and secondary limit; new windows hold `budget` requests."""
        with self._lock:
            self._limit = budget
            self._windows: dict[str, Window] = {}
            self._override: _Override | None = None
            self._secondary: SecondaryLimit | None = None

    # -- primary --------------------------------------------------------------------------

    def window(self, key: str, now: float, budget: int | None = None) -> Window:
        """The window of budget `key` at `now`: opened (with `budget`, else the default) or refilled as due."""
        with self._lock:
            return self._current(key, now, budget)

    def _current(self, key: str, now: float, budget: int | None = None) -> Window:
        window = self._windows.get(key)
        generation = self._override.generation if self._override else 0
        if window is None:
            # A token seen for the first time picks up a pending all-tokens override.
            window = Window(budget if budget is not None else self._limit, 0, now + self._window_seconds, 0)
            self._windows[key] = window
        elif now >= window.reset:
            window.used, window.reset, window.generation = 0, now + self._window_seconds, generation
        if self._override is not None and window.generation < generation:
            window.apply(None, self._override.remaining, self._override.reset_at)
            window.generation = generation
        return window

    def set(self, key: str | None, now: float, *, limit: int | None, remaining: int | None,
            reset_at: float | None) -> None:
        """Change window `key`, or (None) every window's size and the figures of every window now and next."""
        with self._lock:
            if key is not None:
                self._current(key, now).apply(limit, remaining, reset_at)
                return
            if limit is not None:
                self._limit = int(limit)
                for window in self._windows.values():
                    window.limit = int(limit)
            generation = (self._override.generation if self._override else 0) + 1
            self._override = _Override(generation, remaining, reset_at)

    def figures(self, key: str, now: float) -> dict[str, int]:
        with self._lock:
            return self._current(key, now).figures()

    def consume(self, window: Window, resource: str) -> dict[str, str]:
        """Count one request against `window`; the headers its response carries."""
        with self._lock:
            window.used += 1
            return window.headers(resource)

    # -- secondary ------------------------------------------------------------------------

    def set_secondary(self, limit: SecondaryLimit | None) -> None:
        if limit is not None and limit.status not in (403, 429):
            raise ValueError("a secondary limit answers 403 or 429")
        with self._lock:
            self._secondary = limit

    def _secondary_active(self, now: float) -> SecondaryLimit | None:
        s = self._secondary
        if s is None:
            return None
        if (s.until is not None and now >= s.until) or (s.requests is not None and s.requests <= 0):
            self._secondary = None
            return None
        return s

    def take_secondary(self, now: float) -> SecondaryLimit | None:
        """The secondary limit refusing a request at `now`, if one does (counting the request against it)."""
        with self._lock:
            s = self._secondary_active(now)
            if s is not None and s.requests is not None:
                s.requests -= 1
            return s

    def describe(self, now: float) -> dict[str, Any]:
        """Their part of `/_sim/state`."""
        with self._lock:
            secondary = self._secondary_active(now)
            return {
                "secondary_limit": asdict(secondary) if secondary else None,
                "rate_limit": {"limit": self._limit, "windows": {k: w.figures() for k, w in self._windows.items()}},
            }
