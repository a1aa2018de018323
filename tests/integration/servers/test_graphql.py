"""GraphQL over real HTTP: a generated schema, filters, paging, time travel, named queries, limits.

One mesh and one uvicorn server (port 0, in a thread) for the module; the app
is mounted under ``/graphql`` like ``daap up`` does. Every answer is compared
with what :meth:`QueryService.execute` returns for the same question in SQL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from graphql import build_client_schema, get_introspection_query
from starlette.applications import Starlette
from starlette.routing import Mount

from daap.mesh.workspace import Workspace
from daap.query.service import QueryRequest, QueryService
from daap.servers.graphql import Limits, create_app
from daap.servers.graphql.schema import graphql_names, pascal
from fixtures.http import serve_app
from fixtures.workspace import Mesh

ROWS = 250
COLUMNS = [
    ("order_id", "integer", {"description": "The order's number"}),
    ("customer", "string"),
    ("amount", "number", {"physicalType": "decimal(10,2)"}),
    ("ordered_on", "date"),
    ("paid_at", "timestamp"),
    ("qty", "integer", {"physicalType": "int", "required": True}),
    ("weight", "number"),
]
QUERIES = [
    {
        "name": "big_orders",
        "description": "A customer's orders above an amount.",
        "sql": "SELECT order_id, amount, ordered_on FROM shop.orders "
        "WHERE customer = $customer AND amount >= $min_amount ORDER BY order_id",
        "parameters": [
            {"name": "customer", "type": "string"},
            {"name": "min_amount", "type": "number", "default": 0},
        ],
    },
    {
        "name": "as_number",
        "sql": "SELECT CAST($code AS INTEGER) AS n",
        "parameters": [{"name": "code", "type": "string"}],
    },
    {"name": "sneaky", "sql": "SELECT * FROM read_csv('/etc/passwd')"},
]


def orders_csv(count: int, bump: int = 0) -> str:
    lines = ["order_id,customer,amount,ordered_on,paid_at,qty,weight"]
    for i in range(1, count + 1):
        customer = "" if i % 7 == 0 else f"c{i % 5}"
        amount = f"{(i * 37) % 1000 / 10 + bump:.2f}"
        stamp = f"2026-01-{i % 28 + 1:02d} {i % 24:02d}:{i % 60:02d}:00"
        lines.append(f"{i},{customer},{amount},2026-02-{i % 28 + 1:02d},{stamp},{i % 9},{i / 4}")
    return "\n".join(lines) + "\n"


@dataclass
class Served:
    url: str
    mesh: Mesh
    service: QueryService
    between: datetime

    def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        response = httpx.post(self.url, json={"query": query, "variables": variables or {}}, timeout=30)
        assert response.status_code != 500, response.text
        return response

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.post(query, variables).json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def errors(self, query: str, variables: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        body = self.post(query, variables).json()
        assert body.get("errors"), body
        return body["errors"]

    def sql(self, sql: str, at: Any = None) -> list[dict[str, Any]]:
        return [as_json(r) for r in self.service.execute(QueryRequest(sql, at=at)).read_all().to_pylist()]


def as_json(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the GraphQL scalars write it."""

    def one(value: Any) -> Any:
        if isinstance(value, Decimal):
            return format(value, "f")
        return value.isoformat() if isinstance(value, date) else value

    return {k: one(v) for k, v in row.items()}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("DAAP_HOME", raising=False)
        mesh = Mesh(tmp_path_factory.mktemp("graphql") / "mesh")
        mesh.root.mkdir()
        folder = mesh.product(
            "shop", COLUMNS, pk=["order_id"], port="orders",
            inputs={"raw": {"path": "orders.csv"}}, files={"orders.csv": orders_csv(ROWS)},
        )  # fmt: skip
        descriptor = json.loads((folder / "dataproduct.yaml").read_text())
        descriptor["customProperties"].append({"property": "queries", "value": QUERIES})
        descriptor["outputPorts"][0]["description"] = "One row per order."
        (folder / "dataproduct.yaml").write_text(json.dumps(descriptor))
        mesh.build_ok()
        time.sleep(0.05)
        between = datetime.now(UTC)
        time.sleep(0.05)
        (folder / "orders.csv").write_text(orders_csv(ROWS + 20, bump=1))
        mesh.build_ok()
        ws = Workspace.open(mesh.root)
        service = QueryService(ws)
        outer = Starlette(routes=[Mount("/graphql", app=create_app(service, refresh_seconds=0))])
        with serve_app(outer) as base:
            yield Served(base + "/graphql/", mesh, service, between)
        ws.close()


