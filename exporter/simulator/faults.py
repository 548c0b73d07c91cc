"""Fault switches: which misbehaviours are armed, for how many requests, and what they do to an answer.

Tests arm a `routing.Fault` (a status, a delay, a cut-off body, a dropped
connection, a hostile answer) and the request pipeline takes it when a
matching request arrives; a counted fault disarms itself after `count` uses.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from exporter.simulator.routing import Fault

FAULT_KINDS = ("status", "delay", "malformed", "drop", "html", "oversized", "loop", "foreign_link", "bad_row")
HTML_ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Unicorn! &middot; GitHub</title></head>"
    b"<body><h1>This page is taking too long to load.</h1><p>Sorry about that.</p></body></html>\n"
)


class Faults:
    """The armed faults, in the order they were armed; thread-safe, as tests arm them while requests run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, kind: str, *, count: int | None = 1, status: int = 502, seconds: float = 0.0,
            route: str | None = None, size: int = 0, url: str = "") -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use {', '.join(FAULT_KINDS)}")
        if kind in ("status", "html") and not 400 <= status <= 599:
            raise ValueError("a status fault needs an error status (4xx or 5xx)")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1 (or None for until cleared)")
        if kind == "foreign_link" and not url.startswith(("http://", "https://")):
            raise ValueError("a foreign_link fault needs an absolute url")
        fault = Fault(kind, count, int(status), float(seconds), route, max(0, int(size)), url)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, kind: str, template: str) -> Fault | None:
        """The first armed fault of `kind` matching `template`, used once."""
        with self._lock:
            for fault in self._faults:
                if fault.kind == kind and fault.matches(template):
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def armed(self) -> list[Fault]:
        """Copies of the armed faults (changing them changes nothing)."""
        with self._lock:
            return [Fault(**asdict(f)) for f in self._faults]

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]


# -- what they do -------------------------------------------------------------------------------


def spoil_first_row(content: Any) -> Any:
    """The answer with its first row's timestamps not ISO 8601 and its full_name no owner/name (a bad_row fault).

    The description types those fields as plain strings, so a GitHub bug could send this and still match it.
    """
    rows = content if isinstance(content, list) else next(
        (v for v in content.values() if isinstance(v, list)), None) if isinstance(content, dict) else None
    if not rows or not isinstance(rows[0], dict):
        return content
    rows[0] = {k: ("last tuesday" if k.endswith(("timestamp", "_date")) else "repository" if k == "full_name" else v)
               for k, v in rows[0].items()}
    return content


class _DropConnection(Exception):
    """Raised on purpose after a partial response so the server closes the socket."""


class _DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _DropConnection)


_DROP_FILTER = _DropFilter()


def quiet_dropped_connections() -> None:
    """Keep uvicorn from logging a drop fault's deliberate exception as an error (once per process)."""
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if _DROP_FILTER not in uvicorn_errors.filters:
        uvicorn_errors.addFilter(_DROP_FILTER)


class DroppingResponse(Response):
    """A drop fault: a 200 that promises 4096 bytes, sends a few, then breaks the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"total_request_count": ', "more_body": True})
        raise _DropConnection("simulated connection drop")
