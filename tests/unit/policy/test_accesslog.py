"""The background access-log writer, against a real SQLite metadata store.

Stores that are slow or fail are the real store wrapped: a gate the test opens
stands in for a slow database, a countdown of raised errors for a failing one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daap.errors import MetadataError
from daap.mesh.metadata import AccessEntry, MetadataStore, open_metadata_store
from daap.mesh.policy.accesslog import AccessLog, NoAccessLog

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
#: generous bound on waits that only keep a broken implementation from hanging the suite
PATIENCE = 30.0


def entry(n: int, principal: str = "ana") -> AccessEntry:
    at = T0 + timedelta(microseconds=n)
    return AccessEntry(at, principal, "sales", "orders", "read", n % 3 != 0, (f"p{n % 5}",), "rest")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MetadataStore]:
    opened = open_metadata_store(f"sqlite://{tmp_path}/metadata.db")
    yield opened
    opened.close()


class GatedStore:
    """The real store, whose writes wait until the test opens the gate."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        self.entered = threading.Event()
        self.gate = threading.Event()

    def record_access(self, entries: Sequence[AccessEntry]) -> None:
        self.entered.set()
        assert self.gate.wait(PATIENCE)
        self.store.record_access(entries)


class FlakyStore:
    """The real store, failing its first ``failures`` writes."""

    def __init__(self, store: MetadataStore, failures: int) -> None:
        self.store = store
        self.failures = failures
        self.calls = 0

    def record_access(self, entries: Sequence[AccessEntry]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise MetadataError("metadata store sqlite://…: database is locked")
        self.store.record_access(entries)


def test_records_from_four_threads_all_land_after_flush(store: MetadataStore) -> None:
    access = AccessLog(store)

    def work(thread: int) -> None:
        for n in range(2500):
            access.record(entry(thread * 2500 + n, principal=f"t{thread}"))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert access.flush(PATIENCE)

    logged = store.access_log(limit=20_000)
    assert len(logged) == 10_000
    assert sorted(logged, key=lambda e: e.at) == [entry(n, f"t{n // 2500}") for n in range(10_000)]
    assert len(store.access_log(principal="t2", limit=20_000)) == 2500
    assert access.close()


def test_record_does_not_wait_for_the_store(store: MetadataStore) -> None:
    slow = GatedStore(store)
    access = AccessLog(slow)
    access.record(entry(0))
    assert slow.entered.wait(PATIENCE)  # the writer is now inside the store, held at the gate

    recorder = threading.Thread(target=lambda: [access.record(entry(n)) for n in range(1, 101)])
    recorder.start()
    recorder.join(PATIENCE)
    assert not recorder.is_alive()  # all 100 queued while the store was still busy
    assert store.access_log() == []

    slow.gate.set()
    assert access.flush(PATIENCE)
    assert len(store.access_log(limit=500)) == 101
    access.close()


def test_a_full_queue_makes_record_wait_and_drops_nothing(store: MetadataStore) -> None:
    slow = GatedStore(store)
    access = AccessLog(slow, capacity=10, batch_size=5)
    access.record(entry(0))
    assert slow.entered.wait(PATIENCE)

    recorder = threading.Thread(target=lambda: [access.record(entry(n)) for n in range(1, 51)])
    recorder.start()
    recorder.join(0.2)
    assert recorder.is_alive()  # the queue holds 10: the 11th record waits for room

    slow.gate.set()
    recorder.join(PATIENCE)
    assert access.flush(PATIENCE)
    assert len(store.access_log(limit=500)) == 51
    access.close()


def test_a_store_that_fails_twice_loses_nothing(
    store: MetadataStore, caplog: pytest.LogCaptureFixture
) -> None:
    flaky = FlakyStore(store, failures=2)
    access = AccessLog(flaky, first_backoff=0.001)
    with caplog.at_level(logging.WARNING, logger="daap.access"):
        for n in range(10):
            access.record(entry(n))
        assert access.flush(PATIENCE)

    assert sorted(store.access_log(), key=lambda e: e.at) == [entry(n) for n in range(10)]
    retries = [r for r in caplog.records if r.name == "daap.access"]
    assert [r.levelno for r in retries] == [logging.WARNING, logging.WARNING]
    assert "database is locked" in retries[0].getMessage()
    assert flaky.calls >= 3
    access.close()


def test_close_writes_what_is_queued_and_is_idempotent(store: MetadataStore) -> None:
    access = AccessLog(store, interval=60.0)  # only close makes this batch go out
    for n in range(3):
        access.record(entry(n))
    assert access.close(PATIENCE)
    assert access.close() and access.flush()
    assert len(store.access_log()) == 3
    with pytest.raises(MetadataError, match="access log is closed"):
        access.record(entry(4))


def test_close_gives_up_on_a_store_that_never_recovers(
    store: MetadataStore, caplog: pytest.LogCaptureFixture
) -> None:
    access = AccessLog(FlakyStore(store, failures=10**9), first_backoff=0.001, max_backoff=0.01)
    with caplog.at_level(logging.WARNING, logger="daap.access"):
        access.record(entry(0))
        assert not access.close(0.1)
        assert not access.close()  # still the same answer
        access._thread.join(PATIENCE)
    assert not access._thread.is_alive()
    assert "before 1 access entries could be written" in caplog.records[-1].getMessage()
    assert store.access_log() == []


def test_the_context_manager_closes(store: MetadataStore) -> None:
    with AccessLog(store) as access:
        access.record(entry(0))
    assert len(store.access_log()) == 1


def test_no_access_log_keeps_nothing() -> None:
    with NoAccessLog() as nothing:
        nothing.record(entry(0))
        assert nothing.flush() and nothing.close() and nothing.close()
