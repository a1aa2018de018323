"""The audit log end to end: append, checkpoint, export, verify; every kind of tampering;
inclusion proofs checked offline; the ``daap audit`` commands."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from daap.mesh.audit import AuditError, AuditLog, NewEntry, verify_export, verify_proof
from daap.mesh.audit import export as export_module
from daap.mesh.audit.chain import Entry
from daap.mesh.audit.store import lookup_sql

PRODUCT = "orders"


def _new(first: int, last: int, build: str) -> list[NewEntry]:
    return [
        NewEntry(f"ev-{i}", build, "orders", json.dumps({"op": "insert", "key": {"id": i}}).encode())
        for i in range(first, last + 1)
    ]


def _fill(log: AuditLog) -> None:
    """40 entries; checkpoints at 10 and 25; export adds the one at 40."""
    log.append(PRODUCT, _new(1, 10, "b1"))
    log.checkpoint(PRODUCT)
    log.append(PRODUCT, _new(11, 25, "b2"))
    log.checkpoint(PRODUCT)
    log.append(PRODUCT, _new(26, 40, "b3"))


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AuditLog]:
    audit = AuditLog(tmp_path / "home", "acme")
    _fill(audit)
    yield audit
    audit.close()


@pytest.fixture(params=["one-block", "small-blocks"])
def exported(
    log: AuditLog, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The export; also verified reading a few lines at a time, leaves going into the tree
    every few entries, so every tampering test crosses the verifier's block boundaries."""
    if request.param == "small-blocks":
        monkeypatch.setattr("daap.mesh.audit.export._BLOCK", 700)
        monkeypatch.setattr("daap.mesh.audit.verify._FLUSH", 3)
    path = tmp_path / "orders.audit.jsonl"
    log.export(PRODUCT, path)
    return path


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _index(lines: list[str], seq: int) -> int:
    return next(i for i, ln in enumerate(lines) if json.loads(ln).get("seq") == seq)


def _fails(path: Path, log: AuditLog, kind: str, seq: int, key: object = None) -> AuditError:
    with pytest.raises(AuditError) as caught:
        verify_export(path, key or log.public_key_path)  # type: ignore[arg-type]
    assert (caught.value.kind, caught.value.seq) == (kind, seq), str(caught.value)
    return caught.value


def _edit(path: Path, change: Callable[[list[str]], None]) -> None:
    lines = _lines(path)
    change(lines)
    path.write_text("".join(lines), encoding="utf-8")


