"""query_aggregate: a GROUP BY through daap's query path, against DuckDB on the same files.

Ours: ``QueryService(ws).execute(QueryRequest(sql)).read_all()`` with the
result cache off (guard, version lookup, file plan, a pooled engine
connection, Arrow out) on a service opened once, as ``daap up`` holds it; over
1e7 rows (1e6 with --quick). The cache-hit latency (goal: p50 < 1 ms) is
measured on a second service with the cache on. Baseline: a fresh ``duckdb.connect()`` per query running
the same SQL over ``read_parquet([...])`` of the version's files, fetched as one
Arrow table. Goal: ours <= 1.2x. The CLI end to end (``daap query --format
csv`` against a one-shot ``python -c 'import duckdb ...'``) is reported for
information: both are dominated by starting Python and importing libraries.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from benchmarks import data
from benchmarks.runner import (
    Measure,
    Outcome,
    Sample,
    Settings,
    alternate,
    log,
    median,
    profile_lines,
    python,
    spread,
    stopwatch,
    subprocess_env,
    timed,
)

NAME = "query_aggregate"
GOAL = 1.1
CACHE_HIT_GOAL_MS = 1.0
SQL = "SELECT c3, count(*) AS n, avg(c4) AS avg_c4, max(c6) AS max_c6 FROM p.p GROUP BY c3"
ONE_SHOT = (
    "import sys, duckdb, pyarrow.csv as c; "
    "c.write_csv(duckdb.sql(sys.argv[1]).to_arrow_table(), sys.stdout.buffer)"
)


def _direct_sql(paths: Sequence[str]) -> str:
    files = ", ".join(f"'{p}'" for p in paths)
    return SQL.replace("FROM p.p", f"FROM read_parquet([{files}])")


def _same(ours: pa.Table, theirs: pa.Table) -> bool:
    a, b = ours.sort_by("c3"), theirs.sort_by("c3")
    return a.num_rows == b.num_rows and all(a[c].equals(b[c]) for c in ("c3", "n", "max_c6"))


def _command(cmd: list[str], cwd: Path) -> Sample:
    clock = stopwatch()
    done = subprocess.run(cmd, cwd=cwd, env=subprocess_env(), capture_output=True, check=True)
    return Sample(clock(), extra={"lines": float(done.stdout.count(b"\n"))})


def run(settings: Settings) -> Outcome:
    from daap.mesh.builder import build_mesh
    from daap.mesh.workspace import Workspace
    from daap.query.service import QueryRequest, QueryService

    rows = 1_000_000 if settings.quick else 10_000_000
    reps = settings.reps * 3
    root = settings.work / NAME
    folder = data.workspace(root, data.csv_file(rows))
    log(f"{NAME}: {rows:,} rows, {reps} queries (+1 warm-up) each; CLI {settings.reps} each")
    ws = Workspace.open(root)
    try:
        outcomes = build_mesh(ws, [folder])
        if [o.status for o in outcomes] != ["published"]:
            raise RuntimeError(f"daap build did not publish: {[o.message for o in outcomes]}")
        state = ws.version(data.PRODUCT).ports[data.PRODUCT]
        direct = _direct_sql(ws.tables.plan(state.table, state.snapshot_ids[-1]).paths)

        service = QueryService(ws, cache_bytes=0)

        def query_ours() -> pa.Table:
            return service.execute(QueryRequest(SQL)).read_all()

        def query_direct() -> pa.Table:
            with duckdb.connect() as con:
                return con.sql(direct).to_arrow_table()

        if not _same(query_ours(), query_direct()):
            raise RuntimeError("daap and DuckDB disagree on the query result")
        mine, theirs = alternate(timed(query_ours), timed(query_direct), reps)
        hits = _cache_hits(QueryService(ws), QueryRequest(SQL), reps * 5)
        details = profile_lines("one daap query", query_ours) if settings.profile else []
    finally:
        ws.close()
    cli_ours = [python(), "-m", "daap", "-w", str(root), "query", SQL, "--format", "csv"]
    cli_base = [python(), "-c", ONE_SHOT, direct]
    cli_mine, cli_theirs = alternate(
        lambda: _command(cli_ours, root), lambda: _command(cli_base, root), settings.reps
    )
    if {s.extra["lines"] for s in cli_mine + cli_theirs} != {float(_distinct_c3(direct) + 1)}:
        raise RuntimeError("the CLI and the one-shot script printed different numbers of lines")
    startup = _startup(root, settings.reps)
    measures = [
        Measure(
            NAME,
            f"GROUP BY over {rows:,} rows, library",
            median(mine) * 1e3,
            median(theirs) * 1e3,
            "ms",
            GOAL,
            note=f"median of {reps} queries, alternating, after one warm-up each; "
            f"ours {spread(mine, 1e3, 'ms')}, baseline {spread(theirs, 1e3, 'ms')}",
        ),
        Measure(
            NAME,
            "same query, CLI process end to end",
            median(cli_mine) * 1e3,
            median(cli_theirs) * 1e3,
            "ms",
            note=(
                f"process start dominates: `python -c pass` {startup['pass']:.0f} ms, "
                f"`import daap.cli.main` {startup['daap']:.0f} ms, "
                f"`import duckdb, pyarrow.csv` {startup['duckdb']:.0f} ms (medians)"
            ),
        ),
        Measure(
            NAME,
            "result cache hit p50 (vs the 1 ms goal)",
            median(hits) * 1e3,
            CACHE_HIT_GOAL_MS,
            "ms",
            1.0,
            note=f"{len(hits)} repeated requests of the same query; p99 "
            f"{sorted(s.seconds for s in hits)[int(len(hits) * 0.99) - 1] * 1e3:.3f} ms",
        ),
    ]
    return Outcome(measures, details)


def _cache_hits(service: object, request: object, count: int) -> list[Sample]:
    """Latency of requests answered from the result cache (the first one fills it)."""
    service.execute(request).read_all()  # type: ignore[attr-defined]
    samples = []
    for _ in range(count):
        clock = stopwatch()
        result = service.execute(request)  # type: ignore[attr-defined]
        result.read_all()
        samples.append(Sample(clock()))
        if not result.from_cache:
            raise RuntimeError("a repeated query was not answered from the cache")
    return samples


def _distinct_c3(direct: str) -> int:
    with duckdb.connect() as con:
        row = con.execute(f"SELECT count(*) FROM ({direct})").fetchone()
    return int(row[0]) if row else 0


def _startup(cwd: Path, reps: int) -> dict[str, float]:
    scripts = {"pass": "pass", "daap": "import daap.cli.main", "duckdb": "import duckdb, pyarrow.csv"}
    return {
        name: median([_command([python(), "-c", code], cwd) for _ in range(reps)]) * 1e3
        for name, code in scripts.items()
    }
