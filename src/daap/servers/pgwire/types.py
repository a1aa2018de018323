"""PostgreSQL types: OIDs for Arrow columns, and parameter values decoded from the wire.

Result columns are described by :func:`pg_type` (Arrow type -> OID, size, typmod);
parameters arrive as text or binary tagged with the OID the client chose in Parse
(0 = unspecified: the text is passed as a string and DuckDB casts it in context).
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa

from daap.servers.pgwire.errors import PgError

POSTGRES_EPOCH = dt.datetime(2000, 1, 1)
POSTGRES_EPOCH_DATE = dt.date(2000, 1, 1)


@dataclass(frozen=True)
class PgType:
    oid: int
    name: str
    size: int
    typmod: int = -1


BOOL = PgType(16, "boolean", 1)
BYTEA = PgType(17, "bytea", -1)
INT8 = PgType(20, "bigint", 8)
INT2 = PgType(21, "smallint", 2)
INT4 = PgType(23, "integer", 4)
TEXT = PgType(25, "text", -1)
JSON = PgType(114, "json", -1)
FLOAT4 = PgType(700, "real", 4)
FLOAT8 = PgType(701, "double precision", 8)
VARCHAR = PgType(1043, "character varying", -1)
DATE = PgType(1082, "date", 4)
TIME = PgType(1083, "time without time zone", 8)
TIMESTAMP = PgType(1114, "timestamp without time zone", 8)
TIMESTAMPTZ = PgType(1184, "timestamp with time zone", 8)
INTERVAL = PgType(1186, "interval", 16)
NUMERIC = PgType(1700, "numeric", -1)
UUID = PgType(2950, "uuid", 16)
#: every type we describe, for pg_type
ALL: tuple[PgType, ...] = (BOOL, BYTEA, INT8, INT2, INT4, TEXT, JSON, FLOAT4, FLOAT8, VARCHAR, DATE, TIME)
ALL += (TIMESTAMP, TIMESTAMPTZ, INTERVAL, NUMERIC, UUID)
#: array types, so clients that look up ``_int4`` etc. find them (oid, name, element oid)
ARRAYS: tuple[tuple[int, str, int], ...] = ((1000, "_bool", 16), (1005, "_int2", 21), (1007, "_int4", 23))
ARRAYS += ((1016, "_int8", 20), (1009, "_text", 25), (1015, "_varchar", 1043), (1231, "_numeric", 1700))


def pg_type(arrow: pa.DataType) -> PgType:
    """The PostgreSQL type a column of ``arrow`` type is sent as (unknown types as text)."""
    if pa.types.is_boolean(arrow):
        return BOOL
    if pa.types.is_integer(arrow):
        return _integer(arrow)
    if pa.types.is_floating(arrow):
        return FLOAT4 if arrow.bit_width <= 32 else FLOAT8
    if pa.types.is_decimal(arrow):
        return PgType(1700, "numeric", -1, ((arrow.precision << 16) | arrow.scale) + 4)
    if pa.types.is_date(arrow):
        return DATE
    if pa.types.is_timestamp(arrow):
        return TIMESTAMPTZ if arrow.tz else TIMESTAMP
    if pa.types.is_time(arrow):
        return TIME
    if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow):
        return BYTEA
    if isinstance(arrow, pa.ExtensionType) and arrow.extension_name == "arrow.uuid":
        return UUID
    if isinstance(arrow, pa.ExtensionType) and "json" in arrow.extension_name:
        return JSON
    if pa.types.is_nested(arrow):  # objects, arrays and maps: JSON, as PostgreSQL's to_json writes them
        return JSON
    return TEXT


def _integer(arrow: pa.DataType) -> PgType:
    bits = arrow.bit_width + (0 if pa.types.is_signed_integer(arrow) else 1)
    return INT2 if bits <= 16 else INT4 if bits <= 32 else INT8


# -- parameters ---------------------------------------------------------------------


def decode_param(value: bytes | None, oid: int, binary: bool) -> Any:
    """One Bind parameter as a Python value for DuckDB.

    Raises:
        PgError: 22P02 when the bytes do not hold a value of the type.
    """
    if value is None:
        return None
    decoder = (_BINARY if binary else _TEXT).get(oid)
    try:
        if decoder is not None:
            return decoder(value)
        return value.decode() if oid != BYTEA.oid else value
    except (ValueError, struct.error, UnicodeDecodeError) as exc:
        raise PgError("22P02", f"invalid value for parameter of type oid {oid}: {exc}") from None


def _timestamp_text(text: bytes) -> dt.datetime:
    value = text.decode().replace(" ", "T", 1)
    if len(value) > 3 and value[-3] in "+-" and value[-3:].lstrip("+-").isdigit():
        value += ":00"  # PostgreSQL writes "+00"; Python 3.11 wants "+00:00"
    return dt.datetime.fromisoformat(value)


def _numeric_binary(data: bytes) -> Decimal:
    ndigits, weight, sign, dscale = struct.unpack_from("!hhHh", data)
    if sign == 0xC000:
        return Decimal("NaN")
    digits = struct.unpack_from(f"!{ndigits}H", data, 8)
    value = 0
    for d in digits:
        value = value * 10_000 + d
    number = Decimal(-value if sign == 0x4000 else value).scaleb(4 * (weight - ndigits + 1))
    return number.quantize(Decimal(1).scaleb(-dscale)) if dscale else number


def _unpack(fmt: str) -> Callable[[bytes], Any]:
    return lambda b: struct.unpack(fmt, b)[0]


_TEXT: dict[int, Callable[[bytes], Any]] = {
    BOOL.oid: lambda b: b.strip().lower() in (b"t", b"true", b"on", b"1", b"yes", b"y"),
    INT2.oid: int,
    INT4.oid: int,
    INT8.oid: int,
    FLOAT4.oid: float,
    FLOAT8.oid: float,
    NUMERIC.oid: lambda b: Decimal(b.decode()),
    DATE.oid: lambda b: dt.date.fromisoformat(b.decode()),
    TIMESTAMP.oid: _timestamp_text,
    TIMESTAMPTZ.oid: _timestamp_text,
    BYTEA.oid: lambda b: bytes.fromhex(b[2:].decode()) if b.startswith(b"\\x") else b,
}

_BINARY: dict[int, Callable[[bytes], Any]] = {
    BOOL.oid: lambda b: b != b"\0",
    INT2.oid: _unpack("!h"),
    INT4.oid: _unpack("!i"),
    INT8.oid: _unpack("!q"),
    FLOAT4.oid: _unpack("!f"),
    FLOAT8.oid: _unpack("!d"),
    NUMERIC.oid: _numeric_binary,
    DATE.oid: lambda b: POSTGRES_EPOCH_DATE + dt.timedelta(days=struct.unpack("!i", b)[0]),
    TIMESTAMP.oid: lambda b: POSTGRES_EPOCH + dt.timedelta(microseconds=struct.unpack("!q", b)[0]),
    TIMESTAMPTZ.oid: lambda b: (
        POSTGRES_EPOCH + dt.timedelta(microseconds=struct.unpack("!q", b)[0])
    ).replace(tzinfo=dt.UTC),
    UUID.oid: lambda b: str(uuid.UUID(bytes=b)),
    BYTEA.oid: bytes,
    JSON.oid: lambda b: b.decode(),
    3802: lambda b: b[1:].decode(),  # jsonb: a version byte, then text
}
