"""The schema registry API over real HTTP, driven by confluent-kafka's SchemaRegistryClient.

uvicorn serves the app on a free port over a fresh workspace per test (SQLite
metadata); a second test runs the same client against PostgreSQL metadata. Error
paths are sent with httpx, so the status, error code and content type are seen
exactly as a client receives them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from fixtures.registry import serve_registry

MEDIA = "application/vnd.schemaregistry.v1+json"


def record(*fields: dict[str, object], name: str = "Order") -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "shop", "fields": list(fields)})


ID = {"name": "id", "type": "long"}
AMOUNT = {"name": "amount", "type": "double"}
EMAIL_NO_DEFAULT = {"name": "email", "type": "string"}
EMAIL_DEFAULT = {"name": "email", "type": ["null", "string"], "default": None}


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.delenv("DAAP_HOME", raising=False)
    with serve_registry(tmp_path) as served:
        yield served


@pytest.fixture
def sr(url: str) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": url})


@pytest.fixture
def http(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as client:
        yield client


def test_register_lookup_and_ids_with_the_real_client(sr: SchemaRegistryClient) -> None:
    v1 = Schema(record(ID, AMOUNT), "AVRO")
    first = sr.register_schema("orders-value", v1)
    assert sr.register_schema("orders-value", v1) == first  # identical: same id
    assert sr.register_schema("other-value", v1) == first  # ids are global
    v2 = Schema(record(ID, AMOUNT, EMAIL_DEFAULT), "AVRO")
    second = sr.register_schema("orders-value", v2)
    assert second != first
    assert sr.get_subjects() == ["orders-value", "other-value"]
    assert sr.get_versions("orders-value") == [1, 2]
    latest = sr.get_latest_version("orders-value")
    assert (latest.version, latest.schema_id) == (2, second)
    assert json.loads(latest.schema.schema_str)["fields"][2]["name"] == "email"
    found = sr.lookup_schema("orders-value", v1)
    assert (found.version, found.schema_id) == (1, first)
    assert json.loads(sr.get_schema(first).schema_str) == json.loads(v1.schema_str)
    assert sr.get_version("orders-value", 1).schema_id == first


def test_compatibility_levels_and_verbose_reasons(sr: SchemaRegistryClient, http: httpx.Client) -> None:
    sr.register_schema("c-value", Schema(record(ID), "AVRO"))
    breaking = Schema(record(ID, EMAIL_NO_DEFAULT), "AVRO")
    assert sr.test_compatibility("c-value", breaking) is False
    with pytest.raises(SchemaRegistryError) as caught:
        sr.register_schema("c-value", breaking)
    assert caught.value.http_status_code == 409 and caught.value.error_code == 409
    assert "email" in caught.value.error_message
    verbose = http.post(
        "/compatibility/subjects/c-value/versions/latest?verbose=true",
        json={"schema": breaking.schema_str},
    ).json()
    assert verbose["is_compatible"] is False
    assert any("READER_FIELD_MISSING_DEFAULT_VALUE" in m and "email" in m for m in verbose["messages"])
    # FORWARD: the old schema reads new data, so adding a field without default is fine
    assert sr.set_compatibility("c-value", "FORWARD") == {"compatibility": "FORWARD"}
    assert sr.get_compatibility("c-value") == "FORWARD"
    assert sr.test_compatibility("c-value", breaking) is True
    assert sr.register_schema("c-value", breaking) > 0
    sr.set_compatibility(level="NONE")
    assert sr.get_compatibility() == "NONE"


def test_soft_and_permanent_delete(sr: SchemaRegistryClient, http: httpx.Client) -> None:
    sr.register_schema("d-value", Schema(record(ID), "AVRO"))
    sr.register_schema("d-value", Schema(record(ID, EMAIL_DEFAULT), "AVRO"))
    assert sr.delete_version("d-value", 2) == 2
    assert sr.get_versions("d-value") == [1]
    assert http.get("/subjects/d-value/versions?deleted=true").json() == [1, 2]
    # next version number is never reused
    sr.register_schema("d-value", Schema(record(ID, {**AMOUNT, "default": 0.0}), "AVRO"))
    assert sr.get_versions("d-value") == [1, 3]
    with pytest.raises(SchemaRegistryError) as caught:
        sr.delete_subject("d-value", permanent=True)  # not soft-deleted first
    assert caught.value.error_code == 40405
    assert sr.delete_subject("d-value") == [1, 3]
    assert sr.get_subjects() == []
    assert http.get("/subjects?deleted=true").json() == ["d-value"]
    assert sr.delete_subject("d-value", permanent=True) == [1, 2, 3]
    assert http.get("/subjects?deleted=true").json() == []


def test_references_and_referenced_by(sr: SchemaRegistryClient, http: httpx.Client) -> None:
    address = json.dumps(
        {
            "type": "record",
            "name": "Address",
            "namespace": "shop",
            "fields": [{"name": "zip", "type": "string"}],
        }
    )
    sr.register_schema("address", Schema(address, "AVRO"))
    customer = record(ID, {"name": "address", "type": "shop.Address"}, name="Customer")
    customer_id = sr.register_schema(
        "customer-value", Schema(customer, "AVRO", [SchemaReference("shop.Address", "address", 1)])
    )
    assert http.get("/subjects/address/versions/1/referencedby").json() == [customer_id]
    with pytest.raises(SchemaRegistryError) as caught:
        sr.delete_subject("address")
    assert caught.value.error_code == 42206
    missing = http.post(
        "/subjects/bad-value/versions",
        json={"schema": customer, "references": [{"name": "shop.Address", "subject": "nope", "version": 1}]},
    )
    assert missing.status_code == 422 and missing.json()["error_code"] == 42201
    assert "does not exist" in missing.json()["message"]


def test_json_schema_subjects(sr: SchemaRegistryClient) -> None:
    v1 = json.dumps(
        {"type": "object", "properties": {"id": {"type": "integer"}}, "additionalProperties": False}
    )
    first = sr.register_schema("j-value", Schema(v1, "JSON"))
    assert sr.get_schema(first).schema_type == "JSON"
    narrowed = json.dumps(
        {"type": "object", "properties": {"id": {"type": "string"}}, "additionalProperties": False}
    )
    assert sr.test_compatibility("j-value", Schema(narrowed, "JSON")) is False


def test_modes(sr: SchemaRegistryClient, http: httpx.Client) -> None:
    sr.register_schema("m-value", Schema(record(ID), "AVRO"))
    assert http.put("/mode/m-value", json={"mode": "READONLY"}).json() == {"mode": "READONLY"}
    refused = http.post("/subjects/m-value/versions", json={"schema": record(ID, EMAIL_DEFAULT)})
    assert refused.status_code == 422 and refused.json()["error_code"] == 42205
    assert http.delete("/mode/m-value").json() == {"mode": "READONLY"}
    assert http.put("/mode", json={"mode": "IMPORT"}).json()["error_code"] == 42205  # subjects exist
    assert http.put("/mode?force=true", json={"mode": "IMPORT"}).json() == {"mode": "IMPORT"}
    imported = http.post("/subjects/imp-value/versions", json={"schema": '"string"', "id": 500, "version": 3})
    assert imported.json() == {"id": 500}
    assert http.get("/subjects/imp-value/versions/3").json()["id"] == 500
    assert http.put("/mode", json={"mode": "SLEEPY"}).json()["error_code"] == 42204


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/subjects/x-value/versions", {"schema": "{not json"}, 422, 42201),
        ("POST", "/subjects/x-value/versions", {"schema": '{"type": "record", "name": "R"}'}, 422, 42201),
        (
            "POST",
            "/subjects/x-value/versions",
            {"schema": '{"type": "strin"}', "schemaType": "JSON"},
            422,
            42201,
        ),
        ("POST", "/subjects/x-value/versions", {"schema": '"int"', "schemaType": "THRIFT"}, 422, 42201),
        ("POST", "/subjects/x-value/versions", {"schemata": '"int"'}, 422, 422),
        ("PUT", "/config", {"compatibility": "SOMETIMES"}, 422, 42203),
        ("PUT", "/mode", {"mode": "NAP"}, 422, 42204),
        ("GET", "/subjects/none-value/versions", None, 404, 40401),
        ("GET", "/schemas/ids/999", None, 404, 40403),
        ("GET", "/config/none-value", None, 404, 40408),
    ],
)
def test_bad_requests_get_the_registry_error_codes(
    http: httpx.Client, method: str, path: str, body: object, status: int, code: int
) -> None:
    response = http.request(method, path, json=body) if body is not None else http.request(method, path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == MEDIA
    assert response.json()["error_code"] == code
    assert response.json()["message"]


def test_versions_out_of_range_malformed_bodies_and_content_types(
    sr: SchemaRegistryClient, http: httpx.Client
) -> None:
    sr.register_schema("v-value", Schema(record(ID), "AVRO"))
    for bad in ("0", "abc", "2147483648", "-2"):
        response = http.get(f"/subjects/v-value/versions/{bad}")
        assert (response.status_code, response.json()["error_code"]) == (422, 42202), bad
    assert http.get("/subjects/v-value/versions/9").json()["error_code"] == 40402
    assert http.get("/subjects/v-value/versions/-1").json()["version"] == 1
    raw = http.post(
        "/subjects/v-value/versions", content=b"{broken", headers={"content-type": "application/json"}
    )
    assert (raw.status_code, raw.json()["error_code"]) == (400, 400)
    text = http.post("/subjects/v-value/versions", content=b"{}", headers={"content-type": "text/plain"})
    assert (text.status_code, text.json()["error_code"]) == (415, 415)
    for media in ("application/vnd.schemaregistry+json", "application/vnd.schemaregistry.v1+json"):
        ok = http.post(
            "/subjects/v-value", content=json.dumps({"schema": record(ID)}), headers={"content-type": media}
        )
        assert ok.status_code == 200 and ok.json()["version"] == 1
    huge = json.dumps({"type": "enum", "name": "E", "symbols": [f"S{i}" for i in range(200_000)]})
    too_big = http.post("/subjects/v-value/versions", json={"schema": huge})
    assert too_big.json()["error_code"] in (413, 42201)
    assert sr.get_versions("v-value") == [1]  # nothing half-written


def test_schema_by_id_views(sr: SchemaRegistryClient, http: httpx.Client) -> None:
    schema_id = sr.register_schema("a-value", Schema(record(ID), "AVRO"))
    sr.register_schema("b-value", Schema(record(ID), "AVRO"))
    assert http.get(f"/schemas/ids/{schema_id}/subjects").json() == ["a-value", "b-value"]
    assert http.get(f"/schemas/ids/{schema_id}/versions").json() == [
        {"subject": "a-value", "version": 1},
        {"subject": "b-value", "version": 1},
    ]
    assert json.loads(http.get(f"/schemas/ids/{schema_id}/schema").text) == json.loads(record(ID))
    assert http.get("/schemas/types").json() == ["AVRO", "JSON"]
    assert http.get("/subjects?subjectPrefix=b").json() == ["b-value"]


@pytest.mark.postgres
def test_the_same_client_over_postgres_metadata(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAAP_HOME", raising=False)
    (tmp_path / "mesh.yaml").write_text(f"metadata: {postgres_url}\n")
    with serve_registry(tmp_path) as url:
        sr = SchemaRegistryClient({"url": url})
        first = sr.register_schema("pg-value", Schema(record(ID), "AVRO"))
        assert sr.register_schema("pg-value", Schema(record(ID), "AVRO")) == first
        assert sr.test_compatibility("pg-value", Schema(record(ID, EMAIL_NO_DEFAULT), "AVRO")) is False
        assert sr.lookup_schema("pg-value", Schema(record(ID), "AVRO")).version == 1
