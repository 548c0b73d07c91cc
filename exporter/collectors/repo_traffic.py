"""Repository traffic: page views, clones, popular paths and referrers over GitHub's 14-day window.

Source: GET /repos/{owner}/{repo}/traffic/{views,clones,popular/paths,popular/referrers} (push access to
the repository; fine-grained tokens need "Administration" repository permission (read)), and for
discovery GET /orgs/{org}/repos or GET /users/{username}/repos.

    # HELP github_repo_traffic_views_14d Page views over GitHub's 14-day window, today's partial day included ...
    # TYPE github_repo_traffic_views_14d gauge
    github_repo_traffic_views_14d{repository="octo-demo/api"} 5927.0
    # HELP github_repo_traffic_day_views Page views on the latest complete UTC day ...
    # TYPE github_repo_traffic_day_views gauge
    github_repo_traffic_day_views{repository="octo-demo/api"} 516.0
    # HELP github_repo_traffic_skipped_repositories Repositories skipped in the last run, by reason ...
    # TYPE github_repo_traffic_skipped_repositories gauge
    github_repo_traffic_skipped_repositories{reason="forbidden",source="targets.repositories"} 1.0

Repositories come from `targets.repositories` and from discovery
(`collectors.repo_traffic.discover`: organizations or users). Discovery
lists every repository of an organization (`GET /orgs/{org}/repos`) or the
public ones of a user (`GET /users/{username}/repos`; private user
repositories go in `targets.repositories`), keeps those the token can push to
(`permissions.push`; GitHub answers 403 for the others), matching `include`
and not `exclude` (globs on `owner/name`, case-insensitive), and skips archived
repositories and forks unless `include_archived` / `include_forks`. A
repository in `targets.repositories` is collected as listed, by that list's
job only, whatever discovery would say about it.

The unit of work (the collector's target) is one owner from `discover`, plus
one job named `targets.repositories` for the explicit list: one job per
repository would mean thousands of scheduler jobs, self-metric series and
first runs to wait for; one job for everything would let one slow
organization hold up the others. Sharding splits repositories, not owners:
every replica runs every job (`sharded_by_target = False`) and keeps the
repositories it owns by `self.sharder.owns("owner/name")`.

Per repository: GitHub's 14-day totals (views and clones, with unique
visitors and cloners) as GitHub reports them, today's partial day included;
the latest complete UTC day (yesterday: GitHub's today is still counting)
with that day's start as `github_repo_traffic_day_timestamp_seconds` (a day
missing from GitHub's list had no traffic, so it reads 0); the top paths and
referrers (GitHub keeps 10 of each; `top_paths`/`top_referrers` lower that,
0 skips the request). A path's page title changes with the content and is
long, so it lives in `github_repo_traffic_top_path_info`, not on the counts.
Duplicate paths or referrers in one answer are added up.

A repository GitHub refuses (403: no push access or traffic not available,
404: gone, 3xx: renamed or transferred, other 4xx) is skipped, logged when its
state changes, and counted in `github_repo_traffic_skipped_repositories` for
that run; the other repositories are exported as usual. Rate limits, 5xx and
discovery failures fail the run, and the last good snapshot is served.
Every run's snapshot is complete: a repository no longer discovered (archived,
deleted, excluded) loses its series at once. The traffic answers and the
listed repositories are held against field tables (TRAFFIC_FIELDS,
LISTING_FIELDS): anything else GitHub sends shows as
github_exporter_unmapped_fields, a listing without `full_name` as
github_exporter_missing_fields (its repositories cannot be named, so they are
counted as parse errors and skipped).
"""

from __future__ import annotations

import asyncio
import fnmatch
import math
from dataclasses import dataclass, field
from typing import Any, TypedDict

import structlog
from prometheus_client.metrics_core import Metric

