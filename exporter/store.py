"""The latest metric snapshot of every (collector, target), and the exposition made from them.

Collectors publish a complete list of metric families per run; a publish swaps
the whole snapshot at once. The exposition is made off the scrape path: after
a publish, a worker thread encodes that snapshot alone (`exporter.exposition`),
compresses its larger parts once (`exporter.gzip_pieces`), and assembles new
text, OpenMetrics and gzip bodies from the parts of every snapshot, then swaps
them in at once. A scrape only hands out the bytes of the last finished
rendition, so it never waits on GitHub, a collector or an encoder, and never
sees parts of two versions of one snapshot.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics

from exporter import gzip_pieces
from exporter.exposition import FamilyPart, assemble, encode_family

log = structlog.get_logger(__name__)

SnapshotKey = tuple[str, str]  # (collector name, target)

# Parts at least this large are compressed once when encoded; smaller runs when assembled.
_OWN_PIECE = 4096
# Runs of smaller byte strings are joined so a scrape sends a few large writes.
_JOIN_BELOW = 16384
_SWITCH_INTERVAL = 0.0005  # seconds; CPython's default is 0.005
# The escaping schemes whose bytes equal the default's when every name is a legacy Prometheus name.
_SAME_AS_DEFAULT = (openmetrics.UNDERSCORES, openmetrics.ALLOWUTF8, openmetrics.VALUES)


@dataclass(frozen=True)
class Snapshot:
    families: tuple[Metric, ...]
    published_at: float


@dataclass(frozen=True)
class Rendition:
    """One format's exposition, as byte strings to send in order, plain and gzipped."""

    content_type: str
    chunks: tuple[bytes, ...]
    gzip_chunks: tuple[bytes, ...]

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def gzipped(self) -> bytes:
        return b"".join(self.gzip_chunks)


@dataclass(frozen=True)
class _Encoded:
    """The parts made from one snapshot, and the gzip pieces of its larger parts (by id of their bytes)."""

    snapshot: Snapshot
    parts: tuple[FamilyPart, ...]
    pieces: Mapping[int, gzip_pieces.Piece]


@dataclass(frozen=True)
class _Current:
    version: int
    expires_at: float
    text: Rendition
    openmetrics: Rendition
    names_are_legacy: bool


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


def encode_families(families: Iterable[Metric]) -> list[FamilyPart]:
    return [encode_family(f.name, f.documentation, f.type, f.unit, f.samples) for f in families]


class _Registry(CollectorRegistry):
    """A registry that remembers which collectors are live self-metrics (everything but the snapshots)."""

    def __init__(self) -> None:
        super().__init__(auto_describe=True)
        self.live: list[Any] = []

    def register(self, collector: Any) -> None:
        super().register(collector)
        if not isinstance(collector, _StoreCollector):
            self.live.append(collector)

    def unregister(self, collector: Any) -> None:
        super().unregister(collector)
        if collector in self.live:
            self.live.remove(collector)


