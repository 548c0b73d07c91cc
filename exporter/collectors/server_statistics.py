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

COMMENTS = _gauge(
    "comments",
    "Comments on the server, by what they are on (commit, gist, issue, pull_request).",
    "ghe_stats.comments.total_{type}_comments",
    ["type"],
)
GISTS = _gauge("gists", "Gists on the server, as GitHub totals them.", "ghe_stats.gists.total_gists")
GISTS_BY = _gauge(
    "gists_by_visibility",
    "Gists on the server by visibility (private, public).",
    "ghe_stats.gists.{visibility}_gists",
    ["visibility"],
)
HOOKS = _gauge("hooks", "Webhooks on the server, as GitHub totals them.", "ghe_stats.hooks.total_hooks")
HOOKS_BY = _gauge(
    "hooks_by_state", "Webhooks on the server by state (active, inactive).", "ghe_stats.hooks.{state}_hooks", ["state"]
)
ISSUES = _gauge("issues", "Issues on the server, as GitHub totals them.", "ghe_stats.issues.total_issues")
ISSUES_BY = _gauge(
    "issues_by_state", "Issues on the server by state (open, closed).", "ghe_stats.issues.{state}_issues", ["state"]
)
MILESTONES = _gauge(
    "milestones", "Milestones on the server, as GitHub totals them.", "ghe_stats.milestones.total_milestones"
)
MILESTONES_BY = _gauge(
    "milestones_by_state",
    "Milestones on the server by state (open, closed).",
    "ghe_stats.milestones.{state}_milestones",
    ["state"],
)
ORGS = _gauge("organizations", "Organizations on the server.", "ghe_stats.orgs.total_orgs")
DISABLED_ORGS = _gauge(
    "disabled_organizations", "Disabled organizations on the server.", "ghe_stats.orgs.disabled_orgs"
)
TEAMS = _gauge("teams", "Teams on the server.", "ghe_stats.orgs.total_teams")
TEAM_MEMBERS = _gauge("team_members", "Team memberships on the server.", "ghe_stats.orgs.total_team_members")
PAGES = _gauge("pages_sites", "GitHub Pages sites on the server.", "ghe_stats.pages.total_pages")
PULLS = _gauge("pull_requests", "Pull requests on the server.", "ghe_stats.pulls.total_pulls")
MERGED_PULLS = _gauge("merged_pull_requests", "Merged pull requests on the server.", "ghe_stats.pulls.merged_pulls")
MERGEABLE_PULLS = _gauge(
    "mergeable_pull_requests", "Open pull requests that can be merged.", "ghe_stats.pulls.mergeable_pulls"
)
UNMERGEABLE_PULLS = _gauge(
    "unmergeable_pull_requests",
    "Open pull requests that cannot be merged (conflicts).",
    "ghe_stats.pulls.unmergeable_pulls",
)
REPOS = _gauge("repositories", "Repositories on the server.", "ghe_stats.repos.total_repos")
ROOT_REPOS = _gauge("root_repositories", "Repositories on the server that are not forks.", "ghe_stats.repos.root_repos")
FORK_REPOS = _gauge("fork_repositories", "Repositories on the server that are forks.", "ghe_stats.repos.fork_repos")
ORG_REPOS = _gauge(
    "organization_repositories", "Repositories on the server owned by organizations.", "ghe_stats.repos.org_repos"
)
PUSHES = _gauge(
    "pushes",
    "Pushes on the server, as GitHub counts them; grows over time, use delta() not rate().",
    "ghe_stats.repos.total_pushes",
)
WIKIS = _gauge("wikis", "Repository wikis on the server.", "ghe_stats.repos.total_wikis")
USERS = _gauge("users", "User accounts on the server.", "ghe_stats.users.total_users")
ADMIN_USERS = _gauge("admin_users", "Site administrators on the server.", "ghe_stats.users.admin_users")
SUSPENDED_USERS = _gauge("suspended_users", "Suspended users on the server.", "ghe_stats.users.suspended_users")
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
PACKAGES = _gauge(
    "packages_published",
    "Published packages in the ecosystem.",
    "packages_stats.ecosystems[].published_packages_count",
    ["ecosystem"],
)
PACKAGES_BY_VISIBILITY = _gauge(
    "packages_by_visibility",
    "Packages in the ecosystem by visibility (private, public, internal).",
    "packages_stats.ecosystems[].{visibility}_packages_count",
    ["ecosystem", "visibility"],
)
PACKAGES_BY_OWNER = _gauge(
    "packages_by_owner_type",
    "Packages in the ecosystem by owner type (user, organization).",
    "packages_stats.ecosystems[].{owner_type}_packages_count",
    ["ecosystem", "owner_type"],
)
PACKAGES_DOWNLOADED = _gauge(
    "packages_daily_downloaded",
    "Packages downloaded in the 24 hours before the collection.",
    "packages_stats.ecosystems[].daily_download_count",
    ["ecosystem"],
)
PACKAGES_UPDATED = _gauge(
    "packages_daily_updated",
    "Packages updated in the 24 hours before the collection.",
    "packages_stats.ecosystems[].daily_update_count",
    ["ecosystem"],
)
PACKAGES_DELETED = _gauge(
    "packages_daily_deleted",
    "Packages deleted in the 24 hours before the collection.",
    "packages_stats.ecosystems[].daily_delete_count",
    ["ecosystem"],
)
PACKAGES_CREATED = _gauge(
    "packages_daily_created",
    "Packages created in the 24 hours before the collection.",
    "packages_stats.ecosystems[].daily_create_count",
    ["ecosystem"],
)

