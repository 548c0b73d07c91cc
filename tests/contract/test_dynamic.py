"""Dynamic mode: Prism makes up every answer from the description's schemas (a seed each); nothing may crash.

For each seed the daemon runs as a user runs it (`python -m exporter`, every collector) until it is ready (every
collector has finished a run) against Prism behind the harness proxy, twice: with a github.com-style
`github.api_url`, and with a GHES-style one for the collectors that only GHES has (the proxy strips the /api/v3
prefix). Random data may break GitHub's business rules (an export of another type than asked, a report day that is
not a date): such runs fail and are counted, which is allowed. Not allowed: a traceback, a "collector crashed",
/metrics not answering or failing `promtool check metrics`, and any request Prism finds invalid.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from exporter.collectors import COLLECTORS
from exporter.github.deployment import Deployment
from exporter.simulator import RunningSimulator
from tests.contract.conftest import serve
from tests.contract.harness import GHES_PREFIX, ContractProxy, Exchange
from tests.contract.rig import ENTERPRISE, ORG, TOKEN
from tests.hostile import Daemon
from tests.tools import promtool_check_metrics

SEEDS = ("1", "42", "20260611")
DEPLOYMENTS = (Deployment.GITHUB_COM, Deployment.GHES)  # together, they have every collector's endpoints
READY_WITHIN = 60.0  # seconds for every collector to finish its first run


@dataclass
class DynamicRun:
    seed: str
    log: str
    metrics: list[str]  # one scrape per deployment
    exchanges: list[Exchange]


def config(proxy: ContractProxy, deployment: Deployment) -> dict[str, Any]:
    every = {"interval": "1m"}  # one run each: the rate-limit budget stretches the intervals far beyond the test
    return {
        "github": {"api_url": proxy.url + (GHES_PREFIX if deployment is Deployment.GHES else ""), "token": TOKEN,
                   "timeout": "5s", "max_retries": 0, "max_rate_limit_wait": "1s"},
        "targets": {"orgs": [ORG], "enterprises": [ENTERPRISE], "teams": [f"{ORG}/platform"],
                    "repositories": [f"{ORG}/website"]},
        "collectors": {
            **{name: every for name in COLLECTORS},
            "api_insights": {**every, "users": ["octocat"]},
            "repo_traffic": {**every, "discover": [ORG]},
            "billing": {**every, "poll_timeout": "1s"},
            "billing_usage": {**every, "organizations": True},
            "copilot_usage": {**every, "enabled": True},
        },
    }


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed-{s}" for s in SEEDS])
def dynamic(request: pytest.FixtureRequest, contract_description: Path, downloads: RunningSimulator,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamicRun]:
    seed = request.param
    for proxy in serve(contract_description, downloads, seed):
        logs, metrics = [], []
        for deployment in DEPLOYMENTS:
            daemon = Daemon(tmp_path_factory.mktemp(f"dynamic-{seed}-{deployment}"), config(proxy, deployment))
            try:
                deadline = time.monotonic() + READY_WITHIN
                while httpx.get(daemon.url + "/-/ready", timeout=5).status_code != 200:
                    assert time.monotonic() < deadline, f"not every collector ran within {READY_WITHIN} s"
                    time.sleep(0.2)
                metrics.append(daemon.scrape())
            finally:
                daemon.stop()
            logs.append(daemon.output())
        yield DynamicRun(seed, "\n".join(logs), metrics, list(proxy.exchanges))


def failures(log: str) -> Counter[tuple[str, str]]:
    """Failed runs by (collector, error), from the daemon's JSON log."""
    out: Counter[tuple[str, str]] = Counter()
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "collector run" and entry.get("outcome") == "failure":
            out[entry["collector"], str(entry.get("error"))[:120]] += 1
    return out


def test_nothing_crashes(dynamic: DynamicRun) -> None:
    assert "Traceback" not in dynamic.log, dynamic.log[-4000:]
    assert "collector crashed" not in dynamic.log, dynamic.log[-4000:]
    ran = {json.loads(line).get("collector") for line in dynamic.log.splitlines()
           if line.startswith("{") and '"collector run"' in line}
    assert ran >= set(COLLECTORS), f"never ran: {set(COLLECTORS) - ran}"
    counted = failures(dynamic.log)
    print(f"\nseed {dynamic.seed}: {sum(counted.values())} counted failures")
    for (collector, error), n in sorted(counted.items()):
        print(f"  {n:3d} {collector}: {error}")


def test_metrics_pass_promtool(dynamic: DynamicRun) -> None:
    for metrics in dynamic.metrics:
        assert "github_exporter_collector_success" in metrics
        promtool_check_metrics(metrics)


def test_no_request_violations(dynamic: DynamicRun) -> None:
    assert len(dynamic.exchanges) > len(COLLECTORS)
    found = [f"{e}: {v}" for e in dynamic.exchanges for v in e.violations]
    assert not found, f"Prism found {len(found)} request violation(s):\n" + "\n".join(found[:40])
    unknown = {str(e).split("?")[0] for e in dynamic.exchanges if e.prism_error and "/copilot/usage" not in e.path}
    assert not unknown, "asked for what the description does not have:\n" + "\n".join(sorted(unknown))
