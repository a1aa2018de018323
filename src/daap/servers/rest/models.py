"""The JSON shapes of the REST API that are not result rows (OpenAPI is generated from them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from daap.query.service import Caller, TableInfo
from daap.spec.model import NamedQuery


class Column(BaseModel):
    name: str
    type: str = Field(
        description="Arrow type of the column, e.g. int64, string, decimal128(10, 2), date32[day]"
    )
    nullable: bool
    description: str | None = None


class Table(BaseModel):
    product: str
    port: str
    version: int = Field(description="latest published version of the product")
    description: str | None = None
    columns: list[Column]
    rows: str = Field(description="path of the port's rows endpoint")

    @classmethod
    def of(cls, info: TableInfo) -> Table:
        columns = [
            Column(name=c.name, type=str(c.type), nullable=c.nullable, description=c.description)
            for c in info.columns
        ]
        rows = f"/api/products/{info.product}/ports/{info.port}/rows"
        return cls(
            product=info.product,
            port=info.port,
            version=info.version,
            description=info.description,
            columns=columns,
            rows=rows,
        )


class Parameter(BaseModel):
    name: str
    type: str = Field(description="logical type: string, integer, number, boolean, date, timestamp, time")
    description: str | None = None
    required: bool
    default: Any = None


class Query(BaseModel):
    name: str
    description: str | None = None
    sql: str
    parameters: list[Parameter]
    examples: list[dict[str, Any]] = Field(description="argument sets that work, as query strings take them")
    path: str = Field(description="path to call it at, with the arguments as query parameters")

    @classmethod
    def of(cls, product: str, query: NamedQuery) -> Query:
        parameters = [
            Parameter(
                name=p.name,
                type=p.logical_type,
                description=p.description,
                required=p.required,
                default=p.default,
            )
            for p in query.parameters
        ]
        path = f"/api/products/{product}/queries/{query.name}"
        return cls(
            name=query.name,
            description=query.description,
            sql=query.sql,
            parameters=parameters,
            examples=[dict(e) for e in query.examples],
            path=path,
        )


class SqlRequest(BaseModel):
    sql: str = Field(description="one read-only query; a product's output port is the table <product>.<port>")
    params: list[Any] | dict[str, Any] | None = Field(
        None,
        description="values for ? / $1 placeholders (a list) or for $name placeholders (an object); "
        "bound, never spliced",
    )
    at: int | str | dict[str, int | str] | None = Field(
        None,
        description="read as of a version number or an ISO 8601 time (no offset means UTC), "
        "for every product, or per product as {product: version or time}; default: the latest versions",
    )


class Health(BaseModel):
    status: str = "ok"


class Whoami(BaseModel):
    """The caller a request's queries run as (``GET /api/whoami``)."""

    name: str = Field(description="the principal's name; `local` when the server does not authenticate")
    authenticated: bool = Field(description="whether the request proved a principal with a bearer token")
    kind: str | None = Field(None, description="person or service")
    roles: list[str] = []
    domain: str | None = None
    purposes: list[str] = []
    attributes: dict[str, str] = {}

    @classmethod
    def of(cls, caller: Caller) -> Whoami:
        p = caller.principal
        if p is None:
            return cls(name=caller.name, authenticated=False)
        return cls(
            name=p.name,
            authenticated=True,
            kind=p.kind,
            roles=list(p.roles),
            domain=p.domain,
            purposes=list(p.purposes),
            attributes=dict(p.attributes),
        )


class ErrorDetail(BaseModel):
    type: str = Field(description="the error class, e.g. QueryRefused, NotFound, QueryError, InvalidRequest")
    message: str = Field(description="what is wrong and where")
    hint: str | None = Field(None, description="what to do about it, when known")


class ErrorBody(BaseModel):
    error: ErrorDetail
