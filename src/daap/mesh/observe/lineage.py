"""OpenLineage run events for every build: ``START``, then ``COMPLETE`` or ``FAIL``.

A build is one OpenLineage run of the job ``<product>`` (namespace: the mesh's
name); its run id is a UUID derived from the build id, so emitting a build
again names the same run. A published build sends ``START`` and ``COMPLETE``;
a quarantined one ``START`` and ``FAIL`` with the failed rules in the
``errorMessage`` run facet; any other failed build (a transformation error, a
governance refusal, a registry that cannot take the schemas, an input that
cannot be read, a contract gate that refuses) ``START`` and ``FAIL`` with its
error, and its hint, as the ``errorMessage``. A build that fails before it is
recorded still has a build id (made when the build begins), only ever used for
its run id; one whose commit had begun is not reported failed (the next build
of the product publishes it or rolls it back). Both events are written once
the outcome is known, the ``START`` timed at the build's start, so no run is
left started and never ended.

Each output port is a dataset ``<product>.<port>`` in namespace
``daap://<mesh>`` carrying::

    facets.schema                  the contract's columns (type: the contract's SQL type)
    facets.columnLineage           where each column comes from (see below)
    facets.ownership               the owner team: {"name": "team:<team>", "type": "owner"}
    facets.dataQualityMetrics      rows, and per column nulls and distinct values
    facets.dataQualityAssertions   one assertion per quality rule, with its success
    facets.version                 the product version (published builds only)

the quality facets only once the gate has run. The job carries the same
``ownership`` facet and the run the quality results in its ``test`` facet. The
spec types ``dataQualityAssertions`` as an *input* dataset facet (tools that
test a table they read); daap tests the dataset it writes, so the facet sits in
the output dataset's ``facets``, beside the metrics (the spec's own
documentation example also shows it under a dataset's ``facets``).

The build's inputs are its input ports' datasets: another product's port is
``<product>.<port>`` in ``daap://<mesh>`` (with the version read, when the build
reached the quality gate); a file input is its glob made absolute,
``/mesh/plays/data/*.csv``, in namespace ``file`` (OpenLineage's naming for a
local file system: the dataset's URI is ``file:/mesh/plays/data/*.csv``).

``columnLineage`` comes from the transformation's SQL
(:func:`daap.mesh.catalog.lineage.column_lineage`, the upstream ports' columns
read from their contracts). Each output column lists its ``inputFields``:
passed through (renamed, cast) is ``DIRECT``/``IDENTITY``; computed is
``DIRECT``/``TRANSFORMATION``, or ``AGGREGATION`` when the column's value goes
through an aggregate function (``sum``, ``count``, ``rank`` ...), followed by
name through the script's CTEs, subqueries and tables. Columns that decide
which rows there are (``WHERE``, ``JOIN``, ``GROUP BY``, ``HAVING``,
``QUALIFY``: the tracer does not tell them apart) concern the whole port, so
they are the facet's ``dataset`` entries, ``INDIRECT``/``FILTER``, not repeated
under every column. A column whose lineage is unknown (a Python
transformation, SQL sqlglot cannot follow) or that has no source column (a
constant, ``count(*)``) is left out; when no column is known there is no facet.

Events are plain JSON (openlineage-python is not a dependency) and go through
a transport chosen in ``mesh.yaml`` (``openlineage:``): by default one JSON
line per event appended to ``<home>/openlineage/events.ndjson``. Sending
never fails or changes a build: a problem becomes one warning on its outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from daap.errors import DaapError
from daap.mesh.observe.quality import Verdict
from daap.mesh.observe.transport import (
    FileTransport,
    HttpTransport,
    transport,
)
from daap.mesh.workspace import SpecCache, Workspace
from daap.runtime.quality import QualityReport, RuleResult
from daap.spec.mesh import MeshConfig
from daap.spec.model import ColumnSpec, FileSource, InputPortSpec, OutputPortSpec, ProductSource, ProductSpec
from daap.spec.product import DESCRIPTOR

if TYPE_CHECKING:  # sqlglot is imported when a build emits, not with the builder
    from daap.mesh.catalog.lineage import ColumnEdge, SourceColumn

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
    "columnLineage": f"{_SPEC}/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet",
    "ownership": f"{_SPEC}/facets/1-0-1/OwnershipDatasetFacet.json#/$defs/OwnershipDatasetFacet",
    "errorMessage": f"{_SPEC}/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
    "test": f"{_SPEC}/facets/1-0-1/TestRunFacet.json#/$defs/TestRunFacet",
}
#: job facet key -> the ``_schemaURL`` of the spec version written
JOB_SCHEMAS = {"ownership": f"{_SPEC}/facets/1-0-1/OwnershipJobFacet.json#/$defs/OwnershipJobFacet"}
#: output dataset facets known before the build runs: the ``START`` event's
STATIC = ("schema", "columnLineage", "ownership")
#: how an input column reaches the output -> the column lineage transformation's type and subtype
TRANSFORMATIONS = {
    "direct": {"type": "DIRECT", "subtype": "IDENTITY"},
    "derived": {"type": "DIRECT", "subtype": "TRANSFORMATION"},
    "aggregated": {"type": "DIRECT", "subtype": "AGGREGATION"},
    "filter": {"type": "INDIRECT", "subtype": "FILTER"},
}
#: the namespace of a file input (OpenLineage's naming for a local file system)
FILE_NAMESPACE = "file"
#: daap rule severity -> the spec's
SEVERITIES = {"error": "error", "warning": "warn", "info": "info"}
#: rule kind -> assertion type (a ``metric`` rule is named by its metric: ``nullValues``, ``rowCount``...)
ASSERTIONS = {"sql": "custom_sql", "relationship": "foreign_key"}
#: fields an assertion and a test execution share
SHARED = ("description", "expected", "actual", "content", "contentType")

Event = dict[str, Any]


@dataclass(frozen=True)
class BuildRun:
    """What one build tells OpenLineage."""

    spec: ProductSpec
    build_id: str
    #: the quality rules' results; None when the build failed before the gate
    verdict: Verdict | None
    #: ``product.port`` -> version of each upstream port read (once known)
    inputs: Mapping[str, int]
    #: the published version; None when quarantined or failed
    version: int | None
    #: why the build failed (the quality gate's message, or the error and its hint)
    failure: str | None = None
    #: when the build began, for a build that failed before it was recorded
    started: datetime | None = None


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
        started = record.started_at if record is not None else run.started or now
        mesh = mesh_name(ws.config)
        columns = column_facets(ws, run.spec, mesh)
        transport(ws.config).send(events(run, mesh, started, now, columns))
    except Exception as exc:  # lineage is a side channel: the build stands without it
        return (f"OpenLineage events not sent ({type(exc).__name__}: {exc}); the build is unaffected",)
    return ()


def emit_failed(
    ws: Workspace, spec: ProductSpec, build_id: str, started: datetime, error: str
) -> tuple[str, ...]:
    """``START`` and ``FAIL`` for a build that failed before its quality gate decided; never raises.

    A build whose commit began is left out: the next build of the product rolls
    it forward (published) or back, and it failed nothing yet.

    Args:
        build_id: the build's id, recorded or not (a build refused before it starts).
        started: when the build began, for one that was never recorded.
        error: the error and its hint, as the outcome says them.
    """
    try:
        record = ws.metadata.get_build(build_id)
    except Exception as exc:
        return (f"OpenLineage events not sent ({type(exc).__name__}: {exc}); the build is unaffected",)
    if record is not None and record.state not in ("running", "failed"):
        return ()
    return emit(ws, BuildRun(spec, build_id, None, {}, None, error, started))


def events(
    run: BuildRun,
    mesh: str,
    started: datetime,
    finished: datetime,
    columns: Mapping[str, dict[str, Any]] | None = None,
) -> list[Event]:
    """The build's ``START`` and its ``COMPLETE`` (published) or ``FAIL`` (quarantined, failed) event.

    Args:
        columns: each output port's ``columnLineage`` facet (see :func:`column_facets`).
    """
    outputs = [_output(run, port, mesh, (columns or {}).get(port.name)) for port in run.spec.output_ports]
    static = [{**o, "facets": {k: v for k, v in o["facets"].items() if k in STATIC}} for o in outputs]
    tests = [t for port in run.spec.output_ports for t in _tests(run, port.name)]
    facets: dict[str, Any] = {"test": _facet("test", tests=tests)} if tests else {}
    if run.version is None:
        facets["errorMessage"] = _facet(
            "errorMessage", message=run.failure or "quarantined", programmingLanguage="python"
        )
    ended = "FAIL" if run.version is None else "COMPLETE"
    return [
        _event("START", started, run, mesh, {}, static),
        _event(ended, finished, run, mesh, facets, outputs),
    ]


def _event(
    kind: str, at: datetime, run: BuildRun, mesh: str, facets: dict[str, Any], outputs: list[Event]
) -> Event:
    job: dict[str, Any] = {}
    if run.spec.team:
        job["ownership"] = {
            "_producer": PRODUCER,
            "_schemaURL": JOB_SCHEMAS["ownership"],
            **_owners(run.spec),
        }
    return {
        "eventType": kind,
        "eventTime": at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "run": {"runId": run_id(run.build_id), "facets": facets},
        "job": {"namespace": mesh, "name": run.spec.name, "facets": job},
        "inputs": _inputs(run, mesh),
        "outputs": outputs,
        "producer": PRODUCER,
        "schemaURL": EVENT_SCHEMA,
    }


def _inputs(run: BuildRun, mesh: str) -> list[Event]:
    """One dataset per upstream port or file glob read, an upstream port's with the version read."""
    found: dict[tuple[str, str], Event] = {}
    for port in run.spec.input_ports:
        namespace, name = _dataset(run.spec, port, mesh)
        facets: dict[str, Any] = {}
        if name in run.inputs:
            facets["version"] = _facet("version", datasetVersion=str(run.inputs[name]))
        found[namespace, name] = {"namespace": namespace, "name": name, "facets": facets}
    return [found[key] for key in sorted(found)]


