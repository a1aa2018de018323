"""catalog_page: a product's page (``GET /api/products/{name}``) at mesh scale, over real HTTP.

10,000 generated products (1,000 with --quick; catalog_data's generator, as in
catalog_search) and what they read (catalog_data's layered DAG: about 1.8 edges per
product, a few hubs with hundreds of readers) in the workspace's embedded metadata store
(SQLite), written as a build registers them; plus the product ``p`` built by daap
(1,000 rows), whose page reads real sample rows. The server is the HTTP app as ``daap up``
builds it, in its own process (serving.py); one keep-alive httpx client asks for pages of
random generated products, one at a time.

A generated product's page holds its catalog entry (ports, ten columns, persona, tags),
its lineage (upstream from the entry; downstream from the lineage table, hundreds of names
for a hub), the connection snippets, no named queries (it has no folder), and for each port
the reason it has no sample rows: the sample query goes through the query path (guard,
version lookup) and finds no published version. The built product's page reads 5 rows per port
through the query path (the result cache answers after the first time).

Ours: p95 of the page. Goal: p95 < 100 ms.
Baseline, for the ratio: ``GET /healthz`` on the same server and connection, asked between
the pages, so the ratio is the page's cost in transport round trips (uvicorn, FastAPI, the
worker thread, the client). The same entry read in-process (``catalog_entry(name)`` and
``to_json()``) is in the notes, as the floor of the catalog part.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Sequence
from typing import Any

import httpx

from benchmarks import catalog_data, data
from benchmarks.runner import Measure, Outcome, Settings, log, percentile
from benchmarks.serving import latencies, profile_route, serve_http

NAME = "catalog_page"
GOAL_MS = 100.0
BUILT_ROWS = 1_000
PAGE = "/api/products/{product}"


def _direct(store: Any, names: Sequence[str]) -> list[float]:
    """Milliseconds of each entry read straight from the store, as JSON-able data."""
    times = []
    for name in names:
        start = time.perf_counter()
        entry = store.catalog_entry(name)
        entry.to_json()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _summary(times: Sequence[float]) -> str:
    return f"median {statistics.median(times):.2f} ms, max {max(times):.1f} ms"


def run(settings: Settings) -> Outcome:
    from daap.mesh.builder import build_mesh
    from daap.mesh.workspace import Workspace

    products = 1_000 if settings.quick else 10_000
    count = 100 if settings.quick else 300
    root = settings.work / NAME
    folder = data.workspace(root, data.csv_file(BUILT_ROWS))
    ws = Workspace.open(root)
    try:
        if [o.status for o in build_mesh(ws, [folder])] != ["published"]:
            raise RuntimeError("daap build did not publish")
        mesh = catalog_data.load_mesh(ws.metadata, products)
        rng = random.Random(11)
        picks = [rng.choice(mesh.names) for _ in range(count)]
        direct = _direct(ws.metadata, picks)
    finally:
        ws.close()
    hub, hub_readers = mesh.readers.most_common(1)[0]
    log(f"{NAME}: {products:,} products; {count} pages, {count} /healthz, {count // 3} pages of a built one")
    mixed = [r for name in picks for r in ((PAGE.format(product=name), {}), ("/healthz", {}))]
    built = [(PAGE.format(product=data.PRODUCT), {})] * (count // 3)
    with serve_http(root) as base, httpx.Client(base_url=base, timeout=60) as client:
        latencies(client, mixed[:20] + built[:3])  # warm: connection, imports, the engine
        both = latencies(client, mixed)
        sampled = latencies(client, built)
        on_hub = latencies(client, [(PAGE.format(product=hub), {})] * 5)
        hub_page = client.get(PAGE.format(product=hub))
        if not hub_page.json()["samples"]["main"]["reason"]:
            raise RuntimeError("a generated product's page read sample rows")
        if len(client.get(PAGE.format(product=data.PRODUCT)).json()["samples"][data.PRODUCT]["rows"]) != 5:
            raise RuntimeError("the built product's page has no sample rows")
    pages, health = both[::2], both[1::2]
    details = []
    if settings.profile:
        calls = [{"product": name} for name in picks[:50]]
        details = profile_route(root, f"{len(calls)} product pages (the endpoint alone)", PAGE, calls)
    hub_note = (
        f"the page of the most read product ({hub_readers} readers): {len(hub_page.content):,} bytes, "
        f"median {statistics.median(on_hub):.2f} ms"
    )
    measures = [
        Measure(
            NAME, f"product page p95, {products:,} products, no data", percentile(pages), GOAL_MS, "ms", 1.0,
            note=f"{count} pages of random generated products, one keep-alive client; {_summary(pages)}; "
            f"{hub_note}; loaded at {products / mesh.seconds:,.0f} products/s (entry + lineage)",
        ),
        Measure(
            NAME, "product page p95 vs GET /healthz p95", percentile(pages), percentile(health), "ms", None,
            note=f"/healthz asked between the pages, same connection: {_summary(health)}; the entry read "
            f"in-process (catalog_entry + to_json): {_summary(direct)}, p95 {percentile(direct):.2f} ms",
        ),
        Measure(
            NAME, "page of a built product p95 (5 sample rows)", percentile(sampled), GOAL_MS, "ms", 1.0,
            note=f"{len(sampled)} pages of p ({BUILT_ROWS:,} rows, one port), samples through the query "
            f"path; {_summary(sampled)}",
        ),
    ]  # fmt: skip
    return Outcome(measures, details)
