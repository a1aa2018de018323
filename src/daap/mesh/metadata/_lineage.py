"""Lineage kept in the store, written once in SQL for every adapter (a mixin): what each product
reads, its columns' lineage per version, and OpenLineage events sent by jobs outside daap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

from daap.mesh.metadata._dialect import Dialect, Row, Tx

ColumnLinkKind = Literal["direct", "derived", "filter", "unknown"]
_LINK_KINDS: tuple[ColumnLinkKind, ...] = ("direct", "derived", "filter", "unknown")


@dataclass(frozen=True)
class LineageEvent:
    """One OpenLineage run event as the lineage graph reads it, and the event itself."""

    event_time: str
    event_type: str
    job_namespace: str
    job_name: str
    run_id: str
    #: ``(namespace, name)`` of each input and output dataset
    inputs: tuple[tuple[str, str], ...]
    outputs: tuple[tuple[str, str], ...]
    event: Mapping[str, Any] = field(default_factory=dict)
    received_at: datetime | None = None


@dataclass(frozen=True)
class ColumnLink:
    """One column-lineage edge of one product version: ``target`` takes from ``source``.

    ``target`` is ``product.port.column``, or ``product.port`` for a ``filter`` (which rows
    the port has depends on ``source``). ``source`` is ``product.port.column`` or
    ``file:<glob>.column``; for an ``unknown`` link it is a marker, ``unknown:1``, and
    ``reason`` says why the source cannot be told (``certain`` is False then).
    :func:`daap.mesh.catalog.lineage.column_links` makes them from a product's SQL.

    Raises:
        ValueError: a field is malformed (the message names it): an empty product or one
            with a dot, a version below 1, a target outside the product, an empty source,
            a kind not in ``direct``, ``derived``, ``filter``, ``unknown``. Checked here so
            a bad link fails its caller, not a batch.
    """

    product: str
    version: int
    target: str
    source: str
    kind: ColumnLinkKind
    certain: bool = True
    reason: str | None = None

    def __post_init__(self) -> None:
        problem = _version_problem(self.product, self.version) or _link_problem(self)
        if problem:
            raise ValueError(f"ColumnLink.{problem}")


def _version_problem(product: object, version: object) -> str | None:
    """What is wrong with a ``(product, version)`` key, starting with the field's name."""
    if not isinstance(product, str) or not product or "." in product:
        return f"product must be a product name (not empty, no '.'), not {product!r}"
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        return f"version must be an integer of at least 1, not {version!r} (product {product!r})"
    return None


def _link_problem(link: ColumnLink) -> str | None:
    port_column = link.target.removeprefix(f"{link.product}.") if isinstance(link.target, str) else ""
    if not port_column or port_column == link.target:
        return f"target must be {link.product}.port.column (or {link.product}.port), not {link.target!r}"
    if not isinstance(link.source, str) or not link.source:
        return f"source must not be empty (target {link.target})"
    if link.kind not in _LINK_KINDS:
        return f"kind must be one of {', '.join(_LINK_KINDS)}, not {link.kind!r} (target {link.target})"
    return None


