"""The Arrow Flight SQL server: Flight RPCs in, :class:`QueryService` requests out.

How a query travels (what ADBC's flightsql driver does for ``cursor.execute``)::

    DoAction CreatePreparedStatement(sql)  -> handle, dataset schema, parameter schema
    DoPut CommandPreparedStatementQuery     -> parameter rows bound to the handle
    GetFlightInfo CommandPreparedStatementQuery -> schema + a self-contained ticket
    DoGet ticket                            -> QueryService.execute, batches <= 16 MiB
    DoAction ClosePreparedStatement(handle)

``CommandStatementQuery`` skips the first two steps. Catalog commands
(``CommandGetTables`` ...) come back as their own ticket and are answered
from :meth:`QueryService.tables` at ``DoGet``.

Every call, whatever its RPC, first passes the call middleware: it reads the
``authorization`` header (``Bearer <token>``) and, when the server's
:class:`~daap.mesh.policy.authn.Authenticator` requires it, refuses a call
without a valid token with UNAUTHENTICATED and the reason, before any handler
runs. The caller it finds is the one every query of the call carries.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight
from google.protobuf.message import Message

from daap.errors import AuthenticationError
from daap.mesh.policy.authn import HEADER, LOCAL, Authenticator
from daap.query.engine import QueryResult
from daap.query.service import Caller, QueryRequest, QueryService
from daap.servers.flight import metadata
from daap.servers.flight.errors import InvalidArgument, Unsupported, translated
from daap.servers.flight.protocol import Protocol
from daap.servers.flight.statements import AT_HEADER, PreparedStatements, Ticket, parameter_schema, parse_at

MAX_BATCH_BYTES = 16 << 20
#: the query metrics' protocol label
FLIGHT = "flight"
_CREATE, _CLOSE = "CreatePreparedStatement", "ClosePreparedStatement"
_METADATA = {"CommandGetCatalogs", "CommandGetDbSchemas", "CommandGetTables", "CommandGetTableTypes"}
_WRITES = {"CommandStatementUpdate", "CommandPreparedStatementUpdate", "CommandStatementIngest"}


class _Call(flight.ServerMiddleware):  # type: ignore[misc]
    """What handlers need of a call's headers: who calls, and ``x-daap-at``."""

    def __init__(self, caller: Caller, at: str | None) -> None:
        self.caller = caller
        self.at = at


#: the calls that carry a query (DoAction: prepared statements): what the anonymous caller may make
_ANONYMOUS_METHODS = frozenset(
    {
        flight.FlightMethod.GET_FLIGHT_INFO,
        flight.FlightMethod.GET_SCHEMA,
        flight.FlightMethod.DO_GET,
        flight.FlightMethod.DO_ACTION,
    }
)


class _CallFactory(flight.ServerMiddlewareFactory):  # type: ignore[misc]
    """Authenticates every call and keeps what daap reads of its headers where handlers find it.

    pyarrow runs ``start_call`` before the handler, on the handler's thread; an
    exception raised here rejects the call with its status.
    """

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    def start_call(self, info: Any, headers: dict[str, list[str | bytes]]) -> _Call:
        try:
            # no credentials at all: the anonymous caller, who may ask for public products' data and
            # nothing else (no listings of actions or flights)
            anonymous = info.method in _ANONYMOUS_METHODS
            caller = self.authenticator.authenticate_header(_header(headers, HEADER), anonymous=anonymous)
        except AuthenticationError as exc:
            raise flight.FlightUnauthenticatedError(str(exc)).with_traceback(None) from None
        return _Call(caller, _header(headers, AT_HEADER))