from exporter.collectors import fields
from exporter.collectors.base import (
    NOTHING_OBSERVED,
    Cadence,
    Collector,
    HistoricalSample,
    Kind,
    Observed,
    Target,
    pages,
)
from exporter.drift import FieldCheck, Schema
from exporter.github.errors import (
    APIError,
    ForbiddenError,
    MalformedResponseError,
    NotFoundError,
    RateLimitedError,
)
from exporter.metricspec import MetricSpec, metric
from exporter.settings import RepoTrafficSettings, Settings
from exporter.sharding import Sharder

log = structlog.get_logger(__name__)

VIEWS = "/repos/{owner}/{repo}/traffic/views"
CLONES = "/repos/{owner}/{repo}/traffic/clones"
PATHS = "/repos/{owner}/{repo}/traffic/popular/paths"
REFERRERS = "/repos/{owner}/{repo}/traffic/popular/referrers"
# The fields of each traffic answer (every one read); others show as github_exporter_unmapped_fields
# {collector="repo_traffic"} (exporter.drift). Checked against the OpenAPI description by the tests.
_DAYS = ("count", "uniques")
TRAFFIC_FIELDS: dict[str, Schema] = {
    VIEWS: Schema({*_DAYS, "views[].timestamp", "views[].count", "views[].uniques"}, required=_DAYS),
    CLONES: Schema({*_DAYS, "clones[].timestamp", "clones[].count", "clones[].uniques"}, required=_DAYS),
    PATHS: Schema({"path", "title", *_DAYS}, required={"path", *_DAYS}),
    REFERRERS: Schema({"referrer", *_DAYS}, required={"referrer", *_DAYS}),
}
ORG_REPOS = "/orgs/{org}/repos"
USER_REPOS = "/users/{username}/repos"
# A listed repository's fields (GET /orgs/{org}/repos, GET /users/{username}/repos: the description's "Minimal
# Repository", @octokit/openapi 23.0.2 ghec.deref.json, read 2026-12-06): read, or skipped with the reason.
# tests/collectors/test_repo_traffic.py holds the table equal to the description's paths under every API version
# the exporter sends: a field a version removed (2026-03-10: has_downloads, docs/github-api-version.md) stays known
# and is never required. "license" and "security_and_analysis" alone are those objects sent as null. Anything else
# shows as github_exporter_unmapped_fields{collector="repo_traffic"} (exporter.drift).
_LISTING_READ = {
    "full_name": "read: names the repository (owner/name) for its traffic requests, include/exclude and sharding",
    "archived": "read: archived repositories are left out unless include_archived",
    "fork": "read: forks are left out unless include_forks",
    "permissions.push": "read: traffic needs push access; GitHub answers 403 to the others",
}
_LISTING_SKIPPED: dict[str, tuple[str, ...]] = {
    "the token's other permissions and role; push alone decides": (
        "permissions.admin", "permissions.maintain", "permissions.pull", "permissions.triage", "role_name"),
    "other names of the repository; full_name names it": ("id", "node_id", "name"),
    "API and web addresses of the repository": (
        "url", "html_url", "git_url", "ssh_url", "clone_url", "svn_url", "mirror_url", "homepage",
        "archive_url", "assignees_url", "blobs_url", "branches_url", "collaborators_url", "comments_url",
        "commits_url", "compare_url", "contents_url", "contributors_url", "deployments_url", "downloads_url",
        "events_url", "forks_url", "git_commits_url", "git_refs_url", "git_tags_url", "hooks_url",
        "issue_comment_url", "issue_events_url", "issues_url", "keys_url", "labels_url", "languages_url",
        "merges_url", "milestones_url", "notifications_url", "pulls_url", "releases_url", "stargazers_url",
        "statuses_url", "subscribers_url", "subscription_url", "tags_url", "teams_url", "trees_url"),
    "descriptive text and settings; discovery filters on archived, fork and push access only": (
        "description", "language", "topics", "visibility", "private", "is_template", "default_branch",
        "disabled", "allow_forking", "web_commit_signoff_required", "delete_branch_on_merge", "temp_clone_token",
        "has_issues", "has_projects", "has_wiki", "has_pages", "has_downloads", "has_discussions",
        "has_pull_requests", "pull_request_creation_policy"),
    "dates of the repository, not of its traffic": ("created_at", "updated_at", "pushed_at"),
    "repository counts (stars, forks, watchers, issues, size), not traffic": (
        "forks", "forks_count", "stargazers_count", "watchers", "watchers_count", "open_issues",
        "open_issues_count", "size", "network_count", "subscribers_count"),
    "the owner's user or organization; the discovery target names the owner": (
        "owner.login", "owner.id", "owner.node_id", "owner.name", "owner.email", "owner.type", "owner.site_admin",
        "owner.user_view_type", "owner.starred_at", "owner.gravatar_id", "owner.avatar_url", "owner.url",
        "owner.html_url", "owner.events_url", "owner.followers_url", "owner.following_url", "owner.gists_url",
        "owner.organizations_url", "owner.received_events_url", "owner.repos_url", "owner.starred_url",
        "owner.subscriptions_url"),
    "license and code of conduct": (
        "license", "license.key", "license.name", "license.node_id", "license.spdx_id", "license.url",
        "code_of_conduct.key", "code_of_conduct.name", "code_of_conduct.url", "code_of_conduct.html_url",
        "code_of_conduct.body"),
    "security and analysis settings": (
        "security_and_analysis", *(f"security_and_analysis.{s}.status" for s in (
            "advanced_security", "code_security", "dependabot_security_updates", "secret_scanning",
            "secret_scanning_ai_detection", "secret_scanning_delegated_alert_dismissal",
            "secret_scanning_delegated_bypass", "secret_scanning_non_provider_patterns",
            "secret_scanning_push_protection", "secret_scanning_validity_checks")),
        *(f"security_and_analysis.secret_scanning_delegated_bypass_options.reviewers[].{f}"
          for f in ("mode", "reviewer_id", "reviewer_type"))),
    # Its keys are the organization's own property names (free-form in the description), not GitHub's fields.
    "the organization's custom property values": ("custom_properties.*",),
}
LISTING_FIELDS: dict[str, str] = {
    **_LISTING_READ,
    **{name: f"skipped: {why}" for why, names in _LISTING_SKIPPED.items() for name in names},
}
LISTING_SCHEMA = Schema(LISTING_FIELDS, required={"full_name"})  # what discovery cannot do without
LIST_TARGET = Target(Kind.REPOSITORIES, "targets.repositories")
# Before an owner's first listing, the plan assumes this many listed repositories, all collected.
DEFAULT_DISCOVERED = 100
LISTING_PAGE = 100  # per_page of the owner listing
DAY = 86400
SKIP_REASONS = ("forbidden", "not_found", "moved", "unavailable")
FILTER_REASONS = ("excluded", "archived", "fork", "no_push_access")