def _dataset(spec: ProductSpec, port: InputPortSpec, mesh: str) -> tuple[str, str]:
    """The namespace and name of what an input port reads."""
    if isinstance(port.source, FileSource):
        return FILE_NAMESPACE, str(spec.folder.resolve() / port.source.path)
    return f"daap://{mesh}", port.source.ref


def _owners(spec: ProductSpec) -> dict[str, Any]:
    return {"owners": [{"name": f"team:{spec.team}", "type": "owner"}]}


def _output(run: BuildRun, port: OutputPortSpec, mesh: str, columns: dict[str, Any] | None) -> Event:
    facets = {
        "schema": _facet("schema", fields=[_field(c, i) for i, c in enumerate(port.contract.columns, 1)])
    }
    if columns is not None:
        facets["columnLineage"] = columns
    if run.spec.team:
        facets["ownership"] = _facet("ownership", **_owners(run.spec))
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


# -- column lineage ----------------------------------------------------------------------


def column_facets(ws: Workspace, spec: ProductSpec, mesh: str) -> dict[str, dict[str, Any]]:
    """Each output port's ``columnLineage`` facet, for the ports with a column whose lineage is
    known; never raises (a transformation that cannot be traced has none)."""
    try:
        return _column_facets(ws, spec, mesh)
    except Exception:  # the lineage of columns is a bonus: the events go without it
        return {}


