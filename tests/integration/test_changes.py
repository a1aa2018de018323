"""Change sets of real builds: keyed diffs, the append-only rule, and ``daap diff``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from daap.errors import ContractViolation, NotFound, UsageError
from daap.runtime import cdc, engine

ORDERS = [("order_id", "integer"), ("customer", "string"), ("amount", "number")]
LINES = [("order_id", "integer"), ("line", "integer"), ("sku", "string"), ("qty", "integer")]
EVENTS = [("at", "integer"), ("kind", "string")]


def publish(mesh, name, csv):
    """Write the product's one input file and build a new version."""
    (mesh.root / name / "data" / "in.csv").write_text(csv)
    [outcome] = mesh.build(name)
    return outcome


def declare(mesh, name, columns, csv, pk=()):
    mesh.product(name, columns, pk=pk, inputs={"src": {"path": "data/in.csv"}}, files={"data/in.csv": csv})
    [outcome] = mesh.build_ok(name)
    return outcome


def diff(mesh, product, start=None, end=None, port=None):
    from daap.cli.diff import change_set

    ws = mesh.workspace()
    try:
        return change_set(ws, product, port, start, end)
    finally:
        ws.close()


def keyed(rows, key):
    return {tuple(r[k] for k in key): r for r in rows}


# -- keyed ports -------------------------------------------------------------


def test_inserts_updates_deletes_exactly_with_nulls(mesh):
    csv = "order_id,customer,amount\n1,ann,1.5\n2,,2\n3,cy,\n4,dan,4\n"
    declare(mesh, "orders", ORDERS, csv, ["order_id"])
    # 1 unchanged; 2 NULL->NULL customer, amount changes; 3 NULL->NULL amount only (no change);
    # 4 deleted; 5 inserted with a NULL
    assert publish(mesh, "orders", "order_id,customer,amount\n1,ann,1.5\n2,,2.5\n3,cy,\n5,,5\n").version == 2
    changes = diff(mesh, "orders")
    assert (changes.from_version, changes.to_version, changes.key) == (1, 2, ("order_id",))
    assert (changes.inserted, changes.updated, changes.deleted) == (1, 1, 1)
    assert changes.inserts.to_pylist() == [{"order_id": 5, "customer": None, "amount": 5.0}]
    assert changes.deletes.to_pylist() == [{"order_id": 4, "customer": "dan", "amount": 4.0}]
    assert changes.updates_before.to_pylist() == [{"order_id": 2, "customer": None, "amount": 2.0}]
    assert changes.updates_after.to_pylist() == [{"order_id": 2, "customer": None, "amount": 2.5}]


def test_null_to_value_and_back_are_updates(mesh):
    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,,1\n2,bo,2\n", ["order_id"])
    publish(mesh, "orders", "order_id,customer,amount\n1,al,1\n2,,2\n")
    changes = diff(mesh, "orders")
    before = keyed(changes.updates_before.to_pylist(), ["order_id"])
    after = keyed(changes.updates_after.to_pylist(), ["order_id"])
    assert {k: (before[k]["customer"], after[k]["customer"]) for k in after} == {
        (1,): (None, "al"),
        (2,): ("bo", None),
    }


def test_composite_key(mesh):
    csv = "order_id,line,sku,qty\n1,1,a,1\n1,2,b,2\n2,1,a,3\n"
    declare(mesh, "lines", LINES, csv, ["order_id", "line"])
    publish(mesh, "lines", "order_id,line,sku,qty\n1,1,a,1\n1,2,b,5\n2,2,a,3\n")
    changes = diff(mesh, "lines")
    assert changes.key == ("order_id", "line")
    assert [(r["order_id"], r["line"]) for r in changes.inserts.to_pylist()] == [(2, 2)]
    assert [(r["order_id"], r["line"]) for r in changes.deletes.to_pylist()] == [(2, 1)]
    assert [(r["order_id"], r["line"], r["qty"]) for r in changes.updates_after.to_pylist()] == [(1, 2, 5)]


