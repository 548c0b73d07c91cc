"""GitHubClient against a hostile GitHub: foreign links, oversized bodies, loops, page caps, bad token answers."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry

from exporter.github import streams
from exporter.github.auth import TokenAuth
from exporter.github.client import GitHubClient
from exporter.github.errors import MalformedResponseError
from exporter.settings import GitHubSettings
from exporter.simulator import ManualClock, RunningSimulator
from exporter.telemetry import ExporterMetrics
from tests.collectors.harness import NOW

from .conftest import TOKEN
from .test_client import SUBJECTS, SUMMARY, WINDOW, value

ORG = "octo-demo"


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[RunningSimulator]:
    """Another host (another port on loopback is another origin): it must never see the token."""
    with RunningSimulator(clock=ManualClock(NOW)) as running:
        yield running


async def hostile_client(running: RunningSimulator, registry: CollectorRegistry, **options: object) -> GitHubClient:
    settings = GitHubSettings(api_url=running.url, token=TOKEN, max_retries=0, **options)  # type: ignore[arg-type]
    return GitHubClient(settings, ExporterMetrics(registry), clock=running.sim.now)


async def test_next_link_to_another_host_is_refused_and_counted(running, sim, elsewhere, registry) -> None:
    elsewhere.sim.reset()
    foreign = f"{elsewhere.url}/orgs/{ORG}/insights/api/subject-stats?page=2"
    sim.add_fault("foreign_link", route=SUBJECTS, url=foreign)
    client = await hostile_client(running, registry)
    try:
        with pytest.raises(MalformedResponseError, match="another host"):
            [s async for s in client.paginate(SUBJECTS, params=WINDOW, org=ORG)]
    finally:
        await client.aclose()
    assert elsewhere.sim.count(SUBJECTS) == 0, "the token was sent to another host"
    assert value(registry, "github_exporter_api_request_failures_total", endpoint=SUBJECTS) == 1


def test_token_auth_never_signs_a_request_to_another_host() -> None:
    auth = TokenAuth("ghp_secret", "https://ghe.example.com/api/v3")
    home = next(auth.auth_flow(httpx.Request("GET", "https://ghe.example.com/api/v3/orgs/o")))
    away = next(auth.auth_flow(httpx.Request("GET", "https://api.github.com/orgs/o?page=2")))
    other_port = next(auth.auth_flow(httpx.Request("GET", "https://ghe.example.com:8443/api/v3/orgs/o")))
    assert home.headers["Authorization"] == "Bearer ghp_secret"
    assert "Authorization" not in away.headers and "Authorization" not in other_port.headers


async def test_pagination_loop_is_a_counted_failure(running, sim, registry) -> None:
    sim.add_fault("loop", count=None, route=SUBJECTS)
    client = await hostile_client(running, registry)
    try:
        with pytest.raises(MalformedResponseError, match="page already read"):
            [s async for s in client.paginate(SUBJECTS, params={**WINDOW, "per_page": 2}, org=ORG)]
    finally:
        await client.aclose()
    assert value(registry, "github_exporter_api_request_failures_total", endpoint=SUBJECTS) == 1


async def test_page_cap_is_counted_as_a_truncated_listing(running, sim, registry) -> None:
    client = await hostile_client(running, registry, max_pages=2)
    try:
        items = [s async for s in client.paginate(SUBJECTS, params={**WINDOW, "per_page": 2}, org=ORG)]
        everything = [s async for s in client.paginate(SUBJECTS, params={**WINDOW, "per_page": 100}, org=ORG)]
    finally:
        await client.aclose()
    assert len(items) == 4 < len(everything)
    assert value(registry, "github_exporter_api_truncated_listings_total", endpoint=SUBJECTS) == 1


async def test_oversized_body_is_refused_and_counted(running, sim, registry) -> None:
    sim.add_fault("oversized", route=SUMMARY, size=3 * 1024 * 1024)
    client = await hostile_client(running, registry, max_response_bytes=1024 * 1024)
    try:
        with pytest.raises(streams.BodyTooLargeError, match="max_response_bytes"):
            await client.get(SUMMARY, params=WINDOW, org=ORG)
        assert (await client.get(SUMMARY, params=WINDOW, org=ORG)).status == 200, "the next answer is read again"
    finally:
        await client.aclose()
    assert value(registry, "github_exporter_api_request_failures_total", endpoint=SUMMARY) == 1


async def test_malformed_fault_reaches_a_revalidating_client(running, sim, registry) -> None:
    client = await hostile_client(running, registry)
    try:
        await client.get(SUMMARY, params=WINDOW, org=ORG)  # cached with an ETag; the next GET revalidates
        sim.add_fault("malformed", route=SUMMARY)
        with pytest.raises(MalformedResponseError):
            await client.get(SUMMARY, params=WINDOW, org=ORG)
    finally:
        await client.aclose()
    assert sim.last_headers(SUMMARY).get("if-none-match")


def streamed(*parts: bytes) -> httpx.Response:
    """A response with no Content-Length whose body arrives in parts, as a chunked answer does."""
    return httpx.Response(200, stream=_Stream(parts))


class _Stream(httpx.AsyncByteStream):
    def __init__(self, parts: tuple[bytes, ...]) -> None:
        self._parts = parts

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self._parts:
            yield part


async def test_read_capped_stops_a_chunked_body_at_the_limit() -> None:
    with pytest.raises(streams.BodyTooLargeError):
        await streams.read_capped(streamed(b"x" * 600, b"y" * 600), 1024, "/r")
    assert await streams.read_capped(streamed(b"[1,", b"2]"), 1024, "/r") == b"[1,2]"


async def test_large_json_is_parsed_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    loads = streams.json.loads

    def spy(body: bytes) -> object:
        threads.append(threading.get_ident())
        return loads(body)

    monkeypatch.setattr(streams.json, "loads", spy)
    small = await streams.parse_json(b"[1]")
    large = await streams.parse_json(b"[" + b"1," * streams.INLINE_JSON_BYTES + b"1]")
    assert small == [1] and len(large) == streams.INLINE_JSON_BYTES + 1
    assert threads[0] == threading.get_ident() and threads[1] != threading.get_ident()


async def test_ndjson_line_cap() -> None:
    lines = [line async for line in streams.capped_lines(streamed(b'{"a":1}\n{"b"', b":2}\n\n"), "/r", 64)]
    assert lines == ['{"a":1}', '{"b":2}', ""]
    with pytest.raises(streams.BodyTooLargeError, match="line is longer"):
        [line async for line in streams.capped_lines(streamed(b'{"a":1}\n', b"x" * 40, b"x" * 40), "/r", 64)]
