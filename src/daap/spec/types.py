"""ODCS logical and physical types → the DuckDB type the contract gate casts to.

A column declares an ODCS ``logicalType`` and, optionally, a ``physicalType``
that narrows it (``integer`` + ``int`` → ``INTEGER``). Both are looked up in
tables, so supporting a new type is one line (STYLE habit 5)::

    sql_type("number", "decimal(10, 2)")         -> "DECIMAL(10,2)"
    sql_type("timestamp", None, {"timezone": True}) -> "TIMESTAMPTZ"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from daap.errors import DaapError
from daap.spec.diagnose import suggest

#: DuckDB type for a logical type when no physicalType narrows it
DEFAULTS: dict[str, str] = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "time": "TIME",
}

#: physicalType (lower case, single spaces) → DuckDB type, per logical type
PHYSICAL: dict[str, dict[str, str]] = {
    "string": {"string": "VARCHAR", "varchar": "VARCHAR", "text": "VARCHAR"},
    "integer": {
        "int": "INTEGER",
        "integer": "INTEGER",
        "int32": "INTEGER",
        "smallint": "SMALLINT",
        "int16": "SMALLINT",
        "bigint": "BIGINT",
        "long": "BIGINT",
        "int64": "BIGINT",
    },
    "number": {
        "double": "DOUBLE",
        "float64": "DOUBLE",
        "double precision": "DOUBLE",
        "float": "FLOAT",
        "real": "FLOAT",
        "float32": "FLOAT",
        "decimal": "DECIMAL(18,3)",
        "numeric": "DECIMAL(18,3)",
    },
    "boolean": {"boolean": "BOOLEAN", "bool": "BOOLEAN"},
    "date": {"date": "DATE"},
    "timestamp": {
        "timestamp": "TIMESTAMP",
        "datetime": "TIMESTAMP",
        "timestamp without time zone": "TIMESTAMP",
        "timestamptz": "TIMESTAMPTZ",
        "timestamp with time zone": "TIMESTAMPTZ",
    },
    "time": {"time": "TIME"},
}

#: ODCS logical types daap cannot store as a column yet
NOT_YET = ("map", "vector")
#: logical types built from others: ``object`` (its ``properties``) and ``array`` (its ``items``)
NESTED = ("object", "array")

MAX_DECIMAL_PRECISION = 38


class TypeMappingError(DaapError):
    """A column's type cannot be mapped; ``key`` is the contract field at fault."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


def _decimal(match: re.Match[str]) -> str:
    precision, scale = int(match["p"]), int(match["s"] or 0)
    if not 1 <= precision <= MAX_DECIMAL_PRECISION or scale > precision:
        raise TypeMappingError(
            "physicalType",
            f"decimal precision must be 1..{MAX_DECIMAL_PRECISION} and scale at most the "
            f"precision, got {match.group(0)!r}",
        )
    return f"DECIMAL({precision},{scale})"


Pattern = tuple[str, re.Pattern[str], Callable[[re.Match[str]], str]]

#: parameterised physical types (shown as, matched by, mapped by), after the exact table
PATTERNS: dict[str, list[Pattern]] = {
    "number": [
        (
            "decimal(p,s)",
            re.compile(r"^(decimal|numeric) ?\( ?(?P<p>\d+) ?(, ?(?P<s>\d+) ?)?\)$"),
            _decimal,
        )
    ],
    "string": [
        (
            "varchar(n)",
            re.compile(r"^(varchar|char|character varying) ?\( ?\d+ ?\)$"),
            lambda _: "VARCHAR",
        )
    ],
}


def sql_type(
    logical_type: str,
    physical_type: str | None = None,
    logical_type_options: Mapping[str, Any] | None = None,
) -> str:
    """The DuckDB type of a contract column.

    Raises:
        TypeMappingError: the logical type is unknown or not supported yet, or
            the physical type does not belong to it; the message names the
            allowed values.
    """
    if logical_type in NESTED:
        raise TypeMappingError(
            "logicalType",
            f"logicalType {logical_type!r} is only allowed for a contract column, with its "
            f"{'properties' if logical_type == 'object' else 'items'}",
        )
    if logical_type in NOT_YET:
        raise TypeMappingError(
            "logicalType",
            f"logicalType {logical_type!r} is not supported yet by daap (supported: {', '.join(DEFAULTS)})",
        )
    if logical_type not in DEFAULTS:
        raise TypeMappingError(
            "logicalType",
            f"unknown logicalType {logical_type!r}{suggest(logical_type, [*DEFAULTS, *NESTED])} "
            f"(supported: {', '.join([*DEFAULTS, *NESTED])})",
        )
    duck = _physical(logical_type, physical_type) if physical_type else DEFAULTS[logical_type]
    if duck == "TIMESTAMP" and (logical_type_options or {}).get("timezone") is True:
        return "TIMESTAMPTZ"
    return duck


def _physical(logical_type: str, physical_type: str) -> str:
    spaced = " ".join(physical_type.lower().split())
    exact = PHYSICAL[logical_type].get(spaced)
    if exact:
        return exact
    patterns = PATTERNS.get(logical_type, [])
    for _, pattern, build in patterns:
        match = pattern.match(spaced)
        if match:
            return build(match)
    allowed = ", ".join([*PHYSICAL[logical_type], *(label for label, _, _ in patterns)])
    raise TypeMappingError(
        "physicalType",
        f"physicalType {physical_type!r} does not fit logicalType {logical_type!r} (allowed: {allowed})",
    )


def quote(name: str) -> str:
    """A field name inside a DuckDB ``STRUCT(…)`` type."""
    return '"' + name.replace('"', '""') + '"'


#: seconds per duration unit, as ODCS SLAs and the CLI write them
DURATION_UNITS: dict[str, int] = {
    **dict.fromkeys(("s", "sec", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "week", "weeks"), 604800),
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")


def duration(value: Any, unit: Any = None) -> timedelta | None:
    """A positive duration from a number and a unit (``4``, ``h``) or one text (``"30d"``,
    ``"12 hours"``); None when it is not one."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None or unit is not None:
            return None
        value, unit = float(match.group(1)), match.group(2)
    if isinstance(value, bool) or not isinstance(value, int | float) or not isinstance(unit, str):
        return None
    seconds = DURATION_UNITS.get(unit.lower())
    if seconds is None or value <= 0:
        return None
    return timedelta(seconds=float(value) * seconds)
