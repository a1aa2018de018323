"""change_set: daap's change set of a product version, against a hand-written DuckDB join.

Two versions of the raw product ``p`` (1e6 rows; 1e5 with --quick): the second
deletes, updates (``c4``) and inserts about 1% of the rows in all. Ours:
:func:`daap.runtime.cdc.compute` between the two versions as ``daap diff``
reads them (workspace lookup, a fresh engine connection, the four Arrow tables).
Baseline: a fresh ``duckdb.connect()`` running one full outer join on the key
over the same two versions' Parquet files, keeping the changed rows (both
sides, ``IS DISTINCT FROM`` on every other column), fetched as one Arrow table.
Goal: ours <= 1.2x.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from benchmarks import data
from benchmarks.runner import Measure, Outcome, Settings, alternate, log, median, profile_lines, spread, timed

NAME = "change_set"
GOAL = 1.2
KEY = "c1"
#: of every 300 rows: one deleted, one updated; plus inserts of 1/300 of the rows
EVERY = 300


def _second_version(csv: Path, rows: int, target: Path) -> None:
    """The input of version 2: version 1 with ~1% of its rows deleted, updated or added."""
    others = ", ".join(name for name, *_ in data.COLUMNS if name != KEY)
    query = (
        f"SELECT * REPLACE (CASE WHEN c1 % {EVERY} = 1 THEN c4 + 1 ELSE c4 END AS c4) "
        f"FROM read_csv('{csv}') WHERE c1 % {EVERY} <> 0 "
        f"UNION ALL SELECT c1 + {rows} AS c1, {others} FROM read_csv('{csv}') WHERE c1 < {rows // EVERY}"
    )
    target.unlink(missing_ok=True)  # a hard link to the cached input: never write through it
    with duckdb.connect() as con:
        con.execute(f"COPY ({query}) TO '{target}' (FORMAT csv, HEADER)")


def _join_sql(old: Sequence[str], new: Sequence[str]) -> str:
    names = [name for name, *_ in data.COLUMNS]
    sides = [f"o.{c} AS o_{c}" for c in names] + [f"n.{c} AS n_{c}" for c in names]
    differs = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in names if c != KEY)
    return (
        f"SELECT {', '.join(sides)} FROM read_parquet({_list(old)}) o "
        f"FULL OUTER JOIN read_parquet({_list(new)}) n ON o.{KEY} = n.{KEY} "
        f"WHERE o.{KEY} IS NULL OR n.{KEY} IS NULL OR {differs}"
    )


def _list(paths: Sequence[str]) -> str:
    return "[" + ", ".join(f"'{p}'" for p in paths) + "]"


def run(settings: Settings) -> Outcome:
    from daap.mesh.builder import build_mesh
    from daap.mesh.workspace import Workspace
    from daap.runtime import cdc, engine

    rows = 100_000 if settings.quick else 1_000_000
    root = settings.work / NAME
    csv = data.csv_file(rows)
    folder = data.workspace(root, csv)
    log(f"{NAME}: {rows:,} rows, two versions, ~1% changed; {settings.reps} runs each")
    ws = Workspace.open(root)
    try:
        _publish(ws, build_mesh, folder)
        _second_version(csv, rows, folder / "data" / "input.csv")
        _publish(ws, build_mesh, folder)
        files = [_files(ws, v) for v in (1, 2)]
        direct = _join_sql(*files)

        def ours() -> cdc.ChangeSet:
            old, new = (ws.port_data(data.PRODUCT, data.PRODUCT, v).relation for v in (1, 2))
            con = engine.connect()
            try:
                return cdc.compute(con, old, new, (KEY,), ref=cdc.PortRef(data.PRODUCT, data.PRODUCT, 1, 2))
            finally:
                con.close()

        def baseline() -> pa.Table:
            with duckdb.connect() as con:
                return con.sql(direct).to_arrow_table()

        counts = _check(ours(), baseline())
        mine, theirs = alternate(timed(ours), timed(baseline), settings.reps)
        details = profile_lines("one change set", ours) if settings.profile else []
    finally:
        ws.close()
    measure = Measure(
        NAME,
        f"change set of {rows:,} rows ({counts})",
        median(mine) * 1e3,
        median(theirs) * 1e3,
        "ms",
        GOAL,
        note=f"median of {settings.reps}, alternating, after one warm-up each; "
        f"ours {spread(mine, 1e3, 'ms')}, baseline {spread(theirs, 1e3, 'ms')}; {os.cpu_count()} CPUs",
    )
    return Outcome([measure], details)


def _publish(ws: object, build_mesh: object, folder: Path) -> None:
    outcomes = build_mesh(ws, [folder])  # type: ignore[operator]
    if [o.status for o in outcomes] != ["published"]:
        raise RuntimeError(f"daap build did not publish: {[o.message for o in outcomes]}")


def _files(ws: object, version: int) -> list[str]:
    state = ws.version(data.PRODUCT, version).ports[data.PRODUCT]  # type: ignore[attr-defined]
    return list(ws.tables.plan(state.table, state.snapshot_ids[-1]).paths)  # type: ignore[attr-defined]


def _check(changes: object, joined: pa.Table) -> str:
    """Both sides found the same changes; returns them as ``+I ~U -D``."""
    ins, upd, dels = changes.inserted, changes.updated, changes.deleted  # type: ignore[attr-defined]
    if ins + upd + dels != joined.num_rows or not (ins and upd and dels):
        raise RuntimeError(f"change set +{ins} ~{upd} -{dels} vs {joined.num_rows} joined rows")
    return f"+{ins:,} ~{upd:,} -{dels:,}"
