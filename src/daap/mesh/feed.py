"""Reading a port's change events: from the backbone, or from a full load of a version.

A consumer normally reads ``daap.<product>.<port>`` with its consumer group.
One that starts fresh, or fell behind past the topic's retention
(:class:`~daap.mesh.backbone.OffsetOutOfRange`), starts over from a full load
instead: every row of the latest version whose events are all out, as ``op: r``
events, then the topic from the first event after that version's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from daap.errors import NotFound
from daap.mesh import events
from daap.mesh.backbone import Event, Start, topic_for
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


__all__ = ["FullLoad", "full_load"]
