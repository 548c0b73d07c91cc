"""Prism serving GitHub's description, and the loopback proxy the exporter talks to in front of it.

What the proxy changes between the exporter and Prism, and why (nothing else is touched):
- `Accept: application/vnd.github+json` (what GitHub documents and the exporter sends) becomes
  `application/json`: the description lists only `application/json`, so Prism would answer 406.
- A leading `/api/v3` is stripped: the GHES-only collector runs only when `github.api_url` is a GHES
  URL (`https://HOST/api/v3`); the description's paths have no prefix.
- Prism's `Link` header is dropped: it is the description's one generic example
  (`<https://api.github.com/resource?page=2>; rel="next"`), another host and a page that does not exist.
- Download links in Prism's answers (billing `download_urls`, Copilot `download_links`) are rewritten to
  the simulator's signed-download origin on loopback, which serves report files in the shape GitHub
  documents (the simulator's generators): the billing export is created in the simulator with the
  answer's report_type and dates; the Copilot links are those the simulator gives for the same request.
  A link that cannot be matched there becomes one that answers 404 on that origin, never a real host.

Every exchange is recorded with the validation problems Prism reports (the `sl-violations` header and the
`validation` list of Prism's own 422 answers) and the `X-GitHub-Api-Version` it carried: GitHub's description
declares no such header, so Prism ignores it; the description it serves is the version's (description.at_version).
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from exporter.simulator import RunningSimulator
from exporter.simulator import billing as sim_billing
from tests.hostile import free_port, interrupt
from tests.openapi import ROOT

PRISM = ROOT / "node_modules" / ".bin" / "prism"
GHES_PREFIX = "/api/v3"
PRISM_ERRORS = "https://stoplight.io/prism/errors#"
HARNESS_TOKEN = "contract-harness"  # the proxy's own requests to the simulator (never the exporter's token)
_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "link"}


class Prism:
    """`prism mock` (static examples, or `--dynamic` with a seed) on a loopback port, its output in a log file."""

    def __init__(self, description: Path, log: Path, seed: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        mode = ["--dynamic", "--seed", seed] if seed is not None else []
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [str(PRISM), "mock", "--host", "127.0.0.1", "--port", str(self.port), *mode, str(description)],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=description.parent,
        )

    def wait_ready(self, timeout: float = 60.0) -> Prism:
        deadline = time.monotonic() + timeout
        while "Prism is listening" not in self.log():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"Prism did not start (exit {self.proc.returncode}):\n{self.log()[-4000:]}")
            time.sleep(0.05)
        return self

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        interrupt(self.proc)
        self._log.close()


@dataclass
class Exchange:
    method: str
    path: str
    query: str
    status: int
    violations: list[str] = field(default_factory=list)  # request-validation problems Prism found
    prism_error: str | None = None  # Prism's own error type (NO_PATH_MATCHED_ERROR, NOT_ACCEPTABLE ...)
    api_version: str | None = None  # the X-GitHub-Api-Version sent (the description declares no such header)

    def __str__(self) -> str:
        query = f"?{self.query}" if self.query else ""
        return f"{self.method} {self.path}{query} -> {self.status}"


def _request_violations(response: httpx.Response) -> list[str]:
    found: list[Any] = []
    header = response.headers.get("sl-violations")
    if header:
        found += json.loads(header)
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        found += response.json().get("validation", [])
    return [f"{'.'.join(v['location'])}: {v['message']}" for v in found if v.get("location", [""])[0] != "response"]


def _prism_error(response: httpx.Response) -> str | None:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return None
    kind = str(response.json().get("type", ""))
    return kind.removeprefix(PRISM_ERRORS) if kind.startswith(PRISM_ERRORS) else None


class DownloadLinks:
    """Loopback download links from the simulator for the exports and reports Prism describes."""

    def __init__(self, downloads: RunningSimulator) -> None:
        self.running = downloads
        self.sim = downloads.sim
        self._exports: dict[tuple[str, str, str], list[str]] = {}
        self.missing = f"{self.sim.downloads_url}/not-a-report"

    def billing(self, export: dict[str, Any]) -> list[str]:
        """The simulator's signed URLs for an export of the same report_type and dates (made once)."""
        key = (str(export.get("report_type")), str(export.get("start_date")), str(export.get("end_date")))
        if key not in self._exports:
            try:
                start, end = date.fromisoformat(key[1]), date.fromisoformat(key[2])
                if not 0 <= (end - start).days < sim_billing.MAX_DAYS[key[0]]:  # (KeyError: no such report type)
                    raise ValueError(f"a period the simulator does not make reports for: {start}..{end}")
                made = self.sim.billing.create(self.sim.world.enterprise, key[0], start, end, time.time(), "prism")
                parts = range(1, self.sim.billing.parts(made) + 1)
                self._exports[key] = [self.sim.billing.signed_url(made, part, time.time()) for part in parts]
            except (ValueError, KeyError):  # dynamic mode: a report type or date the simulator cannot make
                self._exports[key] = [self.missing]
        return self._exports[key]

    async def copilot(self, client: httpx.AsyncClient, path: str, query: str) -> list[str]:
        answer = await client.get(f"{self.running.url}{path}", params=httpx.QueryParams(query),
                                  headers={"Authorization": f"token {HARNESS_TOKEN}"})
        links = answer.json().get("download_links") if answer.status_code == 200 else None
        return links if isinstance(links, list) else [self.missing]


