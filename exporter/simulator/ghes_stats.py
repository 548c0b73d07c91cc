"""A GHES instance's own statistics: GET /api/v3/enterprise/stats/{area} (all, repos, users, ...).

Served under /api/v3, where GHES serves its REST API, so a client pointed at
`{simulator}/api/v3` is talking to "a GHES instance" (github.com's routes stay at
the root). The figures are the production server's `ghe_stats` for today, from
the same functions as its GitHub Connect uploads (simulator/server_statistics.py):
the instance answers live what it would upload tonight.

Drift (`field_drift.set_field_drift(sim, "ghes_stats", True)`): /all adds a group nobody documents
(DRIFT_ADDED) and renames repos.total_pushes (DRIFT_RENAMED).
"""

from __future__ import annotations

from typing import Any

from exporter.simulator.field_drift import drifted, register_drift
from exporter.simulator.routing import Call, GitHubError, SimRoute
from exporter.simulator.server_statistics import collection, servers

DOCS = "https://docs.github.com/enterprise-server@latest/rest/enterprise-admin/admin-stats"
PREFIX = "/api/v3"
DRIFT_ADDED = ("codespaces", {"total_codespaces": 4})  # a group nobody documents
DRIFT_RENAMED = ("total_pushes", "total_push_count")  # in repos: old name -> new name
AREAS = ("comments", "gists", "hooks", "issues", "milestones", "orgs", "pages", "pulls", "repos", "users")


def stats(call: Call) -> dict[str, Any]:
    world = call.sim.world
    prod = servers(world)[0]
    groups = collection(world.seed, prod, int(call.now // 86400))["ghe_stats"]
    assert isinstance(groups, dict)
    area = call.path_params["area"]
    if area == "all":
        return {name: groups[name] for name in AREAS}
    if area not in AREAS:
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    return dict(groups[area])


def _drifted(content: Any) -> Any:
    """/all while drifting (the single areas stay as they are)."""
    if not isinstance(content, dict) or not isinstance(content.get("repos"), dict):
        return content
    return drifted({**content, "repos": drifted(content["repos"], DRIFT_RENAMED)}, ("", ""), DRIFT_ADDED)


ROUTES = [SimRoute("GET", f"{PREFIX}/enterprise/stats/{{area}}", stats, docs=f"{DOCS}#get-all-statistics")]
register_drift("ghes_stats", ROUTES[0].template, _drifted)
