"""What the simulator counts of the requests it answered, for tests to check a client's behaviour against.

Requests per route template and per method, statuses per route, and the
headers last sent to each route (never a credential: only whether one came).
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

_SHOWN_HEADERS = ("x-github-api-version", "accept", "user-agent")


class RequestCounters:
    """Counts since the last `reset()`; thread-safe, as requests and tests read them from different threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._counts: Counter[str] = Counter()
            self._method_counts: Counter[str] = Counter()
            self._statuses: Counter[str] = Counter()
            self._route_statuses: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self._headers_seen: dict[str, dict[str, str | None]] = {}

    def record_request(self, template: str, method: str, headers: Mapping[str, str]) -> None:
        with self._lock:
            self._counts[template] += 1
            self._method_counts[f"{method} {template}"] += 1
            self._headers_seen[template] = {
                **{name: headers.get(name) for name in _SHOWN_HEADERS},
                "if-none-match": headers.get("if-none-match"),
                "authorization": "present" if headers.get("authorization") else None,  # never the credential itself
            }

    def record_status(self, template: str, status: int | str) -> None:
        with self._lock:
            self._statuses[str(status)] += 1
            self._route_statuses[template][str(status)] += 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def as_dict(self) -> dict[str, Any]:
        """Requests per route template and per status, and the headers last seen on each route."""
        with self._lock:
            return {
                "total": sum(self._counts.values()),
                "routes": dict(self._counts),
                "methods": dict(self._method_counts),
                "statuses": dict(self._statuses),
                "route_statuses": {k: dict(v) for k, v in self._route_statuses.items()},
                "headers": {k: dict(v) for k, v in self._headers_seen.items()},
            }

    def count(self, template: str, method: str | None = None) -> int:
        """Requests to a route template, of one method (GET, POST, ...) when given."""
        with self._lock:
            return self._method_counts[f"{method.upper()} {template}"] if method else self._counts[template]

    def last_headers(self, template: str) -> dict[str, str | None]:
        """The last `X-GitHub-Api-Version`, `Accept` and `User-Agent` sent to a route (all None if never called)."""
        with self._lock:
            return dict(self._headers_seen.get(template) or dict.fromkeys(_SHOWN_HEADERS))
