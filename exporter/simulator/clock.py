"""A clock that tests and the control API can set and advance.

The simulator reads time only through a `Callable[[], float]`; passing a
`ManualClock` makes that time controllable, which is what lets tests walk a
bucket through GitHub's hours-long data lag in microseconds.
"""

from __future__ import annotations

import threading
from typing import Protocol, TypeGuard


class ControllableClock(Protocol):
    def __call__(self) -> float: ...

    def set(self, epoch_seconds: float) -> float: ...

    def advance(self, seconds: float) -> float: ...


class ManualClock:
    """Epoch seconds that move only when told to."""

    def __init__(self, start: float = 1_726_675_200.0) -> None:  # 2024-09-18T16:00:00Z
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    def set(self, epoch_seconds: float) -> float:
        with self._lock:
            self._now = float(epoch_seconds)
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += float(seconds)
            return self._now


def is_controllable(clock: object) -> TypeGuard[ControllableClock]:
    """True for clocks with `set` and `advance` (a ManualClock or a look-alike)."""
    return callable(getattr(clock, "set", None)) and callable(getattr(clock, "advance", None))
