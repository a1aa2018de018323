"""Prepared statements, self-contained tickets and the ``x-daap-at`` time-travel header.

A ticket carries everything ``DoGet`` needs (the SQL, the bound parameter
rows and the requested version or time) as one Arrow IPC stream: the
parameters are the stream's rows, the rest its schema metadata. So ``DoGet``
needs no server state: a client may close its prepared statement before
reading, and tickets survive the statement map evicting old handles. A ticket
grants nothing a ``CommandStatementQuery`` would not: it runs through the same
guard and policies, for the caller of ``DoGet``.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from daap.query.engine import AtSpec
from daap.query.guard import parameters, parse_query
from daap.servers.flight.errors import InvalidArgument, Missing

AT_HEADER = "x-daap-at"


def parse_at(value: str | None) -> AtSpec:
    """The ``x-daap-at`` header: ``3``, ``2024-05-01T12:00:00Z``, or ``titles=3,views=2024-05-01``.

    A bare value applies to every product the query reads; ``product=value``
    pairs pin products one by one (others read their latest version).
    Timestamps without a zone are UTC.

    Raises:
        InvalidArgument: a value that is neither a version number nor an ISO-8601 time.
    """
    if value is None or not value.strip():
        return None
    if "=" not in value:
        return _one_at(value.strip())
    pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise InvalidArgument(f"{AT_HEADER}: expected comma-separated product=version pairs, got {value!r}")
    return {product.strip(): _one_at(at.strip()) for product, at in pairs}


def _one_at(text: str) -> int | datetime:
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(
            f"{AT_HEADER}: {text!r} is neither a version number nor an ISO-8601 time "
            "(e.g. 3 or 2024-05-01T12:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Ticket:
    """One execution: SQL, its parameter rows (one run per row) and the raw ``x-daap-at`` value."""

    sql: str
    params: pa.Table = field(default_factory=lambda: pa.table({}))
    at: str | None = None

    def encode(self) -> bytes:
        meta = {"daap.sql": self.sql, "daap.at": self.at or ""}
        schema = self.params.schema.with_metadata(meta)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, schema) as writer:
            writer.write(self.params)
        return bytes(sink.getvalue().to_pybytes())

    @classmethod
    def decode(cls, data: bytes) -> Ticket:
        try:
            params = pa.ipc.open_stream(data).read_all()
            meta = params.schema.metadata or {}
            sql = meta[b"daap.sql"].decode()
        except (pa.ArrowException, OSError, ValueError, KeyError):
            raise InvalidArgument("the ticket was not issued by daap's Flight SQL server") from None
        at = meta.get(b"daap.at", b"").decode() or None
        return cls(sql, params.replace_schema_metadata(None), at)

    def runs(self) -> Iterator[Sequence[Any] | Mapping[str, Any]]:
        """The parameters of each run: none, or one set per bound row."""
        if self.params.num_columns == 0:
            yield ()
            return
        names = parameters(parse_query(self.sql)[0])
        for row in self.params.to_pylist():
            yield _by_name(row, names) if isinstance(names, list) else list(row.values())


def _by_name(row: dict[str, Any], names: list[str]) -> dict[str, Any]:
    missing = [n for n in names if n not in row]
    if missing and len(row) == len(names):  # bound positionally (ADBC names columns 0, 1, ...)
        return dict(zip(names, row.values(), strict=True))
    if missing:
        raise InvalidArgument(f"no value bound for parameter(s) {', '.join('$' + n for n in missing)}")
    return {n: row[n] for n in names}


def parameter_schema(sql: str) -> pa.Schema:
    """The parameters a query expects; their types are unknown (``null``) until bound."""
    found = parameters(parse_query(sql)[0])
    names = found if isinstance(found, list) else [str(i + 1) for i in range(found)]
    return pa.schema([pa.field(name, pa.null()) for name in names])


@dataclass
class Prepared:
    sql: str
    params: pa.Table = field(default_factory=lambda: pa.table({}))


class PreparedStatements:
    """Open prepared statements by handle: thread-safe, at most ``capacity``, oldest out first."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._items: OrderedDict[bytes, Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, sql: str) -> bytes:
        handle = uuid.uuid4().bytes
        with self._lock:
            self._items[handle] = Prepared(sql)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return handle

    def get(self, handle: bytes) -> Prepared:
        with self._lock:
            found = self._items.get(handle)
            if found is None:
                raise Missing("unknown or closed prepared statement handle; prepare the statement again")
            self._items.move_to_end(handle)
            return found

    def bind(self, handle: bytes, params: pa.Table) -> None:
        prepared = self.get(handle)
        with self._lock:
            prepared.params = params

    def close(self, handle: bytes) -> None:
        with self._lock:
            self._items.pop(handle, None)

    def __len__(self) -> int:
        return len(self._items)
