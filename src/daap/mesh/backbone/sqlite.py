"""The embedded backbone: an append-only log in one SQLite file, safe for several processes.

Appends run in ``BEGIN IMMEDIATE``: the writer takes the database's write lock
before reading the topic's next offset, so offsets from concurrent processes
never collide and stay dense; ``UNIQUE (topic, event_id)`` is the backstop for
idempotent publishing. WAL mode lets readers poll while a writer appends. The
tables are prefixed ``daap_backbone_`` so the log can live in the mesh's
metadata database.

Readers poll: SQLite cannot wake another process, so an empty poll re-queries
every few milliseconds (backing off to 20 ms) until its timeout.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from daap.errors import ConfigError
from daap.mesh.backbone._model import COMMITTED, Event, Start, check_events, check_group, check_topic
from daap.mesh.backbone.errors import BackboneError, BackboneUnavailable, OffsetOutOfRange

BUSY_TIMEOUT_MS = 30_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS daap_backbone_topics (
    topic TEXT PRIMARY KEY, next_offset INTEGER NOT NULL, first_offset INTEGER NOT NULL,
    max_age_ms INTEGER, max_events INTEGER);
CREATE TABLE IF NOT EXISTS daap_backbone_events (
    topic TEXT NOT NULL, "offset" INTEGER NOT NULL, event_id TEXT NOT NULL, key BLOB NOT NULL,
    value BLOB, headers TEXT, timestamp_ms INTEGER NOT NULL, stored_ms INTEGER NOT NULL,
    PRIMARY KEY (topic, "offset"), UNIQUE (topic, event_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS daap_backbone_events_stored ON daap_backbone_events (topic, stored_ms);
CREATE TABLE IF NOT EXISTS daap_backbone_groups (
    topic TEXT NOT NULL, grp TEXT NOT NULL, committed INTEGER NOT NULL, PRIMARY KEY (topic, grp));
"""
_READ = (
    'SELECT "offset", event_id, key, value, headers, timestamp_ms FROM daap_backbone_events '
    'WHERE topic = ? AND "offset" >= ? ORDER BY "offset" LIMIT ?'
)

#: one stored event: topic, offset, event_id, key, value, headers JSON, timestamp_ms, stored_ms
_Row = tuple[str, int, str, bytes, bytes | None, str | None, int, int]


def _path(url: str) -> Path:
    path = url[len("sqlite://") :] if url.lower().startswith("sqlite://") else ""
    if not path.startswith("/") or path.rstrip("/") == "":
        raise ConfigError(
            f"event backbone URL {url!r} does not name an absolute file path",
            hint="write sqlite:// followed by an absolute path, e.g. sqlite:///home/me/mesh/.daap/backbone.db",
        )
    return Path(path)


