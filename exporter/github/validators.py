"""The validators (ETag, Last-Modified) of GitHub's last answers, so that every GET can be conditional.

A 304 Not Modified costs no primary rate limit, but only when the validator of
the URL's last answer is still known. The cache must therefore hold every URL
a full cycle of all collectors asks: it is bounded by bytes (the raw body, the
URL and the validators, plus ENTRY_OVERHEAD per entry) and evicts the least
recently used entry, so a cycle larger than the cache loses its oldest URLs
only, never the whole cache. Bodies are kept as GitHub sent them (bytes count
exactly) and parsed again on a 304.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from cachetools import LRUCache

# Python's own bookkeeping per entry (key and value objects, the LRU's links), in bytes.
ENTRY_OVERHEAD = 400


@dataclass(frozen=True)
class Validated:
    """One URL's last answer: its validators and its body."""

    url: str
    etag: str | None
    last_modified: str | None
    body: bytes

    @property
    def size(self) -> int:
        return ENTRY_OVERHEAD + len(self.url) + len(self.etag or "") + len(self.last_modified or "") + len(self.body)

    def conditional_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def data(self) -> Any:
        return json.loads(self.body) if self.body else None


class ValidatorCache:
    """URL -> Validated, at most `max_bytes` in all, least recently used evicted first; 0 turns it off."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: LRUCache[str, Validated] = LRUCache(maxsize=max(max_bytes, 1), getsizeof=_size)

    def get(self, url: str) -> Validated | None:
        """The URL's last answer, now the most recently used; None when unknown."""
        return self._entries.get(url)

    def remember(self, url: str, headers: httpx.Headers, body: bytes) -> None:
        """Keep an answer that carries a validator; one too large for the cache replaces nothing."""
        etag, last_modified = headers.get("etag"), headers.get("last-modified")
        if not self.max_bytes or not (etag or last_modified):
            return
        entry = Validated(url, etag, last_modified, body)
        if entry.size > self.max_bytes:
            self._entries.pop(url, None)
            return
        self._entries[url] = entry

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return int(self._entries.currsize)


def _size(entry: Validated) -> int:
    return entry.size
