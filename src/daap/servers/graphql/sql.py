"""A port field's arguments as one SQL query with bound parameters, and page cursors.

``where`` becomes a boolean expression whose values are all ``?`` parameters
(never spliced), ``order_by`` is completed with the primary key (or every
column) so the order is total, and a page is ``LIMIT ? OFFSET ?`` at a pinned
version. Offsets are stable because the cursor pins the version it started
on: a version never changes, so a new build during paging cannot shift rows
(and, unlike keyset paging, rows that are equal in every column are not lost).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError

#: filter operator → SQL comparison (``in`` and ``is_null`` are handled apart)
COMPARISONS = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "like": "LIKE"}


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class WhereCompiler:
    """Compiles a ``where`` input; ``columns`` maps GraphQL field names to column names."""

    columns: Mapping[str, str]

    def compile(self, where: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
        params: list[Any] = []
        return (self._all(where, params) if where else "TRUE"), params

    def _all(self, where: Mapping[str, Any], params: list[Any]) -> str:
        parts: list[str] = []
        for key, value in where.items():
            if value is None:
                continue
            if key in ("and", "or"):
                subs = [self._all(w, params) for w in value]
                joined = f" {key.upper()} ".join(f"({s})" for s in subs)
                parts.append(joined or ("TRUE" if key == "and" else "FALSE"))
            elif key == "not":
                parts.append(f"NOT ({self._all(value, params)})")
            else:
                parts.extend(self._column(quote(self.columns[key]), key, value, params))
        return " AND ".join(parts) or "TRUE"

    def _column(self, column: str, field: str, ops: Mapping[str, Any], params: list[Any]) -> list[str]:
        parts = []
        for op, value in ops.items():
            if op == "is_null" and value is not None:
                parts.append(f"{column} IS {'' if value else 'NOT '}NULL")
            elif value is None:
                raise GraphQLError(
                    f"where.{field}.{op} is null: compare with null using is_null",
                    extensions={"code": "BAD_USER_INPUT"},
                )
            elif op == "in":
                params.extend(value)
                parts.append(f"{column} IN ({', '.join('?' for _ in value)})" if value else "FALSE")
            else:
                params.append(value)
                parts.append(f"{column} {COMPARISONS[op]} ?")
        return parts


def order_clause(order_by: Sequence[Mapping[str, str]] | None, key: Sequence[str]) -> str:
    """``ORDER BY`` the requested columns, then ``key`` (primary key) to make the order total."""
    terms = [(o["column"], o.get("direction") or "ASC") for o in order_by or ()]
    named = {column for column, _ in terms}
    terms += [(column, "ASC") for column in key if column not in named]
    return ", ".join(f"{quote(c)} {d} NULLS LAST" for c, d in terms)


def page_query(
    table: str, columns: Sequence[str], where: tuple[str, list[Any]], order: str, limit: int, offset: int
) -> tuple[str, list[Any]]:
    """One page plus one row (to know whether another page follows)."""
    condition, params = where
    select = ", ".join(quote(c) for c in columns)
    sql = f"SELECT {select} FROM {table} WHERE {condition} ORDER BY {order} LIMIT ? OFFSET ?"
    return sql, [*params, limit + 1, offset]


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: the version paged over, the offset, and the query's shape."""

    version: int
    offset: int
    shape: str

    def encode(self) -> str:
        raw = json.dumps({"v": self.version, "o": self.offset, "s": self.shape}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, shape: str) -> Cursor:
        """Raises: GraphQLError (BAD_CURSOR) for a damaged cursor or one from another query."""
        try:
            raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            cursor = cls(int(raw["v"]), int(raw["o"]), str(raw["s"]))
        except (ValueError, TypeError, KeyError) as exc:
            raise _bad_cursor(f"cursor {text!r} is not one this server handed out") from exc
        if cursor.shape != shape:
            raise _bad_cursor("cursor belongs to a query with other where/order_by arguments")
        return cursor


def shape_of(where: Any, order_by: Any) -> str:
    """A short digest of the arguments a cursor is only valid for."""
    text = json.dumps([where, order_by], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _bad_cursor(message: str) -> GraphQLError:
    return GraphQLError(message + "; start again without `after`", extensions={"code": "BAD_CURSOR"})
