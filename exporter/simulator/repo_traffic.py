"""Repository traffic (views, clones, popular paths and referrers) and the repository listings discovery reads.

Repositories are the world's: every organisation's repositories, plus three
public repositories per user (`dotfiles`, a fork `forked-lib` and `old-notes`,
archived) for user discovery. The last organisation repositories get special
profiles, counted from the end so that any world size has them (with the
default eight: `docs` is quiet, `cli` is read-only, `sdk-python` is a fork and
`sdk-go` was archived on ARCHIVED_ON):

    quiet      no traffic at all (a new or unloved repository): zeros and empty lists
    read-only  the token has no push access: listed with `permissions.push` false, traffic answers 403
    fork       `fork: true`, with traffic of its own
    archived   `archived: true` from ARCHIVED_ON on (active before), traffic still served

Traffic is a function of the repository and the UTC day: a daily level,
quieter at weekends, with per-day noise. Days GitHub has finished do not
change; today's counts are the full day's scaled by the share of the day
gone, so they only grow until midnight. Answers cover today and the 14 days
before it, and leave out days without traffic, as GitHub does. Unique
visitors over several days are fewer than the sum of the daily uniques (the
same people come back), never fewer than the busiest day's. Popular paths and
referrers split the window's views by stable per-repository weights; GitHub
keeps the top 10 of each.

Drift (`field_drift.set_field_drift(sim, "repo_traffic", True)`): every repository of both listings renames
`full_name` (DRIFT_RENAMED) and adds a field nobody documents (DRIFT_ADDED); the traffic answers stay as they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from exporter.simulator.field_drift import drifted, register_drift
from exporter.simulator.routing import Call, GitHubError, SimRoute, iso
from exporter.simulator.world import World, stable_hash, unit

DOCS = "https://docs.github.com/enterprise-cloud@latest/rest"
TRAFFIC_DOCS = f"{DOCS}/metrics/traffic"
REPOS_DOCS = f"{DOCS}/repos/repos"
DAY = 86400
WINDOW_DAYS = 14  # complete days before today that GitHub still reports
TOP = 10
ARCHIVED_ON = datetime(2024, 3, 1, tzinfo=UTC).timestamp()
NO_PUSH_MESSAGE = "Must have push access to repository"
PROFILES = ("archived", "fork", "read-only", "quiet")  # assigned from the last repository backwards
USER_REPOS = (("dotfiles", ""), ("forked-lib", "fork"), ("old-notes", "archived"))
DRIFT_RENAMED = ("full_name", "name_with_owner")  # old name -> new name, in every listed repository
DRIFT_ADDED = ("has_merge_queue", True)  # a field nobody documents

_PATHS = (
    ("", "{owner}/{repo}: {description}"),
    ("/blob/main/README.md", "{repo}/README.md at main · {owner}/{repo} · GitHub"),
    ("/issues", "Issues · {owner}/{repo} · GitHub"),
    ("/pulls", "Pull requests · {owner}/{repo} · GitHub"),
    ("/tree/main/src", "{repo}/src at main · {owner}/{repo} · GitHub"),
    ("/releases", "Releases · {owner}/{repo} · GitHub"),
    ("/actions", "Workflow runs · {owner}/{repo} · GitHub"),
    ("/tree/main/docs", "{repo}/docs at main · {owner}/{repo} · GitHub"),
    ("/blob/main/docs/getting-started.md", "{repo}/docs/getting-started.md at main · {owner}/{repo} · GitHub"),
    ("/blob/main/CONTRIBUTING.md", "{repo}/CONTRIBUTING.md at main · {owner}/{repo} · GitHub"),
    ("/wiki", "Home · {owner}/{repo} Wiki · GitHub"),
    ("/commits/main", "Commits · {owner}/{repo} · GitHub"),
)
_PATH_POPULARITY = (1.0, 0.6, 0.35, 0.3, 0.25, 0.2, 0.15, 0.12, 0.1, 0.06, 0.05, 0.04)
_REFERRERS = ("github.com", "Google", "news.ycombinator.com", "reddit.com", "stackoverflow.com", "Bing",
              "DuckDuckGo", "t.co", "linkedin.com", "dev.to", "docs.github.com", "statics.teams.cdn.office.net")
_REFERRER_POPULARITY = (1.0, 0.8, 0.2, 0.15, 0.25, 0.08, 0.05, 0.07, 0.06, 0.05, 0.12, 0.04)


@dataclass(frozen=True)
class Repo:
    owner: str
    owner_id: int
    owner_type: str  # "Organization" or "User"
    name: str
    id: int
    profile: str  # "", "quiet", "read-only", "fork" or "archived"
    visibility: str
    created_at: float
    views_per_day: float
    clones_per_day: float

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def fork(self) -> bool:
        return self.profile == "fork"

    @property
    def push(self) -> bool:
        return self.profile != "read-only"

    def archived(self, now: float) -> bool:
        return self.profile == "archived" and now >= ARCHIVED_ON


def _repo(seed: int, owner: str, owner_id: int, owner_type: str, name: str, profile: str) -> Repo:
    key = f"{owner.lower()}/{name.lower()}"
    u = unit(seed, "traffic-level", key)
    views = 0.0 if profile == "quiet" else math.exp(math.log(6) + u * (math.log(900) - math.log(6)))
    clones = 0.0 if profile == "quiet" else views * (0.02 + 0.1 * unit(seed, "traffic-clones", key))
    if owner_type == "User":
        visibility = "public"
    else:
        visibility = ("private", "internal", "public")[stable_hash(seed, "visibility", key) % 3]
    created = datetime(2019, 1, 1, tzinfo=UTC).timestamp() + DAY * (stable_hash(seed, "created", key) % 1500)
    return Repo(owner, owner_id, owner_type, name, 100_000_000 + stable_hash(seed, "repo-id", key) % 800_000_000,
                profile, visibility, created, views, clones)


def org_repos(world: World, login: str) -> list[Repo] | None:
    org = world.org(login)
    if org is None:
        return None
    names = org.repos
    specials = PROFILES[: max(0, len(names) - 1)]  # keep at least one ordinary repository
    profiles = {len(names) - 1 - i: p for i, p in enumerate(specials)}
    return [_repo(world.seed, org.login, org.id, "Organization", name, profiles.get(i, ""))
            for i, name in enumerate(names)]


def user_repos(world: World, login: str) -> list[Repo] | None:
    for org in world.orgs.values():
        user = next((u for u in org.users if u.login.lower() == login.lower()), None)
        if user is not None:
            return [_repo(world.seed, user.login, user.id, "User", name, profile) for name, profile in USER_REPOS]
    return None


def find(world: World, owner: str, name: str) -> Repo | None:
    repos = org_repos(world, owner) or user_repos(world, owner) or []
    return next((r for r in repos if r.name.lower() == name.lower()), None)


# -- the traffic model ------------------------------------------------------------------------

def day_counts(seed: int, repo: Repo, day: int) -> tuple[int, int, int, int]:
    """(views, unique visitors, clones, unique cloners) of a whole UTC day."""
    if repo.views_per_day <= 0 or (day + 1) * DAY <= repo.created_at:
        return 0, 0, 0, 0
    key = repo.full_name.lower()
    weekend = (day + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    rhythm = 0.45 if weekend else 1.0
    views = int(repo.views_per_day * rhythm * (0.5 + unit(seed, "views", key, day)))
    view_uniques = min(views, int(views * (0.25 + 0.2 * unit(seed, "view-uniques", key, day)) + 0.999))
    clones = int(repo.clones_per_day * rhythm * (0.4 + 1.2 * unit(seed, "clones", key, day)))
    clone_uniques = min(clones, int(clones * (0.4 + 0.3 * unit(seed, "clone-uniques", key, day)) + 0.999))
    return views, view_uniques, clones, clone_uniques


def counts_at(seed: int, repo: Repo, day: int, now: float) -> tuple[int, int, int, int]:
    """A day's counts as seen at `now`: final for past days, growing through today, nothing for future days."""
    start = day * DAY
    if now >= start + DAY:
        return day_counts(seed, repo, day)
    if now < start:
        return 0, 0, 0, 0
    share = (now - start) / DAY
    full = day_counts(seed, repo, day)
    views, clones = int(full[0] * share), int(full[2] * share)
    view_uniques = min(views, max(1 if views else 0, int(full[1] * share)))
    clone_uniques = min(clones, max(1 if clones else 0, int(full[3] * share)))
    return views, view_uniques, clones, clone_uniques


