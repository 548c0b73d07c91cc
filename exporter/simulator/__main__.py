"""`python -m exporter.simulator --port 8081`: a local GitHub for humans to poke with curl."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from exporter.simulator.app import Simulator
from exporter.simulator.clock import ShiftedClock
from exporter.simulator.config import SimulatorConfig
from exporter.simulator.server import serve_in_loop, stop_in_loop


def _instant(text: str) -> float:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exporter.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--org", action="append", dest="orgs", help="organisation name (repeatable)")
    parser.add_argument("--token", action="append", dest="tokens", default=[],
                        help="accepted token (repeatable); none given accepts any token")
    parser.add_argument("--app-id", type=int, default=None, help="the GitHub App id JWTs must name")
    parser.add_argument("--demo", action="store_true", help="compressed time: insights data fills within minutes")
    parser.add_argument("--users", type=int, default=None, help="users per organisation")
    parser.add_argument("--actors", type=int, default=None, help="API Insights actors per organisation")
    parser.add_argument("--repos", type=int, default=None, help="repositories per organisation")
    parser.add_argument("--rate-limit", type=int, default=None, dest="rate_limit_budget",
                        help="x-ratelimit-limit per token or installation and hour (default 5000; 100000 with --demo)")
    parser.add_argument("--heavy-tailed", action=argparse.BooleanOptionalAction, default=None,
                        help="most people's tokens idle for hours (default: on with --demo, off without)")
    parser.add_argument("--start", type=_instant, default=None, metavar="TIME",
                        help="the world's clock starts at this ISO 8601 time (UTC) and runs on; default: now")
    args = parser.parse_args(argv)

    options = {"seed": args.seed, "tokens": tuple(args.tokens), "app_id": args.app_id}
    if args.heavy_tailed is not None:
        options["heavy_tailed"] = args.heavy_tailed
    sizes = ("users", "actors", "repos", "rate_limit_budget")
    options.update({k: v for k in sizes if (v := getattr(args, k)) is not None})
    if args.orgs:
        options["orgs"] = tuple(args.orgs)
    config = SimulatorConfig.demo(**options) if args.demo else SimulatorConfig(**options)
    sim = Simulator(config, clock=ShiftedClock(args.start) if args.start is not None else None)

    async def run() -> None:
        server, url = await serve_in_loop(sim, args.host, args.port)
        org = sim.world.orgs[config.orgs[0].lower()]
        print(f"GitHub simulator listening on {url}", flush=True)
        print(f"  try: curl -H 'Authorization: Bearer x' '{url}/orgs/{org.login}/insights/api/summary-stats"
              f"?min_timestamp=2024-01-01T00:00:00Z'", flush=True)
        print(f"  control API: {url}/_sim/state", flush=True)
        try:
            await server.serve_task  # type: ignore[attr-defined]
        finally:
            await stop_in_loop(server)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