class ContractProxy:
    """The exporter's `github.api_url`: forwards to Prism with the rewrites in this module's docstring."""

    def __init__(self, upstream: str, downloads: RunningSimulator) -> None:
        self.upstream = upstream
        self.links = DownloadLinks(downloads)
        self.exchanges: list[Exchange] = []
        self.dropped_links = 0
        self.app = Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "POST"])])
        self._client: httpx.AsyncClient | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    async def _forward(self, request: Request) -> Response:
        assert self._client is not None
        path = request.url.path.removeprefix(GHES_PREFIX) or "/"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        if headers.get("accept") == "application/vnd.github+json":
            headers["accept"] = "application/json"
        upstream = await self._client.request(request.method, f"{self.upstream}{path}", headers=headers,
                                              params=request.url.query, content=await request.body())
        self.exchanges.append(Exchange(request.method, path, request.url.query, upstream.status_code,
                                       _request_violations(upstream), _prism_error(upstream),
                                       request.headers.get("x-github-api-version")))
        body = upstream.content
        if upstream.status_code < 300 and upstream.headers.get("content-type", "").startswith("application/json"):
            body = json.dumps(await self._relink(upstream.json(), path, request.url.query)).encode()
        if "link" in upstream.headers:
            self.dropped_links += 1
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
        return Response(body, status_code=upstream.status_code, headers=out)

    async def _relink(self, data: Any, path: str, query: str) -> Any:
        if not isinstance(data, dict):
            return data
        if isinstance(data.get("download_links"), list):
            assert self._client is not None
            data["download_links"] = await self.links.copilot(self._client, path, query)
        exports = data.get("usage_report_exports")
        for export in [data, *(exports if isinstance(exports, list) else [])]:
            if isinstance(export, dict) and isinstance(export.get("download_urls"), list):
                export["download_urls"] = self.links.billing(export)
        return data

    def mark(self) -> int:
        return len(self.exchanges)

    def since(self, mark: int) -> list[Exchange]:
        return self.exchanges[mark:]

    def start(self) -> ContractProxy:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, lifespan="off", access_log=False, log_level="warning")
        self._server = server = uvicorn.Server(config)  # (off the main thread, uvicorn leaves signals alone)

        async def serve() -> None:
            async with httpx.AsyncClient(timeout=30) as self._client:
                await server.serve(sockets=[sock])

        self._thread = threading.Thread(target=asyncio.run, args=(serve(),), name="contract-proxy", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise AssertionError("the contract proxy did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
