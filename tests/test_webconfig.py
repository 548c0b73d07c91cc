"""The web config file: testdata/web/valid-*.yml load, each invalid-*.yml fails with its exact error."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from exporter.http.webconfig import CIPHER_SUITES, WebConfig, load_web_config
from exporter.settings import ConfigError, format_validation_error

TESTDATA = Path(__file__).parent / "testdata" / "web"


def expected_error(path: Path) -> str:
    lines = [
        line.removeprefix("# error: ")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("# error: ")
    ]
    assert lines, f"{path.name} has no '# error: ' line"
    return "\n".join(lines).replace("{dir}", str(TESTDATA))


@pytest.mark.parametrize("path", sorted(TESTDATA.glob("invalid-*.yml")), ids=lambda p: p.name)
def test_invalid_file_fails_with_exact_error(path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_web_config(path)
    assert str(info.value) == expected_error(path)


@pytest.mark.parametrize("path", sorted(TESTDATA.glob("valid-*.yml")), ids=lambda p: p.name)
def test_valid_file_loads(path: Path) -> None:
    load_web_config(path)


def test_empty_file_means_plain_http_without_auth() -> None:
    config = load_web_config(TESTDATA / "valid-empty.yml")
    assert not config.tls_enabled
    assert not config.basic_auth_enabled
    assert config.ssl_context() is None
    assert config.headers == {}
    assert not config.rate_limit.enabled


def test_full_file() -> None:
    config = load_web_config(TESTDATA / "valid-full.yml")
    tls = config.tls_server_config
    assert tls.cert_file == TESTDATA / "server.crt"  # relative to the config file
    assert tls.client_ca_file == TESTDATA / "ca.crt"
    ctx = config.ssl_context()
    assert ctx is not None
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3
    assert ctx.maximum_version == ssl.TLSVersion.TLSv1_3
    assert not ctx.options & ssl.OP_CIPHER_SERVER_PREFERENCE
    tls12 = {c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert tls12 == {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"}
    assert config.headers == {
        "Content-Security-Policy": "default-src 'self'",
        "X-Frame-Options": "deny",
        "X-Content-Type-Options": "nosniff",
        "X-XSS-Protection": "1; mode=block",
        "Strict-Transport-Security": "max-age=31536000",
    }
    assert config.http_server_config.http2 is False  # accepted, ignored
    assert list(config.basic_auth_users) == ["alice"]
    assert config.rate_limit.interval == 0.1
    assert config.rate_limit.burst == 10


def test_inline_certificate_key_and_ca() -> None:
    config = load_web_config(TESTDATA / "valid-inline.yml")
    ctx = config.ssl_context()
    assert ctx is not None
    assert ctx.verify_mode == ssl.CERT_OPTIONAL
    assert ctx.cert_store_stats()["x509_ca"] == 1


@pytest.mark.parametrize(
    ("client_auth_type", "verify_mode"),
    [
        ("NoClientCert", ssl.CERT_NONE),
        ("RequestClientCert", ssl.CERT_NONE),
        ("VerifyClientCertIfGiven", ssl.CERT_OPTIONAL),
        ("RequireAnyClientCert", ssl.CERT_REQUIRED),
        ("RequireClientCert", ssl.CERT_REQUIRED),
        ("RequireAndVerifyClientCert", ssl.CERT_REQUIRED),
    ],
)
def test_client_auth_type_to_verify_mode(client_auth_type: str, verify_mode: ssl.VerifyMode) -> None:
    tls: dict[str, object] = {
        "cert_file": str(TESTDATA / "server.crt"),
        "key_file": str(TESTDATA / "server.key"),
        "client_auth_type": client_auth_type,
    }
    if client_auth_type != "NoClientCert":
        tls["client_ca_file"] = str(TESTDATA / "ca.crt")
    ctx = WebConfig.model_validate({"tls_server_config": tls}).ssl_context()
    assert ctx is not None
    assert ctx.verify_mode == verify_mode


def test_default_tls_versions_follow_exporter_toolkit() -> None:
    config = load_web_config(TESTDATA / "valid-tls.yml")
    ctx = config.ssl_context()
    assert ctx is not None
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.maximum_version == ssl.TLSVersion.TLSv1_3
    assert ctx.verify_mode == ssl.CERT_NONE
    assert ctx.options & ssl.OP_CIPHER_SERVER_PREFERENCE


def test_cipher_suite_table_matches_openssl() -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    openssl_ids = {c["name"]: c["id"] & 0xFFFF for c in ctx.get_ciphers()}
    for go_name, (iana_id, openssl_name) in CIPHER_SUITES.items():
        if openssl_name is None:
            assert go_name.startswith("TLS_") and "_WITH_" not in go_name  # TLS 1.3
            continue
        assert openssl_ids[openssl_name] == iana_id, go_name


def test_missing_config_file() -> None:
    with pytest.raises(ConfigError) as info:
        load_web_config(TESTDATA / "nope.yml")
    assert str(info.value) == f"cannot read web config file '{TESTDATA / 'nope.yml'}': No such file or directory"


def test_hashes_stay_out_of_repr_and_errors() -> None:
    config = load_web_config(TESTDATA / "valid-basic-auth.yml")
    assert "$2" not in repr(config)
    assert "$2" not in str(config.model_dump())
    with pytest.raises(ValidationError) as info:
        WebConfig.model_validate({"basic_auth_users": {"carol": "plaintext-password"}})
    message = format_validation_error(info.value)
    assert message.startswith("basic_auth_users.carol: not a bcrypt hash")
    assert "plaintext-password" not in message
