"""pgwire_fetch: rows/s fetching a table with psycopg (binary) from daap's PostgreSQL wire server.

Ours: ``PgWireServer`` in this process (a thread) over a workspace holding the
benchmark product, result cache off, so every fetch runs the whole query path
(guard, version lookup, DuckDB, Arrow, vectorised DataRow encoding). Baseline: the
same rows loaded into the real PostgreSQL server on 127.0.0.1:5432 (user postgres,
trust; a throwaway database dropped afterwards). Both are read by the same client:
``psycopg`` with a binary cursor, ``fetchall()`` of six typed columns. Goal: ours
takes at most 2x as long (at least half PostgreSQL's rows/s). The client decodes
in the same process as our server, so the two share the GIL; PostgreSQL does not.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks import data
from benchmarks.runner import (
    Measure,
    Outcome,
    Settings,
    alternate,
    log,
    median,
    spread,
    timed,
)

NAME = "pgwire_fetch"
GOAL = 2.0
COLUMNS = "c1, c2, c3, c4, c5, c6"
PG = "host=127.0.0.1 port=5432 user=postgres"
DATABASE = "daap_bench_pgwire"


def run(settings: Settings) -> Outcome:
    import psycopg

    from daap.mesh.builder import build_mesh
    from daap.mesh.workspace import Workspace
    from daap.query.service import QueryService
    from daap.servers.pgwire import PgWireServer

    rows = 200_000 if settings.quick else 1_000_000
    root = settings.work / NAME
    csv = data.csv_file(rows)
    folder = data.workspace(root, csv)
    ws = Workspace.open(root)
    handle = None
    try:
        if [o.status for o in build_mesh(ws, [folder])] != ["published"]:
            raise RuntimeError("daap build did not publish the benchmark product")
        handle = PgWireServer(QueryService(ws, cache_bytes=0)).serve_in_thread()
        _load_postgres(psycopg, csv)
        ours = f"host=127.0.0.1 port={handle.port} user=bench dbname=daap"
        log(f"{NAME}: {rows:,} rows x 6 columns, {settings.reps} fetches (+1 warm-up) each")
        fetch_ours = _fetch(psycopg, ours, f"SELECT {COLUMNS} FROM p.p")
        fetch_pg = _fetch(psycopg, f"{PG} dbname={DATABASE}", f"SELECT {COLUMNS} FROM p")
        if fetch_ours() != rows or fetch_pg() != rows:
            raise RuntimeError("daap and PostgreSQL returned different row counts")
        mine, theirs = alternate(timed(fetch_ours), timed(fetch_pg), settings.reps)
    finally:
        if handle is not None:
            handle.stop()
        ws.close()
        _drop_postgres(psycopg)
    ours_rate, pg_rate = rows / median(mine), rows / median(theirs)
    note = (
        f"daap {ours_rate:,.0f} rows/s, PostgreSQL {pg_rate:,.0f} rows/s ({ours_rate / pg_rate:.2f}x); "
        f"median of {settings.reps}; ours {spread(mine)}, PostgreSQL {spread(theirs)}"
    )
    measure = Measure(
        NAME, f"psycopg binary fetch of {rows:,} rows", median(mine), median(theirs), "s", GOAL, note
    )
    return Outcome([measure])


def _load_postgres(psycopg: object, csv: object) -> None:
    connect = psycopg.connect  # type: ignore[attr-defined]
    _drop_postgres(psycopg)
    with connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DATABASE}")
    with connect(f"{PG} dbname={DATABASE}") as conn:
        conn.execute(
            "CREATE TABLE p (c1 bigint, c2 text, c3 integer, c4 double precision, c5 date, "
            "c6 timestamp, c7 boolean, c8 text)"
        )
        with (
            open(str(csv), "rb") as source,
            conn.cursor().copy("COPY p FROM STDIN (FORMAT csv, HEADER)") as copy,
        ):
            while chunk := source.read(1 << 20):
                copy.write(chunk)
        conn.execute("ANALYZE p")


def _drop_postgres(psycopg: object) -> None:
    with psycopg.connect(PG, autocommit=True) as conn:  # type: ignore[attr-defined]
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")


def _fetch(psycopg: object, dsn: str, sql: str) -> Callable[[], int]:
    def fetch() -> int:
        with psycopg.connect(dsn) as conn:  # type: ignore[attr-defined]
            return len(conn.cursor(binary=True).execute(sql).fetchall())

    return fetch