def _overlap(seed: int, repo: Repo) -> float:
    """Share of daily unique visitors that are new to a several-day period."""
    return 0.55 + 0.25 * unit(seed, "overlap", repo.full_name.lower())


def _combined_uniques(seed: int, repo: Repo, count: int, daily_uniques: list[int]) -> int:
    if not daily_uniques:
        return 0
    return min(count, max(max(daily_uniques), int(sum(daily_uniques) * _overlap(seed, repo))))


def window(seed: int, repo: Repo, now: float) -> list[tuple[int, tuple[int, int, int, int]]]:
    """(day, counts) for today and the WINDOW_DAYS days before it."""
    today = math.floor(now / DAY)
    return [(day, counts_at(seed, repo, day, now)) for day in range(today - WINDOW_DAYS, today + 1)]


def traffic(seed: int, repo: Repo, now: float, kind: str, per: str) -> dict[str, object]:
    """The body of /traffic/views (kind "views") or /traffic/clones (kind "clones")."""
    offset = 0 if kind == "views" else 2
    days = [(day, c[offset], c[offset + 1]) for day, c in window(seed, repo, now)]
    count = sum(c for _, c, _ in days)
    uniques = _combined_uniques(seed, repo, count, [u for _, _, u in days])
    if per == "week":
        weeks: dict[int, list[tuple[int, int]]] = {}
        for day, c, u in days:
            weeks.setdefault(day - (day + 3) % 7, []).append((c, u))
        buckets = [(week, sum(c for c, _ in cs), _combined_uniques(seed, repo, sum(c for c, _ in cs),
                                                                    [u for _, u in cs]))
                   for week, cs in weeks.items()]
    else:
        buckets = days
    items = [{"timestamp": iso(start * DAY), "count": c, "uniques": u} for start, c, u in buckets if c > 0]
    return {"count": count, "uniques": uniques, kind: items}


