"""Errors of the event backbone, rooted at :class:`BackboneError` (a :class:`~daap.errors.DaapError`).

Hierarchy::

    DaapError
    └── BackboneError          the backbone refused or failed an operation
        ├── BackboneUnavailable  the server or file cannot be reached (names the URL, what to check)
        └── OffsetOutOfRange     the asked offset was removed by retention (resubscribe from a full load)
"""

from __future__ import annotations

from daap.errors import DaapError


class BackboneError(DaapError):
    """The event backbone refused or failed an operation."""

    exit_code = 6


class BackboneUnavailable(BackboneError):
    """The backbone at ``url`` cannot be reached or opened."""

    def __init__(self, url: str, why: str, *, hint: str) -> None:
        self.url = url
        super().__init__(f"event backbone {url} is unavailable: {why}", hint=hint)


class OffsetOutOfRange(BackboneError):
    """A reader asked for an offset that retention has already removed.

    A consumer that falls behind retention has lost events it can never read,
    so carrying on would silently skip changes. It must rebuild its state from
    a full load of the upstream product, then subscribe again from ``latest``.
    """

    def __init__(self, topic: str, offset: int, earliest: int) -> None:
        self.topic = topic
        self.offset = offset
        self.earliest = earliest
        super().__init__(
            f"topic {topic}: offset {offset} was removed by retention; the earliest available is {earliest}",
            hint="resubscribe from a full load: rebuild from the upstream product's latest version, "
            "then subscribe with Start.latest()",
        )
