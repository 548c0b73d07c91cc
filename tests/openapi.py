"""GitHub's OpenAPI description as JSON Schema validators, for checking the simulator's response shapes.

The description comes from the npm package @octokit/openapi (installed by
`npm ci`, which scripts/test runs). OpenAPI 3.0 schemas are not quite JSON
Schema: `nullable: true` is turned into a `null` type here.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTION = ROOT / "node_modules" / "@octokit" / "openapi" / "generated" / "ghec.deref.json"
GHES_3_19 = DESCRIPTION.with_name("ghes-3.19.deref.json")
API_GITHUB_COM = DESCRIPTION.with_name("api.github.com.deref.json")  # organizations' billing routes
V18_GHEC = ROOT / "node_modules" / "octokit-openapi-18" / "generated" / "ghec.deref.json"  # retired summaries

# OpenAPI-only keywords that JSON Schema validators would ignore anyway, dropped to keep schemas small.
_OPENAPI_ONLY = {"discriminator", "xml", "externalDocs", "example", "examples", "deprecated", "readOnly", "writeOnly"}


@functools.cache
def description(path: Path = DESCRIPTION) -> dict[str, Any]:
    if not path.is_file():
        pytest.fail(
            f"GitHub's OpenAPI description is missing ({path}). Install it with `npm ci` in {ROOT} "
            "(scripts/test does this for you).",
            pytrace=False,
        )
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def to_json_schema(schema: Any) -> Any:
    """An OpenAPI 3.0 schema object as JSON Schema (draft 4): `nullable: true` becomes a null type."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: to_json_schema(v) for k, v in schema.items()
           if k not in _OPENAPI_ONLY and k != "nullable" and not k.startswith("x-")}
    if "properties" in schema:  # property names are data, not keywords
        out["properties"] = {name: to_json_schema(s) for name, s in schema["properties"].items()}
    if schema.get("nullable") is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def operation(path: str, method: str = "get", source: Path = DESCRIPTION) -> dict[str, Any]:
    paths = description(source)["paths"]
    if path not in paths or method not in paths[path]:
        raise KeyError(f"{method.upper()} {path} is not in {source.name}")
    return paths[path][method]


@functools.cache
def _validator(path: str, method: str, status: str, source: Path) -> jsonschema.Draft4Validator:
    responses = operation(path, method, source)["responses"]
    if status not in responses:
        raise KeyError(f"{method.upper()} {path} documents no {status} response (has {sorted(responses)})")
    schema = responses[status]["content"]["application/json"]["schema"]
    return jsonschema.Draft4Validator(to_json_schema(schema))


def response_validator(
    path: str, method: str = "get", status: int | str = 200, source: Path = DESCRIPTION
) -> jsonschema.Draft4Validator:
    """A validator for the documented JSON body of `method path` answering `status`, in `source`."""
    return _validator(path, method.lower(), str(status), source)


def documented_fields(path: str, method: str = "get", status: int | str = 200) -> set[str]:
    """The property names the description lists for a response object (or for each item of a list)."""
    schema = operation(path, method)["responses"][str(status)]["content"]["application/json"]["schema"]
    schema = schema.get("items", schema)
    return set(schema.get("properties", {}))


def documented_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Leaf paths of a documented schema as exporter.drift names them ("a.b", "a[].b"; oneOf/anyOf merged)."""
    out: set[str] = set()
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return documented_paths(schema["items"], f"{prefix.removesuffix('.')}[].") or {f"{prefix.removesuffix('.')}"}
    for alternative in [schema, *schema.get("oneOf", []), *schema.get("anyOf", []), *schema.get("allOf", [])]:
        for name, inner in alternative.get("properties", {}).items():
            path = f"{prefix}{name}"
            out |= documented_paths(inner, f"{path}.") or {path}
    return out


def table_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    """The paths a complete exporter.drift table of a documented schema holds: its leaves (as documented_paths), an
    object of free-form keys (additionalProperties, no properties) as "a.*", and a nullable object's own path, which
    is what a null there reads as."""
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return table_paths(schema["items"], f"{prefix.removesuffix('.')}[].") or {f"{prefix.removesuffix('.')}"}
    out: set[str] = set()
    for alternative in [schema, *schema.get("oneOf", []), *schema.get("anyOf", []), *schema.get("allOf", [])]:
        for name, inner in alternative.get("properties", {}).items():
            path = f"{prefix}{name}"
            if inner.get("additionalProperties") and not inner.get("properties"):
                out.add(f"{path}.*")
                continue
            below = table_paths(inner, f"{path}.")
            out |= (below | {path}) if inner.get("nullable") else (below or {path})
    return out


def response_paths(path: str, method: str = "get", status: int | str = 200, source: Path = DESCRIPTION) -> set[str]:
    """documented_paths of the JSON body `method path` answers with `status` (a list: of its items), in `source`
    (GitHub.com's GHEC description unless given: GHES_3_19, V18_GHEC)."""
    schema = operation(path, method, source)["responses"][str(status)]["content"]["application/json"]["schema"]
    return documented_paths(schema.get("items", schema))


def assert_matches(body: Any, path: str, method: str = "get", status: int | str = 200) -> None:
    """Fail with every schema violation listed, each with its location in the body."""
    errors = sorted(response_validator(path, method, status).iter_errors(body), key=lambda e: list(e.path))
    if errors:
        lines = [f"  at /{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:20]]
        pytest.fail(f"{method.upper()} {path} ({status}) does not match GitHub's description:\n" + "\n".join(lines))
