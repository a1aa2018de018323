"""The embedded metadata store: one SQLite file, safe for several processes.

Concurrency comes from SQLite's database lock. Every write runs in
``BEGIN IMMEDIATE``, which takes the write lock up front (waiting up to
``busy_timeout``), so a publish reads the version counter and writes the next
value without another process in between; the ``(product, version)`` primary
key is the backstop. WAL mode lets readers go on while a writer works.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from daap.errors import ConfigError, MetadataError
from daap.mesh.metadata._dialect import Dialect, Row, Tx
from daap.mesh.metadata._store import SqlMetadataStore
from daap.mesh.metadata._urls import sqlite_path

#: how long a writer waits for another process's write lock before giving up
BUSY_TIMEOUT_MS = 30_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _encode_time(moment: datetime) -> int:
    """Epoch microseconds: exact, sortable, and compared as integers in SQL."""
    return (moment - _EPOCH) // _MICROSECOND


def _decode_time(value: Any) -> datetime:
    return _EPOCH + timedelta(microseconds=int(value))


def _encode_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _decode_json(value: Any) -> Any:
    return json.loads(value)


SQLITE = Dialect(
    name="sqlite",
    types={
        "timestamp": "INTEGER",
        "json": "TEXT",
        "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
    },
    lock_row="",  # BEGIN IMMEDIATE already holds the database's write lock
    encode_time=_encode_time,
    decode_time=_decode_time,
    encode_json=_encode_json,
    decode_json=_decode_json,
)


class _SqliteTx:
    """:class:`Tx` over a sqlite3 cursor (``?`` placeholders are native)."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        self._cursor.execute(sql, params)

    def fetch_one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        # fetchall, not fetchone: it finishes the statement (RETURNING must run to the end)
        rows = self.fetch_all(sql, params)
        return rows[0] if rows else None

    def fetch_all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return list(self._cursor.execute(sql, params).fetchall())


class SqliteMetadataStore(SqlMetadataStore):
    """Metadata store in one SQLite file (``sqlite:///abs/path/metadata.db``)."""

    dialect = SQLITE

    def __init__(self, path: Path, url: str | None = None) -> None:
        super().__init__(url or f"sqlite://{path}")
        self.path = path
        self._conn = self._connect(path)
        self._migrate()

    @classmethod
    def from_url(cls, url: str) -> SqliteMetadataStore:
        """Open the store at ``sqlite:///abs/path/metadata.db``, creating parent folders."""
        return cls(sqlite_path(url), url)

    def _connect(self, path: Path) -> sqlite3.Connection:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN ourselves (IMMEDIATE for writes)
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"{self._where}: cannot open {path}: {exc}",
                hint="check that the folder is writable and the file is a SQLite database",
            ) from exc
        return conn

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Tx]:
        cursor = self._conn.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield _SqliteTx(cursor)
            except BaseException:
                self._conn.rollback()
                raise
            cursor.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                self._conn.rollback()
            raise MetadataError(
                f"{self._where}: {exc}",
                hint=f"check that {self.path} is writable and not locked by a stuck process",
            ) from exc
        finally:
            cursor.close()

    def _lock_schema(self, tx: Tx) -> None:
        """Nothing to do: the migration's BEGIN IMMEDIATE holds the write lock."""

    def _disconnect(self) -> None:
        self._conn.close()
