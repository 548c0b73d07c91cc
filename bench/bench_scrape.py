"""What a scrape costs from 1k to 1M series, through the real daemon while its collectors keep publishing.

    bench/scrape [--series 1000,10000,100000,1000000] [--seconds 5]

For each N it starts `github-insights-exporter --demo --demo.series N` (a process of
its own), waits until every collector has run, then scrapes `/metrics` with 1 and 8
concurrent clients (text, text+gzip, OpenMetrics, OpenMetrics+gzip) and prints
p50/p99 latency, CPU per scrape (the daemon's CPU during the run, less its idle rate
while collectors publish), RSS, and the time to `/-/healthy`. The same exposition,
parsed back into families, is then served by prometheus_client's `make_asgi_app` (a
process of its own) under the same load, and both encoders and the store's publish
path are timed in this process on those families. When `wrk` is on PATH (Debian:
`apt-get install wrk`), each load is run a second time from wrk, a C load generator
that leaves the two cores to the exporter rather than to a Python client. Prints
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
MODES = {  # name: (Accept, gzip)
    "text": (None, False),
    "text+gzip": (None, True),
    "om": (OPENMETRICS, False),
    "om+gzip": (OPENMETRICS, True),
}
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    latencies: list[float]
    bodies: int
    cpu: float  # daemon CPU seconds during the run
    wall: float
    lengths: set[int]

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


@dataclass
class WrkRun(Run):
    """A run driven by wrk, which reports percentiles rather than every latency."""

    percentiles: dict[float, float] | None = None  # quantile: milliseconds

    def p(self, q: float) -> float:
        assert self.percentiles is not None
        return self.percentiles[q]


# wrk prints its own summary; this adds one machine-readable line (microseconds) from the same histogram.
_WRK_REPORT = """done = function(summary, latency, requests)
  io.write(string.format("wrk-result %d %d %d\\n", summary.requests, latency:percentile(50), latency:percentile(99)))
end
"""


async def wrk_load(url: str, pid: int, mode: str, concurrency: int, seconds: float) -> WrkRun:
    """The same load as `scrape_load`, from wrk (C, one process): the load generator costs far less CPU."""
    accept, gzipped = MODES[mode]
    headers = ["-H", f"Accept-Encoding: {'gzip' if gzipped else 'identity'}"]
    if accept:
        headers += ["-H", f"Accept: {accept}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_REPORT)
    try:
        cpu0, wall0 = cpu_seconds(pid), time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            "wrk", f"-t{min(2, concurrency)}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "-s", script.name,
            *headers, url, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await proc.communicate()
        cpu, wall = cpu_seconds(pid) - cpu0, time.perf_counter() - wall0
    finally:
        os.unlink(script.name)
    line = next(x for x in out.decode().splitlines() if x.startswith("wrk-result"))
    requests, p50, p99 = (int(x) for x in line.split()[1:])
    return WrkRun([], requests, cpu, wall, set(), {0.5: p50 / 1e3, 0.99: p99 / 1e3})


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> tuple[float, float]:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


async def fetch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """One GET on a kept-alive connection; returns the body's size. Raw HTTP/1.1 so the client stays cheap."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status, _, rest = head.partition(b"\r\n")
    assert b" 200 " in status, status
    headers = dict(line.split(b":", 1) for line in rest.strip().split(b"\r\n"))
    headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
    if b"content-length" in headers:
        remaining = size = int(headers[b"content-length"])
        while remaining:
            remaining -= len(await reader.read(min(remaining, 1 << 20)))
        return size
    size = 0  # chunked (prometheus_client's ASGI app sends no length)
    while True:
        chunk_size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if chunk_size == 0:
            await reader.readuntil(b"\r\n")
            return size
        await reader.readexactly(chunk_size + 2)
        size += chunk_size


