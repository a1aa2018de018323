"""Binding the arguments of a named query: checked, typed, never spliced into SQL.

Arguments arrive as JSON values (GraphQL, REST bodies) or as strings (URL
query strings, the CLI); each is converted to its declared logical type, so
``"2026-11-01"`` becomes a date and ``"ten"`` for an integer is an error that
names the parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from daap.errors import ArgumentError
from daap.spec.model import NamedQuery, QueryParameter


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "t", "1", "yes"):
        return True
    if text in ("false", "f", "0", "no"):
        return False
    raise ValueError(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    return int(value)


def _number(value: Any) -> Decimal | float:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(value) from None


def _timestamp(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return date.fromisoformat(str(value))


def _time(value: Any) -> time:
    return value if isinstance(value, time) else time.fromisoformat(str(value))


#: logical type -> converter from a JSON value or a string
CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": str,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "date": _date,
    "timestamp": _timestamp,
    "time": _time,
}


def bind_arguments(query: NamedQuery, args: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments for ``query`` as engine parameters (``$name``), defaults filled in.

    Raises:
        ArgumentError: naming every unknown, missing or mistyped argument.
    """
    declared = {p.name: p for p in query.parameters}
    problems = [f"unknown parameter {name!r}" for name in args if name not in declared]
    bound: dict[str, Any] = {}
    for param in query.parameters:
        if param.name not in args or args[param.name] is None:
            if param.required:
                problems.append(f"missing parameter {param.name!r} ({param.logical_type})")
            bound[param.name] = (
                _convert(param, param.default, problems) if param.default is not None else None
            )
            continue
        bound[param.name] = _convert(param, args[param.name], problems)
    if problems:
        names = ", ".join(f"{p.name}: {p.logical_type}" for p in query.parameters) or "none"
        raise ArgumentError(
            f"named query {query.name}: " + "; ".join(problems), hint=f"its parameters are {names}"
        )
    return bound


def _convert(param: QueryParameter, value: Any, problems: list[str]) -> Any:
    try:
        return CONVERTERS[param.logical_type](value)
    except (ValueError, TypeError, KeyError):
        problems.append(f"parameter {param.name!r} must be {param.logical_type}, got {value!r}")
        return None
