"""GitHub Enterprise Server statistics: what each GHES instance uploaded to GitHub through GitHub Connect.

Source: GET /enterprise-installation/{enterprise_or_org}/server-statistics (a personal access token
(classic) with read:enterprise, or read:org for a server connected to an organization; GitHub Apps
cannot call it).

    # HELP github_enterprise_server_info A GHES server that uploads Server Statistics; 1 per server ...
    # TYPE github_enterprise_server_info gauge
    github_enterprise_server_info{enterprise_or_org="octo-enterprise",server_id="062cd719-...",
        host_name="github.octo-enterprise.example",ghes_version="3.14.1",schema_version="20230306"} 1.0
    # HELP github_enterprise_server_collection_timestamp_seconds When the newest collection was taken ...
    # TYPE github_enterprise_server_collection_timestamp_seconds gauge
    # HELP github_enterprise_server_issues_by_state Issues on the server by state ...
    # TYPE github_enterprise_server_issues_by_state gauge
    github_enterprise_server_issues_by_state{enterprise_or_org="octo-enterprise",server_id="062cd719-...",
        state="open"} 5371.0

Targets: every enterprise in `targets.enterprises`, plus the organizations in
`collectors.server_statistics.orgs` (a server can be connected to an
organization account instead). `targets.orgs` is not used: most organizations
have no server connected, and asking for each of them would cost a request
per org and run for nothing.

Each run asks for the collections uploaded since `lookback` ago (`date_start`,
a UTC date) and exports the newest one per `server_id`. Servers upload once a
day, so the values change once a day; `..._collection_timestamp_seconds` says
how old they are (alert when it is more than two days behind). A server
whose last upload is older than `lookback` disappears. Every series carries
`enterprise_or_org` and `server_id`; servers are few, so labels stay bounded.

How each `ghe_stats` group is exported:

- A label where GitHub splits one set into disjoint parts, so that `sum()`
  over it means something: comments by `type` (commit, gist, issue,
  pull_request), gists by `visibility`, hooks by `state` (active, inactive),
  issues and milestones by `state` (open, closed); packages by `visibility`
  and by `owner_type`.
- GitHub's own total of such a split is a metric of its own (`..._gists`,
  `..._issues`, ...), never a label value: the description does not promise
  the parts add up to the total (its example has 3421 issues, 1234 open and
  1222 closed), so neither is derived from the other.
- Separate metrics where the items are different things or overlapping
  subsets: organizations, disabled organizations, teams and team members;
  repositories, root, fork and organization-owned repositories, pushes and
  wikis; users, admins and suspended users (an admin can be suspended); pull
  requests, merged, mergeable and unmergeable ones (merged ones are closed,
  mergeability is about open ones); Pages sites.

A field that is missing or null in a collection is left out (no sample), never
read as 0. GitHub Actions use is also exported as a ratio (GitHub's
percentage / 100) because its denominator is GitHub's, not one PromQL has.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client.metrics_core import Metric

from exporter.collectors import fields
from exporter.collectors.base import NOTHING_OBSERVED, Cadence, Collector, HistoricalSample, Observed, Target, pages
from exporter.drift import Schema
from exporter.github.errors import MalformedResponseError
from exporter.metricspec import MetricSpec, metric
from exporter.settings import ServerStatisticsSettings, Settings

log = structlog.get_logger(__name__)

DEFAULT_PAGE = 30  # GitHub's per_page when none is asked for
ROUTE = "/enterprise-installation/{enterprise_or_org}/server-statistics"
SRC = f"GET {ROUTE}"
DAY = 86400
MAX_RANGE_DAYS = 365
SERVER = ("enterprise_or_org", "server_id")


def _gauge(name: str, description: str, field: str, extra: Iterable[str] = ()) -> MetricSpec:
    return metric(
        __name__, f"github_enterprise_server_{name}", "gauge", description, [*SERVER, *extra], f"{SRC}: {field}"
    )


INFO = metric(
    __name__,
    "github_enterprise_server_info",
    "gauge",
    "A GHES server that uploads Server Statistics, from its newest collection; always 1.",
    [*SERVER, "host_name", "ghes_version", "schema_version"],
    f"{SRC}: server_id, host_name, ghes_version, schema_version",
)
COLLECTED = _gauge(
    "collection_timestamp_seconds",
    "When the newest collection the server uploaded was taken; the other values are from it.",
    "collection_date",
)
CONNECT_FEATURE = _gauge(
    "connect_feature_info",
    "A GitHub Connect feature enabled on the server; always 1.",
    "github_connect.features_enabled[]",
    ["feature"],
)


def _counts(parent: str, extra: tuple[str, ...], rows: Iterable[tuple[str, str, str, tuple[str, ...]]]
            ) -> tuple[tuple[str, MetricSpec, tuple[str, ...]], ...]:
    """Count gauges, a row each: (metric name, HELP, field under `parent`, values). A `{label}` in the field
    splits it: one field and sample per value, labelled with it. Gives each sample's (field, spec, label values)."""
    out: list[tuple[str, MetricSpec, tuple[str, ...]]] = []
    for name, description, field, values in rows:
        split = re.findall(r"\{(\w+)\}", field)
        spec = _gauge(name, description, f"{parent}.{field}", [*extra, *split])
        out += [(field.format_map({split[0]: v}), spec, (v,)) for v in values] if split else [(field, spec, ())]
    return tuple(out)


