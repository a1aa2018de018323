"""Prepared statements, portals, and running them: the blocking half of a session.

Everything here runs on a worker thread (the event loop only moves bytes). A portal
opens its result once (at Describe or the first Execute), then hands out DataRow
bytes chunk by chunk, so ``Execute`` with a row limit can suspend and resume, and a
cancel request or a closed socket stops the query between batches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlglot import exp

from daap.query.service import Caller, QueryRequest, QueryService
from daap.servers.pgwire import commands, encode, protocol, router
from daap.servers.pgwire import types as pgt
from daap.servers.pgwire.catalog import Catalog
from daap.servers.pgwire.errors import PgError

_EMPTY = pa.schema([])


@dataclass
class Statement:
    sql: str
    routed: router.Routed
    param_oids: list[int]

    @property
    def param_count(self) -> int:
        if self.routed.tree is None:
            return len(self.param_oids)
        found = self.routed.tree.find_all(exp.Parameter, exp.Placeholder)
        return max([len(self.param_oids), *(int(p.name) for p in found if p.name.isdigit())])


@dataclass
class Result:
    """An open result: Arrow batches (or none, for commands) and the command tag."""

    tag: str
    reader: pa.RecordBatchReader | None = None
    close: Callable[[], None] = lambda: None
    interrupt: Callable[[], None] = lambda: None

    @property
    def schema(self) -> pa.Schema | None:
        return self.reader.schema if self.reader is not None else None


@dataclass
class Session:
    """What running a statement needs to know about its connection."""

    service: QueryService
    catalog: Catalog
    settings: MutableMapping[str, str]
    defaults: MutableMapping[str, str]
    caller: Caller
    cancelled: threading.Event = field(default_factory=threading.Event)

    def open(self, routed: router.Routed, params: Sequence[Any]) -> Result:
        """Run a routed statement up to its first batch.

        Raises:
            DaapError, PgError: translated by the caller.
        """
        if routed.kind == "empty":
            return Result("")
        if routed.kind == "session":
            answer = commands.run(routed.sql, self.settings, self.defaults)
            reader = answer.table.to_reader() if answer.table is not None else None
            return Result(answer.tag, reader)
        if routed.kind == "catalog":
            return Result("SELECT", self._catalog(routed, list(params)).to_reader())
        at = commands.parse_at(self.settings.get("daap.at", ""))
        result = self.service.execute(QueryRequest(routed.sql, list(params), at, self.caller, "pgwire"))
        con = result._con  # the engine connection: interrupt() cancels a running query
        return Result(
            "SELECT", result.reader, result.close, con.interrupt if con is not None else lambda: None
        )

    def describe(self, statement: Statement) -> pa.Schema | None:
        """The result columns of a statement without running it on data."""
        routed = statement.routed
        nulls = [None] * statement.param_count
        if routed.kind == "data" and isinstance(routed.tree, exp.Query):
            at = commands.parse_at(self.settings.get("daap.at", ""))
            return self.service.schema(QueryRequest(routed.sql, nulls, at, self.caller, "pgwire"))
        if routed.kind == "catalog":
            return self._catalog(routed, nulls).schema
        if routed.kind == "session" and routed.sql.split()[0].lower() == "show":
            return self.open(routed, []).schema
        return None

    def _catalog(self, routed: router.Routed, params: list[Any]) -> pa.Table:
        assert routed.tree is not None
        values = dict(self.settings) | {"user": self.caller.name}
        try:
            return self.catalog.query(router.catalog_sql(routed.tree, values), params)
        except Exception:
            if not routed.missing:
                raise
            # a pg_catalog table daap has nothing for (pg_policy, pg_publication, ...): no rows
            names = routed.tree.named_selects if hasattr(routed.tree, "named_selects") else []
            return pa.table({name or f"column{i}": pa.array([], pa.string()) for i, name in enumerate(names)})


@dataclass
class Portal:
    statement: Statement
    params: list[Any]
    formats: list[int]
    result: Result | None = None
    encoders: list[encode.Encoder] = field(default_factory=list)
    pending: Iterator[pa.RecordBatch] | None = None
    carry: pa.RecordBatch | None = None
    sent: int = 0
    done: bool = False

    def open(self, session: Session) -> Result:
        if self.result is None:
            self.result = session.open(self.statement.routed, self.params)
            schema = self.result.schema or _EMPTY
            if self.formats and len(self.formats) not in (1, len(schema)):
                raise PgError(
                    "08P01", f"Bind has {len(self.formats)} result formats for {len(schema)} columns"
                )
            self.encoders = encode.encoders(schema, self.formats)
            self.pending = iter(self.result.reader) if self.result.reader is not None else iter(())
        return self.result

    def fields(self) -> list[protocol.Field]:
        schema = self.result.schema if self.result else None
        return fields(schema, self.formats) if schema is not None else []

    def chunk(self, session: Session, limit: int) -> tuple[bytes, bool]:
        """DataRows for up to ``limit`` rows (0 = one batch); ``True`` once the result is exhausted."""
        self.open(session)
        assert self.pending is not None
        if session.cancelled.is_set():
            raise PgError("57014", "canceling statement due to user request")
        batch = self.carry if self.carry is not None else next(self.pending, None)
        self.carry = None
        if batch is None:
            self.done = True
            return b"", True
        if limit and batch.num_rows > limit:
            batch, self.carry = batch.slice(0, limit), batch.slice(limit)
        self.sent += batch.num_rows
        return encode.data_rows(batch, self.encoders), False

    def close(self) -> None:
        if self.result is not None:
            self.result.close()


def fields(schema: pa.Schema, formats: Sequence[int]) -> list[protocol.Field]:
    codes = encode._expand(formats, len(schema))
    described = []
    for f, code in zip(schema, codes, strict=True):
        kind = pgt.pg_type(f.type)
        described.append(protocol.Field(f.name, kind.oid, kind.size, kind.typmod, code))
    return described
