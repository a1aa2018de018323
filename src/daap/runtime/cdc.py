"""Change sets: what one version of a port changed against another, computed by DuckDB.

A port with a primary key is compared row by row on the key, in one full outer
join: a key only in the new version is an insert, only in the old one a
delete, in both with some non-key value different an update. Values compare
with ``IS DISTINCT FROM``, so ``NULL`` -> ``NULL`` is no change and
``NULL`` -> ``0`` is one.

A port without a key is append-only: a version may only add rows. Its change
set is the multiset difference new - old, found by one aggregation over both
versions (a row appended twice is two inserts). A row of the old version the
new one lacks was deleted or changed, which such a port forbids:
:func:`compute` raises :class:`~daap.errors.ContractViolation` for it.

The four Arrow tables of a :class:`ChangeSet` are the change data the audit
log and the event backbone publish; the engine never loops over rows in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from daap.errors import ContractViolation, Violation
from daap.runtime.contract import SAMPLES, show
from daap.runtime.engine import Relation, columns, quote, register

# Names on the caller's connection; prefixed so they never meet a port's tables.
_OLD, _NEW, _OLD_IN, _NEW_IN = "__cdc_old", "__cdc_new", "__cdc_old_rows", "__cdc_new_rows"
_GROUPS = "__cdc_groups"
_INSERT, _UPDATE, _DELETE = 1, 2, 3


@dataclass(frozen=True)
class ChangeSet:
    """The rows one version of ``product.port`` inserted, updated and deleted.

    ``updates_before[i]`` and ``updates_after[i]`` are the same key's row in
    the old and the new version. ``from_version`` is None when the old side is
    empty (the first version); ``to_version`` is None for a build not yet
    published.
    """

    product: str
    port: str
    from_version: int | None
    to_version: int | None
    key: tuple[str, ...]
    inserts: pa.Table
    updates_before: pa.Table
    updates_after: pa.Table
    deletes: pa.Table

    @property
    def inserted(self) -> int:
        return int(self.inserts.num_rows)

    @property
    def updated(self) -> int:
        return int(self.updates_after.num_rows)

    @property
    def deleted(self) -> int:
        return int(self.deletes.num_rows)

    @property
    def empty(self) -> bool:
        return not (self.inserted or self.updated or self.deleted)


@dataclass(frozen=True)
class PortRef:
    """Which port and versions a change set is about, for its fields and error messages."""

    product: str = ""
    port: str = ""
    from_version: int | None = None
    to_version: int | None = None
    #: the contract's file name, for messages
    contract: str = "(no primary key)"


def compute(
    con: Any,
    old: Relation | None,
    new: Relation,
    key: Sequence[str],
    columns: Sequence[str] | None = None,
    *,
    ref: PortRef = PortRef(),
    append_only: bool = True,
) -> ChangeSet:
    """The change set from ``old`` (None: nothing, the first version) to ``new``.

    Args:
        con: a DuckDB connection (see :func:`daap.runtime.engine.connect`); the
            relations are registered on it as ``__cdc_*`` views.
        key: the primary key; empty for an append-only port.
        columns: the columns to compare and return (default: all of ``new``);
            one ``old`` lacks reads as NULL there, so adding a column updates
            every row.
        ref: the product, port and versions, carried into the result.
        append_only: for a port without key, refuse rows that disappear; with
            False they are reported as deletes (``daap diff`` of old versions).

    Raises:
        ContractViolation: ``key`` is empty, ``append_only`` holds and rows of
            ``old`` are missing from ``new``.
    """
    names = _prepare(con, old, new, columns)
    if old is None:
        inserts = con.sql(f"SELECT * FROM {_NEW_IN}").to_arrow_table()
        empty = inserts.slice(0, 0)
        return _change_set(ref, key, inserts, empty, empty, empty)
    if key:
        return _keyed(con, ref, tuple(key), names)
    return _appended(con, ref, names, append_only)


def check_append_only(
    con: Any, old: Relation, new: Relation, columns: Sequence[str] | None = None, *, ref: PortRef
) -> int:
    """Refuse a new version of an append-only port that loses rows; returns the rows appended.

    Cheaper than :func:`compute`: the appended rows are counted, not fetched.

    Raises:
        ContractViolation: naming the port, how many rows would disappear, and samples.
    """
    names = _prepare(con, old, new, columns)
    _group(con, names)
    _refuse_disappearing(con, ref, names)
    row = con.execute(f"SELECT coalesce(sum(__delta), 0) FROM {_GROUPS} WHERE __delta > 0").fetchall()[0]
    return int(row[0])


def _prepare(con: Any, old: Relation | None, new: Relation, wanted: Sequence[str] | None) -> list[str]:
    """Register both sides as views of the same columns in the same order; returns the names."""
    register(con, _NEW, new)
    new_types = dict(columns(con, quote(_NEW)))
    names = list(wanted) if wanted is not None else list(new_types)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {_NEW_IN} AS SELECT {_select(names)} FROM {quote(_NEW)}")
    if old is not None:
        register(con, _OLD, old)
        old_types = dict(columns(con, quote(_OLD)))
        # a column the old version lacks is NULL there: typed, so both sides compare
        picks = [quote(n) if n in old_types else f"NULL::{new_types[n]} AS {quote(n)}" for n in names]
        con.execute(f"CREATE OR REPLACE TEMP VIEW {_OLD_IN} AS SELECT {', '.join(picks)} FROM {quote(_OLD)}")
    return names


def _select(names: Sequence[str]) -> str:
    return ", ".join(quote(n) for n in names)


def _keyed(con: Any, ref: PortRef, key: tuple[str, ...], names: list[str]) -> ChangeSet:
    """One full outer join on the key; the few changed rows are split by kind in Arrow."""
    changed = con.sql(_keyed_sql(key, names)).to_arrow_table()
    old_cols = [f"__o{i}" for i in range(len(names))]
    new_cols = [f"__n{i}" for i in range(len(names))]

    def part(kind: int, cols: list[str]) -> pa.Table:
        rows = changed.filter(pc.equal(changed["__kind"], kind)).select(cols)
        return rows.rename_columns(names)

    return _change_set(
        ref,
        key,
        part(_INSERT, new_cols),
        part(_UPDATE, old_cols),
        part(_UPDATE, new_cols),
        part(_DELETE, old_cols),
    )


def _keyed_sql(key: tuple[str, ...], names: list[str]) -> str:
    """The changed rows, old and new side by side: ``__kind, __o0.., __n0..``, in key order.

    ``__in`` marks a side that has the row, so a NULL in a key column never
    reads as "absent".
    """
    on = " AND ".join(f"o.{quote(k)} = n.{quote(k)}" for k in key)
    values = [n for n in names if n not in key]
    differs = " OR ".join(f"o.{quote(v)} IS DISTINCT FROM n.{quote(v)}" for v in values) or "false"
    sides = [f"o.{quote(n)} AS __o{i}" for i, n in enumerate(names)]
    sides += [f"n.{quote(n)} AS __n{i}" for i, n in enumerate(names)]
    order = ", ".join(f"coalesce(n.{quote(k)}, o.{quote(k)})" for k in key)
    return (
        f"SELECT CASE WHEN o.__in IS NULL THEN {_INSERT} WHEN n.__in IS NULL THEN {_DELETE} "
        f"ELSE {_UPDATE} END::UTINYINT AS __kind, {', '.join(sides)} "
        f"FROM (SELECT *, true AS __in FROM {_OLD_IN}) o "
        f"FULL OUTER JOIN (SELECT *, true AS __in FROM {_NEW_IN}) n ON {on} "
        f"WHERE o.__in IS NULL OR n.__in IS NULL OR {differs} ORDER BY {order}"
    )


def _group(con: Any, names: list[str]) -> None:
    """Each distinct row with (times in new) - (times in old), where that is not 0.

    GROUP BY puts NULLs in one group, so a row with a NULL matches itself.
    """
    both = (
        f"SELECT {_select(names)}, 1 AS __side FROM {_NEW_IN} "
        f"UNION ALL SELECT {_select(names)}, -1 AS __side FROM {_OLD_IN}"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_GROUPS} AS SELECT {_select(names)}, sum(__side)::BIGINT AS __delta "
        f"FROM ({both}) GROUP BY ALL HAVING sum(__side) <> 0"
    )


def _appended(con: Any, ref: PortRef, names: list[str], append_only: bool) -> ChangeSet:
    """The multiset difference new - old as inserts (and old - new as deletes, if allowed)."""
    _group(con, names)
    if append_only:
        _refuse_disappearing(con, ref, names)
    inserts = _expand(con, names, "__delta")
    deletes = _expand(con, names, "-__delta")
    empty = inserts.slice(0, 0)
    return _change_set(ref, (), inserts, empty, empty, deletes)


def _expand(con: Any, names: list[str], count: str) -> pa.Table:
    """Each group repeated ``count`` times (where positive): a row appended twice is two rows.

    Ordered by every column, so the same two versions always give the same rows
    in the same order (change events of such rows are identified by position).
    """
    return con.sql(
        f"SELECT {_select(names)} FROM {_GROUPS}, range({count}) WHERE {count} > 0 ORDER BY ALL"
    ).to_arrow_table()


def _refuse_disappearing(con: Any, ref: PortRef, names: list[str]) -> None:
    row = con.execute(f"SELECT coalesce(sum(-__delta), 0) FROM {_GROUPS} WHERE __delta < 0").fetchall()[0]
    lost = int(row[0])
    if not lost:
        return
    samples = con.execute(
        f"SELECT {_select(names)}, -__delta FROM {_GROUPS} WHERE __delta < 0 LIMIT {SAMPLES}"
    ).fetchall()
    shown = tuple(_describe(names, sample) for sample in samples)
    since = f"version {ref.from_version}" if ref.from_version is not None else "the previous version"
    message = (
        f"is append-only (no primary key), but {lost:,} row(s) of {since} would disappear "
        "(deleted or changed); to allow updates and deletes, declare a primary key"
    )
    raise ContractViolation(ref.product, ref.port, ref.contract, [Violation(None, message, shown)])


def _describe(names: list[str], row: tuple[Any, ...]) -> str:
    """``{id=1, name='ann'}`` (x2 when the row disappears twice)."""
    values = ", ".join(f"{n}={show(v)}" for n, v in zip(names, row[:-1], strict=True))
    times = f" (x{row[-1]})" if row[-1] > 1 else ""
    return "{" + values + "}" + times


def _change_set(
    ref: PortRef, key: Sequence[str], inserts: pa.Table, before: pa.Table, after: pa.Table, deletes: pa.Table
) -> ChangeSet:
    return ChangeSet(
        ref.product, ref.port, ref.from_version, ref.to_version, tuple(key), inserts, before, after, deletes
    )
