"""An emulated ``pg_catalog`` and ``information_schema``, built from the published ports.

Clients (psql ``\\dt``, SQLAlchemy, BI tools) learn about tables by querying the
system catalogs. We answer those queries on a separate, locked-down DuckDB
connection that holds small tables shaped like PostgreSQL's (schemas ``daap_pg`` and
``daap_is``; :mod:`~daap.servers.pgwire.router` rewrites references to them) plus
macros for the catalog functions. It never holds product data: only names, types
and descriptions from :meth:`QueryService.tables`, rebuilt when they are older than
``max_age`` seconds. One schema per product, one relation per output port.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import duckdb
import pyarrow as pa

from daap.errors import QueryError
from daap.query.service import QueryService, TableInfo
from daap.runtime import engine
from daap.servers.pgwire import types as pgt
from daap.servers.pgwire.catalog_schema import MACROS, SETTINGS, TABLES, VERSION, VIEWS

NAMESPACE_OID, CLASS_OID = 16_384, 24_576


class Catalog:
    """The catalog connection; thread-safe (each query runs on its own cursor)."""

    def __init__(
        self, service: QueryService, *, max_age: float = 2.0, visible: frozenset[str] | None = None
    ) -> None:
        self.service = service
        self.max_age = max_age
        #: the products it shows; None: every one
        self.visible = visible
        self._con = duckdb.connect()
        self._lock = threading.Lock()
        self._built = -1.0
        self._create()

    def query(self, sql: str, params: list[Any]) -> pa.Table:
        """Run a rewritten catalog query (DuckDB SQL) over fresh catalog tables."""
        self.refresh()
        cursor = self._con.cursor()
        try:
            return cursor.sql(sql, params=params or None).to_arrow_table()
        except duckdb.Error as exc:
            raise QueryError(engine.error_message(str(exc), lines=4)) from exc
        finally:
            cursor.close()

    def refresh(self, force: bool = False) -> None:
        with self._lock:
            if not force and time.monotonic() - self._built < self.max_age:
                return
            tables = self.service.tables()
            if self.visible is not None:
                tables = [t for t in tables if t.product in self.visible]
            rows = _rows(tables)
            self._con.execute("BEGIN")
            for name, values in rows.items():
                self._con.execute(f"DELETE FROM {name}")
                if values:
                    marks = ", ".join("?" * len(values[0]))
                    self._con.executemany(f"INSERT INTO {name} VALUES ({marks})", values)
            self._con.execute("COMMIT")
            self._built = time.monotonic()

    def close(self) -> None:
        self._con.close()

    def _create(self) -> None:
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("CREATE SCHEMA daap_pg; CREATE SCHEMA daap_is")
        for name, columns in TABLES.items():
            self._con.execute(f"CREATE TABLE {name} ({columns})")
        for view in VIEWS:
            self._con.execute(f"CREATE VIEW {view}")
        for macro in MACROS:
            self._con.execute(f"CREATE OR REPLACE MACRO {macro}")
        self._con.executemany("INSERT INTO daap_pg.types VALUES (?, ?, ?, ?, ?, ?, ?)", _types())
        self._con.executemany("INSERT INTO daap_pg.settings VALUES (?, ?)", list(SETTINGS.items()))
        self._con.execute("SET enable_external_access = false")
        self._con.execute("SET lock_configuration = true")


def _types() -> list[tuple[Any, ...]]:
    """pg_type rows: (oid, typname, typlen, typtype, typelem, typarray, display name)."""
    short = {"boolean": "bool", "bigint": "int8", "smallint": "int2", "integer": "int4", "real": "float4"}
    short |= {"double precision": "float8", "character varying": "varchar", "time without time zone": "time"}
    short |= {"timestamp without time zone": "timestamp", "timestamp with time zone": "timestamptz"}
    arrays = {elem: oid for oid, _, elem in pgt.ARRAYS}
    rows: list[tuple[Any, ...]] = [
        (t.oid, short.get(t.name, t.name), t.size, "b", 0, arrays.get(t.oid, 0), t.name) for t in pgt.ALL
    ]
    rows += [(oid, name, -1, "b", elem, 0, name[1:] + "[]") for oid, name, elem in pgt.ARRAYS]
    return rows


def _rows(tables: list[TableInfo]) -> dict[str, list[tuple[Any, ...]]]:
    """Rows of every catalog table that depends on the published ports."""
    products = sorted({t.product for t in tables})
    nsp = {p: NAMESPACE_OID + i for i, p in enumerate(products)}
    namespaces = [(oid, name, None) for name, oid in [("public", 2200), *nsp.items()]]
    classes, attributes, descriptions, columns = [], [], [], []
    for i, table in enumerate(tables):
        oid = CLASS_OID + i
        classes.append((oid, table.port, nsp[table.product], len(table.columns)))
        if table.description:
            descriptions.append((oid, 1259, 0, table.description))
        for num, col in enumerate(table.columns, start=1):
            kind = pgt.pg_type(col.type)
            attributes.append((oid, col.name, kind.oid, kind.size, num, kind.typmod, not col.nullable))
            columns.append(_information_column(table, num, col.name, kind, col.nullable))
            if col.description:
                descriptions.append((oid, 1259, num, col.description))
    return {
        "daap_pg.ns": namespaces,
        "daap_pg.rel": classes,
        "daap_pg.attr": attributes,
        "daap_pg.pg_description": descriptions,
        "daap_is.cols": columns,
    }


def _information_column(
    table: TableInfo, num: int, name: str, kind: pgt.PgType, nullable: bool
) -> tuple[Any, ...]:
    precision = scale = None
    if kind.oid == pgt.NUMERIC.oid and kind.typmod >= 4:
        precision, scale = (kind.typmod - 4) >> 16, (kind.typmod - 4) & 0xFFFF
    udt = next(r[1] for r in _types() if r[0] == kind.oid)
    data_type = kind.name
    return (
        table.product,
        table.port,
        name,
        num,
        "YES" if nullable else "NO",
        data_type,
        precision,
        scale,
        udt,
    )


__all__ = ["VERSION", "Catalog"]
