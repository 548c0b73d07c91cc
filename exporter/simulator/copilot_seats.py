"""Copilot seats: the billing seat listings and an organisation's seat breakdown, from the activity model.

Every member of an organisation holds a seat through that organisation (`plan_type` business); in the
enterprise listing, members of the "engineering" enterprise team hold a second seat through it (plan
enterprise), and `total_seats` counts each user once, as GitHub says. `last_activity_at` is the newest
moment of the user's Copilot activity in exporter.simulator.copilot's model (a day with IDE cells, CLI
use, the cloud agent or active code review), looked up to `LOOKBACK_DAYS` back; dormant users have none.
A few seats are pending cancellation and a few users are invited (GET /orgs/{org}/copilot/billing).
Shapes follow the OpenAPI description (`copilot-seat-details`, `copilot-organization-details`).
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from exporter.simulator import copilot as activity
from exporter.simulator.routing import Call, GitHubError, SimRoute
from exporter.simulator.users import public_user
from exporter.simulator.world import Org, User, World, stable_hash, unit

DOCS = "https://docs.github.com/enterprise-cloud@latest/rest/copilot/copilot-user-management"
DAY = 86400
LOOKBACK_DAYS = 120
ENTERPRISE_TEAM = "engineering"
EDITOR_VERSIONS = {"vscode": "1.98.2", "jetbrains": "2025.1", "neovim": "0.10.4", "visualstudio": "17.13",
                   "xcode": "16.2"}


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=8192)
def _last_activity(seed: int, org: str, user_id: int, today: int) -> tuple[int, str] | None:
    """(day, editor text) of the user's newest activity on or before `today`, or None."""
    for day in range(today, today - LOOKBACK_DAYS, -1):
        items = activity.cells(seed, org, user_id, day)
        if items:
            ide = items[0].ide
            return day, f"{ide}/{EDITOR_VERSIONS.get(ide, '1.0')}/copilot/1.300.0"
        extra = activity.extras(seed, org, user_id, day)
        if extra.cli is not None:
            return day, "copilot-cli/1.0.8"
        if extra.cloud_agent or extra.review_active:
            return day, "github.com"
    return None


def _organization(base: str, org: Org) -> dict[str, Any]:
    """"Organization Simple" of the description."""
    api = f"{base}/orgs/{org.login}"
    return {
        "login": org.login, "id": org.id, "node_id": f"O_kgDO{org.id:08d}", "url": api,
        "repos_url": f"{api}/repos", "events_url": f"{api}/events", "hooks_url": f"{api}/hooks",
        "issues_url": f"{api}/issues", "members_url": f"{api}/members{{/member}}",
        "public_members_url": f"{api}/public_members{{/member}}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{org.id}?v=4", "description": None,
    }


def _enterprise_team(base: str, world: World, slug: str) -> dict[str, Any]:
    """"Enterprise Team" of the description: the team through which the seat is granted."""
    ident = activity.team_id(world.seed, world.enterprise, slug)
    api = f"{base}/enterprises/{world.enterprise}/teams/{slug}"
    return {
        "id": ident, "name": slug, "slug": slug, "url": api, "members_url": f"{api}/memberships{{/member}}",
        "html_url": f"https://github.com/enterprises/{world.enterprise}/teams/{slug}", "group_id": None,
        "created_at": "2024-01-15T09:00:00Z", "updated_at": "2024-01-15T09:00:00Z",
    }