class FlightSqlServer(flight.FlightServerBase):  # type: ignore[misc]
    """Serves the mesh's output ports over Arrow Flight SQL (read-only).

    Args:
        service: the one query path; every query and every catalog listing goes through it.
        location: where to listen; port 0 picks a free port (see :attr:`port`).
        tls_certificates: ``[(cert_pem, key_pem)]`` to serve TLS (``grpc+tls://``).
        authenticator: who calls (``authorization: Bearer <token>``); default nobody is asked and
            every call is the local caller.
    """

    def __init__(
        self,
        service: QueryService,
        location: str = "grpc://127.0.0.1:0",
        tls_certificates: list[tuple[bytes, bytes]] | None = None,
        *,
        max_prepared: int = 4096,
        authenticator: Authenticator | None = None,
    ) -> None:
        if tls_certificates and location.startswith("grpc://"):
            location = "grpc+tls://" + location.removeprefix("grpc://")
        middleware = {"daap": _CallFactory(authenticator or Authenticator())}
        super().__init__(location, tls_certificates=tls_certificates, middleware=middleware)
        self.service = service
        self.protocol = Protocol()
        self.prepared = PreparedStatements(max_prepared)
        self.open_streams = 0  # DoGet streams whose engine connection is still open
        self._count_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def serve_in_thread(self) -> FlightSqlServer:
        """Serve from a daemon thread (the server already listens); returns ``self``.

        The thread waits with ``wait()``, not ``serve()``: ``serve()`` installs
        its own SIGINT/SIGTERM handlers, which would take shutdown away from
        the process that embeds the server (``daap up``).
        """
        self._thread = threading.Thread(target=self.wait, name="daap-flight-sql", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        super().shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    # -- Flight RPCs ----------------------------------------------------------------

    @translated
    def get_flight_info(self, context: Any, descriptor: flight.FlightDescriptor) -> flight.FlightInfo:
        command = self._command(descriptor)
        name = command.DESCRIPTOR.name
        if name in _METADATA or name == "CommandGetSqlInfo":
            schema, ticket = self._metadata(command, _caller(context)).schema, self.protocol.pack(command)
        else:
            plan = self._plan(command, context)
            schema = self._schema(plan, _caller(context))
            handle = plan.encode()
            ticket = self.protocol.pack(self.protocol.new("TicketStatementQuery", statement_handle=handle))
        endpoint = flight.FlightEndpoint(ticket, [])
        return flight.FlightInfo(schema, descriptor, [endpoint], -1, -1)

    def get_schema(self, context: Any, descriptor: flight.FlightDescriptor) -> flight.SchemaResult:
        return flight.SchemaResult(self.get_flight_info(context, descriptor).schema)

    @translated
    def do_get(self, context: Any, ticket: flight.Ticket) -> flight.FlightDataStream:
        command = self.protocol.unpack(ticket.ticket)
        name = command.DESCRIPTOR.name
        if name in _METADATA or name == "CommandGetSqlInfo":
            return flight.RecordBatchStream(self._metadata(command, _caller(context)))
        if name != "TicketStatementQuery":
            raise InvalidArgument(f"{name} is not a ticket; send it with GetFlightInfo first")
        return self._stream(Ticket.decode(command.statement_handle), _caller(context))

    @translated
    def do_put(self, context: Any, descriptor: Any, reader: Any, writer: Any) -> None:
        command = self._command(descriptor)
        name = command.DESCRIPTOR.name
        if name != "CommandPreparedStatementQuery":
            raise Unsupported(_read_only(name))
        handle = command.prepared_statement_handle
        self.prepared.bind(handle, reader.read_all())
        result = self.protocol.new("DoPutPreparedStatementResult", prepared_statement_handle=handle)
        writer.write(pa.py_buffer(result.SerializeToString()))

    @translated
    def do_action(self, context: Any, action: flight.Action) -> Iterator[flight.Result]:
        if action.type == _CREATE:
            request = self._body(action, "ActionCreatePreparedStatementRequest")
            return iter([flight.Result(self._create(request.query, context))])
        if action.type == _CLOSE:
            request = self._body(action, "ActionClosePreparedStatementRequest")
            self.prepared.close(request.prepared_statement_handle)
            return iter([])
        raise Unsupported(f"action {action.type!r} is not supported (supported: {_CREATE}, {_CLOSE})")

    def list_actions(self, context: Any) -> list[tuple[str, str]]:
        return [(_CREATE, "prepare a read-only query"), (_CLOSE, "free a prepared statement")]

    # -- helpers ----------------------------------------------------------------------

    def _command(self, descriptor: flight.FlightDescriptor) -> Message:
        if descriptor.descriptor_type != flight.DescriptorType.CMD:
            raise InvalidArgument("Flight SQL descriptors are commands; path descriptors are not served")
        return self.protocol.unpack(descriptor.command)

    def _body(self, action: flight.Action, expected: str) -> Any:
        body = self.protocol.unpack(action.body.to_pybytes())
        if body.DESCRIPTOR.name != expected:
            raise InvalidArgument(f"{action.type} expects {expected}, got {body.DESCRIPTOR.name}")
        return body

    def _create(self, sql: str, context: Any) -> bytes:
        """Check and describe the query now, so mistakes surface at prepare time."""
        at = _at(context)
        schema = self.service.schema(QueryRequest(sql, (), parse_at(at), _caller(context), FLIGHT))
        handle = self.prepared.add(sql)
        result = self.protocol.new(
            "ActionCreatePreparedStatementResult",
            prepared_statement_handle=handle,
            dataset_schema=schema.serialize().to_pybytes(),
            parameter_schema=parameter_schema(sql).serialize().to_pybytes(),
        )
        return self.protocol.pack(result)

    def _plan(self, command: Message, context: Any) -> Ticket:
        name = command.DESCRIPTOR.name
        if name == "CommandStatementQuery":
            return Ticket(command.query, at=_at(context))  # type: ignore[attr-defined]
        if name == "CommandPreparedStatementQuery":
            prepared = self.prepared.get(command.prepared_statement_handle)  # type: ignore[attr-defined]
            return Ticket(prepared.sql, prepared.params, _at(context))
        if name in _WRITES:
            raise Unsupported(_read_only(name))
        raise Unsupported(f"{name} is not supported by daap's Flight SQL server")

    def _schema(self, plan: Ticket, caller: Caller) -> pa.Schema:
        """The result schema; with bound parameters their real types, as the stream will have."""
        params = next(plan.runs())
        if not params:
            return self.service.schema(QueryRequest(plan.sql, (), parse_at(plan.at), caller, FLIGHT))
        probe = f"SELECT * FROM ({plan.sql.strip().rstrip(';')}) AS q LIMIT 0"
        result = self.service.execute(
            QueryRequest(probe, params, parse_at(plan.at), caller, FLIGHT), probe=True
        )
        try:
            return result.schema
        finally:
            result.close()

    def _stream(self, plan: Ticket, caller: Caller) -> flight.RecordBatchStream:
        """Run every parameter set (the first now, so errors come before any data) as one stream."""
        runs = list(plan.runs())
        at = parse_at(plan.at)

        def run(params: Any) -> QueryResult:
            return self.service.execute(QueryRequest(plan.sql, params, at, caller, FLIGHT))

        first = run(runs[0])
        batches = self._batches(itertools.chain([first], map(run, runs[1:])))
        return flight.RecordBatchStream(pa.RecordBatchReader.from_batches(first.schema, batches))

    def _batches(self, results: Iterator[QueryResult]) -> Iterator[pa.RecordBatch]:
        """Batches of every run, none over 16 MiB; each engine connection closed when done or abandoned."""
        self._count(+1)
        try:
            for result in results:
                try:
                    for batch in result.reader:
                        yield from rechunk(batch, MAX_BATCH_BYTES)
                finally:
                    result.close()
        finally:
            self._count(-1)

    def _count(self, delta: int) -> None:
        with self._count_lock:
            self.open_streams += delta

    def _metadata(self, command: Message, caller: Caller) -> pa.Table:
        cmd: Any = command
        name = command.DESCRIPTOR.name
        if name == "CommandGetSqlInfo":
            return metadata.sql_info(list(cmd.info))
        if name == "CommandGetCatalogs":
            return metadata.catalogs()
        if name == "CommandGetTableTypes":
            return metadata.table_types()
        catalog = cmd.catalog if cmd.HasField("catalog") else None
        schemas = cmd.db_schema_filter_pattern if cmd.HasField("db_schema_filter_pattern") else None
        if name == "CommandGetDbSchemas":
            return metadata.db_schemas((t.product for t in self.service.tables(caller)), catalog, schemas)
        tables = cmd.table_name_filter_pattern if cmd.HasField("table_name_filter_pattern") else None
        found = self.service.tables(caller)
        return metadata.tables(found, catalog, schemas, tables, list(cmd.table_types), cmd.include_schema)


def rechunk(batch: pa.RecordBatch, limit: int) -> Iterator[pa.RecordBatch]:
    """``batch`` as slices of at most ``limit`` bytes (by average row size), so clients' limits hold."""
    size = batch.nbytes
    if size <= limit or batch.num_rows <= 1:
        yield batch
        return
    rows = max(1, batch.num_rows * limit // size)
    for start in range(0, batch.num_rows, rows):
        yield from rechunk(batch.slice(start, rows), limit)  # uneven rows: check each slice again


def _read_only(command: str) -> str:
    return f"{command}: daap's Flight SQL server is read-only; products change by building them (daap build)"


def _header(headers: dict[str, list[str | bytes]], name: str) -> str | None:
    """The last value of a call header (gRPC header names are lowercase)."""
    values = headers.get(name) or []
    if not values:
        return None
    value = values[-1]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _at(context: Any) -> str | None:
    call = context.get_middleware("daap")
    return call.at if call is not None else None


def _caller(context: Any) -> Caller:
    """Who is asking: the caller the call middleware authenticated."""
    call = context.get_middleware("daap")
    return call.caller if call is not None else LOCAL
