"""The quality gate: error rules quarantine a build, consumers keep the last good version."""

from __future__ import annotations

import json
import subprocess
import sys

from daap.mesh.observe import report

PLAYS = [
    ("play_id", "integer"),
    ("title", "string"),
    ("seconds", "integer"),
]
GOOD = "play_id,title,seconds\n1,a,10\n2,b,20\n3,a,30\n"
BAD = "play_id,title,seconds\n1,a,10\n2,b,-20\n3,a,30\n4,c,-1\n"


def rules(mesh, quality, relationships=None, schema_quality=None):
    """Add quality rules to the plays contract: ``quality`` on seconds, ``schema_quality`` on the object."""
    path = mesh.root / "plays" / "contracts" / "plays.odcs.yaml"
    doc = json.loads(path.read_text())
    obj = doc["schema"][0]
    seconds = next(p for p in obj["properties"] if p["name"] == "seconds")
    seconds["quality"] = quality
    if relationships:
        title = next(p for p in obj["properties"] if p["name"] == "title")
        title["relationships"] = relationships
    if schema_quality:
        obj["quality"] = schema_quality
    path.write_text(json.dumps(doc))


NO_NEGATIVE = [
    {
        "name": "no_negative",
        "type": "sql",
        "query": "SELECT count(*) FROM {object} WHERE {property} < 0",
        "mustBe": 0,
        "dimension": "accuracy",
    }
]


def plays(mesh, csv=GOOD, quality=NO_NEGATIVE, **kw):
    mesh.product("plays", PLAYS, pk=["play_id"], inputs={"src": {"path": "d.csv"}}, files={"d.csv": csv})
    rules(mesh, quality, **kw)


def test_a_failing_error_rule_quarantines_the_build_and_consumers_keep_the_last_version(mesh):
    plays(mesh)
    [first] = mesh.build_ok()
    (mesh.root / "plays" / "d.csv").write_text(BAD)

    [held] = mesh.build()

    assert held.status == "quarantined" and held.version is None
    assert "rule 'no_negative' (error, accuracy)" in held.message and "2" in held.message
    assert held.error is not None and held.error.exit_code == 9
    assert mesh.query("SELECT count(*) AS n FROM plays.plays") == [{"n": 3}]  # version 1, still
    ws = mesh.workspace()
    try:
        assert [v.version for v in ws.metadata.list_versions("plays")] == [first.version]
        entry = ws.metadata.quarantined("plays")
        assert entry is not None and entry.build_id == held.build_id
        files = entry.ports["plays"]["files"]
        assert files and all(__import__("pathlib").Path(f).is_file() for f in files)  # kept to inspect
        assert ws.metadata.registry_versions("daap.plays.plays-value")[-1].version == 1  # nothing registered
        [latest, *_] = ws.metadata.quality_runs("plays")
        assert latest.run_id == held.build_id and latest.version is None and not latest.passed
        [outcome] = latest.outcomes
        assert (outcome.rule, outcome.passed, outcome.detail["value"]) == ("no_negative", False, 2)
    finally:
        ws.close()


def test_the_same_bad_inputs_stay_quarantined_without_rebuilding_and_a_fix_publishes(mesh):
    plays(mesh)
    mesh.build_ok()
    (mesh.root / "plays" / "d.csv").write_text(BAD)
    [held] = mesh.build()
    [again] = mesh.build()
    assert again.status == "quarantined" and again.build_id == held.build_id  # no new build
    (mesh.root / "plays" / "d.csv").write_text(BAD.replace("-20", "20").replace("-1", "1"))
    [fixed] = mesh.build_ok()
    assert fixed.status == "published" and fixed.version == 2
    ws = mesh.workspace()
    try:
        assert ws.metadata.quarantined("plays") is None  # released, its files removed
        data = mesh.root / ".daap" / "warehouse" / "plays" / "plays" / "data"
        assert not (data / held.build_id).exists()
    finally:
        ws.close()


def test_a_warning_rule_publishes_and_reports(mesh):
    warning = [{**NO_NEGATIVE[0], "severity": "warning"}]
    plays(mesh, csv=BAD, quality=warning)
    [outcome] = mesh.build_ok()
    assert outcome.status == "published"
    assert any("rule 'no_negative' (warning, accuracy)" in w for w in outcome.warnings)


def test_library_metrics_and_samples_name_the_offending_keys(mesh):
    quality = [
        {"metric": "invalidValues", "arguments": {"validValues": [10, 20, 30]}, "mustBe": 0},
        {"metric": "nullValues", "mustBeLessThan": 50, "unit": "percent", "severity": "warning"},
    ]
    plays(mesh, csv=BAD, quality=quality, schema_quality=[{"metric": "rowCount", "mustBeGreaterThan": 2}])
    [outcome] = mesh.build()
    assert outcome.status == "quarantined"
    assert "seconds.invalidValues" in outcome.message and "play_id=2" in outcome.message
    assert "rowCount" not in outcome.message  # it passed


def test_a_relationship_to_another_product_is_checked(mesh):
    mesh.product("titles", [("title", "string")], pk=["title"], inputs={"s": {"path": "t.csv"}},
                 files={"t.csv": "title\na\nb\n"})  # fmt: skip
    plays(mesh, csv=BAD, quality=[], relationships=[{"type": "foreignKey", "to": "titles.titles.title"}])
    outcomes = {o.product: o for o in mesh.build()}  # titles is built first: plays checks against it
    assert outcomes["titles"].status == "published"
    assert outcomes["plays"].status == "quarantined"  # play 4 has title c, which titles lacks
    assert "title.references" in outcomes["plays"].message and "play_id=4" in outcomes["plays"].message


