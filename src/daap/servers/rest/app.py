"""The REST output port: every product's ports, named queries and SQL over HTTP.

Routes (OpenAPI at ``/openapi.json``, rendered at ``/docs``)::

    GET  /api/tables                                     published ports, columns, versions
    GET  /api/products/{product}/ports/{port}/rows       filter, sort, select, page
    GET  /api/products/{product}/queries                 the product's named queries
    GET  /api/products/{product}/queries/{name}?arg=...  call one
    POST /api/sql                                        {"sql", "params", "at"}
    GET  /api/whoami                                     the principal the request runs as
    GET  /api/products/{product}/control[/versions|/explain] and PUT: the control port (rest.control)
    GET  /api/access-log                                 allowed and denied accesses (governance)
    GET  /healthz                                        open: never asks for a token

Authentication: every ``/api`` route depends on :func:`authenticated`, which asks
the app's :class:`~daap.mesh.policy.authn.Authenticator` who the request is
(``Authorization: Bearer <token>``); without a valid token it answers 401 before
any query runs. With authentication off every request is the local caller.

Endpoints are plain functions: FastAPI runs them on its thread pool, so the
engine never blocks the event loop; streamed bodies are produced on worker
threads too (:mod:`.responses`). Every query goes through
:meth:`QueryService.execute`, the one query path with its guard and policies.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request, Response

from daap.errors import ArgumentError
from daap.mesh.observe import report
from daap.mesh.policy.authn import Authenticator, is_anonymous, no_credentials
from daap.mesh.workspace import At
from daap.query.engine import AtSpec
from daap.query.service import Caller, QueryRequest, QueryService
from daap.servers.rest import errors, formats, models, pages, rows
from daap.servers.rest.auth import CALLER, authenticated
from daap.servers.rest.catalog import catalog_router
from daap.servers.rest.control import control_router
from daap.servers.rest.errors import InvalidRequest
from daap.servers.rest.history import history_router
from daap.servers.rest.lineage import lineage_router
from daap.servers.rest.responses import envelope, page_response, stream_response, versions_header
from daap.servers.rest.values import parse_at

PRODUCT = Path(description="the data product's name")
FORMAT = Query(alias="_format", description=formats.DESCRIPTION)
AT = Query(
    description="read as of a version number (`3`) or an ISO 8601 time (`2025-01-31T12:00:00Z`, no offset "
    "means UTC); default: the latest version"
)
COLUMNS = Query(alias="_columns", description="columns to return, comma-separated; default all")
SORT = Query(alias="_sort", description="sort keys, comma-separated; `-col` sorts descending; nulls last")
SIZE = Query(alias="_size", description=f"rows per page, 1..{rows.MAX_SIZE}, default {rows.DEFAULT_SIZE}")
CURSOR = Query(
    alias="_cursor", description="where the page starts: copy it from the previous page's next link"
)
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": models.ErrorBody, "description": "invalid or refused SQL (not one read-only query)"},
    401: {
        "model": models.ErrorBody,
        "description": "no valid bearer token, when the server requires one; the message says what is wrong",
    },
    404: {"model": models.ErrorBody, "description": "unknown product, port, version or named query"},
    422: {"model": models.ErrorBody, "description": "a bad parameter: column, filter value, cursor, format"},
}
DATA = {
    200: {
        "description": "the rows, in the chosen format; header X-Daap-Versions names the versions read",
        "content": {f.media_type.split(";")[0]: {} for f in formats.FORMATS.values()},
    },
    **ERRORS,
}
ROWS_DOC = """Rows of one output port, a page at a time.

**Filters** are query parameters `column__op=value`; `column=value` means `eq`. Operators: `eq`, `ne`, `lt`,
`lte`, `gt`, `gte`, `in` (comma-separated values), `like` (SQL pattern, `%` and `_`), `isnull` (`true` or
`false`). Values are read as the column's type (dates `2024-01-31`, timestamps ISO 8601, decimals `12.50`) and
bound as parameters. Several filters all apply. A column named like a reserved parameter (`at`, `_sort`, ...)
is filtered as `at__eq=...`.

