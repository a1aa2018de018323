"""Change events in the Debezium envelope, built from a version's change set.

Every insert, update and delete of a published version becomes one event on
the topic ``daap.<product>.<port>``::

    {"before": {...} | null, "after": {...} | null, "op": "c" | "u" | "d" | "r",
     "source": {"product", "port", "version", "snapshot_id", "build_id", "ts_ms"},
     "ts_ms": ...}

keyed by the primary key (a JSON object of the key columns; a port without a
key, which is append-only, by the whole row), with a tombstone (same key, null
value) after each delete.

Event ids name the event's place in the mesh's history:
``<product+port hash, 8 hex><version, 8 hex><op><position, 10 hex>``, the
position counting the change set's rows of that operation in their order
(by key; by every column without a key). The same version always has the
same change set in the same order, so publishing it again after a crash
yields the same ids, and the audit log and backbone store each once. The ids
of one version are consecutive, so appending them extends the indexes of the
audit log and backbone at their end instead of touching a page per event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa

from daap.mesh.wire import AvroCodec, JsonCodec

#: Debezium operation codes
CREATE, UPDATE, DELETE, READ = "c", "u", "d", "r"


@dataclass(frozen=True)
class Source:
    """Where a change comes from: the ``source`` block of every envelope."""

    product: str
    port: str
    version: int
    snapshot_id: int
    build_id: str
    ts_ms: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "port": self.port,
            "version": self.version,
            "snapshot_id": self.snapshot_id,
            "build_id": self.build_id,
            "ts_ms": self.ts_ms,
        }


@dataclass(frozen=True)
class Change:
    """One envelope before it is put on the backbone."""

    event_id: str
    key: bytes
    value: bytes | None  # None: a tombstone
    #: the same key and envelope in the Confluent wire format (Avro), when the port has codecs
    wire_key: bytes | None = None
    wire_value: bytes | None = None

    @property
    def backbone_key(self) -> bytes:
        return self.wire_key if self.wire_key is not None else self.key

    @property
    def backbone_value(self) -> bytes | None:
        return self.wire_value if self.wire_value is not None else self.value


def changes(
    source: Source,
    key: Sequence[str],
    inserts: pa.Table,
    updates_before: pa.Table,
    updates_after: pa.Table,
    deletes: pa.Table,
    now_ms: int,
    position: int = 0,
    codecs: Codecs | None = None,
) -> Iterator[Change]:
    """The events of one change set, in the order consumers should apply them.

    Args:
        position: the ordinal of the first row given within its whole change set
            (a caller slicing a big change set passes where each slice starts).
        codecs: the port's registered envelope (and key) schemas: each event is also
            encoded in the Confluent wire format.
    """
    make = _Maker(source, key, now_ms, codecs)
    for i, after in enumerate(inserts.to_pylist(), position):
        yield make(CREATE, None, after, i)
    for i, (before, after) in enumerate(
        zip(updates_before.to_pylist(), updates_after.to_pylist(), strict=True), position
    ):
        yield make(UPDATE, before, after, i)
    for i, before in enumerate(deletes.to_pylist(), position):
        deleted = make(DELETE, before, None, i)
        yield deleted
        yield Change(deleted.event_id + ":tombstone", deleted.key, None, deleted.wire_key, None)


def snapshot(
    source: Source,
    key: Sequence[str],
    rows: pa.Table,
    now_ms: int,
    position: int = 0,
    codecs: Codecs | None = None,
) -> Iterator[Change]:
    """``op: r`` events: the full load a new subscriber starts from (``position`` as in :func:`changes`)."""
    make = _Maker(source, key, now_ms, codecs)
    for i, after in enumerate(rows.to_pylist(), position):
        yield make(READ, None, after, i)


@dataclass(frozen=True)
class Codecs:
    """A port's registered schemas: the envelope's (``-value``) and the key's (``-key``)."""

    value: AvroCodec | JsonCodec
    key: AvroCodec | JsonCodec | None


class _Maker:
    """Builds the events of one port's version: what all of them share is encoded once.

    The envelope is written as the concatenation of its canonical parts (keys in
    sorted order: after, before, op, source, ts_ms), which is byte for byte what
    :func:`encode` makes of the whole dict, at a fraction of the cost.
    """

    def __init__(self, source: Source, key: Sequence[str], now_ms: int, codecs: Codecs | None = None) -> None:
        self.key = tuple(key)
        self.codecs = codecs
        self.source = source.as_dict()
        self.now_ms = now_ms
        self.row_name = f"daap.{source.product}.{source.port}.Value"  # see registry.odcs.avro_envelope
        scope = hashlib.sha256(f"{source.product}\0{source.port}".encode()).hexdigest()[:8]
        self.prefix = {op: f"{scope}{source.version:08x}{op}" for op in (CREATE, UPDATE, DELETE, READ)}
        self.tail = {
            op: b',"op":'
            + encode(op)
            + b',"source":'
            + encode(source.as_dict())
            + b',"ts_ms":'
            + encode(now_ms)
            + b"}"
            for op in (CREATE, UPDATE, DELETE, READ)
        }

    def __call__(
        self, op: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, ordinal: int
    ) -> Change:
        row = after if after is not None else before
        assert row is not None
        key = self.key
        key_bytes = encode({k: row[k] for k in key}) if key else encode(row)
        event_id = f"{self.prefix[op]}{ordinal:010x}"
        value = b'{"after":' + encode(after) + b',"before":' + encode(before) + self.tail[op]
        if self.codecs is None:
            return Change(event_id, key_bytes, value)
        if isinstance(self.codecs.value, JsonCodec):  # JSON Schema: the canonical JSON, framed
            framed_key = self.codecs.key.frame(key_bytes) if isinstance(self.codecs.key, JsonCodec) else None
            return Change(event_id, key_bytes, value, framed_key, self.codecs.value.frame(value))
        # (name, row) names the union branch, which spares the encoder trying each branch
        name = self.row_name
        wrapped = {
            "before": None if before is None else (name, before),
            "after": None if after is None else (name, after),
            "op": op,
            "source": self.source,
            "ts_ms": self.now_ms,
        }
        wire_value = self.codecs.value.encode(wrapped)
        key_codec = self.codecs.key
        wire_key = (
            key_codec.encode({k: row[k] for k in key}) if isinstance(key_codec, AvroCodec) and key else None
        )
        return Change(event_id, key_bytes, value, wire_key, wire_value)


def encode(value: Any) -> bytes:
    """Canonical JSON (UTF-8): sorted keys, no spaces; decimals as strings, times as
    ISO 8601 (as ``isoformat()`` writes them), bytes as hex, NaN and infinities as null."""
    return orjson.dumps(value, default=_json_value, option=orjson.OPT_SORT_KEYS)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot encode {type(value).__name__} in a change event")