PAGE = """
query Page($limit: Int, $after: String, $where: Shop_OrdersWhere, $order: [Shop_OrdersOrder!], $at: At) {
  page: shop__orders(limit: $limit, after: $after, where: $where, order_by: $order, at: $at) {
    rows { order_id customer amount ordered_on paid_at qty weight }
    next
    version
  }
}
"""


def read_all(served: Served, **variables: Any) -> tuple[list[dict[str, Any]], list[int]]:
    """Every page of a query, following ``next``; also the page sizes."""
    rows: list[dict[str, Any]] = []
    sizes: list[int] = []
    after = None
    while True:
        page = served.data(PAGE, {**variables, "after": after})["page"]
        rows += page["rows"]
        sizes.append(len(page["rows"]))
        after = page["next"]
        if after is None:
            return rows, sizes


def test_paging_to_the_end_returns_every_row_once_as_sql_does(served: Served) -> None:
    rows, sizes = read_all(served, limit=64)
    assert rows == served.sql("SELECT * FROM shop.orders ORDER BY order_id")
    assert len(rows) == ROWS + 20 and sizes == [64, 64, 64, 64, 14]
    assert {r["order_id"] for r in rows} == set(range(1, ROWS + 21))


def test_default_page_is_100_and_reports_the_version(served: Served) -> None:
    page = served.data("{ shop__orders { rows { order_id } next version } }")["shop__orders"]
    assert [r["order_id"] for r in page["rows"]] == list(range(1, 101))
    assert page["version"] == 2 and page["next"]


def test_order_by_then_primary_key(served: Served) -> None:
    order = [{"column": "amount", "direction": "DESC"}, {"column": "customer"}]
    rows, _ = read_all(served, limit=100, order=order)
    expected = served.sql(
        "SELECT * FROM shop.orders ORDER BY amount DESC NULLS LAST, customer NULLS LAST, order_id"
    )
    assert rows == expected


