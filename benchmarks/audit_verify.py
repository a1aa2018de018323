"""audit_verify: check a 1e6-event audit log (1e5 with --quick) against the 5 s goal.

Ours: ``verify_export`` of the JSON-lines export with the ``.pub`` key (every leaf
hash, the hash chain, every checkpoint's signature and root), and ``AuditLog.verify``
of the same log in SQLite. The goal is absolute, so the baseline column holds the
5 s goal itself (goal: ours <= 1.0x of it). For information, the floor: reading and
``json.loads``-ing every line of the export, the part no verifier of this format avoids.
The log is built once by ``AuditLog.append`` in batches of 10,000 (one per "build"),
each followed by a checkpoint, as builds would leave it; that is timed too, against
60 s, with the first and last batches' times to show an append does not slow down as
the log grows.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from benchmarks.runner import Measure, Outcome, Settings, alternate, log, median, spread, stopwatch, timed

NAME = "audit_verify"
GOAL_SECONDS = 5.0
BUILD_GOAL_SECONDS = 60.0
BATCH = 10_000


def _build(home: Path, events: int) -> tuple[Path, float, list[float]]:
    """The export of a log built by appends; seconds for the appends and checkpoints, in
    all and per batch."""
    from daap.mesh.audit import AuditLog, NewEntry

    audit = AuditLog(home, "bench")
    batches: list[float] = []
    for start in range(0, events, BATCH):
        batch = [
            NewEntry(
                f"ev-{i}",
                f"b-{start // BATCH}",
                "orders",
                json.dumps({"op": "update", "key": {"id": i}, "after": {"amount": i * 0.5}}).encode(),
            )
            for i in range(start, min(start + BATCH, events))
        ]
        clock = stopwatch()
        audit.append("orders", batch)
        audit.checkpoint("orders")
        batches.append(clock())
    export = home / "orders.audit.jsonl"
    audit.export("orders", export)
    audit.close()
    return export, sum(batches), batches


def _floor(path: Path) -> None:
    with path.open("rb") as lines:
        for raw in lines:
            json.loads(raw)


def run(settings: Settings) -> Outcome:
    from daap.mesh.audit import AuditLog, verify_export

    events = 100_000 if settings.quick else 1_000_000
    home = settings.work / NAME
    log(f"{NAME}: building a log of {events:,} events")
    export, built, batches = _build(home, events)
    audit = AuditLog(home, "bench")
    key = audit.public_key_path
    report = verify_export(export, key)
    if report.entries != events or report.signed != events:
        raise RuntimeError(f"verify_export checked {report.entries} entries, expected {events}")
    log(f"{NAME}: built in {built:.1f} s; timing {settings.reps} verifications each")
    ours, floor = timed(lambda: verify_export(export, key)), timed(lambda: _floor(export))
    files, floors = alternate(ours, floor, settings.reps)
    stored, _ = alternate(timed(lambda: audit.verify("orders")), timed(lambda: None), settings.reps)
    audit.close()
    size_mb = export.stat().st_size / 1e6
    tenth = max(1, len(batches) // 10)
    return Outcome(
        measures=[
            Measure(
                NAME,
                f"verify_export of {events:,} events (vs the 5 s goal)",
                median(files),
                GOAL_SECONDS,
                "s",
                1.0,
                note=f"{size_mb:.0f} MB, {report.checkpoints} checkpoints; {spread(files)}; "
                f"floor (read + json.loads every line) {median(floors):.2f} s",
            ),
            Measure(
                NAME,
                f"AuditLog.verify of {events:,} stored events (vs the 5 s goal)",
                median(stored),
                GOAL_SECONDS,
                "s",
                note=spread(stored),
            ),
            Measure(
                NAME,
                f"append {events:,} events in batches of {BATCH:,}, each + checkpoint (vs 60 s)",
                built,
                BUILD_GOAL_SECONDS,
                "s",
                1.0,
                note=f"per batch: first {batches[0]:.3f} s, last {batches[-1]:.3f} s, "
                f"median of the first tenth {statistics.median(batches[:tenth]):.3f} s, "
                f"of the last tenth {statistics.median(batches[-tenth:]):.3f} s",
            ),
        ]
    )
