"""Family state registers itself: the simulator makes, resets and shows a new family's state without naming it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from exporter.simulator import ManualClock, Simulator, SimulatorConfig
from exporter.simulator.routing import STATE_KINDS, SimulatorHost, register_state
from tests.simulator.conftest import NOW


class Widgets:
    """A stand-in family state: counts what it was asked, forgets it on reset."""

    made = 0

    def __init__(self, orgs: int) -> None:
        self.orgs = orgs
        self.asked = 0

    @classmethod
    def for_simulator(cls, sim: SimulatorHost) -> Widgets:
        cls.made += 1
        return cls(len(sim.world.orgs))

    def reset(self) -> None:
        self.asked = 0

    def describe(self) -> dict[str, Any]:
        return {"widgets_asked": self.asked}


@pytest.fixture
def registered() -> Iterator[type[Widgets]]:
    Widgets.made = 0
    register_state(Widgets)
    try:
        yield Widgets
    finally:
        STATE_KINDS.remove(Widgets)


def test_a_registered_state_is_made_once_per_simulator_reset_and_shown(registered: type[Widgets]) -> None:
    sim = Simulator(SimulatorConfig(), clock=ManualClock(NOW))
    widgets = sim.family_state(registered)
    assert sim.family_state(registered) is widgets and registered.made == 1
    assert widgets.orgs == len(sim.world.orgs)
    widgets.asked = 3
    assert sim.state()["widgets_asked"] == 3
    sim.reset()
    assert sim.state()["widgets_asked"] == 0 and sim.family_state(registered) is widgets
    other = Simulator(SimulatorConfig(), clock=ManualClock(NOW))
    assert other.family_state(registered) is not widgets and registered.made == 2


def test_registering_twice_keeps_one_entry(registered: type[Widgets]) -> None:
    register_state(registered)
    assert STATE_KINDS.count(registered) == 1