def seat(
    world: World, org: Org, user: User, now: float, team: str | None = None, base: str = "https://api.github.com"
) -> dict[str, Any]:
    seed, today = world.seed, int(now // DAY)
    last = _last_activity(seed, org.login, user.id, today)
    hour = 8 + 10 * unit(seed, "seat-hour", user.id)
    last_at = min(now, last[0] * DAY + hour * 3600) if last else None
    created = today - 30 - stable_hash(seed, "seat-created", org.login, user.id) % 400
    cancelling = unit(seed, "seat-cancel", org.login, user.id) < 0.1
    next_month = (date(1970, 1, 1) + timedelta(days=today)).replace(day=1) + timedelta(days=32)
    return {
        "created_at": _stamp(created * DAY + 9 * 3600),
        "updated_at": _stamp(created * DAY + 9 * 3600),
        "pending_cancellation_date": next_month.replace(day=1).isoformat() if cancelling else None,
        "last_activity_at": _stamp(last_at) if last_at is not None else None,
        "last_activity_editor": last[1] if last else None,
        "last_authenticated_at": _stamp(last_at) if last_at is not None else None,
        "plan_type": "enterprise" if team else "business",
        "assignee": public_user(base, user, seed),
        "organization": None if team else _organization(base, org),
        "assigning_team": _enterprise_team(base, world, team) if team else None,
    }


def _org(call: Call) -> Org:
    org = call.sim.world.org(call.path_params["org"])
    if org is None:
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    return org


def org_seats(call: Call) -> dict[str, Any]:
    org = _org(call)
    seats = [seat(call.sim.world, org, u, call.now, base=call.base_url) for u in org.users]
    return {"total_seats": len(org.users), "seats": seats}


def enterprise_seats(call: Call) -> dict[str, Any]:
    world = call.sim.world
    if call.path_params["enterprise"].lower() != world.enterprise.lower():
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    seats, users = [], set()
    scope = activity.scope_of(world, "enterprise", world.enterprise)
    team = next((t for t in scope.teams if t.slug == ENTERPRISE_TEAM), None) if scope else None
    members = {u.id for u in team.members} if team else set()
    for org in world.orgs.values():
        for user in org.users:
            users.add(user.id)
            seats.append(seat(world, org, user, call.now, base=call.base_url))
            if user.id in members:
                seats.append(seat(world, org, user, call.now, ENTERPRISE_TEAM, call.base_url))
    return {"total_seats": len(users), "seats": seats}


def org_billing(call: Call) -> dict[str, Any]:
    org, world = _org(call), call.sim.world
    listed = [seat(world, org, u, call.now) for u in org.users]
    today = datetime.fromtimestamp(call.now, UTC).date()
    cycle_start = datetime(today.year, today.month, 1, tzinfo=UTC).timestamp()

    def since_cycle(s: dict[str, Any], name: str) -> bool:
        return s[name] is not None and datetime.fromisoformat(s[name].replace("Z", "+00:00")).timestamp() >= cycle_start

    active = sum(since_cycle(s, "last_activity_at") for s in listed)
    return {
        "seat_breakdown": {
            "total": len(listed),
            "added_this_cycle": sum(since_cycle(s, "created_at") for s in listed),
            "pending_cancellation": sum(s["pending_cancellation_date"] is not None for s in listed),
            "pending_invitation": 1 + stable_hash(world.seed, "invited", org.login) % 3,
            "active_this_cycle": active,
            "inactive_this_cycle": len(listed) - active,
        },
        "public_code_suggestions": "block",
        "ide_chat": "enabled",
        "platform_chat": "enabled",
        "cli": "enabled",
        "seat_management_setting": "assign_selected",
        "plan_type": "business",
    }


ROUTES = [
    SimRoute("GET", "/orgs/{org}/copilot/billing", org_billing,
             docs=f"{DOCS}#get-copilot-seat-information-and-settings-for-an-organization"),
    SimRoute("GET", "/orgs/{org}/copilot/billing/seats", org_seats, paginated=True, items_key="seats",
             docs=f"{DOCS}#list-all-copilot-seat-assignments-for-an-organization"),
    SimRoute("GET", "/enterprises/{enterprise}/copilot/billing/seats", enterprise_seats, paginated=True,
             items_key="seats", docs=f"{DOCS}#list-all-copilot-seat-assignments-for-an-enterprise"),
]
