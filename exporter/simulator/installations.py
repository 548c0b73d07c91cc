"""GitHub App authentication: find the app's installation, trade a JWT for an installation token.

These are the endpoints an exporter configured as a GitHub App calls before
anything else. The app here is the exporter's own (`SimulatorConfig.app_id`),
installed on every simulated organisation and on the enterprise; it is not
one of the world's apps, which only generate traffic.
"""

from __future__ import annotations

from exporter.simulator.routing import Call, GitHubError, Reply, SimRoute, iso
from exporter.simulator.users import simple_user
from exporter.simulator.world import World, stable_hash

APP_DOCS = "https://docs.github.com/enterprise-cloud@latest/rest/apps/apps"
APP_SLUG = "github-insights-exporter"
DEFAULT_APP_ID = 1_000_001
_CREATED = 1_704_067_200  # 2024-01-01T00:00:00Z


def installation_id(seed: int, target_type: str, login: str) -> int:
    """The exporter app's installation id on an organisation or enterprise."""
    return 50_000_000 + stable_hash(seed, "exporter-installation", target_type, login.lower()) % 40_000_000


def client_id(seed: int, app_id: int) -> str:
    """The exporter app's client ID, which GitHub also accepts as a JWT's `iss`."""
    return f"Iv23li{stable_hash(seed, 'exporter-client', app_id):014x}"


def installations(world: World) -> dict[int, tuple[str, str, int]]:
    """installation id -> (target type, login, target id) for every place the app is installed."""
    out = {installation_id(world.seed, "Organization", o.login): ("Organization", o.login, o.id)
           for o in world.orgs.values()}
    out[installation_id(world.seed, "Enterprise", world.enterprise)] = ("Enterprise", world.enterprise,
                                                                         world.enterprise_id)
    return out


def _account(base: str, target_type: str, login: str, target_id: int) -> dict[str, object]:
    if target_type == "Enterprise":
        return {
            "id": target_id, "node_id": f"E_kgDO{target_id:08d}", "name": login, "slug": login,
            "html_url": f"https://github.com/enterprises/{login}", "website_url": None, "description": None,
            "created_at": iso(_CREATED), "updated_at": iso(_CREATED),
            "avatar_url": f"https://avatars.githubusercontent.com/b/{target_id}?v=4",
        }
    return simple_user(base, login, target_id, target_type, org_urls=True)


def _installation(call: Call, target_type: str, login: str) -> dict[str, object]:
    seed = call.sim.world.seed
    inst_id = installation_id(seed, target_type, login)
    _, name, target_id = installations(call.sim.world)[inst_id]
    app_id = call.sim.config.app_id or DEFAULT_APP_ID
    base = call.base_url
    if target_type == "Enterprise":
        permissions = {"enterprise_administration": "read", "enterprise_organization_installations": "read"}
        html = f"https://github.com/enterprises/{name}/settings/installations/{inst_id}"
    else:
        permissions = {"organization_administration": "read", "metadata": "read"}
        html = f"https://github.com/organizations/{name}/settings/installations/{inst_id}"
    return {
        "id": inst_id,
        "account": _account(base, target_type, name, target_id),
        "repository_selection": "all",
        "access_tokens_url": f"{base}/app/installations/{inst_id}/access_tokens",
        "repositories_url": f"{base}/installation/repositories",
        "html_url": html,
        "app_id": app_id,
        "client_id": client_id(seed, app_id),
        "app_slug": APP_SLUG,
        "target_id": target_id,
        "target_type": target_type,
        "permissions": permissions,
        "events": [],
        "created_at": iso(_CREATED),
        "updated_at": iso(_CREATED),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }


def org_installation(call: Call) -> dict[str, object]:
    org = call.sim.world.org(call.path_params["org"])
    if org is None:
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    return _installation(call, "Organization", org.login)


def enterprise_installation(call: Call) -> dict[str, object]:
    world = call.sim.world
    if call.path_params["enterprise"].lower() != world.enterprise.lower():
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    return _installation(call, "Enterprise", world.enterprise)


def create_access_token(call: Call) -> Reply:
    raw = call.path_params["installation_id"]
    target = installations(call.sim.world).get(int(raw)) if raw.isdigit() else None
    if target is None:
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    token, expires_at = call.sim.issue_installation_token(int(raw))
    permissions = ({"enterprise_administration": "read"} if target[0] == "Enterprise"
                   else {"organization_administration": "read", "metadata": "read"})
    return Reply({"token": token, "expires_at": iso(expires_at), "permissions": permissions,
                  "repository_selection": "all"}, status=201)


ROUTES = [
    SimRoute("GET", "/orgs/{org}/installation", org_installation, auth="jwt",
             docs=f"{APP_DOCS}#get-an-organization-installation-for-the-authenticated-app"),
    SimRoute("GET", "/enterprises/{enterprise}/installation", enterprise_installation, auth="jwt",
             docs=f"{APP_DOCS}#get-an-enterprise-installation-for-the-authenticated-app"),
    SimRoute("POST", "/app/installations/{installation_id}/access_tokens", create_access_token, auth="jwt",
             docs=f"{APP_DOCS}#create-an-installation-access-token-for-an-app"),
]