def _specs(counts: Iterable[tuple[str, MetricSpec, tuple[str, ...]]]) -> tuple[MetricSpec, ...]:
    """The gauges of `_counts`, once each, in their rows' order."""
    return tuple(dict.fromkeys(spec for _, spec, _ in counts))


# Plain counts in ghe_stats ("group.field").
_GHE_COUNTS = _counts("ghe_stats", (), (
    ("comments", "Comments on the server, by what they are on (commit, gist, issue, pull_request).",
     "comments.total_{type}_comments", ("commit", "gist", "issue", "pull_request")),
    ("gists", "Gists on the server, as GitHub totals them.", "gists.total_gists", ()),
    ("gists_by_visibility", "Gists on the server by visibility (private, public).", "gists.{visibility}_gists",
     ("private", "public")),
    ("hooks", "Webhooks on the server, as GitHub totals them.", "hooks.total_hooks", ()),
    ("hooks_by_state", "Webhooks on the server by state (active, inactive).", "hooks.{state}_hooks",
     ("active", "inactive")),
    ("issues", "Issues on the server, as GitHub totals them.", "issues.total_issues", ()),
    ("issues_by_state", "Issues on the server by state (open, closed).", "issues.{state}_issues", ("open", "closed")),
    ("milestones", "Milestones on the server, as GitHub totals them.", "milestones.total_milestones", ()),
    ("milestones_by_state", "Milestones on the server by state (open, closed).", "milestones.{state}_milestones",
     ("open", "closed")),
    ("organizations", "Organizations on the server.", "orgs.total_orgs", ()),
    ("disabled_organizations", "Disabled organizations on the server.", "orgs.disabled_orgs", ()),
    ("teams", "Teams on the server.", "orgs.total_teams", ()),
    ("team_members", "Team memberships on the server.", "orgs.total_team_members", ()),
    ("pages_sites", "GitHub Pages sites on the server.", "pages.total_pages", ()),
    ("pull_requests", "Pull requests on the server.", "pulls.total_pulls", ()),
    ("merged_pull_requests", "Merged pull requests on the server.", "pulls.merged_pulls", ()),
    ("mergeable_pull_requests", "Open pull requests that can be merged.", "pulls.mergeable_pulls", ()),
    ("unmergeable_pull_requests", "Open pull requests that cannot be merged (conflicts).", "pulls.unmergeable_pulls",
     ()),
    ("repositories", "Repositories on the server.", "repos.total_repos", ()),
    ("root_repositories", "Repositories on the server that are not forks.", "repos.root_repos", ()),
    ("fork_repositories", "Repositories on the server that are forks.", "repos.fork_repos", ()),
    ("organization_repositories", "Repositories on the server owned by organizations.", "repos.org_repos", ()),
    ("pushes", "Pushes on the server, as GitHub counts them; grows over time, use delta() not rate().",
     "repos.total_pushes", ()),
    ("wikis", "Repository wikis on the server.", "repos.total_wikis", ()),
    ("users", "User accounts on the server.", "users.total_users", ()),
    ("admin_users", "Site administrators on the server.", "users.admin_users", ()),
    ("suspended_users", "Suspended users on the server.", "users.suspended_users", ()),
))
# (group, field, spec, extra label values) of each: the same groups GHES reports on the box (collectors/ghes_stats.py)
GHE_STATS: tuple[tuple[str, str, MetricSpec, tuple[str, ...]], ...] = tuple(
    (path.partition(".")[0], path.partition(".")[2], spec, extra) for path, spec, extra in _GHE_COUNTS
)

