"""Where a statement goes: session command, catalog query, or product data.

Clients send PostgreSQL SQL. Session commands (``SET``, ``SHOW``, ``BEGIN`` ...) are
answered by the session; queries that read only ``pg_catalog`` / ``information_schema``
(or no table at all, like ``SELECT version()``) go to the emulated catalog after a
rewrite; everything else is transpiled to DuckDB SQL with sqlglot and goes to the
:class:`~daap.query.service.QueryService`, which refuses what is not a read-only query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType  # type: ignore[attr-defined]

from daap.servers.pgwire.catalog_schema import TABLES, VIEWS
from daap.servers.pgwire.errors import PgError, syntax_error

Kind = Literal["session", "catalog", "data", "empty"]
_SCHEMAS = {"pg_catalog": "daap_pg", "information_schema": "daap_is"}
_KNOWN = {name.split(".")[1] for name in TABLES} | {v.split()[0].split(".")[1] for v in VIEWS}
_PG_TABLES = {n for n in _KNOWN if n.startswith("pg_")}
_SESSION = re.compile(
    r"^\s*(SET|SHOW|RESET|BEGIN|START|COMMIT|END|ROLLBACK|ABORT|DISCARD|DEALLOCATE|CLOSE|LISTEN|UNLISTEN|SAVEPOINT|RELEASE)\b",
    re.IGNORECASE,
)
#: textual clean-ups sqlglot cannot parse: psql's OPERATOR(pg_catalog.~), COLLATE pg_catalog.default
_TEXT_FIXES = (
    (re.compile(r"OPERATOR\s*\(\s*pg_catalog\s*\.\s*([^)\s]+)\s*\)", re.IGNORECASE), r"\1"),
    (re.compile(r"\s+COLLATE\s+pg_catalog\.\"?default\"?", re.IGNORECASE), ""),
    (re.compile(r"\bpg_catalog\.(?=\w+\s*\()", re.IGNORECASE), ""),
    (re.compile(r"::\s*pg_catalog\.", re.IGNORECASE), "::"),
)
_OID_TYPES = {"regclass", "regtype", "regnamespace", "regproc", "regprocedure", "regrole", "oid", "xid"}


@dataclass(frozen=True)
class Routed:
    kind: Kind
    sql: str
    tree: exp.Expression | None = None
    #: the ``pg_catalog`` tables it reads that are not emulated (answered with no rows)
    missing: tuple[str, ...] = ()


def split(sql: str) -> list[str]:
    """The statements of a simple Query message (semicolons inside strings stay)."""
    try:
        tokens = sqlglot.Tokenizer().tokenize(sql)
    except sqlglot.errors.TokenError:
        return [sql]
    parts, start = [], 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            parts.append(sql[start : token.start])
            start = token.end + 1
    parts.append(sql[start:])
    return [p for p in parts if p.strip()] or [""]


def route(sql: str) -> Routed:
    """Classify one statement and produce the SQL to run.

    Raises:
        PgError: 42601 with the position when the statement does not parse.
    """
    if not sql.strip():
        return Routed("empty", sql)
    if _SESSION.match(sql):
        return Routed("session", sql.strip())
    cleaned = sql
    for pattern, replacement in _TEXT_FIXES:
        cleaned = pattern.sub(replacement, cleaned)
    tree = _parse(cleaned)
    if isinstance(tree, exp.Select):
        _name_columns(tree)
    if not isinstance(tree, exp.Query) or not _reads_only_catalog(tree):
        return Routed("data", tree.sql("duckdb") if isinstance(tree, exp.Query) else sql, tree)
    missing = tuple(t.name for t in tree.find_all(exp.Table) if _missing(t))
    return Routed("catalog", "", tree, missing)


def _parse(sql: str) -> exp.Expression:
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        description = str(first.get("description", exc))
        raise syntax_error(
            sql, int(first.get("line") or 1), int(first.get("col") or 1), description
        ) from None
    except sqlglot.errors.SqlglotError as exc:
        raise PgError("42601", f"syntax error: {exc}") from None
    assert isinstance(tree, exp.Expression)
    return tree


def _name_columns(tree: exp.Select) -> None:
    """Name unnamed result columns as PostgreSQL does (``count``, ``?column?``), not DuckDB."""
    for i, column in enumerate(tree.expressions):
        keyword = isinstance(column, exp.Func) and "(" not in column.sql("duckdb")  # CURRENT_DATE
        if not isinstance(column, exp.Alias | exp.Column | exp.Star) and not keyword:
            tree.expressions[i] = exp.alias_(column, _pg_name(column), quoted=True)


def _pg_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Cast):
        inner = node.this
        named = isinstance(inner, exp.Column) or (isinstance(inner, exp.Func) and "(" in inner.sql("duckdb"))
        return _pg_name(inner) if named else node.to.sql("postgres").lower()
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    if isinstance(node, exp.Func):
        return node.sql("postgres").split("(")[0].lower().split(".")[-1]
    return "?column?"


#: table functions a catalog query may use (anything else goes to the query service, which refuses files)
_CATALOG_FUNCTIONS = {"generate_series", "unnest"}


def _reads_only_catalog(tree: exp.Query) -> bool:
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            call = table.this.sql("postgres").split("(")[0].lower().split(".")[-1]
            if call in _CATALOG_FUNCTIONS:
                continue
            return False  # a table function: the query service decides (and refuses files)
        if table.db.lower() in _SCHEMAS or (
            not table.db and (table.name in _PG_TABLES or table.name in ctes)
        ):
            continue
        if not table.db and table.name.startswith("pg_"):
            continue
        return False
    return True


def _missing(table: exp.Table) -> bool:
    return table.name not in _KNOWN and (table.db.lower() in _SCHEMAS or table.name.startswith("pg_"))


def catalog_sql(tree: exp.Expression, values: Mapping[str, str]) -> str:
    """The DuckDB SQL for a catalog query: tables moved to ``daap_pg``/``daap_is``, OID casts
    resolved, and session functions (``current_user``, ``current_setting``) replaced by values."""
    tree = tree.copy()
    for table in list(tree.find_all(exp.Table)):
        schema = _SCHEMAS.get(table.db.lower()) if table.db else ("daap_pg" if table.name in _KNOWN else None)
        if schema:
            table.set("db", exp.to_identifier(schema))
            if not table.alias:  # columns may say pg_catalog.pg_class.oid: keep the bare name valid
                table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
    for column in tree.find_all(exp.Column):
        if column.args.get("db") is not None and column.text("db").lower() in _SCHEMAS:
            column.set("db", None)
    nodes = [n for n in tree.walk() if isinstance(n, exp.Cast | exp.Func | exp.Column)]
    for node in reversed(nodes):  # innermost first
        new = _session_value(node, values) or _oid_cast(node)
        if new is not None:
            node.replace(new)
    return tree.sql("duckdb")


def _session_value(node: Any, values: Mapping[str, str]) -> exp.Expression | None:
    if isinstance(node, exp.CurrentUser) or (
        isinstance(node, exp.Anonymous | exp.Column) and node.name.lower() in ("session_user", "user")
    ):
        return exp.Literal.string(values.get("user", "daap"))
    name = node.name.lower() if isinstance(node, exp.Anonymous) else ""
    if name == "current_setting" and node.expressions:
        key = node.expressions[0].name
        return exp.Literal.string(values.get(key, values.get(key.lower(), "")))
    if name == "pg_backend_pid":
        return exp.Literal.number(values.get("pid", "0"))
    return None


def _oid_cast(node: Any) -> exp.Expression | None:
    """``'prod.port'::regclass`` -> the relation's oid; ``x::regtype`` / ``x::oid`` -> BIGINT."""
    if not isinstance(node, exp.Cast) or node.to.sql("postgres").lower().split(".")[-1] not in _OID_TYPES:
        return None
    target = node.to.sql("postgres").lower().split(".")[-1]
    if isinstance(node.this, exp.Literal) and node.this.is_string and target in ("regclass", "regtype"):
        function = "to_regclass" if target == "regclass" else "to_regtype"
        return exp.Anonymous(this=function, expressions=[node.this])
    return exp.cast(node.this, exp.DataType.build("BIGINT"))
