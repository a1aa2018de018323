"""PostgreSQL frontend/backend protocol v3: framing, and the backend messages daap sends.

Every message after startup is ``type byte + int32 length (counting itself) + body``;
startup-phase packets have no type byte. Builders here return complete messages as
``bytes`` so the session can batch several into one write (PostgreSQL itself answers
``Parse/Bind/Describe/Execute/Sync`` with one flush).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from daap.servers.pgwire.errors import PgError

PROTOCOL_V3 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
#: the largest message we accept; anything bigger is refused before its body is read
MAX_MESSAGE = 64 << 20
#: startup packets are small (user, database, options); PostgreSQL caps them at 10000 bytes
MAX_STARTUP = 10_000

_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")


@dataclass(frozen=True)
class Field:
    """One column of a RowDescription."""

    name: str
    oid: int
    size: int
    typmod: int = -1
    format: int = 0
    table_oid: int = 0
    column: int = 0


class Body:
    """A cursor over one message body; raises 08P01 when the body is shorter than it claims."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise PgError("08P01", "message is shorter than its fields say")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int16(self) -> int:
        return int(_I16.unpack(self.take(2))[0])

    def int32(self) -> int:
        return int(_I32.unpack(self.take(4))[0])

    def cstring(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise PgError("08P01", "string field is not NUL-terminated")
        text = self.data[self.pos : end].decode("utf-8", errors="replace")
        self.pos = end + 1
        return text

    def int16s(self) -> list[int]:
        return [self.int16() for _ in range(self.int16())]


async def read_startup(reader: asyncio.StreamReader) -> bytes:
    """One startup-phase packet (no type byte), at most :data:`MAX_STARTUP` bytes."""
    length = _I32.unpack(await reader.readexactly(4))[0]
    if not 8 <= length <= MAX_STARTUP:
        raise PgError("08P01", f"invalid startup packet length {length}")
    return await reader.readexactly(length - 4)


async def read_message(reader: asyncio.StreamReader, limit: int = MAX_MESSAGE) -> tuple[bytes, Body]:
    """One typed message; oversized or negative lengths are refused without reading the body."""
    head = await reader.readexactly(5)
    kind, length = head[:1], _I32.unpack(head[1:])[0]
    if length < 4:
        raise PgError("08P01", f"invalid length {length} in message {kind!r}")
    if length > limit:
        raise PgError(
            "54000",
            f"message {kind!r} of {length:,} bytes exceeds the limit of {limit:,} bytes",
            hint="split the statement or its parameters",
        )
    return kind, Body(await reader.readexactly(length - 4))


def message(kind: bytes, body: bytes = b"") -> bytes:
    return kind + _I32.pack(len(body) + 4) + body


def cstr(text: str) -> bytes:
    return text.encode() + b"\0"


def authentication(code: int, data: bytes = b"") -> bytes:
    return message(b"R", _I32.pack(code) + data)


def parameter_status(name: str, value: str) -> bytes:
    return message(b"S", cstr(name) + cstr(value))


def backend_key_data(pid: int, secret: int) -> bytes:
    return message(b"K", _I32.pack(pid) + _I32.pack(secret))


def ready(status: bytes = b"I") -> bytes:
    return message(b"Z", status)


def command_complete(tag: str) -> bytes:
    return message(b"C", cstr(tag))


def row_description(fields: Sequence[Field]) -> bytes:
    parts = [_I16.pack(len(fields))]
    for f in fields:
        parts.append(cstr(f.name))
        parts.append(struct.pack("!ihihih", f.table_oid, f.column, f.oid, f.size, f.typmod, f.format))
    return message(b"T", b"".join(parts))


def parameter_description(oids: Sequence[int]) -> bytes:
    return message(b"t", _I16.pack(len(oids)) + b"".join(struct.pack("!I", o) for o in oids))


def error_response(error: PgError, kind: bytes = b"E") -> bytes:
    """ErrorResponse (or NoticeResponse with ``kind=b'N'``) with S, V, C, M and optional H, P."""
    fields = [(b"S", error.severity), (b"V", error.severity), (b"C", error.sqlstate), (b"M", error.message)]
    if error.hint:
        fields.append((b"H", error.hint))
    if error.position:
        fields.append((b"P", str(error.position)))
    return message(kind, b"".join(code + cstr(value) for code, value in fields) + b"\0")


PARSE_COMPLETE = message(b"1")
BIND_COMPLETE = message(b"2")
CLOSE_COMPLETE = message(b"3")
NO_DATA = message(b"n")
PORTAL_SUSPENDED = message(b"s")
EMPTY_QUERY = message(b"I")
