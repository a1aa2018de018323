"""Each published version's change events: on the backbone, in the audit log, exactly once.

Real builds on the embedded backbone (SQLite) and, where it matters, a real
NATS server: a throwaway ``nats-server`` started on a free port, so the test
can stop it (the backbone is down) and start it again (it came back).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from daap.mesh import publication
from daap.mesh.backbone import Event, OffsetOutOfRange, Start, topic_for
from daap.mesh.events import encode
from daap.mesh.feed import full_load
from daap.mesh.registry.service import SchemaRegistry
from daap.mesh.retention import awaiting_publication
from daap.mesh.wire import Decoder, schema_id_of
from fixtures.services import service_missing

ORDERS = [("order_id", "integer"), ("customer", "string"), ("amount", "number")]
CLICKS = [("at", "integer"), ("page", "string")]


def declare(mesh, name, columns, csv, pk=()):
    mesh.product(name, columns, pk=pk, inputs={"src": {"path": "data/in.csv"}}, files={"data/in.csv": csv})
    return mesh.build_ok(name)[0]


def rebuild(mesh, name, csv):
    (mesh.root / name / "data" / "in.csv").write_text(csv)
    return mesh.build_ok(name)[0]


def raw_topic(mesh, product, port=None, start=None) -> list[Event]:
    """The topic's events as stored on the backbone."""
    ws = mesh.workspace()
    try:
        sub = ws.backbone.subscribe(topic_for(product, port or product), "reader", start or Start.earliest())
        got: list[Event] = []
        while batch := sub.poll(max_events=1000, timeout=0.2):
            got.extend(batch)
        sub.close()
        return got
    finally:
        ws.close()


def read_topic(mesh, product, port=None, start=None) -> list[Event]:
    """The topic's events, keys and values decoded from the wire format (Avro, magic byte and
    schema id, the schema read back from the registry) into canonical JSON."""
    got = raw_topic(mesh, product, port, start)
    ws = mesh.workspace()
    try:
        decode = Decoder(ws.registry.schema_by_id)
        return [replace(e, key=encode(decode(e.key)), value=_json_or_none(decode(e.value))) for e in got]
    finally:
        ws.close()


def _json_or_none(value):
    return None if value is None else encode(value)


def envelopes(events: list[Event]) -> list[dict]:
    return [json.loads(e.value) for e in events if e.value is not None]


def audit_entries(mesh, product):
    ws = mesh.workspace()
    try:
        return list(ws.audit.entries(product))
    finally:
        ws.close()


def test_each_version_publishes_its_change_set_as_debezium_events(mesh):
    first = declare(
        mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,10\n2,bob,20\n3,cy,30\n", pk=["order_id"]
    )
    assert first.events["orders"]["inserted"] == 3
    second = rebuild(mesh, "orders", "order_id,customer,amount\n1,ann,10\n2,bob,25\n4,dee,40\n")
    assert {k: second.events["orders"][k] for k in ("inserted", "updated", "deleted", "events")} == {
        "inserted": 1,
        "updated": 1,
        "deleted": 1,
        "events": 4,  # the delete is followed by its tombstone
    }
    events = read_topic(mesh, "orders")
    assert [e.offset for e in events] == list(range(1, 8))
    assert [json.loads(e.key) for e in events[3:]] == [
        {"order_id": 4},
        {"order_id": 2},
        {"order_id": 3},
        {"order_id": 3},
    ]
    ops = [json.loads(e.value)["op"] if e.value else None for e in events]
    assert ops == ["c", "c", "c", "c", "u", "d", None]
    update = json.loads(events[4].value)
    assert update["before"] == {"order_id": 2, "customer": "bob", "amount": 20.0}
    assert update["after"] == {"order_id": 2, "customer": "bob", "amount": 25.0}
    deleted = json.loads(events[5].value)
    assert deleted["after"] is None and deleted["before"]["order_id"] == 3
    assert events[6].event_id == events[5].event_id + ":tombstone"
    ws = mesh.workspace()
    try:
        v2 = ws.version("orders", 2)
    finally:
        ws.close()
    assert update["source"] == {
        "product": "orders",
        "port": "orders",
        "version": 2,
        "snapshot_id": v2.ports["orders"].snapshot_ids[-1],
        "build_id": v2.build_id,
        "ts_ms": int(v2.published_at.timestamp() * 1000),
    }
    assert len({e.event_id for e in events}) == len(events)


