"""Column lineage of a DuckDB SQL script, read with sqlglot: each column of each output port
traced through CTEs, subqueries, joins, set operations and the tables the script creates, down
to the input ports' columns; and the columns that decide which rows there are."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope, find_all_in_scope

from daap.mesh.catalog.edges import (
    ROWS,
    ColumnEdge,
    ColumnLineage,
    EdgeKind,
    FilterEdge,
    SourceColumn,
    all_unknown,
    unknown_edge,
)

_DIALECT = "duckdb"


def sql_lineage(
    product: str,
    text: str,
    outputs: Mapping[str, Sequence[str]],
    inputs: Mapping[str, str],
    input_columns: Mapping[str, Sequence[str]],
    file_name: str = "transform.sql",
) -> ColumnLineage:
    """Column lineage of a DuckDB SQL script, the way the runtime runs it.

    With one output port the last statement is the port's query; otherwise each
    port is the ``CREATE TABLE|VIEW <port> AS <query>`` of that name. Tables the
    script creates before are inlined where they are read.

    Args:
        product: the product's name.
        text: the script.
        outputs: output port -> its contract columns.
        inputs: input port (the table name in the SQL) -> its upstream node.
        input_columns: input port -> its column names, where known.
        file_name: names the script in reasons.
    """
    try:
        parsed = sqlglot.parse(text, read=_DIALECT)
    except SqlglotError as exc:
        return all_unknown(product, outputs, f"{file_name}: sqlglot cannot parse it: {_parse_error(exc)}")
    statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    queries = _port_queries(statements, list(outputs))
    tracer = _Tracer(inputs, input_columns)
    columns: dict[str, dict[str, tuple[ColumnEdge, ...]]] = {}
    filters: set[FilterEdge] = set()
    for port, wanted in outputs.items():
        root = _scope(queries[port], tracer.schema())
        if isinstance(root, str):
            columns[port] = {c: (unknown_edge(product, port, c, f"{file_name}: {root}"),) for c in wanted}
            continue
        columns[port] = {c: _trace_column(tracer, root, product, port, c, file_name) for c in wanted}
        filters |= {FilterEdge(product, port, source) for source in tracer.filters(root)}
    return ColumnLineage(product, columns, tuple(sorted(filters)))


# -- SQL: from a script to one query per output port --------------------------------------

_QUALIFY: dict[str, Any] = {"dialect": _DIALECT, "validate_qualify_columns": False, "identify": False}


def _scope(query: exp.Query | str, schema: Mapping[str, Any]) -> Scope | str:
    """The qualified query's root scope (``SELECT *`` expanded, every column qualified), or why not."""
    if isinstance(query, str):
        return query
    try:
        root = build_scope(qualify(query, schema=dict(schema), **_QUALIFY))
    except Exception as exc:  # sqlglot's optimizer has more failure modes than SqlglotError
        return f"sqlglot cannot resolve the query: {type(exc).__name__}: {_first_line(exc)}"
    return root if root is not None else "the query is not a SELECT"


def _port_queries(statements: Sequence[exp.Expr], ports: Sequence[str]) -> dict[str, exp.Query | str]:
    """Each output port's query with earlier ``CREATE ... AS`` tables inlined, or why there is none."""
    created: dict[str, exp.Query] = {}
    for statement in statements:
        if isinstance(statement, exp.Create) and isinstance(statement.expression, exp.Query):
            table = statement.find(exp.Table)
            if table is not None:
                created[table.name.lower()] = _inline(statement.expression, created)
    if len(ports) == 1 and statements and isinstance(statements[-1], exp.Query):
        return {ports[0]: _inline(statements[-1], created)}
    if not statements:
        return {port: "the script holds no statement" for port in ports}
    last = statements[-1].key.upper()
    return {
        port: created.get(
            port, f"the script ends in {last}, not a query, and creates no table or view {port!r}"
        )
        for port in ports
    }


def _inline(query: exp.Query, created: Mapping[str, exp.Query]) -> exp.Query:
    """``FROM x`` -> ``FROM (<x's query>) AS x`` for the tables the script created before.

    The queries in ``created`` are inlined already, and a replaced node is not
    visited again, so ``CREATE TABLE events AS SELECT * FROM events`` cannot loop.
    """
    shadowed = {cte.alias.lower() for cte in query.find_all(exp.CTE)}

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Table) and not node.db and isinstance(node.this, exp.Identifier):
            name = node.name.lower()
            if name in created and name not in shadowed:
                return created[name].copy().subquery(node.alias or node.name)
        return node

    inlined = query.transform(swap)
    assert isinstance(inlined, exp.Query)
    return inlined


