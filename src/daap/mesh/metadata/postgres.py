"""The shared metadata store: tables ``daap_*`` in one PostgreSQL database.

Several processes, on several machines, can publish at once. A publish locks
its build row (``SELECT … FOR UPDATE``) and then increments the product's row
in ``daap_version_counters`` with ``INSERT … ON CONFLICT DO UPDATE``, which
keeps that row locked until commit: the next publisher of the same product
waits and reads the committed value, so numbers are distinct and consecutive.
The ``(product, version)`` primary key is the backstop. Migrations run under a
transaction-scoped advisory lock, so two processes opening a fresh database
do not race to create the tables.

This is the only module of daap that imports psycopg.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from daap.errors import ConfigError, DaapError, MetadataError
from daap.mesh.metadata._dialect import Dialect, Row, Tx
from daap.mesh.metadata._store import SqlMetadataStore
from daap.mesh.metadata._urls import scrub

#: advisory lock key guarding migrations (per database): "daapmeta" as a 64-bit integer
SCHEMA_LOCK_KEY = int.from_bytes(b"daapmeta", "big") - 2**63

#: seconds to wait for the server when connecting, unless the URL says otherwise
CONNECT_TIMEOUT = 10

_CHECK = (
    "check that PostgreSQL is running and reachable at the URL's host and port, "
    "that the database exists (createdb) and that the user and password are accepted"
)


def _decode_time(value: Any) -> datetime:
    moment: datetime = value
    return moment.astimezone(UTC)


def _decode_json(value: Any) -> Any:
    return value  # psycopg already parsed the JSONB


POSTGRES = Dialect(
    name="postgres",
    types={
        "timestamp": "TIMESTAMPTZ",
        "json": "JSONB",
        "serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    },
    lock_row=" FOR UPDATE",
    encode_time=lambda moment: moment,
    decode_time=_decode_time,
    encode_json=Jsonb,
    decode_json=_decode_json,
)


@lru_cache(maxsize=256)
def _native(sql: str) -> str:
    """The shared SQL with psycopg's placeholders: ``?`` -> ``%s``.

    Safe because no shared statement contains ``%`` or a literal ``?``.
    """
    return sql.replace("?", "%s")


class _PostgresTx:
    """:class:`Tx` over a psycopg cursor."""

    def __init__(self, cursor: psycopg.Cursor[Row]) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        self._cursor.execute(_native(sql), params)

    def fetch_one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        return self._cursor.execute(_native(sql), params).fetchone()

    def fetch_all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._cursor.execute(_native(sql), params).fetchall()


class PostgresMetadataStore(SqlMetadataStore):
    """Metadata store in a PostgreSQL database (``postgresql://user@host:port/db``)."""

    dialect = POSTGRES

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._dsn = url
        self._conn = self._connect(ConfigError)
        self._migrate()

    @classmethod
    def from_url(cls, url: str) -> PostgresMetadataStore:
        """Open the store in the database that ``url`` names."""
        return cls(url)

    def _connect(self, error: type[DaapError]) -> psycopg.Connection[Row]:
        """A new autocommit connection (transactions are explicit blocks)."""
        options: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in self._dsn:
            options["connect_timeout"] = CONNECT_TIMEOUT
        try:
            return psycopg.connect(self._dsn, **options)
        except psycopg.Error as exc:
            reason = scrub(str(exc).strip(), self._dsn)
            raise error(f"cannot connect to {self._where}: {reason}", hint=_CHECK) from exc

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Tx]:
        """A READ COMMITTED transaction; writers serialise on the rows they lock."""
        if self._conn.broken or self._conn.closed:
            # the server restarted or the network dropped: try once more
            self._conn = self._connect(MetadataError)
        try:
            with self._conn.transaction(), self._conn.cursor() as cursor:
                yield _PostgresTx(cursor)
        except psycopg.Error as exc:
            reason = scrub(str(exc).strip(), self._dsn)
            hint = _CHECK if isinstance(exc, psycopg.OperationalError) else None
            raise MetadataError(f"{self._where}: {reason}", hint=hint) from exc

    def _lock_schema(self, tx: Tx) -> None:
        """Hold the advisory lock until the migration's transaction ends."""
        tx.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK_KEY,))

    def _disconnect(self) -> None:
        self._conn.close()
