"""OpenLineage events sent by jobs outside daap, written once in SQL for every adapter (a mixin)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from daap.mesh.metadata._dialect import Dialect, Tx


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


class LineageStore(Protocol):
    def set_product_lineage(self, product: str, upstream: Sequence[str]) -> None: ...
    def product_lineage_edges(self) -> list[tuple[str, str]]: ...
    def readers_of(self, product: str) -> list[str]: ...
    def catalog_names(self) -> list[tuple[str, str]]: ...
    def record_lineage_event(self, event: LineageEvent, at: datetime) -> None: ...
    def lineage_events(self, limit: int = 100) -> list[LineageEvent]: ...
    def lineage_jobs(self) -> list[LineageEvent]: ...


_COLUMNS = "received_at, event_time, event_type, job_namespace, job_name, run_id, inputs, outputs, event"


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

    def record_lineage_event(self, event: LineageEvent, at: datetime) -> None:
        """Keep ``event`` (one row, in one transaction: all of it or nothing)."""
        d = self.dialect
        with self._tx(write=True) as tx:
            tx.execute(
                f"INSERT INTO daap_lineage_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

    def lineage_events(self, limit: int = 100) -> list[LineageEvent]:
        """Returns: the newest ``limit`` events, newest first."""
        with self._tx() as tx:
            rows = tx.fetch_all(
                f"SELECT {_COLUMNS} FROM daap_lineage_events ORDER BY seq DESC LIMIT ?", (int(limit),)
            )
        return [self._event(r) for r in rows]

    def lineage_jobs(self) -> list[LineageEvent]:
        """Returns: each job's newest event that names datasets (its current inputs and outputs)."""
        with self._tx() as tx:
            rows = tx.fetch_all(f"SELECT {_COLUMNS} FROM daap_lineage_events ORDER BY seq DESC")
        found: dict[tuple[str, str], LineageEvent] = {}
        for row in rows:
            event = self._event(row)
            key = (event.job_namespace, event.job_name)
            if key not in found and (event.inputs or event.outputs):
                found[key] = event
        return [found[k] for k in sorted(found)]

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


__all__ = ["LineageEvent", "LineageStore", "LineageTables"]