def _weights(seed: int, repo: Repo, kind: str, popularity: tuple[float, ...], total: float) -> list[float]:
    """Shares adding up to `total`: each candidate's typical popularity, varied per repository."""
    raw = [p * (0.3 + unit(seed, kind, repo.full_name.lower(), i)) ** 2 for i, p in enumerate(popularity)]
    return [total * w / sum(raw) for w in raw]


def popular_paths(seed: int, repo: Repo, now: float) -> list[dict[str, object]]:
    views = traffic(seed, repo, now, "views", "day")
    count, uniques = int(views["count"]), int(views["uniques"])  # type: ignore[call-overload]
    description = f"The {repo.name} repository of {repo.owner}"
    rows = []
    weights = _weights(seed, repo, "path-weight", _PATH_POPULARITY, 0.9)
    for (suffix, title), weight in zip(_PATHS, weights, strict=False):
        c = int(count * weight)
        if c > 0:
            rows.append(
                {
                    "path": f"/{repo.owner}/{repo.name}{suffix}",
                    "title": title.format(owner=repo.owner, repo=repo.name, description=description),
                    "count": c,
                    "uniques": max(1, min(c, int(uniques * weight * 1.4))),
                }
            )
    rows.sort(key=lambda r: (-int(r["count"]), str(r["path"])))  # type: ignore[call-overload]
    return rows[:TOP]


def popular_referrers(seed: int, repo: Repo, now: float) -> list[dict[str, object]]:
    views = traffic(seed, repo, now, "views", "day")
    count, uniques = int(views["count"]), int(views["uniques"])  # type: ignore[call-overload]
    rows = []
    for referrer, weight in zip(
        _REFERRERS, _weights(seed, repo, "referrer-weight", _REFERRER_POPULARITY, 0.35), strict=False
    ):
        c = int(count * weight)
        if c > 0:
            rows.append({"referrer": referrer, "count": c, "uniques": max(1, min(c, int(uniques * weight * 1.2)))})
    rows.sort(key=lambda r: (-int(r["count"]), str(r["referrer"])))  # type: ignore[call-overload]
    return rows[:TOP]


