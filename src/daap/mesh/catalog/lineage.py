"""Product- and column-level lineage, computed from a product's spec (pure: no storage, no I/O
beyond reading the transformation file).

Nodes are named as in SQL: an output port is ``product.port``, one of its
columns ``product.port.column``; a file input is ``file:<path glob>``.
Product lineage comes from the input ports. Column lineage comes from the SQL
transformation, read with sqlglot (DuckDB dialect): each input port is a table
named after the port, so in ``title_popularity``::

    SELECT p.title_id, count(DISTINCT viewer_id) AS viewers FROM events ...

``viewers`` is *derived* from ``playback_events.events.viewer_id`` and
``title_id`` is *direct* (passed through, maybe renamed or cast). A column whose
sources cannot be told (a Python transformation, SQL sqlglot cannot read) is
*unknown*, with the reason; it is never guessed. ``count(*)`` depends on the
rows, not a column: its source column is ``*``. Columns that decide which rows
there are (``WHERE``, ``JOIN ... ON``, ``GROUP BY``, ``HAVING``, ``QUALIFY``)
are :class:`FilterEdge` s; they are sources only where a projection uses them too.

:func:`impact` walks many products' edges downstream from one node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from daap.mesh.catalog.edges import (
    FILE_PREFIX,
    ROWS,
    ColumnEdge,
    ColumnLineage,
    Edge,
    EdgeKind,
    FilterEdge,
    ImpactKind,
    ProductEdge,
    SourceColumn,
    all_unknown,
)
from daap.mesh.catalog.impact import Impact, impact
from daap.mesh.catalog.sql_lineage import sql_lineage
from daap.mesh.metadata import ColumnLink
from daap.spec.model import FileSource, ProductSource, ProductSpec


def product_lineage(spec: ProductSpec) -> list[ProductEdge]:
    """One edge per input port, from the product's port or file glob it reads."""
    return [
        ProductEdge(_input_node(port.source), spec.name, port.name, _pinned(port.source))
        for port in spec.input_ports
    ]


def column_lineage(spec: ProductSpec, input_columns: Mapping[str, Sequence[str]]) -> ColumnLineage:
    """Where each contract column of each output port takes its value from.

    Args:
        spec: the product.
        input_columns: each input port's column names (from the upstream contracts or file
            schemas); a port left out reads as "columns unknown" (``SELECT *`` over it cannot
            be expanded, its columns are not checked).

    Returns:
        The lineage; it never raises for bad SQL, it marks the columns ``unknown`` instead.
    """
    outputs = {p.name: [c.name for c in p.contract.columns] for p in spec.output_ports}
    transform = spec.transformation
    if transform is None:
        return _passthrough(spec, input_columns, outputs)
    if transform.kind == "python":
        why = f"Python transformation {transform.path.name}:{transform.function}: column lineage is unknown"
        return all_unknown(spec.name, outputs, why)
    try:
        text = transform.path.read_text(encoding="utf-8")
    except OSError as exc:
        return all_unknown(spec.name, outputs, f"cannot read {transform.path.name}: {exc.strerror}")
    return sql_lineage(spec.name, text, outputs, _inputs(spec), input_columns, transform.path.name)


def lineage_edges(spec: ProductSpec, input_columns: Mapping[str, Sequence[str]]) -> list[Edge]:
    """All of a product's edges, product and column level, as :func:`impact` takes them."""
    columns = column_lineage(spec, input_columns)
    return [*product_lineage(spec), *columns.edges, *columns.filters]


def mesh_lineage(specs: Sequence[ProductSpec]) -> dict[str, list[Edge]]:
    """:func:`lineage_edges` of every product in ``specs``, each upstream port's columns taken from
    its product's contract (a port of a product not in ``specs`` has none known)."""
    columns = {
        f"{s.name}.{p.name}": [c.name for c in p.contract.columns] for s in specs for p in s.output_ports
    }
    found = {}
    for spec in specs:
        # a file port is left out: its columns are whatever the files hold, not none
        inputs = {
            p.name: columns.get(p.source.ref, [])
            for p in spec.input_ports
            if isinstance(p.source, ProductSource)
        }
        found[spec.name] = lineage_edges(spec, inputs)
    return found


