"""The fault suite: every collector against every fault GitHub can produce, through the real scheduler and store.

For each pair: /metrics keeps rendering; a collector beside it is unaffected (when the fault is on the
collector's own routes); the fault is never silent (the run fails, or API failures, parse errors or
truncations are counted); the last good data stays until store.max_age and is gone after it; and once
GitHub is healthy again the next run succeeds without a restart. Time is the simulator's ManualClock.
"""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.collectors import COLLECTORS, Collector
from exporter.collectors.billing import BillingCollector
from exporter.github.client import GitHubClient
from exporter.scheduler import CollectorScheduler
from exporter.settings import load_settings
from exporter.simulator import ManualClock, RunningSimulator, SimulatorConfig
from exporter.store import SnapshotStore
from exporter.telemetry import ExporterMetrics
from tests.hostile import GLOBAL_FAULTS, faults

TOKEN = "ghp_faultsuite"
MAX_AGE = 3 * 86400.0
ROUTES = {  # each collector's own routes, as a glob over route templates
    "api_insights": "/orgs/{org}/insights/api/*",
    "server_statistics": "/enterprise-installation/*",
    "repo_traffic": "*repos*",
    "billing": "/enterprises/{enterprise}/settings/billing/*",
    "copilot": "*/copilot/metrics/*",
    "copilot_usage": "*/copilot/usage",
}
BYSTANDER = {name: "copilot_usage" if name == "server_statistics" else "server_statistics" for name in ROUTES}
# Collectors that follow next-page links (api_insights asks for exactly the rows it keeps, in one page).
PAGINATED = {"server_statistics", "repo_traffic", "copilot_usage"}
FAULTS = list(faults("http://127.0.0.1:9/elsewhere"))
# Pairs where the fault cannot reach the collector: it reads no such thing.
NOT_APPLICABLE = {
    ("pagination loop", name) for name in set(ROUTES) - PAGINATED
} | {("next link to another host", name) for name in set(ROUTES) - PAGINATED} | {
    ("bad rows", name) for name in ("billing", "copilot", "copilot_usage")
} | {(fault, name) for fault in ("export failed", "export stuck") for name in set(ROUTES) - {"billing"}} | {
    ("download fails", name) for name in set(ROUTES) - {"billing", "copilot"}
}
# Answers a collector reads as a fact rather than a failure; they are still counted as failed API requests.
NOT_A_FAILED_RUN = {
    ("404", "copilot_usage"), ("410", "copilot_usage"),  # a retired endpoint: ..._endpoint_retired 1
    ("bad rows", "api_insights"), ("bad rows", "server_statistics"),  # rows skipped, the rest kept
    ("export stuck", "billing"),  # given up after export_timeout: export_timeouts_total, previous data kept
    ("export failed", "billing"),  # export_failures_total, previous data kept
}
CASES = [(fault, name) for name in sorted(ROUTES) for fault in FAULTS if (fault, name) not in NOT_APPLICABLE]


@pytest.fixture(scope="module")
def simulator_config() -> SimulatorConfig:
    """The loopback simulator (`running`, tests/conftest.py) in a world without export or insights delays."""
    return SimulatorConfig(billing_export_delay=0.0, insights_lag_min=0.0)