def test_rebuild_with_unchanged_values_has_no_updates(mesh):
    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,1\n2,,2\n", ["order_id"])
    # same values, different order and formatting: a new version, no row changed
    assert publish(mesh, "orders", "order_id,customer,amount\n2,,2.00\n1,ann,1.0\n").version == 2
    changes = diff(mesh, "orders")
    assert changes.empty


def test_first_version_is_all_inserts(mesh):
    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,1\n2,bob,2\n", ["order_id"])
    changes = diff(mesh, "orders")
    assert (changes.from_version, changes.to_version) == (None, 1)
    assert (changes.inserted, changes.updated, changes.deleted) == (2, 0, 0)


def test_versions_far_apart_compare_the_snapshots_directly(mesh):
    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,1\n2,bob,2\n", ["order_id"])
    publish(mesh, "orders", "order_id,customer,amount\n1,ann,9\n2,bob,2\n3,cy,3\n")
    publish(mesh, "orders", "order_id,customer,amount\n1,ann,1\n3,cy,3\n")  # 1 back to 1, 2 gone
    publish(mesh, "orders", "order_id,customer,amount\n1,ann,1\n3,cy,4\n4,dan,4\n")
    changes = diff(mesh, "orders", 1, 4)
    assert [r["order_id"] for r in changes.inserts.to_pylist()] == [3, 4]
    assert [r["order_id"] for r in changes.deletes.to_pylist()] == [2]
    assert changes.updated == 0  # order 1 changed and changed back
    assert diff(mesh, "orders", 0, 2).inserted == 3
    backwards = diff(mesh, "orders", 4, 1)
    assert (backwards.inserted, backwards.deleted) == (1, 2)


def test_compute_on_relations_adds_a_column_as_null():
    import pyarrow as pa

    con = engine.connect()
    old = engine.Relation(arrow=pa.table({"id": [1, 2]}))
    new = engine.Relation(arrow=pa.table({"id": [1, 2], "note": [None, "x"]}))
    changes = cdc.compute(con, old, new, ["id"])
    assert changes.updates_after.to_pylist() == [{"id": 2, "note": "x"}]
    assert changes.updates_before.to_pylist() == [{"id": 2, "note": None}]


# -- append-only ports (no primary key) --------------------------------------


def test_append_only_accepts_appended_rows_including_duplicates(mesh):
    declare(mesh, "events", EVENTS, "at,kind\n1,a\n2,\n")
    outcome = publish(mesh, "events", "at,kind\n1,a\n2,\n1,a\n3,b\n")
    assert (outcome.status, outcome.version) == ("published", 2)
    changes = diff(mesh, "events")
    assert changes.key == ()
    assert sorted(changes.inserts.to_pylist(), key=lambda r: r["at"]) == [
        {"at": 1, "kind": "a"},
        {"at": 3, "kind": "b"},
    ]
    assert (changes.updated, changes.deleted) == (0, 0)


@pytest.mark.parametrize(
    ("csv", "lost"),
    [
        ("at,kind\n1,a\n2,b\n3,c\n", 1),  # one of the two equal rows deleted
        ("at,kind\n1,a\n2,b\n2,B\n", 1),  # one changed
        ("at,kind\n1,a\n", 2),  # both deleted
    ],
)
def test_append_only_refuses_lost_rows_and_keeps_the_previous_version(mesh, csv, lost):
    declare(mesh, "events", EVENTS, "at,kind\n1,a\n2,b\n2,b\n")
    outcome = publish(mesh, "events", csv)
    assert outcome.status == "failed"
    assert isinstance(outcome.error, ContractViolation)
    assert "events.events" in outcome.message and "append-only" in outcome.message
    assert f"{lost} row(s) of version 1 would disappear" in outcome.message
    assert "at=2" in outcome.message  # a sample
    ws = mesh.workspace()
    try:
        assert [v.version for v in ws.metadata.list_versions("events")] == [1]
    finally:
        ws.close()
    assert mesh.query("SELECT count(*) AS n FROM events.events")[0]["n"] == 3


