"""Reading GitHub's numbers and times, with one rule for every collector.

The rule:
- a field that is missing or null is *not reported*: the reader returns None and the collector decides what
  that means (no sample, or 0 where GitHub leaves out counts of nothing: `count`);
- a field that is present but is not what it should be (a string or boolean where a number belongs, an
  infinite number, a time that does not parse) raises MalformedResponseError. A collector reading rows with
  `Collector.readable_rows` skips that row and counts it in github_exporter_parse_errors_total; elsewhere the
  run fails and the last good snapshot stays. A changed format is seen, never read as 0.
- a timestamp without a UTC offset is UTC (GitHub writes UTC), so the host's time zone never moves a sample.

Readers take the object and the field's name, so a missing object (an absent statistics group) reads as
"not reported" too, and the error names the endpoint and the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any, Literal, overload

from exporter.github.errors import MalformedResponseError


def get(obj: Any, field: str) -> Any:
    """`obj[field]` when obj is a JSON object; None when it is not, or lacks the field."""
    return obj.get(field) if isinstance(obj, dict) else None


def _malformed(endpoint: str, field: str, value: Any, what: str) -> MalformedResponseError:
    return MalformedResponseError(f"{endpoint}: {field} {value!r} is not {what}", endpoint=endpoint)


def number(obj: Any, field: str, endpoint: str) -> float | None:
    """`obj[field]` as a finite number; None when not reported."""
    return as_number(get(obj, field), field, endpoint)


def as_number(value: Any, field: str, endpoint: str) -> float | None:
    """A value already taken out of its object (e.g. from a nested path), read as `number` reads a field."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _malformed(endpoint, field, value, "a number")
    return float(value)


def count(obj: Any, field: str, endpoint: str) -> float:
    """A count GitHub leaves out when there is nothing to count: not reported reads as 0."""
    value = number(obj, field, endpoint)
    return 0.0 if value is None else value


@overload
def timestamp(obj: Any, field: str, endpoint: str, *, required: Literal[True]) -> float: ...
@overload
def timestamp(obj: Any, field: str, endpoint: str, *, required: bool = False) -> float | None: ...
def timestamp(obj: Any, field: str, endpoint: str, *, required: bool = False) -> float | None:
    """An ISO 8601 time ("2024-09-18T10:00:00Z", with an offset or without: then UTC) as epoch seconds;
    None when not reported, unless `required`."""
    return _parsed(obj, field, endpoint, required, _instant, "a timestamp")


@overload
def day(obj: Any, field: str, endpoint: str, *, required: Literal[True]) -> float: ...
@overload
def day(obj: Any, field: str, endpoint: str, *, required: bool = False) -> float | None: ...
def day(obj: Any, field: str, endpoint: str, *, required: bool = False) -> float | None:
    """The UTC midnight starting a `YYYY-MM-DD` day (a longer timestamp is read by its date) as epoch seconds;
    None when not reported, unless `required`."""
    return _parsed(obj, field, endpoint, required, _day, "a day (YYYY-MM-DD)")


def _instant(text: str) -> float:
    parsed = datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)).timestamp()


def _day(text: str) -> float:
    return datetime.combine(date.fromisoformat(text[:10]), time.min, UTC).timestamp()


def _parsed(
    obj: Any, field: str, endpoint: str, required: bool, parse: Callable[[str], float], what: str
) -> float | None:
    value = get(obj, field)
    if value is None:
        if required:
            raise MalformedResponseError(f"{endpoint}: {field} is missing", endpoint=endpoint)
        return None
    try:
        if isinstance(value, str):
            return parse(value)
    except ValueError:
        pass
    raise _malformed(endpoint, field, value, what)
