"""The Confluent wire format of change events: magic byte 0, 4-byte schema id, then Avro
binary (``eventFormat: avro``) or JSON text (``eventFormat: jsonschema``).

A consumer with confluent-kafka's ``AvroDeserializer`` (or any Confluent-compatible
client) and the registry's URL decodes daap's events without daap: the id names
the envelope schema registered under ``daap.<product>.<port>-value`` (the key's
under ``-key``). :func:`decode` is daap's own reader (``daap events tail``); it
also reads events published as plain JSON (``eventFormat: json``, or versions
published before the registry existed).
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable, Mapping
from typing import Any

import fastavro
import fastavro.validation

from daap.errors import DaapError

MAGIC = 0


class EncodingError(DaapError):
    """A change event does not fit the schema registered for its port (e.g. an old row lacks a
    column the new contract requires): its version's events stay in the outbox."""

    exit_code = 6


_HEADER = struct.Struct(">bI")
_WRITE_ERRORS = (TypeError, ValueError, KeyError, AttributeError)


class AvroCodec:
    """Encodes records of one registered Avro schema in the wire format."""

    def __init__(self, schema_text: str, schema_id: int) -> None:
        self.schema_id = schema_id
        self.schema = fastavro.parse_schema(json.loads(schema_text))
        self.header = _HEADER.pack(MAGIC, schema_id)

    def encode(self, record: Mapping[str, Any]) -> bytes:
        try:
            return self._write(record)
        except _WRITE_ERRORS as exc:
            error = exc
        before = record.get("before")
        branch, row = before if isinstance(before, tuple) else (None, before)
        if isinstance(row, Mapping):
            # An old row under a changed contract (a type changed under NONE): keep the values
            # that fit the new schema, null the rest; a row that cannot fit has no before-image.
            fitted = self._fit(row)
            for image in ((branch, fitted) if branch and fitted is not None else fitted, None):
                try:
                    return self._write({**record, "before": image})
                except _WRITE_ERRORS:
                    continue
        raise EncodingError(
            f"a change event does not fit schema {self.schema_id}: {error}",
            hint="the new row does not fit the contract's schema; set eventFormat: json for plain JSON",
        ) from None

    def _write(self, record: Mapping[str, Any]) -> bytes:
        out = io.BytesIO()
        out.write(self.header)
        fastavro.schemaless_writer(out, self.schema, record)
        return out.getvalue()

    def _fit(self, row: Mapping[str, Any]) -> dict[str, Any] | None:
        """``row`` with each value that does not fit its field of the row record nulled."""
        fields = self._row_fields()
        if fields is None:
            return None
        fitted = {}
        for name, kind in fields:
            value = row.get(name)
            fitted[name] = value if fastavro.validation.validate(value, kind, raise_errors=False) else None
        return fitted

    def _row_fields(self) -> list[tuple[str, Any]] | None:
        """The fields of the envelope's row record (``before: ["null", Value]``)."""
        fields = self.schema.get("fields") if isinstance(self.schema, dict) else None
        before = next((f for f in fields or () if f.get("name") == "before"), None)
        branches = before["type"] if before and isinstance(before["type"], list) else []
        record = next((b for b in branches if isinstance(b, dict) and b.get("type") == "record"), None)
        return [(f["name"], f["type"]) for f in record["fields"]] if record else None


class JsonCodec:
    """Frames canonical JSON text for one registered JSON Schema in the wire format."""

    def __init__(self, schema_id: int) -> None:
        self.schema_id = schema_id
        self.header = _HEADER.pack(MAGIC, schema_id)

    def frame(self, payload: bytes) -> bytes:
        return self.header + payload


class Decoder:
    """Reads wire-format or plain JSON values.

    ``schema(id)`` answers a registry schema body (``{"schema", "schemaType"?}``, as
    ``SchemaRegistry.schema_by_id`` does); parsed schemas are kept by id.
    """

    def __init__(self, schema: Callable[[int], Mapping[str, Any]]) -> None:
        self.schema = schema
        self._schemas: dict[int, Any] = {}

    def __call__(self, value: bytes | None) -> Any:
        if value is None:
            return None
        if len(value) < _HEADER.size or value[0] != MAGIC:
            return json.loads(value)
        _, schema_id = _HEADER.unpack_from(value)
        if schema_id not in self._schemas:
            body = self.schema(schema_id)
            avro = body.get("schemaType", "AVRO") == "AVRO"
            self._schemas[schema_id] = fastavro.parse_schema(json.loads(body["schema"])) if avro else None
        parsed = self._schemas[schema_id]
        if parsed is None:  # JSON Schema: the payload is JSON text
            return json.loads(value[_HEADER.size :])
        return fastavro.schemaless_reader(io.BytesIO(value[_HEADER.size :]), parsed, None)


def schema_id_of(value: bytes | None) -> int | None:
    """The schema id of a wire-format value; None for JSON or a tombstone."""
    if value is None or len(value) < _HEADER.size or value[0] != MAGIC:
        return None
    return int(_HEADER.unpack_from(value)[1])
