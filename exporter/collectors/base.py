"""The contract every collector follows, so the scheduler can run any of them the same way.

A collector is made once per (family, target) and lives as long as the daemon:
it may keep state between runs (the late-data counters do). `collect()` talks
to GitHub through the shared client and returns a complete list of metric
families for its target; the store swaps them in whole.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from prometheus_client.metrics_core import Metric

from exporter.github.client import GitHubClient
from exporter.settings import CollectorSettings, Settings


class Collector(ABC):
    name: ClassVar[str]  # the key under `collectors:` in the config, and the `collector` label

    def __init__(self, client: GitHubClient, settings: Settings, target: str) -> None:
        self.client = client
        self.settings = settings
        self.target = target

    @classmethod
    def options(cls, settings: Settings) -> CollectorSettings:
        return getattr(settings.collectors, cls.name)

    @classmethod
    @abstractmethod
    def targets(cls, settings: Settings) -> list[str]:
        """The targets this collector runs for, from the `targets:` section."""

    @abstractmethod
    async def collect(self) -> list[Metric]:
        """Fetch and convert; raise on failure so the last good snapshot is kept."""
