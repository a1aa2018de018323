"""Access log, control versions and governance reports, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from daap.errors import MetadataError
from daap.mesh.metadata import (
    AccessEntry,
    ControlVersion,
    GovernanceRecord,
    MetadataStore,
    StoredPrincipal,
    open_metadata_store,
)
from daap.mesh.metadata._control import control_digest
from daap.mesh.metadata._schema import MIGRATIONS
from fixtures.metadata import applied_migrations, open_at_migration

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
CEDAR = 'permit (principal, action == Action::"read", resource);'
ACCESS = "rowFilters: []\n"


def entry(
    n: int,
    principal: str = "ana",
    product: str = "sales",
    action: str = "read",
    allowed: bool = True,
) -> AccessEntry:
    return AccessEntry(T0 + n * SECOND, principal, product, "orders", action, allowed, ("p1",), "rest")


# -- access log -------------------------------------------------------------------------


def test_access_entries_round_trip_newest_first(store: MetadataStore) -> None:
    full = AccessEntry(
        T0, "ana", "sales", "orders", "read_unmasked", False, ("forbid-pii", "p2"), "pgwire", "why"
    )
    bare = AccessEntry(T0 + SECOND, "etl", "sales", None, "discover", True, (), "cli")
    store.record_access([full, bare])
    store.record_access([])  # nothing to write: no transaction

    assert store.access_log() == [bare, full]


def test_access_log_filters_and_limit(store: MetadataStore) -> None:
    entries = [
        entry(0),
        entry(1, principal="bob"),
        entry(2, product="hr"),
        entry(3, action="write_input"),
        entry(4, allowed=False),
        entry(5, principal="bob", product="hr", allowed=False),
    ]
    store.record_access(entries)

    def moments(**filters: Any) -> list[int]:
        return [int((e.at - T0) / SECOND) for e in store.access_log(**filters)]

    assert moments() == [5, 4, 3, 2, 1, 0]
    assert moments(product="hr") == [5, 2]
    assert moments(principal="bob") == [5, 1]
    assert moments(action="write_input") == [3]
    assert moments(allowed=False) == [5, 4]
    assert moments(allowed=True) == [3, 2, 1, 0]
    assert moments(since=T0 + 3 * SECOND) == [5, 4, 3]  # at that moment counts
    assert moments(principal="bob", product="hr", allowed=False) == [5]
    assert moments(principal="bob", action="write_input") == []
    assert moments(limit=2) == [5, 4]
    assert moments(product="sales", limit=3) == [4, 3, 1]


def test_entries_at_one_moment_come_back_newest_recorded_first(store: MetadataStore) -> None:
    first, second = entry(0, principal="first"), entry(0, principal="second")
    store.record_access([first])
    store.record_access([second])
    assert store.access_log() == [second, first]


def test_a_large_batch_is_written_in_one_go(store: MetadataStore) -> None:
    batch = [entry(n, principal=f"p{n % 7}") for n in range(1234)]
    store.record_access(batch)
    assert store.access_log(limit=5000) == batch[::-1]


def test_unknown_action_or_protocol_is_refused_when_the_entry_is_made() -> None:
    with pytest.raises(ValueError, match="unknown access action 'delete'"):
        AccessEntry(T0, "ana", "sales", None, "delete", True, (), "rest")
    with pytest.raises(ValueError, match="unknown protocol 'smtp'"):
        AccessEntry(T0, "ana", "sales", None, "read", True, (), "smtp")


# -- control versions --------------------------------------------------------------------


def test_control_versions_count_up_and_round_trip(store: MetadataStore) -> None:
    first = store.save_control("sales", CEDAR, ACCESS, "gov", T0, note="initial")
    second = store.save_control("sales", CEDAR, "rowFilters: [region = 'EU']\n", "ana", T0 + SECOND)
    other = store.save_control("hr", CEDAR, ACCESS, "gov", T0)

    assert first == ControlVersion(
        "sales", 1, CEDAR, ACCESS, "gov", T0, control_digest(CEDAR, ACCESS), "initial"
    )
    assert (second.version, second.note, other.version) == (2, None, 1)
    assert store.control_versions("sales") == [first, second]
    assert store.control_version("sales") == second
    assert store.control_version("sales", 1) == first
    assert store.control_version("sales", 3) is None
    assert store.control_version("nobody") is None and store.control_versions("nobody") == []


def test_saving_the_newest_text_again_adds_no_version(store: MetadataStore) -> None:
    first = store.save_control("sales", CEDAR, ACCESS, "gov", T0)
    assert store.save_control("sales", CEDAR, ACCESS, "someone else", T0 + SECOND, note="again") == first
    changed = store.save_control("sales", CEDAR + "\n", ACCESS, "gov", T0 + 2 * SECOND)
    back = store.save_control("sales", CEDAR, ACCESS, "gov", T0 + 3 * SECOND)  # back to v1's text
    assert [v.version for v in store.control_versions("sales")] == [1, 2, 3]
    assert (changed.version, back.version, back.digest) == (2, 3, first.digest)


def test_the_digest_tells_policies_from_access() -> None:
    # the separator keeps text moving from one part to the other from looking unchanged
    assert control_digest("ab", "c") != control_digest("a", "bc")
    assert len(control_digest("", "")) == 64


def run_at_once(workers: list[Callable[[], None]]) -> None:
    """Start ``workers`` together in threads and wait for all; re-raise the first error."""
    barrier, errors = threading.Barrier(len(workers)), []

    def run(work: Callable[[], None]) -> None:
        try:
            barrier.wait()
            work()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_threads_saving_at_once_get_distinct_consecutive_versions(store: MetadataStore) -> None:
    got: list[int] = []

    def work(n: int) -> Callable[[], None]:
        return lambda: got.extend(
            store.save_control("sales", f"// writer {n} change {i}\n{CEDAR}", ACCESS, f"w{n}", T0).version
            for i in range(3)
        )

    run_at_once([work(n) for n in range(8)])
    assert sorted(got) == list(range(1, 25))
    assert [v.version for v in store.control_versions("sales")] == list(range(1, 25))


def test_two_stores_saving_at_once_get_distinct_consecutive_versions(store_url: str) -> None:
    stores = [open_metadata_store(store_url) for _ in range(2)]
    got: list[int] = []

    def work(n: int) -> Callable[[], None]:
        return lambda: got.extend(
            stores[n].save_control("sales", f"// store {n} change {i}", ACCESS, f"s{n}", T0).version
            for i in range(20)
        )

    try:
        run_at_once([work(0), work(1)])
        assert sorted(got) == list(range(1, 41))
        assert len({v.digest for v in stores[0].control_versions("sales")}) == 40
    finally:
        for opened in stores:
            opened.close()


def test_two_stores_saving_the_same_text_at_once_share_one_version(store_url: str) -> None:
    stores = [open_metadata_store(store_url) for _ in range(2)]
    got: list[ControlVersion] = []
    try:
        run_at_once(
            [lambda s=s: got.append(s.save_control("sales", CEDAR, ACCESS, "gov", T0)) for s in stores]
        )
        assert got[0] == got[1] and got[0].version == 1
        assert len(stores[0].control_versions("sales")) == 1
    finally:
        for opened in stores:
            opened.close()


# -- governance reports -------------------------------------------------------------------


def test_governance_reports_round_trip_and_upsert(store: MetadataStore) -> None:
    v1 = GovernanceRecord("sales", 1, T0, 1, 2, {"checks": [{"rule": "owner", "ok": False}], "score": 0.5})
    v2 = GovernanceRecord("sales", 2, T0 + SECOND, 0, 1, {"checks": []})
    store.save_governance(v1)
    store.save_governance(v2)
    assert store.governance_report("sales", 1) == v1
    assert store.governance_report("sales") == v2

    again = GovernanceRecord("sales", 1, T0 + 2 * SECOND, 0, 0, {"checks": [{"rule": "owner", "ok": True}]})
    store.save_governance(again)  # checked again: replaces the report of version 1
    assert store.governance_report("sales", 1) == again
    assert store.governance_report("sales") == v2  # still the newest version's
    assert store.governance_report("sales", 3) is None and store.governance_report("hr") is None


# -- migration ------------------------------------------------------------------------------


def test_a_store_at_migration_5_upgrades_to_6_keeping_its_data(store_url: str) -> None:
    assert [m.version for m in MIGRATIONS][4:6] == [5, 6]
    ana = StoredPrincipal("ana", "person", ("reader",), "sales", (), {}, T0)
    old = open_at_migration(store_url, 5)
    try:
        assert old.add_principal(ana)
        with pytest.raises(MetadataError, match="daap_control_versions"):
            old.save_control("sales", CEDAR, ACCESS, "gov", T0)  # not there yet
    finally:
        old.close()

    upgraded = open_metadata_store(store_url)
    try:
        assert upgraded.stored_principals() == [ana]
        assert upgraded.save_control("sales", CEDAR, ACCESS, "gov", T0).version == 1
        upgraded.record_access([entry(0)])
        assert upgraded.access_log() == [entry(0)]
    finally:
        upgraded.close()

    again = open_metadata_store(store_url)  # nothing left to apply
    try:
        assert applied_migrations(again)[4:6] == [(5, "principals and tokens"), (6, "control")]
        assert again.control_version("sales") is not None
    finally:
        again.close()
