"""Text from a URL (or a JSON value) as a typed value for a column, and ``at`` as a version or time.

Filter values and cursor keys are converted to the column's Arrow type here
and then *bound* as query parameters, so ``?price__gt=10.5`` compares a
decimal with a decimal and ``?name=x' OR 1=1`` is only ever a string.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from daap.mesh.workspace import At

_TRUE = ("true", "t", "1", "yes")
_FALSE = ("false", "f", "0", "no")


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"{value!r} is not true or false")


def _integer(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    return int(value)


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(value) from None


def _date(value: Any) -> date:
    return date.fromisoformat(str(value))


def timestamp(value: Any) -> datetime:
    """ISO 8601; a trailing ``Z`` or offset makes it aware, which time-zone columns need."""
    return datetime.fromisoformat(str(value))


def _aware(value: Any) -> datetime:
    moment = timestamp(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _time(value: Any) -> time:
    return time.fromisoformat(str(value))


def _binary(value: Any) -> bytes:
    return base64.b64decode(str(value), validate=True)


def _timestamp_for(kind: pa.DataType) -> Callable[[Any], Any]:
    return _aware if kind.tz is not None else timestamp


#: (is this the type, the converter for it, given the type); first match wins
RULES: tuple[tuple[Callable[[pa.DataType], bool], Callable[[pa.DataType], Callable[[Any], Any]]], ...] = (
    (pa.types.is_boolean, lambda _: boolean),
    (pa.types.is_integer, lambda _: _integer),
    (pa.types.is_floating, lambda _: float),
    (pa.types.is_decimal, lambda _: _decimal),
    (pa.types.is_string, lambda _: str),
    (pa.types.is_large_string, lambda _: str),
    (pa.types.is_date, lambda _: _date),
    (pa.types.is_timestamp, _timestamp_for),
    (pa.types.is_time, lambda _: _time),
    (pa.types.is_binary, lambda _: _binary),
)


def converter(kind: pa.DataType) -> Callable[[Any], Any] | None:
    """How to read a value for a column of type ``kind``; None if it cannot be filtered on."""
    return next((make(kind) for matches, make in RULES if matches(kind)), None)


def convert(kind: pa.DataType, value: Any) -> Any:
    """``value`` (text or JSON) as a ``kind`` value; None stays None.

    Raises:
        ValueError: the value does not read as that type (the message says so, naming both).
    """
    if value is None:
        return None
    read = converter(kind)
    if read is None:
        raise ValueError(f"values of type {kind} cannot be compared")
    try:
        return read(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a valid {kind}") from None


def parse_at(value: str | int | None) -> At:
    """``?at=3`` (a version) or ``?at=2025-01-31T12:00:00Z`` (a time; no offset means UTC).

    Raises:
        ValueError: neither a version number nor an ISO 8601 time.
    """
    if value is None or value == "":
        return None
    if isinstance(value, int) or value.strip().isdigit():
        return int(value)
    try:
        return _aware(value.strip())
    except ValueError:
        raise ValueError(f"expected a version number or an ISO 8601 time, got {value!r}") from None
