"""structlog set-up: logfmt or JSON lines on stderr, with secrets scrubbed from every event.

Secrets are registered once at start-up; any string value that contains one is
rewritten before it is rendered, so a token cannot leak through an error text.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

REDACTED = "<redacted>"
_secrets: set[str] = set()
_SECRET_KEYS = {"token", "password", "authorization", "private_key", "secret"}


def register_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        _secrets.add(value)


def scrub(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _scrub_event(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in list(event.items()):
        if key.lower() in _SECRET_KEYS:
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = scrub(value)
        elif isinstance(value, BaseException):
            event[key] = scrub(repr(value))
    return event


def configure(level: str = "info", fmt: str = "logfmt") -> None:
    """Route structlog and the stdlib loggers (uvicorn, apscheduler, httpx) through one renderer."""
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.processors.LogfmtRenderer(
        key_order=["ts", "level", "event"], drop_missing=True
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        structlog.processors.format_exc_info,
        _scrub_event,
    ]
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
