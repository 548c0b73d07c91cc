"""docs/configuration.md and config/example.yml follow the settings models: every key is described, documented
and shown in the example, and these tests fail when one of them drifts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from exporter.configdocs import _models, duration, render, sections
from exporter.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "configuration.md"
EXAMPLE = ROOT / "config" / "example.yml"

# A key line, `  name: value`, or one commented out, `  # name: value` / `#   name:` (an alternative that cannot be
# set together with another, such as token_file beside app). Prose comments start with a capital or a non-key word.
_KEY_LINE = re.compile(r"^(?P<indent> *)(?:#(?P<inner> +))?(?P<key>[a-z_][a-z0-9_]*):(?: |$)")


def model_paths(model: type[BaseModel], path: str = "", *, values_only: bool = False) -> set[str]:
    """Every key a config file can hold, as dotted paths; list items share the path of their list.

    With values_only, just the keys whose value is not one of the models' sections.
    """
    paths: set[str] = set()
    for name, field in model.model_fields.items():
        subs = _models(field.annotation)
        if not (values_only and subs):
            paths.add(path + name)
        for sub in subs:
            paths |= model_paths(sub, f"{path}{name}.", values_only=values_only)
    return paths


def yaml_paths(node: Any, path: str = "") -> set[str]:
    paths: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            paths |= {path + str(key)} | yaml_paths(value, f"{path}{key}.")
    elif isinstance(node, list):
        for item in node:
            paths |= yaml_paths(item, path)
    return paths


def commented_paths(text: str) -> set[str]:
    """Keys written out in the example, commented out or not, placed under their parents by indentation."""
    paths: set[str] = set()
    stack: list[tuple[int, str]] = []
    for line in text.splitlines():
        match = _KEY_LINE.match(line)
        if not match:
            continue
        indent = len(match["indent"]) + len(match["inner"] or " ") - 1
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match["key"]))
        paths.add(".".join(key for _, key in stack))
    return paths


def test_configuration_reference_matches_the_models() -> None:
    assert DOC.read_text() == render(), (
        "docs/configuration.md is stale: run `python -m exporter.configdocs > docs/configuration.md`"
    )


def _fields() -> list[tuple[str, Any]]:
    return [
        (f"{path}.{name}", field) for path, model in sections(Settings) for name, field in model.model_fields.items()
    ]


@pytest.mark.parametrize(("path", "field"), _fields(), ids=[path for path, _ in _fields()])
def test_every_field_has_a_description_in_the_reference(path: str, field: Any) -> None:
    if _models(field.annotation) and not field.description:
        assert any(sub.__doc__ for sub in _models(field.annotation)), f"{path}: its model needs a docstring"
    else:
        assert field.description, f"{path} needs a description="
        assert f"| `{path}` |" in DOC.read_text()


def test_every_section_is_documented() -> None:
    documented = re.findall(r"^#+ `([^`]+)`$", DOC.read_text(), flags=re.MULTILINE)
    assert documented == [path for path, _ in sections(Settings)]
    assert "collectors.ghes_stats" in documented and "github.app" in documented


def test_example_holds_every_key() -> None:
    text = EXAMPLE.read_text()
    shown = yaml_paths(yaml.safe_load(text)) | commented_paths(text)
    expected = model_paths(Settings)
    assert expected - shown == set(), f"config/example.yml lacks {sorted(expected - shown)}"


def test_example_holds_no_key_the_models_lack() -> None:
    text = EXAMPLE.read_text()
    expected, values = model_paths(Settings), model_paths(Settings, values_only=True)
    # Values that are mappings themselves (installation_ids, api_versions) hold the user's keys: not checked.
    unknown = {
        path
        for path in yaml_paths(yaml.safe_load(text)) | commented_paths(text)
        if path not in expected and not any(path.startswith(value + ".") for value in values)
    }
    assert unknown == set(), f"config/example.yml holds keys the settings do not know: {sorted(unknown)}"


def test_commented_keys_are_read_under_their_parents() -> None:
    text = "github:\n  api_url: x\n  # token_file: /run/t\n  # app:\n  #   app_id: 1\n  # Prose: not a key\nstore: {}\n"
    assert commented_paths(text) == {"github", "github.api_url", "github.token_file", "github.app", "github.app.app_id",
                                     "store"}


@pytest.mark.parametrize(("seconds", "text"), [(15, "15s"), (300, "5m"), (5400, "90m"), (86400, "1d"), (0.5, "0.5s")])
def test_defaults_are_written_as_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text