# -- SQL: tracing one column through the scopes ---------------------------------------------


@dataclass(frozen=True)
class _Hit:
    source: SourceColumn | None
    kind: EdgeKind
    reason: str | None = None
    aggregated: bool = False

    def through(self, kind: EdgeKind, aggregate: bool = False) -> _Hit:
        """The same hit seen through a projection of ``kind`` (computed anywhere is derived), with
        an aggregate function (``aggregate``) or not."""
        if self.kind == "unknown" or (kind == "direct" and not aggregate):
            return self
        return _Hit(self.source, "derived", aggregated=self.aggregated or aggregate)


def _missing(reason: str) -> _Hit:
    return _Hit(None, "unknown", reason)


@dataclass
class _Tracer:
    """Follows a column of a qualified query down its scopes to the input port tables."""

    inputs: Mapping[str, str]
    input_columns: Mapping[str, Sequence[str]]
    _known: dict[str, dict[str, str]] = field(init=False)

    def __post_init__(self) -> None:
        # DuckDB names are case-insensitive: sqlglot lower-cases them, report them as declared
        self._known = {port: {c.lower(): c for c in columns} for port, columns in self.input_columns.items()}

    def schema(self) -> dict[str, dict[str, str]]:
        # the types do not matter for lineage, sqlglot only needs the names
        return {
            port: {c: "TEXT" for c in self.input_columns[port]} for port in self.inputs if port in self._known
        }

    def projection(
        self, scope: Scope, column: str | int, seen: frozenset[tuple[int, str | int]]
    ) -> list[_Hit]:
        """The sources of ``column`` (a name or a position) of what ``scope`` selects."""
        # a guard: a column that leads back to itself adds no source (and must not loop)
        if (id(scope.expression), column) in seen:
            return []
        seen = seen | {(id(scope.expression), column)}
        query = scope.expression
        if isinstance(query, exp.SetOperation):
            return self._set_operation(scope, column, seen)
        if isinstance(query, exp.UDTF):
            return self._table_function(scope, column, seen)
        if not isinstance(query, exp.Select):
            return [_missing(f"cannot follow a {type(query).__name__} source")]
        select = _projection_named(query, column)
        if select is None:
            return [_missing(_not_selected(query, column))]
        if select.is_star:  # a positional UNION branch: SELECT * over a table of unknown columns
            return [_missing(f"{select.sql(dialect=_DIALECT)} cannot be expanded")]
        value = select.unalias()
        kind: EdgeKind = "direct" if _passes_through(value) else "derived"
        aggregate = value.find(exp.AggFunc) is not None
        return [h.through(kind, aggregate) for h in self.expression(scope, value, seen)]

    def _table_function(
        self, scope: Scope, column: str | int, seen: frozenset[tuple[int, str | int]]
    ) -> list[_Hit]:
        """``LATERAL (SELECT ...) AS x``: x's column; ``UNNEST(list) AS u(x)``: every column in it."""
        lateral = [s for s in scope.sources.values() if isinstance(s, Scope)]
        if isinstance(scope.expression, exp.Lateral) and len(lateral) == 1:
            return self.projection(lateral[0], column, seen)
        return [h.through("derived") for h in self.expression(scope, scope.expression, seen)]

    def expression(self, scope: Scope, value: exp.Expr, seen: frozenset[tuple[int, str | int]]) -> list[_Hit]:
        """The sources of an expression: its columns, scalar subqueries, and rows for ``count(*)``."""
        hits = [h for c in _columns(value) for h in self._column(scope, c, seen)]
        inner = {id(s.expression): s for s in scope.subquery_scopes}
        for query in find_all_in_scope(value, *exp.UNWRAPPED_QUERIES):
            if id(query) in inner:
                sub = inner[id(query)]
                hits += [
                    h.through("derived") for n in query.named_selects for h in self.projection(sub, n, seen)
                ]
        if any(isinstance(star.parent, exp.Func) for star in find_all_in_scope(value, exp.Star)):
            hits += [h for source in _read(scope) for h in self._rows(source, frozenset())]
        return hits

    def filters(self, root: Scope) -> set[SourceColumn]:
        """The source columns that decide which rows there are, in every scope of the query."""
        found: set[SourceColumn] = set()
        for scope in root.traverse():
            if not isinstance(scope.expression, exp.Select):
                continue
            for clause in _conditions(scope.expression):
                try:
                    hits = self.expression(scope, clause, frozenset())
                except Exception:  # as for columns: a condition sqlglot trips over is left out
                    continue
                found |= {h.source for h in hits if h.source}
        return found

    def _set_operation(
        self, scope: Scope, column: str | int, seen: frozenset[tuple[int, str | int]]
    ) -> list[_Hit]:
        query = scope.expression
        assert isinstance(query, exp.SetOperation)
        by_name = bool(query.args.get("by_name"))
        if not by_name and isinstance(column, str):
            names = [s.alias_or_name.lower() for s in query.selects]
            if column.lower() not in names:
                return [_missing(_not_selected(query, column))]
            column = names.index(column.lower())
        hits: list[_Hit] = []
        for branch in scope.set_operation_scopes:
            # UNION BY NAME fills a column a branch lacks with NULL: no source there
            if by_name and not _selects(branch.expression, column):
                continue
            hits += self.projection(branch, column, seen)
        return hits

    def _column(self, scope: Scope, column: exp.Column, seen: frozenset[tuple[int, str | int]]) -> list[_Hit]:
        table = column.table
        if scope.pivots:
            return [_missing("columns of a PIVOT or UNPIVOT are not followed")]
        if not table:
            named = [name for name in scope.sources if name]
            if not named:
                return [_missing(f"sqlglot sees no table that column {column.name!r} could come from")]
            if len(named) > 1:
                return [_missing(f"cannot tell which source column {column.name!r} comes from")]
            table = named[0]
        source = _resolve(scope, table)
        if isinstance(source, Scope) and _recursive_reference(source):
            return []  # the anchor's and the recursive step's own sources are traced already
        if isinstance(source, Scope):
            return self.projection(source, column.name, seen)
        if isinstance(source, exp.Table):
            return [self._leaf(source, column.name)]
        return [_missing(f"{column.sql(dialect=_DIALECT)} refers to no source of the query")]

    def _leaf(self, table: exp.Table, column: str) -> _Hit:
        port = table.name.lower()
        if table.db or port not in self.inputs:
            return _missing(f"reads {table.sql(dialect=_DIALECT)}, which is not an input port")
        known = self._known.get(port)
        if column != ROWS and known is not None:
            if column.lower() not in known:
                return _missing(f"input port {port!r} has no column {column!r}")
            column = known[column.lower()]
        return _Hit(SourceColumn(self.inputs[port], column), "direct")

    def _rows(self, source: exp.Table | Scope, seen: frozenset[int]) -> list[_Hit]:
        """``count(*)``: the rows of every input the source reads, as the column ``*``."""
        if isinstance(source, exp.Table):
            return [self._leaf(source, ROWS).through("derived")]
        if id(source.expression) in seen:
            return []
        children = source.set_operation_scopes if isinstance(source.expression, exp.SetOperation) else []
        sources = [*children, *_read(source)]
        return [h for child in sources for h in self._rows(child, seen | {id(source.expression)})]


