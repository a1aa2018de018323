"""Metrics in the Prometheus text format: how queries go, and how the mesh stands.

Two kinds of numbers, one document (``GET /metrics`` on the HTTP port of ``daap up``):

- :class:`QueryMetrics`, counted as queries run: the time until a result can be
  read (per port read and protocol), result-cache hits and misses, errors by
  kind. Each object keeps its own registry, never the process-wide default, so
  several services in one process (tests do that) never mix their counts.
- :class:`MeshCollector`, read from the metadata store at scrape time: builds,
  versions, rows, change events and freshness per product. Every process that
  serves one store reports the same numbers. More families plug in as
  :data:`FamilySource` callables (quality rules, SLOs).

Only this module imports prometheus_client (import-linter keeps it so): family
sources build their families with the ``GaugeMetricFamily`` and
``CounterMetricFamily`` it exports.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from daap.errors import DaapError
from daap.mesh.metadata import BuildRecord, MetadataStore, ProductVersion
from daap.mesh.workspace import SpecCache, Workspace

__all__ = [
    "CONTENT_TYPE",
    "CounterMetricFamily",
    "Exposition",
    "FamilySource",
    "GaugeMetricFamily",
    "MeshCollector",
    "Metric",
    "QueryMetrics",
    "metrics_text",
]

log = logging.getLogger(__name__)

#: the exposition format Prometheus has always read (``generate_latest`` writes it)
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
#: query durations from a cached answer (about 1 ms) to a long scan (30 s)
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: more metric families, read at scrape time: ``(workspace) -> families``
FamilySource = Callable[[Workspace], Iterable[Metric]]
FINAL_STATES = ("published", "failed", "unchanged")
#: change-set operation -> its count in a publication's per-port progress
OPERATIONS = (("insert", "inserted"), ("update", "updated"), ("delete", "deleted"))


class PortRef(Protocol):
    """A port a query reads (``daap.query.guard.PortRef``; this layer cannot import it)."""

    @property
    def product(self) -> str: ...
    @property
    def port(self) -> str: ...


class QueryMetrics:
    """Counts and times the queries of one :class:`~daap.query.service.QueryService`.

    Called on every query, so it does little: one histogram observation per
    port read, one counter increment, no lock beyond prometheus_client's own.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.duration = Histogram(
            "daap_query_duration_seconds",
            "Time until a query's result can be read; one observation per port the query reads "
            '(product="" and port="" for a query that reads none)',
            ("product", "port", "protocol"),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "daap_query_cache_hits",
            "Queries answered from the result cache",
            ("protocol",),
            registry=self.registry,
        )
        self.cache_misses = Counter(
            "daap_query_cache_misses", "Queries the engine ran", ("protocol",), registry=self.registry
        )
        self.errors = Counter(
            "daap_query_errors",
            "Queries that failed, by exception class (QueryRefused, NotFound, QueryError ...)",
            ("protocol", "kind"),
            registry=self.registry,
        )
        # labels() takes the metric's lock on every call; the children never change
        self._timers: dict[tuple[str, str, str], Any] = {}

    def observe(self, protocol: str, ports: Sequence[PortRef], seconds: float, *, cached: bool) -> None:
        """Record a query whose result became readable after ``seconds``."""
        (self.cache_hits if cached else self.cache_misses).labels(protocol).inc()
        if not ports:
            self._timer("", "", protocol).observe(seconds)
        for ref in ports:
            self._timer(ref.product, ref.port, protocol).observe(seconds)

    def failed(self, protocol: str, error: BaseException) -> None:
        """Record a query that raised ``error``."""
        self.errors.labels(protocol, type(error).__name__).inc()

    def _timer(self, product: str, port: str, protocol: str) -> Any:
        key = (product, port, protocol)
        timer = self._timers.get(key)
        if timer is None:  # two threads may both ask: labels() hands both the same child
            timer = self._timers[key] = self.duration.labels(product, port, protocol)
        return timer


