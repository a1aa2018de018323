"""The discovery port: search the central catalog and open a product's page.

Routes (under ``/api``)::

    GET /products?q=&domain=&type=&owner=&tag=&classification=&status=&limit=&offset=
    GET /products/{product}          the entry, sample rows, named queries, lineage, snippets
    GET /lineage?node=&depth=        the lineage graph around a node (products, files, outside jobs)
    POST /v1/lineage                 an OpenLineage run event from a job outside daap (Marquez's API)
    GET /overview                    the mesh at a glance: domains, statuses, health, recent versions

Results are filtered by the caller's ``discover`` permission (``read`` implies
it); sample rows go through the one query path, so the caller's row filters
and masks apply to them as to any query.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from daap.errors import DaapError, NotFound
from daap.mesh.catalog.openlineage import MAX_EVENT_BYTES, EventError, dataset_node, job_node, parse_event
from daap.mesh.metadata import CatalogEntry
from daap.mesh.policy.authn import is_anonymous, no_credentials
from daap.query.service import Caller, QueryRequest, QueryService
from daap.servers.rest.auth import CALLER, authenticated
from daap.servers.rest.errors import BadBody
from daap.servers.rest.pages import jsonable
from daap.spec.types import quote

#: the facets a search filters by: query parameter -> facet name in the store
FACETS = {
    "domain": "domain",
    "type": "product_type",
    "owner": "owner",
    "tag": "tag",
    "classification": "classification",
    "status": "status",
}
SAMPLE_ROWS = 5
#: the most hops a lineage request walks each way, however many it asks for
MAX_DEPTH = 10
#: the overview names at most this many products per domain, recent versions and graph edges
OVERVIEW_NAMES = 50
OVERVIEW_RECENT = 10
OVERVIEW_EDGES = 2000


def catalog_router(service: QueryService) -> APIRouter:
    api = APIRouter(prefix="/api", dependencies=[Depends(authenticated)], tags=["catalog"])

    @api.get("/products", summary="Search the catalog")
    def search(
        request: Request,
        caller: CALLER,
        q: Annotated[str | None, Query(description="words to look for; the last one may be a prefix")] = None,
        domain: Annotated[list[str] | None, Query(description="only these domains")] = None,
        type: Annotated[list[str] | None, Query(description="only these product types")] = None,
        owner: Annotated[list[str] | None, Query(description="only these owner teams")] = None,
        tag: Annotated[list[str] | None, Query(description="only products with these tags")] = None,
        classification: Annotated[
            list[str] | None, Query(description="only with these classifications")
        ] = None,
        status: Annotated[
            list[str] | None, Query(description="active, deprecated, retired, deleted, …")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=100, description="results per page")] = 20,
        offset: Annotated[int, Query(ge=0, description="results to skip")] = 0,
    ) -> dict[str, Any]:
        """Ranked full-text search over names, objectives, purposes, personas, tags, ports and columns,
        with facet counts; only the products the caller may discover. Products with every word are
        found; when none has them all, those with any (`any_word` says so), ranked."""
        given = {"domain": domain, "type": type, "owner": owner, "tag": tag,
                 "classification": classification, "status": status}  # fmt: skip
        facets = {FACETS[k]: v for k, v in given.items() if v}
        page = service.ws.metadata.search_catalog(
            q, facets=facets, visible=visible(service, caller), limit=limit, offset=offset
        )
        following = offset + len(page.items)
        return {
            "items": [_hit(h) for h in page.items],
            "total": page.total,
            "any_word": page.any_word,
            "facets": {k: dict(v) for k, v in page.facets.items()},
            "next": str(request.url.include_query_params(offset=following))
            if following < page.total
            else None,
        }

    @api.get("/products/{product}", summary="A product's page")
    def show(
        request: Request, caller: CALLER, product: Annotated[str, Path(description="the data product's name")]
    ) -> dict[str, Any]:
        """Everything the catalog knows of the product, sample rows of each port (as the caller may see
        them), its named queries, its lineage (upstream and downstream) and connection snippets."""
        entry = service.ws.metadata.catalog_entry(product)
        seen = visible(service, caller)
        if entry is None or (seen is not None and product not in seen):
            service.product_spec(product, caller)  # the same answer as for any unknown product
            raise NotFound(f"no product {product!r} in the catalog", hint="`daap build` registers it")
        page = entry.to_json()
        page["samples"] = {p.name: _samples(service, caller, product, p.name) for p in entry.ports}
        page["queries"] = _queries(service, caller, product)
        page["lineage"] = _lineage(service, entry, seen)
        user = caller.name if caller.principal is not None and not is_anonymous(caller) else "$USER"
        host = request.url.hostname or "127.0.0.1"
        ports = getattr(request.app.state, "ports", {})
        page["connect"] = snippets(str(request.base_url).rstrip("/"), host, entry, user, ports)
        return page

    @api.get("/overview", summary="The mesh at a glance")
    def overview(caller: CALLER) -> dict[str, Any]:
        """The products the caller may discover: how many, by domain (names, at most
        50 each), status, type and quality; the most recently published; the product graph."""
        seen = visible(service, caller)
        entries = [e for e in service.ws.metadata.catalog_entries() if seen is None or e.name in seen]
        domains: dict[str, list[str]] = {}
        for entry in entries:
            domains.setdefault(entry.domain or "(none)", []).append(entry.name)
        published = sorted((e for e in entries if e.published_at is not None), key=_published, reverse=True)
        graph = _graph(service, seen)
        edges = [(a, b) for b, ups in sorted(graph.up.items()) for a in ups if not a.startswith("file:")]
        return {
            "products": len(entries),
            "domains": {
                d: {"count": len(n), "products": n[:OVERVIEW_NAMES]} for d, n in sorted(domains.items())
            },
            "by_status": _count(e.status for e in entries),
            "by_type": _count(e.product_type or "(none)" for e in entries),
            "quality": _count(e.quality_status or "unknown" for e in entries),
            "recent": [
                {"name": e.name, "latest_version": e.latest_version, "published_at": jsonable(e.published_at)}
                for e in published[:OVERVIEW_RECENT]
            ],
            "edges": [{"from": a, "to": b} for a, b in edges[:OVERVIEW_EDGES]],
            "edges_total": len(edges),
        }

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
    graph = _graph(service, seen)
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


def _graph(service: QueryService, seen: Collection[str] | None) -> _Graph:
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


def visible(service: QueryService, caller: Caller) -> Collection[str] | None:
    """The products ``caller`` may discover (None: all, for the local caller). Deleted products (no
    folder) only for the local caller and the governance role."""
    found = service.visible_products(caller)
    principal = caller.principal
    if found is None or principal is None or "governance" not in principal.roles:
        return found
    known = {s.name for s in service.products()}
    return found | {name for name, _ in service.ws.metadata.catalog_names() if name not in known}


def _hit(hit: Any) -> dict[str, Any]:
    entry: CatalogEntry = hit.entry
    found = {
        "name": entry.name,
        "domain": entry.domain,
        "type": entry.product_type,
        "owner": entry.owner,
        "status": entry.status,
        "business_objective": entry.business_objective,
        "purpose": entry.purpose,
        "tags": list(entry.tags),
        "latest_version": entry.latest_version,
        "quality": entry.quality_status,
        "score": hit.score,
    }
    if hit.snippet is not None:
        found["snippet"] = {"field": hit.snippet.field, "text": hit.snippet.text}
    return found


def _samples(service: QueryService, caller: Caller, product: str, port: str) -> dict[str, Any]:
    sql = f"SELECT * FROM {quote(product)}.{quote(port)} LIMIT {SAMPLE_ROWS}"
    try:
        table = service.execute(QueryRequest(sql, caller=caller, protocol="rest")).read_all()
    except DaapError as exc:  # not published yet, or not readable by this caller: say why
        return {"rows": None, "reason": exc.message}
    return {"rows": [{k: jsonable(v) for k, v in row.items()} for row in table.to_pylist()]}


def _queries(service: QueryService, caller: Caller, product: str) -> list[dict[str, Any]]:
    try:
        spec = service.product_spec(product, caller)
    except DaapError:
        return []
    return [
        {"name": q.name, "description": q.description, "sql": q.sql,
         "parameters": [{"name": p.name, "type": p.logical_type} for p in q.parameters]}
        for q in spec.queries
    ]  # fmt: skip


def _lineage(service: QueryService, entry: CatalogEntry, seen: Collection[str] | None) -> dict[str, Any]:
    upstream = list(entry.document.get("upstream", []))
    readers = service.ws.metadata.readers_of(entry.name)
    downstream = [name for name in readers if seen is None or name in seen]
    return {"upstream": upstream, "downstream": downstream}


def _published(entry: CatalogEntry) -> datetime:
    assert entry.published_at is not None
    return entry.published_at


def _count(values: Iterable[str]) -> dict[str, int]:
    return dict(Counter(values).most_common())


def snippets(
    http: str, host: str, entry: CatalogEntry, user: str = "$USER", ports: Mapping[str, int] | None = None
) -> dict[str, str]:
    """Ready-to-paste ways to read the product's first port (``$DAAP_TOKEN``: the reader's token);
    ``ports`` gives the Flight SQL (``flight``) and PostgreSQL (``pg``) ports (default 8815, 5433)."""
    if not entry.ports:
        return {}
    flight = (ports or {}).get("flight", 8815)
    pg = (ports or {}).get("pg", 5433)
    port = entry.ports[0].name
    sql = f"SELECT * FROM {entry.name}.{port} LIMIT 10"
    first = entry.ports[0].columns[0].name if entry.ports[0].columns else "*"
    rows = f"{http}/api/products/{entry.name}/ports/{port}/rows"
    bearer = '"Authorization: Bearer $DAAP_TOKEN"'
    token = '{"Authorization": "Bearer " + os.environ["DAAP_TOKEN"]}'
    graphql = f'{{"query": "{{ {entry.name}__{port}(limit: 10) {{ rows {{ {first} }} }} }}"}}'
    return {
        "psql": f'PGPASSWORD=$DAAP_TOKEN psql "host={host} port={pg} dbname=daap user={user}" -c "{sql}"',
        "python_adbc": "\n".join([
            "import os, adbc_driver_flightsql.dbapi as flight_sql",
            f'with flight_sql.connect("grpc://{host}:{flight}", autocommit=True,',
            '                        db_kwargs={"adbc.flight.sql.authorization_header":'
            ' "Bearer " + os.environ["DAAP_TOKEN"]}) as conn:',
            f'    print(conn.cursor().execute("{sql}").fetch_arrow_table())',
        ]),
        "pandas": "\n".join([
            "import os, pandas as pd",
            f'rows = pd.read_json("{rows}?_format=ndjson", lines=True, storage_options={token})',
        ]),
        "curl": f'curl -s -H {bearer} "{rows}"',
        "graphql": f"curl -s {http}/graphql -H 'content-type: application/json' -H {bearer} -d '{graphql}'",
    }  # fmt: skip


__all__ = ["catalog_router", "snippets", "visible"]
