"""The latest metric snapshot of every (collector, target), and the exposition made from them.

Collectors publish a complete list of metric families per run; a publish swaps
the whole snapshot at once, so a scrape sees either the old run or the new
one, never half of each. The exposition is rendered once per change (and per
format) and handed out as bytes: a scrape never waits on GitHub or a collector.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric

SnapshotKey = tuple[str, str]  # (collector name, target)


@dataclass(frozen=True)
class Snapshot:
    families: tuple[Metric, ...]
    published_at: float


@dataclass
class Rendition:
    body: bytes
    content_type: str
    gzipped: bytes | None = None


@dataclass
class _Cache:
    version: int = -1
    expires_at: float = float("inf")
    by_format: dict[str, Rendition] = field(default_factory=dict)


def merge_families(families: Iterable[Metric]) -> list[Metric]:
    """Join same-named families from different snapshots into one, so each name is described once."""
    merged: dict[str, Metric] = {}
    for family in families:
        existing = merged.get(family.name)
        if existing is None:
            copy = Metric(family.name, family.documentation, family.type, family.unit)
            copy.samples = list(family.samples)
            merged[family.name] = copy
        else:
            existing.samples.extend(family.samples)
    return list(merged.values())


class SnapshotStore:
    """Holds snapshots and renders the exposition; thread-safe, cheap to read."""

    def __init__(self, max_age: float, clock: Callable[[], float] = time.time) -> None:
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshots: dict[SnapshotKey, Snapshot] = {}
        self._version = 0
        self._cache = _Cache()
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_StoreCollector(self))

    def publish(self, key: SnapshotKey, families: Iterable[Metric]) -> None:
        """Replace the snapshot of one (collector, target) with a complete new one."""
        snapshot = Snapshot(tuple(families), self._clock())
        with self._lock:
            self._snapshots[key] = snapshot
            self._version += 1

    def drop(self, key: SnapshotKey) -> None:
        """Forget the snapshot of a (collector, target) that no longer runs."""
        with self._lock:
            if self._snapshots.pop(key, None) is not None:
                self._version += 1

    def touch(self) -> None:
        """Mark the exposition stale (live self-metrics moved) without a new snapshot."""
        with self._lock:
            self._version += 1

    def snapshot(self, key: SnapshotKey) -> Snapshot | None:
        with self._lock:
            return self._snapshots.get(key)

    def _live_families(self) -> list[Metric]:
        now = self._clock()
        with self._lock:
            expired = [k for k, s in self._snapshots.items() if now - s.published_at > self.max_age]
            for key in expired:
                del self._snapshots[key]
            snapshots = list(self._snapshots.values())
        return merge_families(f for s in snapshots for f in s.families)

    def _next_expiry(self) -> float:
        with self._lock:
            if not self._snapshots:
                return float("inf")
            return min(s.published_at for s in self._snapshots.values()) + self.max_age

    def render(self, accept_header: str | None, accept_gzip: bool = False) -> Rendition:
        """Exposition bytes in the format the client asked for, cached until the next change."""
        encoder, content_type = choose_encoder(accept_header or "")
        now = self._clock()
        with self._lock:
            stale = self._cache.version != self._version or now >= self._cache.expires_at
            if stale:
                self._cache = _Cache(version=self._version)
            cached = self._cache.by_format.get(content_type)
            version = self._cache.version
        if cached is None:
            cached = Rendition(encoder(self.registry), content_type)
            expires_at = self._next_expiry()
            with self._lock:
                if self._cache.version == version:
                    self._cache.by_format[content_type] = cached
                    self._cache.expires_at = min(self._cache.expires_at, expires_at)
        if accept_gzip and cached.gzipped is None:
            cached.gzipped = gzip.compress(cached.body, compresslevel=6)
        return cached


class _StoreCollector:
    """Feeds the snapshots into the registry that the encoders read."""

    def __init__(self, store: SnapshotStore) -> None:
        self._store = store

    def collect(self) -> Iterable[Metric]:
        return self._store._live_families()

    def describe(self) -> Iterable[Metric]:
        return []
