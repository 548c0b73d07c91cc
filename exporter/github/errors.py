"""A small typed hierarchy of GitHub API failures; callers decide by type, not by parsing text.

Messages name the route template and status, never a URL with credentials or a header.
"""

from __future__ import annotations


class GitHubError(Exception):
    """Base of every failure talking to GitHub."""

    def __init__(self, message: str, *, endpoint: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status


class TransportError(GitHubError):
    """No HTTP answer: connection refused, timeout, reset."""


class APIError(GitHubError):
    """GitHub answered with an error status; `message` is GitHub's own text when it sent one."""

    status: int  # always an HTTP status here, unlike a TransportError's

    def __init__(self, message: str, *, endpoint: str, status: int, github_message: str = "") -> None:
        super().__init__(message, endpoint=endpoint, status=status)
        self.github_message = github_message


class NotFoundError(APIError):
    """404 or 410: the resource is not there, or GitHub retired the endpoint."""


class ForbiddenError(APIError):
    """403 that is not a rate limit: missing permission or feature."""


class RateLimitedError(APIError):
    """A rate limit whose wait is longer than the client is allowed to wait."""

    def __init__(self, message: str, *, endpoint: str, status: int, retry_at: float, github_message: str = "") -> None:
        super().__init__(message, endpoint=endpoint, status=status, github_message=github_message)
        self.retry_at = retry_at


class MalformedResponseError(GitHubError):
    """A 2xx answer whose body is not the JSON we were promised."""
