"""Entries, the leaf data they hash and the chain linking them."""

from __future__ import annotations

import hashlib
import json

import pytest

from daap.mesh.audit.chain import GENESIS, Entry, check_identifier, check_payload, leaf_data, link


def _entries(n: int) -> list[Entry]:
    out, previous = [], GENESIS
    for seq in range(1, n + 1):
        entry = Entry.make(previous, seq, f"e{seq}", "b1", "orders", "out", json.dumps({"n": seq}).encode())
        out.append(entry)
        previous = entry.chain
    return out


def test_leaf_data_is_header_lines_then_payload() -> None:
    assert leaf_data(7, "ev-7", "b-3", "orders", "o", b'{"a":1}') == b'7\nev-7\nb-3\norders\no\n{"a":1}'


def test_hashes_follow_the_definitions() -> None:
    first, second = _entries(2)
    data = leaf_data(1, "e1", "b1", "orders", "out", b'{"n": 1}')
    assert first.leaf == hashlib.sha256(b"\x00" + data).digest()
    assert first.chain == hashlib.sha256(bytes(32) + first.leaf).digest()
    assert second.chain == link(first.chain, second.leaf)
    assert first.expected_leaf() == first.leaf


def test_json_round_trip_keeps_payload_bytes() -> None:
    entry = Entry.make(GENESIS, 1, "e", "b", "p", "o", '{"name": "Zoë",  "x": [1,2]}'.encode())
    doc = json.loads(json.dumps(entry.to_json()))
    assert Entry.from_json(doc) == entry
    assert doc["leaf"] == entry.leaf.hex()


def test_any_field_change_changes_the_leaf() -> None:
    entry = _entries(1)[0]
    for field in ("event_id", "build_id", "product", "port"):
        changed = Entry(**{**entry.__dict__, field: "x"})
        assert changed.expected_leaf() != entry.leaf
    assert Entry(**{**entry.__dict__, "seq": 2}).expected_leaf() != entry.leaf


@pytest.mark.parametrize(
    "doc", [{"seq": "1"}, {"seq": True}, {"seq": 1}, {**_entries(1)[0].to_json(), "leaf": "zz"}]
)
def test_bad_json_shapes_are_refused(doc: dict[str, object]) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        Entry.from_json(doc)


def test_identifiers_and_payloads_are_checked() -> None:
    for bad in ("", "a\nb", "a\rb"):
        with pytest.raises(ValueError):
            check_identifier("event_id", bad)
    with pytest.raises(ValueError):
        check_payload(b"not json")
    with pytest.raises(ValueError):
        check_payload(b'"\xff"')
    # what an export could not carry back, or another reader would read differently
    for bad in (b'{"x":NaN}', b'{"x":Infinity}', b'"\\ud800"', b'{"a":1'):
        with pytest.raises(ValueError, match="not JSON text"):
            check_payload(bad)
    check_payload('{"title":"Tōkyō 🎬","n":-1.5e3}'.encode())
