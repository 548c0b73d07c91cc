"""The OpenAPI description Prism serves: GitHub's own, cut down to the exporter's endpoints and made loadable.

Built from @octokit/openapi's bundled (not dereferenced) descriptions: the paths every collector calls, from
ghec (a superset of api.github.com with Enterprise Cloud's endpoints), plus the few that only another
deployment describes: the organization billing endpoints (api.github.com) and `/enterprise/stats/all`
(GHES 3.19). Each path brings the components it references, transitively; a component two descriptions
define differently fails the set-up rather than being guessed at. Trimming matters: Prism takes ~8 s to
load the whole of ghec, well under a second for this.

One repair: ghec's server-statistics example `$ref`s three YAML files that are not shipped
(`actions_stats`, `packages_stats`, `advisory_db_stats`). Prism cannot resolve them, so they are replaced
by examples built from their schemas (which give no example values; see _ExampleMaker), and
`advisory_db_stats`, which the schema does not define, is dropped.

The description is served as the exporter's default REST API version (`github.api_version`) describes it:
@octokit/openapi ships 2022-11-28 with each later version's breaking changes as `x-github-breaking-changes`
patches (JSON Patch or JSON Merge Patch) beside the node they change; `at_version` applies them.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from exporter.settings import API_VERSION
from tests.openapi import ROOT
from tests.test_deployments import ENDPOINTS

GENERATED = ROOT / "node_modules" / "@octokit" / "openapi" / "generated"
BASE = "ghec"
OTHERS = ("api.github.com", "ghes-3.19")  # where the paths ghec lacks come from
# Every description path under these prefixes is kept too (the collectors choose among them by configuration).
PREFIXES = ("/orgs/{org}/insights/api/", "/orgs/{org}/copilot/metrics/reports/",
            "/enterprises/{enterprise}/copilot/metrics/reports/")
RETIRED = frozenset(ENDPOINTS["copilot_usage"])  # in no current description: Prism answers 404
SERVER_STATISTICS = "server-statistics"
_UNSHIPPED = {"actions_stats": "server-statistics-actions", "packages_stats": "server-statistics-packages"}


def load(name: str) -> dict[str, Any]:
    with (GENERATED / f"{name}.json").open(encoding="utf-8") as f:
        return json.load(f)


def _refs(node: Any, into: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            into.add(ref)
        for value in node.values():
            _refs(value, into)
    elif isinstance(node, list):
        for value in node:
            _refs(value, into)


def _component(doc: dict[str, Any], ref: str) -> tuple[str, str, Any]:
    if not ref.startswith("#/components/"):
        raise ValueError(f"a $ref to another file: {ref}")
    _, _, kind, name = ref.split("/", 3)
    return kind, name, doc["components"][kind][name]


def _copy_components(source: dict[str, Any], node: Any, into: dict[str, dict[str, Any]]) -> None:
    """Copy every component `node` references, transitively, from `source` into `into` (kind -> name -> value)."""
    todo: set[str] = set()
    _refs(node, todo)
    seen: set[str] = set()
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        kind, name, value = _component(source, ref)
        have = into.setdefault(kind, {}).get(name)
        if have is not None and have != value:
            raise ValueError(f"{ref} differs between the descriptions merged; cannot serve both")
        into[kind][name] = value
        _refs(value, todo)


class _ExampleMaker:
    """Example values for schemas that have none: distinct integers (so each lands in one metric, findably), the
    first enum value, true, and for the one free-form string a value in the format GHES writes."""

    STRINGS = {"percentage_of_repos_using_actions": "37.50"}  # a percentage, two decimals, as GHES uploads it

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.next_int = 101

    def make(self, schema: Any, name: str = "") -> Any:
        while isinstance(schema, dict) and "$ref" in schema:
            schema = _component(self.doc, schema["$ref"])[2]
        kind = schema.get("type")
        if "example" in schema:
            return schema["example"]
        if kind == "object":
            return {key: self.make(sub, key) for key, sub in schema.get("properties", {}).items()}
        if kind == "array":
            return [self.make(schema["items"], name)]
        if "enum" in schema:
            return schema["enum"][0]
        if kind == "integer":
            self.next_int += 1
            return self.next_int
        if kind == "boolean":
            return True
        if name in self.STRINGS:
            return self.STRINGS[name]
        raise ValueError(f"no example value for {name or 'a schema'}: {json.dumps(schema)[:200]}")


def _repair_server_statistics(doc: dict[str, Any]) -> None:
    maker = _ExampleMaker(doc)
    for item in doc["components"]["examples"][SERVER_STATISTICS]["value"]:
        for field in [k for k, v in item.items() if isinstance(v, dict) and "$ref" in v]:
            if field in _UNSHIPPED:
                item[field] = maker.make({"$ref": f"#/components/schemas/{_UNSHIPPED[field]}"})
            else:
                del item[field]


BREAKING = "x-github-breaking-changes"


def _pointer(path: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]


def _json_patch(node: Any, ops: list[dict[str, Any]]) -> None:
    """RFC 6902, the operations GitHub's changesets use (remove, add, replace), in place."""
    for op in ops:
        *parents, last = _pointer(op["path"])
        target = node
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            index = len(target) if last == "-" else int(last)
            if op["op"] in ("remove", "replace"):
                del target[index]
            if op["op"] in ("add", "replace"):
                target.insert(index, copy.deepcopy(op["value"]))
        elif op["op"] == "remove":
            del target[last]
        elif op["op"] in ("add", "replace"):
            target[last] = copy.deepcopy(op["value"])
        else:
            raise ValueError(f"a JSON Patch operation this harness does not apply: {op['op']}")