class SnapshotStore:
    """Holds snapshots and the exposition made from them; thread-safe, cheap to read."""

    def __init__(self, max_age: float, clock: Callable[[], float] = time.time) -> None:
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()  # guards the fields below; held only for swaps
        self._build_lock = threading.Lock()  # one rendition built at a time
        self._snapshots: dict[SnapshotKey, Snapshot] = {}
        self._encoded: dict[SnapshotKey, _Encoded] = {}
        self._version = 0
        self._current: _Current | None = None
        self._queued = False
        self._worker: ThreadPoolExecutor | None = None
        self._fallback: dict[tuple[int, str], Rendition] = {}
        self.registry = _Registry()
        self.registry.register(_StoreCollector(self))

    # --- writers ---------------------------------------------------------------

    def publish(self, key: SnapshotKey, families: Iterable[Metric]) -> None:
        """Replace the snapshot of one (collector, target) with a complete new one; it is encoded in the background."""
        snapshot = Snapshot(tuple(families), self._clock())
        with self._lock:
            self._snapshots[key] = snapshot
            self._version += 1
        self._kick()

    def drop(self, key: SnapshotKey) -> None:
        """Forget the snapshot of a (collector, target) that no longer runs (a reload removed it)."""
        with self._lock:
            if self._snapshots.pop(key, None) is None:
                return
            self._version += 1
        self._kick()

    def touch(self) -> None:
        """Mark the exposition stale (live self-metrics moved) without a new snapshot."""
        with self._lock:
            self._version += 1
        self._kick()

    def snapshot(self, key: SnapshotKey) -> Snapshot | None:
        """When the snapshot of `key` was published; its families only until it is encoded (`registry` has them)."""
        with self._lock:
            return self._snapshots.get(key)

    def _kick(self) -> None:
        """Queue one background rebuild unless one is already queued (publishes in a burst share it)."""
        with self._lock:
            if self._queued:
                return
            self._queued = True
            if self._worker is None:
                # The worker holds the GIL while it encodes; a short switch interval hands it back to the
                # event loop within half a millisecond, so scrapes served meanwhile stay fast.
                sys.setswitchinterval(min(sys.getswitchinterval(), _SWITCH_INTERVAL))
                self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="exposition")
            worker = self._worker
        worker.submit(self._rebuild_in_background)

    def _rebuild_in_background(self) -> None:
        with self._lock:
            self._queued = False
        try:
            self.refresh()
        except Exception:  # the last good rendition stays; the next change tries again
            log.exception("rendering the exposition failed")

    def close(self) -> None:
        """Stop the background worker (waits for a rebuild in progress)."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(wait=True)

    # --- building a rendition --------------------------------------------------

    def _stale(self, current: _Current | None) -> bool:
        return current is None or current.version != self._version or self._clock() >= current.expires_at

    def refresh(self) -> None:
        """Bring the rendition up to date: encode changed snapshots only, then reassemble."""
        with self._build_lock:
            now = self._clock()
            with self._lock:
                if not self._stale(self._current):
                    return
                for key in [k for k, s in self._snapshots.items() if now - s.published_at > self.max_age]:
                    del self._snapshots[key]
                version = self._version
                snapshots = dict(self._snapshots)
            encoded = {}
            for key, snapshot in snapshots.items():
                previous = self._encoded.get(key)
                encoded[key] = previous if previous is not None and previous.snapshot is snapshot else _encode(snapshot)
            live = encode_families(f for collector in list(self.registry.live) for f in collector.collect())
            expires_at = min((s.published_at for s in snapshots.values()), default=float("inf")) + self.max_age
            current = _assemble(version, expires_at, list(encoded.values()), live)
            with self._lock:
                # Once encoded, a snapshot keeps its bytes only: the families are the larger copy of the same data.
                for key, snapshot in snapshots.items():
                    if snapshot.families and self._snapshots.get(key) is snapshot:
                        light = self._snapshots[key] = Snapshot((), snapshot.published_at)
                        encoded[key] = replace(encoded[key], snapshot=light)
                self._encoded = encoded
                self._current = current
                self._fallback = {}

    # --- readers ---------------------------------------------------------------

    def current(self, accept_header: str | None, accept_gzip: bool = False) -> Rendition | None:
        """The last finished rendition in the asked format, without waiting; None before the first one.

        Queues a rebuild when the rendition is out of date (e.g. a snapshot passed max_age).
        """
        current = self._current
        if current is None or self._stale(current):
            self._kick()
        if current is None:
            return None
        content_type, escaping, is_openmetrics = _negotiate(accept_header or "")
        if escaping not in _SAME_AS_DEFAULT or (escaping != openmetrics.UNDERSCORES and not current.names_are_legacy):
            return self._fallback.get((current.version, content_type))
        rendition = current.openmetrics if is_openmetrics else current.text
        if rendition.content_type != content_type:
            rendition = Rendition(content_type, rendition.chunks, rendition.gzip_chunks)
        return rendition

    def render(self, accept_header: str | None, accept_gzip: bool = False) -> Rendition:
        """The up-to-date rendition in the asked format, built in the calling thread if needed."""
        if self._stale(self._current):
            self.refresh()
        rendition = self.current(accept_header, accept_gzip)
        if rendition is None:  # a rare escaping: prometheus_client renders it, once per version
            rendition = self._render_with_prometheus_client(accept_header or "")
        return rendition

    def _render_with_prometheus_client(self, accept_header: str) -> Rendition:
        encoder, content_type = choose_encoder(accept_header)
        current = self._current
        assert current is not None
        body = encoder(self.registry)
        rendition = Rendition(content_type, (body,), tuple(gzip_pieces.join([gzip_pieces.compress(body)])))
        self._fallback[(current.version, content_type)] = rendition
        return rendition

    def _live_families(self) -> list[Metric]:
        """Every fresh snapshot's families; those already encoded are parsed back from their OpenMetrics bytes."""
        with self._lock:
            snapshots = list(self._snapshots.items())
            encoded = dict(self._encoded)
        now = self._clock()
        families: list[Metric] = []
        for key, snapshot in snapshots:
            if now - snapshot.published_at > self.max_age:
                continue
            if snapshot.families or key not in encoded or encoded[key].snapshot is not snapshot:
                families.extend(snapshot.families)
            else:
                families.extend(_parsed(encoded[key].parts))
        return merge_families(families)


