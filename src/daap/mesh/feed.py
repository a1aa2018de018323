"""Reading a port's change events: from the backbone, or from a full load of a version.

A consumer normally reads ``daap.<product>.<port>`` with its consumer group.
One that starts fresh, or fell behind past the topic's retention
(:class:`~daap.mesh.backbone.OffsetOutOfRange`), starts over from a full load
instead: every row of the latest version whose events are all out, as ``op: r``
events, then the topic from the first event after that version's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from daap.errors import NotFound
from daap.mesh import events
from daap.mesh.backbone import Event, OffsetOutOfRange, Start, topic_for
from daap.mesh.metadata import ProductVersion
from daap.mesh.publication import port_keys
from daap.mesh.workspace import Workspace
from daap.runtime import engine

BATCH = 10_000


@dataclass(frozen=True)
class FullLoad:
    """A version's rows as ``op: r`` events, and where the topic continues after them."""

    product: str
    port: str
    version: ProductVersion
    rows: int
    resume: Start  # the first event of the topic after this version's own

    def events(self, ws: Workspace) -> Iterator[Event]:
        """The rows as events, in batches read from the snapshot (memory stays bounded)."""
        topic = topic_for(self.product, self.port)
        state = self.version.ports[self.port]
        ms = int(self.version.published_at.timestamp() * 1000)
        source = events.Source(
            self.product, self.port, self.version.version, state.snapshot_ids[-1], self.version.build_id, ms
        )
        key = port_keys(ws, self.version.build_id).get(self.port, ())
        con = engine.connect()
        try:
            engine.register(con, "rows", ws.relation(state))
            reader = con.sql("SELECT * FROM rows").to_arrow_reader(BATCH)
            position = 0
            for batch in reader:
                rows = pa.Table.from_batches([batch])
                for change in events.snapshot(source, key, rows, ms, position):
                    yield Event(topic, change.key, change.value, event_id=change.event_id, timestamp_ms=ms)
                position += rows.num_rows
        finally:
            con.close()


def full_load(ws: Workspace, product: str, port: str) -> FullLoad:
    """The newest version of ``product`` whose change events are all published.

    Raises:
        NotFound: no such product or port, or no version has its events out yet.
    """
    versions = ws.metadata.list_versions(product)
    if not versions:
        ws.version(product)  # raises NotFound naming the published products
    for version in reversed(versions):
        entry = ws.metadata.get_publication(product, version.version)
        if entry is None or entry.state != "done":
            continue
        if port not in version.ports:
            ports = ", ".join(sorted(version.ports))
            raise NotFound(f"{product} has no output port {port!r} (ports: {ports})")
        return FullLoad(
            product, port, version, version.ports[port].row_count, _resume(ws, product, port, version)
        )
    raise NotFound(
        f"no version of {product} has its change events published yet",
        hint="`daap events publish` sends what is waiting",
    )


def _resume(ws: Workspace, product: str, port: str, version: ProductVersion) -> Start:
    """After the last event any version up to ``version`` put on the port's topic."""
    for number in range(version.version, 0, -1):
        entry = ws.metadata.get_publication(product, number)
        last = entry.progress.get(port, {}).get("last_offset") if entry is not None else None
        if last:
            return Start.offset(int(last) + 1)
    return Start.earliest()


def recent(ws: Workspace, product: str, port: str, limit: int) -> list[Event]:
    """The last ``limit`` change events of the port that published versions put on its topic,
    newest first; fewer when retention removed older ones. Reads with a group of its own, which it
    deletes: nothing is left on the backbone.
    """
    last = _last_offset(ws, product, port)
    if last is None or limit < 1:
        return []
    topic = topic_for(product, port)
    group = f"daap-recent-{uuid.uuid4().hex[:12]}"
    try:
        sub = ws.backbone.subscribe(topic, group, Start.offset(max(1, last - limit + 1)))
    except OffsetOutOfRange:
        sub = ws.backbone.subscribe(topic, group, Start.earliest())
    found: list[Event] = []
    try:
        while True:
            batch = sub.poll(max_events=min(limit, 500), timeout=0.5)
            found += [e for e in batch if e.offset is not None and e.offset <= last]
            if not batch or any(e.offset is not None and e.offset >= last for e in batch):
                break
    finally:
        sub.close()
        ws.backbone.delete_group(topic, group)
    return sorted(found, key=lambda e: e.offset or 0, reverse=True)[:limit]


def plain(value: Any) -> Any:
    """A decoded event key or value as plain JSON values, as the events' canonical JSON writes them."""
    return None if value is None else json.loads(events.encode(value))


def _last_offset(ws: Workspace, product: str, port: str) -> int | None:
    """The offset of the last event a published version put on the port's topic."""
    for version in reversed(ws.metadata.list_versions(product, include_expired=True)):
        entry = ws.metadata.get_publication(product, version.version)
        last = entry.progress.get(port, {}).get("last_offset") if entry is not None else None
        if last:
            return int(last)
    return None


__all__ = ["FullLoad", "full_load", "plain", "recent"]