class SqliteBackbone:
    """Backbone in one SQLite file (``sqlite:///abs/path/backbone.db``)."""

    def __init__(self, path: Path, url: str | None = None) -> None:
        self.url = url or f"sqlite://{path}"
        self.path = path
        self._lock = threading.RLock()  # one connection, shared by the backbone's subscriptions
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across app crashes
            # executescript commits on its own, so the script carries its own write-locked transaction
            self._conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
        except (OSError, sqlite3.Error) as exc:
            raise BackboneUnavailable(
                self.url, str(exc), hint=f"check that {path.parent} is writable and {path} is a SQLite file"
            ) from exc

    @classmethod
    def from_url(cls, url: str) -> SqliteBackbone:
        return cls(_path(url), url)

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield cur
                except BaseException:
                    self._conn.rollback()
                    raise
                cur.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.rollback()
                raise BackboneError(f"event backbone {self.url}: {exc}") from exc
            finally:
                cur.close()

    def publish(self, topic: str, events: Sequence[Event]) -> list[int]:
        check_topic(topic)
        batch = list(events)
        check_events(topic, batch)
        with self._tx() as cur:
            row = cur.execute(
                "SELECT next_offset FROM daap_backbone_topics WHERE topic = ?", (topic,)
            ).fetchone()
            if row is None:
                cur.execute("INSERT INTO daap_backbone_topics VALUES (?, 1, 1, NULL, NULL)", (topic,))
            offsets, rows = self._assign(cur, topic, batch, row[0] if row else 1)
            cur.executemany("INSERT INTO daap_backbone_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            if rows:
                end = rows[-1][1] + 1
                cur.execute("UPDATE daap_backbone_topics SET next_offset = ? WHERE topic = ?", (end, topic))
        return offsets

    @staticmethod
    def _assign(
        cur: sqlite3.Cursor, topic: str, batch: list[Event], next_offset: int
    ) -> tuple[list[int], list[_Row]]:
        """Offsets for the batch: stored ids keep theirs, new ids take the next ones in order."""
        ids = json.dumps([e.event_id for e in batch])
        known: dict[str, int] = dict(
            cur.execute(
                # CROSS JOIN fixes the loop order: probe the unique index once per new id,
                # rather than scan the topic's events and test each against the list
                'SELECT j.value, e."offset" FROM json_each(?) AS j CROSS JOIN daap_backbone_events AS e '
                "ON e.topic = ? AND e.event_id = j.value",
                (ids, topic),
            ).fetchall()
        )
        now = time.time_ns() // 1_000_000
        offsets: list[int] = []
        rows: list[_Row] = []
        for e in batch:
            if e.event_id not in known:
                known[e.event_id] = next_offset
                headers = json.dumps(dict(e.headers)) if e.headers else None
                rows.append((topic, next_offset, e.event_id, e.key, e.value, headers, e.timestamp_ms, now))
                next_offset += 1
            offsets.append(known[e.event_id])
        return offsets, rows

    def subscribe(self, topic: str, group: str, start: Start = COMMITTED) -> SqliteSubscription:
        check_topic(topic)
        check_group(group)
        with self._tx(write=False) as cur:
            first, next_offset = self._bounds(cur, topic)
            position = self._position(cur, topic, group, start, first, next_offset)
        if position < first:
            raise OffsetOutOfRange(topic, position, first)
        return SqliteSubscription(self, topic, group, position)

    @staticmethod
    def _bounds(cur: sqlite3.Cursor, topic: str) -> tuple[int, int]:
        row = cur.execute(
            "SELECT first_offset, next_offset FROM daap_backbone_topics WHERE topic = ?", (topic,)
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (1, 1)

    @staticmethod
    def _position(cur: sqlite3.Cursor, topic: str, group: str, start: Start, first: int, nxt: int) -> int:
        if start.kind == "committed":
            row = cur.execute(
                "SELECT committed FROM daap_backbone_groups WHERE topic = ? AND grp = ?", (topic, group)
            ).fetchone()
            return int(row[0]) + 1 if row else first
        if start.kind == "time":
            row = cur.execute(
                'SELECT min("offset") FROM daap_backbone_events WHERE topic = ? AND stored_ms >= ?',
                (topic, start.value),
            ).fetchone()
            return int(row[0]) if row and row[0] is not None else nxt
        return {"earliest": first, "latest": nxt}.get(start.kind, start.value)

    def read(self, topic: str, position: int, limit: int) -> list[Event]:
        """Events from ``position`` on; OffsetOutOfRange when retention passed ``position``."""
        with self._tx(write=False) as cur:
            first, _ = self._bounds(cur, topic)
            if position < first:
                raise OffsetOutOfRange(topic, position, first)
            rows = cur.execute(_READ, (topic, position, limit)).fetchall()
        return [
            Event(topic, key, value, eid, json.loads(hdr) if hdr else {}, ts, off)
            for off, eid, key, value, hdr, ts in rows
        ]

    def commit(self, topic: str, group: str, offset: int) -> None:
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO daap_backbone_groups VALUES (?, ?, ?) "
                "ON CONFLICT (topic, grp) DO UPDATE SET committed = excluded.committed",
                (topic, group, offset),
            )

    def delete_group(self, topic: str, group: str) -> None:
        check_topic(topic)
        check_group(group)
        with self._tx() as cur:
            cur.execute("DELETE FROM daap_backbone_groups WHERE topic = ? AND grp = ?", (topic, group))

    def set_retention(self, topic: str, max_age_ms: int | None = None, max_events: int | None = None) -> None:
        check_topic(topic)
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO daap_backbone_topics VALUES (?, 1, 1, ?, ?) ON CONFLICT (topic) "
                "DO UPDATE SET max_age_ms = excluded.max_age_ms, max_events = excluded.max_events",
                (topic, max_age_ms, max_events),
            )

    def apply_retention(self) -> None:
        now = time.time_ns() // 1_000_000
        with self._tx() as cur:
            limits = cur.execute(
                "SELECT topic, next_offset, max_age_ms, max_events FROM daap_backbone_topics "
                "WHERE max_age_ms IS NOT NULL OR max_events IS NOT NULL"
            ).fetchall()
            for topic, nxt, max_age_ms, max_events in limits:
                keep_from = nxt - max_events if max_events is not None else 1
                if max_age_ms is not None:
                    row = cur.execute(
                        'SELECT min("offset") FROM daap_backbone_events WHERE topic = ? AND stored_ms >= ?',
                        (topic, now - max_age_ms),
                    ).fetchone()
                    keep_from = max(keep_from, row[0] if row[0] is not None else nxt)
                cur.execute(
                    'DELETE FROM daap_backbone_events WHERE topic = ? AND "offset" < ?', (topic, keep_from)
                )
                cur.execute(
                    "UPDATE daap_backbone_topics SET first_offset = max(first_offset, ?) WHERE topic = ?",
                    (keep_from, topic),
                )

    def topics(self) -> list[str]:
        with self._tx(write=False) as cur:
            return [r[0] for r in cur.execute("SELECT topic FROM daap_backbone_topics ORDER BY topic")]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class SqliteSubscription:
    """A group's reader: a position in memory, the committed offset in the database."""

    def __init__(self, backbone: SqliteBackbone, topic: str, group: str, position: int) -> None:
        self.topic, self.group = topic, group
        self._backbone = backbone
        self._position = position
        self._delivered_up_to = position - 1

    def poll(self, max_events: int = 100, timeout: float = 1.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        pause = 0.002
        while True:
            events = self._backbone.read(self.topic, self._position, max_events)
            if events or time.monotonic() >= deadline:
                break
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.02)
        if events:
            self._position = (events[-1].offset or 0) + 1
            self._delivered_up_to = self._position - 1
        return events

    def commit(self, offset: int) -> None:
        if offset > self._delivered_up_to:
            raise BackboneError(
                f"topic {self.topic}, group {self.group}: cannot commit offset {offset}, "
                f"this subscription has delivered up to {self._delivered_up_to}"
            )
        self._backbone.commit(self.topic, self.group, offset)

    def close(self) -> None:
        self._position = self._delivered_up_to + 1
