"""The NATS JetStream backbone: one stream per topic, consumer groups as durable pull consumers.

Why one stream per topic rather than one ``DAAP`` stream over ``daap.>``:
retention (``max_age``, ``max_msgs``) is set per stream, and a stream's
sequence is then exactly the topic's offset (1-based, dense), so offsets mean
the same as in the embedded backbone. Stream names cannot contain dots, so
``daap.orders.by_day`` is stored as stream ``<prefix>daap~orders~by_day``
(``stream_prefix`` from the URL, default ``daap_``) with subject equal to the topic.

Idempotent publishing uses ``Nats-Msg-Id``: the server answers a repeat with
``duplicate=true`` and the original sequence. It only remembers ids for the
stream's duplicate window (here 24 h, or ``max_age`` when shorter).

A group's committed offset is the durable consumer's ack floor (ack policy
``all``: acking offset n acks everything before it). Every subscribe
re-creates the consumer at the wanted start, carrying the committed offset
over in the consumer's description (``daap committed=<n>``; consumer metadata
needs nats-server 2.10, this one runs on 2.9), so a reader never waits ``ack_wait`` for
the redelivery of events an earlier reader saw but did not commit.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import nats
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import NotFoundError

from daap.mesh.backbone._loop import LoopThread
from daap.mesh.backbone._model import COMMITTED, Event, Start, check_events, check_group, check_topic
from daap.mesh.backbone._nats_reader import NatsSubscription
from daap.mesh.backbone.errors import BackboneError, BackboneUnavailable, OffsetOutOfRange

DEDUP_WINDOW_S = 24 * 3600.0
CONNECT_TIMEOUT_S = 3.0
KEY, TIME, TOMBSTONE, _COMMITTED = "Daap-Key", "Daap-Time", "Daap-Tombstone", "daap committed="


class NatsBackbone:
    """Backbone on a NATS server with JetStream (``nats://host:4222[?stream_prefix=daap_]``)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.url = url
        self.prefix = parse_qs(parts.query).get("stream_prefix", ["daap_"])[0]
        self._server = f"nats://{parts.netloc}"
        self._loop = LoopThread(f"daap-backbone-{parts.netloc}")
        self._known: set[str] = set()
        try:
            self._nc = self._loop.run(self._connect())
        except Exception as exc:
            self._loop.stop()
            raise BackboneUnavailable(
                url, f"{type(exc).__name__}: {exc}", hint="check that nats-server runs there with -js"
            ) from exc
        self.js: JetStreamContext = self._nc.jetstream()

    @classmethod
    def from_url(cls, url: str) -> NatsBackbone:
        return cls(url)

    async def _connect(self) -> Any:
        async def quiet(exc: Exception) -> None:  # errors surface as exceptions, not log lines
            pass

        # max_reconnect_attempts=0 makes nats-py retry the first connect forever, so: one attempt,
        # a short wait, and an outer bound. No reconnect after a drop: calls then raise
        # BackboneUnavailable rather than hang, and the caller reopens.
        return await asyncio.wait_for(
            nats.connect(
                self._server, connect_timeout=CONNECT_TIMEOUT_S, allow_reconnect=False,
                max_reconnect_attempts=1, reconnect_time_wait=0.1, error_cb=quiet,
            ),
            CONNECT_TIMEOUT_S * 2,
        )  # fmt: skip

    def stream(self, topic: str) -> str:
        return self.prefix + topic.replace(".", "~")

    def _call(self, coro: Any) -> Any:
        try:
            return self._loop.run(coro)
        except (nats.errors.ConnectionClosedError, nats.errors.NoRespondersError) as exc:
            raise BackboneUnavailable(self.url, str(exc), hint="check the NATS server and JetStream") from exc
        except nats.errors.Error as exc:
            raise BackboneError(f"event backbone {self.url}: {type(exc).__name__}: {exc}") from exc

    async def _ensure(self, topic: str) -> None:
        if topic in self._known:
            return
        try:
            await self.js.stream_info(self.stream(topic))
        except NotFoundError:
            await self.js.add_stream(
                name=self.stream(topic), subjects=[topic], duplicate_window=DEDUP_WINDOW_S
            )
        self._known.add(topic)

    def publish(self, topic: str, events: Sequence[Event]) -> list[int]:
        check_topic(topic)
        batch = list(events)
        check_events(topic, batch)
        return list(self._call(self._publish(topic, batch)))

    async def _publish(self, topic: str, batch: list[Event]) -> list[int]:
        await self._ensure(topic)
        # pipelined: one connection keeps publish order, and the acks come back with the sequences
        futures = [await self.js.publish_async(topic, e.value or b"", headers=_headers(e)) for e in batch]
        return [ack.seq for ack in await asyncio.gather(*futures)]

    def subscribe(self, topic: str, group: str, start: Start = COMMITTED) -> NatsSubscription:
        check_topic(topic)
        check_group(group)
        position, committed = self._call(self._position(topic, group, start))
        return NatsSubscription(self, topic, group, position, committed, start)

    async def _bounds(self, topic: str) -> tuple[int, int]:
        await self._ensure(topic)
        state = (await self.js.stream_info(self.stream(topic))).state
        return (state.first_seq or 1, state.last_seq + 1) if state.messages else (state.last_seq + 1,) * 2

    async def _position(self, topic: str, group: str, start: Start) -> tuple[int, int]:
        first, nxt = await self._bounds(topic)
        committed = 0
        try:
            info = await self.js.consumer_info(self.stream(topic), group)
            floor = info.ack_floor.stream_seq if info.ack_floor else 0
            committed = max(floor, _committed_in(info.config.description))
        except NotFoundError:
            pass
        kinds = {"committed": committed + 1 if committed else first, "earliest": first, "latest": nxt}
        position = kinds.get(start.kind, start.value)
        if start.kind != "time" and position < first:
            raise OffsetOutOfRange(topic, position, first)
        return position, committed

    async def recreate(self, topic: str, group: str, position: int, committed: int, start: Start) -> Any:
        stream = self.stream(topic)
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(stream, group)
        by_time = start.kind == "time"
        config = ConsumerConfig(
            durable_name=group,
            deliver_policy=DeliverPolicy.BY_START_TIME if by_time else DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=None if by_time else position,
            opt_start_time=datetime.fromtimestamp(start.value / 1000, UTC) if by_time else None,
            ack_policy=AckPolicy.ALL,
            ack_wait=3600,
            max_ack_pending=-1,
            description=f"{_COMMITTED}{committed}",
        )
        await self.js.add_consumer(stream, config)
        return await self.js.pull_subscribe_bind(group, stream=stream)

    def delete_group(self, topic: str, group: str) -> None:
        check_topic(topic)
        check_group(group)
        self._call(self._delete_group(topic, group))

    async def _delete_group(self, topic: str, group: str) -> None:
        with contextlib.suppress(NotFoundError):  # no such consumer, or no such stream
            await self.js.delete_consumer(self.stream(topic), group)

    def set_retention(self, topic: str, max_age_ms: int | None = None, max_events: int | None = None) -> None:
        check_topic(topic)
        self._call(self._set_retention(topic, max_age_ms, max_events))

    async def _set_retention(self, topic: str, max_age_ms: int | None, max_events: int | None) -> None:
        await self._ensure(topic)
        age = max_age_ms / 1000 if max_age_ms else 0.0
        window = min(DEDUP_WINDOW_S, age) if age else DEDUP_WINDOW_S
        config = StreamConfig(
            name=self.stream(topic), subjects=[topic], max_age=age, max_msgs=max_events or -1,
            duplicate_window=window,
        )  # fmt: skip
        await self.js.update_stream(config)

    def apply_retention(self) -> None:
        """Nothing to do: the server enforces ``max_msgs`` on append and ``max_age`` on a timer."""

    def topics(self) -> list[str]:
        infos = self._call(self.js.streams_info())
        return sorted(i.config.subjects[0] for i in infos if i.config.name.startswith(self.prefix))

    def delete_topic(self, topic: str) -> None:
        """Remove the topic's stream and its consumers (tests and tools; not part of the port)."""
        self._known.discard(topic)
        self._call(self.js.delete_stream(self.stream(topic)))

    def close(self) -> None:
        if not self._loop.loop.is_closed():
            try:
                self._loop.run(self._nc.close(), timeout=5)
            finally:
                self._loop.stop()


def _headers(event: Event) -> dict[str, str]:
    headers = dict(event.headers)
    headers["Nats-Msg-Id"] = event.event_id
    headers[KEY] = base64.b64encode(event.key).decode()
    headers[TIME] = str(event.timestamp_ms)
    if event.value is None:
        headers[TOMBSTONE] = "1"
    return headers


def _committed_in(description: str | None) -> int:
    """The committed offset a re-created consumer carries over (0 when none)."""
    text = description or ""
    return int(text.removeprefix(_COMMITTED)) if text.startswith(_COMMITTED) else 0
