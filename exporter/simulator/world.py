"""The deterministic reference world every simulated endpoint describes.

Organisations, their teams, repositories, users, GitHub Apps, the actors that
make API calls (tokens and app installations) and the API routes they call
are all derived from a seed by hashing, so two simulators built with the same
seed agree on every name and id, and tests can name them in advance.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exporter.simulator.config import SimulatorConfig

# The OpenAPI enum for `actor_type`, in its order.
ACTOR_TYPES = ("installation", "classic_pat", "fine_grained_pat", "oauth_app", "github_app_user_to_server")
USER_ACTOR_TYPES = ACTOR_TYPES[1:]

EDITORS = ("vscode", "jetbrains", "neovim", "visualstudio", "xcode")
LANGUAGES = ("python", "typescript", "javascript", "go", "java", "ruby", "rust", "csharp", "cpp", "kotlin")

_TEAMS = ("platform", "frontend", "backend", "data", "security", "docs", "mobile", "sre")
_REPOS = ("api", "web", "mobile-app", "infra", "docs", "cli", "sdk-python", "sdk-go", "website", "ml-pipeline")
_LOGINS = (
    "mona", "hubot", "octocat", "monalisa", "jdoe", "asmith", "bchen", "dpatel",
    "egarcia", "fkim", "gnovak", "hlopez", "ijones", "kwang", "lmartin", "nsato",
)
_APPS = ("Octo CI", "Release Bot", "Lint Checker", "Deploy Keeper", "Triage Bot", "Docs Builder")
_OAUTH_APPS = ("Octo CLI", "Grafana GitHub OAuth", "Terraform Cloud", "Jenkins")
_TOKEN_PURPOSES = ("ci", "scripts", "backup", "terraform", "release", "dashboard", "migration", "laptop")

# Route templates as API Insights reports them (`:param` placeholders).
ROUTE_CATALOG: tuple[tuple[str, str], ...] = (
    ("GET", "/repos/:owner/:repo"),
    ("GET", "/repos/:owner/:repo/pulls"),
    ("GET", "/repos/:owner/:repo/pulls/:pull_number"),
    ("GET", "/repos/:owner/:repo/issues"),
    ("POST", "/repos/:owner/:repo/issues/:issue_number/comments"),
    ("GET", "/repos/:owner/:repo/commits"),
    ("GET", "/repos/:owner/:repo/contents/*path"),
    ("GET", "/repos/:owner/:repo/actions/runs"),
    ("GET", "/repos/:owner/:repo/actions/runs/:run_id/jobs"),
    ("POST", "/repos/:owner/:repo/statuses/:sha"),
    ("POST", "/repos/:owner/:repo/check-runs"),
    ("PATCH", "/repos/:owner/:repo/check-runs/:check_run_id"),
    ("GET", "/repositories/:repository_id"),
    ("GET", "/orgs/:org/repos"),
    ("GET", "/orgs/:org/members"),
    ("GET", "/orgs/:org/teams/:team_slug/members"),
    ("GET", "/user"),
    ("GET", "/search/issues"),
    ("POST", "/graphql"),
    ("GET", "/rate_limit"),
    ("GET", "/repos/:owner/:repo/releases/latest"),
    ("DELETE", "/repos/:owner/:repo/git/refs/*ref"),
    ("GET", "/repos/:owner/:repo/branches/:branch/protection"),
    ("PUT", "/repos/:owner/:repo/pulls/:pull_number/merge"),
)


def stable_hash(*parts: object) -> int:
    """A 64-bit hash of the parts that is the same on every run and platform."""
    text = ":".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def unit(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1)."""
    return stable_hash(*parts) / 2**64


def _names(pool: Sequence[str], count: int, fallback: str) -> tuple[str, ...]:
    extra = (f"{fallback}-{i}" for i in range(len(pool) + 1, count + 1))
    return (*pool[:count], *extra)


@dataclass(frozen=True)
class User:
    id: int
    login: str


@dataclass(frozen=True)
class App:
    """A GitHub App installed on the organisation; its installation makes API calls."""

    id: int
    slug: str
    name: str
    client_id: str
    installation_id: int


@dataclass(frozen=True)
class OAuthApp:
    id: int
    name: str


@dataclass(frozen=True)
class ApiRoute:
    method: str
    template: str


@dataclass(frozen=True)
class Actor:
    """Something that authenticates to the API: a token, an OAuth grant or an installation.

    `routes` pairs an index into `Org.routes` with that route's share of the
    actor's traffic; `base_rate` is the mean request count per 5 minutes at
    the daily peak.
    """

    type: str
    id: int
    name: str
    subject_type: str
    subject_id: int
    subject_name: str
    integration_id: int | None
    oauth_application_id: int | None
    base_rate: float
    rate_limited_share: float
    noisy: bool
    routes: tuple[tuple[int, float], ...]
    # Share of hours in which the actor makes any request at all (see World's `heavy_tailed`).
    activity: float = 1.0


