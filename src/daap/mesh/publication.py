"""Publishing each version's change events exactly once, through the outbox.

:meth:`MetadataStore.publish` makes a version visible and opens its outbox
entry in the same transaction, so no published version can go without its
events. :func:`publish_pending` then drains a product's entries in version
order; for each version and each output port it

1. computes the change set against the version before (one join in the engine),
2. appends one audit entry per change event and signs a checkpoint,
3. puts the events on the backbone, topic ``daap.<product>.<port>``,

and closes the entry, recording per port how many events went out at which offsets.

Event ids derive from the build id, port, operation and key, and envelope times
from the version's publication time, so a retry after a crash at any step
rebuilds byte-identical events: the audit log hands back the entries it has,
the backbone the offsets it has. Nothing is lost and nothing is published
again under a new id. A failure (the backbone is unreachable) leaves the entry
pending with its error and stops that product's drain, so a later version's
events never overtake an earlier one's; the version itself stays published.
The next build of the product, ``daap up`` or ``daap events publish`` retries.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from daap.errors import DaapError, MetadataError
from daap.mesh import changes, events
from daap.mesh.audit import NewEntry
from daap.mesh.backbone import Event, topic_for
from daap.mesh.metadata import ProductVersion, Publication, StoredSchema
from daap.mesh.wire import AvroCodec, JsonCodec
from daap.mesh.workspace import Workspace
from daap.runtime import build, engine
from daap.runtime.cdc import ChangeSet

#: change events built, audited and sent per step; bounds memory for big change sets
BATCH = 5_000


@dataclass(frozen=True)
class PortEvents:
    """What one port of a version put on the backbone."""

    port: str
    topic: str
    inserted: int
    updated: int
    deleted: int
    events: int  # including tombstones
    first_offset: int | None
    last_offset: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "events": self.events,
            "first_offset": self.first_offset,
            "last_offset": self.last_offset,
        }


@dataclass(frozen=True)
class Drained:
    """The outcome of draining one product's outbox."""

    product: str
    published: tuple[tuple[int, tuple[PortEvents, ...]], ...]  # (version, ports) in order
    pending: int  # versions still waiting
    error: DaapError | None  # why the drain stopped early

    def describe(self) -> list[str]:
        """One line per version whose events went out, for the user."""
        return [f"{self.product} version {version}: {_summary(ports)}" for version, ports in self.published]

    def problem(self) -> str | None:
        """Why events are still waiting, and what happens to them; None when none wait."""
        if self.error is None:
            return None
        return (
            f"change events of {self.pending} version(s) of {self.product} are not published yet: "
            f"{self.error}; the versions stay published, and their events go out on the next "
            "build, `daap events publish` or `daap up`"
        )


def _summary(ports: Sequence[PortEvents]) -> str:
    parts = [
        f"{p.topic} +{p.inserted} ~{p.updated} -{p.deleted} "
        + (f"(offsets {p.first_offset}..{p.last_offset})" if p.first_offset else "(no change)")
        for p in ports
    ]
    return "; ".join(parts) or "no output ports"


def publish_pending(ws: Workspace, product: str) -> Drained:
    """Publish the change events of every version of ``product`` still in the outbox.

    Never raises for a publishing failure: it is recorded on the entry and returned.
    """
    done: list[tuple[int, tuple[PortEvents, ...]]] = []
    pending = ws.metadata.pending_publications(product)
    for index, entry in enumerate(pending):
        try:
            ports = publish_version(ws, entry)
        except DaapError as exc:
            _record_failure(ws, entry, exc)
            return Drained(product, tuple(done), len(pending) - index, exc)
        done.append((entry.version, ports))
    return Drained(product, tuple(done), 0, None)


def publish_all_pending(ws: Workspace) -> list[Drained]:
    """:func:`publish_pending` for every product with something in the outbox."""
    products = sorted({entry.product for entry in ws.metadata.pending_publications()})
    return [publish_pending(ws, product) for product in products]


def _record_failure(ws: Workspace, entry: Publication, exc: DaapError) -> None:
    with contextlib.suppress(MetadataError):  # the store is what failed: the entry stays as it was
        ws.metadata.record_publication(entry.build_id, entry.progress, error=str(exc))


def publish_version(ws: Workspace, entry: Publication) -> tuple[PortEvents, ...]:
    """Audit and send one version's change events, then close its outbox entry.

    Raises:
        DaapError: reading the versions, the audit log or the backbone failed;
            the entry is left as it was, and a retry publishes the same events.
    """
    version = ws.version(entry.product, entry.version)
    previous = _previous(ws, version)
    keys = port_keys(ws, entry.build_id)
    codecs = port_codecs(ws, entry.build_id)
    results = []
    for port in sorted(version.ports):
        key = keys.get(port, ())
        if previous is None or port not in previous.ports:
            # every row is an insert: stream them from the snapshot, memory stays bounded
            counts = (version.ports[port].row_count, 0, 0)
            batches = _all_rows(ws, version, port, key)
            results.append(_publish_port(ws, version, port, counts, batches, codecs.get(port)))
            continue
        change_set = changes.between(ws, version, port, previous, key)
        counts = (change_set.inserted, change_set.updated, change_set.deleted)
        results.append(
            _publish_port(ws, version, port, counts, _change_batches(change_set), codecs.get(port))
        )
    progress = {p.port: p.as_json() for p in results}
    ws.metadata.record_publication(entry.build_id, progress, done=True)
    return tuple(results)


