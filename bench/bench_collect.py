"""What one round of every collector costs against the simulator: requests and seconds per (collector, target).

    .venv/bin/python bench/bench_collect.py [--rounds 3]

Prints figures; asserts nothing. Later rounds show the effect of ETag
revalidation (304s) and of state kept between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from prometheus_client import CollectorRegistry

from exporter.assembly import build_collectors
from exporter.github.client import GitHubClient, requests_in_run
from exporter.settings import load_settings
from exporter.simulator import RunningSimulator, SimulatorConfig
from exporter.simulator.server import DemoSimulator
from exporter.telemetry import ExporterMetrics


async def main(rounds: int) -> None:
    with RunningSimulator(config=SimulatorConfig.demo()) as running:
        targets = DemoSimulator(running.sim, None, running.url).targets()  # type: ignore[arg-type]
        settings = load_settings(None, {"github": {"api_url": running.url, "token": "ghp_bench"}, "targets": targets})
        registry = CollectorRegistry()
        client = GitHubClient(settings.github, ExporterMetrics(registry))
        collectors = build_collectors(settings, client)
        try:
            for round_no in range(1, rounds + 1):
                print(f"round {round_no}")
                for collector in collectors:
                    counter = [0]
                    token = requests_in_run.set(counter)
                    start = time.perf_counter()
                    families = await collector.collect()
                    elapsed = time.perf_counter() - start
                    requests_in_run.reset(token)
                    series = sum(len(f.samples) for f in families)
                    print(
                        f"  {collector.name:<20} {collector.target:<28} {counter[0]:>4} requests "
                        f"{elapsed * 1000:>8.1f} ms {series:>6} series"
                    )
        finally:
            await client.aclose()
        not_modified = sum(
            s.value
            for f in registry.collect()
            if f.name == "github_exporter_api_not_modified_responses"
            for s in f.samples
            if s.name.endswith("_total")
        )
        print(f"304 answers over all rounds: {not_modified:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
