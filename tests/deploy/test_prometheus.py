"""Prometheus configuration and rules, checked and unit-tested by the real promtool."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.deploy.helpers import (
    PROMETHEUS,
    REPO,
    RULE_TESTS,
    RULES_FILE,
    alerts,
    load_yaml,
    recording_rules,
    rules,
    run,
)
from tests.tools import tool

README = PROMETHEUS / "README.md"
METRICS_DOC = REPO / "docs" / "metrics.md"

# Metrics the rules use before their collectors land; names agreed with the
# collectors' authors. Once docs/metrics.md lists them this set may shrink.
PENDING_METRICS: set[str] = set()  # names agreed for rules before their collector lands; none left
SEVERITIES = {"critical", "warning", "info"}
# The fixed bases of the rules file; generate-prometheusrule.py and the Helm chart replace them.
RUNBOOK_BASE = "https://github.com/github-insights-exporter/github-insights-exporter/blob/main/deploy/prometheus/README.md"
GRAFANA_BASE = "http://localhost:3000"
DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"


def test_promtool_check_rules() -> None:
    result = run([tool("promtool"), "check", "rules", "--lint=all", "--lint-fatal", str(RULES_FILE)])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    found = re.search(r"SUCCESS: (\d+) rules found", output)
    assert found, output
    assert int(found.group(1)) == len(rules()) == 22


def test_promtool_test_rules() -> None:
    assert [path.name for path in RULE_TESTS] == [
        "api-insights.test.yml", "billing.test.yml", "budgets.test.yml", "copilot-seats.test.yml",
        "copilot.test.yml", "enterprise-server.test.yml", "exporter-fields.test.yml", "exporter.test.yml",
    ]
    result = run([tool("promtool"), "test", "rules", *map(str, RULE_TESTS)])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "FAILED" not in output, output
    assert output.count("SUCCESS") == len(RULE_TESTS), output


def test_promtool_check_config() -> None:
    config = PROMETHEUS / "prometheus.yml"
    result = run([tool("promtool"), "check", "config", str(config)])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SUCCESS: 1 rule files found" in output, output
    assert f"SUCCESS: {config} is valid prometheus config file syntax" in output, output
    assert f"Checking {RULES_FILE}" in output, output
    assert f"SUCCESS: {len(rules())} rules found" in output, output


def test_scrape_config_suits_cached_data() -> None:
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "github-insights-exporter"
    assert (job["scrape_interval"], job["scrape_timeout"]) == ("60s", "30s")
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job["static_configs"][0]["targets"] == ["github-insights-exporter:9877"]
    matched = [path for pattern in config["rule_files"] for path in (PROMETHEUS).glob(pattern)]
    assert matched == [RULES_FILE]


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    anchors = readme_anchors()
    names = [alert["alert"] for alert in alerts()]
    assert len(names) == len(set(names)), names
    assert set(names) == {
        "GitHubAPIRateLimitedSpike", "GitHubInsightsDataStale", "GitHubBillingExportFailing",
        "GitHubBillingExportStale", "GitHubCopilotReportStale", "GitHubEnterpriseServerStatsStale",
        "GitHubExporterDown", "GitHubExporterTokenRateLimitLow",
        "GitHubExporterCollectorFailing", "GitHubExporterCollectorStale", "GitHubExporterFieldsChanged",
        "GitHubBudgetNearlySpent", "GitHubBudgetSpent",
    }
    readme = README.read_text(encoding="utf-8")
    for alert in alerts():
        name = alert["alert"]
        assert alert["labels"]["severity"] in SEVERITIES, name
        annotations = alert["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url", "dashboard_url"}, name
        assert annotations["summary"].strip() and annotations["description"].strip(), name
        assert "{{" not in annotations["summary"] and "$" not in annotations["summary"], (
            f"{name}: a static summary (values belong in the description): {annotations['summary']!r}"
        )
        url = annotations["runbook_url"]
        assert url == f"{RUNBOOK_BASE}#{name.lower()}", (name, url)
        assert url.split("#")[1] in anchors, f"{name}: no section {url} in {README}"
        assert f"[{name}](#{name.lower()})" in readme, f"{name} missing from the README's alert table"
    runbook_sections = set(re.findall(r"^### (\S+)$", readme, flags=re.MULTILINE))
    assert runbook_sections == set(names), "every runbook section belongs to an alert"


def test_every_alert_links_a_dashboard_with_its_variables() -> None:
    """dashboard_url names a generated dashboard and only variables that dashboard has, from the alert's labels."""
    for alert in alerts():
        name, url = alert["alert"], alert["annotations"]["dashboard_url"]
        found = re.fullmatch(rf"{re.escape(GRAFANA_BASE)}/d/([a-z0-9-]+)(?:\?(.*))?", url)
        assert found, f"{name}: {url!r} is not {GRAFANA_BASE}/d/<uid>?var-..."
        path = DASHBOARDS / f"{found.group(1)}.json"
        assert path.is_file(), f"{name}: no dashboard {path.name}"
        variables = {v["name"] for v in json.loads(path.read_text(encoding="utf-8"))["templating"]["list"]}
        for parameter in filter(None, (found.group(2) or "").split("&")):
            variable, _, value = parameter.partition("=")
            assert variable.removeprefix("var-") in variables, f"{name}: {path.name} has no variable {variable}"
            label = re.fullmatch(r"\{\{ \$labels\.(\w+) \| urlquery \}\}", value)
            assert label, f"{name}: {variable}={value!r}: a label, URL-escaped"
            kept = " by (" not in alert["expr"] or re.search(rf"\bby \([^)]*\b{label.group(1)}\b", alert["expr"])
            assert kept, f"{name}: the expression aggregates label {label.group(1)} away"


