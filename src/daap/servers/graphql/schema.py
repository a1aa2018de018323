"""The GraphQL schema, generated from the published output ports and named queries.

Names (product ``title_popularity``, port ``popularity``, query ``top_titles``)::

    title_popularity__popularity(where, order_by, limit, after, at): TitlePopularity_PopularityPage
        type  TitlePopularity_Popularity        one field per column
        input TitlePopularity_PopularityWhere   column filters + and / or / not
        input TitlePopularity_PopularityOrder   {column: TitlePopularity_PopularityColumn!, direction}
    title_popularity__query_top_titles(genre: String!, top: BigInt): [TitlePopularity_QueryTopTitles!]

Fields keep the SQL spelling (``<product>__<port>``); types are PascalCase,
where ``_x`` becomes ``X`` and any other ``_`` stays, so distinct names give
distinct types. Generated type names all contain ``_``; shared ones
(``BigInt``, ``StringFilter``, ``Direction``) never do. A port or query whose
names are already taken (a port literally called ``query_top_titles``) is
left out and logged rather than breaking the schema for everyone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
)

from daap.errors import DaapError
from daap.query.service import QueryRequest, QueryService, TableInfo
from daap.servers.graphql.limits import Limits
from daap.servers.graphql.resolvers import PortView, named_resolver, port_resolver
from daap.servers.graphql.scalars import At, filter_type, parameter_scalar, scalar_for
from daap.spec.model import NamedQuery, ProductSpec

log = logging.getLogger(__name__)

Direction = GraphQLEnumType("Direction", {"ASC": "ASC", "DESC": "DESC"}, description="Sort order; nulls last")
_RESERVED = {"and", "or", "not", "true", "false", "null"}


def pascal(name: str) -> str:
    """``title_popularity`` → ``TitlePopularity``; ``a__b`` → ``A_B``; ``x_1`` → ``X_1``."""
    joined = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
    return joined[:1].upper() + joined[1:]


def graphql_name(name: str) -> str:
    """A column name as a GraphQL name: other characters become ``_``; never a keyword or ``__x``."""
    safe = re.sub(r"[^_0-9A-Za-z]", "_", name) or "_"
    if safe[0].isdigit() or safe.startswith("__"):
        safe = "c" + safe
    return safe + "_" if safe in _RESERVED else safe


def graphql_names(columns: Iterable[str]) -> dict[str, str]:
    """GraphQL name → column name, in column order; a second ``a-b`` next to ``a_b`` gets ``a_b_2``."""
    found: dict[str, str] = {}
    for column in columns:
        name, n = graphql_name(column), 1
        while name in found:
            n += 1
            name = f"{graphql_name(column)}_{n}"
        found[name] = column
    return found


class SchemaBuilder:
    """Collects one query field per port and per named query, refusing clashing names."""

    def __init__(self, service: QueryService, limits: Limits) -> None:
        self.service = service
        self.limits = limits
        self.fields: dict[str, GraphQLField] = {}
        self.type_names: set[str] = set()

    def build(self, tables: Sequence[TableInfo], specs: Sequence[ProductSpec]) -> GraphQLSchema:
        by_name = {s.name: s for s in specs}
        for table in tables:
            self._port(table, by_name.get(table.product))
        for spec in specs:
            for query in spec.queries:
                self._named(spec.name, query)
        if not self.fields:  # a schema needs a query type with at least one field
            self.fields["products"] = GraphQLField(GraphQLNonNull(GraphQLInt), resolve=lambda *_: 0)
        return GraphQLSchema(GraphQLObjectType("Query", self.fields, description="Published data products"))

    def _add(self, owner: str, field: str, value: GraphQLField, types: Iterable[str]) -> None:
        names = set(types)
        clash = sorted((names & self.type_names) | ({field} & set(self.fields)))
        if clash:
            log.warning("%s is not served over GraphQL: names %s are taken", owner, ", ".join(clash))
            return
        self.fields[field] = value
        self.type_names |= names

    def _port(self, table: TableInfo, spec: ProductSpec | None) -> None:
        base = f"{pascal(table.product)}_{pascal(table.port)}"
        names = graphql_names(c.name for c in table.columns)
        output = spec.output_port(table.port) if spec else None
        key = output.contract.primary_key if output and output.contract.primary_key else tuple(names.values())
        view = PortView(table, names, tuple(key))
        columns = [
            (n, c.name, c.type, c.nullable, c.description) for n, c in zip(names, table.columns, strict=True)
        ]
        page = _page(base, table, _object(base, table.description, columns))
        where, order = _where(base, view), _order(base, view)
        field = GraphQLField(
            page,
            _port_args(where, order, self.limits),
            port_resolver(self.service, view, self.limits),
            description=table.description or f"Rows of {table.product}.{table.port}",
        )
        types = (base, page.name, where.name, order.name, f"{base}Column")
        self._add(f"port {view.ref}", f"{table.product}__{table.port}", field, types)

    def _named(self, product: str, query: NamedQuery) -> None:
        try:
            schema = self.service.schema(QueryRequest(query.sql, protocol="graphql"))
        except DaapError as exc:  # e.g. it reads a product not published yet
            log.warning("named query %s.%s is not served over GraphQL: %s", product, query.name, exc)
            return
        name = f"{pascal(product)}_{pascal('query_' + query.name)}"
        names = graphql_names(schema.names)
        row = _object(
            name,
            query.description,
            [(n, f.name, f.type, True, None) for n, f in zip(names, schema, strict=True)],
        )
        args = {
            p.name: GraphQLArgument(
                _required(parameter_scalar(p.logical_type, p.sql_type), p.required),
                description=p.description,
            )
            for p in query.parameters
        }
        resolver = named_resolver(self.service, product, query.name, self.limits)
        field = GraphQLField(GraphQLList(GraphQLNonNull(row)), args, resolver, description=query.description)
        self._add(f"named query {product}.{query.name}", f"{product}__query_{query.name}", field, [name])


def _object(
    name: str, description: str | None, columns: Iterable[tuple[str, str, Any, bool, str | None]]
) -> GraphQLObjectType:
    """An object type with a field per column; each field reads its column by its real name."""
    fields = {
        field: GraphQLField(
            _required(scalar_for(dtype), not nullable),
            resolve=lambda row, _info, _column=column: row.get(_column),
            description=text,
        )
        for field, column, dtype, nullable, text in columns
    }
    return GraphQLObjectType(name, fields, description=description)


def _page(base: str, table: TableInfo, row: GraphQLObjectType) -> GraphQLObjectType:
    listed = GraphQLNonNull(GraphQLList(GraphQLNonNull(row)))
    fields = {
        "rows": GraphQLField(listed, description="This page's rows"),
        "next": GraphQLField(GraphQLString, description="Pass as `after` for the next page; null at the end"),
        "version": GraphQLField(GraphQLNonNull(GraphQLInt), description="The product version read"),
    }
    return GraphQLObjectType(f"{base}Page", fields, description=f"A page of {table.product}.{table.port}")


def _required(kind: Any, required: bool) -> Any:
    return GraphQLNonNull(kind) if required else kind


def _where(base: str, view: PortView) -> GraphQLInputObjectType:
    types = {c.name: c.type for c in view.table.columns}

    def fields() -> dict[str, GraphQLInputField]:
        found = {
            name: GraphQLInputField(filter_type(scalar_for(types[column])))
            for name, column in view.fields.items()
        }
        listed = GraphQLList(GraphQLNonNull(where))
        found |= {
            "and": GraphQLInputField(listed, description="Every condition holds"),
            "or": GraphQLInputField(listed, description="At least one condition holds"),
            "not": GraphQLInputField(where, description="The condition does not hold"),
        }
        return found

    where = GraphQLInputObjectType(f"{base}Where", fields, description=f"Which rows of {view.ref}")
    return where


def _order(base: str, view: PortView) -> GraphQLInputObjectType:
    columns = GraphQLEnumType(f"{base}Column", {n: GraphQLEnumValue(c) for n, c in view.fields.items()})
    return GraphQLInputObjectType(
        f"{base}Order",
        {
            "column": GraphQLInputField(GraphQLNonNull(columns)),
            "direction": GraphQLInputField(Direction, default_value="ASC"),
        },
    )


def _port_args(
    where: GraphQLInputObjectType, order: GraphQLInputObjectType, limits: Limits
) -> dict[str, Any]:
    return {
        "where": GraphQLArgument(where),
        "order_by": GraphQLArgument(
            GraphQLList(GraphQLNonNull(order)), description="Then by primary key, so pages are stable"
        ),
        "limit": GraphQLArgument(
            GraphQLInt,
            default_value=limits.default_page,
            description=f"Rows per page, at most {limits.max_page}",
        ),
        "after": GraphQLArgument(GraphQLString, description="The `next` cursor of the previous page"),
        "at": GraphQLArgument(At, description="Version number or time to read; default the latest"),
    }
