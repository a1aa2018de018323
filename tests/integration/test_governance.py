"""Governance on real builds: error findings refuse a build before anything is published, warnings
publish and are stored with the version, and ``daap govern check`` reports the mesh."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import Any

import pytest
from click.testing import CliRunner, Result

from daap.cli.main import cli
from daap.errors import GovernanceRefused
from daap.mesh.observe.report import observation

COLUMNS = [
    ("id", "integer", {"description": "the customer's id"}),
    ("contact", "string", {"description": "how to reach them"}),
    ("country", "string", {"description": "ISO 3166 code"}),
]
CSV = "id,contact,country\n1,ann@example.com,NL\n2,bob@example.org,DE\n"
MORE = CSV + "3,cy@example.net,FR\n"
FIX = "add `team: {name: ..., members: [{username: ..., role: owner}]}` to things/dataproduct.yaml"


def declare(mesh, csv=CSV, columns=COLUMNS):
    return mesh.product("things", columns, pk=["id"], inputs={"src": {"path": "d.csv"}}, files={"d.csv": csv})


def drop_team(mesh, product="things"):
    path = mesh.root / product / "dataproduct.yaml"
    descriptor = json.loads(path.read_text())
    descriptor.pop("team")
    path.write_text(json.dumps(descriptor, indent=2))


def write_data(mesh, csv):
    (mesh.root / "things" / "d.csv").write_text(csv)


def mesh_yaml(mesh, text):
    (mesh.root / "mesh.yaml").write_text(text)


def govern(mesh, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-w", str(mesh.root), "govern", "check", *args], catch_exceptions=False)


def state(mesh) -> dict[str, Any]:
    """What consumers and the mesh's stores can see of ``things``."""
    ws = mesh.workspace()
    try:
        data = mesh.root / ".daap" / "warehouse" / "things" / "things" / "data"
        return {
            "versions": [v.version for v in ws.metadata.list_versions("things")],
            "pending": ws.metadata.pending_builds("things"),
            "staged": sorted(d.name for d in data.iterdir()),
            "subjects": {s: ws.registry.versions(s) for s in ws.registry.subjects()},
            "audit": len(list(ws.audit.entries("things"))),
            "outbox": ws.metadata.pending_publications("things"),
            "report": ws.metadata.governance_report("things"),
        }
    finally:
        ws.close()


def test_a_product_without_an_owner_team_is_refused_and_consumers_keep_the_last_version(mesh):
    declare(mesh)
    [first] = mesh.build_ok()
    before = state(mesh)
    assert before["versions"] == [1] and before["report"].version == 1
    drop_team(mesh)
    write_data(mesh, MORE)
    [refused] = mesh.build()
    assert refused.status == "failed"
    assert isinstance(refused.error, GovernanceRefused) and refused.error.exit_code == 11
    assert "not published, 1 governance error; consumers keep the last published version" in refused.message
    assert f"owner-team: product things has no owner team: {FIX}" in refused.message
    assert mesh.query("SELECT id FROM things.things ORDER BY id") == [{"id": 1}, {"id": 2}]
    after = state(mesh)
    assert after == before  # no version, stage, schema, audit entry, outbox entry or report
    assert after["staged"] == [first.build_id]
    ws = mesh.workspace()
    try:
        latest = ws.metadata.builds("things")[0]
        assert (latest.state, latest.build_id != first.build_id) == ("failed", True)
        assert "owner-team" in (latest.message or "")
    finally:
        ws.close()
    # fixed, the same data publishes
    declare(mesh, MORE)
    [published] = mesh.build_ok()
    assert published.version == 2


def test_a_refused_build_exits_11_naming_the_rule_and_the_fix(mesh):
    declare(mesh)
    drop_team(mesh)
    result = CliRunner().invoke(cli, ["-w", str(mesh.root), "build"], catch_exceptions=False)
    assert result.exit_code == 11
    assert "error: things: not published, 1 governance error" in result.stderr
    assert FIX in result.stderr
    assert "`daap govern check` shows every rule for things" in result.stderr
    assert state(mesh)["versions"] == []


def test_a_warning_only_product_publishes_and_its_report_is_stored_and_observed(mesh):
    declare(mesh)
    [outcome] = mesh.build_ok()
    contact = (
        "governance rule personal-data-classified: column things.contact looks like personal data "
        "(2 of 2 sampled values are email addresses) but has no classification: add `classification: pii` "
        "(or restricted) to property contact in things/contracts/things.odcs.yaml"
    )
    assert contact in outcome.warnings
    assert any(w.startswith("governance rule freshness-sla: output port things") for w in outcome.warnings)
    ws = mesh.workspace()
    try:
        record = ws.metadata.governance_report("things", 1)
        assert record is not None
        assert (record.product, record.version, record.errors) == ("things", 1, 0)
        rules = {f["rule"] for f in record.report["findings"]}
        assert rules == {"personal-data-classified", "quality-rule", "freshness-sla", "business-objective",
                         "consumer-personas", "descriptions"}  # fmt: skip
        assert record.warnings == len(record.report["findings"])
        assert record.report["sampled"] == f"the rows of build {outcome.build_id}"
        seen = observation(ws, "things")["governance"]
        assert (seen["version"], seen["errors"], seen["warnings"]) == (1, 0, record.warnings)
        assert seen["checked_at"] == record.checked_at.isoformat()
        [finding] = [f for f in seen["findings"] if f["rule"] == "personal-data-classified"]
        assert (finding["port"], finding["column"], finding["severity"]) == ("things", "contact", "warning")
        assert finding["fix"].startswith("add `classification: pii`")
        assert {"rule": "owner-team", "severity": "error", "passed": True} in seen["rules"]
    finally:
        ws.close()
    # the next version has its own report; the first keeps its
    declare(mesh, MORE, [COLUMNS[0], ("contact", "string", {"classification": "pii"}), COLUMNS[2]])
    assert mesh.build_ok()[0].version == 2
    ws = mesh.workspace()
    try:
        latest = ws.metadata.governance_report("things")
        assert latest is not None and latest.version == 2
        assert "personal-data-classified" not in {f["rule"] for f in latest.report["findings"]}
        first = ws.metadata.governance_report("things", 1)
        assert first is not None and "personal-data-classified" in {
            f["rule"] for f in first.report["findings"]
        }
    finally:
        ws.close()


