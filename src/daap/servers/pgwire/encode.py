"""Arrow batches to DataRow messages, a whole column at a time.

Each column becomes a binary array of its wire values (text or binary format) using
Arrow compute and numpy over the whole column; each value gets its int32 length prefix
(-1 for NULL) the same way; then ``binary_join_element_wise`` glues a 7-byte header
(``'D'``, length, column count) and the column segments into one array whose data
buffer *is* the stream of DataRow messages. No Python code runs per value, except for
rare types without a vectorised form (bytea as text, wide numerics, nested types).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from decimal import Decimal

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from daap.servers.pgwire import types as pgt

Encoder = Callable[[pa.Array], pa.Array]
_EPOCH_DAYS = 10_957  # 1970-01-01 -> 2000-01-01
_EPOCH_MICROS = _EPOCH_DAYS * 86_400 * 1_000_000
_NULL = np.int32(-1)


def data_rows(batch: pa.RecordBatch, encoders: Sequence[Encoder]) -> bytes:
    """The DataRow messages for every row of ``batch``, concatenated."""
    n = batch.num_rows
    if n == 0:
        return b""
    segments, total = [], np.full(n, 6, dtype=np.int64)
    for column, encode in zip(batch.columns, encoders, strict=True):
        segment, lengths = _segments(encode(column), column)
        segments.append(segment)
        total += lengths
    header = np.empty(n, dtype=[("k", "S1"), ("len", ">i4"), ("cols", ">i2")])
    header["k"], header["len"], header["cols"] = b"D", total, len(segments)
    rows = pc.binary_join_element_wise(_fixed(header.tobytes(), 7, n), *segments, b"")
    return _data(rows)


def _segments(values: pa.Array, original: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Length-prefixed values (``ff ff ff ff`` for NULL) and each segment's byte length."""
    lengths = pc.fill_null(pc.binary_length(values), 0).to_numpy(zero_copy_only=False).astype(np.int32)
    if original.null_count:
        valid = original.is_valid()
        lengths = np.where(valid.to_numpy(zero_copy_only=False), lengths, _NULL)
        values = pc.if_else(valid, values, pa.scalar(b"", values.type))
    prefix = _fixed(lengths.astype(">i4").tobytes(), 4, len(values))
    return pc.binary_join_element_wise(prefix, values, b""), 4 + np.maximum(lengths, 0)


def _fixed(data: bytes, width: int, n: int) -> pa.Array:
    array = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, pa.py_buffer(data)])
    return array.cast(pa.binary())


def _data(array: pa.Array) -> bytes:
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)
    start, end = offsets[array.offset], offsets[array.offset + len(array)]
    data: bytes = array.buffers()[2].to_pybytes()
    return data[start:end]


def _numpy(column: pa.Array, dtype: str, fill: object = 0) -> pa.Array:
    """Fixed-width big-endian values: the binary format of numbers, dates and times."""
    values = pc.fill_null(column, fill).to_numpy(zero_copy_only=False).astype(dtype)
    return _fixed(values.tobytes(), values.dtype.itemsize, len(column))


# -- text format ---------------------------------------------------------------------


def _as_text(column: pa.Array) -> pa.Array:
    return pc.cast(pc.cast(column, pa.string()), pa.binary())


def _bool_text(column: pa.Array) -> pa.Array:
    return pc.cast(pc.if_else(column, "t", "f"), pa.binary())


def _timestamp_text(column: pa.Array) -> pa.Array:
    """``2024-01-02 10:00:00.5+00`` like PostgreSQL: no zero fraction, ``+00`` for UTC."""
    text = pc.cast(column, pa.string())
    if column.type.tz:  # Arrow writes "...Z" or "...+0000"; our sessions are in UTC
        text = pc.replace_substring_regex(text, r"(Z|[+-]\d{4})$", "")
    text = pc.replace_substring_regex(text, r"(\.\d*?[1-9])0+$|\.0+$", r"\1")
    if column.type.tz:
        text = pc.binary_join_element_wise(text, "+00", "")
    return pc.cast(text, pa.binary())


def _float_text(column: pa.Array) -> pa.Array:
    text = pc.cast(column, pa.string())
    text = pc.replace_substring_regex(text, r"^(-?)inf$", r"\1Infinity")
    return pc.cast(pc.replace_substring(text, "nan", "NaN"), pa.binary())


def _per_value(column: pa.Array, render: Callable[[object], str]) -> pa.Array:
    """Fallback for types Arrow cannot cast to text (nested, bytea hex)."""
    return pa.array([None if v is None else render(v).encode() for v in column.to_pylist()], pa.binary())


def _json_text(value: object) -> str:
    """A nested value as JSON: decimals as strings (exact, as daap's other JSON), times in ISO 8601."""
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, dt.timedelta):
        return str(value)
    raise TypeError(f"cannot send {type(value).__name__} in JSON")


def _bytea_text(column: pa.Array) -> pa.Array:
    return _per_value(column, lambda v: "\\x" + bytes(v).hex())  # type: ignore[call-overload]


def text_encoder(arrow: pa.DataType) -> Encoder:
    if pa.types.is_boolean(arrow):
        return _bool_text
    if pa.types.is_timestamp(arrow):
        return _timestamp_text
    if pa.types.is_floating(arrow):
        return _float_text
    if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow):
        return _bytea_text
    if pa.types.is_nested(arrow):
        return lambda c: _per_value(c, _json_text)
    if pa.types.is_interval(arrow):
        return lambda c: _per_value(c, str)
    return _as_text


