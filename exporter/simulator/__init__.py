"""A local stand-in for GitHub's statistics endpoints, for the demo mode, tests and benchmarks.

`Simulator` holds the world, clock and switches; `create_app` serves it as
ASGI; `RunningSimulator` and `serve_in_loop` put it on a loopback port.
"""

from exporter.simulator.app import Simulator, create_app
from exporter.simulator.clock import ManualClock, ShiftedClock
from exporter.simulator.config import SimulatorConfig
from exporter.simulator.server import RunningSimulator, serve_in_loop, stop_in_loop
from exporter.simulator.world import World

__all__ = [
    "ManualClock",
    "RunningSimulator",
    "Simulator",
    "ShiftedClock",
    "SimulatorConfig",
    "World",
    "create_app",
    "serve_in_loop",
    "stop_in_loop",
]
