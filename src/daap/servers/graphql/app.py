"""The ASGI app: ariadne's GraphQL server over a schema that follows the published ports.

The schema is generated, so it goes stale when a product is published or a
version changes its columns. At most every ``refresh_seconds`` a request
checks :meth:`QueryService.tables` (and the named queries); when their
signature changed, a new schema and ariadne app replace the old one, so a new
product appears without a restart. Requests in flight keep the app they began
with.

Authentication happens here too, before ariadne sees the request: a request
that must carry a token and does not (or carries a bad one) gets HTTP 401 with
``WWW-Authenticate: Bearer`` and one error, ``extensions.code``
``UNAUTHENTICATED``; GraphQL never runs. ``GET`` stays open: ariadne only
renders the GraphiQL page for it (GET queries are not executed).

Errors are translated here (STYLE habit 9): daap's errors keep their message
and get ``extensions.code`` (``NOT_FOUND``, ``QUERY_REFUSED``, ``QUERY_ERROR``)
and ``extensions.hint``; anything unexpected in a resolver is logged and
reported as ``INTERNAL_SERVER_ERROR`` without its details.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Hashable, Sequence
from typing import Any

from ariadne.asgi import GraphQL
from graphql import GraphQLError, GraphQLSyntaxError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from daap.errors import AuthenticationError, DaapError, NotFound, PermissionDenied, QueryError, QueryRefused
from daap.mesh.policy.authn import LOCAL, Authenticator, challenge, is_anonymous, no_credentials
from daap.query.service import Caller, QueryService, TableInfo
from daap.servers.graphql.limits import Limits, limits_rule
from daap.servers.graphql.schema import SchemaBuilder
from daap.spec.model import ProductSpec

log = logging.getLogger(__name__)
#: where an authenticated request's caller waits in the ASGI scope for the resolvers' context
_CALLER = "daap.caller"

#: daap error → ``extensions.code``, most specific first
ERROR_CODES: tuple[tuple[type[DaapError], str], ...] = (
    (NotFound, "NOT_FOUND"),
    (AuthenticationError, "UNAUTHENTICATED"),
    (PermissionDenied, "FORBIDDEN"),
    (QueryRefused, "QUERY_REFUSED"),
    (QueryError, "QUERY_ERROR"),
    (DaapError, "DAAP_ERROR"),
)


def format_error(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    """ariadne's error formatter: every error carries ``extensions.code``."""
    formatted: dict[str, Any] = {**error.formatted}
    extensions = dict(formatted.get("extensions") or {})
    original = error.original_error
    if isinstance(original, DaapError):
        formatted["message"] = original.message
        extensions["code"] = next(code for kind, code in ERROR_CODES if isinstance(original, kind))
        if original.hint:
            extensions["hint"] = original.hint
    elif original is not None and error.path is not None and "code" not in extensions:
        log.error("GraphQL resolver failed at %s", error.path, exc_info=original)
        formatted["message"] = "internal error; the server log has the details"
        extensions["code"] = "INTERNAL_SERVER_ERROR"
    elif "code" not in extensions:
        parse = isinstance(error, GraphQLSyntaxError)
        extensions["code"] = "GRAPHQL_PARSE_FAILED" if parse else "GRAPHQL_VALIDATION_FAILED"
    formatted["extensions"] = extensions
    return formatted


def schema_key(tables: Sequence[TableInfo], specs: Sequence[ProductSpec]) -> Hashable:
    """What the schema is generated from; a new schema is built only when this changes."""
    ports = tuple((t.product, t.port, t.version, t.columns, t.description) for t in tables)
    queries = tuple((s.name, q.name, q.sql, q.description, q.parameters) for s in specs for q in s.queries)
    return ports, queries


