"""Reading a JetStream topic for one consumer group: positions, gaps and commits.

JetStream itself would quietly start a consumer at the first sequence still
stored when the wanted one was removed; the backbone contract says the reader
must hear about the loss (:class:`OffsetOutOfRange`), so the reader tracks the
next offset it expects and treats a jump past it as events retention removed.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import nats

from daap.mesh.backbone._model import Event, Start
from daap.mesh.backbone.errors import BackboneError, OffsetOutOfRange

if TYPE_CHECKING:
    from nats.aio.msg import Msg

    from daap.mesh.backbone.jetstream import NatsBackbone


class NatsSubscription:
    """A group's reader on a durable pull consumer (ack policy ``all``)."""

    def __init__(
        self, backbone: NatsBackbone, topic: str, group: str, position: int, committed: int, start: Start
    ) -> None:
        self.topic, self.group = topic, group
        self._backbone = backbone
        # None until the first event when starting by time: the server picks the offset
        self._position: int | None = None if start.kind == "time" else position
        self._delivered_up_to = committed
        self._unacked: dict[int, Msg] = {}
        self._psub: Any = backbone._call(backbone.recreate(topic, group, position, committed, start))

    def poll(self, max_events: int = 100, timeout: float = 1.0) -> list[Event]:
        msgs: list[Msg] = self._backbone._call(self._fetch(max_events, timeout))
        if self._position is not None:
            msgs = [m for m in msgs if m.metadata.sequence.stream >= self._position]  # redeliveries
            if msgs and msgs[0].metadata.sequence.stream > self._position:
                raise OffsetOutOfRange(self.topic, self._position, msgs[0].metadata.sequence.stream)
            if not msgs:
                first, _ = self._backbone._call(self._backbone._bounds(self.topic))
                if self._position < first:
                    raise OffsetOutOfRange(self.topic, self._position, first)
                return []
        if not msgs:
            return []
        for msg in msgs:
            self._unacked[msg.metadata.sequence.stream] = msg
        last = msgs[-1].metadata.sequence.stream
        self._position, self._delivered_up_to = last + 1, last
        return [_event(self.topic, m) for m in msgs]

    async def _fetch(self, max_events: int, timeout: float) -> list[Msg]:
        try:
            result: list[Msg] = await self._psub.fetch(max_events, timeout=max(timeout, 0.001))
        except (nats.errors.TimeoutError, TimeoutError):
            # nats-py raises its own TimeoutError, or asyncio's (the builtin) when the
            # wait itself times out under load: both mean "nothing arrived in time"
            return []
        return result

    def commit(self, offset: int) -> None:
        msg = self._unacked.get(offset)
        if msg is None:
            raise BackboneError(
                f"topic {self.topic}, group {self.group}: cannot commit offset {offset}: "
                f"this subscription has not delivered it (delivered up to {self._delivered_up_to})"
            )
        self._backbone._call(msg.ack_sync())  # ack policy "all": acks every offset up to this one
        self._unacked = {o: m for o, m in self._unacked.items() if o > offset}

    def close(self) -> None:
        self._backbone._call(self._psub.unsubscribe())


def _event(topic: str, msg: Msg) -> Event:
    from daap.mesh.backbone.jetstream import KEY, TIME, TOMBSTONE

    headers = dict(msg.headers or {})
    event_id = headers.pop("Nats-Msg-Id", "")
    key = base64.b64decode(headers.pop(KEY, ""))
    ts = int(headers.pop(TIME, "0"))
    value = None if headers.pop(TOMBSTONE, None) else msg.data
    return Event(topic, key, value, event_id, headers, ts, msg.metadata.sequence.stream)
