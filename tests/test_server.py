"""The HTTP server over real loopback connections: content negotiation, health, auth, TLS, shutdown."""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client.core import GaugeMetricFamily

from exporter.http.app import accepts_gzip, create_app
from exporter.http.landing import LandingInfo
from exporter.http.listen import ServeError, parse_listen_address
from exporter.http.serve import RunningServer, serve
from exporter.http.thread import ServingThread
from exporter.http.webconfig import WebConfig, load_web_config
from exporter.store import SnapshotStore

TEXT_004 = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
PASSWORD_HASH = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
IDENTITY = {"Accept-Encoding": "identity"}


def make_store() -> SnapshotStore:
    store = SnapshotStore(max_age=3600)
    family = GaugeMetricFamily("github_test_value", "A value for tests.", labels=["org"])
    family.add_metric(["octo"], 42)
    store.publish(("test", "octo"), [family])
    return store


def always_ready() -> tuple[bool, str]:
    return True, ""


@asynccontextmanager
async def running(
    web_config: WebConfig | None = None,
    *,
    store: SnapshotStore | None = None,
    readiness: Callable[[], tuple[bool, str]] = always_ready,
    address: str = "127.0.0.1:0",
    **app_options: Any,
) -> AsyncIterator[RunningServer]:
    app = create_app(store or make_store(), readiness=readiness, web_config=web_config, **app_options)
    server = await serve(app, address, web_config)
    try:
        yield server
    finally:
        await server.stop()


@asynccontextmanager
async def client(server: RunningServer, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=5, **options) as c:
        yield c


# --- landing page, metrics, health -------------------------------------------


@pytest.mark.parametrize(("telemetry_path", "href"), [("/metrics", "metrics"), ("/custom", "custom")])
async def test_landing_page_links_to_telemetry_path(telemetry_path: str, href: str) -> None:
    landing = {"name": "Test Exporter", "version": "1.2.3"}
    async with running(telemetry_path=telemetry_path, landing=landing) as server, client(server) as c:
        page = await c.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert f'<a href="{href}">Metrics</a>' in page.text
        assert '<a href="-/healthy">' in page.text and '<a href="-/ready">' in page.text
        assert "Test Exporter" in page.text and "1.2.3" in page.text
        # The link resolves to the metrics, the way a browser follows it.
        followed = await c.get(str(page.url.join(href)))
        assert followed.status_code == 200
        assert "github_test_value" in followed.text
        if telemetry_path != "/metrics":
            assert (await c.get("/metrics")).status_code == 404


async def test_landing_info_escapes_html() -> None:
    landing = LandingInfo(name="<script>x</script>", links=(("Docs", "https://example.com/?a=1&b=2"),))
    async with running(landing=landing) as server, client(server) as c:
        page = (await c.get("/")).text
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'href="https://example.com/?a=1&amp;b=2"' in page


async def test_content_negotiation_and_gzip() -> None:
    async with running() as server, client(server) as c:
        text = await c.get("/metrics", headers=IDENTITY)
        assert text.status_code == 200
        assert text.headers["content-type"] == TEXT_004
        assert "content-encoding" not in text.headers
        assert 'github_test_value{org="octo"} 42.0' in text.text
        assert "# EOF" not in text.text

        om = await c.get("/metrics", headers={"Accept": f"{OPENMETRICS}", **IDENTITY})
        assert om.headers["content-type"].startswith(OPENMETRICS)
        assert om.text.endswith("# EOF\n")
        assert 'github_test_value{org="octo"} 42.0' in om.text

        async with c.stream("GET", "/metrics", headers={"Accept-Encoding": "gzip"}) as zipped:
            raw = b"".join([chunk async for chunk in zipped.aiter_raw()])
        assert zipped.headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in zipped.headers["vary"]
        assert zipped.headers["content-type"] == TEXT_004
        assert gzip.decompress(raw) == text.content

        refused = await c.get("/metrics", headers={"Accept-Encoding": "gzip;q=0, identity"})
        assert "content-encoding" not in refused.headers
        assert refused.content == text.content


