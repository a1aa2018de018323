"""Read-only guard: a query may read product ports and nothing else.

Parsed with sqlglot (DuckDB dialect). Refused: anything but one query
(writes, DDL, ``COPY``, ``ATTACH``, ``INSTALL``/``LOAD``, ``PRAGMA``, ``SET``),
table functions that read files or the network (``read_csv('/etc/passwd')``,
``glob``), file paths used as tables, and functions that reach outside the
engine (``getenv``). The serving connection also has DuckDB's external
access switched off, so the guard is not the only line of defence.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from daap.errors import QueryError, QueryRefused

#: table functions that only compute (no files, no network)
_SAFE_TABLE_FUNCTIONS = (exp.GenerateSeries, exp.Unnest, exp.ExplodingGenerateSeries)
#: scalar functions that reach outside the engine
_DENIED_FUNCTIONS = {"getenv", "current_setting", "read_text", "read_blob", "glob", "sniff_csv"}


#: the one catalog daap shows to SQL clients; `daap.product.port` means `product.port`
CATALOG = "daap"
NORMALISED = "daap_normalised"


def needs_rewrite(tree: exp.Query) -> bool:
    """Whether the parsed tree differs from the SQL text (a ``daap.`` catalog was dropped)."""
    return any(t.meta.get(NORMALISED) for t in tree.find_all(exp.Table))


@dataclass(frozen=True)
class PortRef:
    product: str
    port: str

    def __str__(self) -> str:
        return f"{self.product}.{self.port}"


def check_query(sql: str) -> tuple[PortRef, ...]:
    """Validate ``sql`` as one read-only query.

    Returns:
        the ``<product>.<port>`` tables it reads, in order of first use.

    Raises:
        QueryRefused: not a read-only query, or it touches files or settings.
        QueryError: it does not parse.
    """
    return parse_query(sql)[1]


@functools.lru_cache(maxsize=1024)
def parse_query(sql: str) -> tuple[exp.Query, tuple[PortRef, ...]]:
    """:func:`check_query`, also returning the parsed tree (cached: servers repeat queries).

    The tree is shared between callers: copy it before changing it.
    """
    tree = _parse(sql)
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    refs: list[PortRef] = []
    for table in tree.find_all(exp.Table):
        ref = _table_ref(table, ctes)
        if ref is not None and ref not in refs:
            refs.append(ref)
    called = {id(t.this) for t in tree.find_all(exp.Table) if isinstance(t.this, exp.Anonymous) and t.db}
    for func in tree.find_all(exp.Func):
        if id(func) in called:
            continue
        name = func.name.lower() if isinstance(func, exp.Anonymous) else type(func).__name__.lower()
        if name in _DENIED_FUNCTIONS or name.startswith("read") or name.endswith("scan"):
            raise QueryRefused(
                f"function {func.sql('duckdb').split('(')[0]} is not allowed: queries read product ports only"
            )
    return tree, tuple(refs)


def parameters(tree: exp.Query) -> list[str] | int:
    """The query's parameters: names for ``$name`` style, else the count of ``?`` / ``$1``."""
    found = list(tree.find_all(exp.Placeholder))
    names = [str(p.this) for p in found if p.this is not None and not str(p.this).isdigit()]
    if names:
        return list(dict.fromkeys(names))
    numbered = [int(str(p.this)) for p in found if p.this is not None]
    return max(numbered) if numbered else len(found)


def _parse(sql: str) -> exp.Query:
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
        raise QueryError(f"cannot parse the query{where}: {first.get('description', exc)}") from exc
    if len(statements) != 1:
        raise QueryRefused(f"expected one query, got {len(statements)} statements")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        kind = type(tree).__name__.upper()
        raise QueryRefused(
            f"only read-only queries (SELECT, WITH …, set operations) are allowed, not {kind}",
            hint="data products are changed by building them (daap build), never by SQL",
        )
    return tree


def _table_ref(table: exp.Table, ctes: set[str]) -> PortRef | None:
    if not isinstance(table.this, exp.Identifier):
        if isinstance(table.this, _SAFE_TABLE_FUNCTIONS):
            return None
        if isinstance(table.this, exp.Anonymous) and table.db:
            return None  # product.query(args): a named query, expanded by daap.query.calls
        call = table.this.sql("duckdb").split("(")[0]
        raise QueryRefused(f"table function {call} is not allowed: queries read product ports only")
    if table.catalog.lower() == CATALOG:
        # Flight SQL and PostgreSQL clients see one catalog, "daap", and may name it
        table.set("catalog", None)
        table.meta[NORMALISED] = True
    elif table.catalog:
        raise QueryRefused(
            f"table {table.sql('duckdb')}: use <product>.<port> (or {CATALOG}.<product>.<port>)"
        )
    if not table.db:
        if table.name in ctes:
            return None
        if any(ch in table.name for ch in "/\\.:"):
            raise QueryRefused(
                f"reading files ({table.name!r}) is not allowed: queries read product ports only"
            )
        raise QueryError(
            f"unknown table {table.name!r}",
            hint="a product's output port is the table <product>.<port>, e.g. titles.titles",
        )
    return PortRef(table.db, table.name)