SPECS: tuple[MetricSpec, ...] = (
    INFO,
    COLLECTED,
    CONNECT_FEATURE,
    COMMENTS,
    GISTS,
    GISTS_BY,
    HOOKS,
    HOOKS_BY,
    ISSUES,
    ISSUES_BY,
    MILESTONES,
    MILESTONES_BY,
    ORGS,
    DISABLED_ORGS,
    TEAMS,
    TEAM_MEMBERS,
    PAGES,
    PULLS,
    MERGED_PULLS,
    MERGEABLE_PULLS,
    UNMERGEABLE_PULLS,
    REPOS,
    ROOT_REPOS,
    FORK_REPOS,
    ORG_REPOS,
    PUSHES,
    WIKIS,
    USERS,
    ADMIN_USERS,
    SUSPENDED_USERS,
    DORMANT_USERS,
    DORMANCY,
    ACTIONS_REPOS,
    ACTIONS_RATIO,
    REGISTRY,
    REGISTRY_V2,
    ECOSYSTEM_STATE,
    PACKAGES,
    PACKAGES_BY_VISIBILITY,
    PACKAGES_BY_OWNER,
    PACKAGES_DOWNLOADED,
    PACKAGES_UPDATED,
    PACKAGES_DELETED,
    PACKAGES_CREATED,
)

