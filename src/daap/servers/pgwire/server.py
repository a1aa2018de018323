"""The PostgreSQL wire server: an asyncio listener, worker threads, and cancel routing.

Each accepted socket gets a :class:`~daap.servers.pgwire.session.Connection` task;
a broken or hostile client ends its own task only. Statements run on a thread pool
(DuckDB releases the GIL while it works), so one slow query does not stall others.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import secrets
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from daap.query.service import Caller, QueryService
from daap.servers.pgwire.auth import Authenticator, Trust
from daap.servers.pgwire.catalog import Catalog
from daap.servers.pgwire.protocol import MAX_MESSAGE

if TYPE_CHECKING:
    from daap.servers.pgwire.session import Connection


class PgWireServer:
    """Serve ``service`` to PostgreSQL clients (psql, psycopg, JDBC, BI tools).

    Args:
        service: the query path every statement on product data goes through.
        host, port: where to listen; port 0 picks a free port (see :attr:`port`).
        auth: :class:`~daap.servers.pgwire.auth.Scram` for users with passwords, or
            :class:`~daap.servers.pgwire.auth.Trust` (the default) for local development.
        ssl_context: answer SSLRequest with TLS; without it clients are told 'N'.
        max_message: the largest message accepted (bigger ones close the connection).
        workers: threads running statements.
    """

    def __init__(
        self,
        service: QueryService,
        host: str = "127.0.0.1",
        port: int = 0,
        auth: Authenticator | None = None,
        ssl_context: ssl.SSLContext | None = None,
        *,
        callers: Callable[[str], Caller] | None = None,
        max_message: int = MAX_MESSAGE,
        workers: int = 16,
    ) -> None:
        self.service = service
        self.host, self.port = host, port
        self.auth: Authenticator = auth or Trust()
        self.ssl_context = ssl_context
        #: who a logged-in user is to the query path (policies, the result cache); None: Caller(user)
        self.callers = callers
        self.max_message = max_message
        self.executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="pgwire")
        self.catalog = Catalog(service)
        #: under access policies, one catalog per set of products its sessions may discover
        self._catalogs: dict[frozenset[str], Catalog] = {}
        self._catalogs_lock = threading.Lock()
        self._connections: dict[int, Connection] = {}
        self._pids = itertools.count(secrets.randbelow(1 << 20) + 1000)
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.catalog.close()
        with self._catalogs_lock:
            catalogs, self._catalogs = list(self._catalogs.values()), {}
        for catalog in catalogs:
            catalog.close()

    def catalog_for(self, caller: Caller) -> Catalog:
        """The catalog ``caller``'s session sees: under policies, only the products it may discover
        (as of the session's start)."""
        visible = self.service.visible_products(caller)
        if visible is None:
            return self.catalog
        with self._catalogs_lock:
            found = self._catalogs.get(visible)
            if found is None:
                found = self._catalogs[visible] = Catalog(self.service, visible=visible)
            return found

    def serve_in_thread(self) -> ServerThread:
        """Start on a private event loop in a daemon thread (tests, ``daap up``)."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="pgwire", daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(self.start(), loop).result()
        return ServerThread(self, loop, thread)

    # -- connections, for the sessions ---------------------------------------------------

    def register(self, connection: Connection) -> int:
        pid = next(self._pids)
        self._connections[pid] = connection
        return pid

    def unregister(self, pid: int) -> None:
        self._connections.pop(pid, None)

    def cancel(self, pid: int, secret: int) -> None:
        """A CancelRequest: only the holder of the backend's secret may cancel it."""
        target = self._connections.get(pid)
        if target is not None and secrets.compare_digest(target.secret.to_bytes(4), secret.to_bytes(4)):
            target.cancel()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from daap.servers.pgwire.session import Connection

        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await Connection(self, reader, writer).serve()
        finally:
            self._tasks.discard(task)


@dataclass
class ServerThread:
    """A server running in a background thread: ``.port``, ``.stop()``."""

    server: PgWireServer
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
