"""Flight SQL catalog metadata as Arrow tables, with the result schemas the spec fixes.

The mesh maps onto Flight SQL's three levels as SQL sees it: one catalog
(``daap``), one database schema per published product, one table per output
port, so ``<product>.<port>`` in a query is ``db_schema.table`` here. Each
function takes what :class:`~daap.query.service.QueryService` knows and
returns the table a ``DoGet`` on the matching command streams.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import pyarrow as pa

from daap import __version__
from daap.query.service import TableInfo

CATALOG = "daap"
TABLE_TYPE = "TABLE"

CATALOGS_SCHEMA = pa.schema([pa.field("catalog_name", pa.utf8(), False)])
DB_SCHEMAS_SCHEMA = pa.schema(
    [pa.field("catalog_name", pa.utf8()), pa.field("db_schema_name", pa.utf8(), False)]
)
TABLES_SCHEMA = pa.schema(
    [
        pa.field("catalog_name", pa.utf8()),
        pa.field("db_schema_name", pa.utf8()),
        pa.field("table_name", pa.utf8(), False),
        pa.field("table_type", pa.utf8(), False),
    ]
)
TABLES_WITH_SCHEMA = TABLES_SCHEMA.append(pa.field("table_schema", pa.binary(), False))
TABLE_TYPES_SCHEMA = pa.schema([pa.field("table_type", pa.utf8(), False)])

#: the dense union of CommandGetSqlInfo results; type codes 0..5 in this order
_VALUE_FIELDS = (
    pa.field("string_value", pa.utf8()),
    pa.field("bool_value", pa.bool_()),
    pa.field("bigint_value", pa.int64()),
    pa.field("int32_bitmask", pa.int32()),
    pa.field("string_list", pa.list_(pa.utf8())),
    pa.field("int32_to_int32_list_map", pa.map_(pa.int32(), pa.list_(pa.int32()))),
)
SQL_INFO_SCHEMA = pa.schema(
    [pa.field("info_name", pa.uint32(), False), pa.field("value", pa.dense_union(list(_VALUE_FIELDS)), False)]
)

#: SqlInfo id -> value; the type picks the union member (str 0, bool 1, int 3 (int32), list 4)
SQL_INFO: dict[int, str | bool | int | list[str]] = {
    0: "daap",  # FLIGHT_SQL_SERVER_NAME
    1: __version__,  # FLIGHT_SQL_SERVER_VERSION
    2: pa.__version__,  # FLIGHT_SQL_SERVER_ARROW_VERSION
    3: True,  # FLIGHT_SQL_SERVER_READ_ONLY: products change by building them, never by SQL
    4: True,  # FLIGHT_SQL_SERVER_SQL
    5: False,  # FLIGHT_SQL_SERVER_SUBSTRAIT
    8: 0,  # FLIGHT_SQL_SERVER_TRANSACTION: none
    9: False,  # FLIGHT_SQL_SERVER_CANCEL
    100: 0,  # FLIGHT_SQL_SERVER_STATEMENT_TIMEOUT: handles never time out (the map is bounded)
    500: False,  # SQL_DDL_CATALOG
    501: False,  # SQL_DDL_SCHEMA
    502: False,  # SQL_DDL_TABLE
    503: 1,  # SQL_IDENTIFIER_CASE: case-insensitive (DuckDB)
    504: '"',  # SQL_IDENTIFIER_QUOTE_CHAR
    505: 1,  # SQL_QUOTED_IDENTIFIER_CASE: case-insensitive
    506: True,  # SQL_ALL_TABLES_ARE_SELECTABLE
    507: 3,  # SQL_NULL_ORDERING: nulls sorted at the end (DuckDB's default)
    513: "\\",  # SQL_SEARCH_STRING_ESCAPE
    514: "",  # SQL_EXTRA_NAME_CHARACTERS
    515: True,  # SQL_SUPPORTS_COLUMN_ALIASING
    516: True,  # SQL_NULL_PLUS_NULL_IS_NULL
    520: True,  # SQL_SUPPORTS_EXPRESSIONS_IN_ORDER_BY
    521: True,  # SQL_SUPPORTS_ORDER_BY_UNRELATED
    522: 0b11,  # SQL_SUPPORTED_GROUP_BY: unrelated, beyond select
    523: True,  # SQL_SUPPORTS_LIKE_ESCAPE_CLAUSE
    525: 0b111,  # SQL_SUPPORTED_GRAMMAR: minimum, core, extended
    526: 0b011,  # SQL_ANSI92_SUPPORTED_LEVEL: entry, intermediate
    528: 2,  # SQL_OUTER_JOINS_SUPPORT_LEVEL: full
    529: "product",  # SQL_SCHEMA_TERM
    531: "catalog",  # SQL_CATALOG_TERM
    536: False,  # SQL_SELECT_FOR_UPDATE_SUPPORTED
    537: False,  # SQL_STORED_PROCEDURES_SUPPORTED
    538: 0b1111,  # SQL_SUPPORTED_SUBQUERIES: comparisons, exists, in, quantified
    539: True,  # SQL_CORRELATED_SUBQUERIES_SUPPORTED
    540: 0b11,  # SQL_SUPPORTED_UNIONS: union, union all
    563: False,  # SQL_TRANSACTIONS_SUPPORTED
}


def like(pattern: str | None) -> re.Pattern[str] | None:
    """A Flight SQL filter pattern (``%`` any run, ``_`` one character, ``\\`` escapes) as a regex."""
    if pattern is None:
        return None
    parts = re.findall(r"\\.|%|_|[^\\%_]+|\\", pattern)
    table = {"%": ".*", "_": "."}
    return re.compile("".join(table.get(p) or re.escape(p[-1] if p.startswith("\\") else p) for p in parts))


def _matches(regex: re.Pattern[str] | None, value: str) -> bool:
    return regex is None or regex.fullmatch(value) is not None


def catalogs() -> pa.Table:
    return pa.table({"catalog_name": [CATALOG]}, schema=CATALOGS_SCHEMA)


def _catalog_ok(catalog: str | None) -> bool:
    return catalog is None or catalog == CATALOG


def db_schemas(products: Iterable[str], catalog: str | None, pattern: str | None) -> pa.Table:
    regex = like(pattern)
    names = sorted({p for p in products if _matches(regex, p)}) if _catalog_ok(catalog) else []
    columns = {"catalog_name": [CATALOG] * len(names), "db_schema_name": names}
    return pa.table(columns, schema=DB_SCHEMAS_SCHEMA)


def tables(
    found: Sequence[TableInfo],
    catalog: str | None,
    schema_pattern: str | None,
    table_pattern: str | None,
    table_types: Sequence[str],
    include_schema: bool,
) -> pa.Table:
    """The ``CommandGetTables`` result; ``table_schema`` is each port's schema as IPC bytes."""
    schema_re, table_re = like(schema_pattern), like(table_pattern)
    wanted = _catalog_ok(catalog) and (not table_types or TABLE_TYPE in table_types)
    chosen = [
        t
        for t in sorted(found, key=lambda t: (t.product, t.port))
        if wanted and _matches(schema_re, t.product) and _matches(table_re, t.port)
    ]
    columns: dict[str, list[object]] = {
        "catalog_name": [CATALOG] * len(chosen),
        "db_schema_name": [t.product for t in chosen],
        "table_name": [t.port for t in chosen],
        "table_type": [TABLE_TYPE] * len(chosen),
    }
    if not include_schema:
        return pa.table(columns, schema=TABLES_SCHEMA)
    columns["table_schema"] = [arrow_schema(t).serialize().to_pybytes() for t in chosen]
    return pa.table(columns, schema=TABLES_WITH_SCHEMA)