CUSTOMER_C1 = {"customer": {"eq": "c1"}}
NOTHING_IN = {"qty": {"in": []}}
INJECTION = {"customer": {"eq": "c1' OR '1'='1"}}  # bound: matches no row; spliced: every row
WHERES: list[tuple[dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
    (CUSTOMER_C1, lambda r: r["customer"] == "c1"),
    ({"customer": {"ne": "c1"}}, lambda r: r["customer"] not in (None, "c1")),
    ({"order_id": {"lt": 10}}, lambda r: r["order_id"] < 10),
    ({"order_id": {"lte": "10"}}, lambda r: r["order_id"] <= 10),
    ({"amount": {"gt": "90.5"}}, lambda r: Decimal(r["amount"]) > Decimal("90.5")),
    ({"ordered_on": {"gte": "2026-02-27"}}, lambda r: r["ordered_on"] >= "2026-02-27"),
    ({"paid_at": {"lt": "2026-01-02T00:00:00"}}, lambda r: r["paid_at"] < "2026-01-02T00:00:00"),
    ({"qty": {"in": [1, 8]}}, lambda r: r["qty"] in (1, 8)),
    (NOTHING_IN, lambda r: False),
    ({"weight": {"gte": 60.5, "lt": 62}}, lambda r: 60.5 <= r["weight"] < 62),
    ({"customer": {"like": "c_"}, "qty": {"eq": 3}}, lambda r: r["customer"] is not None and r["qty"] == 3),
    ({"customer": {"is_null": True}}, lambda r: r["customer"] is None),
    (
        {"customer": {"is_null": False}, "qty": {"eq": 0}},
        lambda r: r["customer"] is not None and r["qty"] == 0,
    ),
    ({"or": [CUSTOMER_C1, {"order_id": {"lt": 3}}]}, lambda r: r["customer"] == "c1" or r["order_id"] < 3),
    ({"and": [CUSTOMER_C1, {"qty": {"gt": 4}}]}, lambda r: r["customer"] == "c1" and r["qty"] > 4),
    ({"not": {"customer": {"is_null": False}}}, lambda r: r["customer"] is None),
    (
        {"not": {"or": [{"qty": {"lt": 8}}, {"customer": {"is_null": True}}]}},
        lambda r: r["qty"] >= 8 and r["customer"],
    ),
    (INJECTION, lambda r: False),
]


@pytest.mark.parametrize(("where", "keep"), WHERES, ids=[json.dumps(w) for w, _ in WHERES])
def test_where(served: Served, where: dict[str, Any], keep: Callable[[dict[str, Any]], bool]) -> None:
    rows, _ = read_all(served, limit=1000, where=where)
    expected = [r for r in served.sql("SELECT * FROM shop.orders ORDER BY order_id") if keep(r)]
    assert rows == expected
    assert len(expected) < ROWS + 20 and (expected or where in (NOTHING_IN, INJECTION))


def test_where_as_a_literal_in_the_query(served: Served) -> None:
    where = '{and: [{customer: {eq: "c2"}}, {not: {qty: {gt: 2}}}]}'
    query = f"{{ shop__orders(where: {where}) {{ rows {{ order_id }} }} }}"
    ids = [r["order_id"] for r in served.data(query)["shop__orders"]["rows"]]
    expected = served.sql("SELECT order_id FROM shop.orders WHERE customer = 'c2' AND NOT qty > 2 ORDER BY 1")
    assert ids == [r["order_id"] for r in expected] and ids


def test_time_travel_by_version_and_time(served: Served) -> None:
    old = served.sql("SELECT * FROM shop.orders ORDER BY order_id", at=1)
    rows, _ = read_all(served, limit=1000, at=1)
    assert rows == old and len(rows) == ROWS
    page = served.data(PAGE, {"limit": 1000, "at": served.between.isoformat()})["page"]
    assert page["version"] == 1 and page["rows"] == old
    assert served.data(PAGE, {"limit": 1})["page"]["version"] == 2


def test_a_cursor_keeps_the_version_it_started_on(served: Served) -> None:
    first = served.data(PAGE, {"limit": 200, "at": 1})["page"]
    second = served.data(PAGE, {"limit": 200, "after": first["next"]})["page"]  # no `at`: still version 1
    assert second["version"] == 1 and len(first["rows"] + second["rows"]) == ROWS


def test_named_query_with_arguments(served: Served) -> None:
    query = """query Big($who: String!, $min: Float) {
      shop__query_big_orders(customer: $who, min_amount: $min) { order_id amount ordered_on } }"""
    rows = served.data(query, {"who": "c2", "min": 50.0})["shop__query_big_orders"]
    request = served.service.named("shop", "big_orders", {"customer": "c2", "min_amount": 50})
    expected = [as_json(r) for r in served.service.execute(request).read_all().to_pylist()]
    assert rows == expected and len(rows) > 3
    everything = served.data('{ shop__query_big_orders(customer: "c2") { order_id } }')
    assert len(everything["shop__query_big_orders"]) > len(rows)


def test_introspection_describes_ports_types_and_queries(served: Served) -> None:
    body = served.data(get_introspection_query(descriptions=True))
    schema = build_client_schema(body)  # type: ignore[arg-type]
    orders = schema.get_type("Shop_Orders")
    fields = orders.fields  # type: ignore[union-attr]
    types = {name: str(field.type) for name, field in fields.items()}
    assert types == {
        "order_id": "BigInt!", "customer": "String", "amount": "Decimal", "ordered_on": "Date",
        "paid_at": "DateTime", "qty": "Int!", "weight": "Float",
    }  # fmt: skip
    assert fields["order_id"].description == "The order's number"
    query = schema.query_type.fields  # type: ignore[union-attr]
    assert query["shop__orders"].description == "One row per order."
    assert str(query["shop__query_big_orders"].args["customer"].type) == "String!"
    assert str(query["shop__query_big_orders"].args["min_amount"].type) == "Float"
    assert "shop__query_sneaky" not in query  # refused SQL is not served


def test_limits_refuse_before_running(served: Served) -> None:
    nested = "name " + "ofType { " * 25 + "name" + " }" * 25
    deep = served.errors(f'{{ __type(name: "Shop_Orders") {{ fields {{ type {{ {nested} }} }} }} }}')
    assert deep[0]["extensions"]["code"] == "QUERY_TOO_DEEP" and "levels deep" in deep[0]["message"]
    big = served.errors("{ shop__orders(limit: 5000) { version } }")
    assert big[0]["extensions"]["code"] == "LIMIT_EXCEEDED" and "Flight SQL" in big[0]["message"]
    assert served.errors(PAGE, {"limit": 1001})[0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    aliases = " ".join(f"a{i}: shop__orders(limit: 1) {{ version }}" for i in range(11))
    many = served.errors(f"{{ {aliases} }}")
    assert many[0]["extensions"]["code"] == "QUERY_TOO_COMPLEX" and "11 data fields" in many[0]["message"]
    fields = "a: shop__orders(limit: 1000) { version } b: shop__orders(limit: 1000) { version }"
    total = served.errors(f"{{ {fields} c: shop__orders {{ version }} }}")
    assert "2100 rows in total" in total[0]["message"]
    assert served.data("{ shop__orders(limit: 1) { version } }")["shop__orders"]["version"] == 2


def test_bad_inputs_are_graphql_errors_and_the_server_keeps_serving(served: Served) -> None:
    # a request that cannot run at all is a 400; a field that fails is a 200 with that field null
    cases = {
        "{ shop__orders { rows { nope } } }": ("GRAPHQL_VALIDATION_FAILED", 400),
        '{ shop__orders(limit: "ten") { version } }': ("GRAPHQL_VALIDATION_FAILED", 400),
        "{ shop__orders(where: {ordered_on: {eq: 5}}) { version } }": ("GRAPHQL_VALIDATION_FAILED", 400),
        "{ shop__orders( { version } }": ("GRAPHQL_PARSE_FAILED", 400),
        "{ shop__query_big_orders { order_id } }": ("GRAPHQL_VALIDATION_FAILED", 400),
        "{ shop__orders(at: 99) { version } }": ("NOT_FOUND", 200),
        '{ shop__orders(after: "garbage") { version } }': ("BAD_CURSOR", 200),
        '{ shop__query_as_number(code: "abc") { n } }': ("QUERY_ERROR", 200),
        "{ shop__orders(where: {customer: {eq: null}}) { version } }": ("BAD_USER_INPUT", 200),
    }
    for query, (code, status) in cases.items():
        response = served.post(query)
        body = response.json()
        assert (response.status_code, body["errors"][0]["extensions"]["code"]) == (status, code), (
            query,
            body,
        )
        assert status == 400 or list(body["data"].values()) == [None]
    missing = served.errors("{ shop__orders(at: 99) { version } }")[0]
    assert "shop has no version 99 (versions: 1..2)" in missing["message"]
    bad_date = served.errors(PAGE, {"where": {"ordered_on": {"eq": "not a date"}}})[0]
    assert "ordered_on" in bad_date["message"]
    assert served.data('{ shop__query_as_number(code: "42") { n } }') == {
        "shop__query_as_number": [{"n": 42}]
    }


def test_a_cursor_from_another_query_is_refused(served: Served) -> None:
    cursor = served.data(PAGE, {"limit": 5})["page"]["next"]
    errors = served.errors(PAGE, {"limit": 5, "after": cursor, "where": CUSTOMER_C1})
    assert errors[0]["extensions"]["code"] == "BAD_CURSOR"


def test_graphiql_is_served_on_get(served: Served) -> None:
    response = httpx.get(served.url, headers={"Accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


def test_a_new_product_appears_without_restart(served: Served) -> None:
    query = "{ late__late { rows { id } } }"
    assert served.errors(query)[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    served.mesh.product(
        "late", [("id", "integer")], pk=["id"], inputs={"s": {"path": "d.csv"}}, files={"d.csv": "id\n7\n"}
    )
    served.mesh.build_ok("late")
    assert served.data(query) == {"late__late": {"rows": [{"id": 7}]}}


def test_limits_are_configurable(served: Served) -> None:
    small = Limits(default_page=5, max_page=10, max_rows=20)
    app = Starlette(routes=[Mount("/graphql", app=create_app(served.service, limits=small))])
    with serve_app(app) as base:
        tight = Served(base + "/graphql/", served.mesh, served.service, served.between)
        assert len(tight.data("{ shop__orders { rows { order_id } } }")["shop__orders"]["rows"]) == 5
        assert (
            tight.errors("{ shop__orders(limit: 11) { version } }")[0]["extensions"]["code"]
            == "LIMIT_EXCEEDED"
        )
        named = tight.errors('{ shop__query_big_orders(customer: "c2") { order_id } }')[0]
        assert named["extensions"]["code"] == "LIMIT_EXCEEDED" and "more than 10 rows" in named["message"]


def test_generated_names_are_readable_and_distinct() -> None:
    assert pascal("title_popularity") == "TitlePopularity"
    names = ["a_b", "a__b", "ab", "x_1", "x1"]
    assert len({pascal(n) for n in names}) == len(names)
    assert list(graphql_names(["count(*)", "count___", "null", "1st"])) == [
        "count___",
        "count____2",
        "null_",
        "c1st",
    ]
