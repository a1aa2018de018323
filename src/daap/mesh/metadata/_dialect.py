"""Where the SQL databases differ, as data: each adapter fills in one :class:`Dialect`.

Everything else (queries, row mapping, migrations, the build life cycle) is
written once against :class:`Tx`, with ``?`` placeholders; an adapter whose
driver wants ``%s`` translates them in its ``Tx``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

Row = tuple[Any, ...]


class Tx(Protocol):
    """One open transaction; an adapter commits it when the block ends without error."""

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        """Run a statement that returns no rows."""
        ...

    def fetch_one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        """Run a query; its first row, or None."""
        ...

    def fetch_all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Run a query; all its rows."""
        ...


@dataclass(frozen=True)
class Dialect:
    """The differences between two SQL databases that the shared code needs to know.

    Attributes:
        name: selects dialect-only migration statements (``"sqlite"``, ``"postgres"``).
        types: DDL fragments substituted into migrations: ``{timestamp}``, ``{json}``,
            ``{serial}`` (an auto-incrementing integer primary key).
        lock_row: suffix that locks the selected rows until commit (``FOR UPDATE``);
            empty where the transaction already holds the database's write lock.
        encode_time / decode_time: aware UTC datetime <-> column value.
        encode_json / decode_json: JSON-able value <-> column value.
    """

    name: str
    types: Mapping[str, str]
    lock_row: str
    encode_time: Callable[[datetime], object]
    decode_time: Callable[[Any], datetime]
    encode_json: Callable[[Any], object]
    decode_json: Callable[[Any], Any]
