"""The edges of lineage: what a product reads (:class:`ProductEdge`), where a column takes its
value from (:class:`ColumnEdge`) and which columns decide a port's rows (:class:`FilterEdge`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

EdgeKind = Literal["direct", "derived", "unknown"]
ImpactKind = Literal["product", "direct", "derived", "unknown", "filter"]

FILE_PREFIX = "file:"
#: the source "column" of a value computed from the rows themselves, e.g. ``count(*)``
ROWS = "*"
_DIALECT = "duckdb"


@dataclass(frozen=True, order=True)
class ProductEdge:
    """``product`` reads ``upstream`` (``product.port`` or ``file:<glob>``) through ``input_port``."""

    upstream: str
    product: str
    input_port: str
    #: the upstream version the input port pins; None: the latest
    version: int | None = None


@dataclass(frozen=True, order=True)
class SourceColumn:
    """A column of an upstream node: ``playback_events.events`` / ``viewer_id``."""

    node: str
    column: str

    @property
    def file(self) -> str | None:
        return self.node.removeprefix(FILE_PREFIX) if self.node.startswith(FILE_PREFIX) else None

    @property
    def product(self) -> str | None:
        return None if self.file is not None else self.node.split(".", 1)[0]

    @property
    def port(self) -> str | None:
        return None if self.file is not None else self.node.split(".", 1)[1]

    def __str__(self) -> str:
        return f"{self.node}.{self.column}"


@dataclass(frozen=True, order=True)
class ColumnEdge:
    """``product.port.column`` takes its value from ``source``; ``source`` is None exactly when
    ``kind`` is ``unknown``, and then ``reason`` says why."""

    product: str
    port: str
    column: str
    kind: EdgeKind
    source: SourceColumn | None = None
    reason: str | None = None
    #: computed with an aggregate function (``sum``, ``count`` ...) on some path from ``source``
    aggregated: bool = False

    @property
    def target(self) -> str:
        return f"{self.product}.{self.port}.{self.column}"


@dataclass(frozen=True, order=True)
class FilterEdge:
    """Which rows ``product.port`` has depends on ``source`` (a WHERE, JOIN, GROUP BY ... column)."""

    product: str
    port: str
    source: SourceColumn


Edge = ProductEdge | ColumnEdge | FilterEdge


@dataclass(frozen=True)
class ColumnLineage:
    """Every output port column of one product and where its value comes from."""

    product: str
    #: port -> contract column -> its edges, in contract order; no edges: a constant
    columns: Mapping[str, Mapping[str, tuple[ColumnEdge, ...]]]
    filters: tuple[FilterEdge, ...] = ()

    def sources(self, port: str, column: str) -> tuple[ColumnEdge, ...]:
        return self.columns.get(port, {}).get(column, ())

    @property
    def edges(self) -> tuple[ColumnEdge, ...]:
        return tuple(e for by_column in self.columns.values() for edges in by_column.values() for e in edges)

    @property
    def unknown(self) -> tuple[ColumnEdge, ...]:
        return tuple(e for e in self.edges if e.kind == "unknown")


def all_unknown(product: str, outputs: Mapping[str, Sequence[str]], reason: str) -> ColumnLineage:
    """Every output column's lineage unknown, for ``reason``."""
    return ColumnLineage(
        product,
        {
            port: {c: (unknown_edge(product, port, c, reason),) for c in cols}
            for port, cols in outputs.items()
        },
    )


def unknown_edge(product: str, port: str, column: str, reason: str) -> ColumnEdge:
    """The edge saying the sources of ``product.port.column`` are unknown, and why."""
    return ColumnEdge(product, port, column, "unknown", None, reason)
