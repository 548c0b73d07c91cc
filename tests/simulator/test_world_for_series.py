"""--demo.series N: the simulated world grows by organisations, about SERIES_PER_ORG series each."""

from __future__ import annotations

import pytest

from exporter.simulator.config import SERIES_PER_ORG, SimulatorConfig, world_for_series


@pytest.mark.parametrize("series", [1, 1_000, 10_000, 100_000, 1_000_000])
def test_world_size_follows_the_series_asked_for(series: int) -> None:
    config = SimulatorConfig.demo(**world_for_series(series))
    assert len(config.orgs) == max(1, round(series / SERIES_PER_ORG))
    assert len(set(config.orgs)) == len(config.orgs)
    if len(config.orgs) > 1:
        assert config.insights_cache_buckets * 300 >= 24 * 3600  # still holds the collector's 24 h lookback


def test_small_worlds_are_the_plain_demo() -> None:
    assert SimulatorConfig.demo(**world_for_series(1_000)) == SimulatorConfig.demo()


def test_series_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        world_for_series(0)