DORMANT_USERS = _gauge(
    "dormant_users", "Users with no activity for the dormancy threshold.", "dormant_users.total_dormant_users"
)
DORMANCY = _gauge(
    "dormancy_threshold_seconds",
    "Inactivity after which the server counts a user as dormant.",
    "dormant_users.dormancy_threshold",
)
ACTIONS_REPOS = _gauge(
    "actions_repositories", "Repositories with GitHub Actions enabled.", "actions_stats.number_of_repos_using_actions"
)
ACTIONS_RATIO = _gauge(
    "actions_repositories_ratio",
    "Share (0-1) of the server's repositories with GitHub Actions enabled, as the server computes it.",
    "actions_stats.percentage_of_repos_using_actions / 100",
)
REGISTRY = _gauge(
    "packages_registry_enabled",
    "1 if GitHub Packages is enabled on the server, else 0.",
    "packages_stats.registry_enabled",
)
REGISTRY_V2 = _gauge(
    "packages_registry_v2_enabled",
    "1 if the beta (v2) package registry is enabled, else 0.",
    "packages_stats.registry_v2_enabled",
)
ECOSYSTEM_STATE = _gauge(
    "packages_ecosystem_state",
    "1 for the ecosystem's current state (enabled, disabled, read_only), 0 for the others.",
    "packages_stats.ecosystems[].enabled",
    ["ecosystem", "state"],
)
# Counts in each entry of packages_stats.ecosystems[], labelled with its name.
_ECOSYSTEM_COUNTS = _counts("packages_stats.ecosystems[]", ("ecosystem",), (
    ("packages_published", "Published packages in the ecosystem.", "published_packages_count", ()),
    ("packages_by_visibility", "Packages in the ecosystem by visibility (private, public, internal).",
     "{visibility}_packages_count", ("private", "public", "internal")),
    ("packages_by_owner_type", "Packages in the ecosystem by owner type (user, organization).",
     "{owner_type}_packages_count", ("user", "organization")),
    ("packages_daily_downloaded", "Packages downloaded in the 24 hours before the collection.",
     "daily_download_count", ()),
    ("packages_daily_updated", "Packages updated in the 24 hours before the collection.", "daily_update_count", ()),
    ("packages_daily_deleted", "Packages deleted in the 24 hours before the collection.", "daily_delete_count", ()),
    ("packages_daily_created", "Packages created in the 24 hours before the collection.", "daily_create_count", ()),
))

