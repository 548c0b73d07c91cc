"""What REST API version 2026-03-10 changed, for every endpoint the exporter calls (docs/github-api-version.md).

GitHub's "Breaking changes" page (https://docs.github.com/en/rest/about-the-rest-api/breaking-changes, read
2026-12-06) lists the changes in prose; the OpenAPI description @octokit/openapi 23.0.2 ships each one as an
`x-github-breaking-changes` patch beside the node it changes. This test reads the patches: it fails when a change
reaches an operation the exporter calls that the table below (and the doc) does not list, or when the exporter
reads a field a change removes.
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any

import pytest

from exporter import collectors
from exporter.collectors import COLLECTORS
from exporter.collectors.repo_traffic import LISTING_FIELDS, LISTING_SCHEMA
from exporter.github import auth, client
from exporter.settings import API_VERSION, GitHubSettings
from exporter.simulator import versions
from exporter.simulator.app import FAMILIES
from tests.contract import description

# operation -> the 2026-03-10 changesets that reach it (on the operation or a schema its answer uses)
AFFECTED: dict[str, set[str]] = {
    "GET /orgs/{org}/repos": {"remove_has_downloads"},
    "GET /users/{username}/repos": {"remove_has_downloads"},
    # the token's `repositories` list (of `repository`), present only when the token is limited to some
    "POST /app/installations/{installation_id}/access_tokens": {
        "remove_has_downloads", "remove_use_squash_pr_title_as_default", "deprecate_beta_media_type"},
}
RETIRED = {"GET /orgs/{org}/copilot/usage", "GET /orgs/{org}/team/{team_slug}/copilot/usage"}  # in no description
GHES_AREA = ("/enterprise/stats/{area}", "/enterprise/stats/all")  # the simulator serves every area; we read `all`


load = functools.cache(description.load)  # read-only here


def operations() -> list[str]:
    """Every operation the simulator serves for the exporter, as the description names it."""
    found = []
    for routes in FAMILIES:
        for route in routes:
            template = route.template.removeprefix("/api/v3").replace(*GHES_AREA)
            found.append(f"{route.method} {template}")
    return sorted(set(found))


def described(operation: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    method, template = operation.split(" ", 1)
    for name in (description.BASE, *description.OTHERS):
        doc = load(name)
        item = doc["paths"].get(template, {}).get(method.lower())
        if item is not None:
            return doc, item
    return None


def removed_fields(change: dict[str, Any]) -> set[str]:
    """The response or request properties a changeset removes (merge-patch nulls, JSON Patch removes)."""
    patch, found = change["patch"], set()
    if isinstance(patch, list):
        paths = [op["path"] for op in patch if op["op"] == "remove"]
        found |= {m[1] for path in paths if (m := re.search(r"/properties/([^/]+)$", path))}
    else:
        stack = [patch]
        while stack:
            node = stack.pop()
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict):
                    found |= {k for k, v in value.items() if v is None}
                if isinstance(value, dict):
                    stack.append(value)
    return found


def test_the_default_is_the_newest_version() -> None:
    assert API_VERSION == GitHubSettings().api_version == versions.SUPPORTED[0] == "2026-03-10"


@pytest.mark.parametrize("operation", operations())
def test_changes_reaching_each_operation_are_the_listed_ones(operation: str) -> None:
    found = described(operation)
    if operation in RETIRED:
        assert found is None
        return
    assert found is not None, f"{operation} is in none of the descriptions"
    doc, item = found
    changes = {c for c, version, _ in description.breaking_changes(doc, item) if version <= API_VERSION}
    assert changes == AFFECTED.get(operation, set())


def test_the_exporter_reads_no_field_a_change_removes() -> None:
    removed: set[str] = set()
    for operation in AFFECTED:
        doc, item = described(operation) or ({}, {})
        for changeset, _, where in description.breaking_changes(doc, item):
            node = item if where == "operation" else description._component(doc, where)[2]
            removed |= {f for c in node[description.BREAKING] if c["changeset"] == changeset for f in removed_fields(c)}
    assert {"has_downloads", "use_squash_pr_title_as_default", "master_branch"} <= removed
    modules = {auth, client, *(inspect.getmodule(c) or collectors for c in COLLECTORS.values())}
    sources = [inspect.getsource(m) for m in modules]
    # A field table (exporter.drift) may name a removed field once, as skipped: that is no read, and not required.
    skipped = {f for f, why in LISTING_FIELDS.items() if why.startswith("skipped: ")}
    assert removed & set(LISTING_FIELDS) <= skipped and not removed & LISTING_SCHEMA.required
    read = {f for f in removed
            if sum(len(re.findall(rf"[\"']{re.escape(f)}[\"']", text)) for text in sources) > (f in skipped)}
    assert not read, f"the exporter reads fields 2026-03-10 removed: {read}"


def test_the_simulator_drops_what_2026_03_10_removed_from_the_lists_it_serves() -> None:
    lists = {op.split(" ", 1)[1] for op in AFFECTED if op.startswith("GET ")}
    assert set(versions.REMOVED[API_VERSION]) == lists
    assert all(fields == {"has_downloads"} for fields in versions.REMOVED[API_VERSION].values())