# -- HTTP handlers ----------------------------------------------------------------------------


def _traffic_repo(call: Call) -> Repo:
    repo = find(call.sim.world, call.path_params["owner"], call.path_params["repo"])
    if repo is None:
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    if not repo.push:
        raise GitHubError(403, NO_PUSH_MESSAGE, documentation_url=call.route.docs)
    return repo


def _per(call: Call) -> str:
    per = call.query.get("per", "day")
    if per not in ("day", "week"):
        raise call.invalid(f"Invalid value for per: {per!r}; use day or week.")
    return per


def views(call: Call) -> dict[str, object]:
    return traffic(call.sim.world.seed, _traffic_repo(call), call.now, "views", _per(call))


def clones(call: Call) -> dict[str, object]:
    return traffic(call.sim.world.seed, _traffic_repo(call), call.now, "clones", _per(call))


def paths(call: Call) -> list[dict[str, object]]:
    return popular_paths(call.sim.world.seed, _traffic_repo(call), call.now)


def referrers(call: Call) -> list[dict[str, object]]:
    return popular_referrers(call.sim.world.seed, _traffic_repo(call), call.now)


def _user(base: str, login: str, user_id: int, owner_type: str) -> dict[str, object]:
    users = f"{base}/users/{login}"
    return {
        "login": login,
        "id": user_id,
        "node_id": f"{'O' if owner_type == 'Organization' else 'U'}_kgDO{user_id:08d}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "gravatar_id": "",
        "url": users,
        "html_url": f"https://github.com/{login}",
        "followers_url": f"{users}/followers",
        "following_url": f"{users}/following{{/other_user}}",
        "gists_url": f"{users}/gists{{/gist_id}}",
        "starred_url": f"{users}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{users}/subscriptions",
        "organizations_url": f"{users}/orgs",
        "repos_url": f"{users}/repos",
        "events_url": f"{users}/events{{/privacy}}",
        "received_events_url": f"{users}/received_events",
        "type": owner_type,
        "site_admin": False,
    }


_URL_TEMPLATES = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def repository(base: str, seed: int, repo: Repo, now: float) -> dict[str, object]:
    """A repository as the listing endpoints show it (the description's "Minimal Repository")."""
    api = f"{base}/repos/{repo.full_name}"
    archived = repo.archived(now)
    pushed = min(now, ARCHIVED_ON) if archived else now - DAY * unit(seed, "pushed", repo.full_name.lower())
    stars = int(repo.views_per_day * 3)
    return {
        "id": repo.id,
        "node_id": f"R_kgDO{repo.id:09d}",
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.visibility != "public",
        "owner": _user(base, repo.owner, repo.owner_id, repo.owner_type),
        "html_url": f"https://github.com/{repo.full_name}",
        "description": f"The {repo.name} repository of {repo.owner}" if repo.profile != "quiet" else None,
        "fork": repo.fork,
        "url": api,
        **{field: api + suffix for field, suffix in _URL_TEMPLATES.items()},
        "git_url": f"git://github.com/{repo.full_name}.git",
        "ssh_url": f"git@github.com:{repo.full_name}.git",
        "clone_url": f"https://github.com/{repo.full_name}.git",
        "svn_url": f"https://github.com/{repo.full_name}",
        "mirror_url": None,
        "homepage": None,
        "language": "Python" if "python" in repo.name else None,
        "forks_count": stars // 10,
        "stargazers_count": stars,
        "watchers_count": stars,
        "size": 100 + stable_hash(seed, "size", repo.id) % 90_000,
        "default_branch": "main",
        "open_issues_count": stable_hash(seed, "open-issues", repo.id) % 40,
        "is_template": False,
        "topics": [],
        "has_issues": True,
        "has_projects": True,
        "has_wiki": True,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": archived,
        "disabled": False,
        "visibility": repo.visibility,
        "pushed_at": iso(pushed),
        "created_at": iso(repo.created_at),
        "updated_at": iso(pushed),
        "permissions": {"admin": False, "maintain": False, "push": repo.push, "triage": True, "pull": True},
        "allow_forking": True,
        "web_commit_signoff_required": False,
        "forks": stars // 10,
        "open_issues": stable_hash(seed, "open-issues", repo.id) % 40,
        "watchers": stars,
    }