class _OwnerPath(TypedDict, total=False):
    """Path parameters of ORG_REPOS (org) or USER_REPOS (username)."""

    org: str
    username: str


REPO = ["repository"]
VIEWS_14D = metric(
    __name__,
    "github_repo_traffic_views_14d",
    "gauge",
    "Page views over GitHub's 14-day window, today's partial UTC day included.",
    REPO,
    f"GET {VIEWS}: count",
)
VISITORS_14D = metric(
    __name__,
    "github_repo_traffic_unique_visitors_14d",
    "gauge",
    "Unique visitors over GitHub's 14-day window, today's partial UTC day included.",
    REPO,
    f"GET {VIEWS}: uniques",
)
CLONES_14D = metric(
    __name__,
    "github_repo_traffic_clones_14d",
    "gauge",
    "Clones over GitHub's 14-day window, today's partial UTC day included.",
    REPO,
    f"GET {CLONES}: count",
)
CLONERS_14D = metric(
    __name__,
    "github_repo_traffic_unique_cloners_14d",
    "gauge",
    "Unique cloners over GitHub's 14-day window, today's partial UTC day included.",
    REPO,
    f"GET {CLONES}: uniques",
)
DAY_VIEWS = metric(
    __name__,
    "github_repo_traffic_day_views",
    "gauge",
    "Page views on the latest complete UTC day (see github_repo_traffic_day_timestamp_seconds).",
    REPO,
    f"GET {VIEWS}?per=day: views[].count",
)
DAY_VISITORS = metric(
    __name__,
    "github_repo_traffic_day_unique_visitors",
    "gauge",
    "Unique visitors on the latest complete UTC day.",
    REPO,
    f"GET {VIEWS}?per=day: views[].uniques",
)
DAY_CLONES = metric(
    __name__,
    "github_repo_traffic_day_clones",
    "gauge",
    "Clones on the latest complete UTC day.",
    REPO,
    f"GET {CLONES}?per=day: clones[].count",
)
DAY_CLONERS = metric(
    __name__,
    "github_repo_traffic_day_unique_cloners",
    "gauge",
    "Unique cloners on the latest complete UTC day.",
    REPO,
    f"GET {CLONES}?per=day: clones[].uniques",
)
DAY_TIMESTAMP = metric(
    __name__,
    "github_repo_traffic_day_timestamp_seconds",
    "gauge",
    "Start (00:00 UTC) of the day the github_repo_traffic_day_* gauges describe.",
    REPO,
    f"GET {VIEWS}?per=day: views[].timestamp",
)
PATH_VIEWS = metric(
    __name__,
    "github_repo_traffic_top_path_views_14d",
    "gauge",
    "Page views of one of the repository's most viewed paths over the 14-day window (top 10 at most).",
    [*REPO, "path"],
    f"GET {PATHS}: count",
)
PATH_VISITORS = metric(
    __name__,
    "github_repo_traffic_top_path_unique_visitors_14d",
    "gauge",
    "Unique visitors of one of the repository's most viewed paths over the 14-day window.",
    [*REPO, "path"],
    f"GET {PATHS}: uniques",
)
PATH_INFO = metric(
    __name__,
    "github_repo_traffic_top_path_info",
    "gauge",
    "Page title of a top path; always 1.",
    [*REPO, "path", "title"],
    f"GET {PATHS}: title",
)
REFERRER_VIEWS = metric(
    __name__,
    "github_repo_traffic_top_referrer_views_14d",
    "gauge",
    "Views referred by one of the repository's top referring sites over the 14-day window (top 10 at most).",
    [*REPO, "referrer"],
    f"GET {REFERRERS}: count",
)
REFERRER_VISITORS = metric(
    __name__,
    "github_repo_traffic_top_referrer_unique_visitors_14d",
    "gauge",
    "Unique visitors referred by one of the repository's top referring sites over the 14-day window.",
    [*REPO, "referrer"],
    f"GET {REFERRERS}: uniques",
)
REPOSITORIES = metric(
    __name__,
    "github_repo_traffic_repositories",
    "gauge",
    "Repositories whose traffic this replica exported in the last run of the job; source is an "
    "owner from collectors.repo_traffic.discover or targets.repositories.",
    ["source"],
    f"GET {ORG_REPOS} or GET {USER_REPOS}, and targets.repositories",
)
SKIPPED = metric(
    __name__,
    "github_repo_traffic_skipped_repositories",
    "gauge",
    "Repositories of this replica skipped in the last run because GitHub refused their traffic, by reason "
    "(forbidden: 403, no push access or traffic unavailable; not_found: 404/410; moved: 3xx, renamed "
    "or transferred; unavailable: another 4xx).",
    ["source", "reason"],
    f"GET {VIEWS}: HTTP status",
)
FILTERED = metric(
    __name__,
    "github_repo_traffic_filtered_repositories",
    "gauge",
    "Discovered repositories of this replica left out by configuration in the last run, by reason (excluded: "
    "include/exclude globs, archived, fork, no_push_access: permissions.push is false).",
    ["source", "reason"],
    f"GET {ORG_REPOS} or GET {USER_REPOS}: archived, fork, permissions.push",
)