def test_compute_refuses_lost_rows_without_key():
    import pyarrow as pa

    con = engine.connect()
    old = engine.Relation(arrow=pa.table({"a": [1, None]}))
    new = engine.Relation(arrow=pa.table({"a": [None]}))
    ref = cdc.PortRef("p", "q", 3, None)
    with pytest.raises(ContractViolation, match=r"p\.q.*\n.*1 row\(s\) of version 3 would disappear"):
        cdc.compute(con, old, new, [], ref=ref)
    assert cdc.compute(con, old, new, [], append_only=False).deletes.to_pylist() == [{"a": 1}]


# -- errors --------------------------------------------------------------------


def test_unknown_product_version_and_port(mesh):
    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,1\n", ["order_id"])
    with pytest.raises(NotFound, match="no published version"):
        diff(mesh, "nope")
    with pytest.raises(NotFound, match="no version 7"):
        diff(mesh, "orders", None, 7)
    with pytest.raises(NotFound, match="no version 5"):
        diff(mesh, "orders", 5, 1)
    with pytest.raises(NotFound, match="no output port 'x'"):
        diff(mesh, "orders", port="x")


def test_cli_names_the_ports_when_there_are_several():
    from daap.cli.diff import _port

    with pytest.raises(UsageError, match="2 output ports"):
        _port("p", None, ["a", "b"])


# -- the CLI -------------------------------------------------------------------


def daap(mesh, env, *args):
    return subprocess.run(
        [sys.executable, "-m", "daap", "-w", str(mesh.root), "diff", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def history(mesh):
    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,1.5\n2,bob,2\n3,cy,3\n", ["order_id"])
    publish(mesh, "orders", "order_id,customer,amount\n1,ann,1.5\n2,bo[b],2.5\n4,dan,\n")
    return mesh


def test_cli_human_output(history, daap_env):
    done = daap(history, daap_env, "orders")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "orders.orders: version 1 -> 2, key (order_id)"
    assert lines[1] == "1 inserted, 1 updated, 1 deleted"
    assert "  order_id=2: customer: 'bob' -> 'bo[b]'; amount: 2.0 -> 2.5" in lines
    assert "dan" in done.stdout and "cy" in done.stdout


def test_cli_json_output(history, daap_env):
    done = daap(history, daap_env, "orders", "--from", "0", "--to", "2", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["from"], doc["to"], doc["key"]) == (0, 2, ["order_id"])
    assert doc["counts"] == {"inserts": 3, "updates": 0, "deletes": 0}
    assert [r["order_id"] for r in doc["inserts"]] == [1, 2, 4]
    done = daap(history, daap_env, "orders", "--json")
    doc = json.loads(done.stdout)
    assert doc["updates"] == [
        {
            "before": {"order_id": 2, "customer": "bob", "amount": 2.0},
            "after": {"order_id": 2, "customer": "bo[b]", "amount": 2.5},
        }
    ]
    assert doc["deletes"] == [{"order_id": 3, "customer": "cy", "amount": 3.0}]
    assert doc["inserts"] == [{"order_id": 4, "customer": "dan", "amount": None}]


def test_cli_limit(history, daap_env):
    done = daap(history, daap_env, "orders", "--from", "0", "--limit", "1")
    assert done.returncode == 0, done.stderr
    assert "inserted (3, first 1 shown):" in done.stdout
    doc = json.loads(daap(history, daap_env, "orders", "--from", "0", "--limit", "2", "--json").stdout)
    assert len(doc["inserts"]) == 2 and doc["counts"]["inserts"] == 3


def test_cli_errors(history, daap_env):
    unknown = daap(history, daap_env, "nope")
    assert unknown.returncode == NotFound.exit_code == 7
    assert "error:" in unknown.stderr and "'nope'" in unknown.stderr
    assert daap(history, daap_env, "orders", "--to", "9").returncode == 7
    assert daap(history, daap_env, "orders", "--port", "x").returncode == 7
    assert daap(history, daap_env, "orders", "--to", "0").returncode == 2  # click: out of range
