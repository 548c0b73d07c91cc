"""The start-up request plan: intervals stretched in proportion when the collectors would spend too much."""

from __future__ import annotations

import pytest

from exporter.budget import (
    HOURLY_LIMIT,
    UNSTRETCH_BAND,
    BudgetPlanner,
    fit_to_budget,
    planned_requests_per_hour,
    stretch_intervals,
)
from exporter.collectors import COLLECTORS
from exporter.settings import load_settings
from tests.github.conftest import rsa_key_pair

ORGS = [f"org-{i}" for i in range(10)]


def test_one_org_at_the_defaults_fits_and_nothing_changes() -> None:
    settings = load_settings(None, {"targets": {"orgs": ["octo-demo"]}})
    fitted, plan = fit_to_budget(settings)
    assert fitted is settings and plan.stretch == 1.0
    # API Insights' worst case: (1 + 10 users + 30 actors) per 5-minute run and per hourly ranking.
    insights = COLLECTORS["api_insights"].planned_requests_per_hour(settings, "octo-demo")
    assert insights == 41 * 12 + 41
    assert insights <= plan.planned <= plan.allowed == 0.5 * HOURLY_LIMIT


def test_ten_orgs_stretch_every_interval_by_the_same_factor() -> None:
    settings = load_settings(None, {"targets": {"orgs": ORGS}, "github": {"rate_limit_budget": 0.5}})
    before = planned_requests_per_hour(settings)
    fitted, plan = fit_to_budget(settings)
    assert before > 2500 and plan.stretch > before / 2500
    assert plan.peak <= 2500.01, "the busiest hour of the stretched plan spends the budget, no more"
    assert plan.planned < plan.peak, "on average an hour spends less"
    _, closer = fit_to_budget(stretch_intervals(settings, plan.stretch * 0.99))
    assert closer.stretch > 1, "a shorter stretch would not fit: it is the least that does"
    for name in COLLECTORS:
        old, new = getattr(settings.collectors, name), getattr(fitted.collectors, name)
        assert new.interval == pytest.approx(old.interval * plan.stretch), name
    insights = fitted.collectors.api_insights
    assert insights.ranking_interval == pytest.approx(3600 * plan.stretch)
    assert settings.collectors.api_insights.interval == 300, "the configured settings are left as they were"


@pytest.fixture(scope="module")
def private_key() -> str:
    return rsa_key_pair()[0]


def test_a_github_app_plans_each_installation_against_its_own_limit(private_key: str) -> None:
    """Ten orgs need 2.2x one token's budget, but each org's installation has a limit of its own: no stretch."""
    app = {"app_id": 1, "private_key": private_key}
    targets = {"orgs": ORGS, "repositories": ["org-0/api", "org-0/web", "elsewhere/tool"]}
    settings = load_settings(None, {"targets": targets, "github": {"app": app, "rate_limit_budget": 0.5}})
    fitted, plan = fit_to_budget(settings)
    assert fitted is settings and plan.stretch == 1.0
    assert set(plan.credentials) == {*(f"installation:{org}" for org in ORGS), "installation:elsewhere"}
    insights = COLLECTORS["api_insights"].planned_requests_per_hour(settings, "org-1")
    assert insights < plan.credentials["installation:org-1"].planned < 2500
    assert plan.credentials["installation:elsewhere"].planned == pytest.approx(4.0), "one repository's traffic"
    assert plan.credentials["installation:org-0"].planned == pytest.approx(
        plan.credentials["installation:org-1"].planned + 8.0), "org-0 also pays for its two listed repositories"
    token = load_settings(None, {"targets": targets, "github": {"token": "ghp_x", "rate_limit_budget": 0.5}})
    _, token_plan = fit_to_budget(token)
    assert set(token_plan.credentials) == {"token"} and token_plan.stretch > 2
    assert token_plan.credentials["token"].planned * token_plan.stretch == pytest.approx(plan.planned, rel=0.01)


def test_a_larger_limit_seen_at_run_time_sizes_the_plan() -> None:
    settings = load_settings(None, {"targets": {"orgs": ORGS}, "github": {"rate_limit_budget": 0.5}})
    _, small = fit_to_budget(settings)
    _, large = fit_to_budget(settings, limits={"token": 15_000})
    assert small.stretch > 2 and large.stretch == 1.0
    assert large.credentials["token"].allowed == 7500


def test_the_planner_refits_only_when_the_plan_crosses_the_budget() -> None:
    """Up as soon as the stretch in force no longer fits; down only when one UNSTRETCH_BAND shorter fits."""
    # 1,000 listed repositories: one run (4,000 requests) is over the budget, so the average is fitted: 1.6.
    repositories = [f"org-{i % 10}/repo-{i}" for i in range(1000)]
    settings = load_settings(None, {"targets": {"repositories": repositories}, "github": {"rate_limit_budget": 0.5}})
    planner = BudgetPlanner(settings)
    planner.fit(settings)
    start = planner.stretch
    assert start == pytest.approx(1.6)
    assert planner.refit({}, {"token": 5000}) is None, "GitHub reported the limit the plan assumed"
    a_little_more = fit_to_budget(settings, limits={"token": 5200})[1].stretch
    assert start / UNSTRETCH_BAND < a_little_more < start
    assert planner.refit({}, {"token": 5200}) is None and planner.stretch == start, "within the band: it stays"
    unstretched = planner.refit({}, {"token": 8000})
    assert unstretched is not None
    assert planner.stretch == pytest.approx(1.0) and unstretched.collectors.repo_traffic.interval == pytest.approx(3600)
    assert planner.refit({}, {"token": 8000}) is None, "the same inputs again: nothing to do"
    assert planner.refit({}, {"token": 5000}) is not None and planner.stretch == pytest.approx(start), \
        "the stretch in force no longer fits: up at once"
    assert planner.configured is settings, "a refit starts from the configured intervals"


def test_the_demo_planner_never_stretches() -> None:
    settings = load_settings(None, {"targets": {"orgs": ORGS}, "github": {"rate_limit_budget": 0.5}})
    planner = BudgetPlanner(settings, fitted=False)
    assert planner.fit(settings) is settings and planner.refit({}, {"token": 100}) is None and planner.stretch == 1


def test_before_every_job_has_run_only_a_new_limit_refits() -> None:
    """The first runs end one by one: sizes wait for the last of them, a reported limit does not."""
    repositories = [f"org-{i % 10}/repo-{i}" for i in range(1000)]
    settings = load_settings(None, {"targets": {"repositories": repositories}, "github": {"rate_limit_budget": 0.5},
                                    "collectors": {"repo_traffic": {"discover": ["grows"]}}})
    planner = BudgetPlanner(settings)
    planner.fit(settings)
    start = planner.stretch
    assert start > 1.5
    key = ("repo_traffic", "grows")
    few = {key: {"listed": 100.0, "collected": 100.0, "skipped": 0.0}}  # what the plan assumed
    assert planner.refit(few, {}, settled=False) is None and planner.stretch == start
    assert planner.refit(few, {"token": 15_000}, settled=False) is not None, "a reported limit refits at once"
    larger_limit = planner.stretch
    assert larger_limit < start / UNSTRETCH_BAND
    many = {key: {"listed": 3000.0, "collected": 3000.0, "skipped": 0.0}}  # 12,030 requests a run more
    assert planner.refit(many, {"token": 15_000}, settled=False) is None, "sizes wait for every first run"
    assert planner.stretch == larger_limit
    assert planner.refit(many, {"token": 15_000}) is not None and planner.stretch > 2 * larger_limit
