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


def simple_user(
    base: str, login: str, account_id: int, account_type: str = "User", *, org_urls: bool = False
) -> dict[str, object]:
    """GitHub's "Simple User": an account as other objects embed it (a repository's `owner`, an installation's
    `account`), and the start of the public user. With `org_urls` (an installation's organisation) its own API URL,
    repositories and events are under /orgs/; otherwise every URL is under /users/, organisations' too."""
    users = f"{base}/users/{login}"
    own = f"{base}/orgs/{login}" if org_urls else users
    node = "O" if account_type == "Organization" else "U"
    return {
        "login": login, "id": account_id, "node_id": f"{node}_kgDO{account_id:08d}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{account_id}?v=4", "gravatar_id": "",
        "url": own, "html_url": f"https://github.com/{login}",
        "followers_url": f"{users}/followers", "following_url": f"{users}/following{{/other_user}}",
        "gists_url": f"{users}/gists{{/gist_id}}", "starred_url": f"{users}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{users}/subscriptions", "organizations_url": f"{users}/orgs",
        "repos_url": f"{own}/repos", "events_url": f"{own}/events" if org_urls else f"{own}/events{{/privacy}}",
        "received_events_url": f"{users}/received_events", "type": account_type, "site_admin": False,
    }


def public_user(base: str, user: User, seed: int) -> dict[str, object]:
    """The "Public User" shape of GitHub's description, with stable made-up profile figures."""
    h = stable_hash(seed, "profile", user.id)
    created = _EPOCH + h % (8 * 365 * 86400)
    return {
        **simple_user(base, user.login, user.id), "user_view_type": "public",
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
