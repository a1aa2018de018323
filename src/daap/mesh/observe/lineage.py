"""OpenLineage run events for every build that reaches the quality gate.

A build is one OpenLineage run of the job ``<product>`` (namespace: the mesh's
name); its run id is a UUID derived from the build id, so emitting a build
again names the same run. A published build sends ``START`` and ``COMPLETE``,
a quarantined one ``START`` and ``FAIL`` (with the failed rules in the
``errorMessage`` run facet); both are written once the gate has decided, the
``START`` timed at the build's start, so no run is left started and never ended. Each output port is a
dataset ``<product>.<port>`` in namespace ``daap://<mesh>`` carrying::

    facets.schema                  the contract's columns (type: the contract's SQL type)
    facets.dataQualityMetrics      rows, and per column nulls and distinct values
    facets.dataQualityAssertions   one assertion per quality rule, with its success
    facets.version                 the product version (published builds only)

and the run carries the same results in its ``test`` facet. The spec types
``dataQualityAssertions`` as an *input* dataset facet (tools that test a table
they read); daap tests the dataset it writes, so the facet sits in the output
dataset's ``facets``, beside the metrics (the spec's own documentation example
also shows it under a dataset's ``facets``, not ``inputFacets``). The upstream
products' ports a build read are its inputs.

Events are plain JSON (openlineage-python is not a dependency) and go through
a transport chosen in ``mesh.yaml`` (``openlineage:``): by default one JSON
line per event appended to ``<home>/openlineage/events.ndjson``. Sending
never fails a build: a problem becomes one warning on its outcome.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from daap.mesh.observe.quality import Verdict
from daap.mesh.workspace import Workspace
from daap.runtime.quality import QualityReport, RuleResult
from daap.spec.mesh import MeshConfig, OpenLineageConfig
from daap.spec.model import ColumnSpec, OutputPortSpec, ProductSpec

#: the ``producer`` of every event and the ``_producer`` of every facet
PRODUCER = "https://github.com/daap/daap"
#: run ids are ``uuid5(RUN_NAMESPACE, build_id)``
RUN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, PRODUCER)
_SPEC = "https://openlineage.io/spec"
EVENT_SCHEMA = f"{_SPEC}/2-0-2/OpenLineage.json#/$defs/RunEvent"
#: facet key -> the ``_schemaURL`` of the spec version written
SCHEMAS = {
    "schema": f"{_SPEC}/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
    "dataQualityMetrics": f"{_SPEC}/facets/1-0-1/DataQualityMetricsDatasetFacet.json"
    "#/$defs/DataQualityMetricsDatasetFacet",
    "dataQualityAssertions": f"{_SPEC}/facets/1-1-0/DataQualityAssertionsDatasetFacet.json"
    "#/$defs/DataQualityAssertionsDatasetFacet",
    "version": f"{_SPEC}/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
    "errorMessage": f"{_SPEC}/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
    "test": f"{_SPEC}/facets/1-0-1/TestRunFacet.json#/$defs/TestRunFacet",
}
#: daap rule severity -> the spec's
SEVERITIES = {"error": "error", "warning": "warn", "info": "info"}
#: rule kind -> assertion type (a ``metric`` rule is named by its metric: ``nullValues``, ``rowCount``...)
ASSERTIONS = {"sql": "custom_sql", "relationship": "foreign_key"}
#: fields an assertion and a test execution share
SHARED = ("description", "expected", "actual", "content", "contentType")
DEFAULT_FILE = Path("openlineage") / "events.ndjson"

Event = dict[str, Any]


@dataclass(frozen=True)
class BuildRun:
    """What one build tells OpenLineage."""

    spec: ProductSpec
    build_id: str
    verdict: Verdict
    #: ``product.port`` -> version of each upstream port read
    inputs: Mapping[str, int]
    #: the published version; None when quarantined
    version: int | None
    #: why the build failed (the quality gate's message)
    failure: str | None = None


class Transport(Protocol):
    """Where events go."""

    def send(self, events: Sequence[Event]) -> None:
        """Deliver ``events`` in order.

        Raises:
            OSError: they could not be delivered (the caller turns it into a warning).
        """
        ...


@dataclass(frozen=True)
class FileTransport:
    """Appends one JSON line per event to ``path``, all of a build's events in one write."""

    path: Path

    def send(self, events: Sequence[Event]) -> None:
        data = b"".join(orjson.dumps(e) + b"\n" for e in events)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_APPEND: builds of other products, in other processes, append to the same file
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)


