"""Every bad input stops the build with a clear message and leaves the published version intact."""

from __future__ import annotations

import pytest

from daap.errors import (
    ContractViolation,
    DependencyCycleError,
    IncompatibleContract,
    InputError,
    SpecError,
    StorageError,
    TransformError,
)

COLUMNS = [("id", "integer"), ("name", "string", {"required": True}), ("score", "integer")]
GOOD = "id,name,score\n1,a,10\n2,b,20\n"


@pytest.fixture
def published(mesh):
    """A raw product with version 1 published; tests then break it."""
    mesh.product("things", COLUMNS, pk=["id"], inputs={"src": {"path": "data.csv"}}, files={"data.csv": GOOD})
    mesh.build_ok()
    return mesh


def rebuild_fails(mesh, error_type):
    [outcome] = mesh.build("things")
    assert outcome.status == "failed", outcome
    assert isinstance(outcome.error, error_type), outcome.message
    # the previous version is intact and still the one consumers read
    rows = mesh.query("SELECT id, name, score FROM things.things ORDER BY id")
    assert rows == [{"id": 1, "name": "a", "score": 10}, {"id": 2, "name": "b", "score": 20}]
    ws = mesh.workspace()
    assert ws.version("things").version == 1
    ws.close()
    return outcome.message


def write(mesh, name, text):
    (mesh.root / "things" / name).write_text(text)


def test_csv_cell_that_does_not_parse_names_row_and_column(published):
    write(published, "data.csv", "id,name,score\n1,a,10\n2,b,twenty\n")
    message = rebuild_fails(published, InputError)
    assert "data.csv:3" in message and '"score"' in message and "twenty" in message


def test_contract_column_absent_from_data(published):
    write(published, "data.csv", "id,name\n1,a\n")
    message = rebuild_fails(published, ContractViolation)
    assert "'score'" in message and "absent from the data" in message


def test_duplicate_primary_key_names_sample_keys(published):
    write(published, "data.csv", GOOD + "2,c,30\n")
    message = rebuild_fails(published, ContractViolation)
    assert "primary key has duplicate values" in message and "id=2 (x2)" in message


def test_required_column_with_nulls(published):
    write(published, "data.csv", "id,name,score\n1,,10\n2,b,20\n")
    message = rebuild_fails(published, ContractViolation)
    assert "'name'" in message and "required but 1 row(s) are null" in message and "id=1" in message


def test_missing_input_file(published):
    (published.root / "things" / "data.csv").unlink()
    message = rebuild_fails(published, InputError)
    assert "no file matches 'data.csv'" in message


def test_lossy_cast_is_refused(published):
    published.product(
        "things",
        COLUMNS,
        pk=["id"],
        product_type="raw",
        transform="SELECT id, name, score + 0.5 AS score FROM src",
        inputs={"src": {"path": "data.csv"}},
    )
    message = rebuild_fails(published, ContractViolation)
    assert "'score'" in message and "2 value(s) are not valid BIGINT" in message and "id=1: 10.5" in message


def test_sql_syntax_error_has_file_line_and_column(published):
    published.product(
        "things",
        COLUMNS,
        pk=["id"],
        transform="SELECT id, name, score\nFROM src\nWHER id > 0",
        inputs={"src": {"path": "data.csv"}},
    )
    message = rebuild_fails(published, TransformError)
    assert "transform.sql:3:" in message and "syntax error" in message


def test_sql_unknown_column_points_at_it(published):
    published.product(
        "things",
        COLUMNS,
        pk=["id"],
        transform="SELECT id, name,\n       scroe AS score\nFROM src",
        inputs={"src": {"path": "data.csv"}},
    )
    message = rebuild_fails(published, TransformError)
    assert "transform.sql:2:8" in message and "scroe" in message


def test_python_transformation_exception_names_the_line(published):
    published.product(
        "things",
        COLUMNS,
        pk=["id"],
        product_type="raw",
        transform="import pyarrow\ndef transform(inputs):\n    return inputs['missing']\n",
        inputs={"src": {"path": "data.csv"}},
    )
    message = rebuild_fails(published, TransformError)
    assert "transform.py:3" in message and "KeyError" in message


def test_malformed_descriptor_is_reported_with_position(published):
    write(published, "dataproduct.yaml", "apiVersion: v1.1.0\nkind: [unclosed\n")
    message = rebuild_fails(published, SpecError)
    assert "dataproduct.yaml:" in message


def test_dependency_cycle_is_named(mesh):
    mesh.product(
        "a", [("n", "integer")], product_type="derived", inputs={"b": "b.b"}, transform="SELECT 1 AS n"
    )
    mesh.product(
        "b", [("n", "integer")], product_type="derived", inputs={"a": "a.a"}, transform="SELECT 1 AS n"
    )
    outcomes = {o.product: o for o in mesh.build()}
    assert {o.status for o in outcomes.values()} == {"failed"}
    assert isinstance(outcomes["a"].error, DependencyCycleError)
    assert "a -> b -> a" in outcomes["a"].message


def test_malformed_ndjson_names_file_and_line(mesh):
    good = '{"id": 1, "name": "a", "score": 1}\n'
    mesh.product(
        "things", COLUMNS, pk=["id"], inputs={"src": {"path": "d/*.ndjson"}}, files={"d/1.ndjson": good}
    )
    mesh.build_ok()
    broken = good + '{"id": 2, "name": }\n' + good.replace("1", "3")
    (mesh.root / "things" / "d" / "2.ndjson").write_text(broken)
    [outcome] = mesh.build()
    assert isinstance(outcome.error, InputError)
    assert "input port things.src" in outcome.message and "2.ndjson" in outcome.message
    assert "2.ndjson:2: malformed JSON at byte 19" in outcome.message and "LINE 1" not in outcome.message
    assert mesh.query("SELECT count(*) AS n FROM things.things") == [{"n": 1}]


def test_incompatible_type_change_is_refused_and_old_versions_stay(published):
    published.product(
        "things",
        [("id", "string"), ("name", "string"), ("score", "integer")],
        pk=["id"],
        inputs={"src": {"path": "data.csv"}},
    )
    # the registry refuses it first: consumers of daap.things.things-value read ids as numbers
    message = rebuild_fails(published, IncompatibleContract)
    assert "TYPE_MISMATCH at /fields/0/type: field 'id'" in message and "BACKWARD" in message
    # with the subject's level at NONE the table itself still cannot change the column's type
    from daap.mesh.registry.service import SchemaRegistry

    ws = published.workspace()
    try:
        SchemaRegistry(ws.metadata).set_config("daap.things.things-value", "NONE")
        SchemaRegistry(ws.metadata).set_config("daap.things.things-key", "NONE")
    finally:
        ws.close()
    message = rebuild_fails(published, StorageError)
    assert "cannot evolve" in message and "id" in message and "earlier versions stay readable" in message
