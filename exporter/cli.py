"""Command line: flags in the Prometheus ecosystem's style, then hand over to the daemon.

Exit codes: 0 success, 1 runtime failure (e.g. the listen address is taken),
2 bad flags or configuration. Configuration problems print one line per field,
never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from exporter import __version__, logs
from exporter.http.guard import DEFAULT_MAX_REQUESTS
from exporter.settings import CollectorsSettings, ConfigError, Settings, load_settings

# One flag pair per `collectors.NAME` section; read from the settings model so that parsing flags does not
# import every collector (start-up serves /-/healthy before the collectors are loaded).
COLLECTOR_NAMES = tuple(CollectorsSettings.model_fields)

PROG = "github-insights-exporter"
DEFAULT_LISTEN = ":9877"
EXIT_RUNTIME = 1
EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Prometheus exporter for GitHub's statistics REST endpoints.",
        epilog="Subcommand: '%(prog)s backfill --help' writes history as OpenMetrics for promtool.",
    )
    parser.add_argument("--config.file", dest="config_file", metavar="PATH", help="YAML configuration file.")
    parser.add_argument(
        "--config.check",
        dest="config_check",
        action="store_true",
        help="Validate the configuration and exit (0 good, 2 bad).",
    )
    parser.add_argument(
        "--web.listen-address",
        dest="listen_addresses",
        action="append",
        metavar="ADDR",
        help=f"Address to serve on; repeat it to serve on several (default {DEFAULT_LISTEN}).",
    )
    parser.add_argument(
        "--web.telemetry-path",
        dest="telemetry_path",
        default="/metrics",
        metavar="PATH",
        help="Path under which to expose metrics (default /metrics).",
    )
    parser.add_argument(
        "--web.max-requests",
        dest="max_requests",
        type=int,
        default=DEFAULT_MAX_REQUESTS,
        metavar="N",
        help=f"Concurrent HTTP connections served; more get 503 (0: no limit; default {DEFAULT_MAX_REQUESTS}).",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="PATH",
        help="Exporter-toolkit web config: TLS and basic auth.",
    )
    parser.add_argument(
        "--web.disable-exporter-metrics",
        dest="disable_exporter_metrics",
        action="store_true",
        help="Leave out the process_* and python_* metrics of the exporter process itself.",
    )
    parser.add_argument(
        "--web.enable-lifecycle",
        dest="enable_lifecycle",
        action="store_true",
        help="Enable POST /-/reload (as Prometheus' flag of that name); SIGHUP always reloads.",
    )
    parser.add_argument(
        "--log.level",
        dest="log_level",
        default="info",
        choices=["debug", "info", "warn", "error"],
        help="Log level (default info).",
    )
    parser.add_argument(
        "--log.format",
        dest="log_format",
        default="logfmt",
        choices=["logfmt", "json"],
        help="Log format (default logfmt).",
    )
    parser.add_argument(
        "--shard.index",
        dest="shard_index",
        type=int,
        metavar="N",
        help="This replica's shard, 0-based (default from config, else 0).",
    )
    parser.add_argument(
        "--shard.count",
        dest="shard_count",
        type=int,
        metavar="N",
        help="Number of replicas sharing the targets (default from config, else 1).",
    )
    parser.add_argument(
        "--demo", action="store_true", help="Run against the built-in GitHub simulator; no GitHub account needed."
    )
    parser.add_argument(
        "--demo.series",
        dest="demo_series",
        type=int,
        metavar="N",
        help="With --demo: size the simulated world so the exporter serves about N series (1000 to 1000000).",
    )
    parser.add_argument(
        "--demo.start",
        dest="demo_start",
        metavar="TIME",
        help="With --demo: the simulated world's clock starts at this date or ISO 8601 time (UTC) and runs on, "
        "so the demo shows that day and hour (default: now).",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    for name in COLLECTOR_NAMES:
        parser.add_argument(
            f"--collector.{name}",
            dest=f"collector_{name}",
            action="store_true",
            default=None,
            help=f"Enable the {name} collector.",
        )
        parser.add_argument(
            f"--no-collector.{name}",
            dest=f"collector_{name}",
            action="store_false",
            help=f"Disable the {name} collector.",
        )
    return parser


def listen_addresses(args: argparse.Namespace) -> list[str]:
    """Every --web.listen-address given, or the default one."""
    return list(args.listen_addresses or [DEFAULT_LISTEN])


def collector_overrides(args: argparse.Namespace) -> dict[str, Any]:
    chosen = {name: getattr(args, f"collector_{name}") for name in COLLECTOR_NAMES}
    return {name: {"enabled": value} for name, value in chosen.items() if value is not None}


def flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Settings given as flags; they win over the file and the environment."""
    overrides: dict[str, Any] = {}
    if collectors := collector_overrides(args):
        overrides["collectors"] = collectors
    sharding = {k: v for k, v in (("index", args.shard_index), ("count", args.shard_count)) if v is not None}
    if sharding:
        overrides["sharding"] = sharding
    return overrides


def demo_series_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """--demo.series: longer intervals as the world grows, so collection keeps up on a small machine."""
    if args.demo_series is None:
        return {}
    if not args.demo:
        raise ConfigError("--demo.series: only valid with --demo")
    if not 1 <= args.demo_series <= 10_000_000:
        raise ConfigError(f"--demo.series: {args.demo_series} is not between 1 and 10000000")
    interval = f"{max(15, args.demo_series // 1000)}s"
    return {"collectors": {name: {"interval": interval} for name in COLLECTOR_NAMES}}


