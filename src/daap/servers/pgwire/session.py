"""One client connection: startup, authentication, then the simple and extended protocols.

The event loop only parses messages and moves bytes; statements run on the server's
worker threads (:mod:`~daap.servers.pgwire.portal`). Replies are buffered and written
at Sync, Flush, the end of a simple Query, or while streaming rows (with ``drain`` for
back-pressure). After an error in the extended protocol, messages are skipped until
Sync, as PostgreSQL does. A protocol violation closes only this connection.
The startup phase (TLS, cancel requests, authentication) is in :mod:`.startup`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import struct
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from daap.errors import DaapError
from daap.servers.pgwire import portal, protocol, router, startup
from daap.servers.pgwire.errors import PgError, from_daap
from daap.servers.pgwire.types import decode_param

if TYPE_CHECKING:
    from daap.servers.pgwire.server import PgWireServer

T = TypeVar("T")
log = logging.getLogger(__name__)
_STATUS_AFTER = {"BEGIN": b"T", "COMMIT": b"I", "ROLLBACK": b"I"}


class Connection:
    def __init__(
        self, server: PgWireServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader, self.writer = reader, writer
        self.pid, self.secret = server.register(self), secrets.randbits(31)
        self.out: list[bytes] = []
        self.statements: dict[str, portal.Statement] = {}
        self.portals: dict[str, portal.Portal] = {}
        self.status = b"I"
        self.skipping = False
        self.state: portal.Session | None = None
        self.running: portal.Portal | None = None

    async def serve(self) -> None:
        try:
            if await startup.handshake(self):
                await self._loop()
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass  # the client went away; nothing to tell it
        except PgError as exc:
            await self._fatal(exc)
        finally:
            await self._close()

    def cancel(self) -> None:
        """CancelRequest: stop the running statement between batches, and interrupt the engine."""
        if self.state is not None and self.running is not None:
            self.state.cancelled.set()
            if self.running.result is not None:
                self.running.result.interrupt()

    # -- message loop -------------------------------------------------------------------

    async def _loop(self) -> None:
        handlers: dict[bytes, Callable[[protocol.Body], Awaitable[None]]] = {
            b"Q": self._query,
            b"P": self._parse,
            b"B": self._bind,
            b"D": self._describe,
            b"E": self._execute,
            b"C": self._close_message,
            b"S": self._sync,
            b"H": self._flush_message,
        }
        while True:
            kind, body = await protocol.read_message(self.reader, self.server.max_message)
            if kind == b"X":
                return
            handler = handlers.get(kind)
            if handler is None:
                raise PgError("08P01", f"unknown message type {kind!r}")
            if self.skipping and kind not in (b"S", b"Q"):
                continue
            try:
                await handler(body)
            except (DaapError, PgError) as exc:
                self._error(exc)
                self.skipping = kind != b"Q"

    async def _query(self, body: protocol.Body) -> None:
        """Simple Query: every statement with text results; the first error ends the message."""
        self.skipping = False
        for sql in router.split(body.cstring()):
            try:
                self._check_aborted(sql)
                statement = portal.Statement(sql, router.route(sql), [])
                await self._run_portal(portal.Portal(statement, [], []), 0, describe=True)
            except Exception as exc:
                self._error(exc)
                break
        self.out.append(protocol.ready(self.status))
        await self.flush()

    async def _parse(self, body: protocol.Body) -> None:
        name, sql = body.cstring(), body.cstring()
        oids = [struct.unpack("!I", body.take(4))[0] for _ in range(body.int16())]
        if name and name in self.statements:
            raise PgError("42P05", f'prepared statement "{name}" already exists')
        self.statements[name] = portal.Statement(sql, router.route(sql), oids)
        self.out.append(protocol.PARSE_COMPLETE)

    async def _bind(self, body: protocol.Body) -> None:
        name, statement = body.cstring(), self._statement(body.cstring())
        codes = body.int16s()
        raw = [None if (n := body.int32()) < 0 else body.take(n) for _ in range(body.int16())]
        formats = body.int16s()
        if len(codes) not in (0, 1, len(raw)):
            raise PgError("08P01", f"Bind has {len(codes)} parameter formats for {len(raw)} parameters")
        codes = codes * len(raw) if len(codes) == 1 else codes or [0] * len(raw)
        oids = statement.param_oids + [0] * (len(raw) - len(statement.param_oids))
        params = [decode_param(v, oid, c == 1) for v, oid, c in zip(raw, oids, codes, strict=True)]
        self._drop_portal(name)
        self.portals[name] = portal.Portal(statement, params, formats)
        self.out.append(protocol.BIND_COMPLETE)

    async def _describe(self, body: protocol.Body) -> None:
        kind, name = body.take(1), body.cstring()
        if kind == b"S":
            statement = self._statement(name)
            count = statement.param_count
            oids = [o or 25 for o in statement.param_oids] + [25] * (count - len(statement.param_oids))
            self.out.append(protocol.parameter_description(oids))
            schema = await self._blocking(self._session().describe, statement)
            described = portal.fields(schema, []) if schema is not None else []
        else:
            found = self._portal(name)
            self._check_aborted(found.statement.sql)
            await self._blocking(found.open, self._session())
            described = found.fields()
        self.out.append(protocol.row_description(described) if described else protocol.NO_DATA)

    async def _execute(self, body: protocol.Body) -> None:
        name, limit = body.cstring(), body.int32()
        found = self._portal(name)
        self._check_aborted(found.statement.sql)
        await self._run_portal(found, max(limit, 0), describe=False)

    async def _sync(self, body: protocol.Body) -> None:
        self.skipping = False
        self._drop_portal("")
        self.out.append(protocol.ready(self.status))
        await self.flush()

    async def _close_message(self, body: protocol.Body) -> None:
        kind, name = body.take(1), body.cstring()
        if kind == b"S":
            self.statements.pop(name, None)
        else:
            self._drop_portal(name)
        self.out.append(protocol.CLOSE_COMPLETE)

    async def _flush_message(self, body: protocol.Body) -> None:
        await self.flush()

    # -- running ------------------------------------------------------------------------

    async def _run_portal(self, found: portal.Portal, limit: int, *, describe: bool) -> None:
        """Stream a portal's rows; ``limit`` > 0 suspends after that many rows."""
        session = self._session()
        session.cancelled.clear()
        self.running = found
        try:
            result = await self._blocking(found.open, session)
            if describe and result.schema is not None:
                self.out.append(protocol.row_description(found.fields()))
            await self._stream(found, session, limit)
        finally:
            self.running = None
            if describe:
                found.close()

    async def _stream(self, found: portal.Portal, session: portal.Session, limit: int) -> None:
        assert found.result is not None
        start = found.sent
        while not found.done and (not limit or found.sent - start < limit):
            left = limit - (found.sent - start) if limit else 0
            data, _ = await self._blocking(found.chunk, session, left)
            if data:
                self.out.append(data)
                await self.flush()
        if not found.done:
            self.out.append(protocol.PORTAL_SUSPENDED)
            return
        tag = found.result.tag
        if not tag:
            self.out.append(protocol.EMPTY_QUERY)
            return
        self._track_transaction(tag, found.statement.sql)
        count = f" {found.sent}" if tag == "SELECT" else ""
        self.out.append(protocol.command_complete(tag + count))

    def _track_transaction(self, tag: str, sql: str) -> None:
        """BEGIN opens a (read-only, trivial) block; COMMIT/ROLLBACK end it; ROLLBACK TO resumes it."""
        if tag == "ROLLBACK" and " to " in f" {sql.lower()} ":
            self.status = b"T" if self.status != b"I" else b"I"
        elif tag == "BEGIN":
            self.status = b"T" if self.status == b"I" else self.status
        elif tag in _STATUS_AFTER:
            self.status = b"I"

    def _check_aborted(self, sql: str) -> None:
        verb = sql.split(None, 1)[0].lower() if sql.strip() else ""
        if self.status == b"E" and verb not in ("rollback", "abort", "commit", "end", "release"):
            raise PgError(
                "25P02", "current transaction is aborted, commands ignored until end of transaction block"
            )

    async def _blocking(self, call: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.server.executor, call, *args)
        except (DaapError, PgError):
            raise
        except Exception as exc:
            if self.state is not None and self.state.cancelled.is_set():
                raise PgError("57014", "canceling statement due to user request") from None
            raise from_daap(exc) from None

    # -- helpers ------------------------------------------------------------------------

    def _session(self) -> portal.Session:
        assert self.state is not None
        return self.state

    def _statement(self, name: str) -> portal.Statement:
        found = self.statements.get(name)
        if found is None:
            raise PgError("26000", f'prepared statement "{name}" does not exist')
        return found

    def _portal(self, name: str) -> portal.Portal:
        found = self.portals.get(name)
        if found is None:
            raise PgError("34000", f'portal "{name}" does not exist')
        return found

    def _drop_portal(self, name: str) -> None:
        found = self.portals.pop(name, None)
        if found is not None:
            found.close()

    def _error(self, exc: Exception) -> None:
        error = from_daap(exc)
        log.debug("pid %d: %s %s", self.pid, error.sqlstate, error.message)
        self.out.append(protocol.error_response(error))
        if self.status == b"T":
            self.status = b"E"

    async def flush(self) -> None:
        if self.out:
            data, self.out = b"".join(self.out), []
            self.writer.write(data)
            await self.writer.drain()

    async def _fatal(self, exc: PgError) -> None:
        try:
            exc.severity = "FATAL"
            self.out.append(protocol.error_response(exc))
            await self.flush()
        except (ConnectionError, OSError):
            pass

    async def _close(self) -> None:
        self.server.unregister(self.pid)
        for name in list(self.portals):
            self._drop_portal(name)
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
