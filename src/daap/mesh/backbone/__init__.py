"""The event backbone: durable, ordered topics that carry each build's change events.

A topic is one append-only log with a single partition, so every event (and
so every key) keeps the order it was published in. Offsets are 1-based and
dense per topic. Delivery is at least once: a consumer group's position is
the offset it last *committed*, and a subscription resumes after it, so an
event processed but not committed before a crash comes again. Publishing is
idempotent by ``event_id``; consumers that must apply an event exactly once
filter repeats with :class:`Deduplicator`.

Adapters, chosen by URL in :func:`open_backbone` and imported lazily:

- ``sqlite:///abs/path/backbone.db``: embedded default (``daap.mesh.backbone.sqlite``)
- ``nats://host:4222``: NATS JetStream, one stream per topic (``daap.mesh.backbone.jetstream``,
  needs ``pip install 'daap[nats]'``)
- ``kafka://host:9092``: Kafka, one single-partition topic per topic (``daap.mesh.backbone.kafka``,
  needs ``pip install 'daap[kafka]'``)

All pass the same contract suite, ``tests/contract/test_backbone.py``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from daap.errors import ConfigError
from daap.mesh.backbone._model import COMMITTED, Event, Start, topic_for
from daap.mesh.backbone.dedup import Deduplicator
from daap.mesh.backbone.errors import BackboneError, BackboneUnavailable, OffsetOutOfRange

__all__ = [
    "Backbone",
    "BackboneError",
    "BackboneUnavailable",
    "Deduplicator",
    "Event",
    "OffsetOutOfRange",
    "Start",
    "Subscription",
    "open_backbone",
    "topic_for",
]


class Subscription(Protocol):
    """One consumer group's reader on one topic. Not thread-safe: one reader per subscription."""

    def poll(self, max_events: int = 100, timeout: float = 1.0) -> list[Event]:
        """Next events in offset order, waiting up to ``timeout`` seconds for the first one.

        Returns:
            Up to ``max_events`` events with offsets set; empty when none arrived in time.

        Raises:
            OffsetOutOfRange: retention removed events this reader had not read yet.
            BackboneUnavailable: the backbone cannot be reached.
        """
        ...

    def commit(self, offset: int) -> None:
        """Record that the group has processed everything up to and including ``offset``.

        Commit after the effects of the events are durable; a later subscription
        of the group with ``Start.committed()`` resumes at ``offset + 1``.

        Raises:
            BackboneError: ``offset`` was not delivered by this subscription.
        """
        ...

    def close(self) -> None:
        """Stop reading; uncommitted events will be delivered again to the group."""
        ...


class Backbone(Protocol):
    """Port for publishing change events and reading them back by consumer group.

    Safe to share between threads; several processes may open one URL.
    """

    def publish(self, topic: str, events: Sequence[Event]) -> list[int]:
        """Append ``events`` to ``topic`` (created on first use), in order.

        Args:
            topic: a name like ``daap.<product>.<port>`` (see :func:`topic_for`).
            events: each with ``event.topic == topic``.

        Returns:
            The offset of each event, in order. An ``event_id`` already stored on the
            topic stores nothing and returns the original offset.

        Raises:
            BackboneError: invalid topic, an event for another topic, a reserved header.
            BackboneUnavailable: the backbone cannot be reached.
        """
        ...

    def subscribe(self, topic: str, group: str, start: Start = COMMITTED) -> Subscription:
        """Open a reader for consumer group ``group`` on ``topic``.

        Groups are independent: each has its own committed offset. A topic has
        one partition, so a group has one active reader at a time.

        Raises:
            OffsetOutOfRange: ``start`` (or the group's committed offset) was removed by retention.
            BackboneError: invalid topic or group name.
        """
        ...

    def delete_group(self, topic: str, group: str) -> None:
        """Forget consumer group ``group`` on ``topic``: its committed offset and any
        server-side state. A later subscription of that name starts as a new group.
        Deleting a group that does not exist does nothing.

        Raises:
            BackboneError: invalid topic or group name.
            BackboneUnavailable: the backbone cannot be reached.
        """
        ...

    def set_retention(self, topic: str, max_age_ms: int | None = None, max_events: int | None = None) -> None:
        """Keep at most ``max_events`` events, none older than ``max_age_ms``; None means unlimited."""
        ...

    def apply_retention(self) -> None:
        """Remove what retention no longer keeps, on every topic (a server may also do it by itself)."""
        ...

    def topics(self) -> list[str]:
        """Returns: the topics that exist, sorted."""
        ...

    def close(self) -> None:
        """Release connections; the object cannot be used afterwards."""
        ...


def _adapter(module: str, name: str, driver: str, client: str, extra: str) -> Callable[[str], Backbone]:
    """An opener that imports ``daap.mesh.backbone.<module>`` on first use; a missing
    ``driver`` package becomes a ConfigError naming the client and the extra to install."""

    def open_url(url: str) -> Backbone:
        try:
            adapter = importlib.import_module(f"daap.mesh.backbone.{module}")
        except ImportError as exc:
            if not driver or not (exc.name or "").startswith(driver):
                raise
            raise ConfigError(
                f"event backbone {url} needs the {client}, which is not installed",
                hint=f"pip install 'daap[{extra}]'",
            ) from exc
        backbone: Backbone = getattr(adapter, name).from_url(url)
        return backbone

    return open_url


#: URL scheme -> adapter; a new backend adds a line here (and its contract-suite param).
_OPENERS: Mapping[str, Callable[[str], Backbone]] = {
    "sqlite": _adapter("sqlite", "SqliteBackbone", "", "", ""),
    "nats": _adapter("jetstream", "NatsBackbone", "nats", "NATS client nats-py", "nats"),
    "kafka": _adapter("kafka", "KafkaBackbone", "confluent_kafka", "Kafka client confluent-kafka", "kafka"),
}


def open_backbone(url: str) -> Backbone:
    """Open (and create, if needed) the event backbone at ``url``.

    Args:
        url: ``sqlite:///abs/path/backbone.db`` (tables ``daap_backbone_*``; may be the
            metadata database), ``nats://host:port[?stream_prefix=daap_]`` or
            ``kafka://host:port[,host2:port][?topic_prefix=...]``.

    Returns:
        A ready backbone; call ``close()`` when done.

    Raises:
        ConfigError: unknown scheme, missing driver, or a URL that cannot be used.
        BackboneUnavailable: the server or file cannot be reached.
    """
    scheme = url.partition(":")[0].lower() if "://" in url else ""
    opener = _OPENERS.get(scheme)
    if opener is None:
        raise ConfigError(
            f"event backbone URL {url!r} is not supported",
            hint="use 'sqlite:///abs/path/backbone.db' or 'nats://host:4222'",
        )
    return opener(url)
