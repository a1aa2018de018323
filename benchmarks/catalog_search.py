"""catalog_search: the central catalog's search, full-text ranked and faceted, at mesh scale.

10,000 generated products (1,000 with --quick), ten columns each (100,000 columns), in
an embedded metadata store (SQLite, FTS5), written one ``upsert_catalog`` at a time.
Ours: ``search_catalog`` for a mix of queries (one word, a rare word, a prefix, two and
three words, a word and a facet, facets without words, a word seen by a principal who may
discover half the mesh, a word nothing has), each giving a page of 20 hits with snippets,
the total and the counts of all six facets. Reported: p95 per search.
Goal: p95 < 50 ms.
Baseline, for the ratio: the same words as a raw sqlite3 FTS5 query over the same index
(bm25, top 20 names; by name when there are no words) on its own connection; it counts
nothing and reads no entries, so the ratio is the price of facets, totals and entries.
PostgreSQL (127.0.0.1:5432, a throwaway database) runs the same mix when reachable, for
information.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from benchmarks import catalog_data
from benchmarks.catalog_data import COLUMNS_PER_PRODUCT, DOMAINS
from benchmarks.runner import Measure, Outcome, Settings, log, percentile

NAME = "catalog_search"
GOAL_MS = 50.0
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _queries(count: int, names: Sequence[str]) -> list[tuple[str | None, dict[str, Any]]]:
    """The mix: ``(text, keyword arguments)``, cycled to ``count``."""
    rng = random.Random(7)
    vocab = catalog_data.vocabulary(random.Random(catalog_data.SEED))
    half = names[: len(names) // 2]
    mix: list[Callable[[], tuple[str | None, dict[str, Any]]]] = [
        lambda: (rng.choice(vocab[:20]), {}),  # a common word
        lambda: (rng.choice(vocab[400:]), {}),  # a rare word
        lambda: (rng.choice(vocab[:200])[:4], {}),  # a prefix
        lambda: (" ".join(rng.sample(vocab[:100], 2)), {}),
        lambda: (" ".join(rng.sample(vocab[:100], 2)) + " " + rng.choice(vocab[:100])[:3], {}),
        lambda: (rng.choice(vocab[:50]), {"facets": {"domain": [rng.choice(DOMAINS)]}}),
        lambda: (None, {"facets": {"tag": [f"tag-{rng.choice(vocab[:80])}"], "product_type": ["derived"]}}),
        lambda: (rng.choice(vocab[:50]), {"visible": half}),
        lambda: ("zzqqxx", {}),
    ]
    return [mix[i % len(mix)]() for i in range(count)]


def _time(search: Callable[[str | None, Mapping[str, Any]], object], queries: list[Any]) -> list[float]:
    for text, kwargs in queries[:9]:  # warm: every kind once
        search(text, kwargs)
    times = []
    for text, kwargs in queries:
        start = time.perf_counter()
        search(text, kwargs)
        times.append((time.perf_counter() - start) * 1000)
    return times


def _raw_fts5(path: str) -> Callable[[str | None, Mapping[str, Any]], object]:
    conn = sqlite3.connect(path)

    def search(text: str | None, _: Mapping[str, Any]) -> object:
        words = (text or "").split()
        if not words:
            return conn.execute("SELECT name FROM daap_catalog ORDER BY name LIMIT 20").fetchall()
        match = " ".join(f'"{w}"' for w in words) + ("*" if len(words[-1]) >= 2 else "")
        return conn.execute(
            "SELECT c.name FROM daap_catalog_fts JOIN daap_catalog c ON c.id = daap_catalog_fts.rowid"
            " WHERE daap_catalog_fts MATCH ? ORDER BY bm25(daap_catalog_fts, 10.0, 5.0, 5.0, 2.0, 1.0)"
            " LIMIT 20",
            (match,),
        ).fetchall()

    return search


def _searcher(store: Any) -> Callable[[str | None, Mapping[str, Any]], object]:
    return lambda text, kwargs: store.search_catalog(text, **kwargs)


@contextmanager
def _postgres() -> Iterator[str | None]:
    """A throwaway database's URL, or None when PostgreSQL is not reachable."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception as exc:  # no driver or no server: PostgreSQL is for information only
        log(f"{NAME}: PostgreSQL not reachable ({exc}); skipped")
        yield None
        return
    name = f"daap_bench_catalog_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(settings: Settings) -> Outcome:
    from daap.mesh.metadata import open_metadata_store

    products = 1_000 if settings.quick else 10_000
    count = 90 if settings.quick else 270
    path = settings.work / NAME / "metadata.db"
    store = open_metadata_store(f"sqlite://{path}")
    log(f"{NAME}: {products:,} products, {products * COLUMNS_PER_PRODUCT:,} columns; {count} searches each")
    try:
        loaded, load_s = catalog_data.load(store, products)
        names = [e.name for e in loaded]
        queries = _queries(count, names)
        ours = _time(_searcher(store), queries)
        raw = _time(_raw_fts5(str(path)), queries)
        page = store.search_catalog(queries[0][0])
    finally:
        store.close()
    mix = f"{count} searches of 9 kinds, 20 per page"
    measures = [
        Measure(
            NAME, f"search p95, {products:,} products (SQLite)", percentile(ours), GOAL_MS, "ms", 1.0,
            note=f"{mix}; median {statistics.median(ours):.2f} ms, max {max(ours):.1f} ms; "
            f"{page.total:,} hits for {queries[0][0]!r}; loaded at {products / load_s:,.0f} upserts/s",
        ),
        Measure(
            NAME, "search p95 vs raw FTS5 top 20 (SQLite)", percentile(ours), percentile(raw), "ms", None,
            note=f"raw FTS5 median {statistics.median(raw):.2f} ms; ours adds totals, six facet counts, "
            "entries and snippets",
        ),
    ]  # fmt: skip
    with _postgres() as url:
        if url is not None:
            pg = open_metadata_store(url)
            try:
                _, pg_load_s = catalog_data.load(pg, products)
                on_pg = _time(_searcher(pg), queries)
            finally:
                pg.close()
            measures.append(
                Measure(
                    NAME, f"search p95, {products:,} products (PostgreSQL)", percentile(on_pg), GOAL_MS, "ms",
                    None, note=f"{mix}; median {statistics.median(on_pg):.2f} ms; "
                    f"loaded at {products / pg_load_s:,.0f} upserts/s",
                )
            )  # fmt: skip
    return Outcome(measures)
