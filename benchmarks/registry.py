"""registry: the schema registry's compatibility check and its HTTP API.

Compatibility: a 200-field Avro record with 50 registered versions (each adds
a field with a default), and a 51st checked against all of them at
``FULL_TRANSITIVE`` through ``SchemaRegistry.check`` (both directions against
every version; stored versions parsed once, then kept). Goal: < 50 ms.

HTTP: ``daap``'s registry app under uvicorn on a free port, driven by one
httpx client: registering 300 new schemas (one subject each, so no compatibility
work), then looking each up (``POST /subjects/{s}``). Reported as p50 / p99 per
request and requests per second; for information.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.runner import Measure, Outcome, Settings, log

NAME = "registry"
GOAL_MS = 50.0


def _record(extra: int) -> str:
    kinds: list[Any] = ["int", "long", "string", ["null", "string"], {"type": "array", "items": "double"}]
    fields: list[dict[str, Any]] = []
    for i in range(200):
        field: dict[str, Any] = {"name": f"f{i}", "type": kinds[i % 5]}
        if i % 5 == 3:
            field["default"] = None
        fields.append(field)
    fields += [{"name": f"added{j}", "type": "string", "default": ""} for j in range(extra)]
    return json.dumps({"type": "record", "name": "Wide", "namespace": "bench", "fields": fields})


def _compat_ms(root: Path, reps: int) -> list[float]:
    from daap.mesh.registry.service import Schema, SchemaRegistry
    from daap.mesh.workspace import Workspace

    ws = Workspace.open(root)
    try:
        registry = SchemaRegistry(ws.metadata)
        registry.set_config("wide-value", "FULL_TRANSITIVE")
        for version in range(50):
            registry.register("wide-value", Schema(_record(version)))
        new = Schema(_record(50))
        registry.check("wide-value", new)  # warm: the 50 stored versions parsed once
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            verdict = registry.check("wide-value", new)
            times.append((time.perf_counter() - start) * 1000)
            assert verdict["is_compatible"] is True
        return times
    finally:
        ws.close()


def _http(root: Path, count: int) -> tuple[list[float], list[float]]:
    import httpx
    import uvicorn

    from daap.mesh.registry.service import SchemaRegistry
    from daap.mesh.workspace import Workspace
    from daap.servers.registry import create_app

    ws = Workspace.open(root)
    server = uvicorn.Server(
        uvicorn.Config(create_app(SchemaRegistry(ws.metadata)), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    register, lookup = [], []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for i in range(count):
                body = {"schema": json.dumps({"type": "record", "name": f"R{i}", "fields": [
                    {"name": "id", "type": "long"}, {"name": f"v{i}", "type": "string"}]})}  # fmt: skip
                start = time.perf_counter()
                assert client.post(f"/subjects/s{i}-value/versions", json=body).status_code == 200
                register.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                assert client.post(f"/subjects/s{i}-value", json=body).status_code == 200
                lookup.append((time.perf_counter() - start) * 1000)
    finally:
        server.should_exit = True
        thread.join(10)
        ws.close()
    return register, lookup


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(settings: Settings) -> Outcome:
    root = settings.work / NAME / uuid.uuid4().hex[:8]
    root.mkdir(parents=True)
    log(f"{NAME}: compatibility of a 200-field record against 50 versions; HTTP register + lookup")
    compat = _compat_ms(root / "compat", 5 if settings.quick else 20)
    count = 100 if settings.quick else 300
    register, lookup = _http(root / "http", count)
    measures = [
        Measure(
            NAME, "check 200-field Avro record vs 50 versions, FULL_TRANSITIVE", statistics.median(compat),
            GOAL_MS, "ms", 1.0, note=f"{len(compat)} checks, {min(compat):.1f}..{max(compat):.1f} ms",
        ),
    ]  # fmt: skip
    for label, values in (("register", register), ("lookup", lookup)):
        rate = 1000 / statistics.mean(values)
        note = f"{len(values)} requests, {rate:,.0f} req/s from one client; p99 {_pct(values, 0.99):.2f} ms"
        measures.append(
            Measure(NAME, f"HTTP {label}, p50", statistics.median(values), 0, "ms", None, note=note)
        )
    return Outcome(measures)
