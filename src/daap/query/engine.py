"""The one query path: SQL -> guard -> resolve ports at versions -> DuckDB -> Arrow.

Every protocol ends here. Each ``<product>.<port>`` the query reads becomes a
view over the files of the requested version's snapshot, on a fresh engine
connection whose access to the file system is limited to the warehouse.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from daap.errors import QueryError
from daap.mesh.workspace import At, PortData, Workspace
from daap.query.guard import PortRef, needs_rewrite, parse_query
from daap.runtime import engine

#: one version or time for every product, or per product (missing = latest)
AtSpec = At | Mapping[str, At]
BATCH_ROWS = 64 * 1024


@dataclass
class QueryResult:
    """A running query. Read ``reader`` (Arrow batches), then :meth:`close`."""

    reader: pa.RecordBatchReader
    versions: dict[str, int] = field(default_factory=dict)
    _con: Any = None
    from_cache: bool = False
    #: gives the connection back to its pool instead of closing it
    _release: Callable[[Any], None] | None = None

    @property
    def schema(self) -> pa.Schema:
        return self.reader.schema

    def read_all(self) -> pa.Table:
        try:
            return self.reader.read_all()
        finally:
            self.close()

    def close(self) -> None:
        con, self._con = self._con, None
        if con is None:
            return
        if self._release is not None:
            self._release(con)
        else:
            con.close()


class QueryEngine:
    """Runs checked SQL on pooled engine connections, each locked to the warehouse.

    Opening a DuckDB connection costs about 10 ms, a tenth of a small query's
    budget, so idle connections are kept (``POOL`` at most). Each serves one
    query at a time; the views of the versions a query reads are replaced on
    it before the query runs. Queries cannot change a connection: the guard
    lets only read-only queries through and the configuration is locked.
    """

    POOL = 4

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    def execute(self, sql: str, at: AtSpec = None, params: Any = ()) -> QueryResult:
        """Run a read-only query.

        Raises:
            QueryRefused: not a read-only query.
            NotFound: an unknown product, port or version.
            QueryError: the engine rejected the query (message says where).
        """
        tree, refs = parse_query(sql)
        ports = [self.ws.port_data(r.product, r.port, _at_for(at, r)) for r in refs]
        return self.run(tree.sql("duckdb") if needs_rewrite(tree) else sql, ports, params)

    def run(self, sql: str, ports: list[PortData], params: Any = ()) -> QueryResult:
        """Run checked ``sql`` over ``ports`` (already resolved to versions)."""
        con = self._connect(ports)
        try:
            reader = con.sql(sql, params=params or None).to_arrow_reader(BATCH_ROWS)
        except duckdb.Error as exc:
            con.close()
            raise QueryError(engine.error_message(str(exc), lines=4)) from exc
        versions = {p.product: p.version.version for p in ports}
        # the engine's own reader is closed before the connection goes back to
        # the pool: a connection with an undrained result refuses new queries
        return QueryResult(
            reader=reader, versions=versions, _con=con, _release=functools.partial(self._finish, reader)
        )

    def _finish(self, reader: pa.RecordBatchReader, con: Any) -> None:
        reader.close()
        self._give_back(con)

    def relation_schema(self, relation: engine.Relation) -> pa.Schema:
        """Columns of a port's relation, from file metadata only."""
        con = self._take()
        try:
            engine.register(con, "__schema_probe", relation)
            return con.sql("SELECT * FROM __schema_probe LIMIT 0").to_arrow_table().schema
        finally:
            self._give_back(con)

    def _connect(self, ports: list[PortData]) -> Any:
        """A locked connection with a view ``product.port`` for each port, at its version."""
        con = self._take()
        try:
            for data in ports:
                engine.register(con, data.port, data.relation, schema=data.product)
        except BaseException:
            con.close()
            raise
        return con

    def _take(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        con = engine.connect()
        warehouse = str(self.ws.config.warehouse.resolve()) + "/"
        con.execute(f"SET allowed_directories = [{engine.literal(warehouse)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con

    def _give_back(self, con: Any) -> None:
        with self._lock:
            if len(self._idle) < self.POOL:
                self._idle.append(con)
                return
        con.close()

    def close(self) -> None:
        """Close the idle connections (queries still running keep theirs)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for con in idle:
            con.close()


def _at_for(at: AtSpec, ref: PortRef) -> At:
    if isinstance(at, Mapping):
        return at.get(ref.product)
    return at