async def test_head_requests() -> None:
    async with running() as server, client(server) as c:
        for path in ("/", "/metrics", "/-/healthy", "/-/ready"):
            response = await c.head(path)
            assert response.status_code == 200, path
            assert response.content == b""
        assert (await c.head("/metrics")).headers["content-type"] == TEXT_004


async def test_health_readiness_and_unknown_paths() -> None:
    state = {"ready": False}

    def readiness() -> tuple[bool, str]:
        return (True, "") if state["ready"] else (False, "first collection has not finished")

    async with running(readiness=readiness) as server, client(server) as c:
        healthy = await c.get("/-/healthy")
        assert (healthy.status_code, healthy.text) == (200, "Healthy")
        not_ready = await c.get("/-/ready")
        assert (not_ready.status_code, not_ready.text) == (503, "first collection has not finished")
        state["ready"] = True
        ready = await c.get("/-/ready")
        assert (ready.status_code, ready.text) == (200, "Ready")
        assert (await c.get("/nope")).status_code == 404
        assert (await c.post("/metrics")).status_code == 405


def test_telemetry_path_must_not_hide_health_paths() -> None:
    for path in ("metrics", "/-/ready"):
        with pytest.raises(ValueError):
            create_app(make_store(), telemetry_path=path, readiness=always_ready)


def test_accepts_gzip() -> None:
    assert accepts_gzip("gzip")
    assert accepts_gzip("deflate, gzip;q=0.5")
    assert accepts_gzip("*")
    assert not accepts_gzip(None)
    assert not accepts_gzip("")
    assert not accepts_gzip("br, deflate")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("*;q=0")
    assert not accepts_gzip("*, gzip;q=0")


# --- web config: headers, rate limit, basic auth -----------------------------


async def test_extra_headers_on_every_response() -> None:
    config = WebConfig.model_validate(
        {
            "http_server_config": {
                "headers": {"X-Frame-Options": "deny", "Content-Security-Policy": "default-src 'none'"}
            },
            "basic_auth_users": {"alice": PASSWORD_HASH},
        }
    )
    async with running(config) as server, client(server, auth=("alice", "s3cret")) as c:
        responses = [await c.get(p) for p in ("/", "/metrics", "/-/healthy", "/nope")]
        responses.append(await c.get("/metrics", auth=None))  # 401
        assert [r.status_code for r in responses] == [200, 200, 200, 404, 401]
        for response in responses:
            assert response.headers["x-frame-options"] == "deny"
            assert response.headers["content-security-policy"] == "default-src 'none'"


