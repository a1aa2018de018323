"""SQL transformations, run by DuckDB.

The file may hold several statements. With one output port, the last
statement is a query whose result is the port. With several, the script must
create a table or view named after each port. Errors point at the file, line
and column of the statement that failed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import duckdb

from daap.runtime.engine import quote
from daap.runtime.inputs import ResolvedInput
from daap.runtime.transform import _materialize, engine_error
from daap.spec.model import ProductSpec

_ENGINE_LINE = re.compile(r"^(LINE (\d+): )(.*)\n( *)\^", re.MULTILINE)
_NAMED = re.compile(r'(?:column|name|Table with name|Catalog Error: \w+ with name) "?([\w.]+)"?')


def run_sql(con: Any, product: ProductSpec, inputs: Sequence[ResolvedInput]) -> None:
    spec = product.transformation
    assert spec is not None
    text = spec.path.read_text(encoding="utf-8")
    statements = _split(text, spec.path.name, product, inputs)
    ports = [p.name for p in product.output_ports]
    last_is_query = statements and statements[-1][1].type == duckdb.StatementType.SELECT
    body = statements[:-1] if last_is_query and len(ports) == 1 else statements
    for offset, statement in body:
        _execute(con, product, inputs, text, offset, statement.query)
    if last_is_query and len(ports) == 1:
        offset, statement = statements[-1]
        query = statement.query.rstrip("; \n\t")
        _materialize(
            con,
            product,
            inputs,
            ports[0],
            query,
            lambda message: locate(spec.path.name, text, offset, query, message),
        )
        return
    for port in ports:
        _materialize(
            con, product, inputs, port, f"SELECT * FROM {quote(port)}", lambda message: spec.path.name
        )


def _split(
    text: str, name: str, product: ProductSpec, inputs: Sequence[ResolvedInput]
) -> list[tuple[int, Any]]:
    """Statements with their character offset in the file."""
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise _positioned(exc, product, inputs, name, text, 0, text) from exc
    found, cursor = [], 0
    for statement in statements:
        start = text.find(statement.query.strip(), cursor)
        start = cursor if start < 0 else start
        found.append((start, statement))
        cursor = start + len(statement.query.strip())
    return found


def _execute(
    con: Any,
    product: ProductSpec,
    inputs: Sequence[ResolvedInput],
    text: str,
    offset: int,
    query: str,
) -> None:
    try:
        con.execute(query)
    except duckdb.Error as exc:
        spec = product.transformation
        assert spec is not None
        raise _positioned(exc, product, inputs, spec.path.name, text, offset, query) from exc


def _positioned(
    exc: duckdb.Error,
    product: ProductSpec,
    inputs: Sequence[ResolvedInput],
    name: str,
    text: str,
    offset: int,
    query: str,
) -> Exception:
    return engine_error(exc, product, inputs, locate(name, text, offset, query, str(exc)))


def locate(name: str, text: str, offset: int, query: str, message: str) -> str:
    """``transform.sql:LINE:COL`` of an engine error inside the statement at ``offset``.

    DuckDB prints ``LINE n:`` for parser errors; binder errors only name the
    identifier (``Referenced column "nope" not found``), so we find it in the text.
    """
    line = _ENGINE_LINE.search(message)
    if line and not line.group(3).startswith("..."):
        column = len(line.group(4)) - len(line.group(1))
        return _location(name, text, offset + _line_offset(query, int(line.group(2))) + max(column, 0))
    named = _NAMED.search(message)
    if named:
        hit = re.search(rf"\b{re.escape(named.group(1).split('.')[-1])}\b", query)
        if hit:
            return _location(name, text, offset + hit.start())
    return _location(name, text, offset)


def _line_offset(query: str, line: int) -> int:
    lines = query.split("\n")
    return sum(len(ln) + 1 for ln in lines[: max(line - 1, 0)])


def _location(name: str, text: str, offset: int) -> str:
    before = text[:offset]
    line = before.count("\n") + 1
    col = offset - (before.rfind("\n") + 1) + 1
    return f"{name}:{line}:{col}"