class Rig:
    """Two collectors (one under test, one beside it) on one client, scheduler and store, in simulator time."""

    def __init__(self, running: RunningSimulator, name: str) -> None:
        self.sim = running.sim
        self.clock: ManualClock = running.sim.clock  # type: ignore[assignment]
        settings = load_settings(None, {
            "github": {"api_url": running.url, "token": TOKEN, "timeout": "1s", "max_retries": 0,
                       "max_rate_limit_wait": "1s", "max_response_bytes": 1024 * 1024},
            "targets": {"orgs": ["octo-demo"], "enterprises": ["octo-enterprise"]},
            "collectors": {
                "api_insights": {"top_subjects": 2, "top_actors": 1, "top_routes": 2},
                "repo_traffic": {"discover": ["octo-demo"], "include": ["octo-demo/a*"]},
                "billing": {"poll_timeout": "1s"},
                "copilot_usage": {"enabled": True},
            },
        })
        self.store = SnapshotStore(max_age=MAX_AGE, clock=self.clock)
        self.registry = self.store.registry
        self.metrics = ExporterMetrics(self.registry)
        self.client = GitHubClient(settings.github, self.metrics, clock=self.clock)
        self.scheduler = CollectorScheduler(self.store, self.metrics)
        self.jobs: dict[str, tuple[str, str]] = {}
        for family in (name, BYSTANDER[name]):
            cls = COLLECTORS[family]
            target = cls.targets(settings)[0]
            extra: dict[str, Any] = {"sleep": self._advance} if cls is BillingCollector else {}
            collector: Collector = cls(self.client, settings, target, clock=self.clock, **extra)  # type: ignore[call-arg]
            self.scheduler.add(collector, collector.options.interval)
            self.jobs[family] = (family, target)

    async def _advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    async def run(self) -> dict[str, bool]:
        return {family: await self.scheduler.run_once(key) for family, key in self.jobs.items()}

    def exposition(self) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        """What /metrics serves, parsed (a render that does not parse fails the test)."""
        text = self.store.render(None).body.decode()
        return {
            f.name: {tuple(sorted(s.labels.items())): s.value for s in f.samples}
            for f in text_string_to_metric_families(text)
        }

    def counted(self, family: str) -> float:
        """Everything that says a run met trouble: failed runs, failed requests, skipped rows, cut listings."""
        total = 0.0
        for metric in self.registry.collect():
            for sample in metric.samples:
                if sample.name in ("github_exporter_api_request_failures_total",
                                   "github_exporter_api_truncated_listings_total"):
                    total += sample.value
                elif sample.name in ("github_exporter_collector_failures_total",
                                     "github_exporter_parse_errors_total") and sample.labels["collector"] == family:
                    total += sample.value
                elif sample.name in ("github_billing_export_failures_total", "github_billing_export_timeouts_total"):
                    total += sample.value  # an export GitHub failed or never finished
        return total


def own_series(exposition: dict[str, Any], family: str) -> set[str]:
    prefix = {"api_insights": "github_api_insights_", "server_statistics": "github_enterprise_server_",
              "repo_traffic": "github_repo_traffic_", "billing": "github_billing_usage_",
              "copilot": "github_copilot_", "copilot_usage": "github_copilot_usage_"}[family]
    return {name for name, samples in exposition.items() if name.startswith(prefix) and samples}


@pytest.mark.parametrize(("fault", "name"), CASES, ids=[f"{n}-{f}" for f, n in CASES])
async def test_fault(running: RunningSimulator, fault: str, name: str) -> None:
    sim = running.sim
    rig = Rig(running, name)
    try:
        healthy = await rig.run()
        assert healthy == {name: True, BYSTANDER[name]: True}, healthy
        good = rig.exposition()
        assert own_series(good, name), f"{name} exported nothing when healthy"
        before = rig.counted(name)

        rig.clock.advance(86400)  # a day on: every collector has something new to ask for
        switch = faults("http://127.0.0.1:9/elsewhere", ROUTES[name], TOKEN)[fault]
        switch(sim)
        faulty = await rig.run()
        if fault == "export stuck":  # past collectors.billing.export_timeout (1h): given up and counted
            rig.clock.advance(2 * 3600)
            faulty = await rig.run()
        during = rig.exposition()  # /metrics still renders
        assert rig.counted(name) > before, f"{fault} passed silently through {name}"
        success = during["github_exporter_collector_success"]
        if (fault, name) not in NOT_A_FAILED_RUN:
            assert faulty[name] is False and rig.counted(name) > before
            assert own_series(during, name) >= own_series(good, name), "the last good data was dropped"
            assert [v for k, v in success.items() if ("collector", name) in k] == [0.0]
        if fault not in GLOBAL_FAULTS:
            assert faulty[BYSTANDER[name]] is True, f"{fault} on {name}'s routes broke {BYSTANDER[name]}"

        if faulty[name] is False:
            rig.clock.advance(MAX_AGE)  # still failing, past store.max_age: the stale data goes
            switch(sim)  # (a rate limit's window has reset by now)
            if (await rig.run())[name] is False:
                assert not own_series(rig.exposition(), name), "data older than store.max_age is still served"

        sim.reset()  # GitHub recovers; the same process picks up again
        sim.set_clock(rig.clock() + 3600)
        recovered = await rig.run()
        if fault == "export stuck":
            rig.clock.advance(3600)
            recovered = await rig.run()
        assert recovered[name] is True, f"{name} did not recover from {fault}"
        assert own_series(rig.exposition(), name)
    finally:
        await rig.client.aclose()
