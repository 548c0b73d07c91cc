"""Scale-out: N replicas against the simulator together produce every series exactly once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from exporter.assembly import build_collectors
from exporter.github.client import GitHubClient
from exporter.settings import load_settings
from exporter.sharding import Sharder, shard_of
from exporter.simulator import ManualClock, RunningSimulator, SimulatorConfig
from exporter.simulator.routing import parse_iso
from exporter.simulator.server import DemoSimulator
from exporter.telemetry import ExporterMetrics


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSimulator]:
    """The simulator and every collector share one frozen clock, so all replicas read the same world.

    A fixed instant (a weekday afternoon mid-month), not the wall clock: which series exist (weekday
    merges and suggestions, the month's billing days) then does not depend on when the test runs.
    """
    clock = ManualClock(parse_iso("2025-03-12T14:00:00Z"))
    with RunningSimulator(
        config=SimulatorConfig.demo(orgs=("octo-demo", "octo-labs", "octo-ops"), billing_export_delay=0.0), clock=clock
    ) as running:
        yield running


def world_targets(running: RunningSimulator) -> dict[str, list[str]]:
    return DemoSimulator(running.sim, None, running.url).targets()  # type: ignore[arg-type]


TARGET_LABELS = {"org", "team", "repository", "enterprise", "enterprise_or_org"}


def is_per_replica(series: tuple) -> bool:
    """Accounting series of a replica's own share (e.g. repositories it collected): no target label."""
    return not TARGET_LABELS & {name for name, _ in series[1]}


async def series_of_replica(running: RunningSimulator, index: int, count: int) -> dict[tuple, float]:
    settings = load_settings(
        None,
        {
            "github": {"api_url": running.url, "token": "ghp_shardtest"},
            "targets": world_targets(running),
            "sharding": {"index": index, "count": count},
        },
    )
    client = GitHubClient(settings.github, ExporterMetrics(CollectorRegistry()))
    series: dict[tuple, float] = {}
    try:
        for collector in build_collectors(settings, client, clock=running.sim.now):
            for family in await collector.collect():
                for sample in family.samples:
                    key = (sample.name, tuple(sorted(sample.labels.items())))
                    assert key not in series, f"one replica produced {key} twice"
                    series[key] = sample.value
    finally:
        await client.aclose()
    return series


@pytest.mark.parametrize("count", [2, 3])
async def test_replicas_cover_every_series_exactly_once(running: RunningSimulator, count: int) -> None:
    single = await series_of_replica(running, 0, 1)
    assert single
    shards = [await series_of_replica(running, i, count) for i in range(count)]
    union = Counter(s for shard in shards for s in shard)
    assert set(union) == set(single), "replicas together must produce exactly what one replica does"
    twice = [s for s, n in union.items() if n > 1 and not is_per_replica(s)]
    assert not twice, f"series produced by more than one replica: {twice[:5]}"
    for key in (s for s in union if is_per_replica(s) and "repositories" in s[0]):
        assert sum(shard.get(key, 0) for shard in shards) == single[key], f"{key}: replicas' shares must add up"


def test_assignment_is_disjoint_complete_and_stable() -> None:
    targets = [f"org-{i}" for i in range(200)] + [f"octo/repo-{i}" for i in range(300)]
    for count in (1, 2, 3, 7):
        owners = [[t for t in targets if Sharder(i, count).owns(t)] for i in range(count)]
        assert sorted(t for shard in owners for t in shard) == sorted(targets)
        if count > 1:
            sizes = [len(shard) for shard in owners]
            assert min(sizes) > len(targets) / count * 0.7, f"unbalanced shards: {sizes}"
    before = {t: shard_of(t, 5) for t in targets}
    after = {t: shard_of(t, 5) for t in [*targets, "a-new-org", "octo/a-new-repo"]}
    assert all(after[t] == before[t] for t in targets), "adding a target must not move another"
    assert shard_of("Octo-Demo", 5) == shard_of("octo-demo", 5), "GitHub names are case-insensitive"