async def scrape_load(url: str, pid: int, mode: str, concurrency: int, seconds: float, max_requests: int) -> Run:
    accept, gzipped = MODES[mode]
    parsed = httpx.URL(url)
    host, port = parsed.host, parsed.port
    coding = "gzip" if gzipped else "identity"
    lines = [f"GET {parsed.path} HTTP/1.1", f"Host: {host}", f"Accept-Encoding: {coding}"]
    if accept:
        lines.append(f"Accept: {accept}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    latencies: list[float] = []
    lengths: set[int] = set()
    deadline = time.perf_counter() + seconds

    async def scraper() -> None:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
        try:
            while time.perf_counter() < deadline and len(latencies) < max_requests:
                start = time.perf_counter()
                size = await fetch(reader, writer, request)
                latencies.append(time.perf_counter() - start)
                lengths.add(size)
        finally:
            writer.close()

    cpu0, wall0 = cpu_seconds(pid), time.perf_counter()
    await asyncio.gather(*(scraper() for _ in range(concurrency)))
    return Run(latencies, len(latencies), cpu_seconds(pid) - cpu0, time.perf_counter() - wall0, lengths)


def wait_http(url: str, timeout: float, ok: int = 200) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            if httpx.get(url, timeout=max(5.0, timeout - (time.perf_counter() - start))).status_code == ok:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise TimeoutError(url)


def series_of(body: bytes) -> int:
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


class Daemon:
    """`github-insights-exporter --demo --demo.series N` on a free port, or the synthetic stand-in."""

    def __init__(self, series: int, port: int, synthetic: bool) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.started = time.perf_counter()
        if synthetic:
            command = [__file__, "--serve-synthetic", str(series), "--port", str(port)]
        else:
            command = ["-m", "exporter", "--demo", "--demo.series", str(series),
                       "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "error"]  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, *command], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Reference:
    """prometheus_client's make_asgi_app under uvicorn, serving the families parsed from a saved exposition."""

    def __init__(self, exposition: Path, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-reference", str(exposition), "--port", str(port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:  # busy rendering a huge exposition
            self.proc.kill()
            self.proc.wait(10)


SNAPSHOT_SERIES = 10_000


def synthetic_snapshot(org: int, run: int) -> list:  # type: ignore[type-arg]
    """What an API Insights run of one big org looks like: 10k route series in 4 families."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    labels = ["actor_id", "actor_type", "http_method", "org", "route"]
    families = [
        CounterMetricFamily("github_bench_route_requests", "Requests by route (synthetic).", labels=labels),
        CounterMetricFamily("github_bench_route_rate_limited_requests", "Rate limited (synthetic).", labels=labels),
        GaugeMetricFamily("github_bench_route_window_requests", "Requests in the window (synthetic).", labels=labels),
        GaugeMetricFamily("github_bench_route_last_request_timestamp_seconds", "Last request.", labels=labels),
    ]
    for i in range(SNAPSHOT_SERIES // len(families)):
        values = [str(1_000_000 + i // 25), "installation", "GET", f"octo-{org:04d}", f"/repos/:owner/:repo/r{i % 25}"]
        families[0].add_metric(values, float(run * 1000 + i))
        families[1].add_metric(values, float(run + i % 7))
        families[2].add_metric(values, float(i % 977))
        families[3].add_metric(values, 1.7e9 + run * 15 + i)
    return families


def serve_synthetic(series: int, port: int) -> None:
    """The exporter's store, self-metrics and server, with synthetic collectors republishing one org per second."""
    from exporter.http.app import create_app
    from exporter.http.serve import serve
    from exporter.http.thread import ServingThread
    from exporter.store import SnapshotStore
    from exporter.telemetry import ExporterMetrics

    async def run() -> None:
        store = SnapshotStore(max_age=3600)
        ExporterMetrics(store.registry)
        orgs = max(1, series // SNAPSHOT_SERIES)
        for org in range(orgs):
            store.publish(("bench", f"octo-{org:04d}"), synthetic_snapshot(org, 0))
        http = ServingThread()  # as the daemon serves: the collectors' loop is not the server's
        server = await http.run(serve(create_app(store, readiness=lambda: (True, "")), f"127.0.0.1:{port}"))
        for run in range(1, 1_000_000):  # a collector run every second, each org in turn, built on this loop
            await asyncio.sleep(1)
            org = run % orgs
            store.publish(("bench", f"octo-{org:04d}"), synthetic_snapshot(org, run))
        await http.run(server.stop())
        http.close()

    asyncio.run(run())


def families_from(body: bytes) -> list:  # type: ignore[type-arg]
    from prometheus_client.parser import text_string_to_metric_families

    return list(text_string_to_metric_families(body.decode()))


def serve_reference(exposition: Path, port: int) -> None:
    import uvicorn
    from prometheus_client import CollectorRegistry, make_asgi_app

    families = families_from(exposition.read_bytes())

    class Frozen:
        def collect(self) -> list:  # type: ignore[type-arg]
            return families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Frozen())
    uvicorn.run(make_asgi_app(registry), host="127.0.0.1", port=port, log_level="error", access_log=False)


def encoder_figures(body: bytes) -> dict[str, float]:
    """Full encode, ours against generate_latest, and publishing one changed 10k-series snapshot into a full store."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import generate_latest
    from prometheus_client.metrics_core import Metric

    from exporter.exposition import assemble
    from exporter.store import SnapshotStore, encode_families

    families = families_from(body)
    # Families whose samples carry an `org` label are split per org, as the collectors publish them.
    snapshots: dict[str, list[Metric]] = defaultdict(list)
    for family in families:
        by_org: dict[str, Metric] = {}
        for sample in family.samples:
            org = sample.labels.get("org", "")
            part = by_org.get(org)
            if part is None:
                part = by_org[org] = Metric(family.name, family.documentation, family.type, family.unit)
                snapshots[org].append(part)
            part.samples.append(sample)

    class Frozen:
        def collect(self) -> list:  # type: ignore[type-arg]
            return families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Frozen())
    start = time.perf_counter()
    reference = generate_latest(registry)
    reference_time = time.perf_counter() - start
    start = time.perf_counter()
    ours = b"".join(assemble(encode_families(families), openmetrics=False))
    ours_time = time.perf_counter() - start
    assert ours == reference, "encoders disagree"

    store = SnapshotStore(max_age=3600)
    for org, org_families in snapshots.items():
        store.publish(("bench", org), org_families)
    start = time.perf_counter()
    store.refresh()
    first_build = time.perf_counter() - start

    def changed(run: int) -> list[Metric]:
        family = Metric("github_bench_changed", "A 10k-series snapshot that changes every run.", "gauge")
        for i in range(10_000):
            family.add_sample("github_bench_changed", {"org": "bench", "actor_id": str(i)}, float(run * i))
        return [family]

    store.publish(("bench", "changed"), changed(0))
    store.refresh()
    publish_times = []
    for run in range(1, 6):
        families_of_run = changed(run)
        before = store.current(None)
        start = time.perf_counter()
        store.publish(("bench", "changed"), families_of_run)
        while store.current(None) is before:  # the worker thread swaps the new rendition in
            time.sleep(0.0005)
        publish_times.append(time.perf_counter() - start)
    store.close()
    return {
        "generate_latest_ms": reference_time * 1000,
        "ours_ms": ours_time * 1000,
        "first_build_ms": first_build * 1000,
        "publish_10k_ms": statistics.median(publish_times) * 1000,
        "snapshots": len(snapshots),
    }


def print_run(label: str, run: Run, idle_cpu_rate: float) -> None:
    net = max(0.0, run.cpu - idle_cpu_rate * run.wall)
    seen = "(wrk)" if isinstance(run, WrkRun) else f"renditions seen {len(run.lengths)}"
    print(
        f"  {label:<34} n={run.bodies:<5} p50 {run.p(0.5):9.2f} ms  p99 {run.p(0.99):9.2f} ms  "
        f"cpu/scrape {net / max(run.bodies, 1) * 1000:8.2f} ms  {seen}"
    )


async def bench(
    series: int, seconds: float, port: int, reference_requests: int, synthetic: bool, reference_timeout: float
) -> None:
    world = "synthetic world: store + server, a 10k-series snapshot republished every second" if synthetic else (
        f"github-insights-exporter --demo --demo.series {series}"
    )
    print(f"\n== N = {series} ({world}); load average {os.getloadavg()[0]:.1f}")
    daemon = Daemon(series, port, synthetic)
    try:
        healthy = wait_http(daemon.base + "/-/healthy", 60)
        print(f"  start-up to /-/healthy            {healthy * 1000:.0f} ms")
        ready = wait_http(daemon.base + "/-/ready", 3600)
        # Wait for the first runs' data to be rendered (the rendition follows a publish shortly).
        body = b""
        for _ in range(120):
            body = httpx.get(daemon.base + "/metrics", timeout=600, headers={"Accept-Encoding": "identity"}).content
            if series_of(body) >= 0.8 * series:
                break
            time.sleep(1)
        print(f"  ready after                       {healthy + ready:.1f} s; series {series_of(body)}, "
              f"{len(body) / 1e6:.1f} MB text")  # fmt: skip
        pid = daemon.proc.pid
        cpu0 = cpu_seconds(pid)
        await asyncio.sleep(3)
        idle = (cpu_seconds(pid) - cpu0) / 3
        print(f"  daemon CPU without scrapes        {idle * 100:.0f}% of a core (collectors publishing)")
        results: dict[tuple[str, int], Run] = {}
        for concurrency in (1, 8):
            for mode in MODES:
                run = await scrape_load(daemon.base + "/metrics", pid, mode, concurrency, seconds, 100_000)
                results[mode, concurrency] = run
                print_run(f"exporter {mode}, {concurrency} scraper(s)", run, idle)
                if shutil.which("wrk"):
                    by_wrk = await wrk_load(daemon.base + "/metrics", pid, mode, concurrency, seconds)
                    print_run("  same load from wrk", by_wrk, idle)
        rss, peak = rss_mb(pid)
        print(f"  daemon RSS                        {rss:.0f} MB (peak {peak:.0f} MB; with the in-process simulator)")
    finally:
        daemon.stop()

    with tempfile.NamedTemporaryFile(suffix=".prom", delete=False) as saved:
        saved.write(body)
    reference = Reference(Path(saved.name), port + 1)
    try:
        try:
            wait_http(reference.base + "/metrics", reference_timeout)
        except TimeoutError:
            print(f"  make_asgi_app                     no answer within {reference_timeout:.0f} s: not measured")
            raise
        pid = reference.proc.pid
        for concurrency in (1, 8):
            for mode in ("text+gzip", "text"):
                url = reference.base + "/metrics"
                run = await scrape_load(url, pid, mode, concurrency, seconds, reference_requests)
                ours = results[mode, concurrency]
                print_run(f"make_asgi_app {mode}, {concurrency} scraper(s)", run, 0.0)
                print(f"    ratio make_asgi_app / exporter: p50 {run.p(0.5) / ours.p(0.5):.0f}x, "
                      f"p99 {run.p(0.99) / ours.p(0.99):.0f}x")  # fmt: skip
        rss, peak = rss_mb(pid)
        print(f"  make_asgi_app RSS                 {rss:.0f} MB (peak {peak:.0f} MB)")
    except TimeoutError:
        pass
    finally:
        reference.stop()
        os.unlink(saved.name)

    print_encoder_figures(body)


def synthetic_body(series: int) -> bytes:
    """The text exposition of the synthetic world, as the exporter would serve it."""
    from exporter.store import SnapshotStore

    store = SnapshotStore(max_age=3600)
    for org in range(max(1, series // SNAPSHOT_SERIES)):
        store.publish(("bench", f"octo-{org:04d}"), synthetic_snapshot(org, 0))
    body = store.render(None).body
    store.close()
    return body


def print_encoder_figures(body: bytes) -> None:
    figures = encoder_figures(body)
    print(f"  in-process, {series_of(body)} series:")
    print(
        f"  full encode: exporter {figures['ours_ms']:.0f} ms, generate_latest {figures['generate_latest_ms']:.0f} ms "
        f"({figures['generate_latest_ms'] / figures['ours_ms']:.1f}x faster), byte-identical"
    )
    print(f"  store: first build of {figures['snapshots']} snapshots {figures['first_build_ms']:.0f} ms; "
          f"publish of a changed 10k-series snapshot to new rendition {figures['publish_10k_ms']:.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default="1000,10000,100000", help="comma-separated N list (add 1000000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load run")
    parser.add_argument("--port", type=int, default=19_900)
    parser.add_argument("--reference-requests", type=int, default=40, help="cap per make_asgi_app run (it is slow)")
    parser.add_argument(
        "--synthetic", action="store_true", help="synthetic snapshots instead of the demo (sizes it cannot reach here)"
    )
    parser.add_argument("--reference-timeout", type=float, default=300, help="seconds make_asgi_app may take to answer")
    parser.add_argument("--encoders-only", action="store_true", help="only the in-process encode and publish timings")
    parser.add_argument("--serve-reference", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--serve-synthetic", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_reference:
        serve_reference(args.serve_reference, args.port)
        return
    if args.serve_synthetic:
        serve_synthetic(args.serve_synthetic, args.port)
        return
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    print(f"bench/scrape  commit {commit.stdout.strip()}  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    for n in (int(x) for x in args.series.split(",")):
        if args.encoders_only:
            print_encoder_figures(synthetic_body(n))
            continue
        asyncio.run(
            bench(n, args.seconds, args.port, args.reference_requests, args.synthetic, args.reference_timeout)
        )


if __name__ == "__main__":
    main()
