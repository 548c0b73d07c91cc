"""Reading GitHub's bodies with a ceiling: whole bodies, JSON and NDJSON lines.

A body or line larger than its cap is a broken or hostile answer, not data: it
fails the request with a typed error instead of growing the process by hundreds
of megabytes. Large JSON is decoded on a worker thread so scrapes keep being
answered while it is parsed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from exporter.github.errors import MalformedResponseError

# Bodies up to this size are decoded on the event loop; larger ones on a thread (a few ms of work at most here).
INLINE_JSON_BYTES = 256 * 1024
MAX_LINE_BYTES = 16 * 1024 * 1024  # one NDJSON record; a day's report record is a few kilobytes


class BodyTooLargeError(MalformedResponseError):
    """GitHub's answer is longer than github.max_response_bytes (or a report line longer than its cap)."""


async def read_capped(response: httpx.Response, limit: int, endpoint: str) -> bytes:
    """The decoded body of a streamed response, refused as soon as it passes `limit` bytes."""
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(
            f"{endpoint}: response of {int(declared)} bytes is larger than github.max_response_bytes ({limit})",
            endpoint=endpoint,
            status=response.status_code,
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(
                f"{endpoint}: response is larger than github.max_response_bytes ({limit})",
                endpoint=endpoint,
                status=response.status_code,
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_json(body: bytes) -> Any:
    """json.loads, on a worker thread when the body is large enough to hold up the event loop."""
    if len(body) <= INLINE_JSON_BYTES:
        return json.loads(body)
    return await asyncio.to_thread(json.loads, body)


async def capped_lines(
    response: httpx.Response, endpoint: str, max_line_bytes: int = MAX_LINE_BYTES
) -> AsyncIterator[str]:
    """The response's lines, streamed; a line longer than `max_line_bytes` fails instead of being buffered."""
    pending: list[bytes] = []  # the start of a line whose end has not arrived yet
    pending_size = 0
    async for chunk in response.aiter_bytes():
        parts = chunk.split(b"\n")
        for part in parts[:-1]:
            if pending_size + len(part) > max_line_bytes:
                raise _line_too_long(endpoint, max_line_bytes)
            yield _decode_line(b"".join([*pending, part]), endpoint)
            pending, pending_size = [], 0
        pending.append(parts[-1])
        pending_size += len(parts[-1])
        if pending_size > max_line_bytes:
            raise _line_too_long(endpoint, max_line_bytes)
    if pending_size:
        yield _decode_line(b"".join(pending), endpoint)


def _line_too_long(endpoint: str, limit: int) -> BodyTooLargeError:
    return BodyTooLargeError(f"{endpoint}: a line is longer than {limit} bytes", endpoint=endpoint)


def _decode_line(line: bytes, endpoint: str) -> str:
    try:
        return line.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise MalformedResponseError(f"{endpoint}: a line is not UTF-8 text", endpoint=endpoint) from None
