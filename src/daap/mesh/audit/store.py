"""``AuditLog``: the append-only store of every product's audit entries, in ``<home>/audit.db``.

SQLite in WAL mode; every write is one ``BEGIN IMMEDIATE`` transaction, so two
builds appending at once get consecutive sequence numbers, never the same one. There
is no update or delete API, and triggers refuse UPDATE and DELETE on entries and
checkpoints: changing the log means going around daap, which :meth:`AuditLog.verify`
then detects. ``audit_heads`` is a cache (size, last chain hash, the Merkle tree's
right edge), so an append never reads earlier entries: it probes the (product, event_id)
index for its event ids and inserts at the end of the table, O(batch · log n), and a
checkpoint costs O(log n). Verification never trusts the cache.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from daap.mesh.audit.chain import GENESIS, Entry, Row, check_identifier, check_payload
from daap.mesh.audit.errors import AuditError
from daap.mesh.audit.merkle import CompactRange
from daap.mesh.audit.note import Checkpoint, Signer, split_note

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_entries (
    product TEXT NOT NULL, seq INTEGER NOT NULL, event_id TEXT NOT NULL, build_id TEXT NOT NULL,
    port TEXT NOT NULL, payload BLOB NOT NULL, leaf BLOB NOT NULL, chain BLOB NOT NULL,
    PRIMARY KEY (product, seq)) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS audit_entries_event ON audit_entries (product, event_id);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    product TEXT NOT NULL, size INTEGER NOT NULL, note TEXT NOT NULL,
    PRIMARY KEY (product, size)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_heads (
    product TEXT PRIMARY KEY, size INTEGER NOT NULL, chain BLOB NOT NULL, frontier BLOB NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_entries_no_update BEFORE UPDATE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_entries_no_delete BEFORE DELETE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

_ENTRY_COLUMNS = "seq, event_id, build_id, product, port, payload, leaf, chain"  # Entry's fields, as a Row
_CHUNK = 500  # event ids looked up per query when appending


@dataclass(frozen=True)
class NewEntry:
    """What a caller appends; the log assigns the sequence number and the hashes."""

    event_id: str
    build_id: str
    port: str
    payload: bytes


@dataclass
class _Head:
    size: int
    chain: bytes
    tree: CompactRange


class EntryStore:
    """The SQLite tables; :class:`daap.mesh.audit.AuditLog` adds keys and verification."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # an audit entry, once acknowledged, stays
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def append(self, product: str, entries: Iterable[NewEntry]) -> list[Entry]:
        """Append in one transaction; an event id already in the log with the same content is
        returned as it was (publishing is idempotent), with other content it is a conflict."""
        batch = list(entries)
        _check(product, batch)
        with self._immediate():
            head = self._head(product)
            done = self._existing(product, [n.event_id for n in batch])
            rows: list[Entry] = []
            for new in batch:
                if new.event_id in done:
                    _same_or_conflict(done[new.event_id], new)
                    continue
                entry = Entry.make(
                    head.chain, head.size + 1, new.event_id, new.build_id, product, new.port, new.payload
                )
                head.size, head.chain = entry.seq, entry.chain
                head.tree.append(entry.leaf)
                done[new.event_id] = entry
                rows.append(entry)
            insert = f"INSERT INTO audit_entries ({_ENTRY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)"
            self.db.executemany(insert, [_row(e) for e in rows])
            self._save_head(product, head)
        return [done[n.event_id] for n in batch]

    def checkpoint(self, product: str, origin: str, signer: Signer) -> tuple[Checkpoint, str]:
        """Sign the current size unless the latest checkpoint already covers it."""
        with self._immediate():
            head = self._head(product)
            latest = self.latest_checkpoint(product)
            if latest is not None and latest[0].size == head.size:
                return latest
            checkpoint = Checkpoint(origin, head.size, head.tree.root())
            note = signer.sign(checkpoint.text())
            self.db.execute("INSERT INTO audit_checkpoints VALUES (?,?,?)", (product, head.size, note))
        return checkpoint, note

    def latest_checkpoint(self, product: str) -> tuple[Checkpoint, str] | None:
        row = self.db.execute(
            "SELECT note FROM audit_checkpoints WHERE product = ? ORDER BY size DESC LIMIT 1", (product,)
        ).fetchone()
        return None if row is None else (Checkpoint.parse(split_note(row[0])[0]), row[0])

    def checkpoints(self, product: str) -> list[tuple[int, str]]:
        return self.db.execute(
            "SELECT size, note FROM audit_checkpoints WHERE product = ? ORDER BY size", (product,)
        ).fetchall()

    def entries(self, product: str, upto: int | None = None) -> Iterator[Entry]:
        for row in self.rows(product, upto):
            yield Entry(*row)

    def rows(self, product: str, upto: int | None = None) -> Iterator[Row]:
        """The entries as stored, in order: the fields of :class:`Entry`, no object per row."""
        cursor = self.db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM audit_entries WHERE product = ? AND seq <= ? ORDER BY seq",
            (product, upto if upto is not None else 2**62),
        )
        return iter(cursor)

    def leaves(self, product: str, upto: int) -> list[bytes]:
        rows = self.db.execute(
            "SELECT leaf FROM audit_entries WHERE product = ? AND seq <= ? ORDER BY seq", (product, upto)
        )
        return [leaf for (leaf,) in rows]

    def find(self, product: str, event_id: str) -> Entry | None:
        query = f"SELECT {_ENTRY_COLUMNS} FROM audit_entries WHERE product = ? AND event_id = ?"
        row = self.db.execute(query, (product, event_id)).fetchone()
        return None if row is None else Entry(*row)

    def size(self, product: str) -> int:
        row = self.db.execute("SELECT size FROM audit_heads WHERE product = ?", (product,)).fetchone()
        return 0 if row is None else int(row[0])

    def products(self) -> list[str]:
        return [p for (p,) in self.db.execute("SELECT product FROM audit_heads ORDER BY product")]

    def _immediate(self) -> _Transaction:
        return _Transaction(self.db)

    def _head(self, product: str) -> _Head:
        row = self.db.execute(
            "SELECT size, chain, frontier FROM audit_heads WHERE product = ?", (product,)
        ).fetchone()
        if row is None:
            return _Head(0, GENESIS, CompactRange())
        size, chain, frontier = row
        stack = [frontier[i : i + 32] for i in range(0, len(frontier), 32)]
        return _Head(size, chain, CompactRange(size, stack))

    def _save_head(self, product: str, head: _Head) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO audit_heads VALUES (?,?,?,?)",
            (product, head.size, head.chain, b"".join(head.tree.stack)),
        )

    def _existing(self, product: str, event_ids: list[str]) -> dict[str, Entry]:
        """The entries already holding any of ``event_ids``: one probe of the event-id index
        per id (a covering read), then whole rows for the few found (a retry's)."""
        found = self.db.execute(
            "SELECT j.value FROM json_each(?) AS j CROSS JOIN audit_entries AS e"
            " INDEXED BY audit_entries_event ON e.product = ? AND e.event_id = j.value",
            (json.dumps(list(dict.fromkeys(event_ids))), product),
        ).fetchall()
        entries: dict[str, Entry] = {}
        ids = [row[0] for row in found]
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = self.db.execute(lookup_sql(len(chunk)), (product, *chunk))
            entries.update((row[1], Entry(*row)) for row in rows)
        return entries