def _previous(ws: Workspace, version: ProductVersion) -> ProductVersion | None:
    """The version before ``version`` (expired or not: retention keeps its data until
    this one is published); None for the first."""
    versions = ws.metadata.list_versions(version.product, include_expired=True)
    before = [v for v in versions if v.version < version.version]
    return before[-1] if before else None


def port_codecs(ws: Workspace, build_id: str) -> dict[str, events.Codecs]:
    """Each port's wire-format codecs, from the schema ids the build registered; none when the
    mesh publishes JSON (``eventFormat: json``) or the build predates the registry."""
    if ws.config.event_format == "json":
        return {}
    record = ws.metadata.get_build(build_id)
    ports: Mapping[str, Any] = record.plan.get("ports", {}) if record is not None else {}
    found = {}
    for port, info in ports.items():
        ids = info.get("schema_ids") or {}
        value = ws.metadata.registry_get_schema(ids["value"]) if "value" in ids else None
        if value is None:
            continue
        key = ws.metadata.registry_get_schema(ids["key"]) if "key" in ids else None
        found[port] = events.Codecs(_codec(value), _codec(key) if key is not None else None)
    return found


def _codec(stored: StoredSchema) -> AvroCodec | JsonCodec:
    return AvroCodec(stored.schema, stored.id) if stored.schema_type == "AVRO" else JsonCodec(stored.id)


def port_keys(ws: Workspace, build_id: str) -> dict[str, tuple[str, ...]]:
    """Each port's primary key as the build recorded it in its commit plan."""
    record = ws.metadata.get_build(build_id)
    ports: Mapping[str, Any] = record.plan.get("ports", {}) if record is not None else {}
    return {port: tuple(info.get("key", ())) for port, info in ports.items()}


#: a batch of one kind of change: (inserts, updates before, updates after, deletes, position)
Batch = tuple[pa.Table, pa.Table, pa.Table, pa.Table, int]


def _publish_port(
    ws: Workspace,
    version: ProductVersion,
    port: str,
    counts: tuple[int, int, int],
    batches: Iterator[tuple[tuple[str, ...], Batch]],
    codecs: events.Codecs | None = None,
) -> PortEvents:
    """Audit, then send, the events of ``batches``, one batch at a time."""
    topic = topic_for(version.product, port)
    state = version.ports[port]
    ms = int(version.published_at.timestamp() * 1000)
    source = events.Source(
        version.product, port, version.version, state.snapshot_ids[-1], version.build_id, ms
    )
    offsets: list[int] = []
    count = 0
    for key, (inserts, before, after, deletes, position) in batches:
        batch = list(events.changes(source, key, inserts, before, after, deletes, ms, position, codecs))
        if not batch:
            continue
        entries = [
            NewEntry(c.event_id, version.build_id, port, c.value) for c in batch if c.value is not None
        ]
        ws.audit.append(version.product, entries)
        build.crash_point(f"audited:{port}")
        sent = ws.backbone.publish(
            topic,
            [
                Event(topic, c.backbone_key, c.backbone_value, event_id=c.event_id, timestamp_ms=ms)
                for c in batch
            ],
        )
        build.crash_point(f"sent:{port}")
        offsets.extend((sent[0], sent[-1]))
        count += len(batch)
    if count:
        ws.audit.checkpoint(version.product)
    return PortEvents(
        port,
        topic,
        *counts,
        count,
        min(offsets) if offsets else None,
        max(offsets) if offsets else None,
    )


def _all_rows(
    ws: Workspace, version: ProductVersion, port: str, key: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], Batch]]:
    """A first version's rows as inserts, read from its snapshot a batch at a time.

    Ordered by the key (or every column), so a retry numbers and names them alike.
    """
    con = engine.connect()
    try:
        engine.register(con, "port_rows", ws.relation(version.ports[port]))
        order = ", ".join(engine.quote(k) for k in key) if key else "ALL"
        reader = con.sql(f"SELECT * FROM port_rows ORDER BY {order}").to_arrow_reader(BATCH)
        position = 0
        for record_batch in reader:
            rows = pa.Table.from_batches([record_batch])
            empty = rows.slice(0, 0)
            yield key, (rows, empty, empty, empty, position)
            position += rows.num_rows
    finally:
        con.close()


def _change_batches(change_set: ChangeSet) -> Iterator[tuple[tuple[str, ...], Batch]]:
    """The change set in apply order (inserts, updates, deletes + tombstones), in slices."""
    key = change_set.key
    empty = change_set.inserts.slice(0, 0)
    none = change_set.updates_after.slice(0, 0)
    for start in range(0, change_set.inserted, BATCH):
        yield key, (change_set.inserts.slice(start, BATCH), none, none, empty, start)
    for start in range(0, change_set.updated, BATCH):
        before = change_set.updates_before.slice(start, BATCH)
        after = change_set.updates_after.slice(start, BATCH)
        yield key, (empty, before, after, empty, start)
    for start in range(0, change_set.deleted, BATCH):
        yield key, (empty, none, none, change_set.deletes.slice(start, BATCH), start)


__all__ = ["Drained", "PortEvents", "port_keys", "publish_all_pending", "publish_pending", "publish_version"]
