"""The simulator's clocks: ManualClock moves only when told, ShiftedClock starts at an instant and runs on."""

from __future__ import annotations

from exporter.simulator import ShiftedClock
from exporter.simulator.clock import is_controllable

START = 1_740_787_200.0  # 2025-03-01T00:00:00Z


def test_shifted_clock_starts_at_its_instant_and_runs_with_the_wall() -> None:
    wall = [1000.0]
    clock = ShiftedClock(START, wall=lambda: wall[0])
    assert clock() == START
    wall[0] += 90.5
    assert clock() == START + 90.5
    assert is_controllable(clock)
    assert clock.advance(3600) == START + 90.5 + 3600
    assert clock.set(START - 60) == START - 60
    wall[0] += 10
    assert clock() == START - 50
