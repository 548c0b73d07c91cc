"""The contract between endpoint families and the simulator's HTTP machinery.

A family module declares `SimRoute`s whose handlers take a `Call` and return
a body (or a `Reply`), or raise `GitHubError`. Everything GitHub does around
a handler — authentication, rate limits, pagination, ETags, faults — is the
machinery's job (see `app.py`), so handlers only compute data.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self, TypeVar

if TYPE_CHECKING:
    from starlette.datastructures import QueryParams

    from exporter.simulator.config import SimulatorConfig
    from exporter.simulator.world import World


REST_DOCS = "https://docs.github.com/rest"


@dataclass(frozen=True)
class Principal:
    """Who made a request, as far as rate limits and error messages care.

    `kind` is "token" (a personal or configured token), "installation" (an
    installation token the simulator issued), "app" (a GitHub App JWT) or
    "anonymous"; `key` names the rate-limit budget the request draws on.
    """

    kind: str
    key: str
    who: str
    installation_id: int | None = None


@dataclass(frozen=True)
class SimRoute:
    """One GitHub endpoint: method, path template (GitHub's `{param}` syntax) and handler.

    `auth` is "token" (installation or personal token), "jwt" (GitHub App
    JWT) or "optional" (anyone). `paginated` handlers return the whole list;
    the machinery slices it by page/per_page and writes the Link header.
    With `items_key`, a paginated handler returns an object and the list under
    that key is sliced (`{"total_seats": n, "seats": [...]}`).
    """

    method: str
    template: str
    handler: Callable[[Call], Any]
    auth: Literal["token", "jwt", "optional"] = "token"
    paginated: bool = False
    resource: str = "core"
    docs: str = REST_DOCS
    items_key: str | None = None


@dataclass
class Reply:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class GitHubError(Exception):
    """An error response in GitHub's shape: `{"message", "documentation_url", "status"}`."""

    def __init__(
        self, status: int, message: str, *, documentation_url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.documentation_url = documentation_url
        self.headers = dict(headers or {})

    def body(self, default_docs: str = REST_DOCS) -> dict[str, str]:
        return error_body(self.status, self.message, self.documentation_url or default_docs)


def error_body(status: int, message: str, documentation_url: str = REST_DOCS) -> dict[str, str]:
    return {"message": message, "documentation_url": documentation_url, "status": str(status)}


def invalid(detail: str, docs: str | None = None) -> GitHubError:
    """A 422 worded like GitHub's request validation."""
    return GitHubError(422, f"Invalid request.\n\n{detail}", documentation_url=docs)


@dataclass
class Fault:
    """A misbehaviour applied to matching requests: `count` times, or until cleared when None.

    kind: "status" (respond `status`), "delay" (wait `seconds` first),
    "malformed" (a 200 whose JSON is cut short) or "drop" (close the
    connection mid-response). `route` is a template or a glob over templates.
    Hostile answers: "html" (an HTML error page with `status`), "oversized" (a 200
    whose JSON is followed by `size` bytes of padding), "loop" (a next-page link
    back to the same page), "foreign_link" (a next-page link to `url` on another host),
    "bad_row" (the first row's timestamps are not ISO 8601, its full_name no owner/name).
    Every kind applies whatever the request sends (If-None-Match included).
    """

    kind: str
    count: int | None = 1
    status: int = 502
    seconds: float = 0.0
    route: str | None = None
    size: int = 0
    url: str = ""

    def matches(self, template: str) -> bool:
        return self.route is None or self.route == template or fnmatch.fnmatchcase(template, self.route)


class FamilyState(Protocol):
    """What a family keeps between requests (exports, spikes, ...): one per simulator, made on first use.

    The family marks its class with `@register_state`, so the simulator can make,
    reset and show it without naming it: adding a family with state edits no machinery.
    """

    @classmethod
    def for_simulator(cls, sim: SimulatorHost) -> Self: ...

    def reset(self) -> None:
        """Forget what requests and switches changed (the `/_sim/reset` switch); keep the world."""

    def describe(self) -> dict[str, Any]:
        """Its part of `/_sim/state`: keys merged into the simulator's own."""


FS = TypeVar("FS", bound=FamilyState)
STATE_KINDS: list[type[FamilyState]] = []


def register_state(kind: type[FS]) -> type[FS]:
    """Class decorator: the simulator keeps one `kind` per instance (see `SimulatorHost.family_state`)."""
    if kind not in STATE_KINDS:
        STATE_KINDS.append(kind)
    return kind


class SimulatorHost(Protocol):
    """What a family module may use of the simulator serving it; `app.Simulator` is the one implementation.

    Families depend on this small interface, never on the app that assembles them.
    """

    config: SimulatorConfig
    world: World
    downloads_url: str

    def now(self) -> float: ...

    def family_state(self, kind: type[FS]) -> FS: ...

    def issue_installation_token(self, installation_id: int) -> tuple[str, float]: ...

    def take_fault(self, kind: str, template: str) -> Fault | None: ...


@dataclass
class Call:
    """What a handler gets: the simulator, the path parameters, the query and the time."""

    sim: SimulatorHost
    route: SimRoute
    path_params: Mapping[str, str]
    query: QueryParams
    now: float
    principal: Principal
    body: Any = None
    base_url: str = ""

    def query_list(self, name: str) -> list[str]:
        """A list parameter given repeatedly (`sort=a&sort=b`), comma-separated, or both."""
        values = self.query.getlist(name) + self.query.getlist(f"{name}[]")
        return [part.strip() for v in values for part in v.split(",") if part.strip()]

    def invalid(self, detail: str) -> GitHubError:
        return invalid(detail, self.route.docs)


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")


def iso(epoch: float) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ`, the form GitHub writes timestamps in."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """Epoch seconds from `YYYY-MM-DDTHH:MM:SSZ` (fractions and `±HH:MM` offsets tolerated).

    Raises ValueError for anything else, including dates without a time or a
    time zone, so a client sending a sloppy timestamp finds out.
    """
    if not _ISO.match(text):
        raise ValueError(f"{text!r} is not a timestamp in the format YYYY-MM-DDTHH:MM:SSZ")
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