**Pages**: ordered by `_sort`, then by the primary key (all columns if the port has none), so pages never
overlap or skip. When there are more rows, the `Link` header (`rel="next"`) and the JSON `next` field give the
URL of the next page; its `_cursor` also pins the version the first page read."""


def _at(raw: str | None) -> At:
    try:
        return parse_at(raw)
    except ValueError as exc:
        raise InvalidRequest("at", str(exc)) from None


def _at_spec(raw: int | str | dict[str, int | str] | None) -> AtSpec:
    if isinstance(raw, dict):
        return {product: _at(str(value)) for product, value in raw.items()}
    return _at(None if raw is None else str(raw))


def _tables(service: QueryService, caller: Caller) -> list[models.Table]:
    return [models.Table.of(info) for info in service.tables(caller)]


def _queries(service: QueryService, product: str, caller: Caller) -> list[models.Query]:
    return [models.Query.of(product, q) for q in service.product_spec(product, caller).queries]


def _next_link(request: Request, cursor: str) -> str:
    return str(request.url.include_query_params(_cursor=cursor))


def _run(service: QueryService, query: QueryRequest, fmt: formats.Format) -> Response:
    result = service.execute(query)
    return stream_response(result, fmt, envelope(result.versions), versions_header(result.versions))


def _router(service: QueryService) -> APIRouter:
    api = APIRouter(prefix="/api", responses=ERRORS, dependencies=[Depends(authenticated)])
    ports = pages.Ports(service)

    @api.get("/tables", summary="Published output ports", response_model=list[models.Table])
    def tables(caller: CALLER) -> list[models.Table]:
        """Every published output port as a table, at its latest version, with its columns (under
        policies: of the products the caller may discover)."""
        return _tables(service, caller)

    @api.get(
        "/products/{product}/ports/{port}/rows",
        summary="Rows of an output port",
        responses=DATA,
        description=ROWS_DOC,
    )
    def port_rows(
        request: Request,
        caller: CALLER,
        product: Annotated[str, PRODUCT],
        port: Annotated[str, Path(description="the output port's name")],
        columns: Annotated[str | None, COLUMNS] = None,
        sort: Annotated[str | None, SORT] = None,
        size: Annotated[int | None, SIZE] = None,
        cursor: Annotated[str | None, CURSOR] = None,
        format: Annotated[str | None, FORMAT] = None,
        at: Annotated[str | None, AT] = None,
    ) -> Response:
        fmt = formats.choose(format, request.headers.get("accept"))
        filters = tuple((k, v) for k, v in request.query_params.multi_items() if k not in rows.RESERVED)
        wanted = pages.PageRequest(columns, sort, size, cursor, _at(at), filters)
        service.product_spec(product, caller)  # one it may not discover is unknown
        page = pages.read_page(service, ports, product, port, wanted, caller)
        following = _next_link(request, page.next.encode()) if page.next else None
        headers = versions_header(page.versions)
        if following:
            headers["Link"] = f'<{following}>; rel="next"'
        return page_response(page.rows, fmt, envelope(page.versions, following), headers)

    @api.get(
        "/products/{product}/queries", summary="Named queries of a product", response_model=list[models.Query]
    )
    def named_queries(caller: CALLER, product: Annotated[str, PRODUCT]) -> list[models.Query]:
        """The documented queries a product offers: parameters with their types, and examples that work."""
        return _queries(service, product, caller)

    @api.get("/products/{product}/queries/{name}", summary="Call a named query", responses=DATA)
    def call_named_query(
        request: Request,
        caller: CALLER,
        product: Annotated[str, PRODUCT],
        name: Annotated[str, Path(description="the named query")],
        format: Annotated[str | None, FORMAT] = None,
        at: Annotated[str | None, AT] = None,
    ) -> Response:
        """Run a named query with its arguments as query parameters (`?genre=drama&top=5`), converted to the
        declared types; see GET /api/products/{product}/queries for the parameters."""
        fmt = formats.choose(format, request.headers.get("accept"))
        args = {k: v for k, v in request.query_params.items() if k not in ("_format", "at")}
        try:
            query = service.named(product, name, args, _at(at), caller, protocol="rest")
        except ArgumentError as exc:
            raise InvalidRequest("arguments", exc.message, hint=exc.hint) from None
        return _run(service, query, fmt)

    @api.get("/products/{product}/observation", summary="Quality, monitors and SLOs of a product")
    def observation(
        caller: CALLER,
        product: Annotated[str, PRODUCT],
        history: Annotated[int, Query(ge=1, le=500, description="how many past runs to list")] = 20,
    ) -> dict[str, Any]:
        """The observation port: the latest quality results per port (rules with their values, thresholds
        and sample offending rows; column profiles), the history of runs, the quarantined build, the
        monitors (freshness, volume, changes, column drift, schema changes) and the SLOs."""
        spec = service.require(caller, product, "read")  # its samples are rows of the product
        return report.observation(service.ws, product, history, spec=spec)

    @api.post("/sql", summary="Run a read-only SQL query", responses=DATA)
    def sql(
        request: Request,
        caller: CALLER,
        body: Annotated[
            models.SqlRequest, Body(description="the query, its parameters and the versions to read")
        ],
        format: Annotated[str | None, FORMAT] = None,
    ) -> Response:
        """One read-only query over the mesh; a product's output port is the table `<product>.<port>`.
        The whole result is streamed (no pages): use `LIMIT`, or a streaming format for large results."""
        fmt = formats.choose(format, request.headers.get("accept"))
        params = body.params if body.params is not None else ()
        query = QueryRequest(body.sql, params, _at_spec(body.at), caller, protocol="rest")
        return _run(service, query, fmt)

    @api.get("/whoami", summary="The principal the request runs as", response_model=models.Whoami)
    def whoami(caller: CALLER) -> models.Whoami:
        """The principal the bearer token proves, with the roles, purposes and attributes policies see;
        `{"name": "local", "authenticated": false}` when the server does not authenticate."""
        if is_anonymous(caller):
            raise no_credentials()
        return models.Whoami.of(caller)

    return api


def create_app(service: QueryService, authenticator: Authenticator | None = None) -> FastAPI:
    """The REST API over ``service``; mount more (GraphQL, the UI) on the returned app.

    Args:
        service: the one query path.
        authenticator: who requests are; default none asked (every request is the local caller).
    """
    app = FastAPI(
        title="daap",
        summary="Data products of the mesh: output ports, named queries and SQL",
        description='Errors are `{"error": {"type", "message", "hint"}}`: 400 invalid or refused SQL, '
        "401 no valid bearer token (when the server requires one: send `Authorization: Bearer <token>`), "
        "404 unknown product/port/version/query, 422 a bad parameter. Every response that read data names "
        "the versions it read in the `X-Daap-Versions` header (`orders=3,titles=1`).",
    )
    app.state.authenticator = authenticator or Authenticator()
    errors.install(app)
    app.include_router(_router(service))
    app.include_router(control_router(service))
    app.include_router(catalog_router(service))
    app.include_router(history_router(service))
    app.include_router(lineage_router(service))

    @app.get("/healthz", summary="Liveness", response_model=models.Health)
    def healthz() -> models.Health:
        """The server answers; says nothing about the products."""
        return models.Health()

    return app
