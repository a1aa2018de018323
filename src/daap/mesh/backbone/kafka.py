"""The Kafka backbone: one single-partition topic per backbone topic, groups as Kafka consumer groups.

URL: ``kafka://host:9092[,host2:9092][?topic_prefix=...]``. The backbone topic
``daap.orders.by_day`` is the Kafka topic ``<topic_prefix>daap.orders.by_day``
(Kafka allows dots; the prefix, empty by default, lets several meshes or test
runs share a cluster), created on first use with **one partition**, so the
topic keeps one total order. A consumer group ``g`` is the Kafka group
``<topic_prefix>g``. Offsets are Kafka's plus one: Kafka counts from 0, the
port from 1, and both are dense while only producers without transactions
write the topic (no control records).

Idempotent publishing. Kafka drops retries of one producer session
(``enable.idempotence``) but has no dedup by a key of ours, so the adapter
keeps, per topic, an index ``event_id -> offset`` built by reading the topic
from its oldest record (a consumer that keeps tailing it; the ``daap-id``
record header carries the id). Before a batch is sent the index is caught up
with what the reader has fetched, ids it knows return their offset and
store nothing, and the batch's own offsets go into it from the delivery
reports. So a repeat through the same backbone object, or after reopening,
stores nothing. Two processes sending the same *new* id at the same moment can
both append it: the index only sees the other's record once fetched. The port
already delivers at least once, so consumers filter that rare copy with
:class:`~daap.mesh.backbone.Deduplicator`. The index costs one read of the
topic per backbone object and its ids in memory (the NATS adapter bounds its
memory with a 24 h window instead).

Groups and starts. A subscription is a consumer with a manual assignment of
partition 0 and auto-commit off; ``commit`` writes the group's offset
synchronously (Kafka's committed offset is the next one to read, numerically
the 1-based offset processed). ``Start.latest()`` is the high watermark,
``Start.time(ms)`` is ``offsets_for_times``: the record timestamp is set by the
producer when publishing (the event's own ``timestamp_ms`` travels in the
``daap-time`` header), so "stored at or after" means "published at or after".

Retention. ``set_retention`` sets the topic's ``retention.ms`` (the broker
then removes old segments by itself, as coarsely as its segment settings
allow) and records both limits in the compacted topic
``<topic_prefix>__daap_retention``, because Kafka has no limit by event
count. ``apply_retention`` reads those limits and removes what they no longer
keep with the DeleteRecords admin request (Kafka 0.11+), precisely, so it
does not wait for a segment to roll. A reader behind the oldest record kept
gets :class:`OffsetOutOfRange` (consumers read with ``auto.offset.reset=error``).

``topics()`` lists the Kafka topics under the prefix (with the empty default
prefix: every topic of the cluster with a valid name, ``__*`` excepted).
Closing the backbone closes the subscriptions it opened. The contract suite
runs this adapter on Tansu, a Kafka-compatible test broker; the features it
lacks are listed there (``TANSU_GAPS``) and the tests needing them xfail.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

# confluent_kafka.admin re-exports these without an __all__, which strict mypy would not take as exports
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

from daap.errors import ConfigError
from daap.mesh.backbone._kafka_reader import (
    ID,
    LOG,
    OP_TIMEOUT_S,
    KafkaSubscription,
    error_of,
    header_items,
    record_headers,
    translate,
)
from daap.mesh.backbone._model import COMMITTED, Event, Start, check_events, check_group, check_topic
from daap.mesh.backbone.errors import BackboneError, BackboneUnavailable, OffsetOutOfRange

CONNECT_TIMEOUT_S = 3.0
#: how long a batch may take to be acknowledged before publish gives up (librdkafka retries meanwhile)
DELIVERY_TIMEOUT_S = 30.0
#: the topic holding each topic's retention limits (after the prefix; ``__`` marks it as internal)
RETENTION_TOPIC = "__daap_retention"
_PREFIX = re.compile(r"[A-Za-z0-9._-]*")
_CHECK = "check that the Kafka broker runs and answers"


class KafkaBackbone:
    """Backbone on a Kafka cluster (``kafka://host:9092[?topic_prefix=...]``)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.url = url
        self.prefix = parse_qs(parts.query).get("topic_prefix", [""])[0]
        if not parts.netloc or not _PREFIX.fullmatch(self.prefix):
            raise ConfigError(
                f"event backbone URL {url!r} cannot be used",
                hint="write kafka://host:9092[,host2:9092][?topic_prefix=letters_digits._-]",
            )
        self._base: dict[str, Any] = {
            "bootstrap.servers": parts.netloc,
            "client.id": "daap-backbone",
            "socket.connection.setup.timeout.ms": int(CONNECT_TIMEOUT_S * 1000),
            "allow.auto.create.topics": False,
            "logger": LOG,  # librdkafka's own log lines go through logging, not stderr
        }
        self._admin = AdminClient(self._conf())
        try:
            self._admin.list_topics(timeout=CONNECT_TIMEOUT_S)
        except KafkaException as exc:
            error = error_of(exc)
            why = f"{error.name()}: {error.str()}" if error else str(exc)
            raise BackboneUnavailable(
                url, why, hint=f"check that a Kafka broker listens at {parts.netloc}"
            ) from exc
        self._producer = Producer(
            self._conf(**{"enable.idempotence": True, "linger.ms": 5,
                          "message.timeout.ms": int(DELIVERY_TIMEOUT_S * 1000)})
        )  # fmt: skip
        self._lock = threading.RLock()  # publish and topic creation; subscriptions have their own clients
        self._known: set[str] = set()
        self._indexes: dict[str, _IdIndex] = {}
        self._subscriptions: weakref.WeakSet[KafkaSubscription] = weakref.WeakSet()  # closed with it
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> KafkaBackbone:
        return cls(url)

    def _conf(self, **extra: Any) -> dict[str, Any]:
        return {**self._base, **extra}

    def _consumer(self, group: str, **extra: Any) -> Consumer:
        return Consumer(
            self._conf(**{"group.id": self.prefix + group, "enable.auto.commit": False,
                          "enable.auto.offset.store": False, "fetch.wait.max.ms": 100}, **extra)
        )  # fmt: skip

    def kafka_topic(self, topic: str) -> str:
        """The Kafka topic name of a backbone topic."""
        return self.prefix + topic

    def _wait(self, future: concurrent.futures.Future[Any], doing: str, tolerate: int | None = None) -> Any:
        """The result of an admin request; None when it failed with the error code ``tolerate``."""
        try:
            return future.result(OP_TIMEOUT_S + 1)
        except KafkaException as exc:
            error = error_of(exc)
            if error is not None and error.code() == tolerate:
                return None
            raise translate(self.url, error, doing) from exc
        except concurrent.futures.TimeoutError as exc:
            raise BackboneUnavailable(self.url, f"{doing}: no answer in time", hint=_CHECK) from exc

    def _ensure(self, topic: str, config: dict[str, str] | None = None) -> str:
        """Create the topic with one partition unless it exists; check it has one. Returns the Kafka name."""
        name = self.kafka_topic(topic)
        with self._lock:
            if topic in self._known:
                return name
            new = NewTopic(name, num_partitions=1, config=config or {})
            created = self._admin.create_topics([new], request_timeout=OP_TIMEOUT_S)[name]
            self._wait(created, f"creating topic {name}", tolerate=KafkaError.TOPIC_ALREADY_EXISTS)
            count = len(self._metadata(name).partitions)
            if count != 1:
                raise BackboneError(
                    f"event backbone {self.url}: Kafka topic {name} has {count} partitions",
                    hint="a backbone topic keeps one total order, so it needs exactly one partition",
                )
            self._known.add(topic)
        return name

    def _metadata(self, name: str) -> Any:
        try:
            topic = self._admin.list_topics(name, timeout=OP_TIMEOUT_S).topics[name]
        except KafkaException as exc:
            raise translate(self.url, error_of(exc), f"reading the metadata of {name}") from exc
        if topic.error is not None:
            raise translate(self.url, topic.error, f"reading the metadata of {name}")
        return topic

    def publish(self, topic: str, events: Sequence[Event]) -> list[int]:
        check_topic(topic)
        batch = list(events)
        check_events(topic, batch)
        with self._lock:
            name = self._ensure(topic)
            index = self._indexes.get(topic)
            if index is None:
                index = self._indexes[topic] = _IdIndex(self._consumer("daap-index", **{
                    "enable.partition.eof": True, "auto.offset.reset": "earliest"}), name)  # fmt: skip
            index.catch_up(self.url, topic)
            self._send(name, [e for e in _first_of_each_id(batch) if e.event_id not in index.ids], index)
            return [index.ids[e.event_id] for e in batch]

    def _send(self, name: str, batch: list[Event], index: _IdIndex) -> None:
        failures: list[KafkaError] = []

        def delivered(event_id: str) -> Any:
            def report(error: KafkaError | None, msg: Message) -> None:
                if error is not None:
                    failures.append(error)
                else:
                    index.ids[event_id] = (msg.offset() or 0) + 1

            return report

        for event in batch:
            while True:
                try:
                    self._producer.produce(
                        name, key=event.key, value=event.value, headers=record_headers(event),
                        on_delivery=delivered(event.event_id),
                    )  # fmt: skip
                    break
                except BufferError:  # the local queue is full: let it drain, then go on
                    self._producer.poll(0.1)
                except KafkaException as exc:
                    raise translate(self.url, error_of(exc), f"publishing to {name}") from exc
        left = self._producer.flush(DELIVERY_TIMEOUT_S + 5)
        if failures:
            raise translate(self.url, failures[0], f"publishing to {name}")
        if left:
            raise BackboneUnavailable(
                self.url, f"{left} event(s) for {name} were not acknowledged in time", hint=_CHECK
            )

    def subscribe(self, topic: str, group: str, start: Start = COMMITTED) -> KafkaSubscription:
        check_topic(topic)
        check_group(group)
        name = self._ensure(topic)
        consumer = self._consumer(group, **{"auto.offset.reset": "error"})
        try:
            partition = TopicPartition(name, 0)
            low, high = consumer.get_watermark_offsets(partition, timeout=OP_TIMEOUT_S, cached=False)
            position = self._position(consumer, partition, start, low, high)
            if position < low + 1:
                raise OffsetOutOfRange(topic, position, low + 1)
            # never fetch past the end (the broker would answer "out of range"): the reader
            # skips any record before ``position``
            consumer.assign([TopicPartition(name, 0, min(position - 1, high))])
        except KafkaException as exc:
            consumer.close()
            raise translate(self.url, error_of(exc), f"subscribing {group} to {topic}") from exc
        except BaseException:
            consumer.close()
            raise
        sub = KafkaSubscription(self.url, topic, group, consumer, partition, position)
        self._subscriptions.add(sub)
        return sub

    @staticmethod
    def _position(consumer: Consumer, partition: TopicPartition, start: Start, low: int, high: int) -> int:
        """The 1-based offset a subscription starts at."""
        if start.kind == "committed":
            (mark,) = consumer.committed([partition], timeout=OP_TIMEOUT_S)
            return mark.offset + 1 if mark.offset >= 0 else low + 1
        if start.kind == "time":
            query = TopicPartition(partition.topic, partition.partition, start.value)
            (found,) = consumer.offsets_for_times([query], timeout=OP_TIMEOUT_S)
            return found.offset + 1 if found.offset >= 0 else high + 1  # -1: nothing that late yet
        return {"earliest": low + 1, "latest": high + 1}.get(start.kind, start.value)

    def delete_group(self, topic: str, group: str) -> None:
        """Kafka keeps a group's offsets per group, not per topic: the whole group goes
        (daap uses one group name per topic it follows)."""
        check_topic(topic)
        check_group(group)
        name = self.prefix + group
        future = self._admin.delete_consumer_groups([name], request_timeout=OP_TIMEOUT_S)[name]
        self._wait(future, f"deleting consumer group {group}", tolerate=KafkaError.GROUP_ID_NOT_FOUND)

    def set_retention(self, topic: str, max_age_ms: int | None = None, max_events: int | None = None) -> None:
        check_topic(topic)
        name = self._ensure(topic)
        age = ConfigEntry(
            "retention.ms", str(max_age_ms if max_age_ms is not None else -1),
            incremental_operation=AlterConfigOpType.SET,
        )  # fmt: skip
        resource = ConfigResource(ResourceType.TOPIC, name, incremental_configs=[age])
        altered = self._admin.incremental_alter_configs([resource])[resource]
        self._wait(altered, f"setting retention of {name}")
        limits = self._ensure(RETENTION_TOPIC, {"cleanup.policy": "compact"})
        record = json.dumps({"max_age_ms": max_age_ms, "max_events": max_events})
        with self._lock:
            self._send_raw(limits, name.encode(), record.encode())

    def _send_raw(self, name: str, key: bytes, value: bytes) -> None:
        failures: list[KafkaError] = []

        def report(error: KafkaError | None, msg: Message) -> None:
            if error is not None:
                failures.append(error)

        self._producer.produce(name, key=key, value=value, on_delivery=report)
        left = self._producer.flush(DELIVERY_TIMEOUT_S + 5)
        if failures or left:
            raise translate(self.url, failures[0] if failures else None, f"publishing to {name}")

    def apply_retention(self) -> None:
        existing = set(self._list_topics())
        limits = {n: lim for n, lim in self._limits(existing).items() if n in existing}
        if not limits:
            return
        now = time.time_ns() // 1_000_000
        parts = {n: TopicPartition(n, 0) for n in limits}
        earliest, latest = OffsetSpec.earliest(), OffsetSpec.latest()  # type: ignore[no-untyped-call]
        low = self._offsets(dict.fromkeys(parts.values(), earliest))
        high = self._offsets(dict.fromkeys(parts.values(), latest))
        # the first record stored within max_age: everything before it is older
        since = {parts[n]: OffsetSpec.for_timestamp(now - a) for n, (a, _) in limits.items() if a is not None}
        by_time = self._offsets(since) if since else {}
        cuts: list[TopicPartition] = []
        for name, (age, count) in limits.items():
            part = parts[name]
            keep_from = low[part]
            if count is not None:
                keep_from = max(keep_from, high[part] - count)
            if age is not None:
                found = by_time.get(part, -1)
                keep_from = max(keep_from, found if found >= 0 else high[part])
            if keep_from > low[part]:
                cuts.append(TopicPartition(name, 0, keep_from))
        if cuts:
            futures = self._admin.delete_records(cuts, request_timeout=OP_TIMEOUT_S)
            for part, future in futures.items():
                self._wait(future, f"removing records of {part.topic} before offset {part.offset + 1}")

    def _offsets(self, specs: dict[TopicPartition, Any]) -> dict[TopicPartition, int]:
        futures = self._admin.list_offsets(specs, request_timeout=OP_TIMEOUT_S)
        return {p: int(self._wait(f, f"reading offsets of {p.topic}").offset) for p, f in futures.items()}

    def _limits(self, existing: set[str]) -> dict[str, tuple[int | None, int | None]]:
        """Kafka topic -> (max_age_ms, max_events), the last record per topic in the limits topic."""
        name = self.kafka_topic(RETENTION_TOPIC)
        if name not in existing:
            return {}
        reader = self._consumer("daap-retention", **{"enable.partition.eof": True,
                                                     "auto.offset.reset": "earliest"})  # fmt: skip
        limits: dict[str, tuple[int | None, int | None]] = {}
        try:
            reader.assign([TopicPartition(name, 0, 0)])
            for msg in _fetched(self.url, reader, RETENTION_TOPIC, to_the_end=True):
                if msg.key() and msg.value():
                    record = json.loads(msg.value() or b"{}")
                    limits[(msg.key() or b"").decode()] = (record.get("max_age_ms"), record.get("max_events"))
        finally:
            reader.close()
        return limits

    def _list_topics(self) -> list[str]:
        try:
            return list(self._admin.list_topics(timeout=OP_TIMEOUT_S).topics)
        except KafkaException as exc:
            raise translate(self.url, error_of(exc), "listing topics") from exc

    def topics(self) -> list[str]:
        found = []
        for name in self._list_topics():
            topic = name[len(self.prefix) :]
            if name.startswith(self.prefix) and not topic.startswith("__") and _is_topic(topic):
                found.append(topic)
        return sorted(found)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for index in self._indexes.values():
                index.close()
            self._indexes.clear()
            for sub in list(self._subscriptions):
                sub.close()
            self._producer.flush(5)


class _IdIndex:
    """``event_id -> offset`` of one topic, from a consumer that reads it from the oldest record on."""

    def __init__(self, consumer: Consumer, name: str) -> None:
        self.ids: dict[str, int] = {}
        self._consumer = consumer
        self._synced = False  # True once the reader reached the end of the topic a first time
        consumer.assign([TopicPartition(name, 0, 0)])

    def catch_up(self, url: str, topic: str) -> None:
        """Take in what the reader fetched; the first time, wait until it reached the end of the topic."""
        msgs = _fetched(url, self._consumer, topic, to_the_end=not self._synced)
        self._synced = True
        for msg in msgs:
            event_id = header_items(msg).get(ID)
            if event_id:
                self.ids[event_id] = (msg.offset() or 0) + 1

    def close(self) -> None:
        self._consumer.close()


def _fetched(url: str, consumer: Consumer, topic: str, to_the_end: bool = False) -> list[Message]:
    """The records the consumer has fetched, without waiting.

    With ``to_the_end``, first keep reading until the consumer reports the end of the
    partition (``enable.partition.eof``); it gives up when nothing arrives for a while.
    """
    got: list[Message] = []
    last_progress = time.monotonic()
    while True:
        batch = consumer.consume(1000, timeout=0.1 if to_the_end else 0)
        for msg in batch:
            error = msg.error()
            if error is None:
                got.append(msg)
            elif error.code() == KafkaError._PARTITION_EOF:
                to_the_end = False
            else:
                raise translate(url, error, f"reading {topic}")
        if batch:
            last_progress = time.monotonic()
        elif not to_the_end:
            return got
        elif time.monotonic() - last_progress > OP_TIMEOUT_S:
            raise BackboneUnavailable(url, f"reading {topic}: no record and no end for a while", hint=_CHECK)


def _first_of_each_id(batch: list[Event]) -> list[Event]:
    firsts: dict[str, Event] = {}
    for event in batch:
        firsts.setdefault(event.event_id, event)
    return list(firsts.values())


def _is_topic(name: str) -> bool:
    try:
        check_topic(name)
    except BackboneError:
        return False
    return True