# (group, field, spec, extra label values): plain counts in ghe_stats.
_GHE_STATS: tuple[tuple[str, str, MetricSpec, tuple[str, ...]], ...] = (
    ("comments", "total_commit_comments", COMMENTS, ("commit",)),
    ("comments", "total_gist_comments", COMMENTS, ("gist",)),
    ("comments", "total_issue_comments", COMMENTS, ("issue",)),
    ("comments", "total_pull_request_comments", COMMENTS, ("pull_request",)),
    ("gists", "total_gists", GISTS, ()),
    ("gists", "private_gists", GISTS_BY, ("private",)),
    ("gists", "public_gists", GISTS_BY, ("public",)),
    ("hooks", "total_hooks", HOOKS, ()),
    ("hooks", "active_hooks", HOOKS_BY, ("active",)),
    ("hooks", "inactive_hooks", HOOKS_BY, ("inactive",)),
    ("issues", "total_issues", ISSUES, ()),
    ("issues", "open_issues", ISSUES_BY, ("open",)),
    ("issues", "closed_issues", ISSUES_BY, ("closed",)),
    ("milestones", "total_milestones", MILESTONES, ()),
    ("milestones", "open_milestones", MILESTONES_BY, ("open",)),
    ("milestones", "closed_milestones", MILESTONES_BY, ("closed",)),
    ("orgs", "total_orgs", ORGS, ()),
    ("orgs", "disabled_orgs", DISABLED_ORGS, ()),
    ("orgs", "total_teams", TEAMS, ()),
    ("orgs", "total_team_members", TEAM_MEMBERS, ()),
    ("pages", "total_pages", PAGES, ()),
    ("pulls", "total_pulls", PULLS, ()),
    ("pulls", "merged_pulls", MERGED_PULLS, ()),
    ("pulls", "mergeable_pulls", MERGEABLE_PULLS, ()),
    ("pulls", "unmergeable_pulls", UNMERGEABLE_PULLS, ()),
    ("repos", "total_repos", REPOS, ()),
    ("repos", "root_repos", ROOT_REPOS, ()),
    ("repos", "fork_repos", FORK_REPOS, ()),
    ("repos", "org_repos", ORG_REPOS, ()),
    ("repos", "total_pushes", PUSHES, ()),
    ("repos", "total_wikis", WIKIS, ()),
    ("users", "total_users", USERS, ()),
    ("users", "admin_users", ADMIN_USERS, ()),
    ("users", "suspended_users", SUSPENDED_USERS, ()),
)
GHE_STATS = _GHE_STATS  # the same groups GHES reports on the box (collectors/ghes_stats.py)
_ECOSYSTEM_COUNTS: tuple[tuple[str, MetricSpec, tuple[str, ...]], ...] = (
    ("published_packages_count", PACKAGES, ()),
    ("private_packages_count", PACKAGES_BY_VISIBILITY, ("private",)),
    ("public_packages_count", PACKAGES_BY_VISIBILITY, ("public",)),
    ("internal_packages_count", PACKAGES_BY_VISIBILITY, ("internal",)),
    ("user_packages_count", PACKAGES_BY_OWNER, ("user",)),
    ("organization_packages_count", PACKAGES_BY_OWNER, ("organization",)),
    ("daily_download_count", PACKAGES_DOWNLOADED, ()),
    ("daily_update_count", PACKAGES_UPDATED, ()),
    ("daily_delete_count", PACKAGES_DELETED, ()),
    ("daily_create_count", PACKAGES_CREATED, ()),
)
ECOSYSTEM_STATES = {"TRUE": "enabled", "FALSE": "disabled", "READONLY": "read_only"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(second|minute|hour|day|week)s?\s*$", re.IGNORECASE)
_UNIT = {"second": 1, "minute": 60, "hour": 3600, "day": DAY, "week": 7 * DAY}


def _flag(obj: Any, field: str) -> float | None:
    value = obj.get(field) if isinstance(obj, dict) else None
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
        connect = d.get("github_connect")
        features = connect.get("features_enabled") if isinstance(connect, dict) else None
        for feature in sorted({str(f) for f in features or () if f}):
            add(CONNECT_FEATURE, (*server, feature), 1.0)

        stats = d.get("ghe_stats")
        stats = stats if isinstance(stats, dict) else {}
        for group, field, spec, extra in _GHE_STATS:
            add(spec, (*server, *extra), fields.number(stats.get(group), field, ROUTE))

        dormant = d.get("dormant_users")
        add(DORMANT_USERS, server, fields.number(dormant, "total_dormant_users", ROUTE))
        add(
            DORMANCY,
            server,
            threshold_seconds(dormant.get("dormancy_threshold") if isinstance(dormant, dict) else None),
        )

        actions = d.get("actions_stats")
        add(ACTIONS_REPOS, server, fields.number(actions, "number_of_repos_using_actions", ROUTE))
        add(
            ACTIONS_RATIO,
            server,
            percentage_ratio(actions.get("percentage_of_repos_using_actions") if isinstance(actions, dict) else None),
        )

        packages = d.get("packages_stats")
        add(REGISTRY, server, _flag(packages, "registry_enabled"))
        add(REGISTRY_V2, server, _flag(packages, "registry_v2_enabled"))
        ecosystems = packages.get("ecosystems") if isinstance(packages, dict) else None
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
        *(f"ghe_stats.{group}.{field}" for group, field, _, _ in _GHE_STATS),
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
