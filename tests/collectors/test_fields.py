"""The field readers' one rule, for any input; and a time without a UTC offset is UTC in every collector."""

from __future__ import annotations

import calendar
import math
import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.collectors import fields
from exporter.collectors.api_insights import time_bucket
from exporter.collectors.billing import Export
from exporter.collectors.billing_csv import UsageReader
from exporter.collectors.copilot import _on
from exporter.collectors.copilot_seats import Holder
from exporter.collectors.repo_traffic import daily
from exporter.collectors.server_statistics import collection
from exporter.github.errors import MalformedResponseError

ENDPOINT = "/orgs/{org}/endpoint"
COLLECTORS = Path(__file__).parents[2] / "exporter" / "collectors"
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=30),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
# Any instant from 1971 to 2100, with or without an offset, written as GitHub and Python write them.
instants = st.datetimes(datetime(1971, 1, 1), datetime(2100, 1, 1))
offsets = st.none() | st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


def utc_epoch(naive: datetime) -> float:
    """The epoch seconds of a naive time read as UTC, computed without datetime's zone handling."""
    return calendar.timegm(naive.timetuple()) + naive.microsecond / 1e6


@pytest.fixture(scope="module", autouse=True)
def away_from_utc() -> Iterator[None]:
    """The process's local zone set to UTC+05:30 (no DST) for this module's tests, so reading a time as local
    time would be 5.5 hours off."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "IST-05:30"
    time.tzset()
    try:
        assert time.localtime(0).tm_gmtoff == 5.5 * 3600  # the zone really moved
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@given(value=json_scalars, present=st.booleans())
def test_a_number_is_read_not_reported_or_refused(value: Any, present: bool) -> None:
    obj = {"n": value} if present else {"other": value}
    finite = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not present or value is None:
        assert fields.number(obj, "n", ENDPOINT) is None
        assert fields.count(obj, "n", ENDPOINT) == 0.0
    elif finite:
        assert fields.number(obj, "n", ENDPOINT) == float(value) == fields.count(obj, "n", ENDPOINT)
    else:
        for read in (fields.number, fields.count):
            with pytest.raises(MalformedResponseError, match=re.escape(f"{ENDPOINT}: n ")) as raised:
                read(obj, "n", ENDPOINT)
            assert raised.value.endpoint == ENDPOINT


@given(container=json_scalars)
def test_a_field_of_something_that_is_not_an_object_is_not_reported(container: Any) -> None:
    if not isinstance(container, dict):
        assert fields.number(container, "n", ENDPOINT) is None
        assert fields.timestamp(container, "t", ENDPOINT) is None
        assert fields.day(container, "d", ENDPOINT) is None


@given(at=instants, offset=offsets, style=st.sampled_from(["iso", "Z"]))
def test_a_timestamp_is_its_instant_and_without_offset_utc(at: datetime, offset: Any, style: str) -> None:
    if offset is None:
        text = at.isoformat() if style == "iso" else at.strftime("%Y-%m-%dT%H:%M:%S")
        expected = utc_epoch(at if style == "iso" else at.replace(microsecond=0))
    else:
        aware = at.replace(tzinfo=offset)
        text = aware.isoformat()
        expected = utc_epoch(at) - offset.utcoffset(None).total_seconds()
    if style == "Z" and offset is None:
        text += "Z"
    assert fields.timestamp({"t": text}, "t", ENDPOINT, required=True) == pytest.approx(expected, abs=1e-6)


@given(value=json_scalars)
def test_any_timestamp_value_reads_or_is_refused(value: Any) -> None:
    try:
        got = fields.timestamp({"t": value}, "t", ENDPOINT)
    except MalformedResponseError as exc:
        assert exc.endpoint == ENDPOINT and "t " in str(exc)
        return
    assert (got is None) == (value is None)
    assert got is None or isinstance(value, str)


@given(day=st.dates(date(1971, 1, 1), date(2100, 1, 1)), suffix=st.sampled_from(["", "T10:30:00Z", "T23:59:59"]))
def test_a_day_is_its_utc_midnight(day: date, suffix: str) -> None:
    expected = (day - date(1970, 1, 1)).days * 86400.0
    assert fields.day({"d": day.isoformat() + suffix}, "d", ENDPOINT, required=True) == expected


@given(value=json_scalars)
def test_any_day_value_reads_or_is_refused(value: Any) -> None:
    try:
        got = fields.day({"d": value}, "d", ENDPOINT)
    except MalformedResponseError as exc:
        assert exc.endpoint == ENDPOINT
        return
    assert (got is None) == (value is None)
    assert got is None or got % 86400 == 0


def test_a_required_field_that_is_missing_is_refused() -> None:
    for read in (fields.timestamp, fields.day):
        with pytest.raises(MalformedResponseError, match="x is missing"):
            read({}, "x", ENDPOINT, required=True)


# -- every collector -----------------------------------------------------------------------------------------

NAIVE = "2024-09-18T02:00:00"  # read as local time (UTC+05:30) it falls on the day before
AT = utc_epoch(datetime(2024, 9, 18, 2))
DAY_START = utc_epoch(datetime(2024, 9, 18))


def _seat_activity() -> float | None:
    holder = Holder()
    holder.add({"last_activity_at": NAIVE}, "/orgs/{org}/copilot/billing/seats")
    return holder.last_activity


def _csv_day() -> float:
    reader = UsageReader("summarized", (), "file 1/1")
    reader.header(["date", "product", "sku", "quantity", "unit_type", "gross_amount", "discount_amount",
                   "net_amount"])
    return reader.row(["2024-09-18", "actions", "linux", "1", "minutes", "1", "0", "1"])[0]


READ_IN_EACH_COLLECTOR: dict[str, tuple[Callable[[], Any], float]] = {
    "api_insights": (lambda: time_bucket({"timestamp": NAIVE}, ENDPOINT)[0], AT),
    "billing": (
        lambda: Export.parse({"id": "1", "report_type": "detailed", "start_date": "2024-09-01",
                              "end_date": "2024-09-18", "status": "completed", "created_at": NAIVE},
                             ENDPOINT).created_at,
        AT,
    ),
    "billing_csv": (_csv_day, DAY_START),
    "copilot": (lambda: _on({"day": "2024-09-18"}, DAY_START), True),
    "copilot_seats": (_seat_activity, AT),
    "repo_traffic": (lambda: next(iter(daily({"views": [{"timestamp": NAIVE, "count": 1}]}, "views", ENDPOINT))),
                     AT // 86400),
    "server_statistics": (
        lambda: getattr(collection({"server_id": "s", "collection_date": NAIVE}), "collected_at", None), AT
    ),
}


@pytest.mark.parametrize("name", sorted(READ_IN_EACH_COLLECTOR))
def test_a_time_without_offset_is_utc_in_every_collector(name: str) -> None:
    read, expected = READ_IN_EACH_COLLECTOR[name]
    assert read() == expected


def test_only_the_field_readers_parse_times() -> None:
    """Every collector reads GitHub's times through `fields`, so the rule above holds for all of them."""
    parsing = re.compile(r"fromisoformat|strptime|\.timestamp\(\)")
    offenders = [
        f"{path.name}:{n}"
        for path in sorted(COLLECTORS.glob("*.py"))
        if path.name != "fields.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if parsing.search(line) and "tzinfo=UTC" not in line
    ]
    assert offenders == []
