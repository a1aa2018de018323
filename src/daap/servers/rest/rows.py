"""``/rows`` query strings as one parameterised SQL query with keyset pagination.

``?_columns=id,name&price__gte=10&_sort=-price&_size=50`` becomes::

    SELECT "id", "name", "price" FROM "shop"."items"
    WHERE "price" >= ? ORDER BY "price" DESC NULLS LAST, "id" ASC NULLS LAST LIMIT 51

Column names are checked against the port's columns and quoted; values are
converted to the column's type (:mod:`.values`) and bound, never spliced in.
The order always ends with a tiebreak (the contract's primary key, else every
column) so that "the rows after the last one" is well defined; one row more
than the page is read to know whether there is a next page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from daap.query.service import TableInfo
from daap.servers.rest.cursor import Cursor
from daap.servers.rest.errors import InvalidRequest
from daap.servers.rest.values import boolean, convert

DEFAULT_SIZE = 100
MAX_SIZE = 10_000
#: query parameters that are not filters; a column with one of these names is filtered as ``name__eq``
RESERVED = frozenset({"_columns", "_sort", "_size", "_cursor", "_format", "at"})


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool = False

    def __str__(self) -> str:
        return f"-{self.column}" if self.descending else self.column

    def sql(self) -> str:
        return f"{quote(self.column)} {'DESC' if self.descending else 'ASC'} NULLS LAST"


@dataclass(frozen=True)
class Condition:
    sql: str
    params: tuple[Any, ...] = ()


@dataclass(frozen=True)
class RowsQuery:
    """One page request against one port, validated against its columns."""

    table: TableInfo
    columns: tuple[str, ...]
    where: tuple[Condition, ...]
    order: tuple[SortKey, ...]
    #: the order keys identify a row (a primary key), so no row can tie with the last one
    unique: bool
    size: int

    def sql(self, cursor: Cursor | None) -> tuple[str, list[Any]]:
        """The statement and its parameters for the page after ``cursor`` (the first if None)."""
        needed = list(dict.fromkeys([*self.columns, *(k.column for k in self.order)]))
        conditions = list(self.where)
        if cursor is not None:
            conditions.append(self._after(cursor))
        params = [p for c in conditions for p in c.params]
        where = f" WHERE {' AND '.join(f'({c.sql})' for c in conditions)}" if conditions else ""
        order = ", ".join(k.sql() for k in self.order)
        skip = f" OFFSET {cursor.skip}" if cursor is not None and cursor.skip else ""
        table = f"{quote(self.table.product)}.{quote(self.table.port)}"
        select = ", ".join(map(quote, needed))
        return f"SELECT {select} FROM {table}{where} ORDER BY {order} LIMIT {self.size + 1}{skip}", params

    def _after(self, cursor: Cursor) -> Condition:
        """Rows after the cursor's last row in this order; with ``skip``, also rows equal to it."""
        if cursor.keys != tuple(map(str, self.order)):
            raise InvalidRequest(
                "_cursor",
                f"it was made for the order {','.join(cursor.keys)}, not {','.join(map(str, self.order))}",
                hint="keep _sort as it was on the first page, or drop _cursor to start over",
            )
        types = {c.name: c.type for c in self.table.columns}
        try:
            last = [convert(types[k.column], v) for k, v in zip(self.order, cursor.after, strict=True)]
        except ValueError as exc:
            raise InvalidRequest("_cursor", f"a key value does not fit its column: {exc}") from None
        terms: list[Condition] = []
        for i, (key, value) in enumerate(zip(self.order, last, strict=True)):
            if value is None:  # NULLS LAST: nothing sorts after a null within this key
                continue
            ties = [
                Condition(f"{quote(k.column)} IS NOT DISTINCT FROM ?", (v,))
                for k, v in zip(self.order[:i], last, strict=False)
            ]
            op = "<" if key.descending else ">"
            beyond = Condition(f"{quote(key.column)} {op} ? OR {quote(key.column)} IS NULL", (value,))
            terms.append(_all([*ties, beyond]))
        if not self.unique:
            equal = [
                Condition(f"{quote(k.column)} IS NOT DISTINCT FROM ?", (v,))
                for k, v in zip(self.order, last, strict=True)
            ]
            terms.append(_all(equal))
        return _any(terms)


