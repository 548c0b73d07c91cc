"""Benchmark: read a 100 MB billing usage report through the collector's real download-and-parse path.

    PYTHONPATH=. python bench/bench_billing_csv.py [--size-mb 100] [--labels repository,username]

Writes a detailed usage report (byte-order mark, CRLF, quoted commas and a quoted
newline now and then) to a temporary file, serves it from a loopback HTTP server
that, like a signed-URL blob store, refuses requests carrying an Authorization
header, and reads it with `exporter.collectors.billing.read_report` through
`GitHubClient.download`. Prints rows/s, MB/s, the peak RSS of the process and,
in a second pass, the peak of Python allocations under tracemalloc. It prints
figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.server
import os
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

from prometheus_client import CollectorRegistry

from exporter.collectors.billing import Export, read_report
from exporter.collectors.billing_csv import BASE_LABELS
from exporter.github.client import GitHubClient
from exporter.settings import GitHubSettings
from exporter.simulator.billing import COLUMNS
from exporter.telemetry import ExporterMetrics

CHUNK = 64 * 1024


def generate(path: Path, size: int) -> int:
    """A detailed report of about `size` bytes, written a batch at a time; returns the number of rows."""
    rows = 0
    centers = ("Platform Engineering", "R&D, Data Science", "Mobile", "")
    skus = (("actions", "actions_linux", "Minutes", 0.008), ("actions", "actions_windows", "Minutes", 0.016),
            ("actions", "actions_storage", "GigabyteHours", 0.000336), ("copilot", "copilot_premium_request",
                                                                         "Requests", 0.04))
    with path.open("wb") as f:
        f.write("\ufeff".encode() + (",".join(COLUMNS["detailed"]) + "\r\n").encode())
        written = f.tell()
        while written < size:
            batch = []
            for _ in range(1000):
                i = rows
                product, sku, unit, price = skus[i % len(skus)]
                quantity = 1 + i % 480
                gross = quantity * price
                discount = gross if i % 5 == 0 else 0.0
                workflow = '".github/workflows/odd ""name"",\r\nwith newline.yml"' if i % 9973 == 0 \
                    else f".github/workflows/ci-{i % 12}.yml"
                center = centers[i % len(centers)]
                batch.append(f"2024-09-{1 + i % 28:02d},{product},{sku},{quantity},{unit},{price},{gross:.4f},"
                             f"{discount:.4f},{gross - discount:.4f},user-{i % 2000},org-{i % 20},repo-{i % 3000},"
                             f'{workflow},"{center}"\r\n')
                rows += 1
            data = "".join(batch).encode()
            f.write(data)
            written += len(data)
    return rows


def serve(path: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if "Authorization" in self.headers:
                self.send_error(403, "Authorization header not allowed on a signed URL")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/csv; charset=utf-8")
            self.send_header("Content-Length", str(path.stat().st_size))
            self.end_headers()
            with path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    self.wfile.write(chunk)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/metered_exports/bench/1.csv"


def rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


async def read_once(url: str, labels: tuple[str, ...]) -> tuple[float, int, int]:
    client = GitHubClient(GitHubSettings(api_url="http://127.0.0.1:1", timeout=60),
                          ExporterMetrics(CollectorRegistry()))
    export = Export("bench", "detailed", "2024-09-01", "2024-09-30", "completed", (url,), None)
    try:
        start = time.perf_counter()
        report = await read_report(client, export, labels)
        return time.perf_counter() - start, report.rows, len(report.totals)
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=100.0)
    parser.add_argument("--labels", default="", help="extra labels, e.g. repository,username")
    args = parser.parse_args()
    labels = (*BASE_LABELS, *(x for x in args.labels.split(",") if x))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "usage.csv"
        t = time.perf_counter()
        rows = generate(path, int(args.size_mb * 1024 * 1024))
        size = path.stat().st_size
        print(f"generated   {size / 1e6:8.1f} MB, {rows:,} rows in {time.perf_counter() - t:.1f} s")
        server, url = serve(path)
        try:
            gc.collect()
            before = rss_mb()
            seconds, parsed, series = asyncio.run(read_once(url, labels))
            after = rss_mb()
            print(f"parsed      {parsed:,} rows into {series:,} series in {seconds:.2f} s: "
                  f"{parsed / seconds:,.0f} rows/s, {size / 1e6 / seconds:.1f} MB/s")
            print(f"peak RSS    {after:.1f} MB (before reading: {before:.1f} MB, file: {size / 1e6:.1f} MB)")

            gc.collect()
            tracemalloc.start()
            seconds, _, _ = asyncio.run(read_once(url, labels))
            current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"tracemalloc peak {peak / 1e6:.2f} MB, still held {current / 1e6:.2f} MB "
                  f"(second pass, {seconds:.2f} s under tracing)")
        finally:
            server.shutdown()
    print(f"python {sys.version.split()[0]}, pid {os.getpid()}")


if __name__ == "__main__":
    main()
