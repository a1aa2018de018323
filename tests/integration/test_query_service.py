"""The query service every protocol uses: parameters, cache keys, named queries, tables."""

from __future__ import annotations

import json

import pytest

from daap.errors import NotFound, QueryError
from daap.query.service import Caller, QueryRequest, QueryService

QUERIES = [
    {
        "name": "by_customer",
        "description": "orders of one customer",
        "sql": "SELECT order_id FROM orders.orders WHERE customer = $who ORDER BY order_id",
        "parameters": [{"name": "who", "type": "string"}],
        "examples": [{"who": "ann"}],
    }
]


@pytest.fixture
def service(mesh):
    folder = mesh.product(
        "orders",
        [("order_id", "integer", {"description": "the order"}), ("customer", "string")],
        pk=["order_id"],
        inputs={"src": {"path": "d.csv"}},
        files={"d.csv": "order_id,customer\n1,ann\n2,bob\n3,ann\n"},
    )
    descriptor = json.loads((folder / "dataproduct.yaml").read_text())
    descriptor["customProperties"].append({"property": "queries", "value": QUERIES})
    (folder / "dataproduct.yaml").write_text(json.dumps(descriptor))
    mesh.build_ok()
    ws = mesh.workspace()
    yield QueryService(ws), mesh
    ws.close()


def rows(service, request):
    return service.execute(request).read_all().to_pylist()


def test_positional_and_named_parameters_are_bound(service):
    svc, _ = service
    sql = "SELECT count(*) AS n FROM orders.orders WHERE customer = ?"
    assert rows(svc, QueryRequest(sql, ["ann"])) == [{"n": 2}]
    named = "SELECT count(*) AS n FROM orders.orders WHERE customer = $who"
    assert rows(svc, QueryRequest(named, {"who": "bob"})) == [{"n": 1}]
    injected = rows(svc, QueryRequest(sql, ["x' OR '1'='1"]))
    assert injected == [{"n": 0}]


def test_cache_keys_include_parameters_caller_and_versions(service):
    svc, mesh = service
    sql = "SELECT count(*) AS n FROM orders.orders WHERE customer = ?"
    first = svc.execute(QueryRequest(sql, ["ann"]))
    assert first.read_all().to_pylist() == [{"n": 2}] and not first.from_cache
    again = svc.execute(QueryRequest(sql, ["ann"]))
    assert again.read_all().to_pylist() == [{"n": 2}] and again.from_cache
    other_param = svc.execute(QueryRequest(sql, ["bob"]))
    assert other_param.read_all().to_pylist() == [{"n": 1}] and not other_param.from_cache
    other_caller = svc.execute(QueryRequest(sql, ["ann"], caller=Caller("eve", "policy-2")))
    assert not other_caller.from_cache
    other_caller.close()
    (mesh.root / "orders" / "d.csv").write_text("order_id,customer\n1,ann\n")
    mesh.build_ok()
    fresh = svc.execute(QueryRequest(sql, ["ann"]))
    assert fresh.read_all().to_pylist() == [{"n": 1}] and not fresh.from_cache
    assert svc.cache.stats().hits == 1


def test_named_query_and_its_errors(service):
    svc, _ = service
    assert rows(svc, svc.named("orders", "by_customer", {"who": "ann"})) == [{"order_id": 1}, {"order_id": 3}]
    with pytest.raises(NotFound, match=r"no named query 'nope' \(queries: by_customer\)"):
        svc.named("orders", "nope", {})
    with pytest.raises(QueryError, match="missing parameter 'who'"):
        svc.named("orders", "by_customer", {})


def test_tables_and_schema(service):
    svc, _ = service
    [table] = svc.tables()
    assert (table.product, table.port, table.version) == ("orders", "orders", 1)
    columns = {c.name: c for c in table.columns}
    assert columns["order_id"].nullable is False and columns["order_id"].description == "the order"
    assert columns["customer"].nullable is True
    schema = svc.schema(QueryRequest("SELECT order_id * 2 AS twice FROM orders.orders WHERE customer = ?"))
    assert schema.names == ["twice"] and str(schema.field("twice").type) == "int64"


def test_named_query_called_from_sql(service):
    svc, _ = service
    positional = "SELECT order_id FROM orders.by_customer('ann')"
    assert rows(svc, QueryRequest(positional)) == [{"order_id": 1}, {"order_id": 3}]
    # placeholders inside and outside the call keep their binding order
    mixed = "SELECT c.order_id FROM orders.by_customer(who => ?) AS c WHERE c.order_id > ?"
    assert rows(svc, QueryRequest(mixed, ["ann", 1])) == [{"order_id": 3}]


@pytest.mark.parametrize(
    ("sql", "error", "message"),
    [
        ("SELECT * FROM orders.by_customer()", QueryError, "missing parameter 'who'"),
        ("SELECT * FROM orders.by_customer('a', 'b')", QueryError, "argument 2 is one too many"),
        ("SELECT * FROM orders.by_customer(whom => 'a')", QueryError, "unknown parameter 'whom'"),
        ("SELECT * FROM orders.nope(1)", NotFound, r"no named query 'nope' \(queries: by_customer\)"),
    ],
)
def test_bad_named_query_calls(service, sql, error, message):
    svc, _ = service
    with pytest.raises(error, match=message):
        rows(svc, QueryRequest(sql))


def test_product_specs_are_reused_until_their_files_change(service):
    svc, mesh = service
    first = svc.product_spec("orders")
    assert svc.product_spec("orders") is first  # not parsed again
    descriptor_path = mesh.root / "orders" / "dataproduct.yaml"
    descriptor = json.loads(descriptor_path.read_text())
    descriptor["customProperties"][-1]["value"][0]["name"] = "for_customer"
    descriptor_path.write_text(json.dumps(descriptor))
    assert [q.name for q in svc.product_spec("orders").queries] == ["for_customer"]