def _parsed(parts: Iterable[FamilyPart]) -> list[Metric]:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    text = b"".join(assemble(parts, openmetrics=True)).decode()
    return list(text_string_to_metric_families(text))  # type: ignore[no-untyped-call]


def _encode(snapshot: Snapshot) -> _Encoded:
    parts = tuple(encode_families(snapshot.families))
    pieces = {}
    for part in parts:
        for data in (part.lines, part.text_lines):
            if data is not None and len(data) >= _OWN_PIECE:
                pieces[id(data)] = gzip_pieces.compress(data)
    return _Encoded(snapshot, parts, pieces)


def _assemble(version: int, expires_at: float, encoded: list[_Encoded], live: list[FamilyPart]) -> _Current:
    parts = [part for e in encoded for part in e.parts] + live
    pieces: dict[int, gzip_pieces.Piece] = {}
    for e in encoded:
        pieces.update(e.pieces)
    legacy = all(part.names_are_legacy for part in parts)
    text = _rendition(_negotiate("")[0], assemble(parts, openmetrics=False), pieces)
    om = _rendition(_negotiate("application/openmetrics-text")[0], assemble(parts, openmetrics=True), pieces)
    return _Current(version, expires_at, text, om, legacy)


def _rendition(content_type: str, chunks: list[bytes], pieces: Mapping[int, gzip_pieces.Piece]) -> Rendition:
    # The gzip body is joined once per rendition: it is small (a few % of the text), and one write per scrape
    # costs the event loop far less than one per piece.
    gzipped = b"".join(gzip_pieces.join(_gzip_pieces(chunks, pieces)))
    return Rendition(content_type, tuple(_joined(chunks)), (gzipped,))


def _runs(chunks: list[bytes], alone: Callable[[bytes], bool]) -> Iterator[tuple[bool, list[bytes]]]:
    """Consecutive chunks as (stands alone, [chunk]) or (False, [a run of chunks that do not])."""
    run: list[bytes] = []
    for chunk in chunks:
        if alone(chunk):
            if run:
                yield False, run
                run = []
            yield True, [chunk]
        else:
            run.append(chunk)
    if run:
        yield False, run


def _joined(chunks: list[bytes]) -> Iterator[bytes]:
    for alone, run in _runs(chunks, lambda chunk: len(chunk) >= _JOIN_BELOW):
        yield run[0] if alone else b"".join(run)


def _gzip_pieces(chunks: list[bytes], pieces: Mapping[int, gzip_pieces.Piece]) -> Iterator[gzip_pieces.Piece]:
    for alone, run in _runs(chunks, lambda chunk: id(chunk) in pieces):
        yield pieces[id(run[0])] if alone else _small_piece(b"".join(run))


# Runs of small chunks (mostly family headers between two large parts) repeat from one rendition to the next.
_SMALL_PIECES: dict[bytes, gzip_pieces.Piece] = {}


def _small_piece(data: bytes) -> gzip_pieces.Piece:
    piece = _SMALL_PIECES.get(data)
    if piece is None:
        piece = gzip_pieces.compress(data)
        if len(data) < _OWN_PIECE:
            if len(_SMALL_PIECES) >= 8192:  # bounded: forget all and start again
                _SMALL_PIECES.clear()
            _SMALL_PIECES[data] = piece
    return piece


_NEGOTIATED: dict[str, tuple[str, str, bool]] = {}


def _negotiate(accept_header: str) -> tuple[str, str, bool]:
    """(content type, name escaping, is OpenMetrics) that prometheus_client's choose_encoder picks; memoised."""
    found = _NEGOTIATED.get(accept_header)
    if found is None:
        encoder, content_type = choose_encoder(accept_header)
        escaping = getattr(encoder, "keywords", {}).get("escaping", openmetrics.UNDERSCORES)
        found = (content_type, escaping, content_type.startswith("application/openmetrics-text"))
        if len(_NEGOTIATED) < 256:  # a bounded memo: clients send few distinct headers
            _NEGOTIATED[accept_header] = found
    return found


class _StoreCollector:
    """Feeds the snapshots into the registry (for prometheus_client's encoders and get_sample_value)."""

    def __init__(self, store: SnapshotStore) -> None:
        self._store = store

    def collect(self) -> Iterable[Metric]:
        return self._store._live_families()

    def describe(self) -> Iterable[Metric]:
        return []