@dataclass
class Traffic:
    """One repository's traffic as read in one run; None where GitHub left a value out."""

    views: tuple[float | None, float | None]
    clones: tuple[float | None, float | None]
    day_views: tuple[float, float]
    day_clones: tuple[float, float]
    paths: list[tuple[str, str, float | None, float | None]] = field(default_factory=list)
    referrers: list[tuple[str, float | None, float | None]] = field(default_factory=list)


def daily(data: Any, kind: str, endpoint: str) -> dict[int, tuple[float, float]]:
    """Day number -> (count, uniques) from a per=day views or clones answer; null counts read as 0."""
    items = data.get(kind) if isinstance(data, dict) else None
    if items is None:
        return {}
    if not isinstance(items, list):
        raise MalformedResponseError(f"{endpoint}: {kind} is not a list", endpoint=endpoint)
    out: dict[int, tuple[float, float]] = {}
    for item in items:
        at = fields.timestamp(item, "timestamp", endpoint)
        if at is None:
            continue
        day = math.floor(at / DAY)
        count, uniques = fields.count(item, "count", endpoint), fields.count(item, "uniques", endpoint)
        before = out.get(day, (0.0, 0.0))
        out[day] = (before[0] + count, before[1] + uniques)
    return out


def top_paths(data: Any, limit: int) -> list[tuple[str, str, float | None, float | None]]:
    """(path, title, count, uniques) by count, duplicate paths added up, at most `limit`."""
    merged: dict[str, list[Any]] = {}
    for item in data if isinstance(data, list) else ():
        if not isinstance(item, dict) or item.get("path") is None:
            continue
        row = merged.setdefault(str(item["path"]), [str(item.get("title") or ""), None, None])
        for i, name in ((1, "count"), (2, "uniques")):
            value = fields.number(item, name, PATHS)
            if value is not None:
                row[i] = (row[i] or 0.0) + value
    rows = sorted(merged.items(), key=lambda kv: (-(kv[1][1] or 0.0), kv[0]))[:limit]
    return [(path, title, c, u) for path, (title, c, u) in rows]


