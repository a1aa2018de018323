"""GraphQL scalars for daap's column types, and the Arrow type → GraphQL type table.

GraphQL's ``Int`` is 32-bit, so 64-bit integers (the default for a contract's
``integer``) use ``BigInt``: written as a JSON *number* (exact in the JSON
text; JavaScript clients lose precision above 2^53 unless they parse big
numbers) and read from a number or a string of digits. Values JSON cannot hold
exactly are strings: ``Decimal`` (``"12.50"``), ``Date`` (``"2026-11-01"``),
``DateTime`` (``"2026-11-01T20:15:00"``, with an offset when the column has a
time zone) and ``Time``. ``At`` (the ``at:`` argument) is a version number or
a DateTime string; a time without an offset is taken as UTC.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa
from graphql import (
    GraphQLBoolean,
    GraphQLFloat,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLString,
    ValueNode,
    value_from_ast_untyped,
)


def _scalar(
    name: str, description: str, out: Callable[[Any], Any], read: Callable[[Any], Any]
) -> GraphQLScalarType:
    def literal(node: ValueNode, *_: Any) -> Any:
        return read(value_from_ast_untyped(node))

    return GraphQLScalarType(
        name,
        description=description,
        coerce_output_value=out,
        coerce_input_value=read,
        coerce_input_literal=literal,
    )


def _read_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


def _read_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a decimal number, got {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"expected a decimal number, got {value!r}") from None


def _iso(parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    def read(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected an ISO 8601 string, got {value!r}")
        return parse(value)

    return read


def _read_at(value: Any) -> int | datetime:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    moment: datetime = _iso(datetime.fromisoformat)(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _date_only(value: str) -> date:
    return date.fromisoformat(value)


BigInt = _scalar("BigInt", "A 64-bit integer, written as a JSON number.", _read_int, _read_int)
DecimalScalar = _scalar(
    "Decimal",
    'An exact decimal number, written as a string: "12.50".',
    lambda v: format(v, "f"),
    _read_decimal,
)
Date = _scalar("Date", 'A calendar date, ISO 8601: "2026-11-01".', date.isoformat, _iso(_date_only))
DateTime = _scalar(
    "DateTime",
    'A timestamp, ISO 8601: "2026-11-01T20:15:00".',
    datetime.isoformat,
    _iso(datetime.fromisoformat),
)
Time = _scalar("Time", 'A time of day, ISO 8601: "20:15:00".', time.isoformat, _iso(time.fromisoformat))
At = _scalar(
    "At",
    "A version number (Int), or a point in time (DateTime string; UTC unless it has an offset).",
    lambda v: v,
    _read_at,
)
Json = _scalar("JSON", "Any other value (lists, structs), as JSON.", lambda v: _jsonable(v), lambda v: v)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


#: Arrow type test → GraphQL scalar, first match wins (STYLE habit 5: a table, not an if-chain)
TYPE_MAPPING: tuple[tuple[Callable[[pa.DataType], bool], GraphQLScalarType], ...] = (
    (pa.types.is_boolean, GraphQLBoolean),
    (lambda t: pa.types.is_integer(t) and t.bit_width <= 32 and t != pa.uint32(), GraphQLInt),
    (pa.types.is_integer, BigInt),
    (pa.types.is_floating, GraphQLFloat),
    (pa.types.is_decimal, DecimalScalar),
    (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), GraphQLString),
    (pa.types.is_date, Date),
    (pa.types.is_timestamp, DateTime),
    (pa.types.is_time, Time),
)

#: a named query parameter's logical type → its GraphQL argument type
PARAMETER_TYPES: dict[str, GraphQLScalarType] = {
    "string": GraphQLString,
    "integer": BigInt,
    "number": GraphQLFloat,
    "boolean": GraphQLBoolean,
    "date": Date,
    "timestamp": DateTime,
    "time": Time,
}


def scalar_for(dtype: pa.DataType) -> GraphQLScalarType:
    return next((scalar for test, scalar in TYPE_MAPPING if test(dtype)), Json)


def parameter_scalar(logical_type: str, sql_type: str) -> GraphQLScalarType:
    if sql_type.startswith("DECIMAL"):
        return DecimalScalar
    return PARAMETER_TYPES.get(logical_type, GraphQLString)


@functools.cache
def filter_type(scalar: GraphQLScalarType) -> GraphQLInputObjectType:
    """``{eq, ne, lt, lte, gt, gte, in, like, is_null}`` for one scalar, shared by every port.

    Order comparisons and ``like`` appear only where they mean something
    (no ``lt`` on Boolean, ``like`` only on String).
    """
    fields: dict[str, GraphQLInputField] = {"eq": GraphQLInputField(scalar), "ne": GraphQLInputField(scalar)}
    if scalar not in (GraphQLBoolean, Json):
        fields |= {op: GraphQLInputField(scalar) for op in ("lt", "lte", "gt", "gte")}
        fields["in"] = GraphQLInputField(GraphQLList(GraphQLNonNull(scalar)))
    if scalar is GraphQLString:
        fields["like"] = GraphQLInputField(
            GraphQLString, description="SQL LIKE pattern: % any, _ one character"
        )
    fields["is_null"] = GraphQLInputField(GraphQLBoolean, description="true: only nulls; false: no nulls")
    return GraphQLInputObjectType(
        f"{scalar.name}Filter", fields, description=f"Conditions on a {scalar.name}"
    )
