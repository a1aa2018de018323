"""flight_doget: DoGet throughput of a 1e7 x 4 product through daap's Flight SQL server.

Ours: a raw ``pyarrow.flight`` client sends ``GetFlightInfo(CommandStatementQuery
"SELECT * FROM p.p")`` to :class:`daap.servers.flight.FlightSqlServer` and reads
the ticket with ``DoGet`` to the end: guard, version lookup, DuckDB reading the
snapshot's Parquet files, re-chunking to <= 16 MiB, Arrow IPC over gRPC. The
result cache is off, so every run reads the files. Baseline: a bare
``pyarrow.flight`` server handing out the same Arrow table from memory. Both
servers run in this process, on loopback, each serving one client in this
process, alternately; the time includes GetFlightInfo for both. Goal: ours
takes at most 1.25x the baseline's time, that is at least 0.8x its throughput.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.flight as flight

from benchmarks.runner import Measure, Outcome, Sample, Settings, alternate, log, median, spread, stopwatch

NAME = "flight_doget"
GOAL = 1.25  # time ratio; throughput ratio >= 0.8
SQL = "SELECT * FROM p.p"
COLUMNS = (
    "i::BIGINT AS c1, (i % 1000)::INTEGER AS c2, i / 7.0 AS c3, TIMESTAMP '2020-01-01' + to_seconds(i) AS c4"
)


class MemoryServer(flight.FlightServerBase):  # type: ignore[misc]
    """The baseline: one table from memory, for any ticket."""

    def __init__(self, table: pa.Table) -> None:
        super().__init__("grpc://127.0.0.1:0")
        self.table = table

    def get_flight_info(self, context: Any, descriptor: flight.FlightDescriptor) -> flight.FlightInfo:
        endpoint = flight.FlightEndpoint(b"table", [])
        return flight.FlightInfo(self.table.schema, descriptor, [endpoint], self.table.num_rows, -1)

    def do_get(self, context: Any, ticket: flight.Ticket) -> flight.RecordBatchStream:
        return flight.RecordBatchStream(self.table)


def _workspace(root: Path, rows: int) -> Path:
    """A mesh with the raw product ``p``: ``rows`` x 4 columns from a Parquet file."""
    shutil.rmtree(root, ignore_errors=True)
    folder = root / "p"
    (folder / "contracts").mkdir(parents=True)
    (folder / "data").mkdir()
    with duckdb.connect() as con:
        target = folder / "data" / "input.parquet"
        con.execute(f"COPY (SELECT {COLUMNS} FROM range({rows}) AS t(i)) TO '{target}' (FORMAT parquet)")
    (root / "mesh.yaml").write_text("name: bench\n")
    (folder / "dataproduct.yaml").write_text(json.dumps(_descriptor(), indent=2))
    (folder / "contracts" / "p.odcs.yaml").write_text(json.dumps(_contract(), indent=2))
    return folder


def _contract() -> dict[str, Any]:
    types = (("c1", "integer", "bigint"), ("c2", "integer", "int"), ("c3", "number", "double"))
    properties: list[dict[str, Any]] = [{"name": n, "logicalType": t, "physicalType": p} for n, t, p in types]
    properties.append({"name": "c4", "logicalType": "timestamp"})
    properties[0].update(primaryKey=True, primaryKeyPosition=1)
    schema = [{"name": "p", "logicalType": "object", "properties": properties}]
    head = {"apiVersion": "v3.2.0", "kind": "DataContract", "id": "p-contract", "name": "p"}
    return {**head, "version": "1.0.0", "status": "active", "schema": schema}


def _descriptor() -> dict[str, Any]:
    source = {"property": "source", "value": {"path": "data/input.parquet"}}
    head = {"apiVersion": "v1.1.0", "kind": "DataProduct", "id": "p-id", "name": "p", "version": "1.0.0"}
    return {
        **head,
        "status": "active",
        "domain": "bench",
        "inputPorts": [{"name": "src", "customProperties": [source]}],
        "outputPorts": [{"name": "p"}],
        "customProperties": [{"property": "productType", "value": "raw"}],
    }


def _reader(port: int, descriptor: flight.FlightDescriptor) -> Callable[[], Sample]:
    def sample() -> Sample:
        client = flight.connect(f"grpc://127.0.0.1:{port}")
        clock = stopwatch()
        info = client.get_flight_info(descriptor)
        table = client.do_get(info.endpoints[0].ticket).read_all()
        seconds = clock()
        client.close()
        return Sample(seconds, extra={"bytes": float(table.nbytes), "rows": float(table.num_rows)})

    return sample


def run(settings: Settings) -> Outcome:
    from daap.mesh.builder import build_mesh
    from daap.mesh.workspace import Workspace
    from daap.query.service import QueryRequest, QueryService
    from daap.servers.flight import FlightSqlServer
    from daap.servers.flight.protocol import Protocol

    rows = 1_000_000 if settings.quick else 10_000_000
    root = settings.work / NAME
    folder = _workspace(root, rows)
    log(f"{NAME}: {rows:,} rows x 4 columns, {settings.reps} DoGets (+1 warm-up) each")
    ws = Workspace.open(root)
    ours = theirs = None
    try:
        if [o.status for o in build_mesh(ws, [folder])] != ["published"]:
            raise RuntimeError("daap build did not publish the benchmark product")
        service = QueryService(ws, cache_bytes=0)
        table = service.execute(QueryRequest(SQL)).read_all().combine_chunks()
        ours = FlightSqlServer(service).serve_in_thread()
        theirs = MemoryServer(table)
        protocol = Protocol()
        command = protocol.pack(protocol.new("CommandStatementQuery", query=SQL))
        descriptor = flight.FlightDescriptor.for_command(command)
        mine, base = alternate(
            _reader(ours.port, descriptor), _reader(theirs.port, descriptor), settings.reps
        )
    finally:
        for server in (ours, theirs):
            if server is not None:
                server.shutdown()
        ws.close()
    if {s.extra["rows"] for s in mine + base} != {float(rows)}:
        raise RuntimeError("a DoGet returned the wrong number of rows")
    size = table.nbytes
    ours_gbs, base_gbs = size / median(mine) / 1e9, size / median(base) / 1e9
    note = (
        f"{size / 1e6:,.0f} MB per DoGet; ours {ours_gbs:.2f} GB/s, baseline {base_gbs:.2f} GB/s, "
        f"throughput ratio {ours_gbs / base_gbs:.2f}x (goal >= 0.8x); same process, loopback; "
        f"ours {spread(mine)}, baseline {spread(base)}"
    )
    goal = None if settings.quick else GOAL
    measures = [
        # quick size: ~15 ms fixed per query (schema probe, engine connection) dominates; info only
        Measure(NAME, f"DoGet of {rows:,} x 4 columns", median(mine), median(base), "s", goal, note=note),
        Measure(NAME, "DoGet throughput (GB/s, higher is better)", ours_gbs, base_gbs, "GB/s"),
    ]
    return Outcome(measures)
