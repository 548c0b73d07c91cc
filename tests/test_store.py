"""SnapshotStore: atomic swaps, one description per metric name, cached rendering, max age."""

from __future__ import annotations

import gzip
import threading

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from exporter.store import SnapshotStore

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def gauge(name: str, label: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, f"help of {name}", labels=["org"])
    family.add_metric([label], value)
    return family


def samples(body: bytes) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_same_metric_from_two_targets_is_described_once() -> None:
    store = SnapshotStore(max_age=60)
    store.publish(("c", "a"), [gauge("github_x", "a", 1)])
    store.publish(("c", "b"), [gauge("github_x", "b", 2)])
    body = store.render(None).body.decode()
    assert body.count("# HELP github_x ") == 1
    assert body.count("# TYPE github_x gauge") == 1
    assert 'github_x{org="a"} 1.0' in body and 'github_x{org="b"} 2.0' in body


def test_publish_replaces_the_whole_snapshot() -> None:
    store = SnapshotStore(max_age=60)
    store.publish(("c", "a"), [gauge("github_x", "a", 1), gauge("github_y", "a", 1)])
    store.publish(("c", "a"), [gauge("github_x", "a", 5)])
    found = samples(store.render(None).body)
    assert found[("github_x", (("org", "a"),))] == 5
    assert not any(name == "github_y" for name, _ in found)


def test_rendition_is_cached_until_a_change() -> None:
    store = SnapshotStore(max_age=60)
    store.publish(("c", "a"), [gauge("github_x", "a", 1)])
    first = store.render(None)
    assert store.render(None) is first
    store.publish(("c", "a"), [gauge("github_x", "a", 2)])
    second = store.render(None)
    assert second is not first and b"2.0" in second.body
    store.touch()
    assert store.render(None) is not second


def test_openmetrics_and_gzip() -> None:
    store = SnapshotStore(max_age=60)
    counter = CounterMetricFamily("github_requests", "h", labels=["org"])
    counter.add_metric(["a"], 3)
    store.publish(("c", "a"), [counter])
    om = store.render(OPENMETRICS, accept_gzip=True)
    assert om.content_type.startswith("application/openmetrics-text")
    assert om.body.endswith(b"# EOF\n")
    assert gzip.decompress(om.gzipped) == om.body
    text = store.render("text/plain")
    assert text.content_type.startswith("text/plain; version=0.0.4")
    assert b"github_requests_total{org=\"a\"} 3.0" in text.body


def test_snapshot_older_than_max_age_is_dropped() -> None:
    clock = Clock()
    store = SnapshotStore(max_age=60, clock=clock)
    store.publish(("c", "old"), [gauge("github_x", "old", 1)])
    clock.now += 30
    store.publish(("c", "new"), [gauge("github_x", "new", 1)])
    assert b'org="old"' in store.render(None).body
    clock.now += 31  # old is 61 s old, new 31 s
    body = store.render(None).body
    assert b'org="old"' not in body and b'org="new"' in body


def test_readers_never_see_half_a_snapshot() -> None:
    store = SnapshotStore(max_age=60)
    stop = threading.Event()
    torn: list[dict] = []

    def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            store.publish(("c", "a"), [gauge("github_x", "a", n), gauge("github_y", "a", n)])

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(300):
            found = samples(store.render(None).body)
            x, y = found.get(("github_x", (("org", "a"),))), found.get(("github_y", (("org", "a"),)))
            if x != y:
                torn.append(found)
    finally:
        stop.set()
        thread.join()
    assert not torn
