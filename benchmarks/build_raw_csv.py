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
#: the outbox step after the version is visible: one change event per row of a first version
EVENTS_PHASE = "change events (audit + backbone)"
#: publishing change events should keep up with the embedded backbone's own goal, 50k events/s
EVENTS_GOAL_US = 20.0

_PHASES = {
    "read inputs": "inputs: hash, sniff, bind",
    "transform": "CSV -> engine table",
    "check contract": "contract gate",
    "write": "write Parquet (zstd)",
    "commit": "commit + publish",
    "publish change events": EVENTS_PHASE,
}


def daap_build(
    root: Path, csv: Path, on_phase: Callable[[str], None] = lambda _: None, send_events: bool = True
) -> Sample:
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
        outcomes = build_mesh(ws, [folder], progress, send_events=send_events)
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
    # the baseline publishes no change events: compare up to the visible version, and
    # report the events (one insert per row here) as their own line
    events = [Sample(s.phases.get(EVENTS_PHASE, 0.0) / rows * 1e6) for s in mine]
    built = [Sample(s.seconds - s.phases.get(EVENTS_PHASE, 0.0)) for s in mine]
    measure = Measure(
        NAME,
        f"build {rows:,} rows x 8 cols from CSV, until the version is visible",
        median(built),
        median(theirs),
        "s",
        GOAL,
        note=f"CSV {size:,.0f} MB; median of {settings.reps}, alternating, after one warm-up each; "
        f"ours {spread(built)}, baseline {spread(theirs)}",
    )
    publish = Measure(
        NAME,
        f"then its {rows:,} change events (audit log + embedded backbone), per event",
        median(events),
        EVENTS_GOAL_US,
        "µs",
        1.0,
        note=f"{1e6 / median(events):,.0f} events/s; whole build {spread(mine)}",
    )
    details = split_lines("daap", phase_medians(mine)) + split_lines("baseline", phase_medians(theirs))
    if settings.profile:
        details += profile_lines("one daap build", ours)
    return Outcome([measure, publish], details)