class MeshCollector(Collector):
    """The mesh's state from the metadata store, read when Prometheus scrapes.

    Per scrape, a few metadata queries per product: its latest version, its
    newest builds, and the outbox entries of versions published since the last
    scrape. Finished builds and done publications never change, so their
    counts are kept and only what is new is read; the first scrape reads each
    product's whole history once.

    Args:
        ws: the workspace whose metadata store is read.
        sources: more families, each read after the mesh's own; one that raises
            shows as ``daap_metrics_source_up{source=...} 0`` (and in the log),
            and the rest of the document is still served.
    """

    def __init__(self, ws: Workspace, sources: Sequence[FamilySource] = ()) -> None:
        self.ws = ws
        self.sources = tuple(sources)
        self._specs = SpecCache(ws)
        self._builds: dict[str, BuildTally] = {}
        self._events: dict[str, EventTally] = {}
        self._lock = threading.Lock()  # two scrapes at once must not count a build twice

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "daap_metrics_source_up", "1 when a metric source was read, 0 when it failed", labels=["source"]
        )
        sources = [("mesh", self._mesh), *((_name(s), _bind(s, self.ws)) for s in self.sources)]
        for name, read in sources:
            try:
                families = list(read())
            except Exception:  # a broken source must not hide the others
                log.exception("metric source %s failed", name)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up

    def _mesh(self) -> Iterable[Metric]:
        store = self.ws.metadata
        families = MeshFamilies()
        now = time.time()
        with self._lock:
            for product in self._products(store):
                latest = store.latest_version(product)
                builds = self._builds.setdefault(product, BuildTally())
                builds.update(store, product)
                events = self._events.setdefault(product, EventTally())
                events.update(store, product, latest.version if latest else 0)
                families.add(product, latest, builds, events, now)
        return families

    def _products(self, store: MetadataStore) -> list[str]:
        """Products with a published version, and those in the workspace (their builds may all fail)."""
        names = set(store.products())
        for folder in self.ws.product_folders():
            try:
                names.add(self._specs.load(folder).name)
            except DaapError:  # an invalid descriptor: its build reports why
                continue
        return sorted(names)


@dataclass
class BuildTally:
    """A product's finished builds, each counted once, and its newest finished one.

    Builds come newest first. Those started since the last look are the ones
    before the newest build seen then; builds still running then are kept in
    ``running`` and counted when they finish.
    """

    counts: dict[str, int] = field(default_factory=dict)
    last: BuildRecord | None = None
    newest: str | None = None
    running: set[str] = field(default_factory=set)

    def update(self, store: MetadataStore, product: str) -> None:
        window = self._window(store, product)
        ids = [b.build_id for b in window]
        new = ids.index(self.newest) if self.newest in ids else len(ids)
        for position, build in enumerate(window):
            if build.state not in FINAL_STATES:
                if position < new:
                    self.running.add(build.build_id)
            elif position < new or build.build_id in self.running:
                self.counts[build.state] = self.counts.get(build.state, 0) + 1
                self.running.discard(build.build_id)
        self.last = next((b for b in window if b.finished_at is not None), self.last)
        self.newest = ids[0] if ids else self.newest

    def _window(self, store: MetadataStore, product: str) -> list[BuildRecord]:
        """The newest builds, back to the newest one seen last time and every one still running."""
        limit = 16
        while True:
            window = store.builds(product, limit)
            ids = {b.build_id for b in window}
            if len(window) < limit or (self.newest in ids and self.running <= ids):
                return window
            limit *= 4


