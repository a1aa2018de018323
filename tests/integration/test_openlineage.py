"""OpenLineage run events: every build that reaches the quality gate reports its run and quality.

Each event written is rebuilt with openlineage-python's own classes (an unknown
field or facet fails) and serialised back by its ``Serde``: what daap wrote
must be exactly what the client library would write.
"""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from dateutil import parser as dates
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent
from openlineage.client.generated.base import EventType
from openlineage.client.generated.data_quality_assertions_dataset import (
    Assertion,
    DataQualityAssertionsDatasetFacet,
)
from openlineage.client.generated.data_quality_metrics_dataset import (
    ColumnMetrics,
    DataQualityMetricsDatasetFacet,
)
from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet
from openlineage.client.generated.error_message_run import ErrorMessageRunFacet
from openlineage.client.generated.schema_dataset import SchemaDatasetFacet, SchemaDatasetFacetFields
from openlineage.client.generated.test_run import TestExecution as Execution
from openlineage.client.generated.test_run import TestRunFacet as RunTestsFacet
from openlineage.client.serde import Serde

from daap.errors import SpecError
from daap.mesh.observe import lineage, quality

EVENTS = Path(".daap") / "openlineage" / "events.ndjson"
GOOD = "play_id,title,seconds\n1,a,10\n2,b,20\n3,a,30\n"
BAD = "play_id,title,seconds\n1,a,10\n2,b,-20\n3,a,30\n4,c,-1\n"
NO_NEGATIVE = {
    "name": "no_negative",
    "type": "sql",
    "query": "SELECT count(*) FROM {object} WHERE {property} < 0",
    "mustBe": 0,
    "dimension": "accuracy",
}


def plays(mesh, quality=(NO_NEGATIVE,)):
    """The product ``plays`` with ``quality`` rules on its ``seconds`` column (as in test_quality_gate)."""
    columns = [
        ("play_id", "integer"),
        ("title", "string"),
        ("seconds", "integer", {"quality": list(quality)}),
    ]
    mesh.product("plays", columns, pk=["play_id"], inputs={"src": {"path": "d.csv"}}, files={"d.csv": GOOD})


def _schema_field(data: dict[str, Any]) -> SchemaDatasetFacetFields:
    nested = [_schema_field(f) for f in data.get("fields", [])]
    return SchemaDatasetFacetFields(**{**data, "fields": nested})