def lookup_sql(count: int) -> str:
    """The entries of a product with any of ``count`` event ids.

    ``INDEXED BY`` pins the plan to the (product, event_id) index: left to itself, SQLite
    takes the primary key's ``product = ?`` prefix for a long ``IN`` list, and so read
    the product's whole log once per chunk of ids: appends got slower as the log grew
    (O(n) per chunk; 200 s and more to append 1e6 entries in batches of 10,000).
    """
    marks = ",".join("?" * count)
    return (
        f"SELECT {_ENTRY_COLUMNS} FROM audit_entries INDEXED BY audit_entries_event"
        f" WHERE product = ? AND event_id IN ({marks})"
    )


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _check(product: str, batch: list[NewEntry]) -> None:
    try:
        check_identifier("product", product)
        for new in batch:
            check_identifier("event_id", new.event_id)
            check_identifier("build_id", new.build_id)
            check_identifier("port", new.port)
            check_payload(new.payload)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors too
        raise AuditError("malformed", f"cannot append to the log of {product}: {exc}") from exc


def _row(e: Entry) -> Row:
    return (e.seq, e.event_id, e.build_id, e.product, e.port, e.payload, e.leaf, e.chain)


def _same_or_conflict(existing: Entry, new: NewEntry) -> None:
    if (existing.build_id, existing.port, existing.payload) != (new.build_id, new.port, new.payload):
        raise AuditError(
            "conflict",
            f"event {new.event_id} is already in the log (build {existing.build_id}) with other content",
            seq=existing.seq,
            product=existing.product,
            hint="event ids are unique per product; a re-published build must produce the same events",
        )
