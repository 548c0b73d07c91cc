"""Which of GitHub's deployments `github.api_url` points at, because each has its own set of endpoints.

github.com (api.github.com), GHE.com (Enterprise Cloud with data residency, api.SUBDOMAIN.ghe.com)
and GitHub Enterprise Server (https://HOST/api/v3). A collector says which of them has its
endpoints (`Collector.deployments`); the daemon builds it only there.
"""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlsplit


class Deployment(StrEnum):
    """The values are the column headers of the README's "Where each collector works" table."""

    GITHUB_COM = "github.com"
    GHE_COM = "GHE.com"
    GHES = "GHES"

    @classmethod
    def of(cls, api_url: str) -> Deployment:
        """GHES when the path ends in /api/v3, GHE.com for *.ghe.com, otherwise github.com (and the simulator)."""
        parts = urlsplit(api_url)
        host = (parts.hostname or "").lower()
        if host == "api.github.com":
            return cls.GITHUB_COM
        if host.endswith(".ghe.com"):
            return cls.GHE_COM
        return cls.GHES if parts.path.rstrip("/").endswith("/api/v3") else cls.GITHUB_COM


CLOUD = frozenset({Deployment.GITHUB_COM, Deployment.GHE_COM})