def top_referrers(data: Any, limit: int) -> list[tuple[str, float | None, float | None]]:
    """(referrer, count, uniques) by count, duplicates added up, at most `limit`."""
    merged: dict[str, list[float | None]] = {}
    for item in data if isinstance(data, list) else ():
        if not isinstance(item, dict) or item.get("referrer") is None:
            continue
        row = merged.setdefault(str(item["referrer"]), [None, None])
        for i, name in ((0, "count"), (1, "uniques")):
            value = fields.number(item, name, REFERRERS)
            if value is not None:
                row[i] = (row[i] or 0.0) + value
    rows = sorted(merged.items(), key=lambda kv: (-(kv[1][0] or 0.0), kv[0]))[:limit]
    return [(referrer, c, u) for referrer, (c, u) in rows]


def skip_reason(error: APIError) -> str:
    if isinstance(error, ForbiddenError):
        return "forbidden"
    if isinstance(error, NotFoundError):
        return "not_found"
    if 300 <= error.status < 400:
        return "moved"
    return "unavailable"


def _named_repository(item: Any) -> tuple[str, dict[str, Any]]:
    """(owner/name, the listing's item) of one listed repository."""
    full_name = item.get("full_name") if isinstance(item, dict) else None
    if not isinstance(full_name, str) or full_name.count("/") != 1 or "" in full_name.split("/"):
        raise MalformedResponseError("a listed repository has no owner/name full_name")
    return full_name, item


def matches(patterns: list[str], full_name: str) -> bool:
    name = full_name.lower()
    return any(fnmatch.fnmatchcase(name, p.lower()) for p in patterns)


def complete_day(now: float) -> int:
    """The latest UTC day that has ended: GitHub's today is still counting."""
    return math.floor(now / DAY) - 1


