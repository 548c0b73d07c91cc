"""The start-up request plan: intervals stretched in proportion when the collectors would spend too much."""

from __future__ import annotations

import pytest

from exporter.assembly import HOURLY_LIMIT, fit_to_budget, planned_requests_per_hour
from exporter.collectors import COLLECTORS
from exporter.settings import load_settings

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
    assert before > 2500 and plan.stretch == pytest.approx(before / 2500)
    assert plan.planned == pytest.approx(2500), "the stretched plan spends the budget, no more"
    for name in COLLECTORS:
        old, new = getattr(settings.collectors, name), getattr(fitted.collectors, name)
        assert new.interval == pytest.approx(old.interval * plan.stretch), name
    insights = fitted.collectors.api_insights
    assert insights.ranking_interval == pytest.approx(3600 * plan.stretch)
    assert settings.collectors.api_insights.interval == 300, "the configured settings are left as they were"
