"""OpenLineage run events: every build reports its run (START, then COMPLETE or FAIL), its
quality, its columns' lineage and its owners.

Each event written is rebuilt with openlineage-python's own classes (an unknown
field or facet fails) and serialised back by its ``Serde``: what daap wrote
must be exactly what the client library would write.
"""

from __future__ import annotations

import http.server
import json
import socket
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
from openlineage.client.generated.column_lineage_dataset import (
    ColumnLineageDatasetFacet,
    Fields,
    InputField,
    Transformation,
)
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
from openlineage.client.generated.ownership_dataset import Owner, OwnershipDatasetFacet
from openlineage.client.generated.ownership_job import Owner as JobOwner
from openlineage.client.generated.ownership_job import OwnershipJobFacet
from openlineage.client.generated.schema_dataset import SchemaDatasetFacet, SchemaDatasetFacetFields
from openlineage.client.generated.test_run import TestExecution as Execution
from openlineage.client.generated.test_run import TestRunFacet as RunTestsFacet
from openlineage.client.serde import Serde

from daap.errors import GovernanceRefused, InputError, SpecError, TransformError
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


def _input_field(data: dict[str, Any]) -> InputField:
    changes = [Transformation(**t) for t in data["transformations"]]
    return InputField(**{**data, "transformations": changes})


