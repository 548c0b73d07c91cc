"""Configuration: a YAML file plus environment overrides, validated into one object.

Every model forbids unknown keys so that a typo stops start-up instead of being
silently ignored. Errors are turned into `ConfigError` with the dotted path of
the offending field, the form users see from `--config.check`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Hashable
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

import yaml
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ByteSize,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

ENV_PREFIX = "GITHUB_EXPORTER_"

API_VERSION = "2026-03-10"  # GitHub's newest REST API version; what 2026-03-10 changed: docs/github-api-version.md
GHES_API_VERSION = "2022-11-28"  # GHES 3.17-3.19's descriptions know no 2026-03-10 (docs/github-api-version.md)
MAX_DURATION = 3660 * 86400.0  # ten years: longer waits overflow the scheduler's clock arithmetic
MIN_INTERVAL = 1.0  # below a second the scheduler only logs missed runs
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ConfigError(Exception):
    """A configuration problem a user can fix; the message names the field."""


def parse_duration(value: Any) -> float:
    """Seconds from a number or a Prometheus-style duration such as 90s, 5m, 1h30m."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        pos, seconds = 0, 0.0
        for match in _DURATION_PART.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if pos != len(text):
            try:
                seconds = float(text)
            except ValueError:
                raise ValueError(
                    f"invalid duration {value!r}: use seconds or a duration such as 30s, 5m, 1h"
                ) from None
    else:
        raise ValueError("expected a duration such as 30s, 5m or 1h")
    if not math.isfinite(seconds):
        raise ValueError(f"duration {value!r} is not a number of seconds")
    if seconds <= 0:
        raise ValueError(f"duration {value!r} must be greater than zero")
    if seconds > MAX_DURATION:
        raise ValueError(f"duration {value!r} is longer than ten years (3660d)")
    return seconds


def _at_least_a_second(seconds: float) -> float:
    if seconds < MIN_INTERVAL:
        raise ValueError(f"{seconds:g}s is too short: use at least 1s")
    return seconds


Seconds = Annotated[float, BeforeValidator(parse_duration)]
# Intervals and timeouts: a millisecond would flood the scheduler's log with missed runs or time out every request.
# Every collector's interval has this one floor: GitHub's own cadences (daily GHES uploads, hourly billing) are
# advice in the descriptions, not limits, because the demo and the simulator tests compress a day into seconds
# and github.rate_limit_budget already stretches intervals that would spend too much.
Interval = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_at_least_a_second)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


_config_dir: ContextVar[Path | None] = ContextVar("config_dir", default=None)


def resolve_path(path: Path) -> Path:
    """Relative paths in a config file are relative to that file, as in Prometheus."""
    base = _config_dir.get()
    return path if path.is_absolute() or base is None else base / path


def _read_secret_file(path: Path, field: str) -> SecretStr:
    try:
        text = resolve_path(Path(path)).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read {field} {str(path)!r}: {exc.strerror}") from None
    if not text:
        raise ValueError(f"{field} {str(path)!r} is empty")
    return SecretStr(text)


def _inline_or_file(value: SecretStr | None, path: Path | None, field: str) -> SecretStr | None:
    """A secret set in the config (`field`) or read from a file (`field_file`), never both."""
    if value and path:
        raise ValueError(f"set {field} or {field}_file, not both")
    return _read_secret_file(path, f"{field}_file") if path else value


class AppAuthSettings(StrictModel):
    """A GitHub App instead of a token: its id and private key sign a JWT that buys an installation token per
    owner, refreshed five minutes before it expires."""

    app_id: int = Field(gt=0, description="The App's numeric id (its settings page shows it).")
    private_key: SecretStr | None = Field(
        default=None, description="The App's RSA private key in PEM; better private_key_file or the environment."
    )
    private_key_file: Path | None = Field(
        default=None, description="File holding the App's PEM private key (relative to the config file)."
    )
    installation_ids: dict[str, int] = Field(
        default_factory=dict,
        description="Owner (org or enterprise) to installation id; looked up via the API when absent.",
    )

    @model_validator(mode="after")
    def _load_key(self) -> AppAuthSettings:
        self.private_key = _inline_or_file(self.private_key, self.private_key_file, "private_key")
        if not self.private_key:
            raise ValueError("a GitHub App needs private_key or private_key_file")
        if "PRIVATE KEY" not in self.private_key.get_secret_value():
            raise ValueError("private key is not a PEM private key")
        _check_private_key(self.private_key.get_secret_value())
        return self


def _check_private_key(pem: str) -> None:
    """Load the key once at start: a key GitHub cannot verify would otherwise fail every run."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError("private key is a PEM block but not a readable, unencrypted private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("private key must be an RSA key, the kind GitHub issues for Apps (RS256)")


class GitHubSettings(StrictModel):
    """Where GitHub is and how to talk to it politely."""

    api_url: str = Field(
        default="https://api.github.com",
        description="https://api.github.com, https://api.SUBDOMAIN.ghe.com for GHE.com, or https://HOST/api/v3 for "
        "GitHub Enterprise Server (where only ghes_stats works; see the README's \"Where each collector works\").",
    )
    token: SecretStr | None = Field(
        default=None,
        description="Personal access token (classic or fine-grained); when none of token, token_file and app is "
        "set, the GITHUB_TOKEN environment variable's.",
    )
    token_file: Path | None = Field(
        default=None, description="File holding the token (relative to the config file); instead of token."
    )
    app: AppAuthSettings | None = None
    api_version: str = Field(
        default=API_VERSION,
        description="X-GitHub-Api-Version sent with every request; 2022-11-28 on GHES unless set "
        "(docs/github-api-version.md).",
    )
    api_versions: dict[str, str] = Field(
        default_factory=dict, description="Per collector override of api_version (collector name: version)."
    )
    timeout: Interval = Field(default=15.0, description="Per request.")
    max_concurrency: int = Field(default=4, ge=1, le=32, description="Requests in flight at once.")
    max_retries: int = Field(
        default=3, ge=0, le=10, description="Retries of 5xx and transport errors (exponential back-off with jitter)."
    )
    max_pages: int = Field(default=50, ge=1, le=1000, description="Page cap per listing.")
    max_rate_limit_wait: Seconds = Field(
        default=300.0, description="Longest wait for a rate limit before a run gives up; the next run tries again."
    )
    max_response_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        le=1024 * 1024 * 1024,
        description="Largest response body read from GitHub (bytes); a larger one fails the request.",
    )

    validator_cache_bytes: ByteSize = Field(
        default=ByteSize(64 * 2**20),
        ge=0,
        description="Memory for the ETag/Last-Modified and body of each URL's last answer, so the next GET is "
        "conditional and a 304 is free (e.g. 64MiB; 0: off); least recently used evicted first. Measured: about "
        "11 kB per repository (4 traffic URLs) and 33 kB per followed API Insights series (1.3 MB per org at the "
        "defaults). Replaces etag_cache_entries.",
    )

    rate_limit_budget: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of each hourly rate limit this exporter may spend, per credential (the token, or each "
        "GitHub App installation). At start-up the collectors' planned requests in the busiest hour are compared "
        "with budget x 5,000 per credential; when one exceeds it every interval (and ranking_interval) is stretched "
        "by the same factor, with one log line (github_exporter_collector_interval_seconds shows the effective "
        "intervals; see the README's \"What it costs in rate limit\"). At run time, once x-ratelimit-remaining (less "
        "max_concurrency in flight) falls to (1 - budget) x limit, whoever spent it, that credential's requests wait "
        "for the reset and its runs fail as rate limited until then.",
    )

    @model_validator(mode="before")
    @classmethod
    def _replaced_settings(cls, data: Any) -> Any:
        if isinstance(data, dict) and "etag_cache_entries" in data:
            raise ValueError(
                "etag_cache_entries was replaced by validator_cache_bytes, a size in bytes (e.g. 64MiB; 0 turns the "
                "cache off)"
            )
        return data

    @field_validator("api_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.rstrip("/")
        match = re.fullmatch(r"(https?)://([^/]+)(/.*)?", value)
        if not match:
            raise ValueError(
                f"{value!r} is not a URL: use https://api.github.com, "
                "https://api.SUBDOMAIN.ghe.com or https://HOST/api/v3"
            )
        scheme, host = match.group(1), match.group(2).split(":")[0]
        if scheme == "http" and host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
            raise ValueError("plain http is only allowed for a loopback address; use https")
        _check_url_parts(value)
        return value

    @model_validator(mode="after")
    def _resolve_credentials(self) -> GitHubSettings:
        self.token = _inline_or_file(self.token, self.token_file, "token")
        if self.token is None and self.app is None and os.environ.get("GITHUB_TOKEN"):
            self.token = SecretStr(os.environ["GITHUB_TOKEN"].strip())
        if self.token is not None and self.app is not None:
            raise ValueError("set either a token or a GitHub App, not both")
        return self

    @model_validator(mode="after")
    def _ghes_api_version(self) -> GitHubSettings:
        """A GHES release that predates a version answers it with 400: unless set, GHES gets 2022-11-28."""
        if "api_version" not in self.model_fields_set and urlsplit(self.api_url).path.endswith("/api/v3"):
            self.api_version = GHES_API_VERSION
        return self

    @property
    def has_credentials(self) -> bool:
        return self.token is not None or self.app is not None


def _check_url_parts(value: str) -> None:
    """What a base URL must not carry: credentials, a query, a fragment, whitespace, an impossible port."""
    if any(character.isspace() for character in value):
        raise ValueError("must not contain spaces")
    parts = urlsplit(value)
    if "@" in parts.netloc:
        raise ValueError("must not carry a user or password; set github.token or github.app instead")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError("must not have a query string or fragment")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (port is not None and not 0 < port < 65536) or not parts.hostname:
        raise ValueError("must have a host name and, if any, a port between 1 and 65535")


_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_T = TypeVar("_T")


class TargetSettings(StrictModel):
    """What to watch. Teams are `org/team-slug`, repositories `owner/name`."""

    orgs: list[str] = Field(default_factory=list, description="Organizations, by login.")
    teams: list[str] = Field(default_factory=list, description="Teams as org/team-slug (Copilot team figures).")
    enterprises: list[str] = Field(default_factory=list, description="Enterprises, by slug.")
    repositories: list[str] = Field(default_factory=list, description="Repositories as owner/name (traffic).")

    @field_validator("orgs", "enterprises")
    @classmethod
    def _check_names(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.fullmatch(_NAME, value):
                raise ValueError(f"{value!r} is not a valid GitHub name")
        return _unique(values)

    @field_validator("teams", "repositories")
    @classmethod
    def _check_pairs(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.fullmatch(f"{_NAME}/{_NAME}", value):
                raise ValueError(f"{value!r} must look like owner/name")
        return _unique(values)


def _unique(
    values: list[_T], key: Callable[[_T], Hashable] = lambda value: str(value).lower(), name: Callable[[_T], str] = repr
) -> list[_T]:
    """The values unchanged, or an error naming the first one listed twice (by `key`: names ignore case)."""
    seen: set[Hashable] = set()
    for value in values:
        if key(value) in seen:
            raise ValueError(f"{name(value)} is listed twice")
        seen.add(key(value))
    return values


class CollectorSettings(StrictModel):
    """What every collector has: a switch and how often it runs."""

    enabled: bool = Field(default=True, description="Run this collector; --collector.NAME / --no-collector.NAME win.")
    interval: Interval = Field(default=300.0, description="How often the collector runs.")


class ApiInsightsActor(StrictModel):
    """An API Insights actor to follow: a token, OAuth grant or app installation, by type and id."""

    actor_type: Literal[
        "installation", "classic_pat", "fine_grained_pat", "oauth_app", "github_app_user_to_server"
    ] = Field(description="What kind of actor, as API Insights names it.")
    actor_id: int = Field(gt=0, description="Its id: the installation, token or OAuth grant id.")


class ApiInsightsSettings(CollectorSettings):
    """API Insights for each org in targets.orgs, and for the users and actors it follows there."""

    interval: Interval = Field(default=300.0, description="How often time-stats are read.")
    timestamp_increment: Literal["5m", "10m", "15m", "30m", "1h"] = Field(
        default="5m", description="Time-stats bucket size."
    )
    lookback: Seconds = Field(default=24 * 3600.0, description="Window re-read each run for late-arriving data.")
    summary_window: Seconds = Field(
        default=24 * 3600.0,
        description="Window of the *_window_* gauges (whole time-stats buckets) and of the top-N rankings.",
    )
    users: list[int | str] = Field(
        default_factory=list, description="Users followed in every org: numeric ids, or logins (looked up once)."
    )
    actors: list[ApiInsightsActor] = Field(default_factory=list, description="Actors followed in every org.")
    top_subjects: int = Field(
        default=10, ge=0, le=1000, description="Busiest users and apps followed automatically (their actors too)."
    )
    top_actors: int = Field(default=3, ge=0, le=100, description="Busiest actors followed per followed user.")
    top_routes: int = Field(default=10, ge=0, le=100, description="Busiest routes exported per followed actor.")
    forget_after: Seconds = Field(
        default=3600.0, description="When the counters of what is no longer followed are dropped."
    )
    ranking_interval: Interval = Field(
        default=3600.0,
        description="How often the rankings (subject-stats, user-stats, route-stats) that pick who is followed "
        "are refreshed; they change slowly, and each refresh costs one request per followed user and actor.",
    )

    @field_validator("users")
    @classmethod
    def _check_users(cls, values: list[int | str]) -> list[int | str]:
        for value in values:
            if isinstance(value, int) and value <= 0:
                raise ValueError(f"user id {value} must be positive")
            if isinstance(value, str) and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", value):
                raise ValueError(f"{value!r} is not a GitHub login (use a number for a user id)")
        return _unique(values)

    @field_validator("actors")
    @classmethod
    def _unique_actors(cls, values: list[ApiInsightsActor]) -> list[ApiInsightsActor]:
        return _unique(
            values,
            key=lambda actor: (actor.actor_type, actor.actor_id),
            name=lambda actor: f"actor {actor.actor_type}/{actor.actor_id}",
        )


class ServerStatisticsSettings(CollectorSettings):
    """GitHub Enterprise Server statistics (GitHub Connect) for each of targets.enterprises and `orgs`."""

    interval: Interval = Field(
        default=3600.0, description="How often collections are read; GHES servers upload once a day."
    )
    lookback: Seconds = Field(
        default=7 * 86400.0,
        description="How far back each run asks for collections (date_start): the newest collection per server "
        "within this period is exported; at most 365d.",
    )
    orgs: list[str] = Field(default_factory=list,
                            description="Organizations a GitHub Enterprise Server is connected to "
                            "(rather than an enterprise).")

    @field_validator("lookback")
    @classmethod
    def _check_lookback(cls, value: float) -> float:
        if value > 365 * 86400:
            raise ValueError("must be at most 365d, the longest period GitHub answers for")
        return value

    @field_validator("orgs")
    @classmethod
    def _check_orgs(cls, values: list[str]) -> list[str]:
        return TargetSettings._check_names(values)


class RepoTrafficSettings(CollectorSettings):
    """Repository traffic for targets.repositories and for the repositories discovered under `discover`."""

    interval: Interval = Field(
        default=3600.0, description="How often traffic is read: 4 requests per repository per run (1 when refused)."
    )
    discover: list[str] = Field(
        default_factory=list,
        description="Orgs or users whose repositories with push access are collected, besides targets.repositories.",
    )
    include: list[str] = Field(default_factory=list, description="Globs on owner/name; empty means every repository.")
    exclude: list[str] = Field(default_factory=list, description="Globs on owner/name, applied after include.")
    include_archived: bool = Field(default=False, description="Also discovered repositories that are archived.")
    include_forks: bool = Field(default=False, description="Also discovered repositories that are forks.")
    top_paths: int = Field(
        default=10, ge=0, le=10, description="Popular paths per repository (GitHub returns at most 10); 0 skips it."
    )
    top_referrers: int = Field(default=10, ge=0, le=10, description="Referrers per repository; 0 skips the request.")

    @field_validator("discover")
    @classmethod
    def _check_owners(cls, values: list[str]) -> list[str]:
        return TargetSettings._check_names(values)

    @field_validator("include", "exclude")
    @classmethod
    def _check_globs(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value.strip() or "/" not in value:
                raise ValueError(f"{value!r} is not a glob on owner/name (e.g. octo-demo/* or */sdk-*)")
        return values


class BillingSettings(CollectorSettings):
    """Usage report exports for each enterprise in targets.enterprises (month-to-date, USD)."""

    interval: Interval = Field(
        default=3600.0, description="How often exports are read; at most one is created per report type per interval."
    )
    report_types: list[Literal["detailed", "summarized", "premium_request", "ai_credit"]] = Field(
        default_factory=lambda: ["detailed"],  # type: ignore[arg-type]  # a list of literals; pydantic infers list[str]
        min_length=1,
        description="Each is a different view of the same bill: do not add them up.",
    )
    max_export_age: Seconds = Field(
        default=6 * 3600.0, description="Reuse a completed export of the same type and period while younger than this."
    )
    poll_timeout: Interval = Field(
        default=120.0, description="How long one run polls a processing export; then it is polled again next run."
    )
    export_timeout: Seconds = Field(
        default=3600.0, description="A processing export older than this is given up and a new one created."
    )
    extra_labels: list[Literal["repository", "username", "workflow_path", "exceeds_quota"]] = Field(
        default_factory=list, description="Unbounded labels, off by default."
    )
    max_models: int = Field(
        default=20, ge=1, description="Models kept as model label values per report type, by cost; the rest sum "
        "into other."
    )

    @field_validator("report_types", "extra_labels")
    @classmethod
    def _no_repeats(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("each value may be listed once")
        return values


class CopilotSettings(CollectorSettings):
    """Copilot usage-metrics reports (NDJSON) for each org in targets.orgs and enterprise in targets.enterprises."""

    interval: Interval = Field(
        default=3600.0,
        description="How often to ask whether the next report day is ready (a day is downloaded once).",
    )
    teams: Literal["targets", "all", "none"] = Field(
        default="targets",
        description="Team figures: teams listed in targets.teams as owner/slug, every team in the report, or none.",
    )
    user_label: Literal["none", "login", "id", "hashed"] = Field(
        default="none",
        description="Per-user series and how the user label is written; none exports no per-user series.",
    )
    user_hash_key: SecretStr | None = Field(
        default=None,
        description="Secret key of user_label: hashed (an HMAC of the user id), so the hashes cannot be reversed; "
        "better set as GITHUB_EXPORTER_COLLECTORS__COPILOT__USER_HASH_KEY.",
    )
    max_users: int = Field(default=500, ge=1, description="Per-user series kept, most active first.")
    max_label_values: int = Field(
        default=20, ge=1, description="Editors, languages, features, models kept; the rest sum into other."
    )
    lookback_days: int = Field(default=3, ge=1, le=28, description="Days to step back when the newest is not ready.")
    max_repositories: int = Field(
        default=10,
        ge=0,
        description="Repositories kept from repos-1-day, busiest first, the rest in other; 0 skips the report.",
    )

    @model_validator(mode="after")
    def _hash_needs_key(self) -> CopilotSettings:
        if self.user_label == "hashed" and not self.user_hash_key:
            raise ValueError(
                "user_label hashed needs user_hash_key, a secret that keeps the hashes from being reversed"
            )
        return self


class CopilotUsageSettings(CollectorSettings):
    """The retired Copilot usage summaries for each org in targets.orgs and team in targets.teams."""

    interval: Interval = Field(default=3600.0, description="How often the retired usage summaries are read.")
    enabled: bool = Field(
        default=False,
        description="Off by default: only github.com and GitHub Enterprise Cloud ever had the /copilot/usage summaries "
        "(GitHub's description up to @octokit/openapi 18.x); they are absent from every current description, no GHES "
        "release (3.12 to 3.19) describes them, and github.com answers 404/410. Turn it on only for an instance you "
        "have seen answer 200.",
    )
    retired_retry: Seconds = Field(
        default=86400.0,
        description="After a refusal (any 4xx but 401, 403 and 429: 404, 410, 405...), how often to ask again.",
    )
    max_label_values: int = Field(default=20, ge=1, description="Editors and languages kept; the rest sum into other.")


class BillingUsageSettings(CollectorSettings):
    """Current-month usage, premium requests, AI credits and budgets from the JSON billing endpoints."""

    interval: Interval = Field(
        default=3600.0, description="How often usage and budgets are read: 5 requests per account plus one per budget."
    )
    organizations: bool = Field(
        default=True, description="Also for each org in targets.orgs (github.com's organization endpoints)."
    )
    top_n: int = Field(
        default=10, ge=1, le=100, description="Product/SKU pairs of AI credits and premium requests kept; rest other."
    )
    max_budgets: int = Field(
        default=100, ge=0, le=1000, description="Budgets exported per account (each may cost one more request)."
    )


class GhesStatsSettings(CollectorSettings):
    """GHES's own statistics (/enterprise/stats/all); runs only when github.api_url is a GHES instance."""

    interval: Interval = Field(default=900.0, description="How often /enterprise/stats/all is read.")


class CopilotSeatsSettings(CollectorSettings):
    """Copilot seats (billing seat listings) for each org in targets.orgs and enterprise in targets.enterprises."""

    interval: Interval = Field(default=3600.0, description="How often the seat listings are read.")
    inactive_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="A seat without activity for more than this many days counts in github_copilot_seats_inactive.",
    )
    max_label_values: int = Field(default=10, ge=1, description="Last-activity editors kept; the rest sum into other.")


class CollectorsSettings(StrictModel):
    """One section per collector, named as its --collector.NAME flag."""

    api_insights: ApiInsightsSettings = Field(default_factory=ApiInsightsSettings)
    server_statistics: ServerStatisticsSettings = Field(default_factory=ServerStatisticsSettings)
    repo_traffic: RepoTrafficSettings = Field(default_factory=RepoTrafficSettings)
    billing: BillingSettings = Field(default_factory=BillingSettings)
    copilot: CopilotSettings = Field(default_factory=CopilotSettings)
    copilot_usage: CopilotUsageSettings = Field(default_factory=CopilotUsageSettings)
    billing_usage: BillingUsageSettings = Field(default_factory=BillingUsageSettings)
    ghes_stats: GhesStatsSettings = Field(default_factory=GhesStatsSettings)
    copilot_seats: CopilotSeatsSettings = Field(default_factory=CopilotSeatsSettings)


class StoreSettings(StrictModel):
    """How long a collector's last good data is served after its runs start failing."""

    max_age: Seconds = Field(default=3 * 3600.0, description="How long a failing collector's last good data is served.")


class ShardingSettings(StrictModel):
    """Split targets across replicas: this one owns the targets whose stable hash lands on `index`."""

    index: int = Field(default=0, ge=0, description="This replica's share, from 0 to count - 1.")
    count: int = Field(default=1, ge=1, le=1024, description="How many replicas share the targets.")

    @model_validator(mode="after")
    def _index_in_range(self) -> ShardingSettings:
        if self.index >= self.count:
            raise ValueError(f"index {self.index} must be below count {self.count}")
        return self


class SchedulerSettings(StrictModel):
    """When runs start: each collector's interval plus a random share of it, so replicas and collectors spread."""

    jitter: float = Field(
        default=0.1, ge=0, le=0.5, description="Share of the interval added at random to each run's start."
    )


_yaml_data: ContextVar[dict[str, Any] | None] = ContextVar("yaml_data", default=None)


class _YamlSource(PydanticBaseSettingsSource):
    """The parsed YAML file, below environment variables in priority."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (_yaml_data.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_yaml_data.get() or {})


class Settings(BaseSettings):
    """The whole configuration. Environment: GITHUB_EXPORTER_SECTION__KEY=value."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    github: GitHubSettings = Field(default_factory=GitHubSettings)
    targets: TargetSettings = Field(default_factory=TargetSettings)
    collectors: CollectorsSettings = Field(default_factory=CollectorsSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    sharding: ShardingSettings = Field(default_factory=ShardingSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))


# Pydantic's words for a wrong type, said the way a config file's author thinks of it.
_TYPE_MESSAGES = {
    "model_type": "must be a mapping of keys to values (indented key: value lines)",
    "model_attributes_type": "must be a mapping of keys to values (indented key: value lines)",
    "dict_type": "must be a mapping of keys to values (indented key: value lines)",
    "list_type": "must be a list (- item lines, or [a, b])",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
}


def format_validation_error(error: ValidationError) -> str:
    """One line per problem, each starting with the dotted path of the field."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required key is missing"
        elif item["type"] in _TYPE_MESSAGES:
            message = _TYPE_MESSAGES[item["type"]]
        else:
            message = item["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
        lines.append(f"{path}: {message}")
    return "\n".join(lines)


def _environment_error(error: SettingsError) -> str:
    """pydantic-settings names the field it could not decode from the environment; say which variable that is."""
    match = re.search(r'field "([^"]+)"', str(error))
    field = match.group(1) if match else "?"
    variables = sorted(name for name in os.environ if name.upper().startswith(f"{ENV_PREFIX}{field.upper()}"))
    named = ", ".join(variables) or f"{ENV_PREFIX}{field.upper()}..."
    return (
        f"{field}: the environment override {named} cannot be read; a section or list given whole "
        "must be JSON (e.g. '[\"octo-demo\"]'), or set one key with SECTION__KEY=value"
    )


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error instead of last-wins."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _UniqueKeyLoader.construct_mapping,
)


def read_yaml_mapping(path: str | Path, kind: str, expected: str) -> dict[str, Any]:
    """A YAML file that must hold a mapping; every problem is a ConfigError naming the file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {kind} {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{kind} {str(path)!r} is not UTF-8 text (byte {exc.start} cannot be read)") from None
    try:
        loaded = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506  (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{kind} {str(path)!r} is not valid YAML{where}: {problem}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{kind} {str(path)!r} must be {expected}, not a {type(loaded).__name__}")
    return loaded


def load_settings(path: str | Path | None, overrides: dict[str, Any] | None = None) -> Settings:
    """Read, merge and validate; raise ConfigError with a readable message."""
    data = read_yaml_mapping(path, "config file", "a mapping of sections") if path is not None else {}
    token = _yaml_data.set(data)
    dir_token = _config_dir.set(Path(path).resolve().parent if path is not None else None)
    try:
        return Settings(**(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    except SettingsError as exc:
        raise ConfigError(_environment_error(exc)) from None
    finally:
        _yaml_data.reset(token)
        _config_dir.reset(dir_token)
