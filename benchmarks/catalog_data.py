"""A generated catalog at mesh scale: products, their columns and what they read.

The same on every run (seeded). :func:`entries` gives the products: Zipf-ish word use in
their names, objectives and descriptions, ten columns each over one or two ports.
:func:`lineage` gives what each reads, a layered DAG: the first quarter are raw products
reading one or two files, each later product reads one to three ports of products in
earlier layers (mostly the layer before; sometimes a popular product anywhere upstream,
so a few products have hundreds of readers) and now and then a reference file.
:func:`load` writes both into a metadata store as a build registers them; :func:`load_mesh`
keeps only what a benchmark needs of them.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

SEED = 20260801
COLUMNS_PER_PRODUCT = 10
#: layers of products reading products, after the raw layer
LAYERS = 5

_SYLLABLES = ["ka", "lo", "mi", "re", "su", "ta", "vo", "ne", "pi", "da",
              "fu", "ro", "se", "ki", "ma", "to", "lu", "ze", "ni", "ba"]  # fmt: skip
_REAL = [
    "sales", "revenue", "title", "popularity", "viewer", "session", "playback", "event", "customer",
    "billing", "support", "churn", "forecast", "daily", "weekly", "monthly", "region", "country",
    "device", "subscription", "price", "order", "invoice", "payment", "campaign", "marketing",
    "content", "catalogue", "recommendation", "score", "rank", "model", "feature", "prediction",
    "golden", "record", "identity", "address", "email", "account", "plan", "trial",
]  # fmt: skip
DOMAINS = ["content", "streaming", "customer", "billing", "marketing", "finance", "support",
           "platform", "growth", "ads", "studio", "legal", "hr", "security", "data"]  # fmt: skip
_TYPES = ["raw", "derived", "decision-support", "ml-model", "hybrid", "composite"]
_CLASSES = [None] * 6 + ["pii", "internal", "public", "confidential"]


def vocabulary(rng: random.Random) -> list[str]:
    made = {"".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(900)}
    return _REAL + sorted(made - set(_REAL))


def entries(count: int) -> Iterator[Any]:
    """``count`` products, the same on every run: Zipf-ish word use, ten columns each."""
    from daap.mesh.metadata import CatalogColumn, CatalogEntry, CatalogPersona, CatalogPort

    rng = random.Random(SEED)
    vocab = vocabulary(rng)
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
            domain=rng.choice(DOMAINS),
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


def lineage(products: Sequence[Any]) -> list[list[str]]:
    """What each of ``products`` (catalog entries, in order) reads: ``product.port`` or ``file:<glob>``.

    Raw products (the first quarter) read files only. A product of layer ``k`` reads one to
    three ports: 60% of picks from layer ``k - 1``, the rest from all earlier products with
    Zipf weights (1 / rank), which makes hubs; one in ten also reads a reference file.
    """
    rng = random.Random(SEED + 1)
    count = len(products)
    raw = count // 4
    starts = [0, raw, *(raw + (count - raw) * k // LAYERS for k in range(1, LAYERS + 1))]
    popular = list(itertools.accumulate(1 / (rank + 1) for rank in range(count)))
    found: list[list[str]] = []
    for layer, (low, high) in enumerate(itertools.pairwise(starts)):
        for _ in range(low, high):
            if layer == 0:
                found.append([f"file:data/{_file(rng)}" for _ in range(rng.randint(1, 2))])
                continue
            reads: dict[str, None] = {}
            for _ in range(rng.choice((1, 1, 2, 2, 3))):
                if rng.random() < 0.6:
                    source = products[rng.randrange(starts[layer - 1], low)]
                else:
                    source = rng.choices(products[:low], cum_weights=popular[:low])[0]
                reads[f"{source.name}.{rng.choice(source.ports).name}"] = None
            if rng.random() < 0.1:
                reads[f"file:reference/{_file(rng)}"] = None
            found.append(list(reads))
    return found


def _file(rng: random.Random) -> str:
    return f"{rng.choice(_REAL)}_{rng.randrange(1000)}/*.csv"


def load(store: Any, count: int, *, with_lineage: bool = False) -> tuple[list[Any], float]:
    """Write ``count`` products into ``store`` (and what they read, as a build registers it: the
    entry's ``upstream`` and :meth:`set_product_lineage`); returns the entries and the seconds taken."""
    products = list(entries(count))
    reads = lineage(products) if with_lineage else [[] for _ in products]
    start = time.perf_counter()
    written = []
    for entry, upstream in zip(products, reads, strict=True):
        if with_lineage:
            entry = replace(entry, document={"upstream": upstream})
        store.upsert_catalog(entry)
        if with_lineage:
            store.set_product_lineage(entry.name, upstream)
        written.append(entry)
    return written, time.perf_counter() - start


@dataclass(frozen=True)
class Mesh:
    """What a benchmark keeps of a loaded mesh. Not the entries: a benchmark that holds 10,000
    of them pays for their traversal in every full garbage collection, inside its timings."""

    names: list[str]
    edges: int
    #: product -> how many products read one of its ports
    readers: Counter[str]
    seconds: float


def load_mesh(store: Any, count: int) -> Mesh:
    """:func:`load` ``count`` products with their lineage into ``store``."""
    entries, seconds = load(store, count, with_lineage=True)
    reads = [e.document["upstream"] for e in entries]
    products = Counter(u.split(".")[0] for up in reads for u in up if not u.startswith("file:"))
    return Mesh([e.name for e in entries], sum(len(up) for up in reads), products, seconds)