def _trace_column(
    tracer: _Tracer, root: Scope, product: str, port: str, column: str, file_name: str
) -> tuple[ColumnEdge, ...]:
    try:
        hits = tracer.projection(root, column, frozenset())
    except Exception as exc:  # one column sqlglot trips over must not cost the others theirs
        hits = [_missing(f"sqlglot failed on it: {type(exc).__name__}: {_first_line(exc)}")]
    edges: dict[tuple[SourceColumn | None, str | None], tuple[EdgeKind, bool]] = {}
    for hit in hits:
        key = (hit.source, None if hit.source else f"{file_name}: {hit.reason}")
        # one edge per source: derived when any path computes it, aggregated when any aggregates
        kind, aggregated = edges.get(key, (hit.kind, False))
        edges[key] = ("derived" if kind == "derived" else hit.kind, aggregated or hit.aggregated)
    return tuple(
        ColumnEdge(product, port, column, kind, source, reason, aggregated)
        for (source, reason), (kind, aggregated) in sorted(
            edges.items(), key=lambda item: (str(item[0][0]), item[0][1] or "")
        )
    )


def _read(scope: Scope) -> list[exp.Table | Scope]:
    """The sources a scope's FROM and JOINs read (``scope.sources`` also holds unread CTEs)."""
    return [source for _, source in scope.selected_sources.values()]


