"""What a simulator run looks like: the world's seed and size, who may call it, and how late data arrives.

Defaults mirror GitHub (5000 requests an hour, API Insights data 4–6 hours
late); `SimulatorConfig.demo()` compresses time so a human watching the demo
sees numbers move.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class SimulatorConfig:
    seed: int = 1
    orgs: tuple[str, ...] = ("octo-demo",)
    enterprise: str = "octo-enterprise"

    # World size, per organisation.
    teams: int = 4
    repos: int = 8
    users: int = 12
    apps: int = 3
    actors: int = 25
    routes: int = 20
    noisy_actors: int = 2
    # Share of a noisy actor's requests that are rate limited, drawn per actor
    # from [lo, hi); quiet actors get 0.2-1%.
    noisy_rate_limited_share: tuple[float, float] = (0.05, 0.12)
    # Heavy-tailed activity: a few people's tokens busy every hour, most idle for hours (bots stay on).
    # Off by default, which keeps every actor active in every bucket as the tests' figures assume;
    # on in `demo()` and in bench/api_cost.py's typical scenarios.
    heavy_tailed: bool = False

    # Authentication. Empty `tokens` accepts any non-empty token.
    tokens: tuple[str, ...] = ()
    # The GitHub App the exporter authenticates as. `app_id=None` accepts any
    # `iss`; `app_public_key_pem=None` skips the signature check.
    app_id: int | None = None
    app_public_key_pem: str | bytes | None = None
    installation_token_lifetime: float = 3600.0

    # Primary rate limit: requests per token per window.
    rate_limit_budget: int = 5000
    rate_limit_window: float = 3600.0

    # API Insights late data: a bucket shows nothing until `lag_min` seconds
    # after it ends and is complete `lag_full` seconds after it ends.
    insights_lag_min: float = 4 * 3600.0
    insights_lag_full: float = 6 * 3600.0
    # Data is kept this long; older buckets are outside every window. This
    # also bounds the work a careless `min_timestamp` can cause.
    insights_retention: float = 30 * 86400.0
    # Complete 5-minute buckets kept in memory per organisation (~1.5 kB
    # each); the default holds the whole retention period.
    insights_cache_buckets: int = 9000

    # Billing usage report exports: `processing` for this many seconds after
    # creation, then `completed`; each download file holds at most
    # `billing_rows_per_file` rows and its signed URL works for
    # `billing_url_lifetime` seconds after the export was read.
    billing_export_delay: float = 90.0
    billing_rows_per_file: int = 50_000
    billing_url_lifetime: float = 3600.0
    # Copilot: a day's usage data is processed this long after the day ends (UTC);
    # until then its 1-day reports answer 204. `copilot_usage_retired` makes the
    # retired usage summaries answer 404, as github.com does now.
    copilot_report_lag: float = 6 * 3600.0
    copilot_usage_retired: bool = False
    # Server Statistics: the share of days the staging GHES server uploads no collection. Any missed
    # upload makes GitHubEnterpriseServerStatsStale's expression true early on the second day after it
    # (before the next upload shows), so `demo()`, the healthy world, misses none.
    ghes_missed_upload_share: float = 0.15

    documentation_root: str = "https://docs.github.com/enterprise-cloud@latest/rest"

    def __post_init__(self) -> None:
        if not self.orgs:
            raise ValueError("at least one organisation is needed")
        if self.insights_lag_min < 0 or self.insights_lag_full < self.insights_lag_min:
            raise ValueError("need 0 <= insights_lag_min <= insights_lag_full")
        if self.rate_limit_budget < 0 or self.rate_limit_window <= 0:
            raise ValueError("rate limit budget must be >= 0 and its window > 0")
        lo, hi = self.noisy_rate_limited_share
        if not 0 <= lo <= hi <= 1:
            raise ValueError("need 0 <= noisy_rate_limited_share[0] <= [1] <= 1")
        if self.billing_export_delay < 0 or self.billing_rows_per_file < 1 or self.billing_url_lifetime <= 0:
            raise ValueError("need billing_export_delay >= 0, billing_rows_per_file >= 1, billing_url_lifetime > 0")
        if not 0 <= self.ghes_missed_upload_share <= 1:
            raise ValueError("need 0 <= ghes_missed_upload_share <= 1")
        if self.apps < 0 or self.users < 1:
            raise ValueError("a world needs at least one user")

    @classmethod
    def demo(cls, **overrides: object) -> SimulatorConfig:
        """Time compressed for a live demo.

        Data shows up as soon as a 5-minute bucket ends and fills over the next
        five minutes, so at any moment one bucket is filling and counters grow
        between two 15-second collection runs. Collectors run every 15 s
        instead of every 5 min, twenty times more often than in production, so
        the hourly budget is twenty times GitHub's 5,000 to match. A billing
        export completes 1.5 seconds after it is requested, before the
        collector's first poll.

        Noisy actors are rate limited on 2-4% of their requests rather than
        5-12%: with the default shares the busiest noisy installation pushes
        the org's hourly rate-limited share to 4-6%, so the demo's normal state
        would meet GitHubAPIRateLimitedSpike's thresholds (5% and 100 requests
        over 1h) in 3-46% of a fortnight's hours (seeds 1-3). With 2-4% it
        stayed under 2.5% (every hour of a week, seeds 1-5) while every actor
        was active; heavy-tailed, people's idle hours leave the (always on)
        noisy bots a larger part of the traffic, and 2-3.5% keeps it under
        2.5% (tests/test_prometheus_e2e.py, a week). Noisy actors still lead
        the rate-limited rankings.

        Activity is heavy-tailed, as in a real org: bots and about one person's
        token in seven are busy every hour, most others idle for hours. The org's
        counters and the busiest (followed) actors still move every bucket.

        Healthy at every instant: the staging GHES server uploads every day, since one
        missed upload is, by design, what GitHubEnterpriseServerStatsStale reports.
        """
        base = cls(insights_lag_min=0.0, insights_lag_full=300.0, rate_limit_budget=100_000, billing_export_delay=1.5,
                   noisy_rate_limited_share=(0.02, 0.035), heavy_tailed=True, ghes_missed_upload_share=0.0)
        return replace(base, **overrides)  # type: ignore[arg-type]


# About how many series the exporter exposes per simulated organisation with the default world
# size (API Insights, repository traffic, Copilot teams and the self-metrics they bring).
SERIES_PER_ORG = 1500


def world_for_series(series: int) -> dict[str, object]:
    """SimulatorConfig knobs for a world the exporter turns into about `series` series (`--demo.series`).

    The world grows by organisations, each with the default teams, repositories and
    actors, so every collector's share grows as it would for a large enterprise.
    API Insights keeps two days of buckets per organisation (the collector reads one)
    rather than thirty, which keeps a thousand organisations within memory.
    """
    if series < 1:
        raise ValueError("series must be at least 1")
    orgs = max(1, round(series / SERIES_PER_ORG))
    if orgs == 1:
        return {}
    return {"orgs": tuple(f"octo-demo-{i:04d}" for i in range(orgs)), "insights_cache_buckets": 600}