@dataclass(frozen=True)
class Subject:
    """A user or an app installation, with the actors it owns."""

    type: str
    id: int
    name: str
    actors: tuple[Actor, ...]


@dataclass(frozen=True)
class Org:
    login: str
    id: int
    teams: tuple[str, ...]
    repos: tuple[str, ...]
    users: tuple[User, ...]
    apps: tuple[App, ...]
    oauth_apps: tuple[OAuthApp, ...]
    routes: tuple[ApiRoute, ...]
    subjects: tuple[Subject, ...]

    @property
    def actors(self) -> tuple[Actor, ...]:
        return tuple(a for s in self.subjects for a in s.actors)

    def user(self, user_id: int) -> User | None:
        return next((u for u in self.users if u.id == user_id), None)

    def actor(self, actor_type: str, actor_id: int) -> Actor | None:
        return next((a for a in self.actors if a.type == actor_type and a.id == actor_id), None)


class _Ids:
    """Hands out stable ids in a range, never the same one twice within a world."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._used: set[int] = set()

    def take(self, lo: int, hi: int, *parts: object) -> int:
        value = lo + stable_hash(self._seed, "id", *parts) % (hi - lo)
        while value in self._used:
            value = lo + (value - lo + 1) % (hi - lo)
        self._used.add(value)
        return value


class World:
    """Every organisation's people, apps, actors and routes, derived from `seed`."""

    def __init__(
        self,
        seed: int = 1,
        orgs: Iterable[str] = ("octo-demo",),
        *,
        enterprise: str = "octo-enterprise",
        teams: int = 4,
        repos: int = 8,
        users: int = 12,
        apps: int = 3,
        actors: int = 25,
        routes: int = 20,
        noisy_actors: int = 2,
        noisy_rate_limited_share: tuple[float, float] = (0.05, 0.12),
        heavy_tailed: bool = False,
    ) -> None:
        self.seed = seed
        self.heavy_tailed = heavy_tailed
        self.noisy_rate_limited_share = noisy_rate_limited_share
        self.enterprise = enterprise
        self.enterprise_id = 1 + stable_hash(seed, "enterprise", enterprise) % 99_999
        self.editors = EDITORS
        self.languages = LANGUAGES
        ids = _Ids(seed)
        self.orgs: dict[str, Org] = {}
        for login in orgs:
            self.orgs[login.lower()] = self._build_org(
                ids, login, teams, repos, users, apps, actors, min(routes, len(ROUTE_CATALOG)), noisy_actors
            )

    @classmethod
    def from_config(cls, c: SimulatorConfig) -> World:
        return cls(c.seed, c.orgs, enterprise=c.enterprise, teams=c.teams, repos=c.repos, users=c.users,
                   apps=c.apps, actors=c.actors, routes=c.routes, noisy_actors=c.noisy_actors,
                   noisy_rate_limited_share=c.noisy_rate_limited_share, heavy_tailed=c.heavy_tailed)

    def org(self, login: str) -> Org | None:
        """Organisation names are not case sensitive on GitHub."""
        return self.orgs.get(login.lower())

    def resize_repos(self, login: str, count: int) -> None:
        """Give an organisation `count` repositories, the first ones unchanged: an org that grows (or shrinks)."""
        org = self.orgs[login.lower()]
        self.orgs[login.lower()] = replace(org, repos=_names(_REPOS, count, "repo"))

    def _build_org(
        self, ids: _Ids, login: str, n_teams: int, n_repos: int, n_users: int,
        n_apps: int, n_actors: int, n_routes: int, n_noisy: int,
    ) -> Org:
        seed = self.seed
        org_id = ids.take(1_000_000, 9_999_999, "org", login)
        users = tuple(
            User(ids.take(10_000_000, 99_999_999, "user", login, name), name)
            for name in _names(_LOGINS, n_users, "user")
        )
        apps = []
        for name in _names(_APPS, n_apps, "App"):
            slug = name.lower().replace(" ", "-")
            app_id = ids.take(100_000, 999_999, "app", login, slug)
            apps.append(App(
                id=app_id, slug=slug, name=name,
                client_id=f"Iv1.{stable_hash(seed, 'client', app_id):016x}",
                installation_id=ids.take(10_000_000, 99_999_999, "installation", login, slug),
            ))
        oauth_apps = tuple(OAuthApp(ids.take(1_000, 999_999, "oauth", login, n), n) for n in _OAUTH_APPS)
        routes = tuple(ApiRoute(m, t) for m, t in ROUTE_CATALOG[:n_routes])

        # Each user owns at least one actor; the rest go to users in a hashed
        # order, and actor types rotate so every type is present.
        n_user_actors = max(n_actors - len(apps), len(users))
        order = sorted(range(len(users)), key=lambda i: stable_hash(seed, "owner", login, i))
        owners = [order[j % len(order)] if j >= len(users) else j for j in range(n_user_actors)]
        type_order = sorted(USER_ACTOR_TYPES, key=lambda t: stable_hash(seed, "types", login, t))
        per_user: dict[int, list[tuple[str, int]]] = {i: [] for i in range(len(users))}
        for j, owner in enumerate(owners):
            per_user[owner].append((type_order[j % len(type_order)], j))
        # Tokens are named after their purpose; a user's tokens get different purposes.
        purpose = {j: _TOKEN_PURPOSES[(stable_hash(seed, "purpose", login, i) + n) % len(_TOKEN_PURPOSES)]
                   for i, owned in per_user.items() for n, (_, j) in enumerate(owned)}

        noisy = self._noisy_choice(login, per_user, apps, n_noisy)
        subjects = []
        for i, user in enumerate(users):
            actors = tuple(
                self._user_actor(ids, login, user, actor_type, j, purpose[j], apps, oauth_apps, routes,
                                 (actor_type, j) in noisy)
                for actor_type, j in per_user[i]
            )
            subjects.append(Subject("user", user.id, user.login, actors))
        for k, app in enumerate(apps):
            actor = self._actor(
                login, "installation", app.installation_id, app.name, "installation", app.installation_id,
                app.name, app.id, None, routes, ("installation", k) in noisy,
            )
            subjects.append(Subject("installation", app.installation_id, app.name, (actor,)))
        return Org(login, org_id, _names(_TEAMS, n_teams, "team"), _names(_REPOS, n_repos, "repo"),
                   users, tuple(apps), oauth_apps, routes, tuple(subjects))

    def _noisy_choice(
        self, login: str, per_user: dict[int, list[tuple[str, int]]], apps: Sequence[App], n_noisy: int,
    ) -> set[tuple[str, int]]:
        """Noisy actors alternate between an installation and a classic PAT, picked by hash."""
        installs = sorted((("installation", k) for k in range(len(apps))),
                          key=lambda c: stable_hash(self.seed, "noisy", login, *c))
        pats = sorted((c for cs in per_user.values() for c in cs if c[0] == "classic_pat"),
                      key=lambda c: stable_hash(self.seed, "noisy", login, *c))
        chosen: list[tuple[str, int]] = []
        while len(chosen) < n_noisy and (installs or pats):
            for pool in (installs, pats):
                if pool and len(chosen) < n_noisy:
                    chosen.append(pool.pop(0))
        return set(chosen)

    def _user_actor(
        self, ids: _Ids, login: str, user: User, actor_type: str, j: int, purpose: str, apps: Sequence[App],
        oauth_apps: Sequence[OAuthApp], routes: Sequence[ApiRoute], noisy: bool,
    ) -> Actor:
        h = stable_hash(self.seed, "actor", login, user.id, j)
        actor_id = ids.take(100_000_000, 999_999_999, "actor", login, user.id, j)
        integration_id = oauth_id = None
        if actor_type == "oauth_app":
            oauth = oauth_apps[h % len(oauth_apps)]
            name, oauth_id = oauth.name, oauth.id
        elif actor_type == "github_app_user_to_server" and apps:
            app = apps[h % len(apps)]
            name, integration_id = app.name, app.id
        else:
            name = f"{user.login}-{purpose}"
        return self._actor(login, actor_type, actor_id, name, "user", user.id, user.login,
                           integration_id, oauth_id, routes, noisy)

    def _actor(
        self, login: str, actor_type: str, actor_id: int, name: str, subject_type: str, subject_id: int,
        subject_name: str, integration_id: int | None, oauth_id: int | None,
        routes: Sequence[ApiRoute], noisy: bool,
    ) -> Actor:
        seed = self.seed
        u = unit(seed, "rate", login, actor_id)
        lo, hi = (150.0, 900.0) if actor_type == "installation" else (3.0, 120.0)
        base = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
        share = 0.002 + 0.008 * unit(seed, "share", login, actor_id)
        if noisy:
            base *= 1.5
            lo, hi = self.noisy_rate_limited_share
            share = lo + (hi - lo) * unit(seed, "noisy-share", login, actor_id)
        k = min(len(routes), 3 + stable_hash(seed, "nroutes", login, actor_id) % 5)
        picked = sorted(range(len(routes)), key=lambda r: stable_hash(seed, "route", login, actor_id, r))[:k]
        raw = [1.0 / (rank + 1) for rank in range(k)]
        weights = tuple((r, w / sum(raw)) for r, w in zip(picked, raw, strict=False))
        return Actor(actor_type, actor_id, name, subject_type, subject_id, subject_name,
                     integration_id, oauth_id, base, share, noisy, weights,
                     self._activity(login, actor_type, actor_id, noisy))

    def _activity(self, login: str, actor_type: str, actor_id: int, noisy: bool) -> float:
        """Share of hours an actor is active: 1 in a steady world; heavy-tailed otherwise.

        Installations and noisy actors are bots and always on. People's tokens follow a Pareto-like
        tail: about one in seven is busy every hour, most are idle for hours between bursts.
        """
        if not self.heavy_tailed or noisy or actor_type == "installation":
            return 1.0
        u = max(unit(self.seed, "activity", login, actor_id), 1e-3)
        return min(1.0, 0.05 / (u * math.sqrt(u)))  # 0.05 * u ** -1.5