def test_audit_log_holds_every_change_event_and_verifies(mesh):
    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,10\n2,bob,20\n", pk=["order_id"])
    rebuild(mesh, "orders", "order_id,customer,amount\n1,ann,11\n")
    events = [e for e in read_topic(mesh, "orders") if e.value is not None]
    entries = audit_entries(mesh, "orders")
    assert [(e.seq, e.event_id, e.payload) for e in entries] == [
        (i, ev.event_id, ev.value) for i, ev in enumerate(events, 1)
    ]
    ws = mesh.workspace()
    try:
        report = ws.audit.verify("orders")
        v2 = ws.version("orders", 2)
    finally:
        ws.close()
    assert (report.entries, report.checkpoints, report.signed) == (4, 2, 4)  # one checkpoint per version
    assert {e.build_id for e in entries[2:]} == {v2.build_id}


def test_unchanged_rows_publish_no_events(mesh):
    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,10\n", pk=["order_id"])
    # same rows in another order and spelling: a new version, but nothing changed
    second = rebuild(mesh, "orders", "order_id,customer,amount\n1,ann,10.0\n")
    assert second.version == 2 and second.events["orders"]["events"] == 0
    assert len(read_topic(mesh, "orders")) == 1


def test_append_only_port_publishes_appended_rows_even_identical_ones(mesh):
    declare(mesh, "clicks", CLICKS, "at,page\n1,home\n")
    second = rebuild(mesh, "clicks", "at,page\n1,home\n2,cart\n2,cart\n")
    assert second.events["clicks"]["inserted"] == 2
    events = read_topic(mesh, "clicks")
    assert [json.loads(e.value)["after"] for e in events] == [
        {"at": 1, "page": "home"},
        {"at": 2, "page": "cart"},
        {"at": 2, "page": "cart"},
    ]
    assert len({e.event_id for e in events}) == 3  # the two identical rows are two events


def test_publishing_again_is_idempotent(mesh):
    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,10\n2,bob,20\n", pk=["order_id"])
    ws = mesh.workspace()
    try:
        entry = ws.metadata.get_publication("orders", 1)
        assert entry is not None and entry.state == "done"
        # as if a crash had struck after sending, before the outbox was closed
        again = publication.publish_version(ws, entry)
    finally:
        ws.close()
    assert [(p.first_offset, p.last_offset) for p in again] == [(1, 2)]
    assert len(read_topic(mesh, "orders")) == 2
    assert len(audit_entries(mesh, "orders")) == 2


def test_full_load_gives_the_latest_rows_and_where_to_resume(mesh):
    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,10\n2,bob,20\n", pk=["order_id"])
    rebuild(mesh, "orders", "order_id,customer,amount\n1,ann,10\n3,cy,30\n")
    ws = mesh.workspace()
    try:
        load = full_load(ws, "orders", "orders")
        rows = [json.loads(e.value) for e in load.events(ws)]
    finally:
        ws.close()
    assert load.version.version == 2 and load.rows == 2
    assert [(r["op"], r["after"]["order_id"]) for r in rows] == [("r", 1), ("r", 3)]
    assert load.resume == Start.offset(6)  # after v1's 2 and v2's 3 events (insert, delete, tombstone)
    rebuild(mesh, "orders", "order_id,customer,amount\n1,ann,10\n3,cy,31\n")
    after = read_topic(mesh, "orders", start=load.resume)
    assert [json.loads(e.value)["op"] for e in after] == ["u"]


def test_subscriber_behind_retention_gets_a_clear_error(mesh):
    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,10\n2,bob,20\n", pk=["order_id"])
    rebuild(mesh, "orders", "order_id,customer,amount\n1,ann,11\n2,bob,21\n")
    ws = mesh.workspace()
    try:
        topic = topic_for("orders", "orders")
        sub = ws.backbone.subscribe(topic, "slow", Start.earliest())
        assert len(sub.poll(max_events=1)) == 1
        sub.commit(1)
        sub.close()
        ws.backbone.set_retention(topic, max_events=2)
        ws.backbone.apply_retention()
        with pytest.raises(OffsetOutOfRange) as caught:
            ws.backbone.subscribe(topic, "slow").poll()
        assert "offset 2 was removed by retention" in str(caught.value)
        assert "--full-load" in (caught.value.hint or "")
        load = full_load(ws, "orders", "orders")
        assert [json.loads(e.value)["after"]["amount"] for e in load.events(ws)] == [11.0, 21.0]
        assert ws.backbone.subscribe(topic, "slow", load.resume).poll(timeout=0.1) == []
    finally:
        ws.close()


def test_retention_keeps_the_version_a_pending_publication_compares_against(mesh):
    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,10\n", pk=["order_id"])
    (mesh.root / "mesh.yaml").write_text("backbone: nats://127.0.0.1:1\n")
    outcome = rebuild(mesh, "orders", "order_id,customer,amount\n1,ann,11\n")
    assert any("not published yet" in w for w in outcome.warnings)
    ws = mesh.workspace()
    try:
        assert awaiting_publication(ws, "orders") == {1}
    finally:
        ws.close()


