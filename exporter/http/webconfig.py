"""The exporter-toolkit web configuration file (`--web.config.file`): TLS, basic auth, headers.

It reads the file users already give node_exporter (see exporter-toolkit's
docs/web-configuration.md). Unknown keys are rejected, relative file names are
taken relative to the directory of the web config file (as exporter-toolkit
does), and every referenced file is read and the TLS context built at load
time, so a mistake stops start-up with `ConfigError` naming the field.

Supported: `tls_server_config`, `http_server_config.headers` (only the five
headers exporter-toolkit allows, with its value checks), `basic_auth_users`
(user to bcrypt hash; $2a$, $2b$ and $2y$) and `rate_limit`.

Where Python's `ssl` module differs from Go's crypto/tls:

* `client_auth_type`: NoClientCert and VerifyClientCertIfGiven map exactly
  (CERT_NONE, CERT_OPTIONAL). RequestClientCert is served as NoClientCert:
  OpenSSL cannot ask for a certificate without verifying it, and nothing here
  reads an unverified certificate, so responses are the same. RequireAnyClientCert
  (and its old name RequireClientCert) cannot require a certificate without
  verifying it either, so it is served as RequireAndVerifyClientCert: stricter
  than Go. Every verifying mode needs `client_ca_file` (or `client_ca`); Go
  would fall back to the system roots, which is rarely what anyone means.
* `min_version`/`max_version`: TLS10..TLS13 are accepted so existing files load,
  but OpenSSL 3 at its default security level refuses TLS 1.0 and 1.1, so the
  effective minimum is TLS 1.2 unless the system's OpenSSL policy allows more.
* `cipher_suites` take Go's names (crypto/tls CipherSuites()) and are mapped to
  OpenSSL's names, exactly, for TLS 1.2 and lower. TLS 1.3 suites are accepted
  and, as in Go, cannot be chosen.
* `prefer_server_cipher_suites` is honoured (OP_CIPHER_SERVER_PREFERENCE).
* Accepted but ignored: `curve_preferences` (the names are checked; Python's
  ssl module can set a single ECDH curve but not a preference list, so
  OpenSSL's default groups are used) and `http_server_config.http2` (uvicorn
  here serves HTTP/1.1; Prometheus scrapes over HTTP/1.1 either way).
* Rejected: `client_allowed_sans`. Python's ssl module cannot check a client
  certificate's SANs during the handshake, and silently ignoring an access
  control setting would be unsafe. Use a dedicated CA instead.
* Reloading: exporter-toolkit re-reads the file for every request. Here, with
  `--web.config.file`, the served app (`exporter.http.reload`) looks at the
  file's modification time and size at most once a second, when a request
  arrives. A changed, valid file applies to the next request (headers, rate
  limit, users) and its certificates to the next TLS handshake; a bad one is
  logged and the running one kept; turning TLS on or off needs a restart.
  Certificate or key files rewritten in place under the same names are not
  noticed until the web config file itself changes (touch it).
"""

from __future__ import annotations

import re
import ssl
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from exporter.settings import ConfigError, StrictModel, format_validation_error, parse_duration, read_yaml_mapping

ClientAuthType = Literal[
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "RequireClientCert",  # exporter-toolkit's old name for RequireAnyClientCert
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
]
TLSVersionName = Literal["TLS10", "TLS11", "TLS12", "TLS13"]
CurveName = Literal["CurveP256", "CurveP384", "CurveP521", "X25519"]

TLS_VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}

_VERIFY_MODES: dict[str, ssl.VerifyMode] = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_NONE,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "RequireClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}

