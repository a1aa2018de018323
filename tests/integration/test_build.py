"""Building products end to end on the embedded stack (SQLite metadata, Iceberg, DuckDB)."""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

from daap.errors import ContractViolation, InputError

ORDERS = [
    ("order_id", "integer"),
    ("customer", "string"),
    ("amount", "number", {"physicalType": "decimal(10,2)"}),
]
CSV = "order_id,customer,amount\n1,ann,10.50\n2,bob,3.25\n3,ann,7.00\n"


def raw_orders(mesh, csv=CSV, **kw):
    return mesh.product(
        "orders",
        ORDERS,
        pk=["order_id"],
        inputs={"src": {"path": "data/*.csv"}},
        files={"data/orders.csv": csv},
        **kw,
    )


def test_raw_csv_build_publishes_version_one_and_is_queryable(mesh):
    raw_orders(mesh)
    [outcome] = mesh.build_ok()
    assert (outcome.status, outcome.version, outcome.rows) == ("published", 1, {"orders": 3})
    rows = mesh.query("SELECT customer, sum(amount) AS total FROM orders.orders GROUP BY 1 ORDER BY 1")
    assert [(r["customer"], float(r["total"])) for r in rows] == [("ann", 17.5), ("bob", 3.25)]


def test_contract_types_are_what_is_stored(mesh):
    raw_orders(mesh)
    mesh.build_ok()
    ws = mesh.workspace()
    data = ws.port_data("orders", "orders")
    schema = pq.read_schema(data.relation.sql.split("'")[1])
    ws.close()
    assert schema.field("order_id").type == pa.int64()
    assert schema.field("amount").type == pa.decimal128(10, 2)


def test_unchanged_inputs_publish_nothing_and_say_so(mesh):
    raw_orders(mesh)
    mesh.build_ok()
    (mesh.root / "orders" / "data" / "orders.csv").write_text(CSV)  # same bytes, new mtime
    [again] = mesh.build_ok()
    assert again.status == "unchanged" and again.version == 1
    assert "unchanged since version 1" in again.message


def test_second_build_keeps_first_version_readable(mesh):
    raw_orders(mesh)
    mesh.build_ok()
    (mesh.root / "orders" / "data" / "orders.csv").write_text(CSV + "4,cyd,1.00\n")
    [second] = mesh.build_ok()
    assert second.version == 2
    assert mesh.query("SELECT count(*) AS n FROM orders.orders")[0]["n"] == 4
    assert mesh.query("SELECT count(*) AS n FROM orders.orders", at=1)[0]["n"] == 3
    assert mesh.query("SELECT count(*) AS n FROM orders.orders", at={"orders": 2})[0]["n"] == 4


def test_csv_options_delimiter_quote_and_encoding(mesh):
    text = 'order_id;customer;amount\n1;"Müller; Jörg";1,00\n2;"O\'Brien";2\n'.replace("1,00", "1.00")
    mesh.product(
        "orders",
        ORDERS,
        pk=["order_id"],
        inputs={"src": {"path": "in.csv", "delimiter": ";", "quote": '"', "encoding": "latin-1"}},
        files={"in.csv": text.encode("latin-1")},
    )
    mesh.build_ok()
    rows = mesh.query("SELECT customer FROM orders.orders ORDER BY order_id")
    assert [r["customer"] for r in rows] == ["Müller; Jörg", "O'Brien"]


def test_parquet_json_and_ndjson_globs(mesh, tmp_path):
    table = pa.table({"order_id": [1, 2], "customer": ["a", "b"], "amount": [1.5, 2.5]})
    pq.write_table(table, tmp_path / "o.parquet")
    mesh.product(
        "pq",
        ORDERS,
        pk=["order_id"],
        inputs={"src": {"path": "o.parquet"}},
        files={"o.parquet": (tmp_path / "o.parquet").read_bytes()},
    )
    rows = [{"order_id": i, "customer": f"c{i}", "amount": i / 2} for i in range(1, 6)]
    mesh.product(
        "js", ORDERS, pk=["order_id"], inputs={"src": {"path": "a.json"}}, files={"a.json": json.dumps(rows)}
    )
    mesh.product(
        "nd",
        ORDERS,
        pk=["order_id"],
        inputs={"src": {"path": "day-*.ndjson"}},
        files={f"day-{i}.ndjson": json.dumps(r) + "\n" for i, r in enumerate(rows)},
    )
    mesh.build_ok()
    counts = mesh.query(
        "SELECT (SELECT count(*) FROM pq.pq) AS p, (SELECT count(*) FROM js.js) AS j, "
        "(SELECT count(*) FROM nd.nd) AS n"
    )
    assert counts == [{"p": 2, "j": 5, "n": 5}]


def test_derived_sql_reads_upstream_and_records_its_version(mesh):
    raw_orders(mesh)
    mesh.product(
        "revenue",
        [("customer", "string"), ("total", "number")],
        product_type="derived",
        pk=["customer"],
        inputs={"orders": "orders.orders"},
        transform="SELECT customer, sum(amount) AS total\nFROM orders GROUP BY customer",
    )
    outcomes = mesh.build_ok()
    assert [o.product for o in outcomes] == ["orders", "revenue"]
    ws = mesh.workspace()
    assert dict(ws.version("revenue").inputs) == {"orders.orders": 1}
    ws.close()
    assert mesh.query("SELECT total FROM revenue.revenue WHERE customer = 'ann'") == [{"total": 17.5}]


