"""The heavy-tailed world: a few busy tokens, most idle for hours; bots always on; the default world unchanged."""

from __future__ import annotations

from exporter.simulator.insights import Insights
from exporter.simulator.routing import parse_iso
from exporter.simulator.world import World

DAY_START = parse_iso("2024-09-17T00:00:00Z")
ORG = "octo-demo"


def hourly_activity(world: World) -> dict[int, int]:
    """Per actor id: hours of one complete day with any request."""
    traffic = Insights(world, lag_min=0, lag_full=0).traffic(ORG)
    assert traffic is not None
    active: dict[int, int] = {}
    for actor, cells in zip(traffic.actors, traffic.actor_ranges, strict=True):
        buckets = traffic.series(cells, DAY_START, DAY_START + 86400, DAY_START + 2 * 86400)
        hours = {start // 3600 for start, total, _ in buckets if total}
        active[actor.id] = len(hours)
    return active


def test_a_few_tokens_busy_most_idle_for_hours_bots_always_on() -> None:
    world = World(1, (ORG,), users=40, actors=100, apps=3, heavy_tailed=True)
    org = world.org(ORG)
    assert org is not None
    hours = hourly_activity(world)
    people = [a for a in org.actors if a.type != "installation" and not a.noisy]
    bots = [a for a in org.actors if a.type == "installation"]
    assert all(hours[a.id] == 24 for a in bots)
    busy = [a for a in people if hours[a.id] >= 20]
    idle = [a for a in people if hours[a.id] <= 8]
    assert 0 < len(busy) < len(people) / 3, "a few tokens are busy all day"
    assert len(idle) > len(people) / 2, "most are idle for most hours"


def test_the_default_world_is_active_every_hour() -> None:
    world = World(1, (ORG,))
    org = world.org(ORG)
    assert org is not None and all(a.activity == 1.0 for a in org.actors)