class LineageStore(Protocol):
    def set_product_lineage(self, product: str, upstream: Sequence[str]) -> None: ...
    def product_lineage_edges(self) -> list[tuple[str, str]]: ...
    def readers_of(self, product: str) -> list[str]: ...
    def catalog_names(self) -> list[tuple[str, str]]: ...
    def record_lineage_event(self, event: LineageEvent, at: datetime) -> None: ...
    def lineage_events(self, limit: int = 100) -> list[LineageEvent]: ...
    def lineage_jobs(self) -> list[LineageEvent]: ...

    def set_column_lineage(self, product: str, version: int, links: Sequence[ColumnLink]) -> None:
        """Store the column lineage of one product version, replacing what that version had.

        One transaction: afterwards the version has exactly ``links`` (a link given twice is
        kept once) or, when anything fails, what it had before. Other versions are untouched.

        Raises:
            ValueError: ``product`` or ``version`` is malformed, a link belongs to another
                product version, or two links differ only in ``certain`` or ``reason``.
            MetadataError: the store failed.
        """
        ...

    def column_lineage(self, product: str | None = None, version: int | None = None) -> list[ColumnLink]:
        """Stored column lineage, ordered by product, version, target, source, kind.

        Args:
            product: only this product's links; every product's when None (one query).
            version: that version of ``product``; each product's newest stored version when None.

        Raises:
            ValueError: ``version`` without ``product``.
        """
        ...

    def column_links_from(self, sources: Sequence[str]) -> list[ColumnLink]:
        """Returns: the links reading one of ``sources``, of their product's newest stored
        version (one step of a downstream walk), ordered as :meth:`column_lineage`."""
        ...

    def column_links_to(self, targets: Sequence[str]) -> list[ColumnLink]:
        """Returns: the links into one of ``targets``, of their product's newest stored
        version (one step of an upstream walk), ordered as :meth:`column_lineage`."""
        ...

    def column_lineage_versions(self, product: str) -> list[int]:
        """Returns: the versions of ``product`` that have column lineage stored, ascending."""
        ...


_COLUMNS = "received_at, event_time, event_type, job_namespace, job_name, run_id, inputs, outputs, event"
#: the same, of the events table aliased ``e``
_EVENT_COLUMNS = ", ".join(f"e.{c}" for c in _COLUMNS.split(", "))
_LINK_COLUMNS = "product, version, target, source, kind, certain, reason"
_SELECT_LINKS = (
    "SELECT " + ", ".join(f"l.{c}" for c in _LINK_COLUMNS.split(", ")) + " FROM daap_column_lineage l"
)
#: every product's newest stored version, for reading them all: one pass, one hash join
_JOIN_NEWEST = (
    " JOIN (SELECT product, max(version) AS newest FROM daap_column_lineage GROUP BY product) n"
    " ON l.product = n.product AND l.version = n.newest"
)
#: a link of its product's newest stored version, for a few links: a primary key probe each
_IS_NEWEST = "l.version = (SELECT max(n.version) FROM daap_column_lineage n WHERE n.product = l.product)"
#: rows per INSERT and values per IN list: 7 x 100 stays under SQLite's oldest limit of 999 parameters
_ROWS_PER_INSERT = 100
_VALUES_PER_LOOKUP = 400


