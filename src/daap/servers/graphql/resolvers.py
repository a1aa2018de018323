"""Resolvers: a field's arguments → one :class:`QueryRequest` → rows, off the event loop.

Every read goes through :meth:`QueryService.execute` (policies, versions,
cache); the blocking call runs in Starlette's thread pool so one slow query
does not stall the server. Rows are Python values (``date``, ``Decimal`` …);
the scalars in :mod:`.scalars` turn them into JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo
from starlette.concurrency import run_in_threadpool

from daap.query.service import Caller, QueryRequest, QueryService, TableInfo
from daap.servers.graphql.limits import Limits
from daap.servers.graphql.sql import Cursor, WhereCompiler, order_clause, page_query, shape_of

Resolver = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class PortView:
    """What a port's query field reads: the table, its GraphQL→column names, its order key."""

    table: TableInfo
    #: GraphQL field name → column name (they differ only for names GraphQL cannot spell)
    fields: Mapping[str, str]
    #: the primary key, or every column when the port has none
    key: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{self.table.product}.{self.table.port}"


def fetch(service: QueryService, request: QueryRequest, max_rows: int) -> tuple[list[dict[str, Any]], int]:
    """At most ``max_rows`` rows of ``request`` and the version of the first product it read."""
    result = service.execute(request)
    try:
        rows: list[dict[str, Any]] = []
        for batch in result.reader:
            rows.extend(batch.to_pylist())
            if len(rows) >= max_rows:
                break
        return rows[:max_rows], next(iter(result.versions.values()), 0)
    finally:
        result.close()


def port_resolver(service: QueryService, view: PortView, limits: Limits) -> Resolver:
    columns = [c.name for c in view.table.columns]
    where_compiler = WhereCompiler(view.fields)

    async def resolve(
        _root: Any,
        info: GraphQLResolveInfo[Any],
        *,
        limit: int | None = None,
        where: Mapping[str, Any] | None = None,
        order_by: list[Mapping[str, str]] | None = None,
        after: str | None = None,
        at: Any = None,
    ) -> dict[str, Any]:
        size = _page_size(limit, limits)
        shape = shape_of(where, order_by)
        cursor = Cursor.decode(after, shape) if after else None
        offset = cursor.offset if cursor else 0
        sql, params = page_query(
            view.ref, columns, where_compiler.compile(where), order_clause(order_by, view.key), size, offset
        )
        request = QueryRequest(sql, params, cursor.version if cursor else at, _caller(info), "graphql")
        rows, version = await run_in_threadpool(fetch, service, request, size + 1)
        more = len(rows) > size
        following = Cursor(version, offset + size, shape).encode() if more else None
        return {"rows": rows[:size], "next": following, "version": version}

    return resolve


def named_resolver(service: QueryService, product: str, query: str, limits: Limits) -> Resolver:
    """A named query: arguments checked by :meth:`QueryService.named`; at most ``max_page`` rows."""

    async def resolve(_root: Any, info: GraphQLResolveInfo[Any], **args: Any) -> list[dict[str, Any]]:
        request = service.named(product, query, args, caller=_caller(info), protocol="graphql")
        rows, _ = await run_in_threadpool(fetch, service, request, limits.max_page + 1)
        if len(rows) > limits.max_page:
            raise GraphQLError(
                f"named query {product}.{query} returns more than {limits.max_page} rows; "
                "narrow its arguments, or read it in bulk over Flight SQL",
                extensions={"code": "LIMIT_EXCEEDED"},
            )
        return rows

    return resolve


def _page_size(limit: int | None, limits: Limits) -> int:
    """Validation already refuses literal and variable limits; this guards every other path."""
    size = limits.default_page if limit is None else limit
    if not 0 <= size <= limits.max_page:
        raise GraphQLError(
            f"limit must be between 0 and {limits.max_page}, got {size}",
            extensions={"code": "LIMIT_EXCEEDED"},
        )
    return size


def _caller(info: GraphQLResolveInfo[Any]) -> Caller:
    context = info.context if isinstance(info.context, Mapping) else {}
    caller = context.get("caller")
    return caller if isinstance(caller, Caller) else Caller()
