"""Serving the simulator on loopback, for tests (a background thread) and for demo mode (the caller's loop).

The socket is bound here rather than by uvicorn so that port 0 works and the
chosen port is known before the first request. Uvicorn's signal handling and
access log are off: the simulator is a guest in someone else's process.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import uvicorn

from exporter.simulator.app import Simulator, create_app
from exporter.simulator.config import SimulatorConfig
from exporter.simulator.copilot import ENTERPRISE_TEAMS


class _GuestServer(uvicorn.Server):
    """A uvicorn server that leaves signals to its host and remembers its serving task."""

    serve_task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: uvicorn writes a response's headers and body separately, and with
    # Nagle's algorithm the body waits for the client's delayed ACK, 40 ms per request on Linux loopback.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.setblocking(False)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server(sim: Simulator) -> _GuestServer:
    config = uvicorn.Config(create_app(sim), lifespan="off", access_log=False, log_level="warning",
                            timeout_graceful_shutdown=2)
    return _GuestServer(config)


def _bind_downloads(sim: Simulator, host: str) -> socket.socket:
    """A second port on the same server for signed download links: a different origin from the API."""
    sock = _bind(host, 0)
    sim.downloads_url = _url(sock)
    return sock


async def serve_in_loop(sim: Simulator, host: str = "127.0.0.1", port: int = 0) -> tuple[uvicorn.Server, str]:
    """Start serving `sim` in the running loop; returns the server and its URL once it accepts connections.

    Stop it with `await stop_in_loop(server)` (or set `server.should_exit`
    and await `server.serve_task`).
    """
    sock = _bind(host, port)
    downloads = _bind_downloads(sim, host)
    url = _url(sock)
    server = _server(sim)
    server.serve_task = asyncio.create_task(server.serve(sockets=[sock, downloads]), name=f"github-simulator {url}")
    while not server.started:
        if server.serve_task.done():
            sock.close()
            downloads.close()
            server.serve_task.result()  # raises what stopped the start-up
            raise RuntimeError("the simulator stopped during start-up")
        await asyncio.sleep(0.005)
    return server, url


async def stop_in_loop(server: uvicorn.Server) -> None:
    server.should_exit = True
    task = getattr(server, "serve_task", None)
    if task is not None:
        await task


class RunningSimulator:
    """A simulator served from a background thread, for tests and benchmarks.

        with RunningSimulator(clock=ManualClock()) as running:
            httpx.get(running.url + "/_sim/state")
            running.sim.fail_next(2)
    """

    def __init__(
        self,
        sim: Simulator | None = None,
        *,
        config: SimulatorConfig | None = None,
        clock: Callable[[], float] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if sim is not None and (config is not None or clock is not None):
            raise ValueError("pass either a Simulator or config/clock to build one, not both")
        self.sim = sim or Simulator(config, clock=clock)
        self._host, self._port = host, port
        self._server: _GuestServer | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self.url = ""

    def start(self, timeout: float = 10.0) -> RunningSimulator:
        sock = _bind(self._host, self._port)
        downloads = _bind_downloads(self.sim, self._host)
        self.url = _url(sock)
        self._server = server = _server(self.sim)

        def run() -> None:
            try:
                asyncio.run(server.serve(sockets=[sock, downloads]))
            except BaseException as exc:  # reported to the starting thread
                self._failure = exc
            finally:
                sock.close()
                downloads.close()

        self._thread = threading.Thread(target=run, name=f"github-simulator {self.url}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the simulator did not start: {self._failure!r}")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError("the simulator's server thread did not stop")
        self._thread = self._server = None

    def __enter__(self) -> RunningSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class DemoSimulator:
    """A simulator serving inside the daemon's loop (`--demo`, `backfill --demo`)."""

    def __init__(self, sim: Simulator, server: uvicorn.Server, url: str) -> None:
        self.sim = sim
        self.url = url
        self._server = server

    def targets(self) -> dict[str, list[str]]:
        """Everything in the simulated world, in the shape of the exporter's `targets:` section."""
        world = self.sim.world
        orgs = list(world.orgs.values())
        return {
            "orgs": [org.login for org in orgs],
            "teams": [
                *(f"{org.login}/{team}" for org in orgs for team in org.teams),
                *(f"{world.enterprise}/{slug}" for slug, _ in ENTERPRISE_TEAMS),
            ],
            "enterprises": [world.enterprise],
            "repositories": [f"{org.login}/{repo}" for org in orgs for repo in org.repos],
        }

    async def stop(self) -> None:
        await stop_in_loop(self._server)


async def start_simulator(
    config: SimulatorConfig | None = None, clock: Callable[[], float] | None = None
) -> DemoSimulator:
    sim = Simulator(config or SimulatorConfig.demo(), clock=clock)
    server, url = await serve_in_loop(sim)
    return DemoSimulator(sim, server, url)
