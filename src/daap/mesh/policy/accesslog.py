"""Record access decisions without making requests wait for the database.

Every server decides, per request, whether a principal may read, discover or
control a product, and each decision belongs in the access log. Writing one row
per request in the request's own thread would put a database round trip (and,
on SQLite, the write lock) on every read. :class:`AccessLog` queues entries and
one daemon thread writes them in batches: up to :data:`BATCH_SIZE` entries, or
what arrived within :data:`INTERVAL` seconds of the first, in one transaction.

Nothing is dropped while the process lives: a full queue (:data:`CAPACITY`)
makes :meth:`AccessLog.record` wait for room, and a failed write is retried,
with backoff, until it succeeds; each failure is logged on ``daap.access``.
Only :meth:`AccessLog.close` gives up, when its timeout runs out, and it logs
how many entries it leaves unwritten.

    log = AccessLog(store)
    log.record(AccessEntry(now, "ana", "title_popularity", "popularity", "read", True, ("p1",), "rest"))
    ...
    log.close()
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol

from daap.errors import MetadataError
from daap.mesh.metadata import AccessEntry

#: most entries written in one transaction
BATCH_SIZE = 1000
#: seconds an entry waits for others to share its batch
INTERVAL = 0.2
#: entries queued before ``record`` waits for the writer
CAPACITY = 100_000
#: first and longest wait, in seconds, before writing a failed batch again
FIRST_BACKOFF = 0.05
MAX_BACKOFF = 5.0

log = logging.getLogger("daap.access")


class AccessSink(Protocol):
    """Where the entries go: the metadata store (:class:`~daap.mesh.metadata.AccessLogStore`)."""

    def record_access(self, entries: Sequence[AccessEntry]) -> None: ...


class AccessRecorder(Protocol):
    """What servers hold: :class:`AccessLog`, or :class:`NoAccessLog` when nothing is logged."""

    def record(self, entry: AccessEntry) -> None: ...
    def flush(self, timeout: float | None = 5.0) -> bool: ...
    def close(self, timeout: float | None = 5.0) -> bool: ...


@dataclass(eq=False)
class _Mark:
    """Put in the queue by ``flush`` and ``close``: set once everything before it is written."""

    stop: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class AccessLog:
    """Queue access entries; a daemon thread writes them to ``store`` in batches.

    Args:
        store: takes a batch in one transaction (the metadata store).
        batch_size, interval, capacity: see :data:`BATCH_SIZE`, :data:`INTERVAL`, :data:`CAPACITY`.
        first_backoff, max_backoff: the wait after a failed write doubles from the first to the longest.
    """

    def __init__(
        self,
        store: AccessSink,
        *,
        batch_size: int = BATCH_SIZE,
        interval: float = INTERVAL,
        capacity: int = CAPACITY,
        first_backoff: float = FIRST_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        self._store = store
        self._batch_size = batch_size
        self._interval = interval
        self._backoff = (first_backoff, max_backoff)
        self._queue: queue.Queue[AccessEntry | _Mark] = queue.Queue(maxsize=capacity)
        self._abandon = threading.Event()  # close ran out of time: stop retrying
        self._close_lock = threading.Lock()
        self._closed = False
        self._clean = True  # everything recorded was written (known once closed)
        self._thread = threading.Thread(target=self._run, name="daap-access-log", daemon=True)
        self._thread.start()

    def record(self, entry: AccessEntry) -> None:
        """Queue ``entry``; returns at once unless the queue is full, then waits for room.

        Raises:
            MetadataError: the log is closed.
        """
        if self._closed:
            raise MetadataError(
                f"access log is closed: cannot record {entry.action} of {entry.product} by {entry.principal}",
                hint="record access before closing the log (close it when the server stops)",
            )
        self._queue.put(entry)

    def flush(self, timeout: float | None = 5.0) -> bool:
        """Wait until every entry recorded before this call is written.

        Returns:
            True when they are; False when ``timeout`` seconds passed first (the writer keeps
            trying) or, after :meth:`close`, when some entries were never written.
        """
        if self._closed:
            return self._clean and self._queue.empty()
        return self._wait(_Mark(), timeout)

    def close(self, timeout: float | None = 5.0) -> bool:
        """Write what is queued, then stop the writer; later calls do nothing.

        Returns:
            True when every recorded entry was written; False when ``timeout`` ran out first
            (the entries still unwritten are given up, and their number logged).
        """
        with self._close_lock:
            if self._closed:
                return self._clean
            self._closed = True
        if self._wait(_Mark(stop=True), timeout):
            self._thread.join()
        else:
            self._clean = False
            self._abandon.set()  # the writer stops at its next retry or batch
        return self._clean

    def __enter__(self) -> AccessLog:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _wait(self, mark: _Mark, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self._queue.put(mark, timeout=timeout)
        except queue.Full:
            return False
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return mark.done.wait(left)

    # -- the writer thread -------------------------------------------------------------

    def _run(self) -> None:
        batch: list[AccessEntry] = []
        while not self._abandon.is_set():
            batch, mark = self._collect()
            if batch and not self._write(batch):
                break
            batch = []
            if mark is not None:
                mark.done.set()
                if mark.stop:
                    return
        unwritten = len(batch) + sum(not isinstance(item, _Mark) for item in _drain(self._queue))
        log.error("the access log closed before %d access entries could be written", unwritten)

    def _collect(self) -> tuple[list[AccessEntry], _Mark | None]:
        """The next batch: wait for one entry, then take more until full, a mark, or the interval."""
        batch: list[AccessEntry] = []
        item = self._queue.get()
        deadline = time.monotonic() + self._interval
        while not isinstance(item, _Mark):
            batch.append(item)
            left = deadline - time.monotonic()
            if len(batch) >= self._batch_size or left <= 0:
                return batch, None
            try:
                item = self._queue.get(timeout=left)
            except queue.Empty:
                return batch, None
        return batch, item  # a flush or close is waiting: write now

    def _write(self, batch: list[AccessEntry]) -> bool:
        """Write ``batch``, retrying until it is written (True) or close gives up (False)."""
        first, longest = self._backoff
        attempt = 0
        while True:
            try:
                self._store.record_access(batch)
                return True
            except Exception as exc:
                delay = min(first * 2**attempt, longest)
                attempt += 1
                log.warning(
                    "could not write %d access entries (attempt %d), retrying in %.2f s: %s",
                    len(batch),
                    attempt,
                    delay,
                    exc,
                )
            if self._abandon.wait(delay):
                return False


def _drain(pending: queue.Queue[AccessEntry | _Mark]) -> list[AccessEntry | _Mark]:
    items: list[AccessEntry | _Mark] = []
    while True:
        try:
            items.append(pending.get_nowait())
        except queue.Empty:
            return items


class NoAccessLog:
    """An access log that keeps nothing (tests, one-shot commands that log no access)."""

    def record(self, entry: AccessEntry) -> None:
        """Forget ``entry``."""

    def flush(self, timeout: float | None = 5.0) -> bool:
        return True

    def close(self, timeout: float | None = 5.0) -> bool:
        return True

    def __enter__(self) -> NoAccessLog:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


__all__ = [
    "BATCH_SIZE",
    "CAPACITY",
    "INTERVAL",
    "AccessLog",
    "AccessRecorder",
    "AccessSink",
    "NoAccessLog",
]
