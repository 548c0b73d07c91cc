"""Time from process start to the first 200 from /-/healthy, for the demo daemon.

    .venv/bin/python bench/bench_startup.py [--runs 5] [--series N] [--compare DIR]

Prints each run, the median, and the load average (the figure moves with a busy machine); asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def time_to_healthy(series: int | None, root: Path) -> float:
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", "--demo", *(["--demo.series", str(series)] if series else []),
         "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "error"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while True:
            if proc.poll() is not None or time.perf_counter() - start > 120:
                raise RuntimeError(f"no answer from /-/healthy (exit code {proc.poll()}) in {root}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/healthy", timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--series", type=int, help="--demo.series N (default: the plain demo)")
    parser.add_argument(
        "--compare", type=Path, help="another checkout (e.g. `git archive main | tar -x -C DIR`), run in turn"
    )
    args = parser.parse_args()
    roots = [ROOT] + ([args.compare] if args.compare else [])
    times: dict[Path, list[float]] = {root: [] for root in roots}
    for run in range(args.runs):
        for root in roots:  # interleaved, so both see the same machine load
            times[root].append(time_to_healthy(args.series, root))
            print(f"run {run + 1} {root}: {times[root][-1] * 1000:.0f} ms to /-/healthy")
    for root in roots:
        median = statistics.median(times[root]) * 1000
        print(f"{root}: median {median:.0f} ms over {args.runs} runs")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