# Go's crypto/tls CipherSuites() by name: (IANA id, OpenSSL name or None for TLS 1.3).
CIPHER_SUITES: dict[str, tuple[int, str | None]] = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": (0x002F, "AES128-SHA"),
    "TLS_RSA_WITH_AES_256_CBC_SHA": (0x0035, "AES256-SHA"),
    "TLS_RSA_WITH_AES_128_GCM_SHA256": (0x009C, "AES128-GCM-SHA256"),
    "TLS_RSA_WITH_AES_256_GCM_SHA384": (0x009D, "AES256-GCM-SHA384"),
    "TLS_AES_128_GCM_SHA256": (0x1301, None),
    "TLS_AES_256_GCM_SHA384": (0x1302, None),
    "TLS_CHACHA20_POLY1305_SHA256": (0x1303, None),
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": (0xC009, "ECDHE-ECDSA-AES128-SHA"),
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": (0xC00A, "ECDHE-ECDSA-AES256-SHA"),
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": (0xC013, "ECDHE-RSA-AES128-SHA"),
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": (0xC014, "ECDHE-RSA-AES256-SHA"),
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": (0xC02B, "ECDHE-ECDSA-AES128-GCM-SHA256"),
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": (0xC02C, "ECDHE-ECDSA-AES256-GCM-SHA384"),
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": (0xC02F, "ECDHE-RSA-AES128-GCM-SHA256"),
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": (0xC030, "ECDHE-RSA-AES256-GCM-SHA384"),
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": (0xCCA8, "ECDHE-RSA-CHACHA20-POLY1305"),
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": (0xCCA9, "ECDHE-ECDSA-CHACHA20-POLY1305"),
}

_BCRYPT_HASH = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")


def _blank_to_none(value: Any) -> Any:
    return None if value == "" else value


def _check_bcrypt(value: SecretStr) -> SecretStr:
    match = _BCRYPT_HASH.fullmatch(value.get_secret_value())
    if not match:
        raise ValueError(
            "not a bcrypt hash ($2a$, $2b$ or $2y$, a cost and 53 characters); "
            "make one with: htpasswd -nBC 10 \"\" | tr -d ':\\n'"
        )
    cost = int(match.group(1))
    if not 4 <= cost <= 31:
        raise ValueError(f"bcrypt cost {cost} is outside 4..31")
    return value


def _check_cipher(name: str) -> str:
    if name not in CIPHER_SUITES:
        raise ValueError(f"unknown cipher suite {name!r}: use a name from Go's crypto/tls CipherSuites()")
    return name


def _check_header_value(value: str | None) -> str | None:
    if value is not None and any(ord(c) < 0x20 or ord(c) == 0x7F or ord(c) > 0xFF for c in value):
        raise ValueError("header values must be printable Latin-1 text on one line")
    return value


BcryptHash = Annotated[SecretStr, AfterValidator(_check_bcrypt)]
CipherName = Annotated[str, AfterValidator(_check_cipher)]
OptionalPath = Annotated[Path | None, BeforeValidator(_blank_to_none)]
OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]
HeaderText = Annotated[str | None, BeforeValidator(_blank_to_none), AfterValidator(_check_header_value)]