# -- binary format -------------------------------------------------------------------


def _date_binary(column: pa.Array) -> pa.Array:
    days = pc.cast(column, pa.int32())
    return _numpy(pc.subtract(days, _EPOCH_DAYS), ">i4")


def _timestamp_binary(column: pa.Array) -> pa.Array:
    micros = pc.cast(pc.cast(column, pa.timestamp("us", column.type.tz)), pa.int64())
    return _numpy(pc.subtract(micros, _EPOCH_MICROS), ">i8")


def _time_binary(column: pa.Array) -> pa.Array:
    return _numpy(pc.cast(pc.cast(column, pa.time64("us")), pa.int64()), ">i8")


def _numeric_binary(column: pa.Array) -> pa.Array:
    """Base-10000 digits computed with numpy, for precision <= 18 and scale <= 15."""
    p, s = column.type.precision, column.type.scale
    if s > 15:
        return _per_value(column, str)  # not reached for binary: see _wide_numeric
    if p > 18:
        try:
            column = pc.cast(column, pa.decimal128(18, s))
        except pa.ArrowInvalid:
            return _wide_numeric(column)
        p = 18
    raw = np.frombuffer(pc.fill_null(column, Decimal(0)).buffers()[1], dtype="<i8")
    unscaled = raw[2 * column.offset : 2 * (column.offset + len(column)) : 2]
    whole, frac = np.divmod(np.abs(unscaled).astype(np.uint64), np.uint64(10**s))
    int_groups, frac_groups = max(1, math.ceil((p - s) / 4)), math.ceil(s / 4)
    frac = frac * np.uint64(10 ** (4 * frac_groups - s))
    out = np.empty((len(column), 4 + int_groups + frac_groups), dtype=">u2")
    out[:, 0], out[:, 1], out[:, 3] = int_groups + frac_groups, int_groups - 1, s
    out[:, 2] = np.where(unscaled < 0, 0x4000, 0)
    for i, (part, count) in enumerate(((whole, int_groups), (frac, frac_groups))):
        for g in range(count):
            col = 4 + (int_groups if i else 0) + count - 1 - g
            out[:, col] = (part // np.uint64(10_000**g)) % np.uint64(10_000)
    return _fixed(out.tobytes(), out.shape[1] * 2, len(column))


def _wide_numeric(column: pa.Array) -> pa.Array:
    """Numerics beyond int64 (sums of wide decimals), one value at a time."""
    values = [None if v is None else _numeric_value(v) for v in column.to_pylist()]
    return pa.array(values, pa.binary())


def _numeric_value(value: Decimal) -> bytes:
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    scale = max(-exponent, 0)
    text = "".join(map(str, digits)) + "0" * max(exponent, 0)
    whole, frac = text[: len(text) - scale] or "0", text[len(text) - scale :]
    whole = whole.zfill(-(-len(whole) // 4) * 4)
    frac = frac.ljust(-(-len(frac) // 4) * 4, "0")
    groups = [int(g) for g in _chunks(whole + frac)]
    head = np.array([len(groups), len(whole) // 4 - 1, 0x4000 if sign else 0, scale], dtype=">u2")
    return head.tobytes() + np.array(groups, dtype=">u2").tobytes()


def _chunks(text: str) -> list[str]:
    return [text[i : i + 4] for i in range(0, len(text), 4)]


def binary_encoder(arrow: pa.DataType) -> Encoder:
    kind = pgt.pg_type(arrow)
    simple: dict[int, Encoder] = {
        pgt.BOOL.oid: lambda c: _numpy(c, "u1", False),
        pgt.INT2.oid: lambda c: _numpy(c, ">i2"),
        pgt.INT4.oid: lambda c: _numpy(c, ">i4"),
        pgt.INT8.oid: lambda c: _numpy(c, ">i8"),
        pgt.FLOAT4.oid: lambda c: _numpy(c, ">f4"),
        pgt.FLOAT8.oid: lambda c: _numpy(c, ">f8"),
        pgt.DATE.oid: _date_binary,
        pgt.TIMESTAMP.oid: _timestamp_binary,
        pgt.TIMESTAMPTZ.oid: _timestamp_binary,
        pgt.TIME.oid: _time_binary,
        pgt.NUMERIC.oid: _numeric_binary,
        pgt.BYTEA.oid: lambda c: pc.cast(c, pa.binary()),
        pgt.UUID.oid: lambda c: pc.cast(c.storage, pa.binary()),
    }
    return simple.get(kind.oid, text_encoder(arrow))


def encoders(schema: pa.Schema, formats: Sequence[int]) -> list[Encoder]:
    """One encoder per column for the result format codes of Bind (0 text, 1 binary)."""
    codes = _expand(formats, len(schema))
    return [binary_encoder(f.type) if c else text_encoder(f.type) for f, c in zip(schema, codes, strict=True)]


def _expand(formats: Sequence[int], n: int) -> list[int]:
    """Bind's format codes: none = all text, one = for all columns, else one per column."""
    if not formats:
        return [0] * n
    return list(formats) * n if len(formats) == 1 else list(formats)
