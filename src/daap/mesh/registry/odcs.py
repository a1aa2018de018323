"""An output port's ODCS contract as Avro and as JSON Schema: what the registry guards.

Subjects follow Kafka's TopicNameStrategy on the port's topic:
``daap.<product>.<port>-value`` for rows, ``daap.<product>.<port>-key`` for the
primary key. Each column maps by the DuckDB type the contract gate casts to:

==================  ===============================================  ===============================
contract type       Avro                                             JSON Schema
==================  ===============================================  ===============================
VARCHAR             ``string``                                       ``string``
BIGINT              ``long``                                         ``integer``
INTEGER, SMALLINT   ``int``                                          ``integer``
DOUBLE              ``double``                                       ``number``
FLOAT               ``float``                                        ``number``
DECIMAL(p,s)        ``bytes`` + ``decimal`` (precision p, scale s)   ``string`` (decimal text)
BOOLEAN             ``boolean``                                      ``boolean``
DATE                ``int`` + ``date``                               ``string``, format ``date``
TIMESTAMP           ``long`` + ``local-timestamp-micros``            ``string``, format ``date-time``
TIMESTAMPTZ         ``long`` + ``timestamp-micros``                  ``string``, format ``date-time``
TIME                ``long`` + ``time-micros``                       ``string``, format ``time``
object (STRUCT)     record named by its path (``Value_address``)     closed ``object``
array (``T[]``)     ``array`` of the items' type                     ``array`` with ``items``
==================  ===============================================  ===============================

A column that is neither required nor part of the primary key may be null:
in Avro a union ``["null", T]`` with default null, in JSON Schema ``[T, "null"]``
and not ``required``; so adding an optional column is a compatible change, and
adding a required one is not (old data lacks it). Contract column descriptions become ``doc``s.
JSON values follow the change events' canonical JSON (decimals as strings,
times in ISO 8601). The JSON Schemas are closed (``additionalProperties: false``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from daap.spec.model import ColumnSpec, ContractSpec

_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")

_AVRO: dict[str, Any] = {
    "VARCHAR": "string",
    "BIGINT": "long",
    "INTEGER": "int",
    "SMALLINT": "int",
    "DOUBLE": "double",
    "FLOAT": "float",
    "BOOLEAN": "boolean",
    "DATE": {"type": "int", "logicalType": "date"},
    "TIMESTAMP": {"type": "long", "logicalType": "local-timestamp-micros"},
    "TIMESTAMPTZ": {"type": "long", "logicalType": "timestamp-micros"},
    "TIME": {"type": "long", "logicalType": "time-micros"},
}

_JSON: dict[str, dict[str, Any]] = {
    "VARCHAR": {"type": "string"},
    "BIGINT": {"type": "integer"},
    "INTEGER": {"type": "integer"},
    "SMALLINT": {"type": "integer"},
    "DOUBLE": {"type": "number"},
    "FLOAT": {"type": "number"},
    "BOOLEAN": {"type": "boolean"},
    "DATE": {"type": "string", "format": "date"},
    "TIMESTAMP": {"type": "string", "format": "date-time"},
    "TIMESTAMPTZ": {"type": "string", "format": "date-time"},
    "TIME": {"type": "string", "format": "time"},
}


def value_subject(product: str, port: str) -> str:
    return f"daap.{product}.{port}-value"


def key_subject(product: str, port: str) -> str:
    return f"daap.{product}.{port}-key"


def nullable(column: ColumnSpec) -> bool:
    return column.nullable


class _Names:
    """Avro names for nested records, one per path (``Value_address_geo``): stable
    across contract versions, so the registry resolves each record against its
    earlier self; a clash (``a_b`` beside ``a.b``) gets a numbered suffix."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, path: str) -> str:
        name, n = path, 1
        while name in self.used:
            n += 1
            name = f"{path}_{n}"
        self.used.add(name)
        return name


def avro_type(column: ColumnSpec, path: str = "Value", names: _Names | None = None) -> Any:
    """The Avro type of a column (without the null branch); ``path`` names its nested records."""
    names = names or _Names()
    if column.logical_type == "object":
        return avro_record_type(column.fields, names(f"{path}_{column.name}"), f"{path}_{column.name}", names)
    if column.logical_type == "array":
        assert column.items is not None
        return {"type": "array", "items": _nullable_avro(column.items, f"{path}_{column.name}", names)}
    decimal = _DECIMAL.fullmatch(column.sql_type.replace(" ", ""))
    if decimal:
        precision, scale = int(decimal.group(1)), int(decimal.group(2))
        return {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}
    found = _AVRO.get(column.sql_type)
    if found is None:
        raise ValueError(f"column {column.name!r}: no Avro type for {column.sql_type}")
    return found


def _nullable_avro(column: ColumnSpec, path: str, names: _Names) -> Any:
    kind = avro_type(column, path, names)
    return ["null", kind] if nullable(column) else kind