class LineageTables:
    """Lineage-event queries on the store's transactions (``_tx``, ``dialect``)."""

    dialect: ClassVar[Dialect]

    def _tx(self, *, write: bool = False) -> AbstractContextManager[Tx]:  # provided by the store
        raise NotImplementedError

    def set_product_lineage(self, product: str, upstream: Sequence[str]) -> None:
        """What ``product`` reads now (``product.port`` or ``file:<glob>``), replacing what it read."""
        with self._tx(write=True) as tx:
            tx.execute("DELETE FROM daap_product_lineage WHERE product = ?", (product,))
            for source in dict.fromkeys(upstream):
                owner = source if source.startswith("file:") else source.split(".")[0]
                tx.execute(
                    "INSERT INTO daap_product_lineage (product, upstream, upstream_product) VALUES (?, ?, ?)",
                    (product, source, owner),
                )

    def product_lineage_edges(self) -> list[tuple[str, str]]:
        """Returns: every ``(upstream, product)``: upstream is ``product.port`` or ``file:<glob>``."""
        with self._tx() as tx:
            rows = tx.fetch_all(
                "SELECT upstream, product FROM daap_product_lineage ORDER BY product, upstream"
            )
        return [(str(a), str(b)) for a, b in rows]

    def readers_of(self, product: str) -> list[str]:
        """Returns: the products reading one of ``product``'s ports, by name."""
        with self._tx() as tx:
            rows = tx.fetch_all(
                "SELECT DISTINCT product FROM daap_product_lineage WHERE upstream_product = ?"
                " ORDER BY product",
                (product,),
            )
        return [str(r[0]) for r in rows]

    def catalog_names(self) -> list[tuple[str, str]]:
        """Returns: ``(name, status)`` of every product in the catalog, without reading the entries."""
        with self._tx() as tx:
            rows = tx.fetch_all("SELECT name, status FROM daap_catalog ORDER BY name")
        return [(str(a), str(b)) for a, b in rows]

    # -- column lineage per product version --------------------------------------------------

    def set_column_lineage(self, product: str, version: int, links: Sequence[ColumnLink]) -> None:
        """Check every link first, then delete and insert (multi-row INSERTs) in one transaction."""
        rows = _link_rows(product, version, links)
        with self._tx(write=True) as tx:
            tx.execute(
                "DELETE FROM daap_column_lineage WHERE product = ? AND version = ?", (product, version)
            )
            for start in range(0, len(rows), _ROWS_PER_INSERT):
                chunk = rows[start : start + _ROWS_PER_INSERT]
                tx.execute(
                    f"INSERT INTO daap_column_lineage ({_LINK_COLUMNS}) VALUES {_marks(len(chunk), 7)}",
                    [value for row in chunk for value in row],
                )

    def column_lineage(self, product: str | None = None, version: int | None = None) -> list[ColumnLink]:
        if product is None and version is not None:
            raise ValueError(f"column_lineage: version {version} needs a product")
        params: tuple[object, ...]
        if product is None:
            sql, params = _SELECT_LINKS + _JOIN_NEWEST, ()
        elif version is None:
            newest = "(SELECT max(version) FROM daap_column_lineage WHERE product = ?)"
            sql, params = f"{_SELECT_LINKS} WHERE l.product = ? AND l.version = {newest}", (product, product)
        else:
            sql, params = f"{_SELECT_LINKS} WHERE l.product = ? AND l.version = ?", (product, version)
        with self._tx() as tx:
            return _links(tx.fetch_all(sql, params))

    def column_links_from(self, sources: Sequence[str]) -> list[ColumnLink]:
        """By the source index, then the primary key for each match's newest version."""
        rows: list[Row] = []
        with self._tx() as tx:
            for chunk in _chunks(sources):
                rows += tx.fetch_all(
                    f"{_SELECT_LINKS} WHERE l.source IN ({_marks(len(chunk))}) AND {_IS_NEWEST}", chunk
                )
        return _links(rows)

    def column_links_to(self, targets: Sequence[str]) -> list[ColumnLink]:
        """By the primary key: a target begins with its product's name."""
        rows: list[Row] = []
        with self._tx() as tx:
            for chunk in _chunks(targets):
                products = list(dict.fromkeys(t.split(".", 1)[0] for t in chunk))
                rows += tx.fetch_all(
                    f"{_SELECT_LINKS} WHERE l.product IN ({_marks(len(products))})"
                    f" AND l.target IN ({_marks(len(chunk))}) AND {_IS_NEWEST}",
                    [*products, *chunk],
                )
        return _links(rows)

    def column_lineage_versions(self, product: str) -> list[int]:
        with self._tx() as tx:
            rows = tx.fetch_all(
                "SELECT DISTINCT version FROM daap_column_lineage WHERE product = ? ORDER BY version",
                (product,),
            )
        return [int(r[0]) for r in rows]

    # -- OpenLineage events from outside daap ------------------------------------------------

    def record_lineage_event(self, event: LineageEvent, at: datetime) -> None:
        """Keep ``event`` (one row, in one transaction: all of it or nothing); one that names
        datasets becomes its job's current one."""
        d = self.dialect
        with self._tx(write=True) as tx:
            row = tx.fetch_one(
                f"INSERT INTO daap_lineage_events ({_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                (
                    d.encode_time(at),
                    event.event_time,
                    event.event_type,
                    event.job_namespace,
                    event.job_name,
                    event.run_id,
                    d.encode_json([list(i) for i in event.inputs]),
                    d.encode_json([list(o) for o in event.outputs]),
                    d.encode_json(dict(event.event)),
                ),
            )
            assert row is not None  # RETURNING always gives the row
            if event.inputs or event.outputs:
                tx.execute(
                    "INSERT INTO daap_lineage_jobs (job_namespace, job_name, seq) VALUES (?, ?, ?)"
                    " ON CONFLICT (job_namespace, job_name) DO UPDATE SET seq = excluded.seq"
                    " WHERE excluded.seq > daap_lineage_jobs.seq",
                    (event.job_namespace, event.job_name, int(row[0])),
                )

    def lineage_events(self, limit: int = 100) -> list[LineageEvent]:
        """Returns: the newest ``limit`` events, newest first."""
        with self._tx() as tx:
            rows = tx.fetch_all(
                f"SELECT {_COLUMNS} FROM daap_lineage_events ORDER BY seq DESC LIMIT ?", (int(limit),)
            )
        return [self._event(r) for r in rows]

    def lineage_jobs(self) -> list[LineageEvent]:
        """Returns: each job's newest event that names datasets (its current inputs and outputs)."""
        # one row per job, kept current by record_lineage_event: no scan of the events
        with self._tx() as tx:
            rows = tx.fetch_all(
                f"SELECT {_EVENT_COLUMNS} FROM daap_lineage_jobs j"
                " JOIN daap_lineage_events e ON e.seq = j.seq"
            )
        found = [self._event(row) for row in rows]
        return sorted(found, key=lambda e: (e.job_namespace, e.job_name))

    def _event(self, row: Sequence[Any]) -> LineageEvent:
        d = self.dialect
        received, time, kind, namespace, name, run, inputs, outputs, event = row
        return LineageEvent(
            time,
            kind,
            namespace,
            name,
            run,
            tuple((str(a), str(b)) for a, b in d.decode_json(inputs)),
            tuple((str(a), str(b)) for a, b in d.decode_json(outputs)),
            d.decode_json(event),
            d.decode_time(received),
        )