#: the source of a stored ``unknown`` link: ``unknown:1``, ``unknown:2`` ... per reason of its column
UNKNOWN_PREFIX = "unknown:"


def column_links(product: str, version: int, edges: Iterable[Edge]) -> list[ColumnLink]:
    """The column-level edges of :func:`lineage_edges` as the metadata store keeps them.

    Product edges are left out (``daap_product_lineage`` holds them). A filter's
    target is its port, ``product.port``, as in :class:`Impact`. An unknown edge
    has no source column, so its source is :data:`UNKNOWN_PREFIX` and a number,
    one per reason of that column (sorted, so the numbering does not depend on
    the edges' order); it is not certain and keeps its reason.

    Returns:
        The links in the order the store reads them back (target, source, kind).

    Raises:
        ValueError: an edge is of another product, or ``version`` is below 1 (see ColumnLink).
    """
    links: list[ColumnLink] = []
    unknown: dict[str, list[str]] = {}
    for edge in edges:
        if isinstance(edge, FilterEdge):
            target = f"{edge.product}.{edge.port}"
            links.append(ColumnLink(product, version, target, str(edge.source), "filter"))
        elif isinstance(edge, ColumnEdge) and edge.source is not None:
            links.append(ColumnLink(product, version, edge.target, str(edge.source), edge.kind))
        elif isinstance(edge, ColumnEdge):
            unknown.setdefault(edge.target, []).append(edge.reason or "")
    for target, why in unknown.items():
        for n, reason in enumerate(sorted(set(why)), start=1):
            links.append(
                ColumnLink(product, version, target, f"{UNKNOWN_PREFIX}{n}", "unknown", False, reason)
            )
    return sorted(links, key=lambda link: (link.target, link.source, link.kind))


# -- the other kinds of transformation ---------------------------------------------------


def _passthrough(
    spec: ProductSpec, input_columns: Mapping[str, Sequence[str]], outputs: Mapping[str, Sequence[str]]
) -> ColumnLineage:
    """No transformation: the only input is published as it is, column by column."""
    if len(spec.input_ports) != 1 or len(outputs) != 1:
        why = f"no transformation, and {len(spec.input_ports)} input ports for {len(outputs)} output ports"
        return all_unknown(spec.name, outputs, why)
    port = spec.input_ports[0]
    text = f"SELECT * FROM {port.name}"
    columns = _with_outputs(port.name, input_columns, outputs)
    return sql_lineage(spec.name, text, outputs, _inputs(spec), columns, "no transformation")


def _with_outputs(
    port: str, input_columns: Mapping[str, Sequence[str]], outputs: Mapping[str, Sequence[str]]
) -> Mapping[str, Sequence[str]]:
    """A raw product reads its input with the contract's columns when its columns are unknown."""
    if port in input_columns:
        return input_columns
    return {**input_columns, port: next(iter(outputs.values()))}


def _inputs(spec: ProductSpec) -> dict[str, str]:
    return {port.name: _input_node(port.source) for port in spec.input_ports}


def _input_node(source: Any) -> str:
    return f"{FILE_PREFIX}{source.path}" if isinstance(source, FileSource) else str(source.ref)


def _pinned(source: Any) -> int | None:
    return None if isinstance(source, FileSource) else source.version


__all__ = [
    "FILE_PREFIX",
    "ROWS",
    "UNKNOWN_PREFIX",
    "ColumnEdge",
    "ColumnLineage",
    "Edge",
    "EdgeKind",
    "FilterEdge",
    "Impact",
    "ImpactKind",
    "ProductEdge",
    "SourceColumn",
    "column_lineage",
    "column_links",
    "impact",
    "lineage_edges",
    "mesh_lineage",
    "product_lineage",
    "sql_lineage",
]
