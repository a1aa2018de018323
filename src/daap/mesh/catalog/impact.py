"""Impact analysis: every product and column downstream of a node, over many products' edges."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from daap.errors import NotFound
from daap.mesh.catalog.edges import FILE_PREFIX, ColumnEdge, Edge, FilterEdge, ImpactKind, ProductEdge


@dataclass(frozen=True, order=True)
class Impact:
    """A product, ``product.port.column`` or (kind ``filter``) ``product.port`` downstream of the start.

    ``depth`` counts hops from the start (1: reads it directly); ``via`` is the
    node it was reached from. ``certain`` is False when the path crosses lineage
    that is unknown (a Python transformation): it may depend on the start.
    A ``filter`` port's rows depend on the start; the walk does not go on from it.
    """

    depth: int
    node: str
    kind: ImpactKind
    via: str
    certain: bool = True


def impact(edges_by_product: Mapping[str, Iterable[Edge]], start: str) -> list[Impact]:
    """Every product and column downstream of ``start``, transitively; cycles are safe.

    Args:
        edges_by_product: each product's edges (see :func:`lineage_edges`).
        start: ``product``, ``product.port``, ``product.port.column`` or ``file:<glob>``.

    Returns:
        The impacted nodes, nearest first. A whole product or port impacts its
        readers (product level) and every column computed from any of its columns;
        a column impacts the columns computed from it and the products owning them.

    Raises:
        NotFound: ``start`` names a product, port or file no edge knows.
    """
    graph = _Graph([e for edges in edges_by_product.values() for e in edges])
    nodes, column = graph.resolve(start)
    found: dict[str, Impact] = {}
    for node in nodes:
        graph.walk_columns(node, column, found)
        if column is None:
            graph.walk_products(node, found)
    if column is not None:
        for hit in [i for i in found.values() if i.kind != "product"]:
            product = hit.node.split(".", 1)[0]
            _record(found, Impact(hit.depth, product, "product", hit.via, hit.certain))
    return sorted(found.values(), key=lambda i: (i.depth, i.node, i.kind))


def _record(found: dict[str, Impact], item: Impact) -> bool:
    """Keep the nearest, most certain way to reach a node; True when ``item`` is news."""
    key = f"{item.kind}:{item.node}" if item.kind in ("product", "filter") else item.node
    old = found.get(key)
    if old is not None and (old.certain or not item.certain):
        return False
    found[key] = item if old is None else Impact(min(old.depth, item.depth), item.node, item.kind, item.via)
    return True


class _Graph:
    """Edges indexed by what they read."""

    def __init__(self, edges: Sequence[Edge]) -> None:
        self.readers: dict[str, list[ProductEdge]] = {}
        self.columns: dict[str, list[ColumnEdge]] = {}
        self.filters: dict[str, list[FilterEdge]] = {}
        self.unknown: dict[str, list[ColumnEdge]] = {}
        self.nodes: dict[str, set[str]] = {}  # product -> its ports' nodes
        for edge in edges:
            if isinstance(edge, ProductEdge):
                self.readers.setdefault(edge.upstream, []).append(edge)
                self._node(edge.upstream)
            elif isinstance(edge, FilterEdge):
                self.filters.setdefault(edge.source.node, []).append(edge)
                self._node(edge.source.node)
            elif edge.source is None:
                self.unknown.setdefault(edge.product, []).append(edge)
            else:
                self.columns.setdefault(edge.source.node, []).append(edge)
                self._node(edge.source.node)
            if not isinstance(edge, ProductEdge):
                self._node(f"{edge.product}.{edge.port}")

    def _node(self, node: str) -> None:
        if not node.startswith(FILE_PREFIX):
            self.nodes.setdefault(node.split(".", 1)[0], set()).add(node)

    def resolve(self, start: str) -> tuple[list[str], str | None]:
        """The nodes and column (None: all) ``start`` names."""
        if start.startswith(FILE_PREFIX):
            nodes = [start] if start in self.readers else []
            column = None
        else:
            product, _, rest = start.partition(".")
            port, _, name = rest.partition(".")
            nodes = [f"{product}.{port}"] if port else sorted(self.nodes.get(product, ()))
            nodes = [n for n in nodes if n in self.nodes.get(product, ())]
            column = name or None
        if not nodes:
            raise NotFound(
                f"no lineage knows {start!r}",
                hint="name a product, product.port, product.port.column or file:GLOB",
            )
        return nodes, column

    def walk_columns(self, start: str, column: str | None, found: dict[str, Impact]) -> None:
        """Breadth first from ``start.column`` (any column when None) along column edges."""
        queue: deque[tuple[str, str | None, int, bool]] = deque([(start, column, 0, True)])
        while queue:
            node, name, depth, certain = queue.popleft()
            via = f"{node}.{name}" if name else node
            for edge in self.columns.get(node, ()):
                if name is None or edge.source is None or edge.source.column == name:
                    self._reach(queue, found, Impact(depth + 1, edge.target, edge.kind, via, certain))
            for reader in self.readers.get(node, ()):
                for edge in self.unknown.get(reader.product, ()):
                    self._reach(queue, found, Impact(depth + 1, edge.target, "unknown", via, False))
            for filtered in self.filters.get(node, ()):
                if name is None or filtered.source.column == name:
                    target = f"{filtered.product}.{filtered.port}"
                    _record(found, Impact(depth + 1, target, "filter", via, certain))

    @staticmethod
    def _reach(
        queue: deque[tuple[str, str | None, int, bool]], found: dict[str, Impact], item: Impact
    ) -> None:
        if _record(found, item):
            node, _, column = item.node.rpartition(".")
            queue.append((node, column, item.depth, item.certain))

    def walk_products(self, start: str, found: dict[str, Impact]) -> None:
        queue: deque[tuple[str, int]] = deque([(start, 0)])
        while queue:
            node, depth = queue.popleft()
            for reader in self.readers.get(node, ()):
                if _record(found, Impact(depth + 1, reader.product, "product", node)):
                    queue.extend((n, depth + 1) for n in sorted(self.nodes.get(reader.product, ())))


__all__ = ["Impact", "impact"]
