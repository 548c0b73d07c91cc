"""What the whole test tree shares (here, at the root, so pytest knows it for any selection of tests): the
--snapshot-update option, the Hypothesis profile, and the loopback simulator fixture.

- `running`: the loopback simulator, one per test module, reset and set to NOW before each test. A module or
  directory that needs another world overrides `simulator_config` with a module-scoped fixture of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from exporter.simulator import ManualClock, RunningSimulator, SimulatorConfig
from tests.collectors.harness import NOW


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--snapshot-update", action="store_true", default=False,
        help="rewrite the golden exposition files in tests/collectors/golden/ instead of comparing with them "
             "(after a deliberate change; review the diff and say why in the commit)",
    )


# Hypothesis's per-example deadline times the machine, not the code: on a loaded two-core CI box a first call
# can take 300 ms and fail as "flaky". The properties are about results, so no deadline; a fixed derandomised
# seed under CI keeps a run reproducible.
settings.register_profile("suite", deadline=None, derandomize=bool(os.environ.get("CI")))
settings.load_profile("suite")


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
