"""The contract gate: builds register each port's schemas and refuse incompatible contract changes."""

from __future__ import annotations

import json
import subprocess
import sys

import fastavro
import pytest

from daap.errors import IncompatibleContract
from daap.mesh.registry import jsonschema, odcs
from daap.mesh.registry.service import SchemaRegistry

COLUMNS = [
    ("id", "integer"),
    ("name", "string", {"required": True, "description": "display name"}),
    ("price", "number", {"physicalType": "decimal(10,2)"}),
    ("born", "date"),
    ("seen", "timestamp"),
]
CSV = "id,name,price,born,seen\n1,a,1.50,2020-01-02,2026-01-01 10:00:00\n"


def declare(mesh, columns=COLUMNS, csv=CSV):
    mesh.product("things", columns, pk=["id"], inputs={"src": {"path": "d.csv"}}, files={"d.csv": csv})
    return mesh.build("things")[0]


def subjects(mesh):
    ws = mesh.workspace()
    try:
        reg = SchemaRegistry(ws.metadata)
        return {s: reg.versions(s) for s in reg.subjects()}, reg.version("daap.things.things-value", "latest")
    finally:
        ws.close()


def test_a_build_registers_value_and_key_schemas(mesh):
    assert declare(mesh).status == "published"
    found, latest = subjects(mesh)
    assert found == {"daap.things.things-key": [1], "daap.things.things-value": [1]}
    envelope = json.loads(latest["schema"])
    assert (envelope["name"], envelope["namespace"]) == ("Envelope", "daap.things.things")
    assert [f["name"] for f in envelope["fields"]] == ["before", "after", "op", "source", "ts_ms"]
    schema = envelope["fields"][0]["type"][1]  # before: ["null", Value]
    assert schema["name"] == "Value" and envelope["fields"][1]["type"] == ["null", "Value"]
    types = {f["name"]: f["type"] for f in schema["fields"]}
    assert types == {
        "id": "long",
        "name": "string",
        "price": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}],
        "born": ["null", {"type": "int", "logicalType": "date"}],
        "seen": ["null", {"type": "long", "logicalType": "local-timestamp-micros"}],
    }
    assert next(f for f in schema["fields"] if f["name"] == "name")["doc"] == "display name"
    fastavro.parse_schema(envelope)  # a schema any Avro library takes


def test_an_incompatible_contract_change_stops_the_build_before_anything_is_written(mesh):
    declare(mesh)
    added = [*COLUMNS, ("stock", "integer", {"required": True})]
    outcome = declare(mesh, added, CSV.replace("\n1,", ",stock\n1,", 1).replace(":00\n", ":00,5\n"))
    assert outcome.status == "failed" and isinstance(outcome.error, IncompatibleContract)
    assert "READER_FIELD_MISSING_DEFAULT_VALUE" in outcome.message and "'stock'" in outcome.message
    assert "make it optional" in (outcome.error.hint or "")
    ws = mesh.workspace()
    try:
        assert [v.version for v in ws.metadata.list_versions("things")] == [1]
        assert ws.metadata.builds("things")[0].state == "published"  # the refused build never started
    finally:
        ws.close()
    assert subjects(mesh)[0]["daap.things.things-value"] == [1]
    # the same column, optional: compatible, published, registered as version 2
    optional = [*COLUMNS, ("stock", "integer")]
    outcome = declare(mesh, optional, CSV.replace("\n1,", ",stock\n1,", 1).replace(":00\n", ":00,5\n"))
    assert outcome.status == "published", outcome.message
    assert subjects(mesh)[0]["daap.things.things-value"] == [1, 2]


def test_registry_check_cli(mesh, daap_env):
    declare(mesh)

    def check():
        cmd = [sys.executable, "-m", "daap", "-w", str(mesh.root), "registry", "check", "things"]
        return subprocess.run(cmd, env=daap_env, capture_output=True, text=True, timeout=60)

    ok = check()
    assert ok.returncode == 0 and "OK    things" in ok.stdout
    mesh.product("things", [("id", "string"), *COLUMNS[1:]], pk=["id"], inputs={"src": {"path": "d.csv"}})
    refused = check()
    assert refused.returncode == 3
    assert "TYPE_MISMATCH at /fields/0/type: field 'id'" in refused.stderr


def test_json_schema_translation_is_valid_and_closed():
    from daap.spec.model import ColumnSpec, ContractSpec

    columns = (
        ColumnSpec("id", "integer", "BIGINT", primary_key=True),
        ColumnSpec("price", "number", "DECIMAL(10,2)"),
        ColumnSpec("seen", "timestamp", "TIMESTAMPTZ", required=True),
    )
    contract = ContractSpec(path=__import__("pathlib").Path("x.yaml"), id="c", version="1", columns=columns,
                            primary_key=("id",))  # fmt: skip
    text = odcs.json_value("p", "q", contract)
    parsed = jsonschema.parse(text)
    schema = json.loads(parsed.text)
    assert schema["required"] == ["id", "seen"] and schema["additionalProperties"] is False
    assert schema["properties"]["price"]["type"] == ["string", "null"]
    assert schema["properties"]["seen"] == {"type": "string", "format": "date-time"}
    assert json.loads(odcs.avro_key("p", "q", contract) or "{}")["fields"] == [{"name": "id", "type": "long"}]


def _with_contract_property(mesh, value):
    path = mesh.root / "things" / "contracts" / "things.odcs.yaml"
    doc = json.loads(path.read_text())
    doc["customProperties"] = [{"property": "compatibility", "value": value}]
    path.write_text(json.dumps(doc))


