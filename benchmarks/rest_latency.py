"""rest_latency: the REST output port under load, and bulk export through it.

The server runs in its own process (the HTTP app as ``daap up`` builds it, see
``benchmarks/serving.py``), so the clients here do not share its interpreter lock.

- Latency: 32 concurrent clients (one ``httpx.AsyncClient``) ask for 100-row
  JSON pages starting at random keys (``?c1__gte=<random>&_size=100``), so
  every page is a fresh query, not a result-cache hit; p50 and p99 of a
  bounded number of requests. Reference: the same page query run in-process
  by DuckDB on the same Parquet files, one at a time (no HTTP, no queueing).
- Export: ``POST /api/sql`` ``SELECT * FROM p.p`` streamed as NDJSON and as an
  Arrow IPC stream, the whole body received. Baseline: DuckDB reading the same
  Parquet files to an Arrow table in-process. Each export has a new parameter,
  so none is answered from the result cache. Reported as seconds per export
  (ratio = ours / baseline) with rows/s in the notes; for information, no goal yet.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections.abc import Callable, Sequence

import duckdb
import httpx
import pyarrow as pa
import pyarrow.ipc as ipc

from benchmarks import data
from benchmarks.runner import (
    Measure,
    Outcome,
    Sample,
    Settings,
    alternate,
    log,
    median,
    percentile,
    spread,
    stopwatch,
)
from benchmarks.serving import serve_http

NAME = "rest_latency"
CLIENTS = 32
PAGE_SQL = "SELECT * FROM read_parquet([{files}]) WHERE c1 >= ? ORDER BY c1 LIMIT 101"


async def _pages(base: str, starts: Sequence[int]) -> list[float]:
    """Latency of each page request, with at most CLIENTS in flight."""
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    gate = asyncio.Semaphore(CLIENTS)
    path = f"/api/products/{data.PRODUCT}/ports/{data.PRODUCT}/rows"
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def one(start: int) -> float:
            async with gate:
                clock = stopwatch()
                response = await client.get(path, params={"c1__gte": start, "_size": 100})
                response.raise_for_status()
                if len(response.json()["rows"]) != 100:
                    raise RuntimeError(f"page at {start} is not 100 rows")
                return clock()

        return list(await asyncio.gather(*(one(s) for s in starts)))


def _export(base: str, fmt: str, rows: int) -> Callable[[], Sample]:
    runs = iter(range(1, 1 << 30))

    def run() -> Sample:
        # a new parameter each time: a small result would otherwise come from the result cache
        query = {"sql": "SELECT * FROM p.p WHERE c1 > ?", "params": [-next(runs)]}
        clock = stopwatch()
        body = bytearray()
        with httpx.stream(
            "POST", f"{base}/api/sql", params={"_format": fmt}, json=query, timeout=300
        ) as response:
            response.raise_for_status()
            for chunk in response.iter_raw(1 << 20):
                body += chunk
        seconds = clock()
        got = body.count(b"\n") if fmt == "ndjson" else ipc.open_stream(bytes(body)).read_all().num_rows
        if got != rows:
            raise RuntimeError(f"{fmt} export returned {got:,} rows, not {rows:,}")
        return Sample(seconds, extra={"bytes": float(len(body))})

    return run


def _direct(paths: Sequence[str], rows: int) -> Callable[[], Sample]:
    files = ", ".join(f"'{p}'" for p in paths)

    def run() -> Sample:
        clock = stopwatch()
        with duckdb.connect() as con:
            table: pa.Table = con.sql(f"SELECT * FROM read_parquet([{files}])").to_arrow_table()
        if table.num_rows != rows:
            raise RuntimeError("DuckDB read a different number of rows")
        return Sample(clock())

    return run


def _reference_page(paths: Sequence[str], starts: Sequence[int]) -> list[float]:
    sql = PAGE_SQL.format(files=", ".join(f"'{p}'" for p in paths))
    times = []
    for start in starts:
        clock = stopwatch()
        with duckdb.connect() as con:
            con.sql(sql, params=[start]).to_arrow_table()
        times.append(clock())
    return times


def run(settings: Settings) -> Outcome:
    from daap.mesh.builder import build_mesh
    from daap.mesh.workspace import Workspace

    rows = 200_000 if settings.quick else 1_000_000
    requests = 640 if settings.quick else 3_200
    root = settings.work / NAME
    folder = data.workspace(root, data.csv_file(rows))
    ws = Workspace.open(root)
    try:
        if [o.status for o in build_mesh(ws, [folder])] != ["published"]:
            raise RuntimeError("daap build did not publish")
        state = ws.version(data.PRODUCT).ports[data.PRODUCT]
        paths = ws.tables.plan(state.table, state.snapshot_ids[-1]).paths
    finally:
        ws.close()
    log(f"{NAME}: {rows:,} rows; {requests:,} pages over {CLIENTS} clients; exports x{settings.reps}")
    with serve_http(root) as base:  # as `daap up` serves it
        rng = random.Random(7)
        starts = [rng.randrange(rows - 100) for _ in range(requests)]
        asyncio.run(_pages(base, starts[:CLIENTS]))  # warm-up: connections, imports, plan cache
        wall = stopwatch()
        latencies = asyncio.run(_pages(base, starts))
        elapsed = wall()
        reference = _reference_page(paths, starts[:200])
        exports = {
            fmt: alternate(_export(base, fmt, rows), _direct(paths, rows), settings.reps)
            for fmt in ("ndjson", "arrow")
        }
    return Outcome(_measures(rows, latencies, elapsed, reference, exports), [])


def _measures(
    rows: int,
    latencies: list[float],
    elapsed: float,
    reference: list[float],
    exports: dict[str, tuple[list[Sample], list[Sample]]],
) -> list[Measure]:
    ref = statistics.median(reference) * 1e3
    pages = f"{len(latencies):,} pages in {elapsed:.1f} s = {len(latencies) / elapsed:,.0f} pages/s"
    found = [
        Measure(
            NAME,
            f"100-row JSON page p50, {CLIENTS} clients",
            statistics.median(latencies) * 1e3,
            ref,
            "ms",
            note=f"{pages}; reference: the page query in-process in DuckDB, one at a time",
        ),
        Measure(
            NAME,
            f"100-row JSON page p99, {CLIENTS} clients",
            percentile(latencies, 0.99) * 1e3,
            percentile(reference, 0.99) * 1e3,
            "ms",
        ),
    ]
    for fmt, (mine, theirs) in exports.items():
        size = statistics.median(s.extra["bytes"] for s in mine) / 2**20
        found.append(
            Measure(
                NAME,
                f"export {rows:,} rows as {fmt} over HTTP",
                median(mine),
                median(theirs),
                "s",
                note=f"{rows / median(mine):,.0f} rows/s ({size:,.0f} MiB) vs DuckDB to Arrow in-process "
                f"{rows / median(theirs):,.0f} rows/s; ours {spread(mine)}, baseline {spread(theirs)}",
            )
        )
    return found