def _link_rows(product: str, version: int, links: Sequence[ColumnLink]) -> list[tuple[object, ...]]:
    """The rows to store for one product version, each link once; ValueError names a bad one."""
    problem = _version_problem(product, version)
    if problem:
        raise ValueError(f"set_column_lineage: {problem}")
    unique: dict[tuple[str, str, str], ColumnLink] = {}
    for link in links:
        if (link.product, link.version) != (product, version):
            raise ValueError(
                f"set_column_lineage: {product} version {version} was given a link of "
                f"{link.product} version {link.version} ({link.target} <- {link.source})"
            )
        if unique.setdefault((link.target, link.source, link.kind), link) != link:
            raise ValueError(
                f"set_column_lineage: two {link.kind} links {link.target} <- {link.source}"
                " differ in certain or reason; give one"
            )
    return [(product, version, k.target, k.source, k.kind, k.certain, k.reason) for k in unique.values()]


def _links(rows: Sequence[Row]) -> list[ColumnLink]:
    """Rows of :data:`_LINK_COLUMNS` as links, sorted here: databases' text collations differ."""
    ordered = sorted(rows, key=lambda r: (str(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4])))
    return [ColumnLink(p, int(v), t, s, k, bool(c), r) for p, v, t, s, k, c, r in ordered]


def _chunks(values: Sequence[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(values))
    return [unique[i : i + _VALUES_PER_LOOKUP] for i in range(0, len(unique), _VALUES_PER_LOOKUP)]


def _marks(rows: int, width: int = 1) -> str:
    """``?, ?`` for an IN list (``width`` 1), ``(?, ?), (?, ?)`` for a multi-row VALUES."""
    if width == 1:
        return ", ".join("?" * rows)
    row = "(" + ", ".join("?" * width) + ")"
    return ", ".join([row] * rows)


__all__ = ["ColumnLink", "ColumnLinkKind", "LineageEvent", "LineageStore", "LineageTables"]
