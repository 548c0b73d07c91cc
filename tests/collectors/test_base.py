"""The collector base: typed targets that keep each collector's spelling, a client bound to the family,
the clock passed through, and history samples made from the families a run builds."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.core import GaugeMetricFamily

from exporter.collectors import COLLECTORS, deployed_targets
from exporter.collectors.base import HistoricalSample, Kind, Target
from exporter.github.client import Response
from exporter.github.errors import MalformedResponseError
from exporter.metricspec import MetricSpec
from exporter.settings import load_settings

SETTINGS = load_settings(None, {
    "github": {"api_url": "http://127.0.0.1:1", "token": "ghp_base"},
    "targets": {"orgs": ["octo"], "enterprises": ["ent"], "teams": ["octo/platform", "ent/all"],
                "repositories": ["octo/r"]},
    "collectors": {"billing_usage": {"organizations": True}, "copilot_usage": {"enabled": True},
                   "repo_traffic": {"discover": ["someone"]}, "server_statistics": {"orgs": ["acme"]}},
})
GHES = load_settings(None, {"github": {"api_url": "http://127.0.0.1:1/api/v3", "token": "ghp_base"}})

# (name as the `target` label spells it, kind, owner, team) per collector older than Target: the spellings it kept.
EXPECTED: dict[str, list[tuple[str, Kind, str, str | None]]] = {
    "api_insights": [("octo", Kind.ORGANIZATION, "octo", None)],
    "billing": [("ent", Kind.ENTERPRISE, "ent", None)],
    "billing_usage": [("enterprise:ent", Kind.ENTERPRISE, "ent", None),
                      ("organization:octo", Kind.ORGANIZATION, "octo", None)],
    "copilot": [("octo", Kind.ORGANIZATION, "octo", None), ("enterprise:ent", Kind.ENTERPRISE, "ent", None)],
    "copilot_seats": [("octo", Kind.ORGANIZATION, "octo", None), ("enterprise:ent", Kind.ENTERPRISE, "ent", None)],
    "copilot_usage": [("octo", Kind.ORGANIZATION, "octo", None),
                      ("octo/platform", Kind.ORGANIZATION, "octo", "platform")],
    "ghes_stats": [],
    "repo_traffic": [("someone", Kind.ORGANIZATION, "someone", None),
                     ("targets.repositories", Kind.REPOSITORIES, "targets.repositories", None)],
    "server_statistics": [("ent", Kind.ENTERPRISE, "ent", None), ("acme", Kind.ORGANIZATION, "acme", None)],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_targets_keep_their_label_spelling(name: str) -> None:
    got = [(str(t), t.kind, t.owner, t.team) for t in deployed_targets(COLLECTORS[name], SETTINGS)]
    assert got == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(COLLECTORS))
def test_targets_are_typed(name: str) -> None:
    """Every collector, old or new: its targets are Target values, each naming an owner."""
    targets = deployed_targets(COLLECTORS[name], SETTINGS)
    assert [type(t) for t in targets] == [Target] * len(targets)
    assert all(t.owner for t in targets)


def test_a_ghes_instance_is_its_host() -> None:
    (target,) = COLLECTORS["ghes_stats"].targets(GHES)
    assert (target, target.kind, target.owner) == ("127.0.0.1", Kind.INSTANCE, "127.0.0.1")


def test_the_plan_is_split_by_the_target_owner() -> None:
    copilot = COLLECTORS["copilot_usage"]
    team = next(t for t in copilot.targets(SETTINGS) if t.team)
    assert list(copilot.owners(SETTINGS, team)) == ["octo"]
    usage = COLLECTORS["billing_usage"]
    assert [list(usage.owners(SETTINGS, t)) for t in usage.targets(SETTINGS)] == [["ent"], ["octo"]]


class Recording:
    """Answers every GET with an empty list and writes down the family each request names."""

    def __init__(self) -> None:
        self.families: list[str] = []
        self.parse_errors: list[tuple[str, str]] = []

    async def get(self, route: str, *, family: str = "", **_: Any) -> Response:
        self.families.append(family)
        return Response(200, [], httpx.Headers())

    def count_parse_error(self, collector: str, endpoint: str) -> None:
        self.parse_errors.append((collector, endpoint))


async def test_the_client_is_bound_to_the_family_and_the_clock_passed_through() -> None:
    github = Recording()
    cls = COLLECTORS["api_insights"]
    collector = cls(github, SETTINGS, "octo", clock=lambda: 1726675200.0)  # type: ignore[arg-type]
    assert collector.target.kind is Kind.ORGANIZATION and collector.options is SETTINGS.collectors.api_insights
    assert collector._clock() == 1726675200.0
    await collector.client.get("/orgs/{org}/insights/api/time-stats", org="octo")
    assert github.families == ["api_insights"]

    def unreadable(row: Any) -> Any:
        raise MalformedResponseError("bad", endpoint="/e")

    assert collector.readable_rows([1], unreadable, "/e") == []
    assert github.parse_errors == [("api_insights", "/e")]


def test_a_target_name_that_is_not_configured_is_refused() -> None:
    with pytest.raises(ValueError, match="copilot: no configured target is named 'enterprise:nope'"):
        COLLECTORS["copilot"](Recording(), SETTINGS, "enterprise:nope")  # type: ignore[arg-type]


def test_history_samples_from_families() -> None:
    spec = MetricSpec("x", "github_x", "gauge", "X.", ("org", "team"), "GET /x: x")
    family = GaugeMetricFamily("github_x", "X.", labels=["team", "org"])  # label order of the family, not the spec
    family.add_metric(["t", "o"], 3.0)
    assert HistoricalSample.from_families([family], {"github_x": spec}, 60.0) == [
        HistoricalSample(spec, ("o", "t"), 3.0, 60.0)
    ]


def test_options_are_the_collectors_own_section() -> None:
    for name, cls in COLLECTORS.items():
        assert cls.options_of(SETTINGS) is getattr(SETTINGS.collectors, name)
