"""ETag and Last-Modified as GitHub sends them, so a client's conditional requests meet the real behaviour.

GitHub answers a matching `If-None-Match` with 304, which does not count
against the primary rate limit; `Last-Modified` stays the time the answer
last changed. The pipeline (`app.Simulator.handle`) decides when to use them.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from email.utils import formatdate

CACHE_HEADERS = {"cache-control": "private, max-age=60, s-maxage=60",
                 "vary": "Accept, Authorization, Cookie, X-GitHub-OTP"}


def etag_of(raw: bytes) -> str:
    """A strong ETag of a response body."""
    return '"' + hashlib.sha256(raw).hexdigest()[:40] + '"'


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak or strong) or `*`."""
    if not header:
        return False
    candidates = [c.strip() for c in header.split(",")]
    return "*" in candidates or any(c.removeprefix("W/") == etag for c in candidates)


class LastModified:
    """When each URL's answer last changed (a new ETag), for its Last-Modified header; the newest 4096 URLs."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()

    def header(self, url: str, etag: str, now: float) -> str:
        """The Last-Modified value for `url` answering `etag` at `now`: `now` unless the answer is unchanged."""
        with self._lock:
            seen = self._seen.get(url)
            if seen is None or seen[0] != etag:
                seen = (etag, formatdate(now, usegmt=True))
                self._seen[url] = seen
                while len(self._seen) > self.LIMIT:
                    self._seen.popitem(last=False)
            self._seen.move_to_end(url)
            return seen[1]
