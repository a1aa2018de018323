"""The discovery port: search the central catalog and open a product's page.

Routes (under ``/api``)::

    GET /products?q=&domain=&type=&owner=&tag=&classification=&status=&limit=&offset=
    GET /products/{product}          the entry, sample rows, named queries, lineage, snippets
    GET /overview                    the mesh at a glance: domains, statuses, health, recent versions

Results are filtered by the caller's ``discover`` permission (``read`` implies
it); sample rows go through the one query path, so the caller's row filters
and masks apply to them as to any query.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from daap.errors import DaapError, NotFound
from daap.mesh.metadata import CatalogEntry
from daap.mesh.policy.authn import is_anonymous
from daap.query.service import Caller, QueryRequest, QueryService
from daap.servers.rest.auth import CALLER, authenticated, visible
from daap.servers.rest.lineage import product_graph
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
        graph = product_graph(service, seen)
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

    return api


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
        snippet = hit.snippet  # spans: [start, end] offsets in code points of text, to mark
        spans = [list(span) for span in snippet.spans]
        found["snippet"] = {"field": snippet.field, "text": snippet.text, "spans": spans}
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


__all__ = ["catalog_router", "snippets"]
