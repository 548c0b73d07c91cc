"""The collector tests' fixtures: one clock, one golden comparator. Test modules never import them.

- `running` (tests/conftest.py, shared with the simulator and client tests): the loopback simulator, one per
  test module, reset and set to NOW before each test; a module needing another world overrides `simulator_config`.
- `clock`: that simulator's ManualClock; tests hand it to collectors so both sides agree on the time.
- `golden`: compares an exposition with tests/collectors/golden/<name>, byte for byte, showing a diff when
  they differ; `pytest --snapshot-update` (tests/conftest.py) rewrites the file after a deliberate change.

Plain values and functions (NOW, settings_for, render, ...) are in harness.py; promtool in tests/tools.py.
"""

from __future__ import annotations

import pytest

from exporter.simulator import ManualClock, RunningSimulator
from tests.collectors.harness import GOLDEN, Golden, compare_golden


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
