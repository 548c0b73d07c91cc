"""Clocks that tests and the control API can set and advance.

The simulator reads time only through a `Callable[[], float]`; passing a
`ManualClock` makes that time controllable, which is what lets tests walk a
bucket through GitHub's hours-long data lag in microseconds. A `ShiftedClock`
starts the world at a chosen instant and then runs with the wall clock, so a
demo (`--demo.start`) shows any day or hour, and shows the same one on every run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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


class ShiftedClock:
    """Epoch seconds that read `start` when made and then advance with the wall clock."""

    def __init__(self, start: float, wall: Callable[[], float] = time.monotonic) -> None:
        self._wall = wall
        self._offset = float(start) - wall()
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._wall() + self._offset

    def set(self, epoch_seconds: float) -> float:
        with self._lock:
            self._offset = float(epoch_seconds) - self._wall()
            return self()

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._offset += float(seconds)
            return self()


def is_controllable(clock: object) -> TypeGuard[ControllableClock]:
    """True for clocks with `set` and `advance` (a ManualClock or a look-alike)."""
    return callable(getattr(clock, "set", None)) and callable(getattr(clock, "advance", None))
