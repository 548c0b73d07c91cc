"""The collector tests' fixtures: one simulator, one clock, one golden comparator. Test modules never import them.

- `running`: the loopback simulator, one per test module, reset and set to NOW before each test. A module
  that needs another world overrides `simulator_config` with a module-scoped fixture of its own.
- `clock`: that simulator's ManualClock; tests hand it to collectors so both sides agree on the time.
- `golden`: compares an exposition with tests/collectors/golden/<name>, byte for byte, showing a diff when
  they differ; `pytest --snapshot-update` (tests/conftest.py) rewrites the file after a deliberate change.

Plain values and functions (NOW, settings_for, render, ...) are in harness.py; promtool in tests/tools.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exporter.simulator import ManualClock, RunningSimulator, SimulatorConfig
from tests.collectors.harness import GOLDEN, NOW, Golden, compare_golden


@pytest.fixture(scope="module")
def simulator_config() -> SimulatorConfig:
    return SimulatorConfig()


@pytest.fixture(scope="module")
def _simulator(simulator_config: SimulatorConfig) -> Iterator[RunningSimulator]:
    with RunningSimulator(config=simulator_config, clock=ManualClock(NOW)) as running:
        yield running


@pytest.fixture
def running(_simulator: RunningSimulator) -> RunningSimulator:
    _simulator.sim.reset()
    _simulator.sim.set_clock(NOW)
    return _simulator


@pytest.fixture
def clock(running: RunningSimulator) -> ManualClock:
    assert isinstance(running.sim.clock, ManualClock)
    return running.sim.clock


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    """`golden(name, exposition)`: the exposition equals golden/<name>, or is written there under --snapshot-update."""
    update = bool(request.config.getoption("--snapshot-update"))

    def compare(name: str, exposition: str) -> None:
        compare_golden(GOLDEN / name, exposition, update=update)

    return compare
