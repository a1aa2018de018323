"""lineage_graph: the lineage around a product (``GET /api/lineage?node=X&depth=3``), over real HTTP.

5,000 generated products (1,000 with --quick) and what they read (catalog_data's layered
DAG: raw products reading files, each later product reading one to three ports of earlier
ones, a few hubs with hundreds of readers; about 9,000 edges) in the workspace's embedded
metadata store (SQLite), written as a build registers them. The server is the HTTP app as
``daap up`` builds it, in its own process (serving.py); one keep-alive httpx client asks for
three hops each way around random products, one at a time. The answer is the first page of
edges (200) and the total.

Ours: p95 of the request. Goal: p95 < 200 ms.
Baseline, for the ratio: a raw breadth-first walk in Python, per start node as the endpoint
does per request: one SQL query reads every edge (sqlite3, a connection of its own; files
named per reader, as the API names them), into adjacency lists, then three hops each way,
collecting the distinct edges. Its totals are checked against the API's. This process's
objects are frozen out of the garbage collector while timing, so the walk's full collections
do not traverse the harness's heap; the server's do traverse its own, as any server's would.
"""

from __future__ import annotations

import gc
import random
import sqlite3
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence

import httpx

from benchmarks import catalog_data
from benchmarks.runner import Measure, Outcome, Settings, log, percentile
from benchmarks.serving import latencies, profile_route, serve_http

NAME = "lineage_graph"
GOAL_MS = 200.0
DEPTH = 3
LINEAGE = "/api/lineage"
#: the most read products, each walked around five times: the largest answers
HUBS = 10
#: every edge as the API names its nodes: products by name, a file as file:<reader>/<glob>
EDGES_SQL = (
    "SELECT CASE WHEN upstream LIKE 'file:%' THEN 'file:' || product || '/' || substr(upstream, 6)"
    " ELSE upstream_product END, product FROM daap_product_lineage"
)


def _raw_walk(conn: sqlite3.Connection, start: str, hops: int) -> int:
    """The number of distinct edges within ``hops`` of ``start``, either way."""
    up: dict[str, list[str]] = defaultdict(list)
    down: dict[str, list[str]] = defaultdict(list)
    for source, reader in conn.execute(EDGES_SQL):
        up[reader].append(source)
        down[source].append(reader)
    found: set[tuple[str, str]] = set()
    for links, downstream in ((up, False), (down, True)):
        frontier, seen = [start], {start}
        for _ in range(hops):
            following = []
            for node in frontier:
                for other in links.get(node, ()):
                    found.add((node, other) if downstream else (other, node))
                    if other not in seen:
                        seen.add(other)
                        following.append(other)
            frontier = following
    return len(found)


def _walks(
    client: httpx.Client, conn: sqlite3.Connection, starts: Sequence[str]
) -> tuple[list[float], list[float], list[int]]:
    """Milliseconds of the API and of the raw walk around each start, alternating (a busy moment
    hits both), and the number of edges around each start (checked equal on the first 20)."""
    ours: list[float] = []
    raw: list[float] = []
    totals: list[int] = []
    for start in starts:
        ours += latencies(client, [(LINEAGE, {"node": start, "depth": DEPTH})])
        clock = time.perf_counter()
        totals.append(_raw_walk(conn, start, DEPTH))
        raw.append((time.perf_counter() - clock) * 1000)
    for start, total in list(zip(starts, totals, strict=True))[:20]:
        got = client.get(LINEAGE, params={"node": start, "depth": DEPTH}).json()["total"]
        if got != total:
            raise RuntimeError(f"{start}: the API has {got} edges within {DEPTH} hops, raw {total}")
    return ours, raw, totals


def run(settings: Settings) -> Outcome:
    from daap.mesh.workspace import Workspace

    products = 1_000 if settings.quick else 5_000
    count = 100 if settings.quick else 300
    root = settings.work / NAME
    root.mkdir(parents=True, exist_ok=True)
    (root / "mesh.yaml").write_text("name: bench\n")
    ws = Workspace.open(root)
    try:
        mesh = catalog_data.load_mesh(ws.metadata, products)
        path = ws.config.metadata_url.removeprefix("sqlite://")
    finally:
        ws.close()
    edges, readers = mesh.edges, mesh.readers
    rng = random.Random(13)
    starts = [rng.choice(mesh.names) for _ in range(count)]
    hubs = [name for name, _ in readers.most_common(HUBS)] * 5
    log(f"{NAME}: {products:,} products, {edges:,} edges; {count} walks of depth {DEPTH}, both ways")
    conn = sqlite3.connect(path)
    gc.collect()
    gc.freeze()  # the raw walks' full collections skip this process's heap (the harness's, not theirs)
    try:
        with serve_http(root) as base, httpx.Client(base_url=base, timeout=60) as client:
            latencies(client, [(LINEAGE, {"node": s, "depth": DEPTH}) for s in starts[:10]])  # warm
            ours, raw, totals = _walks(client, conn, starts)
            on_hubs, raw_hubs, hub_totals = _walks(client, conn, hubs)
    finally:
        gc.unfreeze()
        conn.close()
    details = []
    if settings.profile:
        calls = [{"node": s, "depth": DEPTH} for s in starts[:30]]
        details = profile_route(root, f"{len(calls)} lineage requests (the endpoint alone)", LINEAGE, calls)
    measures = [
        Measure(
            NAME, f"lineage depth {DEPTH} p95, {products:,} products", percentile(ours), GOAL_MS, "ms", 1.0,
            note=f"{count} random start products, one keep-alive client; {_summary(ours)}; {edges:,} edges; "
            f"{_reach(totals)}; the first 200 edges returned; loaded at {products / mesh.seconds:,.0f}/s",
        ),
        Measure(
            NAME, "lineage p95 vs raw SQL + BFS p95", percentile(ours), percentile(raw), "ms", None,
            note=f"raw: one SQL query of every edge, adjacency lists, BFS; {_summary(raw)}; totals equal",
        ),
        Measure(
            NAME, f"same, the {HUBS} most read products, p95", percentile(on_hubs), percentile(raw_hubs),
            "ms", None, note=f"each 5 times; ours {_summary(on_hubs)}, raw {_summary(raw_hubs)}; "
            f"{_reach(hub_totals)}; readers {readers.most_common(1)[0][1]} down to "
            f"{readers.most_common(HUBS)[-1][1]}",
        ),
    ]  # fmt: skip
    return Outcome(measures, details)


def _summary(times: Sequence[float]) -> str:
    return f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms"


def _reach(totals: Sequence[int]) -> str:
    return f"edges within {DEPTH} hops: median {statistics.median(totals):,.0f}, max {max(totals):,.0f}"
