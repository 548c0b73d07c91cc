"""Hostile configuration: every file or environment a user can get wrong is a named error, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from exporter.collectors import COLLECTORS
from exporter.settings import CollectorsSettings, ConfigError, load_settings
from tests.test_cli import run


def config_error(tmp_path: Path, text: str | bytes, monkeypatch: pytest.MonkeyPatch | None = None) -> str:
    path = tmp_path / "config.yml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return str(caught.value)


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    message = config_error(tmp_path, b"targets:\n  orgs: [caf\xe9]\n")
    assert "is not UTF-8 text" in message


def test_non_utf8_file_exits_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes(b"targets: {orgs: [caf\xe9]}\n")
    result = run("--config.check", "--config.file", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "not UTF-8" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [("GITHUB_EXPORTER_TARGETS__ORGS", "octo-demo"), ("GITHUB_EXPORTER_GITHUB", "{bad")],
)
def test_bad_environment_override_names_the_variable(variable: str, value: str, tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("github: {token: ghp_x}\n")
    result = run("--config.check", "--config.file", str(config), env={variable: value})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert variable in result.stderr
    assert len(result.stderr.splitlines()) <= 3


# Every `*interval` of every collector the daemon knows, so a new collector or a new interval is covered unlisted.
INTERVALS = [
    (name, field)
    for name in COLLECTORS
    for field in CollectorsSettings.model_fields[name].annotation.model_fields  # type: ignore[union-attr]
    if field.endswith("interval")
]


def test_every_collector_has_a_settings_section() -> None:
    assert set(COLLECTORS) == set(CollectorsSettings.model_fields)
    assert {name for name, _ in INTERVALS} == set(COLLECTORS)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("inf", "duration 'inf' is not a number of seconds"),
        ("nan", "duration 'nan' is not a number of seconds"),
        ("1e12", "duration '1e12' is longer than ten years (3660d)"),
        (".inf", "duration inf is not a number of seconds"),
        ("1ms", "0.001s is too short: use at least 1s"),
        ("0.5", "0.5s is too short: use at least 1s"),
        ("0", "duration 0 must be greater than zero"),
        ("5x", "invalid duration '5x': use seconds or a duration such as 30s, 5m, 1h"),
    ],
)
@pytest.mark.parametrize(("collector", "field"), INTERVALS, ids=[f"{c}.{f}" for c, f in INTERVALS])
def test_every_interval_has_a_range_and_names_the_field(
    collector: str, field: str, value: str, expected: str, tmp_path: Path
) -> None:
    message = config_error(tmp_path, f"collectors:\n  {collector}:\n    {field}: {value}\n")
    assert message == f"collectors.{collector}.{field}: {expected}"


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("{enabled: maybe}", "{name}.enabled: must be true or false"),
        ("{intervall: 5m}", "{name}.intervall: unknown key"),
        ("[interval, 5m]", "{name}: must be a mapping of keys to values (indented key: value lines)"),
        ("5m", "{name}: must be a mapping of keys to values (indented key: value lines)"),
    ],
)
@pytest.mark.parametrize("collector", sorted(COLLECTORS))
def test_every_collector_section_rejects_what_it_cannot_hold(
    collector: str, section: str, expected: str, tmp_path: Path
) -> None:
    message = config_error(tmp_path, f"collectors:\n  {collector}: {section}\n")
    assert message == expected.format(name=f"collectors.{collector}")


@pytest.mark.parametrize("field", ["github: {timeout: nan}", "store: {max_age: .inf}", "github: {timeout: 1e12}"])
def test_every_duration_is_checked(field: str, tmp_path: Path) -> None:
    message = config_error(tmp_path, field + "\n")
    assert message.split(":")[0] in ("github.timeout", "store.max_age")


def _pem(key: object) -> str:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_pem_looking_but_invalid_app_key_is_a_config_error(tmp_path: Path) -> None:
    key = "-----BEGIN RSA PRIVATE KEY-----\\nMIIBOgIBAAJBAKj34GkxFhD9\\n-----END RSA PRIVATE KEY-----"
    message = config_error(tmp_path, f'github:\n  app: {{app_id: 1, private_key: "{key}"}}\n')
    assert message.startswith("github.app: ")
    assert "not a readable" in message
    assert "MIIBOgIBAAJBAKj34GkxFhD9" not in message


def test_non_rsa_app_key_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text(_pem(ec.generate_private_key(ec.SECP256R1())))
    message = config_error(tmp_path, "github:\n  app: {app_id: 1, private_key_file: key.pem}\n")
    assert "must be an RSA key" in message


def test_valid_app_key_loads(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text(_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    (tmp_path / "c.yml").write_text("github:\n  app: {app_id: 1, private_key_file: key.pem}\n")
    assert load_settings(tmp_path / "c.yml").github.app is not None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pass@ghe.example.com/api/v3", "must not carry a user or password"),
        ("https://ghe.example.com/api/v3?x=1", "must not have a query string"),
        ("https://ghe.example.com:99999/api/v3", "port between 1 and 65535"),
        ("https://ghe.example.com/api v3", "must not contain spaces"),
        ("https://ghe.example.com/api/v3#top", "must not have a query string or fragment"),
    ],
)
def test_api_url_rejects_what_a_base_url_cannot_hold(url: str, expected: str, tmp_path: Path) -> None:
    message = config_error(tmp_path, f'github: {{api_url: "{url}"}}\n')
    assert message.startswith("github.api_url: ")
    assert expected in message
    assert "pass" not in message.replace("password", "")


def test_twenty_thousand_orgs_check_fast(tmp_path: Path) -> None:
    orgs = "\n".join(f"    - org-{n}" for n in range(20_000))
    path = tmp_path / "big.yml"
    path.write_text(f"github: {{token: ghp_x}}\ntargets:\n  orgs:\n{orgs}\n    - ORG-19999\n")
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="'ORG-19999' is listed twice"):
        load_settings(path)
    # A functional bound, not a benchmark: the quadratic check took 12 s; linear takes well under one.
    assert time.perf_counter() - start < 5


def test_duplicate_yaml_key_is_rejected_naming_the_key(tmp_path: Path) -> None:
    message = config_error(tmp_path, "github:\n  token: ghp_a\n  timeout: 10s\n  timeout: 20s\n")
    assert "key 'timeout' is given twice" in message
    assert "line 4" in message


def test_duplicate_top_level_section_is_rejected(tmp_path: Path) -> None:
    message = config_error(tmp_path, "targets: {orgs: [a]}\ntargets: {orgs: [b]}\n")
    assert "key 'targets' is given twice" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("github: 5\n", "github: must be a mapping of keys to values"),
        ("targets: {orgs: octo}\n", "targets.orgs: must be a list"),
        ("github: {max_retries: lots}\n", "github.max_retries: must be a whole number"),
    ],
)
def test_messages_in_the_users_terms(text: str, expected: str, tmp_path: Path) -> None:
    message = config_error(tmp_path, text)
    assert expected in message
    assert "Input should be" not in message and "instance of" not in message
