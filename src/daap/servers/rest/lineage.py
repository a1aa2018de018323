"""Lineage on the discovery port: the graph around a node, and OpenLineage events from outside.

Routes (under ``/api``)::

    GET /lineage?node=&depth=&level=   the lineage graph around a node: products, files, outside
                                       jobs and datasets; or columns (``level=column``)
    POST /v1/lineage                   an OpenLineage run event from a job outside daap (Marquez's API)

The graph holds only the products the caller may discover, and the files they read.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from daap.errors import NotFound
from daap.mesh.catalog.openlineage import MAX_EVENT_BYTES, EventError, dataset_node, job_node, parse_event
from daap.mesh.policy.authn import is_anonymous, no_credentials
from daap.query.service import Caller, QueryService
from daap.servers.rest.auth import CALLER, authenticated, visible
from daap.servers.rest.errors import BadBody

#: the most hops a lineage request walks each way, however many it asks for
MAX_DEPTH = 10


def lineage_router(service: QueryService) -> APIRouter:
    api = APIRouter(prefix="/api", dependencies=[Depends(authenticated)], tags=["catalog"])

    @api.post("/v1/lineage", summary="Accept an OpenLineage run event (Marquez-compatible)", status_code=201)
    async def accept_lineage(request: Request, caller: CALLER) -> dict[str, Any]:
        """An OpenLineage run event from a job outside daap (Airflow, Spark, dbt): checked (400 naming the
        field that is wrong; nothing is kept), stored as sent, and joined to the lineage graph."""
        if is_anonymous(caller):
            raise no_credentials()
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_EVENT_BYTES:  # refused before it is read
            raise BadBody(f"the event is {int(declared):,} bytes; the most accepted is {MAX_EVENT_BYTES:,}")
        body = await request.body()
        if len(body) > MAX_EVENT_BYTES:
            raise BadBody(f"the event is {len(body):,} bytes; the most accepted is {MAX_EVENT_BYTES:,}")
        try:
            event = parse_event(json.loads(body))
        except json.JSONDecodeError as exc:
            raise BadBody(
                f"the event is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from None
        except EventError as exc:
            raise BadBody(f"not an OpenLineage run event daap can take: {exc}") from None
        await run_in_threadpool(service.ws.metadata.record_lineage_event, event, datetime.now(UTC))
        return {"job": job_node(event.job_namespace, event.job_name), "run": event.run_id}

    @api.get("/lineage", summary="The lineage graph around a node")
    def lineage(
        request: Request,
        caller: CALLER,
        node: Annotated[
            str, Query(description="a product, `product.port`, `product.port.column`, or `file:<glob>`")
        ],
        depth: Annotated[int, Query(ge=1, description=f"hops each way, default 1, at most {MAX_DEPTH}")] = 1,
        level: Annotated[
            Literal["product", "column"], Query(description="products, or columns (a column node means it)")
        ] = "product",
        limit: Annotated[int, Query(ge=1, le=1000, description="edges per page")] = 200,
        offset: Annotated[int, Query(ge=0, description="edges to skip")] = 0,
    ) -> dict[str, Any]:
        """The lineage graph around `node`, up to `depth` hops each way (capped), breadth first, the
        edges a page at a time. Product level: the ports and files a product reads, and the
        products reading it. Column level: which columns each column takes its value from
        (`direct` or `derived`) and which decide a port's rows (`filter`), as the transformation
        SQL of each product's latest version says."""
        seen = visible(service, caller)
        hops = min(depth, MAX_DEPTH)
        columns = level == "column" or node.count(".") >= 2
        unknown: list[dict[str, str]] = []
        if columns and not node.startswith(("file:", "job:", "dataset:")):
            starts, edges, unknown = _column_walk(service, caller, seen, node, hops)
            start = node
        else:
            columns = False
            start, edges = _product_walk(service, caller, seen, node, hops)
            starts = [start]
        page = edges[offset : offset + limit]
        following = offset + len(page)
        nodes = sorted({n for e in page for n in e[:2]} | set(starts))
        return {
            "node": start,
            "level": "column" if columns else "product",
            "depth": hops,
            "capped": depth > MAX_DEPTH,
            "nodes": nodes,
            "edges": [{"from": e[0], "to": e[1], **({"kind": e[2]} if len(e) > 2 else {})} for e in page],
            "unknown": unknown,
            "total": len(edges),
            "next": str(request.url.include_query_params(offset=following))
            if following < len(edges)
            else None,
        }

    return api


def _product_walk(
    service: QueryService, caller: Caller, seen: Collection[str] | None, node: str, hops: int
) -> tuple[str, list[tuple[str, ...]]]:
    """The product graph within ``hops`` of ``node``: where it starts (a port means its product) and
    the edges ``(upstream, reader)``, nearest first."""
    graph = product_graph(service, seen)
    external = node.startswith(("file:", "job:", "dataset:"))
    start = node if external else node.split(".")[0]
    if start not in graph.nodes:
        if not external:
            service.product_spec(start, caller)  # the same answer as for any unknown product
        raise NotFound(f"no lineage node {node!r}", hint="a product, product.port, or file:<glob> it reads")
    return start, list(graph.around(start, hops))


