"""GitHub Enterprise Server statistics: the daily collections GHES servers upload through GitHub Connect.

The world's enterprise has two connected servers, a large production one and
a small staging one; organisations have none (they answer an empty list, as
an account with Server Statistics but no server would). Each server uploads
one collection per UTC day, stamped `YYYY-MM-DDT23:59:59Z`, which becomes
visible between 30 minutes and 2 hours after the day ends. Staging misses
`config.ghes_missed_upload_share` of its uploads (about one in seven in the
tests' world, none in the demo's healthy one), so its newest collection is
then two days old. Every figure is a function of the server and the day: cumulative counts
(repositories, pushes, comments, ...) grow every day, state splits (open and
closed issues, active and inactive hooks) add up to their totals, and the
GHES version moves up a patch or minor release every few weeks, staging
ahead of production.

`date_start` and `date_end` are read as dates (`YYYY-MM-DD`, whole UTC days)
or as timestamps, although the description calls them Link-header cursors;
without them the answer covers the 30 days up to now (GitHub documents no
default), and a range longer than 365 days is refused with a 422.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from exporter.simulator.config import SimulatorConfig
from exporter.simulator.routing import Call, GitHubError, SimRoute, iso, parse_iso
from exporter.simulator.world import World, stable_hash, unit

DOCS = "https://docs.github.com/enterprise-cloud@latest/rest/enterprise-admin/admin-stats"
DAY = 86400
DEFAULT_DAYS = 30
MAX_DAYS = 365
SCHEMA_VERSION = "20230306"
ECOSYSTEMS = ("npm", "maven", "docker", "nuget", "rubygems", "containers")
# Share of each ecosystem's packages, and its state when the registry is on.
_ECOSYSTEM_SHAPE = {
    "npm": (0.34, "TRUE"), "maven": (0.22, "TRUE"), "docker": (0.05, "READONLY"),
    "nuget": (0.09, "TRUE"), "rubygems": (0.0, "FALSE"), "containers": (0.30, "TRUE"),
}
_FEATURES = ("license_usage_sync", "content_analysis", "content_analysis_notifications", "dependabot_alerts")
_VERSION_EPOCH = 19_509  # 2023-06-01: GHES 3.9.0 in this world's release history


@dataclass(frozen=True)
class Server:
    """One GHES instance connected to the enterprise."""

    server_id: str
    host_name: str
    scale: float  # size relative to the production server
    installed_day: int  # UTC day number (days since 1970-01-01) counts start from
    upgrade_lead_days: int  # how many days before production this server gets each release
    skip_share: float  # share of days without an upload
    registry: bool  # GitHub Packages enabled

    def uploads(self, seed: int, day: int) -> bool:
        return day >= self.installed_day and unit(seed, "ghes-skip", self.server_id, day) >= self.skip_share

    def visible_at(self, seed: int, day: int) -> float:
        """When the collection for `day` shows on GitHub: 30 minutes to 2 hours after the day ends."""
        return (day + 1) * DAY + 1800 + 5400 * unit(seed, "ghes-upload", self.server_id, day)


def _uuid(seed: int, *parts: object) -> str:
    h = f"{stable_hash(seed, 'ghes', *parts):016x}{stable_hash(seed, 'ghes2', *parts):016x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def servers(world: World, missed_upload_share: float = SimulatorConfig.ghes_missed_upload_share) -> tuple[Server, ...]:
    """Production, which never misses an upload, and staging, which misses `missed_upload_share` of them."""
    domain = f"{world.enterprise.lower()}.example"
    return (
        Server(_uuid(world.seed, world.enterprise, "prod"), f"github.{domain}", 1.0, 18_779, 0, 0.0, True),
        Server(_uuid(world.seed, world.enterprise, "staging"), f"github-staging.{domain}", 0.04, 19_300, 20,
               missed_upload_share, False),
    )


def _grow(seed: int, server: Server, key: str, day: int, base: float, per_day: float) -> int:
    """A cumulative count: `base` at installation, `per_day` more each day, never shrinking."""
    age = max(0, day - server.installed_day)
    jitter = 0.9 * per_day * unit(seed, "ghes-grow", server.server_id, key, day)
    return int(server.scale * (base + per_day * age + jitter))


def _share(seed: int, server: Server, key: str, day: int, lo: float, hi: float) -> float:
    return lo + (hi - lo) * unit(seed, "ghes-share", server.server_id, key, day)


def version(server: Server, day: int) -> str:
    """A minor release every 90 days from 3.9 in June 2023, patches every two weeks in between."""
    age = max(0, day + server.upgrade_lead_days - _VERSION_EPOCH)
    return f"3.{9 + age // 90}.{(age % 90) // 14}"


def collection(seed: int, server: Server, day: int) -> dict[str, object]:
    """The collection `server` uploads for UTC day `day`, shaped as the description documents."""
    def g(key: str, base: float, per_day: float) -> int:
        return _grow(seed, server, key, day, base, per_day)

    def s(key: str, lo: float, hi: float) -> float:
        return _share(seed, server, key, day, lo, hi)

    users = g("users", 900, 0.8)
    root_repos = g("root_repos", 2400, 3.1)
    fork_repos = g("fork_repos", 260, 0.35)
    total_repos = root_repos + fork_repos
    issues = g("issues", 21000, 26)
    closed_issues = int(issues * s("closed_issues", 0.78, 0.82))
    pulls = g("pulls", 30000, 41)
    open_pulls = int(pulls * s("open_pulls", 0.03, 0.05))
    mergeable = int(open_pulls * s("mergeable", 0.8, 0.9))
    milestones = g("milestones", 300, 0.2)
    open_milestones = int(milestones * s("open_milestones", 0.08, 0.12))
    gists = g("gists", 700, 0.9)
    private_gists = int(gists * 0.62)
    hooks = int(total_repos * 0.3)
    inactive_hooks = int(hooks * s("inactive_hooks", 0.04, 0.07))
    orgs = g("orgs", 40, 0.03)
    teams = orgs * 6 + int(6 * s("teams", 0, 1))
    actions_repos = int(total_repos * min(0.85, 0.25 + max(0, day - server.installed_day) / 3000))

    return {
        "server_id": server.server_id,
        "collection_date": iso(day * DAY + DAY - 1),
        "schema_version": SCHEMA_VERSION,
        "ghes_version": version(server, day),
        "host_name": server.host_name,
        "github_connect": {"features_enabled": list(_FEATURES if server.registry else _FEATURES[:2])},
        "ghe_stats": {
            "comments": {
                "total_commit_comments": g("commit_comments", 4000, 5.2),
                "total_gist_comments": g("gist_comments", 120, 0.3),
                "total_issue_comments": g("issue_comments", 65000, 61),
                "total_pull_request_comments": g("pr_comments", 98000, 92),
            },
            "gists": {"total_gists": gists, "private_gists": private_gists, "public_gists": gists - private_gists},
            "hooks": {"total_hooks": hooks, "active_hooks": hooks - inactive_hooks, "inactive_hooks": inactive_hooks},
            "issues": {"total_issues": issues, "open_issues": issues - closed_issues, "closed_issues": closed_issues},
            "milestones": {"total_milestones": milestones, "open_milestones": open_milestones,
                           "closed_milestones": milestones - open_milestones},
            "orgs": {"total_orgs": orgs, "disabled_orgs": orgs // 15, "total_teams": teams,
                     "total_team_members": teams * 7 + int(10 * s("members", 0, 1))},
            "pages": {"total_pages": int(root_repos * 0.05)},
            "pulls": {"total_pulls": pulls, "merged_pulls": int(pulls * 0.71), "mergeable_pulls": mergeable,
                      "unmergeable_pulls": open_pulls - mergeable},
            "repos": {"total_repos": total_repos, "root_repos": root_repos, "fork_repos": fork_repos,
                      "org_repos": int(root_repos * 0.86), "total_pushes": g("pushes", 410000, 180),
                      "total_wikis": int(root_repos * 0.11)},
            "users": {"total_users": users, "admin_users": max(1, int(users * 0.02)),
                      "suspended_users": int(users * 0.08)},
        },
        "dormant_users": {"total_dormant_users": int(users * s("dormant", 0.13, 0.17)),
                          "dormancy_threshold": "90 days"},
        "actions_stats": {
            "number_of_repos_using_actions": actions_repos,
            "percentage_of_repos_using_actions": f"{100 * actions_repos / total_repos:.2f}" if total_repos else "0.00",
        },
        "packages_stats": {
            "registry_enabled": server.registry,
            "registry_v2_enabled": server.registry,
            "ecosystems": [_ecosystem(seed, server, day, name) for name in ECOSYSTEMS] if server.registry else [],
        },
    }


def _ecosystem(seed: int, server: Server, day: int, name: str) -> dict[str, object]:
    share, state = _ECOSYSTEM_SHAPE[name]
    published = _grow(seed, server, f"packages-{name}", day, 1500 * share, 1.2 * share)
    private = int(published * 0.55)
    internal = int(published * 0.3)
    organization = int(published * 0.9)
    active = state == "TRUE"

    def daily(key: str, mean: float) -> int:
        return int(mean * share * (0.5 + unit(seed, "ghes-pkg", server.server_id, name, key, day)))

    return {
        "name": name,
        "enabled": state,
        "published_packages_count": published,
        "private_packages_count": private,
        "public_packages_count": published - private - internal,
        "internal_packages_count": internal,
        "user_packages_count": published - organization,
        "organization_packages_count": organization,
        "daily_download_count": daily("download", 9000) if state != "FALSE" else 0,
        "daily_update_count": daily("update", 40) if active else 0,
        "daily_delete_count": daily("delete", 3) if active else 0,
        "daily_create_count": daily("create", 4) if active else 0,
    }


def _bound(call: Call, name: str, end_of_day: bool) -> float | None:
    text = call.query.get(name)
    if text is None or text == "":
        return None
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
            return day + DAY - 1 if end_of_day else day
        return parse_iso(text)
    except ValueError:
        raise call.invalid(f"Invalid value for {name}: {text!r} is not a date (YYYY-MM-DD).") from None


def server_statistics(call: Call) -> list[dict[str, object]]:
    world = call.sim.world
    account = call.path_params["enterprise_or_org"]
    if account.lower() == world.enterprise.lower():
        connected = servers(world, call.sim.config.ghes_missed_upload_share)
    elif world.org(account) is not None:
        connected = ()
    else:
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    start = _bound(call, "date_start", end_of_day=False)
    end = _bound(call, "date_end", end_of_day=True)
    if end is None:
        end = call.now if start is None else max(call.now, start)
    if start is None:
        start = end - DEFAULT_DAYS * DAY
    if start > end:
        raise call.invalid("date_start must not be after date_end.")
    if end - start > (MAX_DAYS + 1) * DAY:
        raise call.invalid(f"The time period can be at most {MAX_DAYS} days.")
    out = []
    first, last = math.floor(start / DAY) - 1, math.floor(end / DAY)
    for day in range(first, last + 1):
        stamp = day * DAY + DAY - 1
        if not start <= stamp <= end:
            continue
        for server in connected:
            if server.uploads(world.seed, day) and server.visible_at(world.seed, day) <= call.now:
                out.append(collection(world.seed, server, day))
    return out


ROUTES = [
    SimRoute("GET", "/enterprise-installation/{enterprise_or_org}/server-statistics", server_statistics,
             docs=f"{DOCS}#get-github-enterprise-server-statistics"),
]