SPECS: tuple[MetricSpec, ...] = (
    INFO,
    COLLECTED,
    CONNECT_FEATURE,
    *_specs(_GHE_COUNTS),
    DORMANT_USERS,
    DORMANCY,
    ACTIONS_REPOS,
    ACTIONS_RATIO,
    REGISTRY,
    REGISTRY_V2,
    ECOSYSTEM_STATE,
    *_specs(_ECOSYSTEM_COUNTS),
)
ECOSYSTEM_STATES = {"TRUE": "enabled", "FALSE": "disabled", "READONLY": "read_only"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(second|minute|hour|day|week)s?\s*$", re.IGNORECASE)
_UNIT = {"second": 1, "minute": 60, "hour": 3600, "day": DAY, "week": 7 * DAY}


def _flag(obj: Any, field: str) -> float | None:
    value = fields.get(obj, field)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise MalformedResponseError(f"{ROUTE}: {field} {value!r} is not a boolean", endpoint=ROUTE)
    return 1.0 if value else 0.0


def percentage_ratio(value: Any) -> float | None:
    """GitHub's percentage string ("47.74", "47.74%") as a 0-1 ratio; None when absent or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip().removesuffix("%"))
    except ValueError:
        return None
    return number / 100 if math.isfinite(number) and 0 <= number <= 100 else None


def threshold_seconds(value: Any) -> float | None:
    """A dormancy threshold such as "90 days" in seconds; None when absent or unreadable."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    return float(match.group(1)) * _UNIT[match.group(2).lower()] if match else None


@dataclass(frozen=True)
class Collection:
    server_id: str
    collected_at: float
    data: dict[str, Any]


def collection(item: Any) -> Collection | None:
    """One collection; None for an item without a server or date (ignored), an error for one that is unreadable."""
    if not isinstance(item, dict):
        raise MalformedResponseError(f"{ROUTE}: a collection is not an object", endpoint=ROUTE)
    server_id = item.get("server_id")
    collected_at = fields.timestamp(item, "collection_date", ROUTE) if server_id else None
    if collected_at is None:
        return None
    return Collection(str(server_id), collected_at, item)


def newest_per_server(items: Iterable[Any]) -> list[Collection]:
    """The newest collection of each server, in server_id order; items without a server or date are ignored."""
    return newest_of(collection(item) for item in items)


def newest_of(collections: Iterable[Collection | None]) -> list[Collection]:
    """The newest of each server's collections, in server_id order."""
    newest: dict[str, Collection] = {}
    for found in collections:
        if found is None:
            continue
        if found.server_id not in newest or found.collected_at >= newest[found.server_id].collected_at:
            newest[found.server_id] = found
    return [newest[key] for key in sorted(newest)]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def families_for(account: str, collections: Iterable[Collection]) -> list[Metric]:
    """Every family of this collector, with a sample per server and field present in its collection."""
    families = {spec.name: spec.new() for spec in SPECS}

    def add(spec: MetricSpec, labels: tuple[str, ...], value: float | None) -> None:
        if value is not None:
            families[spec.name].add_metric(list(labels), value)

    for c in collections:
        d = c.data
        server = (account, c.server_id)
        add(
            INFO,
            (*server, _text(d.get("host_name")), _text(d.get("ghes_version")), _text(d.get("schema_version"))),
            1.0,
        )
        add(COLLECTED, server, c.collected_at)
        features = fields.get(d.get("github_connect"), "features_enabled")
        for feature in sorted({str(f) for f in features or () if f}):
            add(CONNECT_FEATURE, (*server, feature), 1.0)

        stats = d.get("ghe_stats")
        stats = stats if isinstance(stats, dict) else {}
        for group, field, spec, extra in GHE_STATS:
            add(spec, (*server, *extra), fields.number(stats.get(group), field, ROUTE))

        dormant = d.get("dormant_users")
        add(DORMANT_USERS, server, fields.number(dormant, "total_dormant_users", ROUTE))
        add(DORMANCY, server, threshold_seconds(fields.get(dormant, "dormancy_threshold")))

        actions = d.get("actions_stats")
        add(ACTIONS_REPOS, server, fields.number(actions, "number_of_repos_using_actions", ROUTE))
        add(ACTIONS_RATIO, server, percentage_ratio(fields.get(actions, "percentage_of_repos_using_actions")))

        packages = d.get("packages_stats")
        add(REGISTRY, server, _flag(packages, "registry_enabled"))
        add(REGISTRY_V2, server, _flag(packages, "registry_v2_enabled"))
        ecosystems = fields.get(packages, "ecosystems")
        seen: set[str] = set()
        for eco in ecosystems or ():
            name = eco.get("name") if isinstance(eco, dict) else None
            if not name or name in seen:
                continue
            seen.add(name)
            state = ECOSYSTEM_STATES.get(str(eco.get("enabled")).upper()) if eco.get("enabled") is not None else None
            if state is not None:
                for value in ECOSYSTEM_STATES.values():
                    add(ECOSYSTEM_STATE, (*server, name, value), 1.0 if value == state else 0.0)
            for field, spec, extra in _ECOSYSTEM_COUNTS:
                add(spec, (*server, name, *extra), fields.number(eco, field, ROUTE))
    return list(families.values())


# Every field of a collection the families above read (the drift signal's known fields; the tests hold them
# against the OpenAPI description). Others show as github_exporter_unmapped_fields{collector="server_statistics"}.
COLLECTION_FIELDS = Schema(
    {
        "server_id", "collection_date", "host_name", "ghes_version", "schema_version",
        "github_connect.features_enabled",
        "dormant_users.total_dormant_users", "dormant_users.dormancy_threshold",
        "actions_stats.number_of_repos_using_actions", "actions_stats.percentage_of_repos_using_actions",
        "packages_stats.registry_enabled", "packages_stats.registry_v2_enabled", "packages_stats.ecosystems[].name",
        "packages_stats.ecosystems[].enabled",
        *(f"ghe_stats.{path}" for path, _, _ in _GHE_COUNTS),
        *(f"packages_stats.ecosystems[].{field}" for field, _, _ in _ECOSYSTEM_COUNTS),
    },
    required={"server_id", "collection_date"},
)


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


class ServerStatisticsCollector(Collector[ServerStatisticsSettings]):
    """One enterprise or organization: the newest collection of each of its servers."""

    name = "server_statistics"
    endpoints = ("/enterprise-installation/{enterprise_or_org}/server-statistics",)


    @classmethod
    def targets(cls, settings: Settings) -> list[Target]:
        seen = {name.lower() for name in settings.targets.enterprises}
        extra = [org for org in settings.collectors.server_statistics.orgs if org.lower() not in seen]
        return Target.enterprises(settings.targets.enterprises) + Target.organizations(extra)

    @classmethod
    def cadences(cls, settings: Settings, target: Target, observed: Observed = NOTHING_OBSERVED) -> list[Cadence]:
        """Per run the pages of collections over the lookback (GitHub's 30 a page; one before the first run)."""
        interval = settings.collectors.server_statistics.interval
        return [Cadence(interval, pages(observed.get("collections", 0), DEFAULT_PAGE))]

    async def _collections(self, start: float, end: float | None = None) -> list[Any]:
        params = {"date_start": _day(start), "date_end": _day(end) if end is not None else None}
        return [
            item
            async for item in self.client.paginate(ROUTE, params=params, enterprise_or_org=self.target)
        ]

    async def collect(self) -> list[Metric]:
        items = await self._collections(self._clock() - self.options.lookback)
        self.observed["collections"] = len(items)
        check = COLLECTION_FIELDS.check()
        for item in items:
            if isinstance(item, dict):
                check.record(item)
        self.client.report_drift(f"{ROUTE} of {self.target}", check)
        return families_for(self.target, newest_of(self.readable_rows(items, collection, ROUTE)))

    async def history(self, start: float, end: float) -> list[HistoricalSample]:
        """Every collection taken between start and end, each at its collection_date."""
        specs = {spec.name: spec for spec in SPECS}
        samples: list[HistoricalSample] = []
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + (MAX_RANGE_DAYS - 1) * DAY)
            for found in self.readable_rows(await self._collections(chunk_start, chunk_end), collection, ROUTE):
                if found is not None and start <= found.collected_at <= end:
                    samples += HistoricalSample.from_families(
                        families_for(self.target, [found]), specs, found.collected_at
                    )
            chunk_start = chunk_end + DAY
        return samples