#: facet key -> its class, and how to build it from the JSON fields (nested objects become classes)
FACETS: dict[str, tuple[type, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "schema": (SchemaDatasetFacet, lambda d: {"fields": [_schema_field(f) for f in d["fields"]]}),
    "dataQualityMetrics": (
        DataQualityMetricsDatasetFacet,
        lambda d: {**d, "columnMetrics": {c: ColumnMetrics(**m) for c, m in d["columnMetrics"].items()}},
    ),
    "dataQualityAssertions": (
        DataQualityAssertionsDatasetFacet,
        lambda d: {"assertions": [Assertion(**a) for a in d["assertions"]]},
    ),
    "version": (DatasetVersionDatasetFacet, dict),
    "errorMessage": (ErrorMessageRunFacet, dict),
    "test": (RunTestsFacet, lambda d: {"tests": [Execution(**t) for t in d["tests"]]}),
}


def facet(key: str, data: dict[str, Any]) -> Any:
    cls, build = FACETS[key]
    assert data["_schemaURL"] == cls._get_schema(), key
    assert data["_producer"] == lineage.PRODUCER
    fields = {k: v for k, v in data.items() if not k.startswith("_")}
    return cls(**build(fields), producer=data["_producer"])


def facets(data: dict[str, Any]) -> dict[str, Any]:
    return {key: facet(key, value) for key, value in data.get("facets", {}).items()}


def parse(data: dict[str, Any]) -> RunEvent:
    """The event as openlineage-python's RunEvent; it must serialise back to exactly ``data``."""
    event = RunEvent(
        eventType=EventType(data["eventType"]),
        eventTime=data["eventTime"],
        producer=data["producer"],
        run=Run(runId=data["run"]["runId"], facets=facets(data["run"])),
        job=Job(namespace=data["job"]["namespace"], name=data["job"]["name"], facets=facets(data["job"])),
        inputs=[InputDataset(d["namespace"], d["name"], facets=facets(d)) for d in data["inputs"]],
        outputs=[OutputDataset(d["namespace"], d["name"], facets=facets(d)) for d in data["outputs"]],
    )
    assert data["schemaURL"] == RunEvent._get_schema()
    assert _dense(Serde.to_dict(event)) == _dense(data)
    return event


def _dense(value: Any) -> Any:
    """Without empty lists, mappings and nulls: the client's classes default absent fields to those."""
    if isinstance(value, dict):
        kept = {k: _dense(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_dense(v) for v in value]
    return value


def read_events(path: Path) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in path.read_text().splitlines()]
    for event in events:
        parse(event)
    return events


def output(event: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [o for o in event["outputs"] if o["name"] == name]
    return found


def test_a_published_and_a_quarantined_build_emit_complete_and_fail_with_their_quality(mesh):
    (mesh.root / "mesh.yaml").write_text("name: media\n")
    warning = {"metric": "nullValues", "mustBe": 0, "severity": "warning", "description": "no gaps"}
    plays(mesh, quality=[NO_NEGATIVE, warning])
    [published] = mesh.build_ok()
    (mesh.root / "plays" / "d.csv").write_text(BAD.replace("4,c,-1", "4,c,"))  # a null, a negative
    [held] = mesh.build()
    assert held.status == "quarantined"

    events = read_events(mesh.root / EVENTS)

    assert [e["eventType"] for e in events] == ["START", "COMPLETE", "START", "FAIL"]
    runs = [published.build_id, published.build_id, held.build_id, held.build_id]
    assert [e["run"]["runId"] for e in events] == [lineage.run_id(b) for b in runs]
    assert uuid.UUID(events[0]["run"]["runId"]).version == 5 and events[0]["run"] != events[2]["run"]
    assert lineage.run_id(held.build_id) == str(uuid.uuid5(lineage.RUN_NAMESPACE, held.build_id))
    for event in events:
        assert (event["job"]["namespace"], event["job"]["name"]) == ("media", "plays")
        assert [(o["namespace"], o["name"]) for o in event["outputs"]] == [("daap://media", "plays.plays")]
        assert dates.isoparse(event["eventTime"]).utcoffset() == timedelta(0)
    _, complete, _, fail = events
    fields = output(complete, "plays.plays")["facets"]["schema"]["fields"]
    assert [(f["name"], f["type"]) for f in fields] == [
        ("play_id", "BIGINT"),
        ("title", "VARCHAR"),
        ("seconds", "BIGINT"),
    ]
    assert output(complete, "plays.plays")["facets"]["version"]["datasetVersion"] == str(published.version)
    assert "version" not in output(fail, "plays.plays")["facets"]  # nothing was published

    ws = mesh.workspace()
    try:
        recorded = {run.run_id: run for run in ws.metadata.quality_runs("plays")}
    finally:
        ws.close()
    for event, build_id in ((complete, published.build_id), (fail, held.build_id)):
        [profile] = recorded[build_id].profiles
        metrics = output(event, "plays.plays")["facets"]["dataQualityMetrics"]
        assert metrics["rowCount"] == profile.rows
        assert metrics["columnMetrics"] == {
            column: {"nullCount": seen["nulls"], "distinctCount": seen["distinct"]}
            for column, seen in profile.columns.items()
        }
    assert output(fail, "plays.plays")["facets"]["dataQualityMetrics"]["columnMetrics"]["seconds"] == {
        "nullCount": 1,
        "distinctCount": 3,
    }

    def results(event):
        assertions = output(event, "plays.plays")["facets"]["dataQualityAssertions"]["assertions"]
        return {a["name"]: a for a in assertions}

    assert {n: (a["success"], a["severity"]) for n, a in results(complete).items()} == {
        "no_negative": (True, "error"),
        "seconds.nullValues": (True, "warn"),
    }
    failed = results(fail)
    assert {n: (a["success"], a["severity"]) for n, a in failed.items()} == {
        "no_negative": (False, "error"),
        "seconds.nullValues": (False, "warn"),
    }
    assert (failed["no_negative"]["assertion"], failed["no_negative"]["column"]) == ("custom_sql", "seconds")
    assert failed["no_negative"]["actual"] == "1" and failed["no_negative"]["expected"] == "0"
    assert failed["no_negative"]["content"] == "SELECT count(*) FROM plays.plays WHERE seconds < 0"
    assert failed["seconds.nullValues"]["assertion"] == "nullValues"
    assert failed["seconds.nullValues"]["description"] == "no gaps"
    assert "errorMessage" not in complete["run"]["facets"]
    error = fail["run"]["facets"]["errorMessage"]["message"]
    assert "rule 'no_negative'" in error and "nullValues" not in error  # only the rules that held it back
    tests = {t["name"]: t["status"] for t in fail["run"]["facets"]["test"]["tests"]}
    assert tests == {"plays.no_negative": "fail", "plays.seconds.nullValues": "fail"}
    assert not any("OpenLineage" in w for w in published.warnings + held.warnings)


def test_emitting_a_build_again_names_the_same_run(mesh):
    plays(mesh)
    [published] = mesh.build_ok()
    ws = mesh.workspace()
    try:
        spec = ws.load(mesh.root / "plays")
        version, verdict = quality.check(ws, spec)  # the rules again, on the published version
        run = lineage.BuildRun(spec, published.build_id, verdict, {}, version)
        assert lineage.emit(ws, run) == ()
    finally:
        ws.close()

    first, second = read_events(mesh.root / EVENTS)[1::2]

    assert second["run"]["runId"] == first["run"]["runId"] == lineage.run_id(published.build_id)
    assert output(second, "plays.plays")["facets"] == output(first, "plays.plays")["facets"]


def test_upstream_products_are_the_inputs_with_the_versions_read(mesh):
    plays(mesh)
    mesh.build_ok()
    mesh.product(
        "totals",
        [("title", "string"), ("seconds", "integer")],
        product_type="derived",
        pk=["title"],
        inputs={"p": "plays.plays"},
        transform="SELECT title, sum(seconds)::BIGINT AS seconds FROM p GROUP BY title",
    )
    [totals] = mesh.build_ok("totals")

    *_, complete = read_events(mesh.root / EVENTS)

    assert (complete["job"]["name"], complete["eventType"]) == ("totals", "COMPLETE")
    assert complete["run"]["runId"] == lineage.run_id(totals.build_id)
    assert [
        (i["namespace"], i["name"], i["facets"]["version"]["datasetVersion"]) for i in complete["inputs"]
    ] == [
        ("daap://mesh", "plays.plays", "1")  # no name in mesh.yaml: the workspace folder's
    ]
    facets = output(complete, "totals.totals")["facets"]
    assert facets["dataQualityMetrics"]["rowCount"] == 2 and "dataQualityAssertions" not in facets  # no rules


def test_transport_none_writes_nothing(mesh):
    (mesh.root / "mesh.yaml").write_text("openlineage: {transport: none}\n")
    plays(mesh)
    [published] = mesh.build_ok()
    (mesh.root / "plays" / "d.csv").write_text(BAD)
    [held] = mesh.build()

    assert (published.status, held.status) == ("published", "quarantined")
    assert not (mesh.root / ".daap" / "openlineage").exists()


def test_events_go_to_the_path_mesh_yaml_names(mesh):
    (mesh.root / "mesh.yaml").write_text("openlineage: {transport: file, path: lineage/ol.ndjson}\n")
    plays(mesh)
    mesh.build_ok()

    events = read_events(mesh.root / "lineage" / "ol.ndjson")

    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert not (mesh.root / EVENTS).exists()


@pytest.mark.parametrize(
    ("setting", "position", "message"),
    [
        ("{transport: kafka}", (2, 26), "'transport' must be one of 'file', 'http' or 'none', got 'kafka'"),
        (
            "{transport: http}",
            (2, 1),
            "openlineage transport http needs a url like http://127.0.0.1:5000, got missing",
        ),
        (
            "{transport: http, url: 'ftp://x'}",
            (2, 37),
            "needs a url like http://127.0.0.1:5000, got 'ftp://x'",
        ),
        ("{transport: file, url: 'http://x'}", (2, 37), "openlineage url is only read with transport: http"),
        ("{transport: http, url: 'http://x', timeout: 0}", (2, 58), "timeout must be a positive number"),
    ],
)
def test_a_bad_openlineage_setting_is_a_positioned_config_error(mesh, setting, position, message):
    (mesh.root / "mesh.yaml").write_text(f"name: media\nopenlineage: {setting}\n")
    plays(mesh)

    with pytest.raises(SpecError) as info:
        mesh.build()

    [problem] = info.value.diagnostics
    assert message in problem.message and (problem.line, problem.col) == position, problem


class _Lineage(http.server.BaseHTTPRequestHandler):
    """A lineage server that keeps every event POSTed to /api/v1/lineage (and refuses other paths)."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path != "/api/v1/lineage" or self.headers["Content-Type"] != "application/json":
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b"no such endpoint")
            return
        self.received.append(json.loads(body))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def test_the_http_transport_posts_each_event_to_a_lineage_server(mesh):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Lineage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Lineage.received = []
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        (mesh.root / "mesh.yaml").write_text(f"openlineage: {{transport: http, url: '{url}'}}\n")
        plays(mesh)
        [published] = mesh.build_ok()
        assert [e["eventType"] for e in _Lineage.received] == ["START", "COMPLETE"]
        for event in _Lineage.received:
            parse(event)  # exactly what openlineage-python would send
        assert not (mesh.root / EVENTS).exists()
        assert not [w for w in published.warnings if "OpenLineage" in w]

        (mesh.root / "mesh.yaml").write_text(
            f"openlineage: {{transport: http, url: '{url}', endpoint: elsewhere}}\n"
        )
        (mesh.root / "plays" / "d.csv").write_text(GOOD + "4,d,40\n")
        [refused] = mesh.build_ok()  # a lineage server that refuses is a warning; the build stands
        [note] = [w for w in refused.warnings if "OpenLineage" in w]
        assert "answered 404" in note and "no such endpoint" in note and refused.version == 2
    finally:
        server.shutdown()
        thread.join(5)


def test_events_that_cannot_be_written_are_a_warning_and_the_builds_stand(mesh):
    (mesh.root / "mesh.yaml").write_text("openlineage: {path: blocked/events.ndjson}\n")
    (mesh.root / "blocked").write_text("a file where the events' folder should be")
    plays(mesh)

    [published] = mesh.build_ok()
    (mesh.root / "plays" / "d.csv").write_text(BAD)
    [held] = mesh.build()

    assert published.status == "published" and published.version == 1
    assert held.status == "quarantined" and held.error is not None and held.error.exit_code == 9
    for outcome in (published, held):
        [note] = [w for w in outcome.warnings if "OpenLineage" in w]
        assert note.startswith("OpenLineage events not sent (") and "the build is unaffected" in note
    assert mesh.query("SELECT count(*) AS n FROM plays.plays") == [{"n": 3}]
