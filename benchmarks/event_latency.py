"""event_latency: from an upstream version's commit to a downstream subscriber's handler.

A keyed raw product of 1,000 rows is rebuilt again and again, one row changed
each time, by real builds (``build_mesh``: read, transform, contract gate,
Iceberg commit, publish, then the outbox: audit log and backbone). A
subscriber thread follows the port's topic with its own consumer group, as a
downstream product does, polling the way the mesh watcher does. Latency is
the subscriber's wall clock when the first event of a version reaches its
handler minus the version's ``published_at`` (the commit that makes it
visible), on the same machine. Embedded backbone, and NATS JetStream when a
server answers at ``DAAP_BENCH_NATS``. The goal is absolute: p99 < 250 ms
embedded.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import threading
import time
import uuid
from pathlib import Path

from benchmarks.runner import Measure, Outcome, Settings, log

NAME = "event_latency"
GOAL_MS = 250.0
ROWS = 1_000
SERVER = os.environ.get("DAAP_BENCH_NATS", "nats://127.0.0.1:4222")

DESCRIPTOR = {
    "apiVersion": "v1.1.0",
    "kind": "DataProduct",
    "id": "items-id",
    "name": "items",
    "version": "1.0.0",
    "status": "active",
    "domain": "bench",
    "inputPorts": [{"name": "src", "customProperties": [{"property": "source", "value": {"path": "d.csv"}}]}],
    "outputPorts": [{"name": "items"}],
    "customProperties": [{"property": "productType", "value": "raw"}],
}
CONTRACT = {
    "apiVersion": "v3.2.0",
    "kind": "DataContract",
    "id": "items-contract",
    "name": "items",
    "version": "1.0.0",
    "status": "active",
    "schema": [
        {
            "name": "items",
            "logicalType": "object",
            "properties": [
                {"name": "id", "logicalType": "integer", "primaryKey": True, "primaryKeyPosition": 1},
                {"name": "v", "logicalType": "integer"},
            ],
        }
    ],
}


def _mesh(root: Path, backbone: str | None) -> Path:
    folder = root / "items"
    (folder / "contracts").mkdir(parents=True, exist_ok=True)
    (folder / "dataproduct.yaml").write_text(json.dumps(DESCRIPTOR))
    (folder / "contracts" / "items.odcs.yaml").write_text(json.dumps(CONTRACT))
    (root / "mesh.yaml").write_text(f"backbone: {backbone}\n" if backbone else "name: bench\n")
    return folder


def _write(folder: Path, changed: int) -> None:
    lines = [f"{i},{changed if i == changed % ROWS else 0}" for i in range(ROWS)]
    (folder / "d.csv").write_text("id,v\n" + "\n".join(lines) + "\n")


def _latencies(root: Path, backbone: str | None, builds: int) -> list[float]:
    from daap.mesh.backbone import Start, topic_for
    from daap.mesh.builder import build_mesh
    from daap.mesh.registry.service import SchemaRegistry
    from daap.mesh.wire import Decoder
    from daap.mesh.workspace import Workspace

    folder = _mesh(root, backbone)
    _write(folder, 0)
    ws = Workspace.open(root)
    build_mesh(ws, [folder])  # version 1 (creates the topic)
    received: dict[int, float] = {}
    stop = threading.Event()
    reader_ws = Workspace.open(root)
    sub = reader_ws.backbone.subscribe(topic_for("items", "items"), "downstream", Start.latest())
    decode = Decoder(SchemaRegistry(reader_ws.metadata).schema_by_id)  # as a consumer decodes the wire format

    def handler() -> None:
        while not stop.is_set():
            for event in sub.poll(max_events=1000, timeout=0.1):
                if event.value is not None:
                    version = decode(event.value)["source"]["version"]
                    received.setdefault(version, time.time())
                    sub.commit(event.offset or 0)

    thread = threading.Thread(target=handler, daemon=True)
    thread.start()
    latencies = []
    try:
        for n in range(1, builds + 1):
            _write(folder, n)
            [outcome] = build_mesh(ws, [folder])
            assert outcome.status == "published", outcome.message
            version = ws.version("items", outcome.version)
            deadline = time.monotonic() + 10
            while outcome.version not in received and time.monotonic() < deadline:
                time.sleep(0.001)
            latencies.append((received[version.version] - version.published_at.timestamp()) * 1000)
    finally:
        stop.set()
        thread.join(timeout=5)
        sub.close()
        reader_ws.close()
        ws.close()
    return latencies


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _measures(label: str, values: list[float], goal: bool) -> list[Measure]:
    note = f"{len(values)} versions; min {min(values):.1f} ms, max {max(values):.1f} ms"
    return [
        Measure(
            NAME, f"{label} p50", statistics.median(values), GOAL_MS, "ms", 1.0 if goal else None, note=note
        ),
        Measure(NAME, f"{label} p99", _pct(values, 0.99), GOAL_MS, "ms", 1.0 if goal else None, note=note),
    ]


def run(settings: Settings) -> Outcome:
    builds = 15 if settings.quick else 60
    log(f"{NAME}: {builds} builds of a {ROWS:,}-row product, one row changed each")
    root = settings.work / NAME / uuid.uuid4().hex[:8]
    measures = _measures(
        "embedded: commit -> subscriber handler", _latencies(root / "embedded", None, builds), True
    )
    details: list[str] = []
    prefix = f"bench{uuid.uuid4().hex[:8]}_"
    try:
        nats = _latencies(root / "nats", f"{SERVER}?stream_prefix={prefix}", builds)
        measures += _measures("NATS: commit -> subscriber handler", nats, False)
    except Exception as exc:  # no server: report, do not fail the embedded numbers
        details.append(f"NATS part skipped: {SERVER}: {type(exc).__name__}: {exc}")
    finally:
        _drop_streams(prefix)
    return Outcome(measures, details)


def _drop_streams(prefix: str) -> None:
    import asyncio

    async def drop() -> None:
        import nats

        nc = await nats.connect(SERVER, connect_timeout=2, allow_reconnect=False)
        js = nc.jetstream()
        for info in await js.streams_info():
            if info.config.name and info.config.name.startswith(prefix):
                await js.delete_stream(info.config.name)
        await nc.close()

    with contextlib.suppress(Exception):  # best effort: the server may be gone
        asyncio.run(drop())