def test_recording_rules_follow_level_metric_operations() -> None:
    names = [rule["record"] for rule in recording_rules()]
    assert names == [
        "org:github_api_insights_requests_per_minute:rate15m",
        "org:github_api_insights_rate_limited_requests_per_minute:rate15m",
        "org:github_api_insights_rate_limited_requests_per_requests:ratio_rate1h",
        "editor_language:github_copilot_code_acceptances_per_suggestions:ratio",
        "org:github_copilot_code_acceptances_per_suggestions:ratio",
        "org_editor:github_copilot_editor_code_acceptances_per_generations:ratio",
        "org_language:github_copilot_language_code_acceptances_per_generations:ratio",
        "org:github_copilot_seats_utilisation:ratio",
        "enterprise:github_copilot_enterprise_seats_utilisation:ratio",
    ]
    for name in names:
        level, metric, operations = name.split(":")
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", level) and re.fullmatch(r"[a-z0-9_]+", operations), name
        assert metric.startswith("github_") and not metric.endswith("_total"), name
        by = re.findall(
            r"sum by \(([^)]*)\)|max by \(([^)]*)\)", next(r["expr"] for r in recording_rules() if r["record"] == name)
        )
        outer = {label.strip() for label in (by[0][0] or by[0][1]).split(",")}
        assert set(level.split("_")) == outer, f"{name}: level {level!r} but aggregated by {outer}"


