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
from typing import Any

from exporter import __version__, logs
from exporter.collectors import COLLECTORS
from exporter.settings import ConfigError, Settings, load_settings

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
        dest="listen_address",
        default=DEFAULT_LISTEN,
        metavar="ADDR",
        help=f"Address to serve on (default {DEFAULT_LISTEN}).",
    )
    parser.add_argument(
        "--web.telemetry-path",
        dest="telemetry_path",
        default="/metrics",
        metavar="PATH",
        help="Path under which to expose metrics (default /metrics).",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="PATH",
        help="Exporter-toolkit web config: TLS and basic auth.",
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
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    for name in COLLECTORS:
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


def collector_overrides(args: argparse.Namespace) -> dict[str, Any]:
    chosen = {name: getattr(args, f"collector_{name}") for name in COLLECTORS}
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


def load(args: argparse.Namespace) -> Settings:
    overrides = flag_overrides(args)
    settings = load_settings(args.config_file, overrides)
    if not args.demo:
        check_runnable(settings)
    return settings


def check_runnable(settings: Settings) -> None:
    """What a valid file can still lack for a real run."""
    problems = []
    if not settings.github.has_credentials:
        problems.append("github.token: no credentials: set GITHUB_TOKEN, github.token, github.token_file or github.app")
    enabled = [name for name, cls in COLLECTORS.items() if cls.options_of(settings).enabled]
    if not enabled:
        problems.append("collectors: every collector is disabled")
    elif not any(COLLECTORS[name].targets(settings) for name in enabled):
        problems.append("targets: no enabled collector has a target (add orgs, teams, enterprises or repositories)")
    if problems:
        raise ConfigError("\n".join(problems))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["backfill"]:
        from exporter.backfill import main as backfill_main

        return backfill_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(args.log_level.replace("warn", "warning"), args.log_format)
    try:
        settings = load(args)
        web_config = None
        if args.web_config_file:
            from exporter.webconfig import load_web_config

            web_config = load_web_config(args.web_config_file)
    except ConfigError as exc:
        where = f" in {args.config_file}" if args.config_file else ""
        print(f"{PROG}: configuration error{where}:", file=sys.stderr)
        for line in str(exc).splitlines():
            print(f"  {line}", file=sys.stderr)
        return EXIT_CONFIG
    if settings.github.token:
        logs.register_secret(settings.github.token.get_secret_value())
    if args.config_check:
        print(f"{PROG}: configuration OK")
        return 0

    from exporter.daemon import Daemon, DaemonError

    daemon = Daemon(settings, args, web_config)
    try:
        return asyncio.run(daemon.run())
    except DaemonError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        return 0
