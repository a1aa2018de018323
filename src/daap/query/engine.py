"""The one query path: SQL -> guard -> resolve ports at versions -> DuckDB -> Arrow.

Every protocol ends here. Each ``<product>.<port>`` the query reads becomes a
view over the files of the requested version's snapshot, on a fresh engine
connection whose access to the file system is limited to the warehouse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from daap.errors import QueryError
from daap.mesh.workspace import At, PortData, Workspace
from daap.query.guard import PortRef, check_query
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

    @property
    def schema(self) -> pa.Schema:
        return self.reader.schema

    def read_all(self) -> pa.Table:
        try:
            return self.reader.read_all()
        finally:
            self.close()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


class QueryEngine:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def execute(self, sql: str, at: AtSpec = None, params: Any = ()) -> QueryResult:
        """Run a read-only query.

        Raises:
            QueryRefused: not a read-only query.
            NotFound: an unknown product, port or version.
            QueryError: the engine rejected the query (message says where).
        """
        refs = check_query(sql)
        ports = [self.ws.port_data(r.product, r.port, _at_for(at, r)) for r in refs]
        return self.run(sql, ports, params)

    def run(self, sql: str, ports: list[PortData], params: Any = ()) -> QueryResult:
        """Run checked ``sql`` over ``ports`` (already resolved to versions)."""
        con = self._connect(ports)
        try:
            reader = con.sql(sql, params=params or None).to_arrow_reader(BATCH_ROWS)
        except duckdb.Error as exc:
            con.close()
            raise QueryError(engine.error_message(str(exc), lines=4)) from exc
        versions = {p.product: p.version.version for p in ports}
        return QueryResult(reader=reader, versions=versions, _con=con)

    def relation_schema(self, relation: engine.Relation) -> pa.Schema:
        """Columns of a port's relation, from file metadata only."""
        con = engine.connect()
        try:
            engine.register(con, "t", relation)
            return con.sql("SELECT * FROM t LIMIT 0").to_arrow_table().schema
        finally:
            con.close()

    def _connect(self, ports: list[PortData]) -> Any:
        con = engine.connect()
        for data in ports:
            engine.register(con, data.port, data.relation, schema=data.product)
        warehouse = str(self.ws.config.warehouse.resolve()) + "/"
        con.execute(f"SET allowed_directories = [{engine.literal(warehouse)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con


def _at_for(at: AtSpec, ref: PortRef) -> At:
    if isinstance(at, Mapping):
        return at.get(ref.product)
    return at
