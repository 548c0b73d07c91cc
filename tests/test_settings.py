"""Settings: every invalid file fails with its exact message; valid files and env overrides load."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.settings import ConfigError, load_settings, parse_duration

TESTDATA = Path(__file__).parent / "testdata" / "config"
INVALID = sorted(TESTDATA.glob("invalid-*.yml"))


def expected_error(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# error: "), f"{path.name} must start with '# error: <expected text>'"
    return first.removeprefix("# error: ")


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_invalid_config_names_the_field(path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert expected_error(path) in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_minimal_config_gets_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    settings = load_settings(TESTDATA / "good-minimal.yml")
    assert settings.github.api_url == "https://api.github.com"
    assert settings.targets.orgs == ["octo-demo"]
    assert settings.collectors.api_insights.interval == 300
    assert settings.collectors.api_insights.timestamp_increment == "5m"


def test_full_config_reads_token_file_relative_to_config() -> None:
    settings = load_settings(TESTDATA / "good-full.yml")
    assert settings.github.token is not None
    assert settings.github.token.get_secret_value() == "ghp_fromfilefromfile"
    assert settings.github.timeout == 20
    assert settings.collectors.api_insights.lookback == 12 * 3600
    assert settings.targets.teams == ["octo-demo/platform"]


def test_environment_overrides_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_EXPORTER_COLLECTORS__API_INSIGHTS__INTERVAL", "90s")
    monkeypatch.setenv("GITHUB_EXPORTER_GITHUB__TOKEN", "ghp_fromenvironment")
    settings = load_settings(TESTDATA / "good-full.yml".replace("full", "minimal"))
    assert settings.collectors.api_insights.interval == 90
    assert settings.github.token.get_secret_value() == "ghp_fromenvironment"
    assert settings.targets.orgs == ["octo-demo"], "env override must not wipe the file's other sections"


def test_github_token_env_is_the_fallback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_conventional")
    config = tmp_path / "c.yml"
    config.write_text("targets: {orgs: [octo]}\n")
    assert load_settings(config).github.token.get_secret_value() == "ghp_conventional"


def test_secrets_never_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_EXPORTER_GITHUB__TOKEN", "ghp_verysecretvalue")
    settings = load_settings(None)
    assert "ghp_verysecretvalue" not in repr(settings)
    assert "ghp_verysecretvalue" not in str(settings.model_dump())


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file .*nope.yml.*No such file"):
        load_settings(tmp_path / "nope.yml")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("1d", 86400), ("250ms", 0.25), (45, 45), ("2.5", 2.5)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "m5", "1h 30m", True, None, -5])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
