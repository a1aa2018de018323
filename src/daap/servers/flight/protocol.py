"""The Flight SQL messages daap speaks, built from a table at runtime.

Flight SQL (``format/FlightSql.proto`` in apache/arrow) puts every command in a
``google.protobuf.Any``: ``FlightDescriptor.cmd``, ``Ticket.ticket`` and
``Action.body`` hold ``Any(type_url="type.googleapis.com/arrow.flight.protocol.sql.X",
value=X.SerializeToString())``. We need about twenty of its messages, all flat
(scalars, bytes, repeated scalars), so instead of committing generated
``_pb2`` code (which pins the protobuf runtime to the generator's version) we
declare them here with the specification's package, names and field numbers
and let protobuf build the classes. The file is proto2 so that every field
tracks presence (``HasField``), which covers the spec's proto3 ``optional``
fields; the wire format is the same.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from daap.servers.flight.errors import InvalidArgument

PACKAGE = "arrow.flight.protocol.sql"
TYPE_URL_PREFIX = f"type.googleapis.com/{PACKAGE}."

_F = descriptor_pb2.FieldDescriptorProto
_STRING, _BYTES, _BOOL, _INT32, _INT64, _UINT32 = (
    _F.TYPE_STRING,
    _F.TYPE_BYTES,
    _F.TYPE_BOOL,
    _F.TYPE_INT32,
    _F.TYPE_INT64,
    _F.TYPE_UINT32,
)
_REPEATED = True

#: message name -> fields as (name, number, type[, repeated]), as in FlightSql.proto
MESSAGES: dict[str, tuple[tuple[Any, ...], ...]] = {
    "CommandGetSqlInfo": (("info", 1, _UINT32, _REPEATED),),
    "CommandGetXdbcTypeInfo": (("data_type", 1, _INT32),),
    "CommandGetCatalogs": (),
    "CommandGetDbSchemas": (("catalog", 1, _STRING), ("db_schema_filter_pattern", 2, _STRING)),
    "CommandGetTables": (
        ("catalog", 1, _STRING),
        ("db_schema_filter_pattern", 2, _STRING),
        ("table_name_filter_pattern", 3, _STRING),
        ("table_types", 4, _STRING, _REPEATED),
        ("include_schema", 5, _BOOL),
    ),
    "CommandGetTableTypes": (),
    "CommandGetPrimaryKeys": (("catalog", 1, _STRING), ("db_schema", 2, _STRING), ("table", 3, _STRING)),
    "CommandGetExportedKeys": (("catalog", 1, _STRING), ("db_schema", 2, _STRING), ("table", 3, _STRING)),
    "CommandGetImportedKeys": (("catalog", 1, _STRING), ("db_schema", 2, _STRING), ("table", 3, _STRING)),
    "ActionCreatePreparedStatementRequest": (("query", 1, _STRING), ("transaction_id", 2, _BYTES)),
    "ActionCreatePreparedStatementResult": (
        ("prepared_statement_handle", 1, _BYTES),
        ("dataset_schema", 2, _BYTES),
        ("parameter_schema", 3, _BYTES),
    ),
    "ActionClosePreparedStatementRequest": (("prepared_statement_handle", 1, _BYTES),),
    "CommandStatementQuery": (("query", 1, _STRING), ("transaction_id", 2, _BYTES)),
    "TicketStatementQuery": (("statement_handle", 1, _BYTES),),
    "CommandPreparedStatementQuery": (("prepared_statement_handle", 1, _BYTES),),
    # writes: recognised only so that the refusal can name them
    "CommandStatementUpdate": (("query", 1, _STRING), ("transaction_id", 2, _BYTES)),
    "CommandPreparedStatementUpdate": (("prepared_statement_handle", 1, _BYTES),),
    "CommandStatementIngest": (),
    "CommandStatementSubstraitPlan": (),
    "DoPutPreparedStatementResult": (("prepared_statement_handle", 1, _BYTES),),
}


def _file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(name="daap/flight_sql.proto", package=PACKAGE, syntax="proto2")
    for name, fields in MESSAGES.items():
        message = proto.message_type.add(name=name)
        for spec in fields:
            label = _F.LABEL_REPEATED if len(spec) > 3 else _F.LABEL_OPTIONAL
            message.field.add(name=spec[0], number=spec[1], type=spec[2], label=label)
    return proto


def _classes() -> dict[str, type[Message]]:
    """One class per message, in a private pool (no clash with other Flight SQL code)."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_file())
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))
        for name in MESSAGES
    }


class Protocol:
    """Packs and unpacks Flight SQL commands; build one per server (no import-time work)."""

    def __init__(self) -> None:
        self.classes = _classes()

    def new(self, name: str, **fields: Any) -> Message:
        return self.classes[name](**fields)

    def pack(self, message: Message) -> bytes:
        """``message`` wrapped in an ``Any``, serialised (what goes in a descriptor or ticket)."""
        wrapped = any_pb2.Any(type_url=TYPE_URL_PREFIX + message.DESCRIPTOR.name)
        wrapped.value = message.SerializeToString()
        return bytes(wrapped.SerializeToString())

    def unpack(self, data: bytes) -> Message:
        """The command in serialised ``Any`` bytes.

        Raises:
            ValueError: not an ``Any``, not a Flight SQL type daap knows, or a corrupt body.
        """
        wrapped = any_pb2.Any()
        try:
            wrapped.ParseFromString(data)
        except DecodeError as exc:
            raise InvalidArgument("the command is not a Flight SQL command (not a protobuf Any)") from exc
        if not wrapped.type_url.startswith(TYPE_URL_PREFIX):
            shown = wrapped.type_url[:80] or "none"
            raise InvalidArgument(f"unknown command type {shown!r}: expected a Flight SQL command")
        name = wrapped.type_url[len(TYPE_URL_PREFIX) :]
        cls = self.classes.get(name)
        if cls is None:
            raise InvalidArgument(f"the Flight SQL command {name} is not supported by daap")
        message = cls()
        try:
            message.ParseFromString(wrapped.value)
        except DecodeError as exc:
            raise InvalidArgument(f"the {name} command is corrupt: {exc}") from exc
        return message
