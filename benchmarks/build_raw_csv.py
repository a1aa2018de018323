"""build_raw_csv: build a raw product from a CSV, against DuckDB + pyiceberg by hand.

Ours: ``build_mesh(Workspace.open(root), [folder])`` on a fresh workspace each
repetition (an unchanged input would publish nothing). Baseline: DuckDB
``read_csv`` of the same file to one Arrow table, then pyiceberg
``create_table`` + ``append`` in a fresh SQLite catalog. Both times include
opening the catalog. Goal: ours <= 1.3x the baseline.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb

from benchmarks import data
from benchmarks.runner import (
    Measure,
    Outcome,
    Sample,
    Settings,
    alternate,
    log,
    median,
    phase_medians,
    profile_lines,
    split_lines,
    spread,
    stopwatch,
)

NAME = "build_raw_csv"
GOAL = 1.3

FIRST_PHASE = "open workspace, lock"
#: progress stage of the builder -> what the phase up to the next stage does
_PHASES = {
    "read inputs": "inputs: hash, sniff, bind",
    "transform": "CSV -> engine table",
    "check contract": "contract gate",
    "write": "write Parquet (zstd)",
    "commit": "commit + publish",
}


def daap_build(root: Path, csv: Path, on_phase: Callable[[str], None] = lambda _: None) -> Sample:
    """One real build of product ``p`` in a fresh workspace at ``root``.

    ``on_phase`` is called with each phase name as it starts (after the first).
    """
    from daap.mesh.builder import build_mesh
    from daap.mesh.workspace import Workspace

    folder = data.workspace(root, csv)
    marks: list[tuple[str, float]] = []

    def progress(_product: str, stage: str) -> None:
        marks.append((phase_name(stage), clock()))
        on_phase(marks[-1][0])

    clock = stopwatch()
    ws = Workspace.open(root)
    try:
        outcomes = build_mesh(ws, [folder], progress)
    finally:
        ws.close()
    total = clock()
    if [o.status for o in outcomes] != ["published"]:
        raise RuntimeError(f"daap build did not publish: {[(o.status, o.message) for o in outcomes]}")
    return Sample(total, _phases(marks, total))


def phase_name(stage: str) -> str:
    key = stage.removesuffix(f" of {data.PRODUCT}").removesuffix(f" {data.PRODUCT}")
    return _PHASES.get(key, key)


def _phases(marks: list[tuple[str, float]], total: float) -> dict[str, float]:
    names = [FIRST_PHASE, *(name for name, _ in marks)]
    times = [0.0, *(t for _, t in marks), total]
    return {name: times[i + 1] - times[i] for i, name in enumerate(names)}


def raw_baseline(csv: Path, warehouse: Path) -> Sample:
    """DuckDB read_csv -> Arrow -> pyiceberg create_table + append, fresh catalog at ``warehouse``."""
    from pyiceberg.catalog.sql import SqlCatalog

    shutil.rmtree(warehouse, ignore_errors=True)
    warehouse.mkdir(parents=True)
    clock = stopwatch()
    with duckdb.connect() as con:
        table = con.sql(f"SELECT * FROM read_csv('{csv}')").to_arrow_table()
    read = clock()
    catalog = SqlCatalog(
        "baseline", uri=f"sqlite:///{warehouse / 'catalog.db'}", warehouse=warehouse.as_uri()
    )
    catalog.create_namespace("bench")
    catalog.create_table(("bench", data.PRODUCT), schema=table.schema).append(table)
    total = clock()
    return Sample(total, {"read_csv -> Arrow": read, "create_table + append": total - read})


def run(settings: Settings) -> Outcome:
    rows = 200_000 if settings.quick else 1_000_000
    csv = data.csv_file(rows)
    work = settings.work / NAME
    log(f"{NAME}: {rows:,} rows, {settings.reps} repetitions (+1 warm-up) each")

    def ours() -> Sample:
        return daap_build(work / "ws", csv)

    def baseline() -> Sample:
        return raw_baseline(csv, work / "baseline")

    mine, theirs = alternate(ours, baseline, settings.reps)
    size = csv.stat().st_size / 1e6
    measure = Measure(
        NAME,
        f"build {rows:,} rows x 8 cols from CSV",
        median(mine),
        median(theirs),
        "s",
        GOAL,
        note=f"CSV {size:,.0f} MB; median of {settings.reps}, alternating, after one warm-up each; "
        f"ours {spread(mine)}, baseline {spread(theirs)}",
    )
    details = split_lines("daap", phase_medians(mine)) + split_lines("baseline", phase_medians(theirs))
    if settings.profile:
        details += profile_lines("one daap build", ours)
    return Outcome([measure], details)