def test_rule_tests_cover_every_alert_firing_and_not_firing() -> None:
    fired: set[str] = set()
    silent: set[str] = set()
    evaluated: set[str] = set()
    for path in RULE_TESTS:
        data = load_yaml(path)
        assert data["rule_files"] == ["../rules/github-insights-exporter.rules.yml"], path
        for case in data["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else silent).add(check["alertname"])
            for check in case.get("promql_expr_test", []):
                if check.get("exp_samples"):
                    evaluated.add(check["expr"].split("{")[0].strip())
    names = {alert["alert"] for alert in alerts()}
    assert names - fired == set(), "alerts never shown firing"
    assert names - silent == set(), "alerts never shown not firing"
    assert {rule["record"] for rule in recording_rules()} - evaluated == set(), "recording rules without a value test"


def test_rules_use_only_known_metrics() -> None:
    documented = set(
        re.findall(r"^\| `(github_[a-z0-9_]+)` \|", METRICS_DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    )
    assert "github_api_insights_requests_total" in documented
    used: set[str] = set()
    for rule in rules():
        texts = [rule["expr"], *rule.get("annotations", {}).values()]
        for text in texts:
            used |= {name for name in re.findall(r"(?<![:\w])github_[a-z0-9_]+(?![:\w])", text)}
    unknown = used - documented - PENDING_METRICS
    assert unknown == set(), f"not in docs/metrics.md (typo, or a metric not yet agreed): {sorted(unknown)}"


# Each mutation breaks one threshold, window or aggregation in a copy of the
# rules; the unit tests of that family must then fail. This shows the
# boundary cases really pin the documented defaults.
MUTATIONS = [
    ("ratio threshold", ") >= 0.05\n", ") > 0.05\n", 1, "api-insights"),
    ("absolute threshold", "[1h])) >= 100\n", "[1h])) > 100\n", 1, "api-insights"),
    ("spike for", "for: 1m\n", "for: 0m\n", 1, "api-insights"),
    ("spike window", "_total[1h]))", "_total[2h]))", 5, "api-insights"),
    ("HA dedup", "max by (org) (increase(", "sum by (org) (increase(", 6, "api-insights"),
    (
        "per minute",
        "60 * max by (org) (rate(github_api_insights_requests_total",
        "max by (org) (rate(github_api_insights_requests_total",
        1,
        "api-insights",
    ),
    ("data stale threshold", "> 8 * 3600", ">= 8 * 3600", 1, "api-insights"),
    ("token threshold", "github_rate_limit_limit < 0.10", "github_rate_limit_limit <= 0.10", 1, "exporter"),
    (
        "token reset",
        "github_rate_limit_reset_timestamp_seconds > time()",
        "github_rate_limit_reset_timestamp_seconds > 0",
        1,
        "exporter",
    ),
    ("failure share", "> 0.25 * increase", ">= 0.25 * increase", 1, "exporter"),
    (
        "stale floor",
        "github_exporter_collector_interval_seconds, 3600)",
        "github_exporter_collector_interval_seconds, 3660)",
        1,
        "exporter",
    ),
    (
        "stale intervals",
        "clamp_min(3 * github_exporter_collector_interval_seconds",
        "clamp_min(0.2 * github_exporter_collector_interval_seconds",
        1,
        "exporter",
    ),
    ("copilot report age", "_report_day_timestamp_seconds) > 3 * 86400", "_report_day_timestamp_seconds) > 2 * 86400",
     2, "copilot"),
    ("copilot report for", "> 3 * 86400\n        for: 1h\n", "> 3 * 86400\n        for: 0m\n", 1, "copilot"),
    ("billing export age", "_timestamp_seconds) > 86400\n", "_timestamp_seconds) > 2 * 86400\n", 1, "billing"),
    ("billing never completed", "unless on (enterprise, report_type)\n", "and on (enterprise, report_type)\n", 1,
     "billing"),
    ("billing stale for", "for: 2h\n", "for: 1h\n", 1, "billing"),
    ("ghes age", "> 2 * 86400\n        for: 1h\n", "> 1 * 86400\n        for: 1h\n", 1, "enterprise-server"),
    ("down job", 'up{job="github-insights-exporter"} == 0', "up == 0", 1, "exporter"),
    (
        "billing window",
        "github_billing_export_failures_total[1h]",
        "github_billing_export_failures_total[2h]",
        1,
        "billing",
    ),
    (
        "copilot no-suggestion filter",
        "(github_copilot_code_suggestions)) > 0)",
        "(github_copilot_code_suggestions)))",
        2,
        "copilot",
    ),
    ("budget 80% threshold", "(github_billing_budget_spent_ratio) >= 0.8", "(github_billing_budget_spent_ratio) > 0.8",
     1, "budgets"),
    ("budget 100% threshold", "(github_billing_budget_spent_ratio) >= 1", "(github_billing_budget_spent_ratio) > 1",
     1, "budgets"),
    ("budget warning stops at 100%", "\n          < 1\n", "\n", 1, "budgets"),
]


@pytest.mark.parametrize(("name", "old", "new", "count", "family"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_rule_tests_catch_a_changed_rule(
    tmp_path: Path, name: str, old: str, new: str, count: int, family: str
) -> None:
    shutil.copytree(PROMETHEUS / "rules", tmp_path / "rules")
    shutil.copytree(PROMETHEUS / "tests", tmp_path / "tests")
    rules_copy = tmp_path / "rules" / RULES_FILE.name
    text = rules_copy.read_text(encoding="utf-8")
    assert text.count(old) == count, f"mutation {name!r} no longer matches the rules file"
    rules_copy.write_text(text.replace(old, new), encoding="utf-8")
    check = run([tool("promtool"), "check", "rules", str(rules_copy)])
    assert check.returncode == 0, check.stdout + check.stderr  # still valid rules
    result = run([tool("promtool"), "test", "rules", str(tmp_path / "tests" / f"{family}.test.yml")])
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"{family}.test.yml still passes with {name!r} changed:\n{output}"
    assert "FAILED" in output, output


def readme_anchors() -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", README.read_text(encoding="utf-8"), flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors
