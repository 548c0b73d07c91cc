"""Billing usage report exports: the three REST endpoints and the signed-download server behind them.

An export is created by POST, is `processing` for `SimulatorConfig.billing_export_delay`
seconds of simulator time, then `completed` (or `failed`, when `fail_next_exports`
was switched on before it was created). A completed export lists `download_urls`:
signed links to CSV files on a SEPARATE origin (a second loopback port the server
binds, `Simulator.downloads_url`), which refuses any request carrying an
Authorization header with 403, as a blob store that authenticates by signature
does. Each file starts with a UTF-8 byte-order mark and uses CRLF line ends; a cost
centre name with a comma makes the writer quote it.

Usage is derived by hashing the seed, the organisation, repository, workflow, user
and day, so every export of the same period agrees with every other. A day's usage
appears once the day is over (UTC): exports created on the same day hold the same
rows, and an export made on the first of a month is empty. The summarized report
is the detailed one summed without username and workflow_path; the premium
request and AI credit reports break Copilot usage down by model.

Column sets follow GitHub's "Billing reports reference"; the REST description
only documents the export object, not the files.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import threading
import uuid
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from exporter.simulator.field_drift import drifting
from exporter.simulator.routing import Call, GitHubError, Reply, SimRoute, SimulatorHost, iso, register_state
from exporter.simulator.world import Org, World, stable_hash, unit

if TYPE_CHECKING:
    from exporter.simulator.config import SimulatorConfig

DOCS = "https://docs.github.com/enterprise-cloud@latest/rest/billing/usage-reports"
REPORTS = "/enterprises/{enterprise}/settings/billing/reports"
REPORT = "/enterprises/{enterprise}/settings/billing/reports/{report_id}"
DOWNLOAD_PATH = "/enterprises/{enterprise}/metered_exports/{report_id}/{part}.csv"
# Where download links point when no downloads port is bound (in-process ASGI tests).
UNBOUND_DOWNLOADS = "https://billing-downloads.simulator.invalid"

REPORT_TYPES = ("detailed", "summarized", "premium_request", "ai_credit")
# Longest period each report type may cover, in days (GitHub: 31 days, one year for summarized).
MAX_DAYS = {"detailed": 31, "summarized": 366, "premium_request": 31, "ai_credit": 31}
_METERED = ("date", "product", "sku", "quantity", "unit_type", "applied_cost_per_quantity",
            "gross_amount", "discount_amount", "net_amount")
COLUMNS: dict[str, tuple[str, ...]] = {
    "detailed": (*_METERED, "username", "organization", "repository", "workflow_path", "cost_center_name"),
    "summarized": (*_METERED, "organization", "repository", "cost_center_name"),
    "premium_request": ("date", "username", "product", "sku", "model", "quantity", "unit_type",
                        "applied_cost_per_quantity", "gross_amount", "discount_amount", "net_amount",
                        "exceeds_quota", "total_monthly_quota", "organization", "cost_center_name",
                        "aic_quantity", "aic_gross_amount"),
    "ai_credit": ("date", "username", "product", "sku", "model", "quantity", "unit_type",
                  "applied_cost_per_quantity", "gross_amount", "discount_amount", "net_amount",
                  "total_monthly_quota", "organization", "repository", "cost_center_name",
                  "aic_quantity", "aic_gross_amount", "input", "output", "cache_read", "cache_write"),
}
BOM = "\ufeff".encode()
# Drift (field_drift.set_field_drift(sim, "billing", True)): every file renames a column no figure reads and
# adds one nobody documents, as GitHub might; the exporter's figures stay the same, its drift signal shows.
DRIFT_RENAMED = ("applied_cost_per_quantity", "unit_price")
DRIFT_ADDED = ("billing_account_id", "4201")
BLOCKS_FOR = 3600.0  # seconds a processing export keeps the account from creating another

# The world has no cost centres; these are the enterprise's. One name has a comma, so it is quoted.
COST_CENTERS = ("Platform Engineering", "R&D, Data Science", "Mobile")
_WORKFLOWS = (".github/workflows/ci.yml", ".github/workflows/release.yml", ".github/workflows/nightly.yml")
_PUBLIC_REPOS = ("docs", "website", "sdk-python", "sdk-go")
# (sku, price per minute)
_RUNNERS = (("actions_linux", 0.008), ("actions_windows", 0.016), ("actions_macos", 0.08))
_MODELS = ("claude-sonnet-4", "gpt-4.1", "gemini-2.5-pro", "o3")
_STORAGE_PRICE = 0.25 / 744  # USD per GB-hour ($0.25 per GB-month)
_SEAT_PRICE = 19.0  # USD per user-month (Copilot Business)
_PREMIUM_PRICE = 0.04  # USD per premium request
_PREMIUM_QUOTA = 300  # premium requests included per user-month
_CREDIT_PRICE = 0.01  # USD per AI credit
_CREDITS_PER_REQUEST = {"claude-sonnet-4": 4.5, "gpt-4.1": 1.2, "gemini-2.5-pro": 3.1, "o3": 6.4}
# Tokens per AI credit (input, output, cache_read, cache_write) of each model: the AI usage report's token columns.
_TOKENS_PER_CREDIT = {"claude-sonnet-4": (900, 120, 2600, 310), "gpt-4.1": (1500, 210, 3900, 0),
                      "gemini-2.5-pro": (1100, 160, 2100, 140), "o3": (700, 260, 1200, 0)}
_CREDIT_QUOTA = 3000  # AI credits included per user-month (Copilot Business)
# Repository-scoped AI-credit SKUs: logged with quantity 0 and only their aic_* amounts (the cost is there).
_REPO_CREDIT_SKUS = ("coding_agent_ai_credit", "code_review_ai_credit")
_INCLUDED_DAYS = 5  # the month's included Actions minutes cover private repositories' first days


def parse_date(text: Any, field: str) -> date:
    try:
        if not isinstance(text, str) or len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise GitHubError(400, f"Invalid {field}: expected a date in YYYY-MM-DD format.",
                          documentation_url=f"{DOCS}#create-a-usage-report-export") from None


def _today(now: float) -> date:
    return datetime.fromtimestamp(now, UTC).date()


def _num(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


@dataclass
class Export:
    id: str
    enterprise: str
    report_type: str
    start: date
    end: date
    created_at: float
    actor: str
    fails: bool
    rows: int | None = None  # counted when first downloaded

    def status(self, now: float, delay: float) -> str:
        if now < self.created_at + delay:
            return "processing"
        return "failed" if self.fails else "completed"


@dataclass(frozen=True)
class Row:
    """One detailed-report line before formatting; `model` is set for Copilot model rows."""

    day: date
    product: str
    sku: str
    unit_type: str
    price: float
    quantity: float
    discount_share: float
    username: str
    org: str
    repository: str
    workflow: str
    cost_center: str
    model: str = ""


class _Usage:
    """The deterministic usage of one organisation, day by day."""

    def __init__(self, org: Org, seed: int) -> None:
        self.org = org
        self.seed = seed
        login = org.login
        self.repo_center = {r: _center(seed, login, "repo", r) for r in org.repos}
        self.user_center = {u.login: _center(seed, login, "user", u.login) for u in org.users}
        self.workflows = {
            r: _WORKFLOWS[: 1 + stable_hash(seed, "workflows", login, r) % len(_WORKFLOWS)] for r in org.repos
        }
        # Copilot seats: about two users in three.
        self.copilot = tuple(u.login for u in org.users if unit(seed, "copilot", login, u.login) < 0.67)
        # Premium requests a user made on one day; a month's summary would otherwise recompute every
        # earlier day of the month for every day it sums (days squared). Bounded by the days asked for.
        self._premium_days: dict[tuple[str, date], int] = {}

    def rows(self, day: date) -> Iterator[Row]:
        seed, login = self.seed, self.org.login
        weekday = day.weekday() < 5
        activity = 1.0 if weekday else 0.2
        key = day.isoformat()
        users = [u.login for u in self.org.users]
        for repo in self.org.repos:
            public = repo in _PUBLIC_REPOS
            center = "" if public else self.repo_center[repo]
            for workflow in self.workflows[repo]:
                sku, price = _RUNNERS[0]
                pick = unit(seed, "runner", login, repo, workflow)
                if pick > 0.85:
                    sku, price = _RUNNERS[2]
                elif pick > 0.65:
                    sku, price = _RUNNERS[1]
                base = 20 + 400 * unit(seed, "minutes", login, repo, workflow)
                if workflow.endswith("nightly.yml"):
                    activity_here = 1.0
                else:
                    activity_here = activity
                minutes = round(base * activity_here * (0.5 + unit(seed, "day", login, repo, workflow, key)))
                if minutes <= 0:
                    continue
                user = users[stable_hash(seed, "actor", login, repo, workflow, key) % len(users)]
                if workflow.endswith("nightly.yml"):
                    user = ""  # scheduled runs have no triggering user
                share = 1.0 if public or day.day <= _INCLUDED_DAYS else 0.0
                yield Row(day, "actions", sku, "Minutes", price, minutes, share, user, login, repo, workflow,
                          center)
            gigabytes = 0.5 + 9.5 * unit(seed, "storage", login, repo)
            yield Row(day, "actions", "actions_storage", "GigabyteHours", _STORAGE_PRICE,
                      round(gigabytes * 24, 4), 1.0 if public else 0.0, "", login, repo, "", center)
        packages = 2 + 40 * unit(seed, "packages", login)
        yield Row(day, "packages", "packages_storage", "GigabyteHours", _STORAGE_PRICE, round(packages * 24, 4),
                  0.0, "", login, "", "", "")
        days_in_month = (date(day.year + day.month // 12, day.month % 12 + 1, 1) - timedelta(days=1)).day
        for user in self.copilot:
            center = self.user_center[user]
            yield Row(day, "copilot", "copilot_for_business", "UserMonths", _SEAT_PRICE,
                      round(1 / days_in_month, 4), 0.0, user, login, "", "", center)

    def premium(self, day: date) -> Iterator[tuple[Row, bool]]:
        """Premium requests per user and model, and whether the user is past the monthly quota."""
        seed, login = self.seed, self.org.login
        activity = 1.0 if day.weekday() < 5 else 0.1
        for user in self.copilot:
            used = sum(self._premium_day(user, d) for d in _month_days_before(day))
            for model in _MODELS:
                requests = round(12 * activity * unit(seed, "premium", login, user, model, day.isoformat())
                                 * (2 if model == _MODELS[0] else 1))
                if requests <= 0:
                    continue
                covered = max(0, min(requests, _PREMIUM_QUOTA - used))
                used += requests
                yield (Row(day, "copilot", "copilot_premium_request", "Requests", _PREMIUM_PRICE, requests,
                           covered / requests, user, login, "", "", self.user_center[user], model),
                       used > _PREMIUM_QUOTA)

    def _premium_day(self, user: str, day: date) -> int:
        known = self._premium_days.get((user, day))
        if known is None:
            activity = 1.0 if day.weekday() < 5 else 0.1
            known = self._premium_days[(user, day)] = sum(
                round(12 * activity * unit(self.seed, "premium", self.org.login, user, m, day.isoformat())
                      * (2 if m == _MODELS[0] else 1)) for m in _MODELS)
        return known

    def credits(self, day: date) -> Iterator[tuple[Row, float]]:
        """AI-credit rows and their aic_quantity; repository-scoped SKUs have quantity 0 and only aic_* set."""
        seed, login = self.seed, self.org.login
        activity = 1.0 if day.weekday() < 5 else 0.1
        for user in self.copilot:
            for model in _MODELS[:3]:
                amount = round(150 * activity * unit(seed, "credits", login, user, model, day.isoformat()), 2)
                if amount > 0:
                    yield (Row(day, "copilot", "copilot_ai_credit", "Credits", _CREDIT_PRICE, amount, 0.0, user,
                               login, "", "", self.user_center[user], model), amount)
            pick = stable_hash(seed, "agent-repo", login, user, day.isoformat())
            repo = self.org.repos[pick % len(self.org.repos)]
            sku = _REPO_CREDIT_SKUS[pick % len(_REPO_CREDIT_SKUS)]
            agent = round(80 * activity * unit(seed, "agent-credits", login, user, day.isoformat()), 2)
            if agent > 0:
                yield (Row(day, "copilot", sku, "Credits", _CREDIT_PRICE, 0, 0.0, user, login, repo,
                           "", self.user_center[user], _MODELS[0]), agent)


def _center(seed: int, org: str, kind: str, name: str) -> str:
    """A cost centre, or "" (about one in five resources belongs to none)."""
    u = unit(seed, "cost-center", org, kind, name)
    return "" if u < 0.2 else COST_CENTERS[int((u - 0.2) / 0.8 * len(COST_CENTERS))]


def _month_days_before(day: date) -> Iterator[date]:
    d = day.replace(day=1)
    while d < day:
        yield d
        d += timedelta(days=1)


def _amounts(row: Row) -> tuple[str, str, str]:
    gross = round(row.quantity * row.price, 4)
    discount = round(gross * row.discount_share, 4)
    return _num(gross), _num(discount), _num(round(gross - discount, 4))


@register_state
class Billing:
    """The exports of the world's enterprise, the fail switch and the download counters."""

    @classmethod
    def for_simulator(cls, sim: SimulatorHost) -> Billing:
        return cls(sim.world, sim.config, lambda: sim.downloads_url, lambda: drifting(sim, "billing"))

    def __init__(self, world: World, config: SimulatorConfig, downloads_url: Callable[[], str] = lambda: "",
                 drift: Callable[[], bool] = lambda: False) -> None:
        self.world = world
        self.config = config
        self._downloads_url = downloads_url
        self._drift = drift
        self._usage = [_Usage(org, world.seed) for org in sorted(world.orgs.values(), key=lambda o: o.login)]
        self._secret = hashlib.sha256(f"billing-downloads:{world.seed}".encode()).digest()
        self._lock = threading.RLock()
        self._exports: OrderedDict[str, Export] = OrderedDict()
        self._serial = 0
        self._fail_next = 0
        self.delay = config.billing_export_delay
        self.reset()

    # -- switches and counters ----------------------------------------------------------------

    def reset(self) -> None:
        """Forget every export, the fail switch and the download counters; restore the configured delay."""
        with self._lock:
            self._exports.clear()
            self._fail_next = 0
            self._misanswer: dict[str, str] = {}
            self.delay = self.config.billing_export_delay
            self._downloads: Counter[str] = Counter()
            self._download_headers: list[dict[str, str]] = []

    def fail_next_exports(self, count: int = 1) -> int:
        """The next `count` exports created will end `failed` instead of `completed`."""
        if count < 0:
            raise ValueError("count must be >= 0")
        with self._lock:
            self._fail_next = count
            return count

    def misanswer_next_post(self, **fields: str) -> dict[str, str]:
        """The next POST is answered with these fields (report_type, start_date, end_date) changed: a buggy answer."""
        with self._lock:
            self._misanswer = dict(fields)
            return self._misanswer

    def take_misanswer(self) -> dict[str, str]:
        with self._lock:
            fields, self._misanswer = self._misanswer, {}
            return fields

    def set_delay(self, seconds: float) -> float:
        """How long new and existing exports stay `processing` after creation (simulator seconds)."""
        if seconds < 0:
            raise ValueError("delay must be >= 0")
        with self._lock:
            self.delay = float(seconds)
            return self.delay

    def downloads(self) -> dict[str, Any]:
        """Download requests by outcome: served, refused_authorization, refused_signature, not_found."""
        with self._lock:
            return {**{k: 0 for k in ("served", "refused_authorization", "refused_signature", "not_found")},
                    **self._downloads, "authorization_headers_seen": sum(
                        1 for h in self._download_headers if "authorization" in h)}

    def describe(self) -> dict[str, Any]:
        return {}  # shown by its own switch, POST /_sim/billing

    def state(self, now: float) -> dict[str, Any]:
        with self._lock:
            return {"delay": self.delay, "fail_next": self._fail_next,
                    "exports": [self.as_json(e, now) for e in reversed(self._exports.values())],
                    "downloads": self.downloads()}

    # -- exports --------------------------------------------------------------------------------

    def create(self, enterprise: str, report_type: str, start: date, end: date, now: float, actor: str) -> Export:
        with self._lock:
            self._serial += 1
            export_id = str(uuid.UUID(bytes=hashlib.sha256(
                f"{self.world.seed}:export:{self._serial}:{now}".encode()).digest()[:16], version=4))
            fails = self._fail_next > 0
            if fails:
                self._fail_next -= 1
            export = Export(export_id, enterprise, report_type, start, end, now, actor, fails)
            self._exports[export_id] = export
            while len(self._exports) > 200:
                self._exports.popitem(last=False)
            return export

    def get(self, export_id: str) -> Export | None:
        with self._lock:
            return self._exports.get(export_id)

    def exports(self) -> list[Export]:
        """Newest first, as GitHub lists them."""
        with self._lock:
            return list(reversed(self._exports.values()))

    def as_json(self, export: Export, now: float) -> dict[str, Any]:
        status = export.status(now, self.delay)
        body: dict[str, Any] = {
            "id": export.id,
            "report_type": export.report_type,
            "start_date": export.start.isoformat(),
            "end_date": export.end.isoformat(),
            "status": status,
        }
        if status == "completed":
            body["download_urls"] = [self.signed_url(export, part, now) for part in range(1, self.parts(export) + 1)]
        if status == "failed":
            body["error_message"] = "The usage report could not be generated. Please try again later."
        body["created_at"] = iso(export.created_at)
        body["actor"] = export.actor
        return body

    # -- files ----------------------------------------------------------------------------------

    def days(self, export: Export) -> list[date]:
        """The days an export holds: its period, up to the last day that had ended when it was created."""
        last = min(export.end, _today(export.created_at) - timedelta(days=1))
        out, day = [], export.start
        while day <= last:
            out.append(day)
            day += timedelta(days=1)
        return out

    def records(self, export: Export) -> Iterator[list[str]]:
        """The report's data lines (no header), in the column order of COLUMNS[report_type]."""
        kind = export.report_type
        for day in self.days(export):
            when = day.isoformat()
            if kind == "detailed":
                for usage in self._usage:
                    for row in self._metered(usage, day):
                        gross, discount, net = _amounts(row)
                        yield [when, row.product, row.sku, _num(row.quantity), row.unit_type, _num(row.price), gross,
                               discount, net, row.username, row.org, row.repository, row.workflow, row.cost_center]
            elif kind == "summarized":
                for usage in self._usage:
                    sums: dict[tuple[str, ...], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
                    for row in self._metered(usage, day):
                        gross, discount, net = _amounts(row)
                        key = (row.product, row.sku, row.unit_type, _num(row.price), row.org, row.repository,
                               row.cost_center)
                        acc = sums[key]
                        acc[0] += row.quantity
                        acc[1] += float(gross)
                        acc[2] += float(discount)
                        acc[3] += float(net)
                    for (product, sku, unit_type, price, org, repo, center), (q, g, d, n) in sums.items():
                        yield [when, product, sku, _num(q), unit_type, price, _num(g), _num(d), _num(n), org, repo,
                               center]
            elif kind == "premium_request":
                for usage in self._usage:
                    for row, exceeds in usage.premium(day):
                        gross, discount, net = _amounts(row)
                        aic = row.quantity * _CREDITS_PER_REQUEST[row.model]
                        yield [when, row.username, row.product, row.sku, row.model, _num(row.quantity),
                               row.unit_type, _num(row.price), gross, discount, net, "TRUE" if exceeds else "FALSE",
                               str(_PREMIUM_QUOTA), row.org, row.cost_center, _num(aic), _num(aic * _CREDIT_PRICE)]
            else:
                for usage in self._usage:
                    for row, aic in usage.credits(day):
                        gross, discount, net = _amounts(row)
                        tokens = [str(round(aic * per)) for per in _TOKENS_PER_CREDIT[row.model]]
                        yield [when, row.username, row.product, row.sku, row.model, _num(row.quantity),
                               row.unit_type, _num(row.price), gross, discount, net, str(_CREDIT_QUOTA), row.org,
                               row.repository, row.cost_center, _num(aic), _num(aic * _CREDIT_PRICE), *tokens]

    @staticmethod
    def _metered(usage: _Usage, day: date) -> Iterator[Row]:
        """Metered usage: Actions, storage, seats, and premium requests summed per user (no model)."""
        yield from usage.rows(day)
        per_user: dict[str, list[Any]] = {}
        for row, _ in usage.premium(day):
            acc = per_user.setdefault(row.username, [row, 0.0, 0.0])
            acc[1] += row.quantity
            acc[2] += row.quantity * row.discount_share
        for row, quantity, covered in per_user.values():
            yield Row(day, row.product, row.sku, row.unit_type, row.price, quantity, covered / quantity,
                      row.username, row.org, "", "", row.cost_center)

    # -- rows for the JSON usage endpoints (simulator/billing_usage.py), the same usage as the files ------------

    def metered_rows(self, day: date) -> Iterator[Row]:
        for usage in self._usage:
            yield from self._metered(usage, day)

    def premium_rows(self, day: date) -> Iterator[Row]:
        for usage in self._usage:
            for row, _ in usage.premium(day):
                yield row

    def credit_rows(self, day: date) -> Iterator[tuple[Row, float]]:
        """AI-credit rows with their AI credits (aic_quantity)."""
        for usage in self._usage:
            yield from usage.credits(day)

    def row_count(self, export: Export) -> int:
        if export.rows is None:
            export.rows = sum(1 for _ in self.records(export))
        return export.rows

    def parts(self, export: Export) -> int:
        """How many files (download URLs) the report is split into; an empty report is one file with a header."""
        return max(1, -(-self.row_count(export) // self.config.billing_rows_per_file))

    def file(self, export: Export, part: int) -> Iterator[bytes]:
        """One CSV file, streamed: BOM, header, then its share of the rows, CRLF line ends."""
        per_file = self.config.billing_rows_per_file
        first, last = (part - 1) * per_file, part * per_file
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        drift, (old, new), (added, value) = self._drift(), DRIFT_RENAMED, DRIFT_ADDED
        header = list(COLUMNS[export.report_type])
        writer.writerow([*(new if c == old else c for c in header), added] if drift else header)
        yield BOM + buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        for i, record in enumerate(self.records(export)):
            if i >= last:
                break
            if i >= first:
                writer.writerow([*record, value] if drift else record)
                if buffer.tell() > 65536:
                    yield buffer.getvalue().encode()
                    buffer.seek(0)
                    buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue().encode()

    # -- signed URLs ----------------------------------------------------------------------------

    def _signature(self, path: str, expires: int) -> str:
        return hmac.new(self._secret, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()[:40]

    def signed_url(self, export: Export, part: int, now: float) -> str:
        path = DOWNLOAD_PATH.format(enterprise=export.enterprise, report_id=export.id, part=part)
        expires = int(now + self.config.billing_url_lifetime)
        base = self.downloads_base()
        return f"{base}{path}?expires={expires}&signature={self._signature(path, expires)}"

    def downloads_base(self) -> str:
        return self._downloads_url() or UNBOUND_DOWNLOADS

    def serve(self, request: Request, now: float) -> Response:
        """The download server: signed links only, and never a request with an Authorization header."""
        with self._lock:
            self._download_headers.append({k.lower(): v for k, v in request.headers.items()})
            del self._download_headers[:-100]
        if "authorization" in request.headers:
            return self._refuse("refused_authorization", 403,
                                "Authorization header not allowed: this link is signed, send it without credentials.")
        parts = request.url.path.strip("/").split("/")
        # enterprises/{enterprise}/metered_exports/{report_id}/{part}.csv
        if len(parts) != 5 or parts[0] != "enterprises" or parts[2] != "metered_exports" \
                or not parts[4].endswith(".csv") or not parts[4][:-4].isdigit():
            return self._refuse("not_found", 404, "Not Found")
        path = request.url.path
        try:
            expires = int(request.query_params.get("expires", ""))
        except ValueError:
            return self._refuse("refused_signature", 403, "Signature missing or not valid.")
        if not hmac.compare_digest(request.query_params.get("signature", ""), self._signature(path, expires)):
            return self._refuse("refused_signature", 403, "Signature missing or not valid.")
        if now > expires:
            return self._refuse("refused_signature", 403, "Signed link has expired.")
        export = self.get(parts[3])
        part = int(parts[4][:-4])
        if export is None or export.status(now, self.delay) != "completed" or not 1 <= part <= self.parts(export):
            return self._refuse("not_found", 404, "Not Found")
        with self._lock:
            self._downloads["served"] += 1
        return StreamingResponse(self.file(export, part), media_type="text/csv; charset=utf-8",
                                 headers={"content-disposition": f'attachment; filename="{export.id}-{part}.csv"'})

    def _refuse(self, outcome: str, status: int, message: str) -> Response:
        with self._lock:
            self._downloads[outcome] += 1
        return PlainTextResponse(message, status_code=status)


DOWNLOAD_TEMPLATE = "/enterprises/{enterprise}/metered_exports/{report_id}/{part}.csv"


def downloads_port(sim: SimulatorHost) -> int | None:
    url = sim.downloads_url
    return urlsplit(url).port if url else None


class DownloadsOrigin:
    """ASGI middleware: requests that arrive on the downloads port reach the signed-download server only.

    The API never answers on that port and the download server never answers on
    the API's, so the two are different origins, as GitHub's API and its blob
    storage are.
    """

    def __init__(self, app: Any, sim: SimulatorHost) -> None:
        self.app = app
        self.sim = sim

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        port = downloads_port(self.sim) if scope["type"] == "http" else None
        server = scope.get("server") or (None, None)
        if port is not None and server[1] == port:
            failure = self.sim.take_fault("status", DOWNLOAD_TEMPLATE)  # a fault on the blob store's side
            response = (PlainTextResponse("Server Error", status_code=failure.status) if failure is not None
                        else self.sim.family_state(Billing).serve(Request(scope, receive), self.sim.now()))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


# -- REST handlers --------------------------------------------------------------------------------

def _enterprise(call: Call) -> str:
    name = call.path_params["enterprise"]
    if name.lower() != call.sim.world.enterprise.lower():
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    return call.sim.world.enterprise


def _actor(call: Call) -> str:
    org = next(iter(call.sim.world.orgs.values()))
    return org.users[0].login


def list_exports(call: Call) -> dict[str, Any]:
    _enterprise(call)
    billing = call.sim.family_state(Billing)
    return {"usage_report_exports": [billing.as_json(e, call.now) for e in billing.exports()]}


def create_export(call: Call) -> Reply:
    enterprise = _enterprise(call)
    body = call.body
    if not isinstance(body, dict):
        raise GitHubError(400, "Invalid request body: expected a JSON object.", documentation_url=call.route.docs)
    report_type = body.get("report_type")
    if report_type not in REPORT_TYPES:
        raise GitHubError(400, f"Invalid report_type: must be one of {', '.join(REPORT_TYPES)}.",
                          documentation_url=call.route.docs)
    if "start_date" not in body:
        raise GitHubError(400, "start_date is required.", documentation_url=call.route.docs)
    start = parse_date(body["start_date"], "start_date")
    today = _today(call.now)
    end = parse_date(body["end_date"], "end_date") if body.get("end_date") is not None else today
    send_email = body.get("send_email", False)
    if not isinstance(send_email, bool):
        raise GitHubError(400, "Invalid send_email: expected a boolean.", documentation_url=call.route.docs)
    if end < start:
        raise GitHubError(400, "end_date must not be before start_date.", documentation_url=call.route.docs)
    if end > today:
        raise GitHubError(400, "end_date must not be in the future.", documentation_url=call.route.docs)
    if (end - start).days + 1 > MAX_DAYS[report_type]:
        raise GitHubError(400, f"A {report_type} report covers at most {MAX_DAYS[report_type]} days.",
                          documentation_url=call.route.docs)
    billing = call.sim.family_state(Billing)
    # GitHub generates one report per account at a time. The simulator's assumption: an export processing for
    # longer than BLOCKS_FOR is stuck and no longer blocks (GitHub documents no such limit).
    if any(e.status(call.now, billing.delay) == "processing" and call.now - e.created_at < BLOCKS_FOR
           for e in billing.exports()):
        raise GitHubError(400, "A usage report export is already in progress for this account; wait for it to "
                          "finish.", documentation_url=call.route.docs)
    export = billing.create(enterprise, report_type, start, end, call.now, _actor(call))
    return Reply({**billing.as_json(export, call.now), **billing.take_misanswer()}, status=202)


def get_export(call: Call) -> dict[str, Any]:
    _enterprise(call)
    billing = call.sim.family_state(Billing)
    export = billing.get(call.path_params["report_id"])
    if export is None:
        raise GitHubError(404, "Not Found", documentation_url=call.route.docs)
    return billing.as_json(export, call.now)


def control(sim: SimulatorHost, data: dict[str, Any]) -> dict[str, Any]:
    """POST /_sim/billing {"fail_next": 1, "delay": 90} — either or both; returns the billing state."""
    if "fail_next" in data:
        sim.family_state(Billing).fail_next_exports(int(data["fail_next"]))
    if "delay" in data:
        sim.family_state(Billing).set_delay(float(data["delay"]))
    return sim.family_state(Billing).state(sim.now())


ROUTES = [
    SimRoute("GET", REPORTS, list_exports, docs=f"{DOCS}#list-usage-report-exports"),
    SimRoute("POST", REPORTS, create_export, docs=f"{DOCS}#create-a-usage-report-export"),
    SimRoute("GET", REPORT, get_export, docs=f"{DOCS}#get-a-usage-report-export"),
]