@dataclass
class EventTally:
    """Change events of a product's published versions, per (port, operation).

    A done outbox entry is final, so each is read once; pending ones are read
    again until their events are out.
    """

    totals: dict[tuple[str, str], int] = field(default_factory=dict)
    through: int = 0  # versions up to this one were looked at
    pending: set[int] = field(default_factory=set)

    def update(self, store: MetadataStore, product: str, latest: int) -> None:
        for version in sorted(self.pending | set(range(self.through + 1, latest + 1))):
            entry = store.get_publication(product, version)
            if entry is not None and entry.state != "done":
                self.pending.add(version)
                continue
            self.pending.discard(version)
            if entry is not None:  # versions published before the outbox existed have none
                self._add(entry.progress)
        self.through = max(self.through, latest)

    def _add(self, progress: Mapping[str, Any]) -> None:
        for port, counts in progress.items():
            if not isinstance(counts, Mapping):
                continue
            for op, key in OPERATIONS:
                count = counts.get(key)
                if isinstance(count, int):
                    self.totals[(port, op)] = self.totals.get((port, op), 0) + count


class MeshFamilies:
    """The metric families :class:`MeshCollector` fills, one product at a time."""

    def __init__(self) -> None:
        product, port = ["product"], ["product", "port"]
        self.build_duration = GaugeMetricFamily(
            "daap_build_duration_seconds",
            "How long the product's last finished build took",
            labels=["product", "status"],
        )
        self.builds = CounterMetricFamily(
            "daap_builds", "Finished builds by final status", labels=["product", "status"]
        )
        self.rows = GaugeMetricFamily("daap_port_rows", "Rows in the port's latest version", labels=port)
        self.version = GaugeMetricFamily("daap_port_version", "The port's latest version number", labels=port)
        self.events = CounterMetricFamily(
            "daap_change_events",
            "Change events published, by operation",
            labels=["product", "port", "op"],
        )
        self.freshness = GaugeMetricFamily(
            "daap_freshness_age_seconds", "Time since the latest version was published", labels=product
        )
        self.published = GaugeMetricFamily(
            "daap_last_publish_timestamp_seconds",
            "When the latest version was published (Unix time)",
            labels=product,
        )

    def add(
        self, product: str, latest: ProductVersion | None, builds: BuildTally, events: EventTally, now: float
    ) -> None:
        last = builds.last
        if last is not None and last.finished_at is not None:
            seconds = (last.finished_at - last.started_at).total_seconds()
            self.build_duration.add_metric([product, last.state], seconds)
        for status in FINAL_STATES:
            self.builds.add_metric([product, status], builds.counts.get(status, 0))
        for (port, op), count in sorted(events.totals.items()):
            self.events.add_metric([product, port, op], count)
        if latest is None:
            return
        published = latest.published_at.timestamp()
        self.freshness.add_metric([product], max(0.0, now - published))
        self.published.add_metric([product], published)
        for port, state in sorted(latest.ports.items()):
            self.rows.add_metric([product, port], state.row_count)
            self.version.add_metric([product, port], latest.version)

    def __iter__(self) -> Iterator[Metric]:
        yield from (self.build_duration, self.builds, self.rows, self.version)
        yield from (self.events, self.freshness, self.published)


class Observed(Protocol):
    """What :class:`Exposition` needs of a query service."""

    @property
    def ws(self) -> Workspace: ...
    @property
    def metrics(self) -> QueryMetrics: ...


class Exposition:
    """The ``/metrics`` document of a service: its query metrics and the mesh's.

    Keep one per server: its :class:`MeshCollector` remembers what it counted,
    so later scrapes read only what is new.
    """

    content_type = CONTENT_TYPE

    def __init__(self, service: Observed, sources: Sequence[FamilySource] = ()) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(service.metrics.registry)
        self.mesh = MeshCollector(service.ws, sources)
        self.registry.register(self.mesh)

    def render(self) -> bytes:
        """The document in the text format (:data:`CONTENT_TYPE`)."""
        return bytes(generate_latest(self.registry))


def metrics_text(service: Observed, sources: Sequence[FamilySource] = ()) -> bytes:
    """The metrics document once (the mesh's history is read in full: keep an :class:`Exposition`
    to serve it repeatedly)."""
    return Exposition(service, sources).render()


def _name(source: FamilySource) -> str:
    return str(getattr(source, "__name__", type(source).__name__))


def _bind(source: FamilySource, ws: Workspace) -> Callable[[], Iterable[Metric]]:
    return lambda: source(ws)