def _replace(path: Path, seq: int, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` (once) in the line of entry ``seq``, which must hold it."""
    lines = _lines(path)
    i = _index(lines, seq)
    assert old in lines[i]
    lines[i] = lines[i].replace(old, new, 1)
    path.write_text("".join(lines), encoding="utf-8")


def test_export_verifies(log: AuditLog, exported: Path) -> None:
    report = verify_export(exported, log.public_key_path)
    assert (report.product, report.entries, report.checkpoints, report.signed) == (PRODUCT, 40, 3, 40)
    assert report.origin == "daap/acme/orders"
    assert verify_export(exported, log.verifier.vkey).root == report.root
    assert [json.loads(ln).get("seq", "cp") for ln in _lines(exported)][9:12] == [10, "cp", 11]
    assert log.verify(PRODUCT).entries == 40


def test_changed_payload_byte(log: AuditLog, exported: Path) -> None:
    def change(lines: list[str]) -> None:
        i = _index(lines, 17)
        lines[i] = lines[i].replace('\\"id\\": 17', '\\"id\\": 18')

    _edit(exported, change)
    _fails(exported, log, "altered", 17)


@pytest.mark.parametrize("seq", [1, 12, 25, 40])
def test_deleted_line(log: AuditLog, exported: Path, seq: int) -> None:
    _edit(exported, lambda lines: lines.pop(_index(lines, seq)))
    _fails(exported, log, "removed", seq)


@pytest.mark.parametrize(("a", "b"), [(5, 6), (12, 20), (25, 26)])
def test_swapped_lines(log: AuditLog, exported: Path, a: int, b: int) -> None:
    def swap(lines: list[str]) -> None:
        i, j = _index(lines, a), _index(lines, b)
        lines[i], lines[j] = lines[j], lines[i]

    _edit(exported, swap)
    _fails(exported, log, "reordered", a)


def test_inserted_forgery_with_recomputed_hashes(log: AuditLog, exported: Path) -> None:
    def forge(lines: list[str]) -> None:
        previous = bytes.fromhex(json.loads(lines[_index(lines, 19)])["chain"])
        fake = Entry.make(previous, 20, "ev-x", "b2", PRODUCT, "orders", b'{"op":"delete"}')
        lines.insert(_index(lines, 20), json.dumps(fake.to_json()) + "\n")

    _edit(exported, forge)
    _fails(exported, log, "inserted", 20)


def test_inserted_line_with_a_foreign_seq(log: AuditLog, exported: Path) -> None:
    def forge(lines: list[str]) -> None:
        fake = Entry.make(bytes(32), 99, "ev-99", "b9", PRODUCT, "orders", b"{}")
        lines.insert(_index(lines, 30), json.dumps(fake.to_json()) + "\n")

    _edit(exported, forge)
    _fails(exported, log, "inserted", 99)


def test_rewritten_tail_is_caught_by_the_signed_root(log: AuditLog, exported: Path) -> None:
    """A forger who recomputes every hash passes the chain, not the checkpoint."""

    def rewrite(lines: list[str]) -> None:
        previous = bytes.fromhex(json.loads(lines[_index(lines, 14)])["chain"])
        for i, line in enumerate(lines):
            doc = json.loads(line)
            if doc.get("seq", 0) >= 15:
                payload = doc["payload"].encode() if doc["seq"] != 15 else b'{"op":"delete"}'
                fields = doc["seq"], doc["event_id"], doc["build_id"], PRODUCT, "orders", payload
                fake = Entry.make(previous, *fields)
                lines[i], previous = json.dumps(fake.to_json()) + "\n", fake.chain

    _edit(exported, rewrite)
    error = _fails(exported, log, "altered", 11)
    assert "11..25" in str(error)


def test_truncated_mid_line(log: AuditLog, exported: Path) -> None:
    data = exported.read_bytes()
    cut = data.index(b'"seq":31') + 20
    exported.write_bytes(data[:cut])
    _fails(exported, log, "truncated", 31)


def test_truncated_at_a_line_end(log: AuditLog, exported: Path) -> None:
    _edit(exported, lambda lines: lines.__delitem__(slice(_index(lines, 31), None)))
    _fails(exported, log, "truncated", 31)
    _edit(exported, lambda lines: lines.__delitem__(slice(_index(lines, 25) + 2, None)))  # ends on cp 25
    assert verify_export(exported, log.public_key_path).entries == 25  # a shorter, honest prefix


def test_corrupt_checkpoint_signature(log: AuditLog, exported: Path) -> None:
    def corrupt(lines: list[str]) -> None:
        i = _index(lines, 25) + 1
        note = json.loads(lines[i])["checkpoint"]
        head, _, signature = note.rstrip("\n").rpartition(" ")
        raw = bytearray(base64.b64decode(signature))
        raw[10] ^= 1
        lines[i] = json.dumps({"checkpoint": f"{head} {base64.b64encode(bytes(raw)).decode()}\n"}) + "\n"

    _edit(exported, corrupt)
    assert "does not verify" in str(_fails(exported, log, "signature", 25))


def test_wrong_public_key(log: AuditLog, exported: Path, tmp_path: Path) -> None:
    other = AuditLog(tmp_path / "other", "acme")
    _fails(exported, log, "signature", 10, key=other.public_key_path)
    other.close()


def test_export_lines_take_the_fast_path(
    log: AuditLog, exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines as the writer makes them are checked without json.loads: only the checkpoints
    and the first entry (which tells the verifier the product) are parsed."""
    parsed: list[bytes] = []
    parse = export_module._parse

    def counting(raw: bytes, seq: int) -> dict[str, object]:
        parsed.append(raw)
        return parse(raw, seq)

    monkeypatch.setattr(export_module, "_parse", counting)
    assert verify_export(exported, log.public_key_path).entries == 40
    assert len(parsed) == 1 + 3 and json.loads(parsed[0])["seq"] == 1


@pytest.mark.parametrize(
    "spelling",
    [
        {},  # json.dumps's default ", " and ": "
        {"separators": (",", ":"), "sort_keys": True},
        {"separators": (",", ":"), "ensure_ascii": False},
    ],
)
def test_other_json_spellings_of_an_export_verify(
    log: AuditLog, exported: Path, spelling: dict[str, Any]
) -> None:
    """Any JSON text of the same objects verifies the same (the slow path reads it)."""
    honest = verify_export(exported, log.public_key_path)
    _edit(exported, lambda lines: lines.__setitem__(
        slice(None), [json.dumps(json.loads(ln), **spelling) + "\n" for ln in lines]
    ))  # fmt: skip
    assert verify_export(exported, log.public_key_path) == honest
    _replace(exported, 23, ": 23}", ": 24}")
    _fails(exported, log, "altered", 23)


def test_payloads_with_escapes_and_other_scripts(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "home", "acme")
    payloads = [
        {"name": "Zoë", "city": "Zürich"},
        {"text": 'line\nbreak, tab\t, quote " and backslash \\'},
        {"emoji": "\U0001f600", "nul": "\u0000", "ctl": "\x1f"},
        {"plain": 1},
    ]
    texts = [json.dumps(p).encode() for p in payloads]
    texts.append(json.dumps(payloads[0], ensure_ascii=False).encode())  # UTF-8, not \u escapes
    log.append(PRODUCT, [NewEntry(f"ev-{i}", "b1", "orders", text) for i, text in enumerate(texts)])
    path = tmp_path / "orders.audit.jsonl"
    log.export(PRODUCT, path)
    assert verify_export(path, log.public_key_path).entries == 5
    assert log.verify(PRODUCT).entries == 5
    # the same payload string in another JSON spelling (\u escapes for the quotes) is the same entry
    _replace(path, 4, '\\"plain\\"', "\\u0022plain\\u0022")
    assert verify_export(path, log.public_key_path).entries == 5
    _replace(path, 5, "Z\\u00fcrich", "Zurich")
    _fails(path, log, "altered", 5)
    log.close()


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ('\\"insert\\"', '\\"ins\tert\\"', "malformed"),  # a raw control character in a string
        ('\\"insert\\"', '\\"\\ud800\\"', "malformed"),  # a lone surrogate: not UTF-8 text
        ('"seq":14,', '"seq":' + "1" * 5000 + ",", "malformed"),  # more digits than Python reads
        ('"event_id":"ev-14"', '"event_id":"ev\\n14"', "altered"),  # an identifier changed by an escape
        ('"event_id":"ev-14"', '"event_id":"ev\\u002d14"', None),  # the same identifier, escaped
    ],
)
def test_odd_lines_are_read_as_json_reads_them(
    log: AuditLog, exported: Path, old: str, new: str, kind: str | None
) -> None:
    _replace(exported, 14, old, new)
    if kind is None:
        assert verify_export(exported, log.public_key_path).entries == 40
    else:
        _fails(exported, log, kind, 14)


def test_inclusion_proof_offline(log: AuditLog) -> None:
    proof = log.prove(PRODUCT, "ev-33")  # after the last checkpoint: signs one first
    offline = json.loads(json.dumps(proof))
    assert (offline["leaf_index"], offline["tree_size"]) == (32, 40)
    assert verify_proof(offline, log.public_key_path).event_id == "ev-33"
    early = log.prove(PRODUCT, "ev-3")
    assert early["tree_size"] == 40 and verify_proof(early, log.verifier).seq == 3

    def broken(change: Callable[[dict[str, object]], None], kind: str) -> None:
        copy = json.loads(json.dumps(proof))
        change(copy)
        with pytest.raises(AuditError) as caught:
            verify_proof(copy, log.public_key_path)
        assert caught.value.kind == kind, str(caught.value)

    broken(lambda p: p["entry"].update(payload="{}"), "altered")  # type: ignore[attr-defined]
    broken(lambda p: p["hashes"].__setitem__(0, "00" * 32), "altered")  # type: ignore[attr-defined]
    broken(lambda p: p.update(leaf_index=31), "malformed")
    broken(lambda p: p.update(checkpoint=log.checkpoint(PRODUCT).replace("\n40\n", "\n41\n")), "signature")
    broken(lambda p: p.pop("hashes"), "malformed")


def test_stored_log_tampering_is_found(log: AuditLog) -> None:
    log.checkpoint(PRODUCT)
    db = sqlite3.connect(log.home / "audit.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit_entries SET payload = x'7b7d' WHERE seq = 3")
    db.execute("DROP TRIGGER audit_entries_no_update")
    db.execute("DROP TRIGGER audit_entries_no_delete")
    db.execute("UPDATE audit_entries SET payload = CAST('{}' AS BLOB) WHERE seq = 7")
    db.commit()
    with pytest.raises(AuditError) as caught:
        log.verify(PRODUCT)
    assert (caught.value.kind, caught.value.seq) == ("altered", 7)
    db.execute("DELETE FROM audit_entries WHERE seq >= 5")
    db.commit()
    with pytest.raises(AuditError) as caught:
        log.verify(PRODUCT)
    assert (caught.value.kind, caught.value.seq) == ("removed", 5)
    db.close()


def test_appends_are_idempotent_and_conflicts_refused(log: AuditLog) -> None:
    again = log.append(PRODUCT, _new(39, 41, "b3"))
    assert [e.seq for e in again] == [39, 40, 41]
    with pytest.raises(AuditError, match="other content") as caught:
        log.append(PRODUCT, [NewEntry("ev-2", "b9", "orders", b"{}")])
    assert caught.value.kind == "conflict"
    with pytest.raises(AuditError, match="single line"):
        log.append(PRODUCT, [NewEntry("ev\n", "b", "p", b"{}")])
    with pytest.raises(AuditError, match="JSON"):
        log.append(PRODUCT, [NewEntry("ev-x", "b", "p", b"{")])
    assert log.verify(PRODUCT).unsigned == 41 - 25


def test_event_ids_are_looked_up_in_their_index(log: AuditLog) -> None:
    """The duplicate check of an append probes the event index, never scans the log."""
    plan = log.store.db.execute(f"EXPLAIN QUERY PLAN {lookup_sql(3)}", (PRODUCT, "a", "b", "c")).fetchall()
    details = " ".join(str(row[-1]) for row in plan)
    assert "audit_entries_event" in details and "SCAN" not in details, details


def test_appends_to_a_larger_log_keep_duplicates_and_conflicts(log: AuditLog) -> None:
    """Batches larger than a lookup chunk, against a log of a few thousand entries."""
    for first in range(41, 3041, 1000):
        log.append(PRODUCT, _new(first, first + 999, "b4"))
    assert log.store.size(PRODUCT) == 3040
    # old ids from all over the log (and within every lookup chunk), mixed with new ones
    stored = list(log.entries(PRODUCT))[::3]
    old = [NewEntry(e.event_id, e.build_id, e.port, e.payload) for e in stored]
    mixed = [entry for pair in zip(old, _new(3041, 3041 + len(old) - 1, "b5"), strict=True) for entry in pair]
    appended = log.append(PRODUCT, mixed)
    assert appended[0::2] == stored
    assert [e.seq for e in appended[1::2]] == list(range(3041, 3041 + len(old)))
    assert appended == log.append(PRODUCT, mixed)  # idempotent, as a whole
    size = log.store.size(PRODUCT)
    changed = NewEntry("ev-2999", "b4", "orders", b'{"op":"delete"}')
    with pytest.raises(AuditError, match="other content") as caught:
        log.append(PRODUCT, [*_new(size + 1, size + 1200, "b6"), changed])
    assert (caught.value.kind, caught.value.seq) == ("conflict", 2999)
    assert log.store.size(PRODUCT) == size  # the whole batch was refused
    assert log.verify(PRODUCT).entries == size


def test_two_writers_get_consecutive_numbers(log: AuditLog) -> None:
    other = AuditLog(log.home, "acme")
    for i in range(41, 61, 2):
        log.append(PRODUCT, _new(i, i, "c"))
        other.append(PRODUCT, _new(i + 1, i + 1, "c"))
    assert [e.seq for e in other.entries(PRODUCT)] == list(range(1, 61))
    assert other.verify(PRODUCT).entries == 60
    other.close()


def test_signing_key_files(log: AuditLog) -> None:
    private = log.home / "keys" / "audit-ed25519"
    assert private.stat().st_mode & 0o777 == 0o600
    assert log.public_key_path.read_text().strip() == log.verifier.vkey
    assert log.verifier.vkey.startswith("daap/acme+")
    assert AuditLog(log.home, "renamed").verifier == log.verifier  # the name stays with the key


# --- the CLI, on the `audit` group (registered on `daap` by daap.cli.main) ---


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from daap.mesh.workspace import Workspace

    monkeypatch.delenv("DAAP_HOME", raising=False)
    root = tmp_path / "ws"
    root.mkdir()
    (root / "mesh.yaml").write_text("name: acme\n")
    audit = AuditLog.open(Workspace.open(root))
    _fill(audit)
    audit.close()
    return root


def _run(root: Path, *args: str) -> tuple[int, str]:
    from daap.cli.audit import audit

    result = CliRunner().invoke(audit, list(args), obj=root, catch_exceptions=False)
    return result.exit_code, result.output


def test_cli_export_verify_prove(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    assert _run(workspace, "export", PRODUCT, "-o", str(out)) == (
        0,
        f"wrote 40 entries and 3 checkpoints to {out}\n",
    )
    code, text = _run(workspace, "verify", PRODUCT)
    assert code == 0 and text.startswith("OK orders: 40 entries, 3 checkpoints")
    code, key_path = _run(workspace, "public-key", "--path")
    assert code == 0 and os.path.exists(key_path.strip())
    code, text = _run(workspace, "verify", "--file", str(out), "--public-key", key_path.strip())
    assert code == 0 and "signed through seq 40" in text
    proof = tmp_path / "proof.json"
    assert _run(workspace, "prove", PRODUCT, "--event", "ev-9", "-o", str(proof))[0] == 0
    code, text = _run(workspace, "verify-proof", str(proof), "--public-key", key_path.strip())
    assert code == 0 and "seq 9" in text
    code, text = _run(workspace, "public-key")
    assert code == 0 and text.startswith("daap/acme+")


def test_cli_reports_tampering_with_exit_code(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    _run(workspace, "export", PRODUCT, "-o", str(out))
    _edit(out, lambda lines: lines.pop(_index(lines, 12)))
    code, text = _run(workspace, "verify", "--file", str(out))
    assert code == 8
    assert "removed: seq 12" in text
    assert _run(workspace, "verify", "nope")[0] == 7  # NotFound


def test_cli_names_the_line_of_the_altered_entry(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    _run(workspace, "export", PRODUCT, "-o", str(out))
    lines = out.read_text().splitlines()
    line = _index(lines, 30)
    assert line + 1 != 30  # checkpoints stand between the entries: lines and seqs differ

    def alter(lines: list[str]) -> None:
        lines[line] = lines[line].replace('"op', '"OP', 1)

    _edit(out, alter)
    code, text = _run(workspace, "verify", "--file", str(out))
    assert code == 8
    assert "altered: seq 30: " in text and f"(line {line + 1} of {out})" in text
