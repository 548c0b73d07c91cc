"""Users: `GET /users/{username}`, which the exporter uses to turn a configured login into a user id.

A login names the same person everywhere on GitHub. The world derives each
organisation's users separately, so when several simulated organisations
have a user with the same login, the first organisation's user answers:
tests that look logins up use a one-organisation world or unique logins.
"""

from __future__ import annotations

from exporter.simulator.routing import Call, GitHubError, SimRoute, iso
from exporter.simulator.world import User, stable_hash

USERS_DOCS = "https://docs.github.com/enterprise-cloud@latest/rest/users/users#get-a-user"
_EPOCH = 1_388_534_400  # 2014-01-01T00:00:00Z


def find(call: Call, login: str) -> User | None:
    key = login.lower()
    for org in call.sim.world.orgs.values():
        for user in org.users:
            if user.login.lower() == key:
                return user
    return None


def public_user(base: str, user: User, seed: int) -> dict[str, object]:
    """The "Public User" shape of GitHub's description, with stable made-up profile figures."""
    h = stable_hash(seed, "profile", user.id)
    created = _EPOCH + h % (8 * 365 * 86400)
    api = f"{base}/users/{user.login}"
    return {
        "login": user.login, "id": user.id, "user_view_type": "public", "node_id": f"U_kgDO{user.id:08d}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4", "gravatar_id": "",
        "url": api, "html_url": f"https://github.com/{user.login}",
        "followers_url": f"{api}/followers", "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}", "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions", "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos", "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events", "type": "User", "site_admin": False,
        "name": None, "company": None, "blog": "", "location": None, "email": None, "hireable": None,
        "bio": None, "twitter_username": None,
        "public_repos": h % 40, "public_gists": (h >> 8) % 5, "followers": (h >> 16) % 200,
        "following": (h >> 24) % 50, "created_at": iso(created), "updated_at": iso(created + (h >> 32) % 86400 * 300),
    }


def get_user(call: Call) -> dict[str, object]:
    user = find(call, call.path_params["username"])
    if user is None:
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    return public_user(call.base_url, user, call.sim.world.seed)


ROUTES = [SimRoute("GET", "/users/{username}", get_user, docs=USERS_DOCS)]