async def test_rate_limit() -> None:
    config = WebConfig.model_validate({"rate_limit": {"interval": "1h", "burst": 2}})
    async with running(config) as server, client(server) as c:
        codes = [(await c.get("/-/healthy")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


@pytest.fixture
def bcrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Spy on bcrypt.checkpw: records the hash each call was checked against."""
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", spy)
    return calls


async def test_basic_auth(bcrypt_calls: list[bytes]) -> None:
    other = bcrypt.hashpw(b"other", bcrypt.gensalt(rounds=4)).decode()
    config = WebConfig.model_validate({"basic_auth_users": {"alice": PASSWORD_HASH, "bob": other}})
    async with running(config) as server, client(server) as c:
        for path in ("/", "/metrics", "/-/healthy", "/-/ready", "/nope"):
            missing = await c.get(path)
            assert missing.status_code == 401, path
            assert missing.headers["www-authenticate"] == "Basic"
        assert bcrypt_calls == []  # no credentials, nothing to check

        assert (await c.get("/metrics", auth=("alice", "s3cret"))).status_code == 200
        assert len(bcrypt_calls) == 1
        assert (await c.get("/metrics", auth=("alice", "s3cret"))).status_code == 200
        assert len(bcrypt_calls) == 1  # the second good request came from the cache

        assert (await c.get("/metrics", auth=("alice", "wrong"))).status_code == 401
        assert len(bcrypt_calls) == 2  # a wrong password is always checked
        assert (await c.get("/metrics", auth=("mallory", "s3cret"))).status_code == 401
        assert len(bcrypt_calls) == 3  # an unknown user costs a bcrypt check too
        assert bcrypt_calls[-1] not in (PASSWORD_HASH.encode(), other.encode())
        assert (await c.get("/metrics", auth=("bob", "s3cret"))).status_code == 401  # alice's password
        assert (await c.get("/metrics", auth=("bob", "other"))).status_code == 200
        assert (await c.get("/metrics", auth=("alice", "s3cret"))).status_code == 200
        assert len(bcrypt_calls) == 5

        bad_headers = ["Basic !!!", "Basic " + "YWxpY2U=", "Bearer token", "Basic"]  # YWxpY2U= is "alice"
        for value in bad_headers:
            assert (await c.get("/metrics", headers={"Authorization": value})).status_code == 401, value
        too_long = await c.get("/metrics", auth=("alice", "x" * 100))
        assert too_long.status_code == 401


# --- TLS ---------------------------------------------------------------------


@dataclass
class Pki:
    dir: Path
    server_cert: Path
    server_key: Path
    client_ca: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path


def _write_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return key


def _write_cert(
    path: Path,
    key: ec.EllipticCurvePrivateKey,
    cn: str,
    *,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    ca: bool = False,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    server_key = _write_key(d / "server.key")
    _write_cert(d / "server.crt", server_key, "localhost")  # self-signed: the client trusts it as its CA
    ca_key = _write_key(d / "ca.key")
    ca_cert = _write_cert(d / "ca.crt", ca_key, "client CA", ca=True)
    _write_cert(d / "client.crt", _write_key(d / "client.key"), "prometheus", issuer=(ca_cert, ca_key))
    _write_cert(d / "stranger.crt", _write_key(d / "stranger.key"), "stranger")
    return Pki(
        d, d / "server.crt", d / "server.key", d / "ca.crt",
        d / "client.crt", d / "client.key", d / "stranger.crt", d / "stranger.key",
    )


def web_config_file(pki: Pki, name: str, text: str) -> WebConfig:
    path = pki.dir / name
    path.write_text(text)
    return load_web_config(path)


def client_context(pki: Pki, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=pki.server_cert)
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    return ctx


async def test_tls(pki: Pki) -> None:
    config = web_config_file(pki, "tls.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
    async with running(config) as server:
        assert server.url.startswith("https://127.0.0.1:")
        async with client(server, verify=client_context(pki)) as c:
            response = await c.get("/metrics")
            assert response.status_code == 200
            assert "github_test_value" in response.text
        async with httpx.AsyncClient(timeout=5) as plain:
            with pytest.raises(httpx.TransportError):
                await plain.get(f"http://{server.address}/metrics")
        async with client(server) as untrusting:  # system CAs do not know our self-signed cert
            with pytest.raises(httpx.ConnectError):
                await untrusting.get("/metrics")


async def test_tls_min_version(pki: Pki) -> None:
    config = web_config_file(
        pki, "tls13.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n",
    )
    old = client_context(pki)
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    async with running(config) as server:
        async with client(server, verify=old) as c:
            with pytest.raises(httpx.ConnectError):
                await c.get("/-/healthy")
        async with client(server, verify=client_context(pki)) as c:
            assert (await c.get("/-/healthy")).status_code == 200


async def test_require_and_verify_client_cert(pki: Pki) -> None:
    config = web_config_file(
        pki,
        "mtls.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n",
    )
    async with running(config) as server:
        async with client(server, verify=client_context(pki)) as c:
            with pytest.raises(httpx.TransportError):
                await c.get("/metrics")
        stranger = client_context(pki, pki.stranger_cert, pki.stranger_key)
        async with client(server, verify=stranger) as c:
            with pytest.raises(httpx.TransportError):
                await c.get("/metrics")
        known = client_context(pki, pki.client_cert, pki.client_key)
        async with client(server, verify=known) as c:
            assert (await c.get("/metrics")).status_code == 200


# --- serve() and stop() ------------------------------------------------------


def test_parse_listen_address() -> None:
    assert parse_listen_address(":9101") == ("", 9101)
    assert parse_listen_address("0.0.0.0:9101") == ("0.0.0.0", 9101)
    assert parse_listen_address("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_listen_address("[::1]:0") == ("::1", 0)
    assert parse_listen_address("localhost:9101") == ("localhost", 9101)
    for bad in ("9101", "::1:9101", "127.0.0.1:http", "127.0.0.1:70000", "127.0.0.1:"):
        with pytest.raises(ServeError):
            parse_listen_address(bad)


async def test_stop_releases_port_quickly() -> None:
    async with running() as server:
        port = server.port
        assert port != 0 and server.running
        async with client(server) as c:
            assert (await c.get("/-/healthy")).status_code == 200  # leaves a keep-alive connection open
            started = time.monotonic()
            await server.stop()
            assert time.monotonic() - started < 1.0
            assert not server.running
    with socket.create_server(("127.0.0.1", port)):
        pass  # the port is free again


async def test_kept_alive_connection_is_not_delayed_by_nagle() -> None:
    # Without TCP_NODELAY each reply on a reused connection waits for the client's delayed ACK (~40 ms).
    async with running() as server, client(server) as c:
        await c.get("/-/healthy")
        latencies = []
        for _ in range(5):
            started = time.perf_counter()
            await c.get("/metrics")
            latencies.append(time.perf_counter() - started)
    assert min(latencies) < 0.03


async def test_address_in_use_is_a_clear_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        app = create_app(make_store(), readiness=always_ready)
        with pytest.raises(ServeError) as info:
            await serve(app, f"127.0.0.1:{port}", None)
    assert str(info.value) == f"cannot listen on 127.0.0.1:{port}: address already in use"


async def test_all_interfaces() -> None:
    async with running(address=":0") as server:
        async with httpx.AsyncClient(timeout=5) as c:
            response = await c.get(f"http://127.0.0.1:{server.port}/-/healthy")
    assert response.status_code == 200


def _ipv6_loopback() -> bool:
    try:
        with socket.create_server(("::1", 0), family=socket.AF_INET6):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
async def test_ipv6_loopback() -> None:
    async with running(address="[::1]:0") as server, client(server) as c:
        assert server.address == f"[::1]:{server.port}"
        assert (await c.get("/-/healthy")).status_code == 200


async def test_start_is_logged_without_secrets(pki: Pki) -> None:
    config = web_config_file(
        pki,
        "logged.yml",
        f"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        f"basic_auth_users:\n  alice: '{PASSWORD_HASH}'\n",
    )
    with structlog.testing.capture_logs() as logs:
        async with running(config) as server:
            pass
    started = [entry for entry in logs if entry["event"] == "serving HTTP"]
    assert started == [
        {
            "event": "serving HTTP",
            "log_level": "info",
            "address": server.address,
            "tls": True,
            "client_auth": "NoClientCert",
            "basic_auth": True,
        }
    ]
    assert PASSWORD_HASH not in repr(logs)


async def test_the_serving_thread_answers_while_the_main_loop_is_busy() -> None:
    """Collectors' CPU work on the main loop must not hold up a scrape (the daemon serves from ServingThread)."""
    store = SnapshotStore(max_age=60)
    family = GaugeMetricFamily("github_test_value", "A value.", labels=["org"])
    family.add_metric(["octo"], 1.0)
    store.publish(("test", "octo"), [family])
    store.refresh()
    http = ServingThread()
    running = await http.run(serve(create_app(store, readiness=lambda: (True, "")), "127.0.0.1:0"))
    bodies: list[bytes] = []
    answered = threading.Event()

    def scrape() -> None:
        bodies.append(httpx.get(running.url + "/metrics", timeout=10).content)
        answered.set()

    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        # Block the main loop, as a long conversion would: nothing scheduled on it runs until this returns.
        served_meanwhile = answered.wait(10)
    finally:
        scraper.join(10)
        await http.run(running.stop())
        http.close()
    assert served_meanwhile, "the scrape waited for the main loop"
    assert b'github_test_value{org="octo"} 1.0' in bodies[0]