def _merged(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Nested mappings merged key by key; `first` wins where both set a value."""
    out = dict(second)
    for key, value in first.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merged(value, out[key]) if both else value
    return out


def load(args: argparse.Namespace) -> Settings:
    overrides = flag_overrides(args)
    demo_series_overrides(args)  # checks the flag before anything starts
    demo_start(args)
    if args.demo:
        return load_settings(args.config_file, overrides)
    from exporter.assembly import load_runnable_settings

    return load_runnable_settings(args.config_file, overrides)


def demo_start(args: argparse.Namespace) -> float | None:
    """--demo.start: the instant the simulated world starts at, or None for the wall clock."""
    if args.demo_start is None:
        return None
    if not args.demo:
        raise ConfigError("--demo.start: only valid with --demo")
    return parse_when(args.demo_start, "--demo.start")


def parse_when(text: str, flag: str) -> float:
    """A date (YYYY-MM-DD, midnight UTC) or an ISO 8601 timestamp."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{flag}: {text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def build_backfill_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} backfill",
        description="Write GitHub's retained history as OpenMetrics for promtool tsdb create-blocks-from openmetrics.",
    )
    parser.add_argument("--config.file", dest="config_file", metavar="PATH")
    parser.add_argument(
        "--from", dest="start", metavar="DATE", help="Start (YYYY-MM-DD or ISO time, UTC); default 24 h before --to."
    )
    parser.add_argument(
        "--to",
        dest="end",
        metavar="DATE",
        help="End (YYYY-MM-DD or ISO time, UTC); default now (with --demo.start, that instant).",
    )
    parser.add_argument(
        "--output", required=True, metavar="FILE", help="Where to write the OpenMetrics text ('-' for stdout)."
    )
    parser.add_argument("--demo", action="store_true", help="Read the history of the built-in GitHub simulator.")
    parser.add_argument(
        "--demo.start",
        dest="demo_start",
        metavar="TIME",
        help="With --demo: the simulated world's clock starts at this date or ISO 8601 time (UTC), "
        "so its history is that of the days before it (default: now).",
    )
    parser.add_argument("--log.level", dest="log_level", default="info", choices=["debug", "info", "warn", "error"])
    parser.add_argument("--log.format", dest="log_format", default="logfmt", choices=["logfmt", "json"])
    return parser


def print_config_error(exc: ConfigError, heading: str) -> int:
    print(f"{heading}:", file=sys.stderr)
    for line in str(exc).splitlines():
        print(f"  {line}", file=sys.stderr)
    return EXIT_CONFIG


def backfill_main(argv: Sequence[str]) -> int:
    args = build_backfill_parser().parse_args(argv)
    logs.configure(args.log_level.replace("warn", "warning"), args.log_format)
    try:
        world_start = demo_start(args)
        now = datetime.now(UTC).timestamp() if world_start is None else world_start
        end = parse_when(args.end, "--to") if args.end else now
        start = parse_when(args.start, "--from") if args.start else end - 86400
        if start >= end:
            raise ConfigError("--from must be before --to")
        settings = None
        if not args.demo:
            settings = load_settings(args.config_file)
            from exporter.assembly import check_runnable

            check_runnable(settings)
            if settings.github.token:
                logs.register_secret(settings.github.token.get_secret_value())
    except ConfigError as exc:
        return print_config_error(exc, f"{PROG} backfill: configuration error")
    from exporter import backfill

    return asyncio.run(
        backfill.run(
            settings, config_file=args.config_file, start=start, end=end, output=args.output, demo_start=world_start
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["backfill"]:
        return backfill_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.max_requests < 0:
        parser.error("--web.max-requests must be 0 (no limit) or more")
    logs.configure(args.log_level.replace("warn", "warning"), args.log_format)
    try:
        settings = load(args)
        web_config = None
        if args.web_config_file:
            from exporter.http.webconfig import load_web_config

            web_config = load_web_config(args.web_config_file)
    except ConfigError as exc:
        where = f" in {args.config_file}" if args.config_file else ""
        return print_config_error(exc, f"{PROG}: configuration error{where}")
    if settings.github.token:
        logs.register_secret(settings.github.token.get_secret_value())
    if settings.github.app is not None and settings.github.app.private_key is not None:
        for line in settings.github.app.private_key.get_secret_value().splitlines():  # any piece of the key
            if "-----" not in line:
                logs.register_secret(line.strip())
    if args.config_check:
        print(f"{PROG}: configuration OK")
        return 0

    from exporter.daemon import Daemon, DaemonError, DaemonOptions

    options = DaemonOptions(
        listen_addresses=tuple(listen_addresses(args)),
        telemetry_path=args.telemetry_path,
        demo=args.demo,
        config_file=args.config_file,
        overrides=_merged(flag_overrides(args), demo_series_overrides(args)),
        enable_lifecycle=args.enable_lifecycle,
        web_config_file=args.web_config_file,
        disable_exporter_metrics=args.disable_exporter_metrics,
        demo_series=args.demo_series,
        demo_start=demo_start(args),
        max_requests=args.max_requests,
    )
    daemon = Daemon(settings, options, web_config)
    try:
        return asyncio.run(daemon.run())
    except DaemonError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        return 0