_SORTS = ("created", "updated", "pushed", "full_name")


def _listing(
    call: Call,
    repos: list[Repo],
    types: Mapping[str, Callable[[Repo], bool] | None],
    default_type: str,
    default_sort: str,
) -> list[dict[str, object]]:
    kind = call.query.get("type", default_type)
    if kind not in types:
        raise call.invalid(f"Invalid value for type: {kind!r}; use one of {', '.join(types)}.")
    sort = call.query.get("sort", default_sort)
    if sort not in _SORTS:
        raise call.invalid(f"Invalid value for sort: {sort!r}; use one of {', '.join(_SORTS)}.")
    direction = call.query.get("direction", "asc" if sort == "full_name" else "desc")
    if direction not in ("asc", "desc"):
        raise call.invalid(f"Invalid value for direction: {direction!r}; use asc or desc.")
    keep = types[kind]
    rows = [
        repository(call.base_url, call.sim.world.seed, r, call.now)
        for r in repos
        if r.created_at <= call.now and (keep is None or keep(r))
    ]
    field = {"created": "created_at", "updated": "updated_at", "pushed": "pushed_at", "full_name": "full_name"}[sort]
    rows.sort(key=lambda r: (str(r[field]).lower(), int(r["id"])), reverse=direction == "desc")  # type: ignore[call-overload]
    return rows


def list_org_repos(call: Call) -> list[dict[str, object]]:
    repos = org_repos(call.sim.world, call.path_params["org"])
    if repos is None:
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    types: dict[str, Callable[[Repo], bool] | None] = {
        "all": None,
        "private": lambda r: r.visibility != "public",
        "forks": lambda r: r.fork,
        "sources": lambda r: not r.fork,
        "member": None,
        "internal": lambda r: r.visibility == "internal",
    }
    return _listing(call, repos, types, "all", "created")


def list_user_repos(call: Call) -> list[dict[str, object]]:
    repos = user_repos(call.sim.world, call.path_params["username"])
    if repos is None:
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    return _listing(call, repos, {"all": None, "owner": None, "member": lambda r: False}, "owner", "full_name")


_REPO = "/repos/{owner}/{repo}/traffic"

ROUTES = [
    SimRoute("GET", f"{_REPO}/clones", clones, docs=f"{TRAFFIC_DOCS}#get-repository-clones"),
    SimRoute("GET", f"{_REPO}/popular/paths", paths, docs=f"{TRAFFIC_DOCS}#get-top-referral-paths"),
    SimRoute("GET", f"{_REPO}/popular/referrers", referrers, docs=f"{TRAFFIC_DOCS}#get-top-referral-sources"),
    SimRoute("GET", f"{_REPO}/views", views, docs=f"{TRAFFIC_DOCS}#get-page-views"),
    SimRoute(
        "GET", "/orgs/{org}/repos", list_org_repos, paginated=True, docs=f"{REPOS_DOCS}#list-organization-repositories"
    ),
    SimRoute(
        "GET",
        "/users/{username}/repos",
        list_user_repos,
        paginated=True,
        docs=f"{REPOS_DOCS}#list-repositories-for-a-user",
    ),
]


def _drifted(content: object) -> object:
    """A listing page while drifting."""
    if not isinstance(content, list):
        return content
    return [drifted(r, DRIFT_RENAMED, DRIFT_ADDED) if isinstance(r, dict) else r for r in content]


for _template in ("/orgs/{org}/repos", "/users/{username}/repos"):
    register_drift("repo_traffic", _template, _drifted)
