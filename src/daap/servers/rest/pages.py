"""Reading one page of a port: columns and key looked up (and cached), then one query.

Why a cache: :meth:`QueryService.table` opens an engine connection to read
the port's schema (about 10 ms here) and :meth:`QueryService.product_spec`
parses every descriptor (about 5 ms), which would triple the cost of a
100-row page. Both are kept per ``(product, port, at)``; a cached entry is
trusted only if the query then reads the version it describes: when a build
has published a newer one the entry is refreshed and the page read again, so
a page never mixes one version's columns with another's rows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from daap.errors import QueryError
from daap.mesh.workspace import At
from daap.query.service import Caller, QueryRequest, QueryService, TableInfo
from daap.servers.rest import rows
from daap.servers.rest.cursor import Cursor
from daap.servers.rest.jsonrows import json_default


@dataclass(frozen=True)
class PortInfo:
    table: TableInfo
    key: tuple[str, ...]


@dataclass(frozen=True)
class Page:
    rows: pa.Table
    versions: dict[str, int]
    next: Cursor | None


@dataclass(frozen=True)
class PageRequest:
    """The ``/rows`` query string, not yet checked against the port."""

    columns: str | None
    sort: str | None
    size: int | None
    cursor: str | None
    at: At
    filters: tuple[tuple[str, str], ...]


class Ports:
    """Port columns and primary keys by ``(product, port, at)``, least recently used dropped first."""

    def __init__(self, service: QueryService, capacity: int = 256) -> None:
        self.service = service
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str, Any], PortInfo] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, product: str, port: str, at: At) -> tuple[PortInfo, bool]:
        """The port's info and whether it came from the cache."""
        with self._lock:
            found = self._entries.get((product, port, at))
            if found is not None:
                self._entries.move_to_end((product, port, at))
                return found, True
        return self.refresh(product, port, at), False

    def refresh(self, product: str, port: str, at: At) -> PortInfo:
        table = self.service.table(product, port, at=at)
        output = self.service.product_spec(product).output_port(port)
        info = PortInfo(table, output.contract.primary_key if output else ())
        with self._lock:
            self._entries[(product, port, at)] = info
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return info


def read_page(
    service: QueryService, ports: Ports, product: str, port: str, request: PageRequest, caller: Caller
) -> Page:
    """One page of ``product.port`` as ``caller`` may see it, following ``request.cursor`` if given.

    Raises:
        NotFound: no such product, port or version.
        InvalidRequest: a bad column, filter value, sort, size or cursor.
    """
    cursor = Cursor.decode(request.cursor) if request.cursor else None
    at = cursor.version if cursor else request.at
    info, cached = ports.get(product, port, at)
    try:
        page = _read(service, info, request, cursor, at, caller)
    except QueryError:
        if not cached:
            raise
        page = None  # the cached columns may be stale: retry below with fresh ones
    if page is None or page.versions.get(product) != info.table.version:
        page = _read(service, ports.refresh(product, port, at), request, cursor, at, caller)
    return page


def _read(
    service: QueryService, info: PortInfo, request: PageRequest, cursor: Cursor | None, at: At, caller: Caller
) -> Page:
    keys, unique = rows.order(info.table, request.sort, info.key)
    query = rows.RowsQuery(
        info.table,
        rows.columns(info.table, request.columns),
        rows.filters(info.table, request.filters),
        keys,
        unique,
        rows.size(request.size),
    )
    sql, params = query.sql(cursor)
    result = service.execute(QueryRequest(sql, params, at, caller, protocol="rest"))
    got = result.read_all()
    page = got.slice(0, query.size)
    following = (
        _next(query, page, cursor, result.versions[info.table.product]) if got.num_rows > query.size else None
    )
    return Page(page.select(list(query.columns)), result.versions, following)


def _next(query: rows.RowsQuery, page: pa.Table, cursor: Cursor | None, version: int) -> Cursor:
    """The cursor after the page's last row (the page is not empty: it had a row more)."""
    names = [k.column for k in query.order]
    keyed = page.select(names).to_pylist()
    last = keyed[-1]
    after = tuple(jsonable(last[n]) for n in names)
    skip = 0
    if not query.unique:  # rows equal to the last one returned so far: skip them next time
        skip = next((i for i, row in enumerate(reversed(keyed)) if row != last), len(keyed))
        if skip == len(keyed) and cursor is not None and cursor.after == after:
            skip += cursor.skip
    return Cursor(version, tuple(map(str, query.order)), after, skip)


def jsonable(value: Any) -> Any:
    """A key value as the cursor stores it (decimals, dates and times as text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json_default(value)
