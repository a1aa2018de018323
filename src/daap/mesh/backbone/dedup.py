"""Consumer-side duplicate filter: the other half of "effectively once".

The backbone delivers at least once: after a crash between processing an
event and committing its offset, the event comes again. Publishing is
idempotent by ``event_id``, but a producer that retries after the dedup window
(NATS) or after retention removed the original (embedded) stores a second
copy. A consumer that must not apply an event twice remembers recent ids::

    seen = Deduplicator(100_000)
    for event in sub.poll():
        if seen.first_time(event.event_id):
            apply(event)
"""

from __future__ import annotations

from collections import OrderedDict


class Deduplicator:
    """Bounded LRU set of event ids seen recently.

    Args:
        capacity: how many ids to remember; the least recently seen are forgotten first.
            Size it to cover the redelivery horizon (events between two commits, plus retries).
    """

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first_time(self, event_id: str) -> bool:
        """Record ``event_id``.

        Returns:
            True when the id was not among the remembered ones (process the event),
            False when it was (skip it). Either way it becomes the most recent.
        """
        if event_id in self._seen:
            self._seen.move_to_end(event_id)
            return False
        self._seen[event_id] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return True

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._seen

    def __len__(self) -> int:
        return len(self._seen)