def avro_record_type(
    columns: tuple[ColumnSpec, ...], name: str, path: str, names: _Names, namespace: str | None = None
) -> dict[str, Any]:
    fields = []
    for column in columns:
        field: dict[str, Any] = {"name": column.name, "type": _nullable_avro(column, path, names)}
        if nullable(column):
            field["default"] = None
        if column.description:
            field["doc"] = column.description
        fields.append(field)
    record: dict[str, Any] = {"type": "record", "name": name, "fields": fields}
    if namespace:
        record["namespace"] = namespace
    return record


def avro_record(product: str, port: str, columns: tuple[ColumnSpec, ...], name: str) -> dict[str, Any]:
    names = _Names()
    names(name)
    return avro_record_type(columns, name, name, names, f"daap.{product}.{port}")


def avro_value(product: str, port: str, contract: ContractSpec) -> str:
    """The Avro schema of the port's rows, as registry text."""
    return json.dumps(avro_record(product, port, contract.columns, "Value"), separators=(",", ":"))


def avro_envelope(product: str, port: str, contract: ContractSpec) -> str:
    """The Avro schema of the port's change events (the Debezium envelope around the rows):
    what ``daap.<product>.<port>-value`` holds, as registry text."""
    namespace = f"daap.{product}.{port}"
    source = {
        "type": "record",
        "name": "Source",
        "fields": [
            {"name": "product", "type": "string"},
            {"name": "port", "type": "string"},
            {"name": "version", "type": "long"},
            {"name": "snapshot_id", "type": "long"},
            {"name": "build_id", "type": "string"},
            {"name": "ts_ms", "type": "long"},
        ],
    }
    envelope = {
        "type": "record",
        "name": "Envelope",
        "namespace": namespace,
        "fields": [
            {
                "name": "before",
                "type": ["null", avro_record(product, port, contract.columns, "Value")],
                "default": None,
            },
            {"name": "after", "type": ["null", "Value"], "default": None},
            {"name": "op", "type": "string"},
            {"name": "source", "type": source},
            {"name": "ts_ms", "type": "long"},
        ],
    }
    return json.dumps(envelope, separators=(",", ":"))


def avro_key(product: str, port: str, contract: ContractSpec) -> str | None:
    """The Avro schema of the port's primary key; None without one."""
    if not contract.primary_key:
        return None
    columns = tuple(c for name in contract.primary_key for c in contract.columns if c.name == name)
    return json.dumps(avro_record(product, port, columns, "Key"), separators=(",", ":"))


def json_envelope(product: str, port: str, contract: ContractSpec) -> str:
    """The JSON Schema of the port's change events (draft 7): the envelope around the rows."""
    row = json.loads(json_value(product, port, contract))
    for key in ("$schema", "title"):
        row.pop(key)
    nullable_row = {"oneOf": [{"type": "null"}, {"$ref": "#/definitions/Value"}]}
    text = {"type": "string"}
    number = {"type": "integer"}
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"daap.{product}.{port}.Envelope",
        "type": "object",
        "definitions": {"Value": row},
        "properties": {
            "before": nullable_row,
            "after": nullable_row,
            "op": {"type": "string", "enum": ["c", "u", "d", "r"]},
            "source": {
                "type": "object",
                "properties": {
                    "product": text,
                    "port": text,
                    "version": number,
                    "snapshot_id": number,
                    "build_id": text,
                    "ts_ms": number,
                },
                "required": ["product", "port", "version", "snapshot_id", "build_id", "ts_ms"],
            },
            "ts_ms": number,
        },
        "required": ["before", "after", "op", "source", "ts_ms"],
    }
    return json.dumps(schema, separators=(",", ":"))


def json_key(product: str, port: str, contract: ContractSpec) -> str | None:
    """The JSON Schema of the port's primary key; None without one."""
    if not contract.primary_key:
        return None
    row = json.loads(json_value(product, port, contract))
    keys = list(contract.primary_key)
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"daap.{product}.{port}.Key",
        "type": "object",
        "properties": {k: row["properties"][k] for k in keys},
        "required": keys,
        "additionalProperties": False,
    }
    return json.dumps(schema, separators=(",", ":"))


def json_type(column: ColumnSpec) -> dict[str, Any]:
    """The JSON Schema of one column's values (null allowed when the column is nullable)."""
    if column.logical_type == "object":
        prop = json_object(column.fields)
    elif column.logical_type == "array":
        assert column.items is not None
        prop = {"type": "array", "items": json_type(column.items)}
    elif _DECIMAL.fullmatch(column.sql_type.replace(" ", "")):
        prop = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}
    else:
        prop = dict(_JSON.get(column.sql_type) or {"type": "string"})
    if nullable(column):
        prop["type"] = [prop["type"], "null"]
    if column.description:
        prop["description"] = column.description
    return prop


def json_object(columns: tuple[ColumnSpec, ...]) -> dict[str, Any]:
    """A closed JSON Schema object with one property per column."""
    return {
        "type": "object",
        "properties": {c.name: json_type(c) for c in columns},
        "required": [c.name for c in columns if not nullable(c)],
        "additionalProperties": False,
    }


def json_value(product: str, port: str, contract: ContractSpec) -> str:
    """The JSON Schema of the port's rows (draft 7), as registry text."""
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"daap.{product}.{port}",
        **json_object(contract.columns),
    }
    return json.dumps(schema, separators=(",", ":"))
