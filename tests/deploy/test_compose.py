"""deploy/compose/compose.yml and the Grafana provisioning it mounts, checked
against the Compose specification's JSON schema (as vendored by check-jsonschema)
and against the files they refer to. No Docker engine runs here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.deploy.helpers import COMPOSE_FILE, GRAFANA, PROMETHEUS, load_yaml, module, run

COMPOSE_DIR = COMPOSE_FILE.parent


def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


def check_compose_schema(path: Path) -> tuple[int, dict[str, Any]]:
    module("check_jsonschema")
    result = run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                  "--output-format", "json", str(path)])
    return result.returncode, json.loads(result.stdout)


def test_compose_file_matches_the_compose_specification() -> None:
    code, report = check_compose_schema(COMPOSE_FILE)
    assert (code, report["status"], report["errors"]) == (0, "ok", []), report


def test_compose_schema_check_catches_a_misspelt_key(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yml"
    broken.write_text(
        COMPOSE_FILE.read_text(encoding="utf-8").replace(
            "    depends_on:\n      github", "    depend_on:\n      github"
        ),
        encoding="utf-8",
    )
    code, report = check_compose_schema(broken)
    assert code != 0 and report["status"] == "fail", report


def binds(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path, for bind mounts (host path relative to the compose file)."""
    result = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("."):
            result[target] = (COMPOSE_DIR / source).resolve()
    return result


def test_services_and_their_wiring() -> None:
    services = compose()["services"]
    assert set(services) == {"github-insights-exporter", "prometheus", "grafana"}

    exporter = services["github-insights-exporter"]
    assert exporter["command"] == ["--demo", "--web.listen-address", ":9877"]
    cli = module("exporter.cli")
    args = cli.build_parser().parse_args(exporter["command"])
    assert args.demo and cli.listen_addresses(args) == [":9877"]
    assert (COMPOSE_DIR / exporter["build"]["context"]).resolve() / exporter["build"]["dockerfile"] == (
        COMPOSE_DIR / "../../Dockerfile"
    ).resolve()
    assert exporter["read_only"] is True and exporter["cap_drop"] == ["ALL"]

    prometheus = services["prometheus"]
    mounted = binds(prometheus)
    assert mounted["/etc/prometheus/prometheus.yml"] == PROMETHEUS / "prometheus.yml"
    assert mounted["/etc/prometheus/rules"] == PROMETHEUS / "rules"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert prometheus["depends_on"]["github-insights-exporter"]["condition"] == "service_healthy"
    # prometheus.yml's target is the exporter's service name, its rule_files
    # resolve under the mounted rules directory.
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    host, _, port = config["scrape_configs"][0]["static_configs"][0]["targets"][0].partition(":")
    assert (host, port) == ("github-insights-exporter", "9877")
    assert all(pattern.startswith("rules/") for pattern in config["rule_files"])

    grafana = services["grafana"]
    mounted = binds(grafana)
    assert mounted["/etc/grafana/provisioning"] == GRAFANA / "provisioning"
    assert mounted["/var/lib/grafana/dashboards"] == GRAFANA / "dashboards"
    for service in services.values():
        for source in binds(service).values():
            assert source.exists(), source
        for published in service.get("ports", []):
            assert published.startswith("127.0.0.1:"), f"{published}: publish on loopback only"


def test_grafana_provisioning_points_at_compose_prometheus_and_dashboards() -> None:
    (datasource,) = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert datasource["type"] == "prometheus" and datasource["uid"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["isDefault"] is True
    (provider,) = load_yaml(GRAFANA / "provisioning" / "dashboards" / "github-insights-exporter.yml")["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] in binds(compose()["services"]["grafana"])
    assert (GRAFANA / "dashboards").is_dir()
    for dashboard in (GRAFANA / "dashboards").glob("*.json"):  # written by the dashboards' author
        json.loads(dashboard.read_text(encoding="utf-8"))