class GraphQLServer:
    """An ASGI app that serves GraphQL over HTTP on whatever path it is mounted at."""

    def __init__(
        self,
        service: QueryService,
        *,
        limits: Limits,
        refresh_seconds: float,
        authenticator: Authenticator,
    ) -> None:
        self.service = service
        self.limits = limits
        self.refresh_seconds = refresh_seconds
        self.authenticator = authenticator
        self._key: Hashable = None
        self._tables: list[TableInfo] = []
        self._specs: list[ProductSpec] = []
        #: one app per set of products its callers may discover (None: every product)
        self._apps: dict[frozenset[str] | None, GraphQL] = {}
        self._checked = float("-inf")
        self._lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # served on its own (not mounted): nothing to start
            await _lifespan(receive, send)
            return
        if scope["type"] == "http" and scope["method"] != "GET" and self.authenticator.required:
            refused = await self._authenticate(scope)
            if refused is not None:
                await refused(scope, receive, send)
                return
        try:
            caller = scope.get(_CALLER)
            app = await self.current(caller if isinstance(caller, Caller) else None)
        except Exception as exc:  # no schema yet: say so instead of a bare 500
            log.exception("GraphQL schema cannot be generated")
            message = exc.message if isinstance(exc, DaapError) else "the GraphQL schema cannot be generated"
            body = {"errors": [{"message": message, "extensions": {"code": "SCHEMA_UNAVAILABLE"}}]}
            await JSONResponse(body, status_code=503)(scope, receive, send)
            return
        await app(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> JSONResponse | None:
        """Keep the request's caller in its scope for the resolvers; the 401 response if it has none."""
        header = Request(scope).headers.get("authorization")
        try:
            caller = await run_in_threadpool(
                functools.partial(self.authenticator.authenticate_header, header, anonymous=True)
            )
            if is_anonymous(caller):  # it needs at least one public product to ask about
                await self.current(None)
                if not await run_in_threadpool(self._visible, caller):
                    raise no_credentials()
            scope[_CALLER] = caller
        except AuthenticationError as exc:
            extensions = {"code": "UNAUTHENTICATED", **({"hint": exc.hint} if exc.hint else {})}
            body = {"errors": [{"message": exc.message, "extensions": extensions}]}
            return JSONResponse(body, 401, {"WWW-Authenticate": challenge(header is not None)})
        return None

    async def current(self, caller: Caller | None = None) -> GraphQL:
        """The app for the current schema as ``caller`` may see it: only the products it may
        discover (every product without policies). Regenerated when the published ports changed."""
        if self._key is None or time.monotonic() - self._checked >= self.refresh_seconds:
            async with self._lock:
                if self._key is None or time.monotonic() - self._checked >= self.refresh_seconds:
                    try:
                        await run_in_threadpool(self._refresh)
                    except Exception:
                        if self._key is None:
                            raise
                        log.exception("GraphQL schema refresh failed; serving the previous schema")
                    self._checked = time.monotonic()
        visible = await run_in_threadpool(self._visible, caller)
        app = self._apps.get(visible)
        if app is None:
            app = await run_in_threadpool(self._build, visible)
            self._apps[visible] = app
        return app

    def _visible(self, caller: Caller | None) -> frozenset[str] | None:
        return None if caller is None else self.service.visible_products(caller, self._specs)

    def _refresh(self) -> None:
        tables, specs = self.service.tables(), self.service.products()
        key = schema_key(tables, specs)
        if key == self._key:
            return
        self._tables, self._specs, self._apps = tables, specs, {}
        self._key = key
        log.info("GraphQL schema generated for %d ports", len(tables))

    def _build(self, visible: frozenset[str] | None) -> GraphQL:
        tables = [t for t in self._tables if visible is None or t.product in visible]
        specs = [s for s in self._specs if visible is None or s.name in visible]
        schema = SchemaBuilder(self.service, self.limits).build(tables, specs)
        return GraphQL(
            schema,
            context_value=self._context,
            validation_rules=self._rules,
            error_formatter=format_error,
            logger=_DebugLog(logging.getLogger("daap.servers.graphql.requests"), {}),
        )

    def _context(self, request: Request, _data: Any) -> dict[str, Any]:
        caller = request.scope.get(_CALLER)
        return {"request": request, "caller": caller if isinstance(caller, Caller) else LOCAL}

    def _rules(self, _context: Any, _document: Any, data: dict[str, Any]) -> list[Any]:
        variables = data.get("variables") if isinstance(data, dict) else None
        return [limits_rule(self.limits, variables if isinstance(variables, dict) else None)]


class _DebugLog(logging.LoggerAdapter[logging.Logger]):
    """ariadne logs every error at ERROR with a traceback; a bad query is the client's fault.

    Errors of our own are logged at ERROR by :func:`format_error`.
    """

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.debug(msg, *args, **kwargs)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