def _column_lineage(data: dict[str, Any]) -> dict[str, Any]:
    fields = {
        column: Fields(**{**f, "inputFields": [_input_field(i) for i in f["inputFields"]]})
        for column, f in data["fields"].items()
    }
    return {"fields": fields, "dataset": [_input_field(i) for i in data.get("dataset", [])]}


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
    "columnLineage": (ColumnLineageDatasetFacet, _column_lineage),
    "ownership": (OwnershipDatasetFacet, lambda d: {"owners": [Owner(**o) for o in d["owners"]]}),
    "errorMessage": (ErrorMessageRunFacet, dict),
    "test": (RunTestsFacet, lambda d: {"tests": [Execution(**t) for t in d["tests"]]}),
}
#: the same for job facets (a job's ``ownership`` is another class than a dataset's)
JOB_FACETS: dict[str, tuple[type, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "ownership": (OwnershipJobFacet, lambda d: {"owners": [JobOwner(**o) for o in d["owners"]]}),
}


def facet(key: str, data: dict[str, Any], table: dict[str, tuple[type, Callable[..., Any]]] = FACETS) -> Any:
    cls, build = table[key]
    assert data["_schemaURL"] == cls._get_schema(), key
    assert data["_producer"] == lineage.PRODUCER
    fields = {k: v for k, v in data.items() if not k.startswith("_")}
    return cls(**build(fields), producer=data["_producer"])


def facets(
    data: dict[str, Any], table: dict[str, tuple[type, Callable[..., Any]]] = FACETS
) -> dict[str, Any]:
    return {key: facet(key, value, table) for key, value in data.get("facets", {}).items()}


def parse(data: dict[str, Any]) -> RunEvent:
    """The event as openlineage-python's RunEvent; it must serialise back to exactly ``data``."""
    event = RunEvent(
        eventType=EventType(data["eventType"]),
        eventTime=data["eventTime"],
        producer=data["producer"],
        run=Run(runId=data["run"]["runId"], facets=facets(data["run"])),
        job=Job(
            namespace=data["job"]["namespace"],
            name=data["job"]["name"],
            facets=facets(data["job"], JOB_FACETS),
        ),
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


PLAYS = "play_id,title_id,seconds,device\n1,t1,10,tv\n2,t1,20,phone\n3,t2,30,phone\n"
TITLES = "title_id,title,genre\nt1,Alpha,drama\nt2,Beta,comedy\n"
#: like the demo's title_popularity: an aggregate in a CTE, a join of two upstream ports, a filter
POPULARITY = """
WITH watched AS (
    SELECT title_id, sum(seconds) AS seconds, count(*) AS plays
    FROM p WHERE device <> 'tv' GROUP BY title_id
)
SELECT t.title, t.genre, upper(t.genre) AS shelf, w.seconds::BIGINT AS seconds, w.plays
FROM watched w JOIN t ON w.title_id = t.title_id
"""
OWNERS = [{"name": "team:test-team", "type": "owner"}]


def media(mesh, transform=POPULARITY):
    """Two raw products read from files, and ``popularity`` joining them."""
    (mesh.root / "mesh.yaml").write_text("name: media\n")
    plays = [("play_id", "integer"), ("title_id", "string"), ("seconds", "integer"), ("device", "string")]
    mesh.product("plays", plays, pk=["play_id"], inputs={"src": {"path": "d.csv"}}, files={"d.csv": PLAYS})
    titles = [("title_id", "string"), ("title", "string"), ("genre", "string")]
    mesh.product(
        "titles", titles, pk=["title_id"], inputs={"src": {"path": "t.csv"}}, files={"t.csv": TITLES}
    )
    columns = [("title", "string"), ("genre", "string"), ("shelf", "string"), ("seconds", "integer")]
    mesh.product(
        "popularity",
        [*columns, ("plays", "integer")],
        product_type="derived",
        pk=["title"],
        inputs={"p": "plays.plays", "t": "titles.titles"},
        transform=transform,
    )


def runs(mesh, job: str) -> list[dict[str, Any]]:
    return [e for e in read_events(mesh.root / EVENTS) if e["job"]["name"] == job]


def lineage_of(event: dict[str, Any], name: str) -> dict[str, Any]:
    """``column -> [(dataset, field, type, subtype)]`` and the dataset-wide entries under ``*``."""
    found = output(event, name)["facets"]["columnLineage"]

    def sources(fields):
        return [
            (f["namespace"], f["name"], f["field"], t["type"], t["subtype"])
            for f in fields
            for t in f["transformations"]
        ]

    by_column = {c: sources(f["inputFields"]) for c, f in found["fields"].items()}
    return {**by_column, "*": sources(found.get("dataset", []))}


def test_column_lineage_of_a_join_says_what_each_column_comes_from_and_how(mesh):
    media(mesh)
    assert [o.status for o in mesh.build_ok()] == ["published"] * 3

    start, complete = runs(mesh, "popularity")

    media_ = "daap://media"
    assert lineage_of(complete, "popularity.popularity") == {
        "title": [(media_, "titles.titles", "title", "DIRECT", "IDENTITY")],
        "genre": [(media_, "titles.titles", "genre", "DIRECT", "IDENTITY")],
        "shelf": [(media_, "titles.titles", "genre", "DIRECT", "TRANSFORMATION")],
        # sum() in the CTE, then a cast: the value is an aggregate of many rows
        "seconds": [(media_, "plays.plays", "seconds", "DIRECT", "AGGREGATION")],
        # plays is count(*): no column it comes from, so it is left out
        "*": [  # the WHERE, GROUP BY and JOIN columns decide the rows of the whole port
            (media_, "plays.plays", "device", "INDIRECT", "FILTER"),
            (media_, "plays.plays", "title_id", "INDIRECT", "FILTER"),
            (media_, "titles.titles", "title_id", "INDIRECT", "FILTER"),
        ],
    }
    # every dataset a column names is an input of the run, with the version read
    assert [(i["name"], i["facets"]["version"]["datasetVersion"]) for i in complete["inputs"]] == [
        ("plays.plays", "1"),
        ("titles.titles", "1"),
    ]
    # what is known before the build runs is in the START already
    assert output(start, "popularity.popularity")["facets"] == {
        k: v for k, v in output(complete, "popularity.popularity")["facets"].items() if k in lineage.STATIC
    }
    assert set(lineage.STATIC) <= set(output(start, "popularity.popularity")["facets"])


def test_a_file_input_is_a_file_dataset_its_columns_pass_through(mesh):
    media(mesh)
    mesh.build_ok()

    _, complete = runs(mesh, "titles")

    path = str((mesh.root / "titles" / "t.csv").resolve())
    assert [(i["namespace"], i["name"], i["facets"]) for i in complete["inputs"]] == [("file", path, {})]
    assert lineage_of(complete, "titles.titles") == {
        column: [("file", path, column, "DIRECT", "IDENTITY")] for column in ("title_id", "title", "genre")
    } | {"*": []}


def test_the_owner_team_owns_the_job_and_every_output(mesh):
    media(mesh)
    mesh.build_ok()
    (mesh.root / "plays" / "d.csv").write_text(PLAYS.replace("30", "-30"))
    plays_path = mesh.root / "plays" / "contracts" / "plays.odcs.yaml"
    contract = json.loads(plays_path.read_text())
    contract["schema"][0]["properties"][2]["quality"] = [NO_NEGATIVE]
    plays_path.write_text(json.dumps(contract))
    assert mesh.build("plays")[0].status == "quarantined"

    events = read_events(mesh.root / EVENTS)

    assert len(events) == 8 and events[-1]["eventType"] == "FAIL"
    for event in events:
        assert event["job"]["facets"]["ownership"]["owners"] == OWNERS
        for dataset in event["outputs"]:
            assert dataset["facets"]["ownership"]["owners"] == OWNERS


def test_lineage_that_cannot_be_traced_leaves_the_facet_out_and_the_build_stands(mesh):
    media(mesh, transform="def transform(inputs):\n    return inputs['t'].drop(['title_id'])\n")
    mesh.product(
        "raw_titles",
        [("title_id", "string"), ("title", "string"), ("genre", "string")],
        pk=["title_id"],
        inputs={"src": {"path": "t.csv"}},
        transform="SELECT * FROM src",  # a file's columns are unknown: * cannot be expanded
        files={"t.csv": TITLES},
    )
    (mesh.root / "popularity" / "contracts" / "popularity.odcs.yaml").write_text(
        json.dumps(
            {
                "apiVersion": "v3.2.0",
                "kind": "DataContract",
                "id": "popularity-contract",
                "name": "popularity",
                "version": "1.0.0",
                "status": "active",
                "schema": [
                    {
                        "name": "popularity",
                        "logicalType": "object",
                        "properties": [
                            {
                                "name": "title",
                                "logicalType": "string",
                                "primaryKey": True,
                                "primaryKeyPosition": 1,
                            },
                            {"name": "genre", "logicalType": "string"},
                        ],
                    }
                ],
            }
        )
    )

    outcomes = {o.product: o for o in mesh.build_ok()}

    assert outcomes["popularity"].version == outcomes["raw_titles"].version == 1
    for job in ("popularity", "raw_titles"):
        for event in runs(mesh, job):
            assert "columnLineage" not in event["outputs"][0]["facets"], job
            assert "schema" in event["outputs"][0]["facets"]
        assert not [w for w in outcomes[job].warnings if "OpenLineage" in w]


def failure(mesh, job: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The last run of ``job``: its START and FAIL, with no quality facets (the gate never ran)."""
    start, fail = runs(mesh, job)[-2:]
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    assert start["run"]["runId"] == fail["run"]["runId"]
    assert dates.isoparse(start["eventTime"]) <= dates.isoparse(fail["eventTime"])
    assert "test" not in fail["run"]["facets"]
    for dataset in fail["outputs"]:
        assert not {"dataQualityMetrics", "dataQualityAssertions", "version"} & set(dataset["facets"])
        assert dataset["facets"]["ownership"]["owners"] == OWNERS
    return start, fail


def recorded_run(mesh, product: str) -> str:
    """The run id of the product's last recorded build."""
    ws = mesh.workspace()
    try:
        [last, *_] = ws.metadata.builds(product)
    finally:
        ws.close()
    assert last.state == "failed"
    return lineage.run_id(last.build_id)


def test_a_transformation_error_fails_the_run_with_its_message(mesh):
    media(mesh, transform=POPULARITY.replace("upper(t.genre)", "upper(t.no_such_column)"))

    outcomes = {o.product: o for o in mesh.build()}

    broken = outcomes["popularity"]
    assert broken.status == "failed" and isinstance(broken.error, TransformError)
    _, fail = failure(mesh, "popularity")
    error = fail["run"]["facets"]["errorMessage"]
    assert error["message"] == broken.message and "no_such_column" in error["message"]
    assert error["programmingLanguage"] == "python"
    assert fail["run"]["runId"] == recorded_run(mesh, "popularity") == lineage.run_id(broken.build_id)
    # sqlglot cannot resolve a query naming a column its input lacks: no column lineage, no harm
    assert "columnLineage" not in output(fail, "popularity.popularity")["facets"]
    assert not [w for w in broken.warnings if "OpenLineage" in w]


def test_a_governance_refusal_fails_the_run_with_the_rule_and_its_fix(mesh):
    media(mesh)
    mesh.build_ok()
    path = mesh.root / "titles" / "dataproduct.yaml"
    descriptor = json.loads(path.read_text())
    descriptor.pop("team")
    path.write_text(json.dumps(descriptor))
    (mesh.root / "titles" / "t.csv").write_text(TITLES + "t3,Gamma,drama\n")

    [refused] = mesh.build("titles")

    assert refused.status == "failed" and isinstance(refused.error, GovernanceRefused)
    start, fail = runs(mesh, "titles")[-2:]
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    assert fail["run"]["facets"]["errorMessage"]["message"] == refused.message
    assert "governance error" in refused.message and "team" in refused.message
    assert fail["run"]["runId"] == recorded_run(mesh, "titles")
    # no owner team: no ownership facets, everything else as usual
    assert "ownership" not in fail["job"]["facets"]
    assert set(output(fail, "titles.titles")["facets"]) == {"schema", "columnLineage"}


def test_bad_input_data_fails_the_run_whether_or_not_the_build_was_recorded(mesh):
    media(mesh)
    mesh.build_ok()
    (mesh.root / "plays" / "d.csv").write_text(PLAYS + "4,t2,forty,tv\n")
    (mesh.root / "titles" / "t.csv").unlink()

    outcomes = {o.product: o for o in mesh.build("plays", "titles")}

    unparsable, missing = outcomes["plays"], outcomes["titles"]
    assert isinstance(unparsable.error, InputError) and isinstance(missing.error, InputError)
    assert "no file matches 't.csv'" in missing.message and "forty" in unparsable.message
    for job, outcome in (("plays", unparsable), ("titles", missing)):
        _, fail = failure(mesh, job)
        assert fail["run"]["facets"]["errorMessage"]["message"] == outcome.message
        assert fail["inputs"][0]["namespace"] == "file" and not fail["inputs"][0]["facets"]
    # a missing file stops the build before it is recorded: a run id of its own, named once
    ws = mesh.workspace()
    try:
        recorded = {lineage.run_id(b.build_id) for b in ws.metadata.builds("titles")}
    finally:
        ws.close()
    _, fail = failure(mesh, "titles")
    assert fail["run"]["runId"] not in recorded
    assert fail["run"]["runId"] == lineage.run_id(missing.build_id)  # the outcome names its run
    assert len({e["run"]["runId"] for e in runs(mesh, "titles")}) == 2  # the published run and this one


def test_a_missing_grant_fails_the_run_with_the_hint(mesh):
    media(mesh)
    (mesh.root / "mesh.yaml").write_text("name: media\nprincipals:\n  - {name: ana, roles: [analyst]}\n")

    outcomes = {o.product: o for o in mesh.build()}

    refused = outcomes["popularity"]
    assert refused.status == "failed" and isinstance(refused.error, InputError)
    _, fail = failure(mesh, "popularity")
    message = fail["run"]["facets"]["errorMessage"]["message"]
    assert "popularity may not read" in message
    assert refused.error.hint and refused.error.hint in message and "access.cedar" in message
    assert [i["name"] for i in fail["inputs"]] == ["plays.plays", "titles.titles"]
    assert not any("version" in i["facets"] for i in fail["inputs"])  # nothing was read


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_lineage_server_that_is_down_changes_no_build(mesh):
    media(mesh, transform=POPULARITY.replace("upper(t.genre)", "upper(t.no_such_column)"))
    url = f"http://127.0.0.1:{_closed_port()}"
    (mesh.root / "mesh.yaml").write_text(f"name: media\nopenlineage: {{transport: http, url: '{url}'}}\n")

    outcomes = {o.product: o for o in mesh.build()}

    assert (outcomes["plays"].status, outcomes["plays"].version) == ("published", 1)
    failed = outcomes["popularity"]
    assert failed.status == "failed" and isinstance(failed.error, TransformError)
    assert "no_such_column" in failed.message and "OpenLineage" not in failed.message
    for outcome in outcomes.values():
        [note] = [w for w in outcome.warnings if "OpenLineage" in w]
        assert note.startswith("OpenLineage events not sent (OSError:") and "the build is unaffected" in note
    assert mesh.query("SELECT count(*) AS n FROM plays.plays") == [{"n": 3}]