def test_check_runs_the_rules_on_the_current_version_and_status_shows_the_mesh(mesh, daap_env):
    plays(mesh)
    mesh.build_ok()
    (mesh.root / "plays" / "d.csv").write_text(BAD)
    mesh.build()

    def daap(*args):
        cmd = [sys.executable, "-m", "daap", "-w", str(mesh.root), *args]
        return subprocess.run(
            cmd, env={**daap_env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=60
        )

    checked = daap("check", "plays", "--json")
    assert checked.returncode == 0, checked.stderr  # version 1 passes
    seen = json.loads(checked.stdout)
    assert seen["version"] == 1 and seen["latest"]["kind"] == "check" and seen["latest"]["passed"]
    assert seen["quarantined"]["reasons"][0].startswith("rule 'no_negative'")
    assert [h["kind"] for h in seen["history"]] == ["check", "build", "build"]
    quality = next(s for s in seen["slos"] if s["objective"] == "quality")
    assert (quality["observations"], quality["passed"], quality["status"]) == (3, 2, "breached")
    status = daap("status", "--json")
    assert status.returncode == 0, status.stderr
    [row] = json.loads(status.stdout)
    assert (row["product"], row["version"], row["quality"]) == ("plays", 1, "quarantined")
    human = daap("status")
    assert "quarantined" in human.stdout and "plays" in human.stdout


def test_validate_reports_bad_rules_before_any_build(mesh, daap_env):
    broken = {"type": "sql", "query": "SELECT count(*) FROM {object} WHERE nope < 0", "mustBe": 0}
    plays(mesh, quality=[broken], relationships=[{"type": "foreignKey", "to": "ghosts.ghosts.id"}])
    cmd = [sys.executable, "-m", "daap", "-w", str(mesh.root), "validate"]
    done = subprocess.run(cmd, env=daap_env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert "no product 'ghosts' in the workspace" in done.stdout
    assert "quality rule 'seconds.sql_1'" in done.stdout and "nope" in done.stdout


def test_observation_history_and_monitors(mesh):
    plays(mesh)
    for n in range(4, 9):  # a steady history of growing versions
        rows = "".join(f"{i},a,{i}\n" for i in range(1, n))
        (mesh.root / "plays" / "d.csv").write_text("play_id,title,seconds\n" + rows)
        mesh.build_ok()
    (mesh.root / "plays" / "d.csv").write_text(
        "play_id,title,seconds\n" + "".join(f"{i},a,{i}\n" for i in range(1, 400))
    )
    mesh.build_ok()
    ws = mesh.workspace()
    try:
        seen = report.observation(ws, "plays")
    finally:
        ws.close()
    volume = next(m for m in seen["monitors"] if m["monitor"] == "volume")
    assert volume["status"] == "warn" and volume["value"] == 399
    assert len(seen["history"]) == 6 and all(h["passed"] for h in seen["history"])


def test_the_observation_port_and_metrics_say_why_and_quarantined_rows_are_readable(mesh, daap_env):
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from daap.cli.up import http_app
    from daap.query.service import QueryService
    from fixtures.http import serve_app

    plays(mesh)
    mesh.build_ok()
    (mesh.root / "plays" / "d.csv").write_text(BAD)
    mesh.build()
    ws = mesh.workspace()
    try:
        with serve_app(http_app(QueryService(ws))) as base:
            seen = httpx.get(f"{base}/api/products/plays/observation", params={"history": 1}).json()
            missing = httpx.get(f"{base}/api/products/nope/observation")
            bad_history = httpx.get(f"{base}/api/products/plays/observation", params={"history": 0})
            text = httpx.get(f"{base}/metrics").text
    finally:
        ws.close()
    assert seen["version"] == 1 and seen["quarantined"]["rows"] == {"plays": 4}
    [rule] = seen["latest"]["ports"]["plays"]["rules"]
    assert (rule["rule"], rule["passed"], rule["value"], rule["threshold"]) == ("no_negative", False, 2, 0)
    assert len(seen["history"]) == 1 and seen["latest"]["ports"]["plays"]["rows"] == 4
    assert missing.status_code == 404 and "no product 'nope'" in missing.text
    assert bad_history.status_code == 422
    families = {f.name: f for f in text_string_to_metric_families(text)}
    [quarantined] = families["daap_quarantined"].samples
    assert quarantined.labels == {"product": "plays"} and quarantined.value == 1
    [passed] = families["daap_quality_rule_passed"].samples
    assert passed.labels["rule"] == "no_negative" and passed.value == 0
    statuses = {s.labels["status"]: s.value for s in families["daap_slo_status"].samples
                if s.labels["objective"] == "quality"}  # fmt: skip
    assert statuses == {"met": 0, "at_risk": 0, "breached": 1, "no_data": 0}
    cmd = [sys.executable, "-m", "daap", "-w", str(mesh.root), "query", "--format", "csv"]
    negative = "SELECT play_id FROM plays.plays WHERE seconds < 0 ORDER BY 1"
    held = subprocess.run(
        [*cmd, "--quarantined", negative], env=daap_env, capture_output=True, text=True, timeout=60
    )
    assert held.returncode == 0, held.stderr
    assert held.stdout.splitlines() == ["play_id", "2", "4"]
    live = subprocess.run([*cmd, "SELECT count(*) AS n FROM plays.plays WHERE seconds < 0"],
                          env=daap_env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert live.stdout.splitlines() == ["n", "0"]
