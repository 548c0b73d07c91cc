"""Exactly-once counting of time buckets that fill in late.

GitHub's API Insights time stats arrive hours late, and a bucket's count grows
as its data arrives. Each run re-reads a look-back window; this class adds only
each bucket's growth since it was last seen, so every request is counted once
and `rate()` / `increase()` behave. The first observation is a baseline: what
is already there when the exporter starts is not added, so a restart makes no
artificial spike.
"""

from __future__ import annotations

from collections.abc import Iterable


class LateDataCounter:
    """A monotonic total fed from (bucket start, cumulative count in bucket) readings."""

    def __init__(self) -> None:
        self.total = 0.0
        self._seen: dict[float, float] = {}
        self._baselined = False

    def observe(self, buckets: Iterable[tuple[float, float]], window_start: float) -> float:
        """Take one read of the look-back window; return how much the total grew."""
        growth = 0.0
        for start, count in buckets:
            if start < window_start:
                continue
            previous = self._seen.get(start)
            if previous is None:
                if self._baselined:
                    growth += count
                self._seen[start] = count
            elif count > previous:
                growth += count - previous
                self._seen[start] = count
        # Buckets that slid out of the window can no longer change what we read.
        for start in [s for s in self._seen if s < window_start]:
            del self._seen[start]
        self._baselined = True
        self.total += growth
        return growth
