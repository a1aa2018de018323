"""The startup phase of a connection: TLS or GSS negotiation, CancelRequest, authentication.

A client may first send SSLRequest (we answer ``S`` and upgrade when the server has
a TLS context, else ``N`` and it continues in plain text) or GSSENCRequest (always
``N``); a CancelRequest arrives on a fresh connection of its own and closes it. Then
comes the StartupMessage (user, database, options), authentication, and the
ParameterStatus / BackendKeyData / ReadyForQuery greeting.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from daap.query.service import Caller
from daap.servers.pgwire import commands, portal, protocol
from daap.servers.pgwire.catalog_schema import SETTINGS
from daap.servers.pgwire.errors import PgError

if TYPE_CHECKING:
    from daap.servers.pgwire.session import Connection

#: the settings PostgreSQL reports at startup; drivers read them (psycopg: client_encoding)
REPORTED: tuple[str, ...] = (
    "server_version",
    "server_encoding",
    "client_encoding",
    "DateStyle",
    "IntervalStyle",
    "TimeZone",
)
REPORTED += ("integer_datetimes", "standard_conforming_strings", "is_superuser", "application_name")


async def handshake(conn: Connection) -> bool:
    """Run the startup phase; ``False`` when the connection ends here (a cancel request).

    Raises:
        PgError: unsupported protocol, missing user, failed authentication, bad ``daap.at``.
    """
    encrypted = False
    while True:
        body = protocol.Body(await protocol.read_startup(conn.reader))
        code = body.int32()
        if code in (protocol.SSL_REQUEST, protocol.GSSENC_REQUEST):
            encrypted = await _negotiate_tls(conn, code) or encrypted
        elif code == protocol.CANCEL_REQUEST:
            conn.server.cancel(body.int32(), body.int32())
            return False
        elif code == protocol.PROTOCOL_V3:
            if conn.server.ssl_context is not None and not encrypted:
                # a server with a certificate never lets passwords or data travel in clear
                raise PgError("28000", "this server requires TLS: connect with sslmode=require")
            await _begin(conn, _params(body))
            return True
        else:
            raise PgError("0A000", f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}")


async def _negotiate_tls(conn: Connection, code: int) -> bool:
    """Answer an SSL or GSS request; whether the connection is now encrypted."""
    context = conn.server.ssl_context if code == protocol.SSL_REQUEST else None
    conn.writer.write(b"S" if context else b"N")
    await conn.writer.drain()
    if context is not None:
        await conn.writer.start_tls(context)
    return context is not None


async def _begin(conn: Connection, params: dict[str, str]) -> None:
    user = params.get("user", "")
    if not user:
        raise PgError("28000", "no PostgreSQL user name specified in startup packet")

    async def send(data: bytes) -> None:
        conn.writer.write(data)
        await conn.writer.drain()

    async def receive() -> protocol.Body:
        kind, body = await protocol.read_message(conn.reader, 10_000)
        if kind != b"p":
            raise PgError("08P01", f"expected a password message, got {kind!r}")
        return body

    await conn.server.auth.authenticate(user, send, receive)
    settings = dict(SETTINGS) | commands.startup_options(params.get("options", ""))
    settings["application_name"] = params.get("application_name", "")
    settings["client_encoding"] = params.get("client_encoding", "UTF8")
    commands.parse_at(settings.get("daap.at", ""))
    callers = conn.server.callers
    caller = Caller(user) if callers is None else await asyncio.to_thread(callers, user)
    catalog = await asyncio.to_thread(conn.server.catalog_for, caller)
    conn.state = portal.Session(conn.server.service, catalog, settings, dict(SETTINGS), caller)
    settings["pid"] = str(conn.pid)
    conn.out.append(protocol.authentication(0))
    conn.out += [protocol.parameter_status(k, settings[k]) for k in REPORTED]
    conn.out += [protocol.backend_key_data(conn.pid, conn.secret), protocol.ready(conn.status)]
    await conn.flush()


def _params(body: protocol.Body) -> dict[str, str]:
    params: dict[str, str] = {}
    while body.pos < len(body.data) and body.data[body.pos] != 0:
        key = body.cstring()
        params[key] = body.cstring()
    return params