def test_pinned_upstream_version_is_read(mesh):
    raw_orders(mesh)
    mesh.build_ok("orders")
    (mesh.root / "orders" / "data" / "orders.csv").write_text(CSV + "4,dan,100\n")
    mesh.build_ok("orders")
    mesh.product(
        "pinned",
        [("n", "integer")],
        product_type="derived",
        inputs={"o": {"product": "orders", "port": "orders", "version": 1}},
        transform="SELECT count(*) AS n FROM o",
    )
    mesh.build_ok("pinned")
    assert mesh.query("SELECT n FROM pinned.pinned") == [{"n": 3}]


def test_python_transformation(mesh):
    raw_orders(mesh)
    mesh.product(
        "big",
        ORDERS,
        product_type="derived",
        pk=["order_id"],
        inputs={"orders": "orders.orders"},
        transform=(
            "import pyarrow.compute as pc\n"
            "def transform(inputs):\n"
            "    t = inputs['orders']\n"
            "    return t.filter(pc.greater(t['amount'], 5))\n"
        ),
    )
    mesh.build_ok()
    assert [r["order_id"] for r in mesh.query("SELECT order_id FROM big.big ORDER BY 1")] == [1, 3]


def test_upstream_change_rebuilds_dependent(mesh):
    raw_orders(mesh)
    mesh.product(
        "cnt",
        [("n", "integer")],
        product_type="derived",
        pk=["n"],  # keyless ports are append-only: a changed count would be refused
        inputs={"o": "orders.orders"},
        transform="SELECT count(*) AS n FROM o",
    )
    mesh.build_ok()
    (mesh.root / "orders" / "data" / "orders.csv").write_text(CSV + "4,dan,1\n")
    outcomes = {o.product: o for o in mesh.build_ok()}
    assert outcomes["cnt"].status == "published" and outcomes["cnt"].version == 2
    assert mesh.query("SELECT n FROM cnt.cnt") == [{"n": 4}]


def test_failure_stops_dependents_but_not_unrelated_products(mesh):
    raw_orders(mesh, csv="order_id,customer,amount\n1,a,1\n1,b,2\n")
    mesh.product(
        "cnt",
        [("n", "integer")],
        product_type="derived",
        inputs={"o": "orders.orders"},
        transform="SELECT count(*) AS n FROM o",
    )
    mesh.product("other", [("x", "integer")], inputs={"src": {"path": "x.csv"}}, files={"x.csv": "x\n1\n"})
    outcomes = {o.product: o for o in mesh.build()}
    assert outcomes["orders"].status == "failed"
    assert isinstance(outcomes["orders"].error, ContractViolation)
    assert outcomes["cnt"].status == "skipped" and "orders" in outcomes["cnt"].message
    assert outcomes["other"].status == "published"


def test_missing_upstream_version_is_an_input_error(mesh):
    mesh.product(
        "cnt",
        [("n", "integer")],
        product_type="derived",
        inputs={"o": "nowhere.port"},
        transform="SELECT count(*) AS n FROM o",
    )
    [outcome] = mesh.build()
    assert isinstance(outcome.error, InputError)
    assert "nowhere.port" in outcome.message and "daap build nowhere" in outcome.message


def test_python_transformation_imports_a_module_beside_it_and_tracks_it(mesh):
    raw_orders(mesh)
    folder = mesh.product(
        "big",
        ORDERS,
        product_type="derived",
        pk=["order_id"],
        inputs={"orders": "orders.orders"},
        transform="import helpers\ndef transform(inputs):\n    return helpers.keep(inputs['orders'])\n",
        files={"helpers.py": "def keep(t):\n    return t.slice(0, 2)\n"},
    )
    mesh.build_ok()
    assert mesh.query("SELECT count(*) AS n FROM big.big") == [{"n": 2}]
    (folder / "helpers.py").write_text("def keep(t):\n    return t.slice(0, 1)\n")
    outcomes = {o.product: o for o in mesh.build_ok()}
    assert outcomes["big"].status == "published" and outcomes["big"].version == 2
    assert mesh.query("SELECT count(*) AS n FROM big.big") == [{"n": 1}]


def test_missing_pinned_version_says_so(mesh):
    raw_orders(mesh)
    mesh.product(
        "pinned",
        [("n", "integer")],
        product_type="derived",
        inputs={"o": {"product": "orders", "port": "orders", "version": 7}},
        transform="SELECT count(*) AS n FROM o",
    )
    outcomes = {o.product: o for o in mesh.build()}
    assert "pins orders.orders version 7, which does not exist or has expired" in outcomes["pinned"].message
    assert "daap snapshots orders" in outcomes["pinned"].message


def test_empty_mesh_yaml_means_defaults(mesh):
    (mesh.root / "mesh.yaml").write_text("# nothing configured yet\n")
    raw_orders(mesh)
    assert mesh.build_ok()[0].version == 1


def test_contract_evolution_keeps_each_version_with_its_own_columns(mesh):
    raw_orders(mesh)
    mesh.build_ok()
    wider = [*ORDERS, ("note", "string")]
    mesh.product(
        "orders",
        wider,
        pk=["order_id"],
        inputs={"src": {"path": "data/*.csv"}},
        files={"data/orders.csv": "order_id,customer,amount,note\n1,ann,10.50,hi\n"},
    )
    mesh.build_ok()
    narrower = [("order_id", "integer"), ("customer", "string")]
    mesh.product("orders", narrower, pk=["order_id"], inputs={"src": {"path": "data/*.csv"}})
    mesh.build_ok()
    first = mesh.query("SELECT * FROM orders.orders ORDER BY 1", at=1)
    assert list(first[0]) == ["order_id", "customer", "amount"] and len(first) == 3
    assert mesh.query("SELECT * FROM orders.orders", at=2) == [
        {"order_id": 1, "customer": "ann", "amount": Decimal("10.50"), "note": "hi"}
    ]
    assert mesh.query("SELECT * FROM orders.orders", at=3) == [{"order_id": 1, "customer": "ann"}]