def _resolve(scope: Scope, table: str) -> exp.Table | Scope | None:
    """The source named ``table``; a correlated subquery finds it in an enclosing scope."""
    found: Scope | None = scope
    while found is not None:
        if table in found.sources:
            source: exp.Table | Scope = found.sources[table]
            return source
        found = found.parent if found.is_subquery else None
    return None


def _recursive_reference(scope: Scope) -> bool:
    """``ids`` inside ``WITH RECURSIVE ids AS (anchor UNION ALL ... FROM ids)``.

    sqlglot hands it out as an unexplored scope of the anchor (no sources): a
    CTE scope whose query is a branch of a set operation, where a plain CTE's
    query hangs off the CTE itself.
    """
    return scope.is_cte and isinstance(scope.expression.parent, exp.SetOperation)


def _projection_named(query: exp.Select, column: str | int) -> exp.Expr | None:
    if isinstance(column, int):
        return query.selects[column] if column < len(query.selects) else None
    return next((s for s in query.selects if s.alias_or_name.lower() == column.lower()), None)


def _selects(query: exp.Expr, column: str | int) -> bool:
    if not isinstance(query, exp.Query) or isinstance(column, int):
        return True
    names = {s.alias_or_name.lower() for s in query.selects}
    return column.lower() in names or any(s.is_star for s in query.selects)


def _not_selected(query: exp.Query, column: str | int) -> str:
    stars = [
        s.sql(dialect=_DIALECT) for s in query.selects if s.is_star or isinstance(s.unalias(), exp.Columns)
    ]
    why = f"the query selects no column {column!r}"
    if stars:
        # SELECT * over a table whose columns are unknown, or DuckDB's COLUMNS(...)
        why += f"; it may come from {', '.join(stars)}, which cannot be expanded"
    return why


#: wrappers that keep a value as it is: ``CAST(x AS INT)``, ``(x)``, ``s.field`` of a struct
_KEEPS_VALUE = (exp.Cast, exp.Paren, exp.Dot)


def _passes_through(value: exp.Expr) -> bool:
    """Whether a projection hands on a source value unchanged (renamed, cast, a struct's field).

    ``COALESCE`` of columns counts, as it returns one of them unchanged: it is
    also what ``JOIN ... USING (key)`` turns an unqualified ``key`` into.
    """
    while isinstance(value, _KEEPS_VALUE):
        value = value.this
    if isinstance(value, exp.Coalesce):
        return all(_passes_through(v) for v in [value.this, *value.expressions])
    return isinstance(value, exp.Column) and not value.is_star


def _columns(value: exp.Expr) -> Iterator[exp.Column]:
    """Column references in scope, without lambda parameters (``list_transform(l, x -> x + 1)``)."""
    for column in find_all_in_scope(value, exp.Column):
        if column.is_star or _lambda_parameter(column, value):
            continue
        yield column


def _lambda_parameter(column: exp.Column, top: exp.Expr) -> bool:
    node: exp.Expr | None = column
    while node is not None and node is not top:
        if isinstance(node, exp.Lambda) and column.name in {p.name for p in node.expressions}:
            return True
        node = node.parent
    return False


def _conditions(select: exp.Select) -> Iterator[exp.Expr]:
    for key in ("where", "group", "having", "qualify"):
        if select.args.get(key) is not None:
            yield select.args[key]
    for join in select.args.get("joins") or []:
        for key in ("on", "using", "match_condition"):
            value = join.args.get(key)
            if isinstance(value, list):
                yield from value
            elif value is not None:
                yield value


def _parse_error(exc: SqlglotError) -> str:
    if isinstance(exc, ParseError) and exc.errors:
        first = exc.errors[0]
        near = first.get("highlight") or ""
        return (
            f"line {first.get('line')}, column {first.get('col')}: {first.get('description')} (near {near!r})"
        )
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


__all__ = ["sql_lineage"]
