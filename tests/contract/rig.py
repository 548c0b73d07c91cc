"""One collector family built as the daemon builds it (assembly.build_collectors), run against a ContractProxy.

Each family gets its own client, scheduler and store, and its own fixed clock, so a static run can stand on the
day the description's examples describe.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from exporter.assembly import build_collectors
from exporter.collectors import COLLECTORS
from exporter.github.client import GitHubClient
from exporter.github.deployment import Deployment
from exporter.scheduler import CollectorScheduler
from exporter.settings import load_settings
from exporter.simulator.routing import parse_iso
from exporter.store import SnapshotStore
from exporter.telemetry import ExporterMetrics
from tests.contract.harness import GHES_PREFIX, ContractProxy, Exchange

TOKEN = "ghp_contractsuite"
ORG, ENTERPRISE = "octo-demo", "octo-enterprise"  # the simulator's, so its download links match
Samples = dict[str, list[tuple[dict[str, str], float]]]  # metric name -> (labels, value) of each sample


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def settings_for(proxy: ContractProxy, family: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Only `family` enabled, on the simulator's targets, with short waits; `overrides` on top."""
    # github.com's routes at the root; a family that only GHES has under /api/v3
    api_url = proxy.url + ("" if Deployment.GITHUB_COM in COLLECTORS[family].deployments else GHES_PREFIX)
    base: dict[str, Any] = {
        "github": {"api_url": api_url, "token": TOKEN, "timeout": "10s", "max_retries": 0,
                   "max_rate_limit_wait": "1s"},
        "targets": {"orgs": [ORG], "enterprises": [ENTERPRISE]},
        "collectors": {name: {"enabled": name == family} for name in COLLECTORS},
    }
    return merged(base, overrides)


@dataclass
class Outcome:
    """What one family's runs did: success per run, the exchanges with Prism, and /metrics afterwards."""

    family: str
    runs: list[bool]
    exchanges: list[Exchange]
    samples: Samples = field(default_factory=dict)
    text: str = ""


class ContractRig:
    def __init__(self, proxy: ContractProxy, family: str, at: str, overrides: dict[str, Any]) -> None:
        self.proxy = proxy
        self.family = family
        now = parse_iso(at)
        self.clock = lambda: now
        self.settings = load_settings(None, settings_for(proxy, family, overrides))
        self.store = SnapshotStore(max_age=30 * 86400.0, clock=self.clock)
        self.metrics = ExporterMetrics(self.store.registry)
        self.client = GitHubClient(self.settings.github, self.metrics, clock=self.clock)
        self.scheduler = CollectorScheduler(self.store, self.metrics)
        self.collectors = build_collectors(self.settings, self.client, self.clock)
        assert self.collectors, f"{family}: no collector built from {overrides}"
        for collector in self.collectors:
            self.scheduler.add(collector, collector.options.interval)

    async def run(self, times: int = 1) -> list[bool]:
        results = []
        for _ in range(times):
            for key in self.scheduler.jobs:
                results.append(await self.scheduler.run_once(key))
        return results

    def render(self) -> str:
        return self.store.render(None).body.decode()

    async def outcome(self, runs: list[bool], mark: int) -> Outcome:
        text = self.render()
        samples: Samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
        await self.client.aclose()
        return Outcome(self.family, runs, self.proxy.since(mark), samples, text)


async def run_family(proxy: ContractProxy, family: str, at: str, overrides: dict[str, Any],
                     times: int = 1) -> Outcome:
    rig = ContractRig(proxy, family, at, overrides)
    mark = proxy.mark()
    runs = await rig.run(times)
    return await rig.outcome(runs, mark)