def test_a_contract_sets_its_ports_compatibility_level(mesh):
    declare(mesh)
    # long -> int: old readers read the new ints (FORWARD), new readers not the old longs
    narrowed = [("id", "integer", {"physicalType": "int"}), *COLUMNS[1:]]
    mesh.product("things", narrowed, pk=["id"], inputs={"src": {"path": "d.csv"}}, files={"d.csv": CSV})
    assert mesh.build("things")[0].status == "failed"  # BACKWARD, the default, refuses it
    _with_contract_property(mesh, "forward")
    [outcome] = mesh.build("things")
    assert outcome.status == "published", outcome.message
    ws = mesh.workspace()
    try:
        reg = SchemaRegistry(ws.metadata)
        assert reg.get_config("daap.things.things-value") == {"compatibilityLevel": "FORWARD"}
    finally:
        ws.close()


def test_an_unknown_compatibility_level_is_a_positioned_contract_error(mesh):
    declare(mesh)
    _with_contract_property(mesh, "SOMETIMES")
    [outcome] = mesh.build("things")
    assert outcome.status == "failed"
    assert "things.odcs.yaml" in outcome.message
    assert "compatibility must be one of BACKWARD" in outcome.message and "'SOMETIMES'" in outcome.message


def test_a_required_column_is_refused_even_forward_since_old_rows_must_fit_the_events(mesh):
    declare(mesh)
    added = [*COLUMNS, ("stock", "integer", {"required": True})]
    csv = CSV.replace("\n1,", ",stock\n1,", 1).replace(":00\n", ":00,5\n")
    mesh.product("things", added, pk=["id"], inputs={"src": {"path": "d.csv"}}, files={"d.csv": csv})
    _with_contract_property(mesh, "FORWARD")  # the level alone would allow it
    [outcome] = mesh.build("things")
    assert outcome.status == "failed" and isinstance(outcome.error, IncompatibleContract)
    assert "'stock'" in outcome.message and "previous version's rows" in outcome.message


def test_an_event_that_does_not_fit_its_schema_is_a_clear_error():
    from daap.mesh.wire import AvroCodec, EncodingError

    codec = AvroCodec(
        json.dumps({"type": "record", "name": "R", "fields": [{"name": "n", "type": "long"}]}), 7
    )
    assert codec.encode({"n": 3})[:5] == b"\x00\x00\x00\x00\x07"
    with pytest.raises(EncodingError, match="does not fit schema 7") as caught:
        codec.encode({"n": None})
    assert "eventFormat: json" in (caught.value.hint or "")


def test_a_build_whose_schemas_cannot_be_registered_publishes_nothing(mesh):
    from daap.errors import BuildError

    declare(mesh)
    ws = mesh.workspace()
    try:
        ws.registry.set_mode("", "READONLY")
    finally:
        ws.close()
    (mesh.root / "things" / "d.csv").write_text(CSV + "2,b,2.00,2020-01-03,2026-01-02 10:00:00\n")
    [outcome] = mesh.build("things")
    assert outcome.status == "failed" and isinstance(outcome.error, BuildError)
    assert "schemas could not be registered" in outcome.message and "read-only mode" in outcome.message
    ws = mesh.workspace()
    try:
        assert [v.version for v in ws.metadata.list_versions("things")] == [1]
        assert ws.metadata.pending_builds("things") == []  # finished as failed, not left to reconcile
        data = mesh.root / ".daap" / "warehouse" / "things" / "things" / "data"
        assert [d.name for d in data.iterdir()] == [
            ws.version("things").build_id
        ]  # the refused stage is gone
        ws.registry.set_mode("", "READWRITE")
    finally:
        ws.close()
    assert mesh.build("things")[0].version == 2


def test_an_old_row_that_no_longer_fits_the_contract_is_sent_without_its_before_image(mesh):
    from tests.integration.test_publication import envelopes, read_topic

    declare(mesh, csv=CSV.replace("2020-01-02", ""))  # born is null in version 1
    # born becomes required: FORWARD allows it (old readers read it as a union), but the
    # version 1 row, with born null, no longer fits the row record
    required = [*COLUMNS[:3], ("born", "date", {"required": True}), COLUMNS[4]]
    mesh.product("things", required, pk=["id"], inputs={"src": {"path": "d.csv"}}, files={"d.csv": CSV})
    _with_contract_property(mesh, "FORWARD")
    [outcome] = mesh.build("things")
    assert outcome.status == "published", outcome.message
    [update] = [e for e in envelopes(read_topic(mesh, "things")) if e["op"] == "u"]
    assert update["after"]["born"] == "2020-01-02"
    assert update["before"] is None  # a required field cannot be null: no before-image at all
    ws = mesh.workspace()
    try:
        assert ws.metadata.pending_publications("things") == []  # nothing stuck in the outbox
    finally:
        ws.close()


def test_an_old_optional_value_that_no_longer_fits_is_nulled_in_the_before_image():
    from daap.mesh.wire import AvroCodec, Decoder

    row = {
        "type": "record",
        "name": "Value",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "born", "type": ["null", "long"], "default": None},
        ],
    }
    envelope = {
        "type": "record",
        "name": "Envelope",
        "fields": [
            {"name": "before", "type": ["null", row], "default": None},
            {"name": "after", "type": ["null", "Value"], "default": None},
        ],
    }
    text = json.dumps(envelope)
    codec = AvroCodec(text, 3)
    old = {"id": 1, "born": "2020-01-02"}  # born was a date under the previous contract
    value = codec.encode({"before": ("Value", old), "after": ("Value", {"id": 1, "born": 5})})
    decoded = Decoder(lambda _: {"schema": text})(value)
    assert decoded == {"before": {"id": 1, "born": None}, "after": {"id": 1, "born": 5}}