def arrow_schema(table: TableInfo) -> pa.Schema:
    """A port's columns with the Flight SQL column metadata clients show (names, remarks)."""
    fields = []
    for column in table.columns:
        meta = {
            "ARROW:FLIGHT:SQL:CATALOG_NAME": CATALOG,
            "ARROW:FLIGHT:SQL:DB_SCHEMA_NAME": table.product,
            "ARROW:FLIGHT:SQL:TABLE_NAME": table.port,
            "ARROW:FLIGHT:SQL:TYPE_NAME": str(column.type),
            "ARROW:FLIGHT:SQL:IS_READ_ONLY": "1",
        }
        if column.description:
            meta["ARROW:FLIGHT:SQL:REMARKS"] = column.description
        fields.append(pa.field(column.name, column.type, column.nullable, metadata=meta))
    return pa.schema(fields)


def table_types() -> pa.Table:
    return pa.table({"table_type": [TABLE_TYPE]}, schema=TABLE_TYPES_SCHEMA)


def sql_info(requested: Sequence[int]) -> pa.Table:
    """``CommandGetSqlInfo``: the requested ids daap knows (all when none are asked for)."""
    ids = [i for i in requested if i in SQL_INFO] if requested else sorted(SQL_INFO)
    codes: list[int] = []
    offsets: list[int] = []
    children: list[list[object]] = [[] for _ in _VALUE_FIELDS]
    for info in ids:
        code = _union_code(SQL_INFO[info])
        codes.append(code)
        offsets.append(len(children[code]))
        children[code].append(SQL_INFO[info])
    arrays = [pa.array(values, f.type) for values, f in zip(children, _VALUE_FIELDS, strict=True)]
    value = pa.UnionArray.from_dense(
        pa.array(codes, pa.int8()),
        pa.array(offsets, pa.int32()),
        arrays,
        [f.name for f in _VALUE_FIELDS],
        list(range(len(_VALUE_FIELDS))),
    )
    return pa.Table.from_arrays([pa.array(ids, pa.uint32()), value], schema=SQL_INFO_SCHEMA)


def _union_code(value: object) -> int:
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return 3
    if isinstance(value, list):
        return 4
    return 0
