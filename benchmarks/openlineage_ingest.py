"""openlineage_ingest: OpenLineage run events through ``POST /api/v1/lineage`` (the Marquez-compatible sink).

The events are built by openlineage-python (``RunEvent``, as ``Serde.to_dict`` gives it to
its HTTP transport): COMPLETE events of 50 Airflow-like jobs, each reading two tables and
writing one, with a processing-engine run facet, a SQL job facet and a schema facet of 8
fields on the output (about 2 KB of JSON). They are serialized before timing. The server
is the HTTP app as ``daap up`` builds it, in its own process (serving.py), over an empty
workspace. Each POST is checked (201), parsed, checked again and stored (one row, one
transaction in the embedded SQLite store).

Ours, per event: a batch of events POSTed one after another over one keep-alive
connection; and the same batch from 4 concurrent clients (asyncio, 4 connections), wall
time over events.
Baseline, for the ratio: the same events stored in-process, ``record_lineage_event``
of the parsed event on the workspace's store (no HTTP, no JSON, no checks), one after
another. Batches alternate with the baseline's. For information: no goal is set; the notes
give events/s.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.runner import Measure, Outcome, Sample, Settings, alternate, log, median, spread, stopwatch
from benchmarks.serving import latencies, serve_http

NAME = "openlineage_ingest"
CLIENTS = 4
JOBS = 50
SINK = "/api/v1/lineage"
HEADERS = {"content-type": "application/json"}


def _event(n: int) -> dict[str, Any]:
    """The ``n``-th event, as openlineage-python builds and serializes it."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent
    from openlineage.client.generated.base import EventType
    from openlineage.client.generated.processing_engine_run import ProcessingEngineRunFacet
    from openlineage.client.generated.schema_dataset import SchemaDatasetFacet, SchemaDatasetFacetFields
    from openlineage.client.generated.sql_job import SQLJobFacet
    from openlineage.client.serde import Serde

    job = f"etl_{n % JOBS}"
    fields = [SchemaDatasetFacetFields(f"col_{i}", "VARCHAR", f"column {i} of the report") for i in range(8)]
    built = RunEvent(
        eventType=EventType.COMPLETE,
        eventTime=datetime(2026, 11, 24, 10, tzinfo=UTC).isoformat(),
        producer="https://github.com/apache/airflow/tree/providers-openlineage/2.3.0",
        run=Run(
            runId=str(uuid.UUID(int=n)),
            facets={"processing_engine": ProcessingEngineRunFacet("2.10.5", "Airflow", "2.3.0")},
        ),
        job=Job(
            namespace="airflow",
            name=job,
            facets={"sql": SQLJobFacet(f"INSERT INTO report_{n % JOBS} SELECT * FROM orders JOIN customers")},
        ),
        inputs=[InputDataset("postgres://shop-db:5432", f"public.{t}") for t in ("orders", "customers")],
        outputs=[
            OutputDataset(
                "s3://warehouse", f"reports/{job}", facets={"schema": SchemaDatasetFacet(fields=fields)}
            )
        ],
    )
    data: dict[str, Any] = Serde.to_dict(built)
    return data


def _sequential(client: httpx.Client, bodies: Sequence[bytes]) -> Callable[[], Sample]:
    def run() -> Sample:
        clock = stopwatch()
        for body in bodies:
            response = client.post(SINK, content=body, headers=HEADERS)
            if response.status_code != 201:
                raise RuntimeError(f"POST {SINK}: {response.status_code} {response.text[:300]}")
        return Sample(clock())

    return run


async def _concurrently(base: str, bodies: Sequence[bytes]) -> float:
    """Seconds for ``CLIENTS`` connections to POST every body, each taking the next one left."""
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def post(body: bytes) -> None:
            response = await client.post(SINK, content=body, headers=HEADERS)
            if response.status_code != 201:
                raise RuntimeError(f"POST {SINK}: {response.status_code} {response.text[:300]}")

        async def worker() -> None:
            for body in left:
                await post(body)

        await post(bodies[0])  # not timed: the loop and the first connection
        left = iter(bodies)
        clock = stopwatch()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        return clock()


def _concurrent(base: str, bodies: Sequence[bytes]) -> Callable[[], Sample]:
    return lambda: Sample(asyncio.run(_concurrently(base, bodies)))


def _stored(store: Any, events: Sequence[Any]) -> Callable[[], Sample]:
    def run() -> Sample:
        clock = stopwatch()
        for event in events:
            store.record_lineage_event(event, datetime.now(UTC))
        return Sample(clock())

    return run


def _graph_after(root: Path, base: str) -> list[str]:
    """How long the lineage graph takes once the events are in: it reads every stored event."""
    from daap.mesh.workspace import Workspace

    ws = Workspace.open(root)
    try:
        stored = len(ws.metadata.lineage_events(limit=10**7))
    finally:
        ws.close()
    with httpx.Client(base_url=base, timeout=60) as client:
        times = latencies(client, [("/api/lineage", {"node": "job:airflow/etl_0", "depth": 1})] * 6)[1:]
    return [
        f"  GET /api/lineage?node=job:airflow/etl_0 with {stored:,} events stored: median "
        f"{statistics.median(times):.1f} ms (5 requests)"
    ]


def run(settings: Settings) -> Outcome:
    from daap.mesh.catalog.openlineage import parse_event
    from daap.mesh.workspace import Workspace

    batch = 300 if settings.quick else 1_000
    root = settings.work / NAME
    root.mkdir(parents=True, exist_ok=True)
    (root / "mesh.yaml").write_text("name: bench\n")
    built = [_event(n) for n in range(batch)]
    bodies = [json.dumps(e).encode() for e in built]
    events = [parse_event(e) for e in built]
    size = statistics.median(len(b) for b in bodies)
    log(f"{NAME}: batches of {batch:,} events of {size:,.0f} bytes x{settings.reps}, 1 and {CLIENTS} clients")
    ws = Workspace.open(root)
    try:
        with serve_http(root) as base, httpx.Client(base_url=base, timeout=60) as client:
            stored = _stored(ws.metadata, events)
            one = alternate(_sequential(client, bodies), stored, settings.reps)
            many = alternate(_concurrent(base, bodies), stored, settings.reps)
            details = _graph_after(root, base)
    finally:
        ws.close()
    return Outcome([_measure("POST, one keep-alive connection", one, batch, size),
                    _measure(f"POST, {CLIENTS} concurrent clients", many, batch, size)], details)  # fmt: skip


def _measure(how: str, samples: tuple[list[Sample], list[Sample]], batch: int, size: float) -> Measure:
    mine, theirs = samples
    per = 1e6 / batch
    return Measure(
        NAME,
        f"{how}, per event",
        median(mine) * per,
        median(theirs) * per,
        "µs",
        note=f"{batch / median(mine):,.0f} events/s, stored in-process {batch / median(theirs):,.0f}/s; "
        f"batches of {batch:,} events of {size:,.0f} bytes; ours {spread(mine, per, 'µs')}, "
        f"baseline {spread(theirs, per, 'µs')}",
    )
