"""Start Debian's real `prometheus` on a free loopback port with a temporary data directory."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.tools import tool as require  # the one look-up of test executables; callers import it from here

T = TypeVar("T")




def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Prometheus:
    def __init__(self, workdir: Path, config: str, *extra_args: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (workdir / "prometheus.yml").write_text(config)
        self.log = (workdir / "prometheus.log").open("w")
        self.proc = subprocess.Popen(
            [
                require("prometheus"),
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                *extra_args,
            ],
            stdout=self.log, stderr=subprocess.STDOUT,
        )

    def __enter__(self) -> Prometheus:
        deadline = time.monotonic() + 30
        try:
            while True:
                assert self.proc.poll() is None, f"prometheus exited: {self.logs()}"
                try:
                    if httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"prometheus not ready: {self.logs()}"
                time.sleep(0.2)
        except BaseException:
            self.__exit__()  # `with` does not call __exit__ when __enter__ fails
            raise

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()

    def logs(self) -> str:
        self.log.flush()
        return (self.workdir / "prometheus.log").read_text()[-3000:]

    def api(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        assert body.get("status") == "success", body
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params = {"query": expr}
        if at is not None:
            params["time"] = str(at)
        return self.api("query", **params)["result"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        return self.api("query_range", query=expr, start=str(start), end=str(end), step=str(step))["result"]

    def label_values(self, label: str, match: str | None = None) -> list[str]:
        """What Grafana's `label_values(match, label)` variable query asks for."""
        params = {"match[]": match} if match else {}
        return self.api(f"label/{label}/values", **params)

    def wait_for(self, what: str, check: Callable[[], T | None], timeout: float, interval: float = 0.5) -> T:
        """Poll `check` until it returns something truthy; fail with `what` and Prometheus' log after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"prometheus exited: {self.logs()}"
            result = check()
            if result:
                return result
            assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f}s\n{self.logs()}"
            time.sleep(interval)