def _merge_patch(node: dict[str, Any], patch: dict[str, Any]) -> None:
    """RFC 7386, in place: null removes a key, an object merges, anything else replaces."""
    for key, value in patch.items():
        if value is None:
            node.pop(key, None)
        elif isinstance(value, dict):
            if not isinstance(node.get(key), dict):
                node[key] = {}
            _merge_patch(node[key], value)
        else:
            node[key] = copy.deepcopy(value)


def at_version(node: Any, version: str) -> Any:
    """`node` as REST API `version` describes it: every `x-github-breaking-changes` patch of that version or an
    earlier one applied where it sits, and the annotations dropped. In place; returns `node`."""
    if isinstance(node, dict):
        for change in node.pop(BREAKING, []):
            if change["version"] <= version:
                patch = change["patch"]
                _json_patch(node, patch) if isinstance(patch, list) else _merge_patch(node, patch)
        for value in node.values():
            at_version(value, version)
    elif isinstance(node, list):
        for value in node:
            at_version(value, version)
    return node


def breaking_changes(doc: dict[str, Any], operation: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(changeset, version, where) of every breaking change on `operation` or a component it reaches."""
    found: set[tuple[str, str, str]] = set()
    todo: list[tuple[str, Any]] = [("operation", operation)]
    seen: set[str] = set()
    while todo:
        where, node = todo.pop()
        refs: set[str] = set()
        _refs(node, refs)
        for ref in sorted(refs - seen):
            seen.add(ref)
            if ref.startswith("#/components/"):  # (the server-statistics example's unshipped files: no schema)
                todo.append((ref, _component(doc, ref)[2]))
        stack = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                found |= {(c["changeset"], c["version"], where) for c in item.get(BREAKING, [])}
                stack += [v for k, v in item.items() if k != BREAKING]
            elif isinstance(item, list):
                stack += item
    return found


def paths_used(base: dict[str, Any]) -> set[str]:
    named = {path for endpoints in ENDPOINTS.values() for path in endpoints} - RETIRED
    return named | {path for path in base["paths"] if path.startswith(PREFIXES)}


def build(version: str = API_VERSION) -> dict[str, Any]:
    """The trimmed, merged, repaired description, as REST API `version` (the exporter's default) describes it."""
    base = load(BASE)
    _repair_server_statistics(base)
    others = [load(name) for name in OTHERS]
    out: dict[str, Any] = {k: copy.deepcopy(base[k]) for k in ("openapi", "info", "servers", "security", "tags")
                           if k in base}  # not x-webhooks: its components are left behind
    out["paths"] = {}
    components: dict[str, dict[str, Any]] = {}
    for path in sorted(paths_used(base)):
        source = next((doc for doc in (base, *others) if path in doc["paths"]), None)
        if source is None:
            raise ValueError(f"{path} is in none of {BASE}, {', '.join(OTHERS)}")
        item = copy.deepcopy(source["paths"][path])
        out["paths"][path] = item
        _copy_components(source, item, components)
    out["components"] = copy.deepcopy(components)
    return at_version(out, version)


def operation(doc: dict[str, Any], method: str, path: str) -> str | None:
    """The description's operation ("GET /orgs/{org}/repos") a request path falls under, if any."""
    for template in sorted(doc["paths"], key=lambda t: t.count("{")):  # the most literal first, as Prism
        item = doc["paths"][template]
        pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template))
        if method.lower() in item and re.fullmatch(pattern, path):
            return f"{method.upper()} {template}"
    return None


def _resolve(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = _component(doc, node["$ref"])[2]
    return node


def example(doc: dict[str, Any], operation_name: str) -> Any:
    """The example Prism answers with in static mode: the first of the first success response."""
    method, template = operation_name.split(" ", 1)
    responses = doc["paths"][template][method.lower()]["responses"]
    status = min(code for code in responses if code.startswith("2"))
    content = _resolve(doc, responses[status]).get("content", {}).get("application/json", {})
    examples = content.get("examples")
    if examples:
        return _resolve(doc, next(iter(examples.values())))["value"]
    return content.get("example")


def write(directory: Path) -> Path:
    path = directory / "github-contract.json"
    path.write_text(json.dumps(build()), encoding="utf-8")
    return path
