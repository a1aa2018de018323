"""Debezium envelopes from a change set (pure)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pyarrow as pa

from daap.mesh.events import Source, changes, encode, snapshot

SOURCE = Source("shop", "orders", 2, 123, "b-2", 1_700_000_000_000)


def table(rows):
    return pa.Table.from_pylist(
        rows, schema=pa.schema([("id", pa.int64()), ("amount", pa.decimal128(10, 2)), ("day", pa.date32())])
    )


def test_envelopes_ops_keys_and_tombstones():
    events = list(
        changes(
            SOURCE,
            ["id"],
            inserts=table([{"id": 3, "amount": Decimal("1.50"), "day": date(2024, 1, 3)}]),
            updates_before=table([{"id": 1, "amount": Decimal("1.00"), "day": date(2024, 1, 1)}]),
            updates_after=table([{"id": 1, "amount": Decimal("2.00"), "day": date(2024, 1, 1)}]),
            deletes=table([{"id": 2, "amount": None, "day": None}]),
            now_ms=5,
        )
    )
    assert [json.loads(e.value)["op"] if e.value else None for e in events] == ["c", "u", "d", None]
    assert [json.loads(e.key) for e in events] == [{"id": 3}, {"id": 1}, {"id": 2}, {"id": 2}]
    update = json.loads(events[1].value)
    assert update["before"]["amount"] == "1.00" and update["after"]["amount"] == "2.00"
    assert update["after"]["day"] == "2024-01-01" and update["ts_ms"] == 5
    assert update["source"] == {
        "product": "shop",
        "port": "orders",
        "version": 2,
        "snapshot_id": 123,
        "build_id": "b-2",
        "ts_ms": 1_700_000_000_000,
    }
    assert events[3].event_id == events[2].event_id + ":tombstone"
    assert len({e.event_id for e in events}) == 4


def test_event_ids_are_stable_across_republication_and_distinct_across_builds():
    rows = table([{"id": 1, "amount": None, "day": None}])
    empty = table([])
    first = list(changes(SOURCE, ["id"], rows, empty, empty, empty, now_ms=1))
    again = list(changes(SOURCE, ["id"], rows, empty, empty, empty, now_ms=999))
    other = Source("shop", "orders", 3, 124, "b-3", 0)
    later = list(changes(other, ["id"], rows, empty, empty, empty, now_ms=1))
    assert first[0].event_id == again[0].event_id != later[0].event_id


def test_snapshot_is_a_full_load_of_read_events():
    events = list(snapshot(SOURCE, ["id"], table([{"id": 1, "amount": None, "day": None}]), now_ms=1))
    assert [json.loads(e.value)["op"] for e in events] == ["r"]


def test_canonical_json():
    assert encode({"b": 1, "a": Decimal("0.10")}) == b'{"a":"0.10","b":1}'


def test_envelope_bytes_are_the_canonical_encoding_of_the_whole_envelope():
    rows = table([{"id": 1, "amount": Decimal("2.50"), "day": date(2024, 1, 1)}])
    empty = rows.slice(0, 0)
    for event in [
        *changes(SOURCE, ["id"], rows, rows, rows, rows, now_ms=7),
        *snapshot(SOURCE, ["id"], rows, 7),
    ]:
        if event.value is not None:
            assert event.value == encode(json.loads(event.value))
    # keys sorted, no spaces: the same bytes whatever built them
    [only] = changes(SOURCE, ["id"], rows, empty, empty, empty, now_ms=7)
    assert only.value.startswith(
        b'{"after":{"amount":"2.50","day":"2024-01-01","id":1},"before":null,"op":"c"'
    )


def test_rows_without_key_get_distinct_ids_by_position():
    rows = table([{"id": 1, "amount": None, "day": None}] * 2)
    empty = rows.slice(0, 0)
    first, second = changes(SOURCE, [], rows, empty, empty, empty, now_ms=1)
    assert first.key == second.key and first.event_id != second.event_id
    [again] = changes(SOURCE, [], rows.slice(1), empty, empty, empty, now_ms=1, position=1)
    assert again.event_id == second.event_id
