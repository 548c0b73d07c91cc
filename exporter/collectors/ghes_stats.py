"""GitHub Enterprise Server's own statistics, read from the instance itself: what a GHES admin can get.

Source: GET /enterprise/stats/all on a GHES instance (`github.api_url` https://HOST/api/v3; a site
administrator's token). GitHub.com and GHE.com do not have this endpoint, and GHES does not have the
github.com endpoints most other collectors call (see the README's deployment table), so this
collector runs only when `github.api_url` points at a GHES instance; its target is the host name.

    # HELP github_ghes_repositories Repositories on the server. Source: GET /enterprise/stats/all: repos.total_repos.
    # TYPE github_ghes_repositories gauge
    github_ghes_repositories{host="github.example.com"} 2847.0
    # HELP github_ghes_issues_by_state Issues on the server by state (open, closed). ...
    github_ghes_issues_by_state{host="github.example.com",state="open"} 412.0

The figures are the same `ghe_stats` groups a server uploads through GitHub Connect (the
server_statistics collector), under the same names with `github_ghes_` for
`github_enterprise_server_`, but live: the instance counts them when asked, not once a day.
A field that is missing or null is left out, never read as 0. Every field GHES 3.19's description lists is
mapped (FIELDS); any other shows as github_exporter_unmapped_fields{collector="ghes_stats"}, and one of them
that stops arriving as github_exporter_missing_fields (exporter.drift).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from prometheus_client.metrics_core import Metric

from exporter.collectors import fields
from exporter.collectors.base import Collector, Kind, Target
from exporter.collectors.server_statistics import GHE_STATS
from exporter.drift import Schema
from exporter.github.deployment import Deployment
from exporter.github.errors import MalformedResponseError
from exporter.metricspec import MetricSpec, metric
from exporter.settings import GhesStatsSettings, Settings

ROUTE = "/enterprise/stats/all"


def _on_box(spec: MetricSpec) -> MetricSpec:
    """The GitHub Connect metric's on-box twin: `host` instead of the account and server id, a GHES source."""
    field = spec.source.split(": ghe_stats.", 1)[1]
    return metric(
        __name__,
        spec.name.replace("github_enterprise_server_", "github_ghes_"),
        "gauge",
        spec.description,
        ("host", *spec.labels[2:]),
        f"GET {ROUTE}: {field}",
    )


# Every field of the answer, all mapped and all required by GHES 3.19's description (the tests hold them
# against it: node_modules/@octokit/openapi/generated/ghes-3.19.deref.json, read 2026-12-06).
FIELDS = Schema(
    {f"{group}.{field}" for group, field, _, _ in GHE_STATS},
    required={f"{group}.{field}" for group, field, _, _ in GHE_STATS},
)

SPECS: dict[str, MetricSpec] = {}
for _group, _field, _spec, _extra in GHE_STATS:
    if _spec.name not in SPECS:
        SPECS[_spec.name] = _on_box(_spec)


class GhesStatsCollector(Collector[GhesStatsSettings]):
    """One GHES instance: one request a run."""

    name = "ghes_stats"
    endpoints = ("/enterprise/stats/all",)
    deployments = frozenset({Deployment.GHES})

    @classmethod
    def targets(cls, settings: Settings) -> list[Target]:
        """The instance's host name (the daemon builds this collector only when `github.api_url` is GHES)."""
        url = settings.github.api_url
        return [Target(Kind.INSTANCE, urlsplit(url).hostname or url)]

    async def collect(self) -> list[Metric]:
        response = await self.client.get(ROUTE)
        data = response.data
        if not isinstance(data, dict):
            raise MalformedResponseError(f"{ROUTE}: expected an object of statistics groups", endpoint=ROUTE)
        check = FIELDS.check()
        check.record(data)
        self.client.report_drift(f"{ROUTE} of {self.target}", check)
        families = {name: spec.new() for name, spec in SPECS.items()}
        for group, field, spec, extra in GHE_STATS:
            value = fields.number(data.get(group), field, ROUTE)
            if value is not None:
                families[spec.name].add_metric([self.target, *extra], value)
        return list(families.values())
