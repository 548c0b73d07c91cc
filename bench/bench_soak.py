"""A bounded soak: the daemon against the simulator with GitHub faults cycling and 8 scrapers, for N seconds.

    .venv/bin/python -m bench.bench_soak --seconds 600

Not in CI (it takes ten minutes). Prints scrapes, failed scrapes, RSS and open fds at start and end, and
the collector runs and failures counted, for docs/reliability.md. Load stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import httpx

from exporter.simulator import RunningSimulator, SimulatorConfig
from tests.hostile import Daemon, daemon_config, faults

TOKEN = "ghp_soaktoken0000000000000000000000000"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def total(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--scrapers", type=int, default=8)
    parser.add_argument("--fault-seconds", type=float, default=20)
    args = parser.parse_args()

    with RunningSimulator(config=SimulatorConfig(tokens=(TOKEN,))) as running, \
            RunningSimulator() as elsewhere, tempfile.TemporaryDirectory() as tmp:
        daemon = Daemon(Path(tmp), daemon_config(running.sim, running.url, {"token": TOKEN}, interval="5s"))
        pid = daemon.proc.pid
        time.sleep(10)  # first runs done
        start = {"rss_mb": rss_mb(pid), "fds": fds(pid)}
        counts = {"scrapes": 0, "failed": 0}
        lock = threading.Lock()
        stop = time.monotonic() + args.seconds

        def scraper() -> None:
            with httpx.Client(timeout=10) as client:
                while time.monotonic() < stop:
                    try:
                        ok = client.get(daemon.url + "/metrics").status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    with lock:
                        counts["scrapes"] += 1
                        counts["failed"] += not ok

        threads = [threading.Thread(target=scraper) for _ in range(args.scrapers)]
        for thread in threads:
            thread.start()
        cycle = list(faults(f"{elsewhere.url}/elsewhere", token=TOKEN).items())
        applied = 0
        while time.monotonic() < stop:
            name, switch = cycle[applied % len(cycle)]
            running.sim.reset()
            switch(running.sim)
            applied += 1
            time.sleep(min(args.fault_seconds, max(0.0, stop - time.monotonic())))
        running.sim.reset()
        for thread in threads:
            thread.join()
        last = httpx.get(daemon.url + "/metrics", timeout=10).text
        end = {"rss_mb": rss_mb(pid), "fds": fds(pid)}
        code = daemon.stop()
    print(f"soak: {args.seconds:.0f} s, {args.scrapers} scrapers, {applied} fault periods of "
          f"{args.fault_seconds:.0f} s cycling through {len(cycle)} faults")
    print(f"scrapes {counts['scrapes']}  failed {counts['failed']}")
    print(f"RSS MB start {start['rss_mb']:.0f}  end {end['rss_mb']:.0f}")
    print(f"open fds start {start['fds']}  end {end['fds']}")
    print(f"collector runs {total(last, 'github_exporter_collector_runs_total'):.0f}  "
          f"failed runs {total(last, 'github_exporter_collector_failures_total'):.0f}  "
          f"parse errors {total(last, 'github_exporter_parse_errors_total'):.0f}")
    print(f"exit code {code}")


if __name__ == "__main__":
    main()
