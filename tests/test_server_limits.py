"""What a network client can hold: connections past --web.max-requests, slow headers, a stalled TLS handshake."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from exporter.http.app import create_app
from exporter.http.serve import serve
from tests import test_server
from tests.test_server import Pki, always_ready, make_store, web_config_file

pki = test_server.pki  # the certificates fixture


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> float:
    """How long until the server closed the connection (EOF), failing if it stays open longer."""
    start = time.monotonic()
    try:
        data = await asyncio.wait_for(reader.read(65536), seconds)
    except ConnectionResetError:
        data = b""
    assert data == b"" or data.startswith(b"HTTP/1.1 4"), data[:80]
    return time.monotonic() - start


async def test_slow_request_headers_are_cut_off() -> None:
    server = await serve(create_app(make_store(), readiness=always_ready), "127.0.0.1:0", header_timeout=0.5)
    try:
        host, port = server.address.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and never the blank line that ends the headers
        await writer.drain()
        took = await closed_within(reader, 5)
        assert 0.4 <= took < 3
        writer.close()
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as c:  # a normal scrape is unaffected
            assert (await c.get("/metrics")).status_code == 200
    finally:
        await server.stop()


async def test_idle_connection_is_closed_before_any_request() -> None:
    server = await serve(create_app(make_store(), readiness=always_ready), "127.0.0.1:0", header_timeout=0.5)
    try:
        host, port = server.address.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        assert await closed_within(reader, 5) < 3
        writer.close()
    finally:
        await server.stop()


async def test_connections_past_the_cap_are_refused_and_requests_past_max_requests_get_503() -> None:
    server = await serve(create_app(make_store(), readiness=always_ready), "127.0.0.1:0", max_requests=2)
    held: list[asyncio.StreamWriter] = []
    try:
        host, port = server.address.rsplit(":", 1)
        readers = []
        for _ in range(4):  # twice max_requests: held open, sending nothing
            reader, writer = await asyncio.open_connection(host, int(port))
            readers.append(reader)
            held.append(writer)
        await asyncio.sleep(0.2)
        extra_reader, extra_writer = await asyncio.open_connection(host, int(port))
        assert await closed_within(extra_reader, 5) < 2, "a connection past the cap was kept"
        extra_writer.close()
        held[0].write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await asyncio.wait_for(readers[0].readline(), 5)
        assert answer.startswith(b"HTTP/1.1 503"), answer
        for writer in held:
            writer.close()
        held.clear()
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as c:  # recovered once they are gone
            assert (await c.get("/metrics")).status_code == 200
    finally:
        for writer in held:
            writer.close()
        await server.stop()


async def test_a_stalled_tls_handshake_is_cut_off(pki: Pki) -> None:
    config = web_config_file(pki, "limits.yml", "tls_server_config: {cert_file: server.crt, key_file: server.key}\n")
    app = create_app(make_store(), readiness=always_ready, web_config=config)
    server = await serve(app, "127.0.0.1:0", config, handshake_timeout=0.5)
    try:
        host, port = server.address.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))  # TCP only: no ClientHello
        assert await closed_within(reader, 5) < 3
        writer.close()
    finally:
        await server.stop()


@pytest.mark.parametrize("value", ["-1", "many"])
def test_max_requests_flag_is_checked(value: str) -> None:
    from tests.test_cli import run

    result = run("--config.check", "--web.max-requests", value)
    assert result.returncode == 2 and "--web.max-requests" in result.stderr and "Traceback" not in result.stderr
