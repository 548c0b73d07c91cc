"""Which REST API versions the simulator answers, and GitHub's answer to a request for any other.

GitHub documents (read 2026-12-06):
- https://docs.github.com/en/rest/about-the-rest-api/api-versions : a request without `X-GitHub-Api-Version`
  gets 2022-11-28; "If you specify an API version that is no longer supported, you will receive a 400 error."
- https://github.blog/changelog/2026-03-12-rest-api-version-2026-03-10-is-now-available : 2026-03-10 is the
  newest version; 2022-11-28 stays supported for at least 24 months and stays the default without the header.
The message's wording is GitHub's own answer as quoted in
https://github.com/expipiplus1/update-nix-fetchgit/issues/79 (one version supported then); how GitHub lists two
versions is not documented: newest first, the newest marked "(most recent)", is this module's assumption.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.simulator.routing import GitHubError

HEADER = "x-github-api-version"
SUPPORTED: tuple[str, ...] = ("2026-03-10", "2022-11-28")  # newest first
DEFAULT = "2022-11-28"  # what a request without the header gets
DOCS = "https://docs.github.com/rest"
# Response fields a version no longer sends, by the route templates the simulator serves: the 2026-03-10 changes
# (the OpenAPI description's x-github-breaking-changes) that reach a simulated answer; docs/github-api-version.md.
REMOVED: dict[str, dict[str, frozenset[str]]] = {
    "2026-03-10": {"/orgs/{org}/repos": frozenset({"has_downloads"}),
                   "/users/{username}/repos": frozenset({"has_downloads"})},
}


def unsupported_message(asked: str) -> str:
    listed = ", ".join(f'"{v}" (most recent)' if i == 0 else f'"{v}"' for i, v in enumerate(SUPPORTED))
    return (f'The version you specified in the "X-GitHub-API-Version" request header, "{asked}", is not a supported '
            f"version. The following versions are currently supported: {listed}.")


def selected(headers: Mapping[str, str]) -> str:
    """The version a request is served under; a version GitHub does not support raises its 400."""
    asked = headers.get(HEADER)
    if asked is None:
        return DEFAULT
    if asked not in SUPPORTED:
        raise GitHubError(400, unsupported_message(asked), documentation_url=DOCS)
    return asked


def shaped(template: str, version: str, body: Any) -> Any:
    """A handler's answer as `version` sends it: the list items without the fields that version removed."""
    gone = REMOVED.get(version, {}).get(template)
    if not gone or not isinstance(body, list):
        return body
    return [{k: v for k, v in item.items() if k not in gone} if isinstance(item, dict) else item for item in body]
