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
from datetime import UTC, datetime
from typing import Any

from benchmarks.runner import Measure, Outcome, Settings, log

NAME = "catalog_search"
GOAL_MS = 50.0
COLUMNS_PER_PRODUCT = 10
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

_SYLLABLES = ["ka", "lo", "mi", "re", "su", "ta", "vo", "ne", "pi", "da",
              "fu", "ro", "se", "ki", "ma", "to", "lu", "ze", "ni", "ba"]  # fmt: skip
_REAL = [
    "sales", "revenue", "title", "popularity", "viewer", "session", "playback", "event", "customer",
    "billing", "support", "churn", "forecast", "daily", "weekly", "monthly", "region", "country",
    "device", "subscription", "price", "order", "invoice", "payment", "campaign", "marketing",
    "content", "catalogue", "recommendation", "score", "rank", "model", "feature", "prediction",
    "golden", "record", "identity", "address", "email", "account", "plan", "trial",
]  # fmt: skip
_DOMAINS = ["content", "streaming", "customer", "billing", "marketing", "finance", "support",
            "platform", "growth", "ads", "studio", "legal", "hr", "security", "data"]  # fmt: skip
_TYPES = ["raw", "derived", "decision-support", "ml-model", "hybrid", "composite"]
_CLASSES = [None] * 6 + ["pii", "internal", "public", "confidential"]


def _vocabulary(rng: random.Random) -> list[str]:
    made = {"".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(900)}
    return _REAL + sorted(made - set(_REAL))


def _entries(count: int) -> Iterator[Any]:
    """``count`` products, the same on every run: Zipf-ish word use, ten columns each."""
    from daap.mesh.metadata import CatalogColumn, CatalogEntry, CatalogPersona, CatalogPort

    rng = random.Random(20260801)
    vocab = _vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    tags = [f"tag-{w}" for w in vocab[:80]]

    def words(low: int, high: int) -> str:
        return " ".join(rng.choices(vocab, weights, k=rng.randint(low, high)))

    def column(i: int) -> CatalogColumn:
        name = "_".join(rng.choices(vocab, weights, k=rng.randint(1, 3))) + f"_{i}"
        return CatalogColumn(
            name, rng.choice(["string", "long", "double"]), words(5, 12), rng.choice(_CLASSES)
        )

    at = datetime(2026, 8, 1, tzinfo=UTC)
    for n in range(count):
        cols = [column(i) for i in range(COLUMNS_PER_PRODUCT)]
        split = rng.randint(4, COLUMNS_PER_PRODUCT)
        ports = [CatalogPort("main", words(4, 8), tuple(cols[:split]))]
        if split < COLUMNS_PER_PRODUCT:
            ports.append(CatalogPort("detail", words(4, 8), tuple(cols[split:])))
        yield CatalogEntry(
            f"{'_'.join(rng.choices(vocab, k=2))}_{n}",
            domain=rng.choice(_DOMAINS),
            product_type=rng.choice(_TYPES),
            owner=f"team-{rng.randrange(50)}",
            business_objective=words(8, 14),
            description=words(20, 40),
            usage=words(5, 15),
            personas=(CatalogPersona("analyst", words(4, 8), ("SQL",)),),
            tags=tuple(rng.sample(tags, rng.randint(1, 4))),
            ports=tuple(ports),
            latest_version=rng.randint(1, 40),
            published_at=at,
            updated_at=at,
        )


def _queries(count: int, names: Sequence[str]) -> list[tuple[str | None, dict[str, Any]]]:
    """The mix: ``(text, keyword arguments)``, cycled to ``count``."""
    rng = random.Random(7)
    vocab = _vocabulary(random.Random(20260801))
    half = names[: len(names) // 2]
    mix: list[Callable[[], tuple[str | None, dict[str, Any]]]] = [
        lambda: (rng.choice(vocab[:20]), {}),  # a common word
        lambda: (rng.choice(vocab[400:]), {}),  # a rare word
        lambda: (rng.choice(vocab[:200])[:4], {}),  # a prefix
        lambda: (" ".join(rng.sample(vocab[:100], 2)), {}),
        lambda: (" ".join(rng.sample(vocab[:100], 2)) + " " + rng.choice(vocab[:100])[:3], {}),
        lambda: (rng.choice(vocab[:50]), {"facets": {"domain": [rng.choice(_DOMAINS)]}}),
        lambda: (None, {"facets": {"tag": [f"tag-{rng.choice(vocab[:80])}"], "product_type": ["derived"]}}),
        lambda: (rng.choice(vocab[:50]), {"visible": half}),
        lambda: ("zzqqxx", {}),
    ]
    return [mix[i % len(mix)]() for i in range(count)]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


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


def _load(store: Any, products: int) -> tuple[list[str], float]:
    start = time.perf_counter()
    names = []
    for entry in _entries(products):
        store.upsert_catalog(entry)
        names.append(entry.name)
    return names, time.perf_counter() - start


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
        names, load_s = _load(store, products)
        queries = _queries(count, names)
        ours = _time(_searcher(store), queries)
        raw = _time(_raw_fts5(str(path)), queries)
        page = store.search_catalog(queries[0][0])
    finally:
        store.close()
    mix = f"{count} searches of 9 kinds, 20 per page"
    measures = [
        Measure(
            NAME, f"search p95, {products:,} products (SQLite)", _p95(ours), GOAL_MS, "ms", 1.0,
            note=f"{mix}; median {statistics.median(ours):.2f} ms, max {max(ours):.1f} ms; "
            f"{page.total:,} hits for {queries[0][0]!r}; loaded at {products / load_s:,.0f} upserts/s",
        ),
        Measure(
            NAME, "search p95 vs raw FTS5 top 20 (SQLite)", _p95(ours), _p95(raw), "ms", None,
            note=f"raw FTS5 median {statistics.median(raw):.2f} ms; ours adds totals, six facet counts, "
            "entries and snippets",
        ),
    ]  # fmt: skip
    with _postgres() as url:
        if url is not None:
            pg = open_metadata_store(url)
            try:
                _, pg_load_s = _load(pg, products)
                on_pg = _time(_searcher(pg), queries)
            finally:
                pg.close()
            measures.append(
                Measure(
                    NAME, f"search p95, {products:,} products (PostgreSQL)", _p95(on_pg), GOAL_MS, "ms",
                    None, note=f"{mix}; median {statistics.median(on_pg):.2f} ms; "
                    f"loaded at {products / pg_load_s:,.0f} upserts/s",
                )
            )  # fmt: skip
    return Outcome(measures)
