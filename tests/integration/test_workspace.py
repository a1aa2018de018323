"""Workspace mechanics: the build lock and reading snapshots whose files carry deletes."""

from __future__ import annotations

from daap.errors import BuildError
from daap.runtime.storage import FilePlan


def test_a_held_lock_fails_the_build_clearly_and_publishes_nothing(mesh):
    mesh.product("t", [("id", "integer")], inputs={"s": {"path": "d.csv"}}, files={"d.csv": "id\n1\n"})
    ws = mesh.workspace()
    with ws.lock("t"):
        [outcome] = mesh.build()
    ws.close()
    assert outcome.status == "failed" and isinstance(outcome.error, BuildError)
    assert "another build of t is running" in outcome.message
    [again] = mesh.build_ok()
    assert again.version == 1


def test_snapshot_with_delete_files_is_read_through_arrow(mesh):
    mesh.product("t", [("id", "integer")], inputs={"s": {"path": "d.csv"}}, files={"d.csv": "id\n1\n2\n"})
    mesh.build_ok()
    ws = mesh.workspace()
    state = ws.version("t").ports["t"]
    snapshot = state.snapshot_ids[-1]
    real = ws.tables.plan(state.table, snapshot)
    # Pretend row-level deletes apply: the files alone are then not the content.
    ws.plans.put(state.table, snapshot, FilePlan(real.paths, has_deletes=True))
    relation = ws.relation(state)
    ws.close()
    assert relation.sql is None and relation.arrow is not None
    assert sorted(relation.arrow.column("id").to_pylist()) == [1, 2]
    assert mesh.query("SELECT sum(id) AS s FROM t.t") == [{"s": 3}]


def test_a_product_is_found_by_name_and_a_folder_that_does_not_load_is_named(mesh):
    import pytest as _pytest

    from daap.errors import NotFound
    from daap.mesh.workspace import SpecCache

    mesh.product("orders", [("id", "integer")], inputs={"s": {"path": "d.csv"}}, files={"d.csv": "id\n1\n"})
    ws = mesh.workspace()
    try:
        specs = SpecCache(ws)
        assert specs.find("orders").name == "orders"
        (mesh.root / "orders").rename(mesh.root / "moved")  # a moved folder is found again
        assert specs.find("orders").folder == mesh.root / "moved"
        (mesh.root / "broken").mkdir()
        (mesh.root / "broken" / "dataproduct.yaml").write_text("kind: [")
        with _pytest.raises(NotFound) as caught:
            specs.find("nope")
        assert caught.value.message == "no product 'nope' in the workspace"
        assert caught.value.hint == (
            "products: orders; these folders' descriptors do not load (`daap validate` says why): broken"
        )
    finally:
        ws.close()