def _column_facets(ws: Workspace, spec: ProductSpec, mesh: str) -> dict[str, dict[str, Any]]:
    from daap.mesh.catalog.lineage import column_lineage, product_lineage

    traced = column_lineage(spec, _input_columns(ws, spec))
    ports = {p.name: p for p in spec.input_ports}
    datasets = {e.upstream: _dataset(spec, ports[e.input_port], mesh) for e in product_lineage(spec)}
    found: dict[str, dict[str, Any]] = {}
    for port, by_column in traced.columns.items():
        fields = {}
        for column, edges in by_column.items():
            inputs = _input_fields(edges, datasets)
            if inputs:
                fields[column] = {"inputFields": inputs}
        rows = [_input_field(f.source, "filter", datasets) for f in traced.filters if f.port == port]
        dataset = [r for r in rows if r is not None]
        if fields or dataset:
            found[port] = _facet("columnLineage", fields=fields, **({"dataset": dataset} if dataset else {}))
    return found


def _input_fields(
    edges: Sequence[ColumnEdge], datasets: Mapping[str, tuple[str, str]]
) -> list[dict[str, Any]]:
    """A column's input fields; none when one of its sources is unknown (a partial list would
    read as the whole) or it has none (a constant, ``count(*)``)."""
    if any(e.source is None for e in edges):
        return []
    rows = [
        _input_field(e.source, "aggregated" if e.aggregated else e.kind, datasets)
        for e in edges
        if e.source is not None
    ]
    return [r for r in rows if r is not None]


def _input_field(
    source: SourceColumn, kind: str, datasets: Mapping[str, tuple[str, str]]
) -> dict[str, Any] | None:
    """``source`` as an input field; None for the rows themselves (``count(*)`` reads no column)."""
    from daap.mesh.catalog.lineage import ROWS

    if source.column == ROWS or source.node not in datasets:
        return None
    namespace, name = datasets[source.node]
    return {
        "namespace": namespace,
        "name": name,
        "field": source.column,
        "transformations": [TRANSFORMATIONS[kind]],
    }


def _input_columns(ws: Workspace, spec: ProductSpec) -> dict[str, list[str]]:
    """Each input port's columns, from the upstream product's contract; a file's are unknown
    (left out: its columns are not checked, and a raw product's are its contract's)."""
    specs: dict[str, ProductSpec | None] = {}
    found = {}
    for port in spec.input_ports:
        source = port.source
        if not isinstance(source, ProductSource):
            continue
        if source.product not in specs:
            specs[source.product] = _upstream_spec(ws, spec, source.product)
        upstream = specs[source.product]
        output = upstream.output_port(source.port) if upstream is not None else None
        if output is not None:
            found[port.name] = [c.name for c in output.contract.columns]
    return found


def _upstream_spec(ws: Workspace, spec: ProductSpec, product: str) -> ProductSpec | None:
    """The spec of ``product``: from the folder of that name beside ``spec``'s or at the root of
    the workspace, where products usually are; else the workspace is searched."""
    for folder in dict.fromkeys((spec.folder.parent / product, ws.root / product)):
        if (folder / DESCRIPTOR).is_file():
            with suppress(DaapError):
                found = ws.load(folder)
                if found.name == product:
                    return found
    with suppress(DaapError):
        return SpecCache(ws).find(product)
    return None


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


def _report(verdict: Verdict | None, port: str) -> QualityReport | None:
    if verdict is None:
        return None
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
    "column_facets",
    "emit",
    "emit_failed",
    "events",
    "run_id",
    "transport",
]
