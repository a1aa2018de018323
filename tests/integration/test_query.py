"""The query path: ports at versions and times, refusals, engine lock-down."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from daap.errors import NotFound, QueryError, QueryRefused


@pytest.fixture
def two_versions(mesh):
    mesh.product(
        "t", [("id", "integer")], pk=["id"], inputs={"s": {"path": "d.csv"}}, files={"d.csv": "id\n1\n"}
    )
    mesh.build_ok()
    time.sleep(0.05)
    between = datetime.now(UTC)
    time.sleep(0.05)
    (mesh.root / "t" / "d.csv").write_text("id\n1\n2\n")
    mesh.build_ok()
    return mesh, between


def test_time_travel_by_version_and_timestamp(two_versions):
    mesh, between = two_versions
    count = "SELECT count(*) AS n FROM t.t"
    assert mesh.query(count) == [{"n": 2}]
    assert mesh.query(count, at=1) == [{"n": 1}]
    assert mesh.query(count, at=between) == [{"n": 1}]
    assert mesh.query(count, at={"t": between}) == [{"n": 1}]


def test_unknown_version_product_and_port(two_versions):
    mesh, _ = two_versions
    with pytest.raises(NotFound, match=r"t has no version 9 \(versions: 1\.\.2\)"):
        mesh.query("SELECT * FROM t.t", at=9)
    with pytest.raises(NotFound, match=r"'nope' has no published version \(published products: t\)"):
        mesh.query("SELECT * FROM nope.t")
    with pytest.raises(NotFound, match=r"no output port 'x' \(ports: t\)"):
        mesh.query("SELECT * FROM t.x")
    with pytest.raises(NotFound, match="had no published version at 2000"):
        mesh.query("SELECT * FROM t.t", at=datetime(2000, 1, 1, tzinfo=UTC))


def test_writes_and_file_access_are_refused(two_versions):
    mesh, _ = two_versions
    with pytest.raises(QueryRefused):
        mesh.query("DELETE FROM t.t")
    with pytest.raises(QueryRefused):
        mesh.query("SELECT * FROM read_csv('/etc/passwd')")
    assert mesh.query("SELECT count(*) AS n FROM t.t") == [{"n": 2}]


def test_engine_errors_are_query_errors(two_versions):
    mesh, _ = two_versions
    with pytest.raises(QueryError, match="nope") as info:
        mesh.query("SELECT nope FROM t.t")
    assert not str(info.value).startswith("Binder Error")


def test_engine_cannot_read_outside_the_warehouse_even_past_the_guard(two_versions):
    mesh, _ = two_versions
    from daap.query.engine import QueryEngine

    ws = mesh.workspace()
    con = QueryEngine(ws)._connect([])
    with pytest.raises(Exception, match="disabled by configuration"):
        con.execute("SELECT * FROM read_csv('/etc/passwd')").fetchall()
    with pytest.raises(Exception, match="configuration"):
        con.execute("SET enable_external_access = true")
    con.close()
    ws.close()


def test_three_part_names_in_the_daap_catalog(two_versions):
    mesh, _ = two_versions
    assert mesh.query("SELECT count(*) AS n FROM daap.t.t") == [{"n": 2}]
