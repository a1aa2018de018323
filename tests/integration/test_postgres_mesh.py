"""The distributed setup: mesh.yaml `metadata: postgresql://…` moves metadata and the Iceberg catalog."""

from __future__ import annotations

import psycopg
import pytest

from fixtures.workspace import Mesh

pytestmark = pytest.mark.postgres


def test_build_and_time_travel_with_postgresql_metadata_and_catalog(tmp_path, postgres_url):
    mesh = Mesh(tmp_path, metadata=postgres_url)
    mesh.product(
        "t",
        [("id", "integer"), ("v", "string")],
        pk=["id"],
        inputs={"s": {"path": "d.csv"}},
        files={"d.csv": "id,v\n1,a\n"},
    )
    mesh.build_ok()
    (tmp_path / "t" / "d.csv").write_text("id,v\n1,a\n2,b\n")
    mesh.build_ok()
    assert mesh.query("SELECT count(*) AS n FROM t.t") == [{"n": 2}]
    assert mesh.query("SELECT count(*) AS n FROM t.t", at=1) == [{"n": 1}]
    with psycopg.connect(postgres_url) as con:
        versions = con.execute(
            "SELECT version FROM daap_product_versions WHERE product = 't' ORDER BY 1"
        ).fetchall()
        tables = con.execute("SELECT table_namespace, table_name FROM iceberg_tables").fetchall()
    assert versions == [(1,), (2,)]
    assert tables == [("t", "t")]
    assert not (tmp_path / ".daap" / "metadata.db").exists()
    assert not (tmp_path / ".daap" / "catalog.db").exists()
