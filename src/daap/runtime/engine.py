"""DuckDB, the embedded engine: connections, relations and SQL literals.

Build steps and the query path both read ports through a :class:`Relation`:
either a table-function expression over Parquet/CSV/JSON files, which DuckDB
streams, or an Arrow table for the rare snapshot whose files alone are not its
content (row-level deletes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class Relation:
    """How the engine reads one input: ``sql`` (a FROM-able expression) or ``arrow``.

    ``select``, when given, makes the query over that source (the name it is
    given) whose rows the input is: a reader's filtered, masked view of a port.
    """

    sql: str | None = None
    arrow: pa.Table | None = None
    select: Callable[[str], str] | None = None

    @classmethod
    def parquet(cls, paths: Iterable[str | Path]) -> Relation:
        files = ", ".join(literal(str(p)) for p in paths)
        return cls(sql=f"read_parquet([{files}], union_by_name = true)")


def connect(temp_dir: Path | None = None, *, config: Mapping[str, Any] | None = None) -> Any:
    """A fresh in-memory DuckDB connection in UTC that spills to ``temp_dir``."""
    settings: dict[str, Any] = {}
    if temp_dir is not None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        settings["temp_directory"] = str(temp_dir)
    settings.update(config or {})
    con = duckdb.connect(config=settings)
    # TimeZone needs the bundled ICU extension, which loads only after connecting
    con.execute("SET TimeZone = 'UTC'")
    # no progress bar: it would draw on stdout, which belongs to --json and query output
    con.execute("SET enable_progress_bar = false")
    return con


def register(con: Any, name: str, relation: Relation, *, schema: str | None = None) -> None:
    """Make ``relation`` queryable as ``[schema.]name`` on ``con``."""
    target = f"{quote(schema)}.{quote(name)}" if schema else quote(name)
    if schema:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
    if relation.sql is not None:
        source = relation.sql
    else:
        arrow_name = f"__arrow_{schema or ''}_{name}"
        con.register(arrow_name, relation.arrow)
        source = quote(arrow_name)
    body = relation.select(source) if relation.select is not None else f"SELECT * FROM {source}"
    con.execute(f"CREATE OR REPLACE VIEW {target} AS {body}")


def quote(identifier: str) -> str:
    """A DuckDB identifier, always quoted: ``title_id`` -> ``"title_id"``."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: object) -> str:
    """A SQL literal for the values we splice into table-function calls."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{literal(str(k))}: {literal(v)}" for k, v in value.items())
        return "{" + items + "}"
    return "'" + str(value).replace("'", "''") + "'"


def columns(con: Any, relation_name: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of a table or view, in order."""
    rows = con.execute(f"DESCRIBE {relation_name}").fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


_CATEGORY = re.compile(r"^(?:[A-Z][a-z]+ )+Error: ")
_POSITION = re.compile(r"^LINE \d+:|^\s*\^+\s*$")


def error_message(text: str, *, lines: int = 3, keep_position: bool = True) -> str:
    """An engine error for people: without its category (``Binder Error: ``), first ``lines``.

    With ``keep_position=False`` the engine's ``LINE n:`` excerpt is dropped,
    for callers that report the position in the user's own file instead.
    """
    kept = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    if not keep_position:
        kept = [ln for ln in kept if not _POSITION.match(ln)]
    if kept:
        kept[0] = _CATEGORY.sub("", kept[0])
    return "\n    ".join(kept[:lines])
