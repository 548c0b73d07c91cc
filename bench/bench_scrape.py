"""How much a scrape costs: render time for a fresh snapshot, then cached scrapes over real HTTP.

    .venv/bin/python bench/bench_scrape.py [--series 50000] [--scrapes 200]

Prints figures; asserts nothing. A scrape after the first is served from the
cached rendition, so its cost should not grow with the series count.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import time

import httpx

from exporter.metricspec import MetricSpec
from exporter.server import create_app, serve
from exporter.store import SnapshotStore
from exporter.telemetry import ExporterMetrics

SPEC = MetricSpec(
    "bench", "github_bench_requests", "counter", "Benchmark series.", ("org", "actor_id", "route"), "bench"
)


def fill(store: SnapshotStore, series: int) -> None:
    orgs = 10
    per_org = series // orgs
    for o in range(orgs):
        family = SPEC.new()
        for i in range(per_org):
            family.add_metric([f"org-{o}", str(i // 50), f"/repos/:owner/:repo/route-{i % 50}"], i * 1.5)
        store.publish(("bench", f"org-{o}"), [family])


async def main(series: int, scrapes: int) -> None:
    store = SnapshotStore(max_age=3600)
    ExporterMetrics(store.registry)
    fill(store, series)

    start = time.perf_counter()
    rendition = store.render(None)
    first_render = time.perf_counter() - start
    start = time.perf_counter()
    store.render(None, accept_gzip=True)
    gzip_time = time.perf_counter() - start

    app = create_app(store, readiness=lambda: (True, "ready"))
    server = await serve(app, "127.0.0.1:0")
    latencies = []
    try:
        async with httpx.AsyncClient(headers={"Accept-Encoding": "gzip"}) as client:
            for _ in range(scrapes):
                t0 = time.perf_counter()
                response = await client.get(f"{server.url}/metrics")
                latencies.append(time.perf_counter() - t0)
                assert response.status_code == 200
    finally:
        await server.stop()

    latencies.sort()
    print(f"series                  {series}")
    print(f"exposition bytes        {len(rendition.body)} (gzip {len(gzip.compress(rendition.body))})")
    print(f"first render            {first_render * 1000:.1f} ms")
    print(f"first gzip              {gzip_time * 1000:.1f} ms")
    print(f"cached scrape p50       {statistics.median(latencies) * 1000:.2f} ms over {scrapes} HTTP scrapes")
    print(f"cached scrape p99       {latencies[int(len(latencies) * 0.99) - 1] * 1000:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=50_000)
    parser.add_argument("--scrapes", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.series, args.scrapes))
