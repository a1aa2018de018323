"""Values that cross the backbone port: events, start positions, and valid names."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from daap.mesh.backbone.errors import BackboneError

#: ``daap.title_popularity.popularity``: dot-separated segments, nothing NATS or Kafka treats specially
_TOPIC = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
_GROUP = re.compile(r"[A-Za-z0-9_-]+")
#: header names the adapters use for their own bookkeeping (NATS carries key and time in headers)
RESERVED_HEADER_PREFIXES = ("daap-", "nats-")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Event:
    """One record on a topic.

    ``value=None`` is a tombstone: the key was deleted. ``event_id`` makes
    publishing idempotent (the same id is stored once per topic), so a
    producer can retry a batch after a timeout without doubling it.
    ``timestamp_ms`` is the producer's clock. ``offset`` is None until the
    backbone stores the event; offsets are **1-based** and dense per topic
    (the first event is 1), matching JetStream's stream sequence.
    """

    topic: str
    key: bytes
    value: bytes | None
    event_id: str = field(default_factory=_new_id)
    headers: Mapping[str, str] = field(default_factory=dict)
    timestamp_ms: int = field(default_factory=_now_ms)
    offset: int | None = None


@dataclass(frozen=True)
class Start:
    """Where a subscription begins reading. Build one with the class methods."""

    kind: Literal["committed", "earliest", "latest", "offset", "time"]
    value: int = 0

    @classmethod
    def committed(cls) -> Start:
        """After the group's committed offset; from the earliest event if it never committed."""
        return cls("committed")

    @classmethod
    def earliest(cls) -> Start:
        """The oldest event retention still keeps."""
        return cls("earliest")

    @classmethod
    def latest(cls) -> Start:
        """Only events published after subscribing."""
        return cls("latest")

    @classmethod
    def offset(cls, offset: int) -> Start:
        """From this offset (1-based) on; OffsetOutOfRange when retention removed it."""
        if offset < 1:
            raise BackboneError(f"offsets start at 1, got {offset}")
        return cls("offset", offset)

    @classmethod
    def time(cls, ms: int) -> Start:
        """From the first event the backbone stored at or after ``ms`` (epoch milliseconds)."""
        return cls("time", ms)


def topic_for(product: str, port: str) -> str:
    """The topic of a product's output port: ``daap.<product>.<port>``."""
    return check_topic(f"daap.{product}.{port}")


def check_topic(topic: str) -> str:
    """Returns ``topic`` when it is a valid name, else raises BackboneError saying what is allowed."""
    if not _TOPIC.fullmatch(topic):
        raise BackboneError(
            f"invalid topic name {topic!r}",
            hint="use dot-separated segments of letters, digits, '_' and '-', e.g. daap.orders.by_day",
        )
    return topic


def check_group(group: str) -> str:
    """Returns ``group`` when it is a valid consumer group name, else raises BackboneError."""
    if not _GROUP.fullmatch(group):
        raise BackboneError(
            f"invalid consumer group name {group!r}", hint="use letters, digits, '_' and '-' only"
        )
    return group


def check_events(topic: str, events: list[Event]) -> None:
    """Raise BackboneError when an event belongs to another topic or uses a reserved header."""
    for event in events:
        if event.topic != topic:
            raise BackboneError(f"event {event.event_id} is for topic {event.topic!r}, not {topic!r}")
        bad = [h for h in event.headers if h.lower().startswith(RESERVED_HEADER_PREFIXES)]
        if bad:
            raise BackboneError(
                f"event {event.event_id} uses reserved header(s) {', '.join(bad)}",
                hint="headers starting with 'Daap-' or 'Nats-' belong to the backbone",
            )


#: the default start of a subscription (a module-level value, so defaults stay plain names)
COMMITTED = Start("committed")
