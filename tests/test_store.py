"""SnapshotStore: atomic swaps, one description per metric name, cached rendering, max age."""

from __future__ import annotations

import gzip
import threading
import time
import zlib

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
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


# --- rendering off the scrape path -------------------------------------------


class GatedSamples(list):  # type: ignore[type-arg]
    """Samples whose encoding waits until the test opens the gate: a rebuild caught in the act."""

    def __init__(self, samples: list, gate: threading.Event, entered: threading.Event) -> None:
        super().__init__(samples)
        self.gate, self.entered = gate, entered

    def __iter__(self):  # type: ignore[no-untyped-def]
        self.entered.set()
        assert self.gate.wait(10)
        return super().__iter__()


def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_scrapes_get_the_previous_rendition_while_the_next_is_made() -> None:
    store = SnapshotStore(max_age=60)
    store.publish(("c", "a"), [gauge("github_x", "a", 1)])
    store.refresh()
    before = store.current(None)
    assert before is not None and b'github_x{org="a"} 1.0' in before.body

    gate, entered = threading.Event(), threading.Event()
    slow = gauge("github_x", "a", 2)
    slow.samples = GatedSamples(slow.samples, gate, entered)
    store.publish(("c", "a"), [slow])  # the worker starts encoding and blocks inside
    assert entered.wait(10)
    assert store.current(None) is before  # a scrape now gets the old bytes at once
    gate.set()
    wait_for(lambda: store.current(None) is not before)
    assert b'github_x{org="a"} 2.0' in store.current(None).body
    store.close()


def test_publishing_one_snapshot_reencodes_only_that_snapshot(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import exporter.store

    encoded: list[str] = []
    real = exporter.store.encode_family

    def spy(name, documentation, typ, unit, samples):  # type: ignore[no-untyped-def]
        encoded.extend(s.labels.get("org", "") for s in samples)
        return real(name, documentation, typ, unit, samples)

    monkeypatch.setattr(exporter.store, "encode_family", spy)
    store = SnapshotStore(max_age=60)
    for org in ("a", "b", "c"):
        store.publish(("c", org), [gauge("github_x", org, 1)])
    store.refresh()
    encoded.clear()
    store.publish(("c", "b"), [gauge("github_x", "b", 2)])
    store.refresh()
    assert encoded == ["b"]
    body = store.current(None).body.decode()
    assert body.count("# HELP github_x ") == 1
    assert 'github_x{org="a"} 1.0\ngithub_x{org="b"} 2.0\ngithub_x{org="c"} 1.0' in body
    store.close()


def test_a_scrape_never_mixes_two_versions_of_one_snapshot() -> None:
    # Many families per snapshot, all carrying the run number: every scrape must show one run number
    # per snapshot, while a writer publishes as fast as it can and the worker rebuilds in the background.
    store = SnapshotStore(max_age=60)
    names = [f"github_f{i}" for i in range(20)]
    store.publish(("c", "other"), [gauge(name, "other", 0) for name in names])

    def run(n: int) -> list:
        return [gauge(name, "a", n) for name in names]

    store.publish(("c", "a"), run(0))
    store.refresh()
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            store.publish(("c", "a"), run(n))
            time.sleep(0.0005)

    thread = threading.Thread(target=writer)
    thread.start()
    seen_runs: set[float] = set()
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            for accept, gz in ((None, False), (OPENMETRICS, True)):
                rendition = store.current(accept, gz)
                body = gzip.decompress(rendition.gzipped) if gz else rendition.body
                found = samples(body)
                runs = {v for (name, labels), v in found.items() if labels == (("org", "a"),)}
                assert len(runs) == 1, runs
                assert len(found) == 2 * len(names)
                seen_runs |= runs
    finally:
        stop.set()
        thread.join()
        store.close()
    assert len(seen_runs) > 3  # the scrapes really ran against a moving store


def test_gzip_body_is_one_member_any_client_decodes() -> None:
    store = SnapshotStore(max_age=60)
    for org in range(5):
        family = GaugeMetricFamily("github_big", "Big.", labels=["org", "i"])
        for i in range(2000):
            family.add_metric([f"org-{org}", str(i)], i)
        store.publish(("c", str(org)), [family])
    rendition = store.render(OPENMETRICS, accept_gzip=True)
    decoder = zlib.decompressobj(zlib.MAX_WBITS | 16)  # as httpx decodes: one member only
    assert decoder.decompress(rendition.gzipped) == rendition.body
    assert decoder.eof and decoder.unused_data == b""
    assert len(rendition.gzipped) < len(rendition.body) / 5


def test_encoded_snapshots_keep_bytes_only_and_the_registry_still_reads_them() -> None:
    store = SnapshotStore(max_age=60)
    info = InfoMetricFamily("github_thing", "An info metric.", labels=["org"])
    info.add_metric(["a"], {"version": 'v"1'})
    counter = CounterMetricFamily("github_requests", "Requests.", labels=["org"])
    counter.add_metric(["a"], 7)
    store.publish(("c", "a"), [info, counter])
    store.refresh()
    assert store.snapshot(("c", "a")).families == ()  # the encoded bytes are the only copy now
    assert store.registry.get_sample_value("github_requests_total", {"org": "a"}) == 7
    assert store.registry.get_sample_value("github_thing_info", {"org": "a", "version": 'v"1'}) == 1
    store.close()