def _column_walk(
    service: QueryService, caller: Caller, seen: Collection[str] | None, node: str, hops: int
) -> tuple[list[str], list[tuple[str, ...]], list[dict[str, str]]]:
    """The column graph within ``hops`` of ``node`` (a product: all its columns; ``product.port``:
    the port's; ``product.port.column``): the columns it starts at, the edges ``(source, target,
    kind)`` nearest first, and the columns on the way whose sources are unknown, with why."""
    product, _, rest = node.partition(".")
    entry = service.ws.metadata.catalog_entry(product)
    if entry is None or (seen is not None and product not in seen):
        service.product_spec(product, caller)  # the same answer as for any unknown product
        raise NotFound(f"no product {product!r} in the catalog", hint="`daap build` registers it")
    columns = [f"{product}.{p.name}.{c.name}" for p in entry.ports for c in p.columns]
    start = [c for c in columns if not rest or c == node or c.startswith(f"{node}.")]
    if not start:
        raise NotFound(
            f"no column {node!r} in the catalog",
            hint=f"{product}'s columns: {', '.join(c.split('.', 1)[1] for c in columns[:20])}",
        )

    def shown(name: str) -> bool:
        return seen is None or name.split(".", 1)[0] in seen

    found: dict[tuple[str, ...], None] = {}
    unknown: dict[str, str] = {}
    metadata = service.ws.metadata
    for downstream in (False, True):
        frontier, reached = list(start), set(start)
        for _ in range(hops):
            if downstream:
                links = metadata.column_links_from(frontier)
            else:  # a port's filters are links to the port itself
                links = metadata.column_links_to([*frontier, *{c.rsplit(".", 1)[0] for c in frontier}])
            following = []
            for link in links:
                if not shown(link.product):
                    continue
                if link.kind == "unknown":
                    unknown.setdefault(link.target, link.reason or "not traced")
                    continue
                source = link.source
                if source.startswith("file:"):  # a file is the reading product's own
                    source = f"file:{link.product}/{source[5:]}"
                elif not shown(source):
                    continue
                found[(source, link.target, link.kind)] = None
                other = link.target if downstream else source
                if other not in reached and not other.startswith("file:"):
                    reached.add(other)
                    following.append(other)
            frontier = following
            if not frontier:
                break
    return start, list(found), [{"column": c, "reason": r} for c, r in sorted(unknown.items())]


class _Graph:
    """Products, and the products and files they read, as the catalog has them."""

    def __init__(self, nodes: Collection[str], edges: list[tuple[str, str]]) -> None:
        self.nodes = set(nodes)
        self.up: dict[str, list[str]] = {}
        self.down: dict[str, list[str]] = {}
        for source, reader in edges:
            self.up.setdefault(reader, []).append(source)
            self.down.setdefault(source, []).append(reader)
            self.nodes |= {source, reader}

    def around(self, start: str, hops: int) -> list[tuple[str, str]]:
        """Every edge ``(upstream, reader)`` within ``hops`` of ``start`` either way, nearest first."""
        found: dict[tuple[str, str], None] = {}
        for links, downstream in ((self.up, False), (self.down, True)):
            frontier, seen = [start], {start}
            for _ in range(hops):
                following = []
                for current in frontier:
                    for other in sorted(links.get(current, ())):
                        found[(current, other) if downstream else (other, current)] = None
                        if other not in seen:
                            seen.add(other)
                            following.append(other)
                frontier = following
        return list(found)


def product_graph(service: QueryService, seen: Collection[str] | None) -> _Graph:
    """The lineage the caller may see: products it may discover, and the files they read."""
    names = [n for n, _ in service.ws.metadata.catalog_names() if seen is None or n in seen]
    shown = set(names)
    edges = []
    for upstream, reader in service.ws.metadata.product_lineage_edges():
        if reader not in shown:
            continue
        # a file is the reading product's own: file:<product>/<glob>
        source = f"file:{reader}/{upstream[5:]}" if upstream.startswith("file:") else upstream.split(".")[0]
        if source.startswith("file:") or source in shown:
            edges.append((source, reader))
    for job in service.ws.metadata.lineage_jobs():  # jobs outside daap, as their events say
        node = job_node(job.job_namespace, job.job_name)
        for namespace, name in job.inputs:
            source = dataset_node(namespace, name)
            if not source.startswith("dataset:") and seen is not None and source not in seen:
                continue
            edges.append((source, node))
        for namespace, name in job.outputs:
            target = dataset_node(namespace, name)
            if not target.startswith("dataset:") and seen is not None and target not in seen:
                continue
            edges.append((node, target))
    return _Graph(names, edges)


__all__ = ["MAX_DEPTH", "lineage_router", "product_graph"]