@dataclass(frozen=True)
class HttpTransport:
    """POSTs each event as JSON to ``url``/``endpoint`` (Marquez's ``/api/v1/lineage``), in order."""

    url: str
    endpoint: str = "api/v1/lineage"
    timeout: float = 5.0

    def send(self, events: Sequence[Event]) -> None:
        target = f"{self.url.rstrip('/')}/{self.endpoint}"
        for event in events:
            request = urllib.request.Request(
                target, data=orjson.dumps(event), headers={"Content-Type": "application/json"}, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
            except urllib.error.HTTPError as exc:  # the server's answer says why
                detail = exc.read(300).decode("utf-8", "replace").strip()
                raise OSError(f"{target} answered {exc.code} {exc.reason}: {detail}") from None
            except urllib.error.URLError as exc:
                raise OSError(f"{target}: {exc.reason}") from None


class NoTransport:
    """``transport: none``: events are not sent anywhere."""

    def send(self, events: Sequence[Event]) -> None:
        return None


#: ``openlineage.transport`` -> the transport, given the settings and the mesh's home
TRANSPORTS: dict[str, Callable[[OpenLineageConfig, Path], Transport]] = {
    "file": lambda settings, home: FileTransport(settings.path or home / DEFAULT_FILE),
    "http": lambda settings, home: HttpTransport(settings.url or "", settings.endpoint, settings.timeout),
    "none": lambda settings, home: NoTransport(),
}


def transport(config: MeshConfig) -> Transport:
    return TRANSPORTS[config.openlineage.transport](config.openlineage, config.home)


def run_id(build_id: str) -> str:
    """The OpenLineage run id of a build: the same for every emission of that build."""
    return str(uuid.uuid5(RUN_NAMESPACE, build_id))


def mesh_name(config: MeshConfig) -> str:
    """``name`` from ``mesh.yaml``, else the workspace folder's name."""
    return config.name or config.workspace.name


def emit(ws: Workspace, run: BuildRun) -> tuple[str, ...]:
    """Send the build's events; never raises.

    Returns:
        a warning for the build's outcome when the events could not be sent.
    """
    try:
        record = ws.metadata.get_build(run.build_id)
        now = datetime.now(UTC)
        started = record.started_at if record is not None else now
        transport(ws.config).send(events(run, mesh_name(ws.config), started, now))
    except Exception as exc:  # lineage is a side channel: the build stands without it
        return (f"OpenLineage events not sent ({type(exc).__name__}: {exc}); the build is unaffected",)
    return ()


def events(run: BuildRun, mesh: str, started: datetime, finished: datetime) -> list[Event]:
    """The build's ``START`` and its ``COMPLETE`` (published) or ``FAIL`` (quarantined) event."""
    outputs = [_output(run, port, mesh) for port in run.spec.output_ports]
    schemas = [{**o, "facets": {"schema": o["facets"]["schema"]}} for o in outputs]
    tests = [t for port in run.spec.output_ports for t in _tests(run, port.name)]
    facets: dict[str, Any] = {"test": _facet("test", tests=tests)} if tests else {}
    if run.version is None:
        facets["errorMessage"] = _facet(
            "errorMessage", message=run.failure or "quarantined", programmingLanguage="python"
        )
    ended = "FAIL" if run.version is None else "COMPLETE"
    return [
        _event("START", started, run, mesh, {}, schemas),
        _event(ended, finished, run, mesh, facets, outputs),
    ]


def _event(
    kind: str, at: datetime, run: BuildRun, mesh: str, facets: dict[str, Any], outputs: list[Event]
) -> Event:
    inputs = [
        {
            "namespace": f"daap://{mesh}",
            "name": ref,
            "facets": {"version": _facet("version", datasetVersion=str(v))},
        }
        for ref, v in sorted(run.inputs.items())
    ]
    return {
        "eventType": kind,
        "eventTime": at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "run": {"runId": run_id(run.build_id), "facets": facets},
        "job": {"namespace": mesh, "name": run.spec.name, "facets": {}},
        "inputs": inputs,
        "outputs": outputs,
        "producer": PRODUCER,
        "schemaURL": EVENT_SCHEMA,
    }


def _output(run: BuildRun, port: OutputPortSpec, mesh: str) -> Event:
    facets = {
        "schema": _facet("schema", fields=[_field(c, i) for i, c in enumerate(port.contract.columns, 1)])
    }
    report = _report(run.verdict, port.name)
    if report is not None:
        facets["dataQualityMetrics"] = _facet(
            "dataQualityMetrics",
            rowCount=report.rows,
            columnMetrics={
                c: {"nullCount": p.nulls, "distinctCount": p.distinct} for c, p in report.profile.items()
            },
        )
    if report is not None and report.results:
        dataset = f"{run.spec.name}.{port.name}"
        assertions = [_assertion(r, dataset) for r in report.results]
        facets["dataQualityAssertions"] = _facet("dataQualityAssertions", assertions=assertions)
    if run.version is not None:
        facets["version"] = _facet("version", datasetVersion=str(run.version))
    return {"namespace": f"daap://{mesh}", "name": f"{run.spec.name}.{port.name}", "facets": facets}


def _facet(key: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": SCHEMAS[key], **fields}


def _field(column: ColumnSpec, position: int | None = None) -> dict[str, Any]:
    """A column as a schema field; an object's (or an array of objects') fields nest."""
    field: dict[str, Any] = {"name": column.name, "type": column.sql_type}
    if column.description:
        field["description"] = column.description
    if position is not None:
        field["ordinal_position"] = position
    nested = column.fields or (column.items.fields if column.items is not None else ())
    if nested:
        field["fields"] = [_field(c) for c in nested]
    return field


def _report(verdict: Verdict, port: str) -> QualityReport | None:
    return next((r for r in verdict.reports if r.port == port), None)


def _assertion(result: RuleResult, dataset: str) -> dict[str, Any]:
    rule = result.rule
    found: dict[str, Any] = {
        "assertion": rule.metric if rule.kind == "metric" and rule.metric else ASSERTIONS[rule.kind],
        "success": result.passed,
        "column": rule.column,
        "severity": SEVERITIES.get(rule.severity, rule.severity),
        "name": rule.name,
        "description": rule.description,
        **_measure(result, dataset),
    }
    return {k: v for k, v in found.items() if v is not None}


def _tests(run: BuildRun, port: str) -> Iterator[dict[str, Any]]:
    """The run's ``test`` facet entries: one per rule, named ``<port>.<rule>`` (unique in the run)."""
    report = _report(run.verdict, port)
    for result in report.results if report is not None else ():
        dataset = f"{run.spec.name}.{port}"
        assertion = _assertion(result, dataset)
        test: dict[str, Any] = {
            "name": f"{port}.{result.rule.name}",
            "status": "pass" if result.passed else "fail",
            "severity": assertion["severity"],
            "type": assertion["assertion"],
        }
        test |= {k: assertion[k] for k in SHARED if k in assertion}
        params = {**assertion["params"], "dataset": dataset}
        if result.rule.column:
            params["column"] = result.rule.column
        yield {**test, "params": params}


def _measure(result: RuleResult, dataset: str) -> dict[str, Any]:
    """Expected and actual values as strings, the sql query (runnable: ``{object}`` is the port's
    table, ``plays.plays``), and the rule's other settings as params."""
    rule = result.rule
    threshold = rule.threshold
    params: dict[str, Any] = {"operator": rule.operator, "unit": rule.unit, "rows": result.rows}
    for key, value in (
        ("dimension", rule.dimension),
        ("references", rule.references),
        ("error", result.error),
    ):
        if value is not None:
            params[key] = value
    found: dict[str, Any] = {
        "expected": (
            f"[{_number(threshold[0])}, {_number(threshold[1])}]"
            if isinstance(threshold, tuple)
            else _number(threshold)
        ),
        "actual": _number(result.value) if result.value is not None else None,
        "params": params,
    }
    if rule.query is not None:
        query = rule.query.replace("{object}", dataset).replace("{property}", rule.column or "{property}")
        found |= {"content": query, "contentType": "sql"}
    return found


def _number(value: float) -> str:
    """``2.0`` -> ``"2"``, ``0.25`` -> ``"0.25"``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


__all__ = [
    "PRODUCER",
    "RUN_NAMESPACE",
    "BuildRun",
    "FileTransport",
    "HttpTransport",
    "emit",
    "events",
    "run_id",
    "transport",
]
