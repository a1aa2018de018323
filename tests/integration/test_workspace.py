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
