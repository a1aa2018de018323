"""The contract gate: a build's result must match its output port's ODCS contract.

Checked on the engine table ``__out_<port>``, all in one scan: every contract
column is present; each value converts safely to the column's type (a string
must parse, a number or time must survive the round trip, so ``1.5`` never
silently becomes ``2``); required columns hold no nulls; the primary key is
unique. Violations name the column and sample offending keys (or row numbers
when there is no key). Then :func:`write_port` casts to the contract's types
and writes Parquet for the table store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from daap.errors import ContractViolation, Violation
from daap.runtime.engine import literal, quote
from daap.runtime.transform import result_table
from daap.spec.model import ColumnSpec, ContractSpec, OutputPortSpec

SAMPLES = 5
#: above this many rows, the engine writes one file per thread
_PARALLEL_ROWS = 1_000_000


@dataclass(frozen=True)
class GateResult:
    row_count: int
    warnings: tuple[str, ...] = field(default=())


#: the DuckDB type id a nested logical type needs
_SHAPES = {"object": "struct", "array": "list"}
#: lifts a predicate on a nested value to one on its row
Wrap = Callable[[str], str]


@dataclass(frozen=True)
class _Check:
    column: str  # the value's path: ``price``, ``address.city``, ``lines[].sku``
    message: str
    bad: str  # SQL predicate true for an offending row
    shown: str  # the top-level column shown in samples


def check_contract(con: Any, product: str, port: OutputPortSpec) -> GateResult:
    """Check ``__out_<port>`` against the port's contract.

    Raises:
        ContractViolation: listing every problem found.
    """
    contract = port.contract
    table = result_table(port.name)
    actual = dict(zip(con.table(table).columns, con.table(table).types, strict=True))
    missing = [c for c in contract.columns if c.name not in actual]
    violations = [
        Violation(c.name, f"is in the contract but absent from the data (data has: {', '.join(actual)})")
        for c in missing
    ]
    walk = _Walk(con, table)
    for col in contract.columns:
        if col.name in actual:
            walk.column(col, actual[col.name])
    violations += walk.violations
    counts, rows = _count(con, table, walk.checks)
    for check, count in zip(walk.checks, counts, strict=True):
        if count:
            samples = _samples(con, table, contract, check)
            violations.append(Violation(check.column, check.message.format(n=count), samples))
    present = [c for c in contract.columns if c.name in actual]
    violations += _key_violations(con, table, contract, present)
    if violations:
        raise ContractViolation(product, port.name, contract.path.name, violations)
    extra = [name for name in actual if contract.column(name) is None]
    warnings = tuple(
        f"{product}.{port.name}: column {name!r} is not in the contract and is not published"
        for name in [*extra, *walk.extra]
    )
    return GateResult(row_count=rows, warnings=warnings)


class _Walk:
    """The checks for contract columns, nested objects and arrays included.

    Each value (a column, an object's field, an array's items) is checked where
    it is: ``address.city`` through ``struct_extract``, ``lines[].sku`` inside
    ``list_filter`` over the array, so a bad value deep down counts its row.
    """

    def __init__(self, con: Any, table: str) -> None:
        self.con, self.table = con, table
        self.checks: list[_Check] = []
        self.violations: list[Violation] = []
        self.extra: list[str] = []

    def column(self, spec: ColumnSpec, source: Any) -> None:
        """Check the column ``spec`` of DuckDB type ``source``."""
        name = quote(spec.name)
        self._value(spec, source, name, spec.name, name, lambda bad: bad, 0)
        if not spec.nullable:
            self._add(spec.name, name, "is required but {n} row(s) are null", f"{name} IS NULL")

    def _value(
        self, spec: ColumnSpec, source: Any, expr: str, path: str, shown: str, wrap: Wrap, depth: int
    ) -> None:
        """Check ``expr`` (of DuckDB type ``source``) against ``spec``; ``wrap`` lifts a
        predicate on it to one on the row."""
        shape = _SHAPES.get(spec.logical_type)
        if shape is not None and source.id != shape:
            what = f"an {spec.logical_type} ({spec.sql_type})"
            self.violations.append(Violation(path, f"has type {source}, which cannot become {what}"))
        elif spec.logical_type == "object":
            self._object(spec, source, expr, path, shown, wrap, depth)
        elif spec.logical_type == "array":
            self._array(spec, source, expr, path, shown, wrap, depth)
        elif source.id in ("struct", "list", "map", "union", "array"):
            self.violations.append(Violation(path, f"has type {source}, which cannot become {spec.sql_type}"))
        elif str(source) != spec.sql_type:
            self._cast(spec, str(source), expr, path, shown, wrap)

    def _object(
        self, spec: ColumnSpec, source: Any, expr: str, path: str, shown: str, wrap: Wrap, depth: int
    ) -> None:
        children = dict(source.children)
        for field_spec in spec.fields:
            field_path = f"{path}.{field_spec.name}"
            if field_spec.name not in children:
                self.violations.append(
                    Violation(
                        field_path,
                        f"is in the contract but absent from the data ({path} has: {', '.join(children)})",
                    )
                )
                continue
            field_expr = f"struct_extract({expr}, {literal(field_spec.name)})"
            if field_spec.required:
                self._add(
                    path=field_path,
                    shown=shown,
                    message="is required but {n} row(s) have it null",
                    bad=wrap(f"({expr} IS NOT NULL AND {field_expr} IS NULL)"),
                )
            self._value(field_spec, children[field_spec.name], field_expr, field_path, shown, wrap, depth)
        named = {f.name for f in spec.fields}
        self.extra += [f"{path}.{name}" for name in children if name not in named]

    def _array(
        self, spec: ColumnSpec, source: Any, expr: str, path: str, shown: str, wrap: Wrap, depth: int
    ) -> None:
        items = spec.items
        assert items is not None
        var = f"__e{depth}"

        def inside(bad: str) -> str:
            return wrap(f"coalesce(len(list_filter({expr}, lambda {var}: {bad})) > 0, false)")

        item_path = f"{path}[]"
        if items.required:
            self._add(
                item_path, shown, "is required but {n} row(s) hold null items", inside(f"{var} IS NULL")
            )
        self._value(items, source.children[0][1], var, item_path, shown, inside, depth + 1)

    def _cast(self, spec: ColumnSpec, source: str, expr: str, path: str, shown: str, wrap: Wrap) -> None:
        bad = wrap(_cast_predicate(expr, source, spec.sql_type))
        try:
            self.con.execute(f"SELECT {bad} FROM {self.table} LIMIT 0")
        except duckdb.Error:
            self.violations.append(Violation(path, f"has type {source}, which cannot become {spec.sql_type}"))
            return
        self._add(path, shown, f"{{n}} value(s) are not valid {spec.sql_type} ({spec.logical_type})", bad)

    def _add(self, path: str, shown: str, message: str, bad: str) -> None:
        self.checks.append(_Check(path, message, bad, shown))


def _cast_predicate(name: str, source: str, target: str) -> str:
    cast = f"TRY_CAST({name} AS {target})"
    if source == "VARCHAR":
        return f"({name} IS NOT NULL AND {cast} IS NULL)"
    return (
        f"({name} IS NOT NULL AND ({cast} IS NULL OR TRY_CAST({cast} AS {source}) IS DISTINCT FROM {name}))"
    )


def _count(con: Any, table: str, checks: list[_Check]) -> tuple[list[int], int]:
    parts = [f"count(*) FILTER (WHERE {c.bad})" for c in checks]
    row = con.execute(f"SELECT {', '.join([*parts, 'count(*)'])} FROM {table}").fetchone()
    return [int(v) for v in row[:-1]], int(row[-1])


def _samples(con: Any, table: str, contract: ContractSpec, check: _Check) -> tuple[str, ...]:
    key = [k for k in contract.primary_key if quote(k) != check.shown]
    ident = ", ".join(quote(k) for k in key) if key else "rowid + 1"
    rows = con.execute(
        f"SELECT {ident}, {check.shown} FROM {table} WHERE {check.bad} LIMIT {SAMPLES}"
    ).fetchall()
    return tuple(_describe(key, row) for row in rows)


def _describe(key: list[str], row: tuple[Any, ...]) -> str:
    shown = show(row[-1])
    if not key:
        return f"row {row[0]}: {shown}"
    ident = ", ".join(f"{k}={show(row[i])}" for i, k in enumerate(key))
    return f"{ident}: {shown}"


def show(value: Any) -> str:
    """A value as a user would write it: strings quoted, numbers and times plain."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _key_violations(
    con: Any, table: str, contract: ContractSpec, present: list[ColumnSpec]
) -> list[Violation]:
    names = {c.name for c in present}
    keys = [list(contract.primary_key)] if contract.primary_key else []
    keys += [[c.name] for c in present if c.unique and [c.name] != list(contract.primary_key)]
    found = []
    for key in keys:
        if not set(key) <= names:
            continue
        cols = ", ".join(quote(k) for k in key)
        rows = con.execute(
            f"SELECT {cols}, count(*) AS n FROM {table} GROUP BY ALL HAVING count(*) > 1 "
            f"ORDER BY n DESC LIMIT {SAMPLES}"
        ).fetchall()
        if rows:
            what = "primary key" if key == list(contract.primary_key) else "unique column"
            samples = tuple(
                ", ".join(f"{k}={show(r[i])}" for i, k in enumerate(key)) + f" (x{r[-1]})" for r in rows
            )
            found.append(Violation(",".join(key), f"{what} has duplicate values", samples))
    return found


def write_port(con: Any, port: OutputPortSpec, directory: Path, rows: int) -> list[Path]:
    """Write the port's rows, cast to the contract's types, as Parquet under ``directory``."""
    select = ", ".join(
        f"CAST({quote(c.name)} AS {c.sql_type}) AS {quote(c.name)}" for c in port.contract.columns
    )
    query = f"SELECT {select} FROM {result_table(port.name)}"
    # zstd level 1: what pyarrow (and so pyiceberg) writes; the default level costs
    # 60% more time for a few percent of size.
    options = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1"
    if rows > _PARALLEL_ROWS:
        con.execute(
            f"COPY ({query}) TO {literal(str(directory))} ({options}, PER_THREAD_OUTPUT true, OVERWRITE true)"
        )
    else:
        target = directory / "part-0.parquet"
        con.execute(f"COPY ({query}) TO {literal(str(target))} ({options})")
    return sorted(directory.glob("*.parquet"))