def test_mesh_yaml_turns_a_warning_into_an_error_and_off_lets_a_rule_go(mesh):
    mesh_yaml(mesh, "governance:\n  rules:\n    personal-data-classified: error\n    owner-team: off\n")
    declare(mesh)
    drop_team(mesh)
    [refused] = mesh.build()
    assert isinstance(refused.error, GovernanceRefused)
    assert "column things.contact looks like personal data" in refused.message
    assert "owner-team" not in refused.message  # off: not even a warning
    declare(mesh, columns=[COLUMNS[0], ("contact", "string", {"classification": "pii"}), COLUMNS[2]])
    drop_team(mesh)
    [published] = mesh.build_ok()
    assert published.status == "published"
    assert not any("owner-team" in w for w in published.warnings)


def test_a_classified_column_without_a_mask_is_reported(mesh):
    declare(mesh, columns=[COLUMNS[0], ("contact", "string", {"classification": "pii"}), COLUMNS[2]])
    (mesh.root / "things" / "access.yaml").write_text("masks:\n  pii: none\n")
    [outcome] = mesh.build_ok()
    [warning] = [w for w in outcome.warnings if "classified-masked" in w]
    assert "column things.contact is classified 'pii' but its mask is none" in warning
    assert "under `masks:` in things/access.yaml" in warning


def test_govern_check_reports_every_product_and_exits_11_only_with_errors(mesh):
    declare(mesh)
    mesh.build_ok()
    mesh.product(
        "later", [("name", "string")], inputs={"src": {"path": "d.csv"}}, files={"d.csv": "name\nx\n"}
    )
    result = govern(mesh)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "things (values sampled from version 1)" in out
    assert "later (not published yet: checked by column names only, no values sampled)" in out
    assert "personal-data-classified (things.contact): column things.contact looks like personal data" in out
    assert "fix: add `classification: pii`" in out
    assert "2 products checked: 0 errors," in out
    drop_team(mesh)
    refused = govern(mesh)
    assert refused.exit_code == 11
    assert "error: owner-team: product things has no owner team" in refused.stdout
    assert f"fix: {FIX}" in refused.stdout
    assert "2 products checked: 1 error," in refused.stdout


def test_govern_check_json_and_a_product_folder_path(mesh):
    declare(mesh)
    mesh.build_ok()
    mesh.product(
        "later", [("name", "string")], inputs={"src": {"path": "d.csv"}}, files={"d.csv": "name\nx\n"}
    )
    drop_team(mesh, "later")
    result = govern(mesh, "--json")
    assert result.exit_code == 11
    reports = {r["product"]: r for r in json.loads(result.stdout)}
    assert reports["things"]["errors"] == 0 and reports["things"]["sampled"] == "version 1"
    assert reports["later"]["errors"] == 1 and reports["later"]["sampled"] is None
    [error] = [f for f in reports["later"]["findings"] if f["severity"] == "error"]
    assert (error["rule"], error["product"], error["port"]) == ("owner-team", "later", None)
    one = govern(mesh, str(mesh.root / "things"), "--json")
    assert one.exit_code == 0
    assert [r["product"] for r in json.loads(one.stdout)] == ["things"]
    # a workspace as PATH, without -w
    whole = CliRunner().invoke(cli, ["govern", "check", str(mesh.root), "--json"], catch_exceptions=False)
    assert sorted(r["product"] for r in json.loads(whole.stdout)) == ["later", "things"]


def test_govern_check_names_a_descriptor_that_does_not_load(mesh):
    declare(mesh)
    (mesh.root / "broken").mkdir()
    (mesh.root / "broken" / "dataproduct.yaml").write_text("apiVersion: v1.1.0\nkind: DataProduct\n")
    result = govern(mesh)
    assert result.exit_code == 3
    assert "the descriptor does not load" in result.stderr


@pytest.mark.slow
def test_a_build_killed_after_its_commit_keeps_its_report_when_rolled_forward(mesh, daap_env):
    declare(mesh)
    mesh.build_ok()
    write_data(mesh, MORE)
    cmd = [sys.executable, "-m", "daap", "-w", str(mesh.root), "build"]
    killed = subprocess.run(
        cmd, env={**daap_env, "DAAP_CRASH_AT": "committed:things"}, capture_output=True, timeout=120
    )
    assert killed.returncode == -signal.SIGKILL
    assert state(mesh)["report"].version == 1
    [outcome] = mesh.build_ok()
    assert any("interrupted after commit: published as version 2" in w for w in outcome.warnings)
    record = state(mesh)["report"]
    assert record.version == 2 and "personal-data-classified" in {
        f["rule"] for f in record.report["findings"]
    }