class TLSServerConfig(StrictModel):
    """`tls_server_config`: TLS is on when any certificate, key, CA or client auth key is set."""

    cert_file: OptionalPath = None
    key_file: OptionalPath = None
    cert: OptionalText = None
    key: Annotated[SecretStr | None, BeforeValidator(_blank_to_none)] = None
    client_auth_type: Annotated[ClientAuthType | None, BeforeValidator(_blank_to_none)] = None
    client_ca_file: OptionalPath = None
    client_ca: OptionalText = None
    client_allowed_sans: list[str] | None = None
    min_version: TLSVersionName = "TLS12"
    max_version: TLSVersionName = "TLS13"
    cipher_suites: list[CipherName] = Field(default_factory=list)
    prefer_server_cipher_suites: bool = True
    curve_preferences: list[CurveName] = Field(
        default_factory=list, description="Checked, then ignored: see the module docstring."
    )

    @field_validator("cert_file", "key_file", "client_ca_file")
    @classmethod
    def _relative_to_config(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        base = (info.context or {}).get("base_dir")
        if value is not None and base is not None and not value.is_absolute():
            value = Path(base) / value
        return value

    @field_validator("client_allowed_sans")
    @classmethod
    def _no_sans(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            raise ValueError(
                "not supported: Python's ssl module cannot check a client certificate's SANs; "
                "issue client certificates from a dedicated CA (client_ca_file) instead"
            )
        return value

    @property
    def enabled(self) -> bool:
        """Whether TLS is configured at all (exporter-toolkit's IsEnabled)."""
        return any(
            v is not None
            for v in (
                self.cert_file, self.cert, self.key_file, self.key,
                self.client_ca_file, self.client_ca, self.client_auth_type,
            )
        )

    @property
    def effective_client_auth(self) -> str:
        return self.client_auth_type or "NoClientCert"


class HTTPHeaders(StrictModel):
    """The response headers exporter-toolkit lets users set; a blank value leaves one unset."""

    model_config = ConfigDict(extra="forbid", validate_default=True, populate_by_name=True)

    content_security_policy: HeaderText = Field(None, alias="Content-Security-Policy")
    x_frame_options: Annotated[
        Literal["deny", "sameorigin"] | None, BeforeValidator(_blank_to_none)
    ] = Field(None, alias="X-Frame-Options")
    x_content_type_options: Annotated[Literal["nosniff"] | None, BeforeValidator(_blank_to_none)] = Field(
        None, alias="X-Content-Type-Options"
    )
    x_xss_protection: HeaderText = Field(None, alias="X-XSS-Protection")
    strict_transport_security: HeaderText = Field(None, alias="Strict-Transport-Security")

    def as_dict(self) -> dict[str, str]:
        """Header name to value, only those that are set."""
        return {
            name: value
            for name, value in self.model_dump(by_alias=True).items()
            if value is not None
        }


class HTTPServerConfig(StrictModel):
    http2: bool = Field(True, description="Accepted and ignored: the server speaks HTTP/1.1.")
    headers: HTTPHeaders = Field(default_factory=HTTPHeaders)


class RateLimitConfig(StrictModel):
    """A token bucket in front of every path: `burst` requests, refilled one per `interval`."""

    interval: float = 0.0
    burst: int = Field(0, ge=0)

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        if value in (0, "0", "0s", None):
            return 0.0
        return parse_duration(value)

    @field_validator("burst")
    @classmethod
    def _burst_needed(cls, value: int, info: ValidationInfo) -> int:
        if info.data.get("interval", 0) > 0 and value < 1:
            raise ValueError("must be at least 1 when interval is set (0 would refuse every request)")
        return value

    @property
    def enabled(self) -> bool:
        return self.interval > 0


class WebConfig(StrictModel):
    """The whole web config file."""

    tls_server_config: TLSServerConfig = Field(default_factory=TLSServerConfig)
    http_server_config: HTTPServerConfig = Field(default_factory=HTTPServerConfig)
    basic_auth_users: dict[str, BcryptHash] = Field(default_factory=dict)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)

    _ssl_context: ssl.SSLContext | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        # `basic_auth_users:` with nothing under it is YAML null; Go reads it as empty.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data

    @property
    def tls_enabled(self) -> bool:
        return self.tls_server_config.enabled

    @property
    def basic_auth_enabled(self) -> bool:
        return bool(self.basic_auth_users)

    @property
    def headers(self) -> dict[str, str]:
        return self.http_server_config.headers.as_dict()

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server's TLS context, or None for plain HTTP; built once."""
        if self._ssl_context is None and self.tls_enabled:
            self._ssl_context = build_ssl_context(self.tls_server_config)
        return self._ssl_context


def load_web_config(path: str | Path) -> WebConfig:
    """Read and validate a web config file, build its TLS context; raise ConfigError."""
    path = Path(path)
    data = read_yaml_mapping(path, "web config file", "a mapping")
    try:
        config = WebConfig.model_validate(data, context={"base_dir": path.parent})
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    config.ssl_context()
    return config


def _fail(field: str, message: str) -> ConfigError:
    return ConfigError(f"tls_server_config.{field}: {message}")


def _read(path: Path, field: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _fail(field, f"cannot read {str(path)!r}: {exc.strerror}") from None


class _EncryptedKey(Exception):
    pass


def _no_password() -> str:
    # Without a callback OpenSSL would prompt on the terminal for a passphrase.
    raise _EncryptedKey


def _check_pairs(tls: TLSServerConfig) -> None:
    for inline, file in (("cert", "cert_file"), ("key", "key_file"), ("client_ca", "client_ca_file")):
        if getattr(tls, inline) is not None and getattr(tls, file) is not None:
            raise _fail(inline, f"set {inline} or {file}, not both")
    has_cert = tls.cert_file is not None or tls.cert is not None
    has_key = tls.key_file is not None or tls.key is not None
    if not has_cert:
        reason = next(
            name
            for name in ("key_file", "key", "client_ca_file", "client_ca", "client_auth_type")
            if getattr(tls, name) is not None
        )
        raise _fail("cert_file", f"required when {reason} is set")
    if not has_key:
        raise _fail("key_file", f"required when {'cert_file' if tls.cert_file else 'cert'} is set")
    auth = tls.effective_client_auth
    has_ca = tls.client_ca_file is not None or tls.client_ca is not None
    if has_ca and auth == "NoClientCert":
        raise _fail(
            "client_auth_type",
            "a client CA is set but client_auth_type is NoClientCert; use RequireAndVerifyClientCert",
        )
    if not has_ca and _VERIFY_MODES[auth] != ssl.CERT_NONE:
        verifies_any = "Any" in auth or auth == "RequireClientCert"
        note = " (Python's ssl verifies every client certificate it requires)" if verifies_any else ""
        raise _fail("client_ca_file", f"required when client_auth_type is {auth}{note}")
    if TLS_VERSIONS[tls.max_version] < TLS_VERSIONS[tls.min_version]:
        raise _fail("max_version", f"{tls.max_version} is lower than min_version {tls.min_version}")


def _load_certificate(ctx: ssl.SSLContext, tls: TLSServerConfig) -> None:
    cert_pem = _read(tls.cert_file, "cert_file") if tls.cert_file else tls.cert.encode()  # type: ignore[union-attr]
    key_pem = _read(tls.key_file, "key_file") if tls.key_file else tls.key.get_secret_value().encode()  # type: ignore[union-attr]
    cert_field = "cert_file" if tls.cert_file else "cert"
    key_field = "key_file" if tls.key_file else "key"
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=cert_pem.decode("ascii", "replace"))
    except (ssl.SSLError, ValueError):
        raise _fail(cert_field, "no PEM certificate found") from None
    # load_cert_chain only reads files: hand it private copies in a directory only we can read.
    with tempfile.TemporaryDirectory(prefix="webconfig-") as tmp:
        cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_path.write_bytes(cert_pem)
        key_path.touch(mode=0o600)
        key_path.write_bytes(key_pem)
        try:
            ctx.load_cert_chain(cert_path, key_path, password=_no_password)
        except _EncryptedKey:
            raise _fail(key_field, "encrypted private keys are not supported") from None
        except ssl.SSLError as exc:
            if exc.reason == "KEY_VALUES_MISMATCH":
                raise _fail(key_field, f"private key does not match the certificate in {cert_field}") from None
            raise _fail(key_field, "no PEM private key found") from None


def _load_client_ca(ctx: ssl.SSLContext, tls: TLSServerConfig) -> None:
    if tls.client_ca_file is not None:
        data, field = _read(tls.client_ca_file, "client_ca_file"), "client_ca_file"
    elif tls.client_ca is not None:
        data, field = tls.client_ca.encode(), "client_ca"
    else:
        return
    try:
        ctx.load_verify_locations(cadata=data.decode("ascii", "replace"))
    except (ssl.SSLError, ValueError):
        raise _fail(field, "no PEM certificate found") from None


def build_ssl_context(tls: TLSServerConfig) -> ssl.SSLContext:
    """A server SSLContext for a TLS config; ConfigError naming the field when it cannot be built."""
    _check_pairs(tls)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_VERSIONS[tls.min_version]
    ctx.maximum_version = TLS_VERSIONS[tls.max_version]
    _load_certificate(ctx, tls)
    _load_client_ca(ctx, tls)
    ctx.verify_mode = _VERIFY_MODES[tls.effective_client_auth]
    openssl_names = [CIPHER_SUITES[name][1] for name in tls.cipher_suites]
    tls12_names = [name for name in openssl_names if name is not None]
    if tls12_names:
        try:
            ctx.set_ciphers(":".join(tls12_names))
        except ssl.SSLError:
            raise _fail("cipher_suites", "OpenSSL refuses every cipher suite listed") from None
    if tls.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    return ctx
