"""The reference world: deterministic, the documented sizes, and actors owned the way GitHub owns them."""

from __future__ import annotations

from exporter.simulator.world import ACTOR_TYPES, World
from tests.openapi import operation


def test_same_seed_same_world_other_seed_other_world() -> None:
    a, b, c = World(seed=1), World(seed=1), World(seed=2)
    assert a.org("octo-demo") == b.org("octo-demo")
    assert a.org("octo-demo").users != c.org("octo-demo").users


def test_default_sizes_and_names() -> None:
    world = World()
    org = world.org("Octo-Demo")  # names are case-insensitive
    assert org is not None and org.login == "octo-demo"
    assert (len(org.teams), len(org.repos), len(org.users), len(org.apps)) == (4, 8, 12, 3)
    assert len(org.actors) == 25 and len(org.routes) == 20
    assert world.enterprise == "octo-enterprise"
    assert {"vscode", "jetbrains", "neovim", "visualstudio", "xcode"} <= set(world.editors)
    assert {"python", "typescript", "go", "java", "ruby", "rust"} <= set(world.languages)


def test_sizes_are_configurable() -> None:
    org = World(orgs=("a", "b"), users=20, apps=5, actors=40, routes=10, teams=9).org("b")
    assert (len(org.users), len(org.apps), len(org.actors), len(org.routes), len(org.teams)) == (20, 5, 40, 10, 9)
    assert len({u.login for u in org.users}) == 20


def test_actor_types_are_the_openapi_enum_and_owned_correctly() -> None:
    enum = operation("/orgs/{org}/insights/api/route-stats/{actor_type}/{actor_id}")["parameters"]
    documented = next(p for p in enum if p["name"] == "actor_type")["schema"]["enum"]
    assert tuple(documented) == ACTOR_TYPES

    org = World().org("octo-demo")
    assert {a.type for a in org.actors} == set(ACTOR_TYPES)
    users = {u.id for u in org.users}
    installations = {app.installation_id: app for app in org.apps}
    for actor in org.actors:
        if actor.type == "installation":
            assert actor.subject_type == "installation" and actor.subject_id in installations
            assert actor.integration_id == installations[actor.subject_id].id
        else:
            assert actor.subject_type == "user" and actor.subject_id in users
        assert (actor.oauth_application_id is not None) == (actor.type == "oauth_app")
        if actor.type == "github_app_user_to_server":
            assert actor.integration_id in {app.id for app in org.apps}
    assert all(subject.actors for subject in org.subjects), "every user and app makes calls"


def test_ids_are_unique_and_a_couple_of_actors_are_noisy() -> None:
    org = World().org("octo-demo")
    ids = [u.id for u in org.users] + [a.id for a in org.actors if a.type != "installation"]
    ids += [app.installation_id for app in org.apps] + [app.id for app in org.apps]
    assert len(ids) == len(set(ids))
    assert sum(a.noisy for a in org.actors) == 2


def test_routes_look_like_api_insights_templates() -> None:
    org = World().org("octo-demo")
    assert all(r.template.startswith("/") and r.method in {"GET", "POST", "PATCH", "PUT", "DELETE"}
               for r in org.routes)
    assert ("GET", "/repos/:owner/:repo/pulls") in {(r.method, r.template) for r in org.routes}
    for actor in org.actors:
        assert 3 <= len(actor.routes) <= 7
        assert abs(sum(w for _, w in actor.routes) - 1) < 1e-9
