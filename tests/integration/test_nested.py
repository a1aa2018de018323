"""Nested objects and arrays in a contract: gate, storage, change events, registry."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from daap.errors import ContractViolation

ADDRESS = {
    "logicalType": "object",
    "properties": [
        {"name": "city", "logicalType": "string", "required": True},
        {"name": "zip", "logicalType": "string"},
        {
            "name": "geo",
            "logicalType": "object",
            "properties": [{"name": "lat", "logicalType": "number", "physicalType": "decimal(9,6)"}],
        },
    ],
}
LINES = {
    "logicalType": "array",
    "items": {
        "logicalType": "object",
        "required": True,
        "properties": [
            {"name": "sku", "logicalType": "string", "required": True},
            {"name": "qty", "logicalType": "integer", "physicalType": "int"},
            {"name": "at", "logicalType": "timestamp", "logicalTypeOptions": {"timezone": True}},
        ],
    },
}
COLUMNS = [
    ("order_id", "integer"),
    ("address", "object", ADDRESS),
    ("tags", "array", {"items": {"logicalType": "string"}}),
    ("lines", "array", LINES),
]


def row(order_id, city="Oslo", sku="a", qty=1, tags=("new",), **extra):
    return {
        "order_id": order_id,
        "address": {"city": city, "zip": "0150", "geo": {"lat": "59.913900"}},
        "tags": list(tags),
        "lines": [{"sku": sku, "qty": qty, "at": "2026-11-01T10:00:00Z"}],
        **extra,
    }


def orders(mesh, rows):
    return mesh.product(
        "orders",
        [
            (c[0], c[1], {k: v for k, v in c[2].items() if k != "logicalType"}) if len(c) > 2 else c
            for c in COLUMNS
        ],
        pk=["order_id"],
        inputs={"src": {"path": "data/*.ndjson"}},
        files={"data/orders.ndjson": "".join(json.dumps(r) + "\n" for r in rows)},
    )


def test_nested_columns_build_and_keep_their_shape(mesh):
    orders(mesh, [row(1), row(2, city="Bergen", tags=())])
    mesh.build_ok()
    got = mesh.query("SELECT order_id, address, tags, lines FROM orders.orders ORDER BY 1")
    assert got[0]["address"] == {"city": "Oslo", "zip": "0150", "geo": {"lat": Decimal("59.913900")}}
    assert got[1]["tags"] == []
    assert got[0]["lines"][0]["sku"] == "a" and got[0]["lines"][0]["qty"] == 1
    assert mesh.query("SELECT address.city AS c FROM orders.orders WHERE order_id = 2") == [{"c": "Bergen"}]


def test_a_nested_change_is_an_avro_update_event_with_the_nested_before_and_after(mesh):
    from tests.integration.test_publication import envelopes, read_topic

    orders(mesh, [row(1), row(2)])
    mesh.build_ok()
    write(mesh, [row(1, city="Bergen"), row(2)])
    mesh.build_ok()
    [update] = [e for e in envelopes(read_topic(mesh, "orders")) if e["op"] == "u"]
    assert update["before"]["address"]["city"] == "Oslo" and update["after"]["address"]["city"] == "Bergen"
    assert update["after"]["address"]["geo"] == {"lat": "59.913900"}  # decimals as text, as everywhere
    assert update["after"]["lines"] == [{"sku": "a", "qty": 1, "at": "2026-11-01T10:00:00+00:00"}]


def test_registered_schemas_carry_the_nesting(mesh):
    import fastavro

    orders(mesh, [row(1)])
    mesh.build_ok()
    envelope = latest_schema(mesh)
    fastavro.parse_schema(envelope)
    value = envelope["fields"][0]["type"][1]
    types = {f["name"]: f["type"] for f in value["fields"]}
    address = types["address"][1]
    assert address["name"] == "Value_address" and address["type"] == "record"
    city, zipcode, geo = address["fields"]
    assert (city["type"], zipcode["type"]) == ("string", ["null", "string"])
    assert geo["type"][1]["name"] == "Value_address_geo"
    assert types["tags"] == ["null", {"type": "array", "items": ["null", "string"]}]
    line = types["lines"][1]["items"]  # items are required: not a union
    assert line["name"] == "Value_lines_items" and [f["name"] for f in line["fields"]] == ["sku", "qty", "at"]


def test_adding_a_required_nested_field_is_refused_naming_it_and_an_optional_one_is_not(mesh):
    from daap.errors import IncompatibleContract

    orders(mesh, [row(1)])
    mesh.build_ok()
    ADDRESS["properties"].append({"name": "country", "logicalType": "string", "required": True})
    try:
        with_country = row(1)
        with_country["address"]["country"] = "NO"
        orders(mesh, [with_country])
        [outcome] = mesh.build()
        assert outcome.status == "failed" and isinstance(outcome.error, IncompatibleContract)
        assert "'country'" in outcome.message and "READER_FIELD_MISSING_DEFAULT_VALUE" in outcome.message
        ADDRESS["properties"][-1]["required"] = False
        orders(mesh, [with_country])
        assert mesh.build_ok()[0].status == "published"
    finally:
        ADDRESS["properties"].pop()


def latest_schema(mesh):
    ws = mesh.workspace()
    try:
        return json.loads(ws.registry.version("daap.orders.orders-value", "latest")["schema"])
    finally:
        ws.close()


def write(mesh, rows):
    (mesh.root / "orders" / "data" / "orders.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize(
    ("bad", "column", "message"),
    [
        ({"address": {"city": None, "zip": "1", "geo": None}}, "address.city", "is required but 1 row(s)"),
        (
            {"lines": [{"sku": "a", "qty": "many", "at": None}]},
            "lines[].qty",
            "value(s) are not valid INTEGER",
        ),
        ({"lines": [{"sku": None, "qty": 1, "at": None}]}, "lines[].sku", "is required but 1 row(s)"),
        ({"lines": [None]}, "lines[]", "hold null items"),
        ({"address": "Oslo"}, "address", "cannot become an object"),
    ],
)
def test_bad_nested_values_are_refused_naming_the_path_and_the_row(mesh, bad, column, message):
    orders(mesh, [row(1), row(2)])
    mesh.build_ok()
    write(mesh, [row(1), {**row(2), **bad}])
    [outcome] = mesh.build()
    assert outcome.status == "failed" and isinstance(outcome.error, ContractViolation), outcome.message
    [violation] = [v for v in outcome.error.violations if v.column == column]
    assert message in violation.message
    if "row(s)" in message or "not valid" in message:
        assert violation.samples and violation.samples[0].startswith("order_id=2: ")
    assert mesh.query("SELECT count(*) AS n FROM orders.orders") == [{"n": 2}]  # version 1 still served


def test_a_missing_nested_field_is_named_and_an_extra_one_is_a_warning(mesh):
    orders(mesh, [row(1)])
    missing = row(1)
    del missing["address"]["zip"]
    write(mesh, [missing])
    [outcome] = mesh.build()
    assert outcome.status == "failed"
    [violation] = outcome.error.violations
    assert violation.column == "address.zip" and "absent from the data" in violation.message
    extra = row(1)
    extra["address"]["floor"] = 3
    write(mesh, [extra])
    [outcome] = mesh.build()
    assert outcome.status == "published", outcome.message
    assert any("'address.floor' is not in the contract" in w for w in outcome.warnings)
    [stored] = mesh.query("SELECT address FROM orders.orders")
    assert "floor" not in stored["address"]


def test_nested_columns_are_served_over_rest_graphql_and_the_postgresql_wire(mesh):
    import httpx
    import psycopg

    from daap.cli.up import http_app
    from daap.query.service import QueryService
    from daap.servers.pgwire import PgWireServer, Trust
    from fixtures.http import serve_app

    orders(mesh, [row(1), row(2, tags=("a", "b"))])
    mesh.build_ok()
    ws = mesh.workspace()
    service = QueryService(ws)
    pg = PgWireServer(service, auth=Trust()).serve_in_thread()
    try:
        with serve_app(http_app(service)) as base:
            rest = httpx.get(f"{base}/api/products/orders/ports/orders/rows", params={"order_id": 2}).json()
            assert rest["rows"][0]["address"]["geo"] == {"lat": "59.913900"}
            assert rest["rows"][0]["tags"] == ["a", "b"]
            refused = httpx.get(f"{base}/api/products/orders/ports/orders/rows", params={"address": "x"})
            assert refused.status_code == 422 and "cannot be compared (column 'address')" in refused.text
            query = "{ orders__orders(where: {order_id: {eq: 2}}) { rows { order_id address lines } } }"
            got = httpx.post(f"{base}/graphql", json={"query": query}).json()
            [gql] = got["data"]["orders__orders"]["rows"]
            assert gql["address"]["city"] == "Oslo" and gql["lines"][0]["sku"] == "a"
        dsn = f"host=127.0.0.1 port={pg.port} user=u dbname=daap"
        with psycopg.connect(dsn) as conn:
            [(city, tags)] = conn.execute(
                "SELECT address.city, tags FROM orders.orders WHERE order_id = 2"
            ).fetchall()
            [(address,)] = conn.execute("SELECT address FROM orders.orders WHERE order_id = 1").fetchall()
        assert city == "Oslo" and tags == ["a", "b"]
        assert address == {"city": "Oslo", "zip": "0150", "geo": {"lat": "59.913900"}}
    finally:
        pg.stop()
        ws.close()


def test_json_schema_events_validate_against_their_nested_registered_schema(mesh):
    import jsonschema as validator
    from tests.integration.test_publication import envelopes, read_topic

    (mesh.root / "mesh.yaml").write_text("eventFormat: jsonschema\n")
    orders(mesh, [row(1), row(2, tags=())])
    mesh.build_ok()
    schema = latest_schema(mesh)
    address = schema["definitions"]["Value"]["properties"]["address"]
    assert address["required"] == ["city"] and address["additionalProperties"] is False
    events = envelopes(read_topic(mesh, "orders"))
    assert len(events) == 2
    for event in events:
        validator.validate(event, schema)
    broken = {**events[0], "after": {**events[0]["after"], "address": {"zip": "1"}}}
    with pytest.raises(validator.ValidationError, match="'city' is a required property"):
        validator.validate(broken, schema)


def test_a_plain_confluent_consumer_decodes_a_nested_event(mesh):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    from tests.integration.test_publication import raw_topic

    from fixtures.registry import serve_registry

    orders(mesh, [row(1)])
    mesh.build_ok()
    [event] = raw_topic(mesh, "orders")
    with serve_registry(mesh.root) as url:
        decode = AvroDeserializer(SchemaRegistryClient({"url": url}))
        value = decode(event.value, SerializationContext("daap.orders.orders", MessageField.VALUE))
    after = value["after"]
    assert after["address"] == {"city": "Oslo", "zip": "0150", "geo": {"lat": Decimal("59.913900")}}
    assert after["tags"] == ["new"] and after["lines"][0]["sku"] == "a"
    assert after["lines"][0]["at"].isoformat() == "2026-11-01T10:00:00+00:00"


def test_the_cli_shows_nested_values_as_json_in_tables_and_csv(mesh, daap_env):
    import subprocess
    import sys

    orders(mesh, [row(1)])
    mesh.build_ok()

    def query(*extra):
        cmd = [
            sys.executable,
            "-m",
            "daap",
            "-w",
            str(mesh.root),
            "query",
            "SELECT address, lines FROM orders.orders",
        ]
        env = {**daap_env, "COLUMNS": "300"}  # one line per row
        done = subprocess.run([*cmd, *extra], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert '{"city": "Oslo", "zip": "0150", "geo": {"lat": "59.913900"}}' in query()
    header, line = query("--format", "csv").splitlines()
    assert header == "address,lines"
    assert '[{""sku"": ""a"", ""qty"": 1, ""at"": ""2026-11-01T10:00:00+00:00""}]' in line