def _all(parts: Sequence[Condition]) -> Condition:
    return Condition(" AND ".join(f"({c.sql})" for c in parts), tuple(p for c in parts for p in c.params))


def _any(parts: Sequence[Condition]) -> Condition:
    if not parts:
        return Condition("FALSE")
    return Condition(" OR ".join(f"({c.sql})" for c in parts), tuple(p for c in parts for p in c.params))


# -- parsing the query string ---------------------------------------------------


def _operand(table: TableInfo, parameter: str, column: str, raw: str) -> Any:
    kind = next(c.type for c in table.columns if c.name == column)
    try:
        return convert(kind, raw)
    except ValueError as exc:
        raise InvalidRequest(parameter, f"{exc} (column {column!r})") from None


def _compare(op: str) -> Callable[[TableInfo, str, str, str], Condition]:
    def build(table: TableInfo, parameter: str, column: str, raw: str) -> Condition:
        return Condition(f"{quote(column)} {op} ?", (_operand(table, parameter, column, raw),))

    return build


def _in(table: TableInfo, parameter: str, column: str, raw: str) -> Condition:
    items = [_operand(table, parameter, column, item) for item in raw.split(",") if item != ""]
    if not items:
        raise InvalidRequest(parameter, "give at least one comma-separated value")
    return Condition(f"{quote(column)} IN ({', '.join('?' * len(items))})", tuple(items))


def _like(table: TableInfo, parameter: str, column: str, raw: str) -> Condition:
    return Condition(f"CAST({quote(column)} AS VARCHAR) LIKE ?", (raw,))


def _isnull(table: TableInfo, parameter: str, column: str, raw: str) -> Condition:
    try:
        wanted = boolean(raw)
    except ValueError as exc:
        raise InvalidRequest(parameter, str(exc)) from None
    return Condition(f"{quote(column)} IS {'' if wanted else 'NOT '}NULL")


#: ``column__<op>=value`` -> its condition; a parameter without a known suffix means ``eq``
OPERATORS: dict[str, Callable[[TableInfo, str, str, str], Condition]] = {
    "eq": _compare("="),
    "ne": _compare("<>"),
    "lt": _compare("<"),
    "lte": _compare("<="),
    "gt": _compare(">"),
    "gte": _compare(">="),
    "in": _in,
    "like": _like,
    "isnull": _isnull,
}


def _column(table: TableInfo, parameter: str, name: str) -> str:
    known = [c.name for c in table.columns]
    if name not in known:
        raise InvalidRequest(
            parameter,
            f"{table.product}.{table.port} has no column {name!r}",
            hint=f"its columns are {', '.join(known)}",
        )
    return name


def filters(table: TableInfo, items: Iterable[tuple[str, str]]) -> tuple[Condition, ...]:
    """Conditions for the query string's filter parameters (those not in :data:`RESERVED`)."""
    found = []
    for parameter, raw in items:
        if parameter in RESERVED:
            continue
        column, _, op = parameter.rpartition("__")
        if not column or op not in OPERATORS:
            column, op = parameter, "eq"
        found.append(OPERATORS[op](table, parameter, _column(table, parameter, column), raw))
    return tuple(found)


def columns(table: TableInfo, raw: str | None) -> tuple[str, ...]:
    if not raw:
        return tuple(c.name for c in table.columns)
    names = [name.strip() for name in raw.split(",") if name.strip()]
    return tuple(dict.fromkeys(_column(table, "_columns", name) for name in names))


def order(table: TableInfo, raw: str | None, key: Sequence[str]) -> tuple[tuple[SortKey, ...], bool]:
    """The sort keys of ``_sort`` then the tiebreak; and whether they identify a row.

    ``key`` is the primary key (empty: every column is the tiebreak, which may still tie).
    """
    keys = []
    for item in (raw or "").split(","):
        name = item.strip()
        if name:
            column = _column(table, "_sort", name.removeprefix("-"))
            keys.append(SortKey(column, name.startswith("-")))
    tiebreak = list(key) or [c.name for c in table.columns]
    chosen = {k.column for k in keys}
    keys += [SortKey(name) for name in tiebreak if name not in chosen]
    return tuple(keys), bool(key)


def size(raw: int | None) -> int:
    if raw is None:
        return DEFAULT_SIZE
    if not 1 <= raw <= MAX_SIZE:
        raise InvalidRequest("_size", f"must be between 1 and {MAX_SIZE}, got {raw}")
    return raw
