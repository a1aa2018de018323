"""Expiring versions: unreadable afterwards, files gone, pinned versions kept."""

from __future__ import annotations

import json

import pytest

from daap.errors import NotFound


def build_versions(mesh, count, retention=None):
    folder = mesh.product(
        "t", [("id", "integer")], inputs={"s": {"path": "d.csv"}}, files={"d.csv": "id\n0\n"}
    )
    if retention:
        descriptor = json.loads((folder / "dataproduct.yaml").read_text())
        descriptor["customProperties"].append({"property": "retention", "value": retention})
        (folder / "dataproduct.yaml").write_text(json.dumps(descriptor))
    outcomes = []
    for n in range(1, count + 1):
        (folder / "d.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(n)))
        outcomes += mesh.build_ok("t")
    return folder, outcomes


def data_dirs(mesh):
    return sorted(p.name for p in (mesh.root / ".daap" / "warehouse" / "t" / "t" / "data").iterdir())


def test_descriptor_policy_expires_on_build(mesh):
    _, outcomes = build_versions(mesh, 4, retention={"keepVersions": 2})
    assert "expired version(s) 1" in " ".join(outcomes[2].warnings)
    assert "expired version(s) 2" in " ".join(outcomes[3].warnings)
    ws = mesh.workspace()
    assert [v.version for v in ws.metadata.list_versions("t")] == [3, 4]
    with pytest.raises(NotFound, match="version 1 of t has expired"):
        ws.version("t", 1)
    ws.close()
    assert len(data_dirs(mesh)) == 2
    assert mesh.query("SELECT count(*) AS n FROM t.t", at=3) == [{"n": 3}]


def test_no_policy_means_every_version_stays_readable(mesh):
    build_versions(mesh, 3)
    assert [mesh.query("SELECT count(*) AS n FROM t.t", at=v)[0]["n"] for v in (1, 2, 3)] == [1, 2, 3]
    assert len(data_dirs(mesh)) == 3


def test_pinned_version_survives_expiry(mesh):
    build_versions(mesh, 3)
    mesh.product(
        "d",
        [("n", "integer")],
        product_type="derived",
        inputs={"x": {"product": "t", "port": "t", "version": 1}},
        transform="SELECT count(*) AS n FROM x",
    )
    from datetime import UTC, datetime

    from daap.mesh.retention import expire
    from daap.spec.model import RetentionPolicy

    ws = mesh.workspace()
    assert expire(ws, "t", RetentionPolicy(keep_versions=1), datetime.now(UTC), dry_run=True) == [2]
    assert [v.version for v in ws.metadata.list_versions("t")] == [1, 2, 3]
    assert expire(ws, "t", RetentionPolicy(keep_versions=1), datetime.now(UTC)) == [2]
    ws.close()
    assert mesh.query("SELECT count(*) AS n FROM t.t", at=1) == [{"n": 1}]
    mesh.build_ok("d")


def test_bad_retention_policy_is_reported(mesh):
    from daap.errors import SpecError
    from daap.spec import load_product

    folder = mesh.product(
        "t", [("id", "integer")], inputs={"s": {"path": "d.csv"}}, files={"d.csv": "id\n0\n"}
    )
    descriptor = json.loads((folder / "dataproduct.yaml").read_text())
    descriptor["customProperties"].append({"property": "retention", "value": {"keepVersion": 0}})
    (folder / "dataproduct.yaml").write_text(json.dumps(descriptor, indent=2))
    with pytest.raises(SpecError, match="unknown field 'keepVersion'; did you mean 'keepVersions'"):
        load_product(folder)
