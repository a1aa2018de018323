"""Reading a Kafka topic: a consumer group's subscription, and records turned back into events.

A subscription is a plain consumer with a manual assignment of partition 0
(no group membership, no rebalances: the port allows one reader per group at
a time) whose offsets are committed to the group's coordinator by hand. It
reads with ``auto.offset.reset=error``, so a position that retention removed
surfaces as :class:`OffsetOutOfRange` instead of a silent jump to the oldest
record still kept.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from daap.mesh.backbone._model import Event
from daap.mesh.backbone.errors import BackboneError, BackboneUnavailable, OffsetOutOfRange

#: record headers the adapter writes besides the event's own (names are reserved by ``check_events``)
ID, TIME = "daap-id", "daap-time"
#: librdkafka error codes meaning "the broker cannot be reached", not "it refused"
UNREACHABLE = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TIMED_OUT,
        KafkaError._MSG_TIMED_OUT,
        KafkaError._RESOLVE,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.REQUEST_TIMED_OUT,
    }
)
_OUT_OF_RANGE = frozenset({KafkaError._AUTO_OFFSET_RESET, KafkaError.OFFSET_OUT_OF_RANGE})
#: bound on one request to the broker (metadata, offsets, a commit)
OP_TIMEOUT_S = 10.0
LOG = logging.getLogger("daap.mesh.backbone.kafka")


def translate(url: str, error: KafkaError | None, doing: str) -> BackboneError:
    """The backbone error for a client error met while ``doing`` something."""
    if error is None:
        return BackboneError(f"event backbone {url}: {doing} failed")
    why = f"{doing}: {error.name()}: {error.str()}"
    if error.code() in UNREACHABLE:
        return BackboneUnavailable(url, why, hint="check that the Kafka broker runs and listens there")
    return BackboneError(f"event backbone {url}: {why}")


def error_of(exc: KafkaException) -> KafkaError | None:
    arg = exc.args[0] if exc.args else None
    return arg if isinstance(arg, KafkaError) else None


def header_items(msg: Message) -> dict[str, str]:
    """A record's headers as text (the consumer hands them over as a list of name, bytes pairs)."""
    raw = msg.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return {
        name: value.decode("utf-8", "replace") if isinstance(value, bytes) else value or ""
        for name, value in pairs
    }


def to_event(topic: str, msg: Message) -> Event:
    """The event a record carries; ``offset`` is the record's Kafka offset + 1."""
    headers = header_items(msg)
    event_id = headers.pop(ID, "")
    stamp = headers.pop(TIME, None)
    ts = int(stamp) if stamp is not None else msg.timestamp()[1]
    return Event(topic, msg.key() or b"", msg.value(), event_id, headers, ts, (msg.offset() or 0) + 1)


def record_headers(event: Event) -> list[tuple[str, str | bytes | None]]:
    """The event's headers plus the adapter's own: its id and its producer timestamp."""
    headers: list[tuple[str, str | bytes | None]] = [(k, v.encode()) for k, v in event.headers.items()]
    headers += [(ID, event.event_id.encode()), (TIME, str(event.timestamp_ms).encode())]
    return headers


class KafkaSubscription:
    """A group's reader: a position in memory, the committed offset in the group's coordinator."""

    def __init__(
        self,
        url: str,
        topic: str,
        group: str,
        consumer: Consumer,
        partition: TopicPartition,
        position: int,
    ) -> None:
        self.topic, self.group = topic, group
        self._url = url
        self._consumer = consumer
        self._tp = partition  # topic and partition on the broker (the name carries the prefix)
        self._position = position  # 1-based offset of the next event to deliver
        self._delivered_up_to = position - 1
        self._pending: BackboneError | None = None  # an error met after events that were returned first
        self._closed = False

    def poll(self, max_events: int = 100, timeout: float = 1.0) -> list[Event]:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            raise pending
        if max_events < 1:
            return []
        try:
            first = self._consumer.poll(max(timeout, 0.0))
            msgs = [first] if first is not None else []
            if first is not None and max_events > 1:
                msgs += self._consumer.consume(max_events - 1, timeout=0)
        except KafkaException as exc:
            raise translate(self._url, error_of(exc), f"reading {self.topic}") from exc
        events: list[Event] = []
        for msg in msgs:
            error = msg.error()
            if error is not None:
                problem = self._problem(error)
                if not events:
                    raise problem
                self._pending = problem
                break
            offset = (msg.offset() or 0) + 1
            if offset < self._position:  # a fetch started before the wanted offset (see subscribe)
                continue
            events.append(to_event(self.topic, msg))
            self._position = offset + 1
            self._delivered_up_to = offset
        return events

    def _problem(self, error: KafkaError) -> BackboneError:
        if error.code() in _OUT_OF_RANGE:
            try:
                low, _ = self._consumer.get_watermark_offsets(self._tp, timeout=OP_TIMEOUT_S, cached=False)
            except KafkaException as exc:
                return translate(self._url, error_of(exc), f"reading the bounds of {self.topic}")
            first = low + 1
            if self._position < first:
                return OffsetOutOfRange(self.topic, self._position, first)
        return translate(self._url, error, f"reading {self.topic}")

    def commit(self, offset: int) -> None:
        if offset < 1 or offset > self._delivered_up_to:
            raise BackboneError(
                f"topic {self.topic}, group {self.group}: cannot commit offset {offset}, "
                f"this subscription has delivered up to {self._delivered_up_to}"
            )
        # Kafka commits the next offset to read (0-based): numerically the 1-based offset processed
        mark = TopicPartition(self._tp.topic, self._tp.partition, offset)
        try:
            done: Any = self._consumer.commit(offsets=[mark], asynchronous=False)
        except KafkaException as exc:
            raise translate(self._url, error_of(exc), f"committing {self.topic} for {self.group}") from exc
        for part in done or []:
            if part.error is not None:
                raise translate(self._url, part.error, f"committing {self.topic} for {self.group}")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._consumer.close()  # auto-commit is off: nothing uncommitted is recorded
