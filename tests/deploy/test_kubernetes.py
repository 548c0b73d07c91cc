"""Kubernetes manifests: rendered by kustomize, validated against the Kubernetes
schemas (kubernetes-validate, strict: unknown fields are errors), and checked
for the properties the deployment promises."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import (
    DEPLOY,
    DOCKERFILE,
    KUBERNETES,
    REPO,
    RULES_FILE,
    load_yaml,
    load_yaml_all,
    module,
    run,
)
from tests.tools import tool

# The oldest version with the apps.kubernetes.io/pod-index label (beta, on by
# default) that the StatefulSet variant needs, and the newest the validator knows.
OLDEST_KUBERNETES = "1.28"
VARIANTS = {"deployment": KUBERNETES, "statefulset": KUBERNETES / "statefulset"}
NAME = "github-insights-exporter"
CONFIG_PATH = "/etc/github-insights-exporter/config.yml"


@cache
def rendered(variant: str) -> tuple[dict[str, Any], ...]:
    result = run([tool("kubectl"), "kustomize", str(VARIANTS[variant])])
    assert result.returncode == 0, result.stderr
    return tuple(load_yaml_all(result.stdout))


def dashboards(variant: str) -> list[dict[str, Any]]:
    """The ConfigMaps of the Grafana dashboards, one per dashboard."""
    return [r for r in rendered(variant) if r["kind"] == "ConfigMap" and "grafana_dashboard" in r["metadata"]["labels"]]


def by_kind(variant: str) -> dict[str, dict[str, Any]]:
    """The resources other than the dashboards, one of each kind."""
    resources = [r for r in rendered(variant) if r not in dashboards(variant)]
    kinds = [resource["kind"] for resource in resources]
    assert len(kinds) == len(set(kinds)), kinds
    return {resource["kind"]: resource for resource in resources}


def kubernetes_versions() -> list[str]:
    kv = module("kubernetes_validate")
    return [OLDEST_KUBERNETES, kv.latest_version()]


def test_kustomize_renders_each_variant() -> None:
    shared = {"ConfigMap", "Service", "ServiceMonitor", "PrometheusRule", "PodDisruptionBudget", "NetworkPolicy"}
    assert set(by_kind("deployment")) == shared | {"Deployment"}
    assert set(by_kind("statefulset")) == shared | {"StatefulSet"}
    for variant in VARIANTS:
        for resource in by_kind(variant).values():
            assert resource["metadata"]["name"] == NAME
            assert resource["metadata"]["labels"]["app.kubernetes.io/name"] == NAME
        for configmap in dashboards(variant):
            assert configmap["metadata"]["name"].startswith(f"{NAME}-dashboard-")
            assert configmap["metadata"]["labels"]["app.kubernetes.io/name"] == NAME


@pytest.mark.parametrize("variant", VARIANTS)
def test_dashboards_are_configmaps_for_the_grafana_sidecar(variant: str) -> None:
    assert_dashboard_configmaps(dashboards(variant))


def assert_dashboard_configmaps(configmaps: list[dict[str, Any]]) -> None:
    """One ConfigMap per dashboard of deploy/grafana/dashboards/, as it is, labelled for the Grafana sidecar."""
    files = (DEPLOY / "grafana" / "dashboards").glob("*.json")
    expected = {path.name: json.loads(path.read_text(encoding="utf-8")) for path in files}
    found = {}
    for configmap in configmaps:
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert configmap["metadata"]["annotations"] == {"grafana_folder": "GitHub"}
        assert len(configmap["metadata"]["name"]) <= 63
        ((key, text),) = configmap["data"].items()
        found[key] = json.loads(text)
    assert len(expected) == 6 and found == expected


@pytest.mark.parametrize("variant", VARIANTS)
def test_pod_disruption_budget_and_network_policy_select_the_pods(variant: str) -> None:
    resources = by_kind(variant)
    assert_budget_and_policy(resources["PodDisruptionBudget"], resources["NetworkPolicy"], pod_template(variant))


def assert_budget_and_policy(budget: dict[str, Any], policy: dict[str, Any], pod: dict[str, Any]) -> None:
    """At most one pod evicted at a time; ingress only to the metrics port, egress only to DNS and HTTPS."""
    pod_labels = pod["metadata"]["labels"]
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = spec["ingress"]
    (port,) = pod["spec"]["containers"][0]["ports"]
    assert ingress["ports"] == [{"port": port["name"], "protocol": "TCP"}]
    dns, https = spec["egress"]
    assert sorted((p["port"], p["protocol"]) for p in dns["ports"]) == [(53, "TCP"), (53, "UDP")]
    assert https["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert [peer["ipBlock"]["cidr"] for peer in https["to"]] == ["0.0.0.0/0", "::/0"]


def validate_builtin(resource: dict[str, Any], where: str) -> int:
    """Validate a built-in kind against the Kubernetes schemas (strict) of each supported version;
    the number of validations, 0 for a prometheus-operator kind (see validate_operator)."""
    kv = module("kubernetes_validate")
    if resource["apiVersion"].startswith("monitoring.coreos.com/"):
        return 0
    for version in kubernetes_versions():
        try:
            kv.validate(resource, version, strict=True)
        except kv.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            pytest.fail(f"{where}: {resource['kind']} invalid for Kubernetes {version} at {path}: {exc.message}")
    return len(kubernetes_versions())


@pytest.mark.parametrize("variant", VARIANTS)
def test_builtin_resources_validate_against_kubernetes_schemas(variant: str) -> None:
    checked = sum(validate_builtin(resource, variant) for resource in rendered(variant))
    assert checked == (5 + 6) * 2


def test_secret_example_validates_and_stays_out_of_kustomize() -> None:
    kv = module("kubernetes_validate")
    secret = load_yaml(KUBERNETES / "secret.example.yaml")
    for version in kubernetes_versions():
        kv.validate(secret, version, strict=True)
    assert secret["metadata"]["name"] == NAME and "token" in secret["stringData"]
    for variant in VARIANTS:
        assert "Secret" not in by_kind(variant), "a token must never be applied from the repository"


def test_validator_rejects_a_misspelt_field() -> None:
    """The strict schemas catch a typo that the API server would silently drop."""
    kv = module("kubernetes_validate")
    deployment = copy.deepcopy(by_kind("deployment")["Deployment"])
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True
    with pytest.raises(kv.ValidationError, match="readOnlyRootFileSystem"):
        kv.validate(deployment, OLDEST_KUBERNETES, strict=True)


# kubernetes-validate ships only the built-in kinds. For the prometheus-operator
# kinds, this schema lists the monitoring.coreos.com/v1 fields the manifests may
# use (names and shapes as in the operator's CRDs) and rejects any other, so a
# misspelt field fails here instead of being pruned by the API server.
DURATION = {
    "type": "string",
    "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
    "additionalProperties": False,
}
SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "namespaceSelector": {"type": "object"},
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"matchLabels": STRING_MAP, "matchExpressions": {"type": "array"}},
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "targetPort": {"type": ["integer", "string"]},
                            "path": {"type": "string"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": DURATION,
                            "scrapeTimeout": DURATION,
                            "honorLabels": {"type": "boolean"},
                            "tlsConfig": {"type": "object"},
                            "basicAuth": {"type": "object"},
                            "authorization": {"type": "object"},
                            "relabelings": {"type": "array"},
                            "metricRelabelings": {"type": "array"},
                        },
                    },
                },
            },
        },
    },
}
RULE = {
    "type": "object",
    "required": ["expr"],
    "additionalProperties": False,
    "oneOf": [{"required": ["record"]}, {"required": ["alert"]}],
    "properties": {
        "record": {"type": "string"},
        "alert": {"type": "string"},
        "expr": {"type": ["string", "integer"]},
        "for": DURATION,
        "keep_firing_for": DURATION,
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
}
PROMETHEUS_RULE_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "interval": DURATION,
                            "limit": {"type": "integer"},
                            "partial_response_strategy": {"type": "string"},
                            "rules": {"type": "array", "items": RULE},
                        },
                    },
                },
            },
        },
    },
}
OPERATOR_SCHEMAS = {"ServiceMonitor": SERVICE_MONITOR_SCHEMA, "PrometheusRule": PROMETHEUS_RULE_SCHEMA}


def validate_operator(resource: dict[str, Any]) -> None:
    """Validate a ServiceMonitor or PrometheusRule against the fields of its CRD."""
    module("jsonschema").validate(resource, OPERATOR_SCHEMAS[resource["kind"]])


@pytest.mark.parametrize("variant", VARIANTS)
def test_operator_resources_match_their_crd_fields(variant: str) -> None:
    for kind in OPERATOR_SCHEMAS:
        validate_operator(by_kind(variant)[kind])


def test_operator_schema_rejects_a_misspelt_field() -> None:
    jsonschema = module("jsonschema")
    monitor = copy.deepcopy(by_kind("deployment")["ServiceMonitor"])
    monitor["spec"]["endpoints"][0]["scrape_timeout"] = "30s"
    with pytest.raises(jsonschema.ValidationError, match="scrape_timeout"):
        jsonschema.validate(monitor, SERVICE_MONITOR_SCHEMA)
    rule = copy.deepcopy(by_kind("deployment")["PrometheusRule"])
    rule["spec"]["groups"][0]["rules"][0]["for"] = "5 minutes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(rule, PROMETHEUS_RULE_SCHEMA)


def test_prometheusrule_is_generated_from_the_rules_file() -> None:
    generated = load_yaml(KUBERNETES / "base" / "prometheusrule.yaml")
    assert generated["spec"]["groups"] == load_yaml(RULES_FILE)["groups"]
    result = run([sys.executable, str(KUBERNETES / "generate-prometheusrule.py"), "--check"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_generator_puts_runbooks_and_dashboards_on_other_bases(tmp_path: Path) -> None:
    output = tmp_path / "prometheusrule.yaml"
    script = KUBERNETES / "generate-prometheusrule.py"
    result = run([sys.executable, str(script), "--runbook-url", "https://docs.example.org/runbooks.md",
                  "--grafana-url", "https://grafana.example.org/", "--output", str(output)])
    assert result.returncode == 0, result.stderr
    generated = [r for g in load_yaml(output)["spec"]["groups"] for r in g["rules"] if "alert" in r]
    original = {r["alert"]: r for g in load_yaml(RULES_FILE)["groups"] for r in g["rules"] if "alert" in r}
    assert len(generated) == len(original) >= 10
    for rule in generated:
        annotations, before = rule["annotations"], original[rule["alert"]]["annotations"]
        assert annotations["runbook_url"] == f"https://docs.example.org/runbooks.md#{rule['alert'].lower()}"
        assert annotations["dashboard_url"].startswith("https://grafana.example.org/d/github-")
        assert annotations["dashboard_url"].split("/d/")[1] == before["dashboard_url"].split("/d/")[1]
        assert {k: v for k, v in annotations.items() if not k.endswith("_url")} == {
            k: v for k, v in before.items() if not k.endswith("_url")}
    assert run([sys.executable, str(script), "--check"]).returncode == 0, "the committed files are untouched"


def test_generator_check_detects_a_stale_file(tmp_path: Path) -> None:
    """--check fails once the rules change without regenerating."""
    work = tmp_path / "repo"
    for part in ("deploy/prometheus/rules", "deploy/kubernetes"):
        shutil.copytree(REPO / part, work / part)
    shutil.copy(REPO / "deploy/generated_files.py", work / "deploy")
    rules = work / "deploy/prometheus/rules" / RULES_FILE.name
    rules.write_text(rules.read_text(encoding="utf-8").replace("for: 15m", "for: 20m"), encoding="utf-8")
    script = work / "deploy/kubernetes/generate-prometheusrule.py"
    stale = run([sys.executable, str(script), "--check"], cwd=work)
    assert stale.returncode == 1 and "out of date" in stale.stderr and "+      for: 20m" in stale.stdout
    assert run([sys.executable, str(script)], cwd=work).returncode == 0
    assert run([sys.executable, str(script), "--check"], cwd=work).returncode == 0


def pod_template(variant: str) -> dict[str, Any]:
    workload = by_kind(variant)["Deployment" if variant == "deployment" else "StatefulSet"]
    template: dict[str, Any] = workload["spec"]["template"]
    return template


def pod_spec(variant: str) -> dict[str, Any]:
    spec: dict[str, Any] = pod_template(variant)["spec"]
    return spec


@pytest.mark.parametrize("variant", VARIANTS)
def test_pod_is_locked_down(variant: str) -> None:
    assert_locked_down(pod_spec(variant))


def assert_locked_down(spec: dict[str, Any]) -> None:
    """Non-root as the image's user, no service account token, read-only root, no privileges, resources."""
    assert spec["securityContext"]["runAsNonRoot"] is True
    image_user = re.search(r"^USER (\d+):(\d+)$", DOCKERFILE.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert image_user, "the Dockerfile sets a numeric USER"
    assert (spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"]) == tuple(
        map(int, image_user.groups())
    )
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"] and "add" not in security["capabilities"]
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(resources["limits"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_probes_token_and_config(variant: str) -> None:
    spec = pod_spec(variant)
    (container,) = spec["containers"]
    (port,) = container["ports"]
    assert port["containerPort"] == 9877
    assert container["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": port["name"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": port["name"]}
    token = next(env for env in container["env"] if env["name"] == "GITHUB_TOKEN")
    assert token["valueFrom"]["secretKeyRef"] == {"name": NAME, "key": "token"}
    assert f"--config.file={CONFIG_PATH}" in container["args"]
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == os.path.dirname(CONFIG_PATH))
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    configmap = by_kind(variant)["ConfigMap"]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert volume["configMap"]["items"] == [{"key": "config.yml", "path": os.path.basename(CONFIG_PATH)}]
    assert "config.yml" in configmap["data"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_args_are_flags_the_exporter_accepts(variant: str) -> None:
    cli = module("exporter.cli")
    (container,) = pod_spec(variant)["containers"]
    args = [re.sub(r"\$\(SHARD_INDEX\)", "1", arg) for arg in container["args"]]
    parsed = cli.build_parser().parse_args(args)
    assert parsed.config_file == CONFIG_PATH
    assert cli.listen_addresses(parsed) == [":9877"]


def test_configmap_config_passes_config_check(tmp_path: Path) -> None:
    assert_config_check_passes(by_kind("deployment")["ConfigMap"]["data"]["config.yml"], tmp_path)


def assert_config_check_passes(text: str, tmp_path: Path, env: dict[str, str] | None = None) -> None:
    """`--config.check` accepts the configuration, with a token or with the given environment."""
    config = tmp_path / "config.yml"
    config.write_text(text, encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env = {**clean, **(env or {"GITHUB_TOKEN": "github_pat_test"})}
    result = run([sys.executable, "-m", "exporter", "--config.check", f"--config.file={config}"], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configuration OK" in result.stdout


def test_service_and_servicemonitor_select_the_pods() -> None:
    resources = by_kind("deployment")
    pod_labels = resources["Deployment"]["spec"]["template"]["metadata"]["labels"]
    service = resources["Service"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"].get("clusterIP") != "None"
    (service_port,) = service["spec"]["ports"]
    monitor = resources["ServiceMonitor"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service_port["name"]
    assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("60s", "30s")


def test_statefulset_shards_by_pod_ordinal() -> None:
    resources = by_kind("statefulset")
    statefulset = resources["StatefulSet"]
    service = resources["Service"]
    assert service["spec"]["clusterIP"] == "None", "the StatefulSet's Service is headless"
    assert statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    index = next(env for env in container["env"] if env["name"] == "SHARD_INDEX")
    assert index["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}}
    assert "--shard.index=$(SHARD_INDEX)" in container["args"]
    assert f"--shard.count={statefulset['spec']['replicas']}" in container["args"]
    assert statefulset["spec"]["replicas"] > 1


def test_statefulset_pod_template_matches_the_deployment() -> None:
    """The two pod templates are maintained by hand: they may differ only in sharding."""
    deployment = copy.deepcopy(by_kind("deployment")["Deployment"]["spec"]["template"])
    statefulset = copy.deepcopy(by_kind("statefulset")["StatefulSet"]["spec"]["template"])
    (container,) = statefulset["spec"]["containers"]
    container["args"] = [arg for arg in container["args"] if not arg.startswith("--shard.")]
    container["env"] = [env for env in container["env"] if env["name"] != "SHARD_INDEX"]
    assert statefulset == deployment


@pytest.mark.parametrize("variant", VARIANTS)
def test_image_is_the_package_version(variant: str) -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    (container,) = pod_spec(variant)["containers"]
    assert container["image"] == f"{NAME}:{version}"
    (image,) = load_yaml(VARIANTS[variant] / "kustomization.yaml")["images"]
    assert (image["name"], image["newTag"]) == (NAME, version)
