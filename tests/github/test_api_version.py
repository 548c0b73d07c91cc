"""Which X-GitHub-Api-Version the settings choose: 2026-03-10, but 2022-11-28 for GHES unless configured.

Why GHES differs: @octokit/openapi 23.0.2's GHES 3.17-3.19 descriptions carry none of 2026-03-10's changes and
GitHub answers a version it does not support with 400 (docs/github-api-version.md, sources read 2026-12-06).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.settings import API_VERSION, GHES_API_VERSION, GitHubSettings, load_settings


@pytest.mark.parametrize("api_url", ["https://api.github.com", "https://api.octo.ghe.com", "http://127.0.0.1:8080"])
def test_github_com_and_ghe_com_get_2026_03_10(api_url: str) -> None:
    assert GitHubSettings(api_url=api_url).api_version == API_VERSION == "2026-03-10"


@pytest.mark.parametrize("api_url", ["https://ghes.example.com/api/v3", "https://ghes.example.com/api/v3/"])
def test_ghes_gets_2022_11_28_unless_configured(api_url: str) -> None:
    assert GitHubSettings(api_url=api_url).api_version == GHES_API_VERSION == "2022-11-28"
    assert GitHubSettings(api_url=api_url, api_version="2026-03-10").api_version == "2026-03-10"


def test_the_file_and_the_environment_set_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.yml"
    config.write_text('github:\n  api_url: https://ghes.example.com/api/v3\n  api_version: "2026-03-10"\n'
                      '  api_versions: {ghes_stats: "2022-11-28"}\n')
    settings = load_settings(config)
    assert settings.github.api_version == "2026-03-10" and settings.github.api_versions == {"ghes_stats": "2022-11-28"}
    monkeypatch.setenv("GITHUB_EXPORTER_GITHUB__API_VERSION", "2022-11-28")
    assert load_settings(None).github.api_version == "2022-11-28"