# -- an unreachable backbone, and its return -------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    """A throwaway nats-server with JetStream, to stop and start at will."""

    def __init__(self, store: Path) -> None:
        self.port = _free_port()
        self.store = store
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        args = [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nats-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def nats_server(tmp_path) -> Iterator[NatsServer]:
    if not (shutil.which("nats-server") or Path("/usr/sbin/nats-server").exists()):
        service_missing("nats-server", "the nats-server binary is not installed")
    server = NatsServer(tmp_path / "jetstream")
    yield server
    server.stop()


def test_unreachable_backbone_keeps_the_version_and_publishes_when_it_returns(mesh, nats_server):
    (mesh.root / "mesh.yaml").write_text(f"backbone: {nats_server.url}\n")
    nats_server.start()
    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,10\n", pk=["order_id"])
    nats_server.stop()
    # the backbone is down: the build still publishes the version, says its events wait
    second = rebuild(mesh, "orders", "order_id,customer,amount\n1,ann,11\n2,bob,5\n")
    assert second.status == "published" and second.version == 2 and second.events == {}
    [warning] = [w for w in second.warnings if "not published yet" in w]
    assert f"event backbone {nats_server.url} is unavailable" in warning
    assert mesh.query("SELECT amount FROM orders.orders ORDER BY order_id") == [
        {"amount": 11.0},
        {"amount": 5.0},
    ]
    third = rebuild(mesh, "orders", "order_id,customer,amount\n1,ann,12\n2,bob,5\n")
    assert any("2 version(s) of orders" in w for w in third.warnings)
    ws = mesh.workspace()
    try:
        pending = ws.metadata.pending_publications("orders")
        # version 2 was tried by both builds (before and after building version 3), and
        # version 3 not at all: a version's events never overtake an earlier one's
        assert [(p.version, p.attempts) for p in pending] == [(2, 3), (3, 0)]
        assert "unavailable" in (pending[0].error or "")
    finally:
        ws.close()
    # it comes back: the next run sends both versions' events, in version order, once
    nats_server.start()
    ws = mesh.workspace()
    try:
        [drained] = publication.publish_all_pending(ws)
        assert drained.error is None and [v for v, _ in drained.published] == [2, 3]
        assert ws.metadata.pending_publications() == []
    finally:
        ws.close()
    events = envelopes(read_topic(mesh, "orders"))
    assert [(e["source"]["version"], e["op"]) for e in events] == [(1, "c"), (2, "c"), (2, "u"), (3, "u")]
    assert len(audit_entries(mesh, "orders")) == 4


def test_deferred_events_wait_in_the_outbox_until_sent(mesh):
    mesh.product(
        "orders",
        ORDERS,
        pk=["order_id"],
        inputs={"src": {"path": "data/in.csv"}},
        files={"data/in.csv": "order_id,customer,amount\n1,ann,10\n"},
    )
    ws = mesh.workspace()
    try:
        from daap.mesh.builder import build_mesh

        [outcome] = build_mesh(ws, send_events=False)
        assert outcome.status == "published" and outcome.events == {}
        assert any("deferred" in w for w in outcome.warnings)
        assert [p.version for p in ws.metadata.pending_publications("orders")] == [1]
    finally:
        ws.close()
    assert read_topic(mesh, "orders") == []
    # the next ordinary build sends them first
    [unchanged] = mesh.build_ok("orders")
    assert unchanged.status == "unchanged"
    assert [json.loads(e.value)["op"] for e in read_topic(mesh, "orders")] == ["c"]


def test_tail_cli_behind_retention_says_so_and_full_load_recovers(mesh, daap_env):
    import subprocess
    import sys

    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,10\n2,bob,20\n", pk=["order_id"])
    rebuild(mesh, "orders", "order_id,customer,amount\n1,ann,11\n2,bob,20\n")
    ws = mesh.workspace()
    try:
        ws.backbone.set_retention(topic_for("orders", "orders"), max_events=1)
        ws.backbone.apply_retention()
    finally:
        ws.close()

    def tail(*args):
        cmd = [sys.executable, "-m", "daap", "-w", str(mesh.root), "events", "tail", "orders", "--no-follow"]
        return subprocess.run([*cmd, *args], env=daap_env, capture_output=True, text=True, timeout=60)

    behind = tail("--from-offset", "1")
    assert behind.returncode == 6
    assert "offset 1 was removed by retention; the earliest available is 3" in behind.stderr
    assert "--full-load" in behind.stderr
    loaded = tail("--full-load", "--json")
    assert loaded.returncode == 0, loaded.stderr
    got = [json.loads(line)["value"] for line in loaded.stdout.splitlines()]
    assert [(v["op"], v["after"]["amount"]) for v in got] == [("r", 11.0), ("r", 20.0)]
    assert "full load of orders.orders version 2: 2 rows (op r)" in loaded.stderr
    bad = tail("--from-beginning", "--since", "2026-01-01")
    assert bad.returncode == 2 and "choose one start" in bad.stderr
    unknown = tail("--since", "yesterday")
    assert unknown.returncode == 2 and "--since 'yesterday' is not an ISO 8601 time" in unknown.stderr


def test_a_tail_leaves_no_consumer_group_behind(mesh, daap_env, nats_url):
    import asyncio
    import subprocess
    import sys

    import nats

    (mesh.root / "mesh.yaml").write_text(f"backbone: {nats_url}\n")
    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,10\n", pk=["order_id"])
    cmd = [sys.executable, "-m", "daap", "-w", str(mesh.root), "events", "tail", "orders"]
    done = subprocess.run(
        [*cmd, "--from-beginning", "--no-follow", "--json"], env=daap_env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["value"]["op"] for line in done.stdout.splitlines()] == ["c"]

    async def consumers() -> list[str]:
        nc = await nats.connect(nats_url.split("?")[0])
        try:
            js = nc.jetstream()
            prefix = nats_url.split("stream_prefix=")[1]
            names = [i.config.name for i in await js.streams_info() if i.config.name.startswith(prefix)]
            return [c.name for name in names for c in await js.consumers_info(name)]
        finally:
            await nc.close()

    assert asyncio.run(consumers()) == []


def test_events_are_in_the_confluent_wire_format(mesh):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,10\n", pk=["order_id"])
    [event] = raw_topic(mesh, "orders")
    ws = mesh.workspace()
    try:
        registry = SchemaRegistry(ws.metadata)
        envelope_id = registry.version("daap.orders.orders-value", "latest")["id"]
        key_id = registry.version("daap.orders.orders-key", "latest")["id"]
    finally:
        ws.close()
    assert event.value[:1] == b"\x00" and schema_id_of(event.value) == envelope_id
    assert schema_id_of(event.key) == key_id
    # a plain confluent-kafka consumer decodes it, given only the registry's URL
    from fixtures.registry import serve_registry

    with serve_registry(mesh.root) as url:
        client = SchemaRegistryClient({"url": url})
        value = AvroDeserializer(client)(
            event.value, SerializationContext("daap.orders.orders", MessageField.VALUE)
        )
        key = AvroDeserializer(client)(
            event.key, SerializationContext("daap.orders.orders", MessageField.KEY)
        )
    assert key == {"order_id": 1}
    assert value["op"] == "c" and value["before"] is None
    assert value["after"] == {"order_id": 1, "customer": "ann", "amount": 10.0}
    assert value["source"]["product"] == "orders" and value["source"]["version"] == 1


def test_event_format_json_puts_plain_canonical_json_on_the_backbone(mesh):
    (mesh.root / "mesh.yaml").write_text("eventFormat: json\n")
    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,10\n", pk=["order_id"])
    [event] = raw_topic(mesh, "orders")
    ws = mesh.workspace()
    try:
        [entry] = list(ws.audit.entries("orders"))
    finally:
        ws.close()
    assert json.loads(event.key) == {"order_id": 1} and schema_id_of(event.value) is None
    assert json.loads(event.value)["after"] == {"order_id": 1, "customer": "ann", "amount": 10.0}
    assert event.value == entry.payload  # the audit log keeps the same canonical JSON


def test_event_format_jsonschema_frames_canonical_json_with_a_json_schema_id(mesh):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    from fixtures.registry import serve_registry

    (mesh.root / "mesh.yaml").write_text("eventFormat: jsonschema\n")
    declare(mesh, "orders", ORDERS, "order_id,customer,amount\n1,ann,10\n", pk=["order_id"])
    [event] = raw_topic(mesh, "orders")
    ws = mesh.workspace()
    try:
        [entry] = list(ws.audit.entries("orders"))
        latest = SchemaRegistry(ws.metadata).version("daap.orders.orders-value", "latest")
    finally:
        ws.close()
    assert latest["schemaType"] == "JSON" and schema_id_of(event.value) == latest["id"]
    assert event.value[5:] == entry.payload  # magic byte, id, then the audit log's canonical JSON
    with serve_registry(mesh.root) as url:
        client = SchemaRegistryClient({"url": url})
        value = JSONDeserializer(None, schema_registry_client=client)(
            event.value, SerializationContext("daap.orders.orders", MessageField.VALUE)
        )
    assert value["after"] == {"order_id": 1, "customer": "ann", "amount": 10.0}
    assert read_topic(mesh, "orders")[0].value == entry.payload  # daap's own decoder reads it too
