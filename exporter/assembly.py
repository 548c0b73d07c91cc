"""Which collectors run, for which targets, with which settings: the start-up the daemon and backfill share.

It sits between the runners (daemon, backfill) and the collectors so that
neither runner reaches into the other and the command line stays on top.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from exporter.collectors import COLLECTORS, Collector, deployed_targets
from exporter.github.client import GitHubClient
from exporter.github.deployment import Deployment
from exporter.settings import ConfigError, Settings, load_settings
from exporter.sharding import Sharder

DEMO_INTERVAL = "15s"
DEMO_RANKING_INTERVAL = "1m"  # API Insights rankings: compressed like the intervals, so the followed set moves
DEMO_TOKEN = "demo-token"


def demo_settings(
    settings_file: str | None, api_url: str, world_targets: dict[str, list[str]], flags: dict[str, Any]
) -> Settings:
    """The configuration a demo runs with: the simulator's targets, short intervals, a dummy token."""
    overrides: dict[str, Any] = {"github": {"api_url": api_url, "token": DEMO_TOKEN, "max_rate_limit_wait": 30}}
    if settings_file is None:
        overrides["targets"] = world_targets
        overrides["collectors"] = {name: {"interval": DEMO_INTERVAL} for name in COLLECTORS}
        overrides["collectors"]["api_insights"]["ranking_interval"] = DEMO_RANKING_INTERVAL
        overrides["collectors"]["copilot_usage"]["enabled"] = True  # off by default; the simulator still answers it
    for name, value in flags.get("collectors", {}).items():
        overrides.setdefault("collectors", {}).setdefault(name, {}).update(value)
    if "sharding" in flags:
        overrides["sharding"] = flags["sharding"]
    return load_settings(settings_file, overrides)


def build_collectors(
    settings: Settings, client: GitHubClient, clock: Callable[[], float] = time.time
) -> list[Collector]:
    """A collector per enabled family and target this replica owns.

    Families that shard their own work (sharded_by_target False) get every target.
    """
    sharder = Sharder.from_settings(settings)
    collectors: list[Collector] = []
    for collector_cls in COLLECTORS.values():
        if not collector_cls.options_of(settings).enabled:
            continue
        for target in deployed_targets(collector_cls, settings):
            if sharder.owns(target) or not collector_cls.sharded_by_target:
                collectors.append(collector_cls(client, settings, target, clock=clock))
    return collectors


def load_runnable_settings(config_file: str | None, overrides: dict[str, Any]) -> Settings:
    """The file and environment with the flags' overrides, checked for a real run (raises ConfigError)."""
    settings = load_settings(config_file, overrides)
    check_runnable(settings)
    return settings


def same_setup(collector: Collector, old: Settings, new: Settings) -> bool:
    """Whether a reload can keep this collector as it is: its section, sharding and GitHub access unchanged."""
    cls = type(collector)
    return cls.options_of(old) == cls.options_of(new) and old.sharding == new.sharding and old.github == new.github


def check_runnable(settings: Settings) -> None:
    """What a valid file can still lack for a real run: credentials, an enabled collector, a target."""
    problems = []
    if not settings.github.has_credentials:
        problems.append("github.token: no credentials: set GITHUB_TOKEN, github.token, github.token_file or github.app")
    enabled = [name for name, cls in COLLECTORS.items() if cls.options_of(settings).enabled]
    if not enabled:
        problems.append("collectors: every collector is disabled")
    elif not any(deployed_targets(COLLECTORS[name], settings) for name in enabled):
        if Deployment.of(settings.github.api_url) is Deployment.GHES:  # the GHES-only collectors need no target
            works = ", ".join(name for name, cls in COLLECTORS.items() if Deployment.GHES in cls.deployments)
            problems.append(f"collectors: github.api_url is a GHES instance, where only these work: {works}")
        else:
            problems.append("targets: no enabled collector has a target (add orgs, teams, enterprises or repositories)")
    if problems:
        raise ConfigError("\n".join(problems))