class RepoTrafficCollector(Collector[RepoTrafficSettings]):
    """One owner from `discover`, or the explicit `targets.repositories` list."""

    name = "repo_traffic"
    endpoints = tuple(f"/repos/{{owner}}/{{repo}}/traffic/{leaf}" for leaf in (
        "views", "clones", "popular/paths", "popular/referrers")) + ("/orgs/{org}/repos", "/users/{username}/repos")
    sharded_by_target = False

    def setup(self) -> None:
        self._listing: tuple[str, _OwnerPath] | None = None  # (route, path parameters) once known
        self._skipped: dict[str, str] = {}

    @classmethod
    def targets(cls, settings: Settings) -> list[Target]:
        owners = Target.organizations(settings.collectors.repo_traffic.discover)  # organizations or users
        return [*owners, LIST_TARGET] if settings.targets.repositories else owners

    # -- the request plan ------------------------------------------------------------------------

    @classmethod
    def requests_per_repository(cls, settings: Settings) -> int:
        """views and clones, plus popular paths and referrers unless their top-N is 0."""
        o = settings.collectors.repo_traffic
        return 2 + (o.top_paths > 0) + (o.top_referrers > 0)

    @classmethod
    def owners(
        cls, settings: Settings, target: Target, observed: Observed = NOTHING_OBSERVED
    ) -> dict[str, list[Cadence]]:
        """An owner's job is that owner's; the explicit list's is split by each repository's owner."""
        if target != LIST_TARGET:
            return super().owners(settings, target, observed)
        each = cls.requests_per_repository(settings)
        sharder = Sharder.from_settings(settings)
        split: dict[str, float] = {}
        for name in settings.targets.repositories:
            if sharder.owns(name):
                owner = name.split("/")[0].lower()
                split[owner] = split.get(owner, 0.0) + each
        interval = settings.collectors.repo_traffic.interval
        return {owner: [Cadence(interval, requests)] for owner, requests in split.items()}

    @classmethod
    def cadences(cls, settings: Settings, target: Target, observed: Observed = NOTHING_OBSERVED) -> list[Cadence]:
        """Per run: the listing's pages, the per-repository requests for each collected repository, one per skipped.

        Sizes come from the last run; before it, an owner is assumed to list DEFAULT_DISCOVERED repositories
        (this replica's share of them), all collected.
        """
        interval = settings.collectors.repo_traffic.interval
        if target == LIST_TARGET:
            return [c for split in cls.owners(settings, target, observed).values() for c in split]
        share = Sharder.from_settings(settings).count
        listed = observed.get("listed", DEFAULT_DISCOVERED)
        collected = observed.get("collected", DEFAULT_DISCOVERED / share)
        skipped = observed.get("skipped", 0.0)  # a refusal of views ends the repository's requests
        return [Cadence(interval, pages(listed, LISTING_PAGE) + collected * cls.requests_per_repository(settings)
                        + skipped)]

    # -- which repositories ---------------------------------------------------------------------

    async def _list_owner(self) -> list[Any]:
        """The owner's repositories: as an organization, or as a user when GitHub knows no such org."""
        if self._listing is None:
            try:
                items = [
                    r
                    async for r in self.client.paginate(
                        ORG_REPOS, params={"type": "all", "per_page": 100}, org=self.target
                    )
                ]
                self._listing = (ORG_REPOS, {"org": self.target})
                return items
            except NotFoundError:
                self._listing = (USER_REPOS, {"username": self.target})
        route, path = self._listing
        params = {"type": "all", "per_page": 100} if route == ORG_REPOS else {"type": "owner", "per_page": 100}
        return [r async for r in self.client.paginate(route, params=params, **path)]

    async def repositories(self) -> tuple[list[str], dict[str, int]]:
        """The repositories this replica collects for this job, and how many discovery left out per reason."""
        sharder = self.sharder
        if self.target == LIST_TARGET:
            return [r for r in self.settings.targets.repositories if sharder.owns(r)], {}
        listed = {r.lower() for r in self.settings.targets.repositories}
        o = self.options
        kept: list[str] = []
        filtered = dict.fromkeys(FILTER_REASONS, 0)
        items = await self._list_owner()
        self.observed["listed"] = len(items)
        route = self._listing[0] if self._listing else ORG_REPOS
        check = LISTING_SCHEMA.check()
        for item in items:
            if isinstance(item, dict):
                check.record(item)
        self.client.report_drift(f"{route} of {self.target}", check)
        # A listed repository without an owner/name is skipped and counted; the rest are still collected.
        for full_name, item in self.readable_rows(items, _named_repository, route):
            if full_name.lower() in listed or not sharder.owns(full_name):
                continue
            permissions = item.get("permissions")
            if (o.include and not matches(o.include, full_name)) or matches(o.exclude, full_name):
                reason = "excluded"
            elif item.get("archived") and not o.include_archived:
                reason = "archived"
            elif item.get("fork") and not o.include_forks:
                reason = "fork"
            elif not (isinstance(permissions, dict) and permissions.get("push")):
                reason = "no_push_access"
            else:
                kept.append(full_name)
                continue
            filtered[reason] += 1
        return sorted(set(kept), key=str.lower), filtered

    # -- one repository ---------------------------------------------------------------------------

    async def _get(self, route: str, full_name: str, params: dict[str, Any] | None = None) -> Any:
        owner, repo = full_name.split("/", 1)
        return (await self.client.get(route, params=params, owner=owner, repo=repo)).data

    async def traffic(self, full_name: str, now: float, checks: dict[str, FieldCheck] | None = None) -> Traffic:
        """One repository's figures; `checks` (by route) see every answer's fields, for the drift signal."""
        views = await self._get(VIEWS, full_name, {"per": "day"})  # first alone: a refusal costs one request
        clones, paths, referrers = await asyncio.gather(
            self._get(CLONES, full_name, {"per": "day"}),
            self._get(PATHS, full_name) if self.options.top_paths else _none(),
            self._get(REFERRERS, full_name) if self.options.top_referrers else _none(),
        )
        for route, data in ((VIEWS, views), (CLONES, clones), (PATHS, paths), (REFERRERS, referrers)):
            for record in data if isinstance(data, list) else [data]:
                if checks is not None and isinstance(record, dict):
                    checks[route].record(record)
        day = complete_day(now)
        return Traffic(
            views=(fields.number(views, "count", VIEWS), fields.number(views, "uniques", VIEWS)),
            clones=(fields.number(clones, "count", CLONES), fields.number(clones, "uniques", CLONES)),
            day_views=daily(views, "views", VIEWS).get(day, (0.0, 0.0)),
            day_clones=daily(clones, "clones", CLONES).get(day, (0.0, 0.0)),
            paths=top_paths(paths, self.options.top_paths),
            referrers=top_referrers(referrers, self.options.top_referrers),
        )

    async def _traffic_or_skip(self, full_name: str, now: float, checks: dict[str, FieldCheck]) -> Traffic | str:
        try:
            result: Traffic | str = await self.traffic(full_name, now, checks)
        except RateLimitedError:
            raise
        except APIError as exc:
            if exc.status >= 500:
                raise
            result = skip_reason(exc)
            if self._skipped.get(full_name) != result:
                log.warning(
                    "repository skipped",
                    collector=self.name,
                    repository=full_name,
                    reason=result,
                    status=exc.status,
                    github_message=exc.github_message,
                )
        else:
            if full_name in self._skipped:
                log.info("repository no longer skipped", collector=self.name, repository=full_name)
        if isinstance(result, str):
            self._skipped[full_name] = result
        else:
            self._skipped.pop(full_name, None)
        return result

    # -- the run -----------------------------------------------------------------------------------

    async def collect(self) -> list[Metric]:
        now = self._clock()
        names, filtered = await self.repositories()
        checks = {route: schema.check() for route, schema in TRAFFIC_FIELDS.items()}
        try:
            async with asyncio.TaskGroup() as group:  # one failure cancels the rest of the run
                tasks = [group.create_task(self._traffic_or_skip(name, now, checks)) for name in names]
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None
        for route, check in checks.items():
            self.client.report_drift(f"{route} of {self.target}", check)
        results = {name: task.result() for name, task in zip(names, tasks, strict=False)}
        for gone in set(self._skipped) - set(names):
            del self._skipped[gone]
        self.observed["skipped"] = sum(isinstance(r, str) for r in results.values())
        self.observed["collected"] = len(results) - self.observed["skipped"]

        specs = (
            VIEWS_14D,
            VISITORS_14D,
            CLONES_14D,
            CLONERS_14D,
            DAY_VIEWS,
            DAY_VISITORS,
            DAY_CLONES,
            DAY_CLONERS,
            DAY_TIMESTAMP,
            PATH_VIEWS,
            PATH_VISITORS,
            PATH_INFO,
            REFERRER_VIEWS,
            REFERRER_VISITORS,
        )
        families = {spec.name: spec.new() for spec in specs}

        def add(spec: MetricSpec, labels: list[str], value: float | None) -> None:
            if value is not None:
                families[spec.name].add_metric(labels, value)

        day_start = float(complete_day(now) * DAY)
        skipped = dict.fromkeys(SKIP_REASONS, 0)
        exported = 0
        for name, result in results.items():
            if isinstance(result, str):
                skipped[result] += 1
                continue
            exported += 1
            repo = [name]
            add(VIEWS_14D, repo, result.views[0])
            add(VISITORS_14D, repo, result.views[1])
            add(CLONES_14D, repo, result.clones[0])
            add(CLONERS_14D, repo, result.clones[1])
            add(DAY_VIEWS, repo, result.day_views[0])
            add(DAY_VISITORS, repo, result.day_views[1])
            add(DAY_CLONES, repo, result.day_clones[0])
            add(DAY_CLONERS, repo, result.day_clones[1])
            add(DAY_TIMESTAMP, repo, day_start)
            for path, title, count, uniques in result.paths:
                add(PATH_VIEWS, [name, path], count)
                add(PATH_VISITORS, [name, path], uniques)
                add(PATH_INFO, [name, path, title], 1.0)
            for referrer, count, uniques in result.referrers:
                add(REFERRER_VIEWS, [name, referrer], count)
                add(REFERRER_VISITORS, [name, referrer], uniques)

        source = self.target
        summary = [REPOSITORIES.one([source], exported)]
        skipped_family = SKIPPED.new()
        for reason, n in skipped.items():
            skipped_family.add_metric([source, reason], n)
        summary.append(skipped_family)
        if self.target != LIST_TARGET:
            filtered_family = FILTERED.new()
            for reason, n in filtered.items():
                filtered_family.add_metric([source, reason], n)
            summary.append(filtered_family)
        return [*families.values(), *summary]

    async def history(self, start: float, end: float) -> list[HistoricalSample]:
        """Each complete day GitHub still holds (the 14 before today), stamped when the day ended.

        A day is a sample at the next midnight, the moment the live exporter
        would have started showing it; graph with last_over_time(...[1d]).
        """
        now = self._clock()
        names, _ = await self.repositories()
        last = complete_day(now)
        samples: list[HistoricalSample] = []
        for name in names:
            try:
                views = daily(await self._get(VIEWS, name, {"per": "day"}), "views", VIEWS)
                clones = daily(await self._get(CLONES, name, {"per": "day"}), "clones", CLONES)
            except RateLimitedError:
                raise
            except APIError as exc:
                if exc.status >= 500:
                    raise
                log.warning("repository skipped", collector=self.name, repository=name, reason=skip_reason(exc))
                continue
            labels = (name,)
            for day in range(last - 13, last + 1):
                at = float((day + 1) * DAY)
                if not start <= at <= end:
                    continue
                v, c = views.get(day, (0.0, 0.0)), clones.get(day, (0.0, 0.0))
                for spec, value in (
                    (DAY_VIEWS, v[0]),
                    (DAY_VISITORS, v[1]),
                    (DAY_CLONES, c[0]),
                    (DAY_CLONERS, c[1]),
                    (DAY_TIMESTAMP, float(day * DAY)),
                ):
                    samples.append(HistoricalSample(spec, labels, value, at))
        return samples


async def _none() -> None:
    return None
