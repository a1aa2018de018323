"""Client authentication: SCRAM-SHA-256 (RFC 5802 / 7677, as PostgreSQL speaks it) or trust.

PostgreSQL's SCRAM ignores the user name inside the SCRAM messages (``n=`` is empty)
and takes it from the startup packet; it offers only ``SCRAM-SHA-256`` here (no
``-PLUS`` channel binding), so clients send the ``n,,`` or ``y,,`` GS2 header.
Passwords are kept only as salted verifiers (StoredKey, ServerKey), like ``pg_authid``.
An unknown user gets a full exchange against a random verifier, so the failure looks
the same as a wrong password.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from daap.servers.pgwire import protocol
from daap.servers.pgwire.errors import PgError

MECHANISM = "SCRAM-SHA-256"
ITERATIONS = 4096

Send = Callable[[bytes], Awaitable[None]]
Receive = Callable[[], Awaitable[protocol.Body]]


class Authenticator(Protocol):
    async def authenticate(self, user: str, send: Send, receive: Receive) -> None:
        """Run the exchange after the startup packet; return on success.

        Raises:
            PgError: 28P01 (bad password) or 08P01 (malformed exchange).
        """


class Trust:
    """Accept every user without a password: for local development only."""

    async def authenticate(self, user: str, send: Send, receive: Receive) -> None:
        return None


@dataclass(frozen=True)
class Verifier:
    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes

    @classmethod
    def from_password(cls, password: str, iterations: int = ITERATIONS) -> Verifier:
        salt = secrets.token_bytes(16)
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
        client_key = _hmac(salted, b"Client Key")
        return cls(salt, iterations, hashlib.sha256(client_key).digest(), _hmac(salted, b"Server Key"))


class Scram:
    """SCRAM-SHA-256 against ``{user: password}``."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self._verifiers = {user: Verifier.from_password(pw) for user, pw in users.items()}
        self._decoy = Verifier.from_password(secrets.token_hex(16))

    async def authenticate(self, user: str, send: Send, receive: Receive) -> None:
        verifier = self._verifiers.get(user, self._decoy)
        await send(protocol.authentication(10, protocol.cstr(MECHANISM) + b"\0"))
        first = await receive()
        if first.cstring() != MECHANISM:
            raise PgError("28000", f"unsupported SASL mechanism; use {MECHANISM}")
        client_first = first.take(first.int32()).decode()
        bare, client_nonce = _client_first(client_first)
        nonce = client_nonce + base64.b64encode(secrets.token_bytes(18)).decode()
        salt = base64.b64encode(verifier.salt).decode()
        server_first = f"r={nonce},s={salt},i={verifier.iterations}"
        await send(protocol.authentication(11, server_first.encode()))
        final = (await receive()).data.decode()
        signature = _verify(verifier, bare, server_first, final, nonce)
        if signature is None or user not in self._verifiers:
            raise PgError("28P01", f'password authentication failed for user "{user}"')
        await send(protocol.authentication(12, b"v=" + base64.b64encode(signature)))


class ScramMany:
    """SCRAM-SHA-256 where a user has several passwords (a principal's live tokens).

    ``verifiers(user)`` answers the user's verifiers, all with one salt and iteration count
    (the client learns them before proving anything), or none for an unknown user; it may
    block (it reads the metadata store), so it runs in a thread. The proof is checked
    against each verifier in turn.
    """

    def __init__(self, verifiers: Callable[[str], Sequence[Verifier]]) -> None:
        self._verifiers = verifiers
        self._decoy = Verifier.from_password(secrets.token_hex(16))

    async def authenticate(self, user: str, send: Send, receive: Receive) -> None:
        found = list(await asyncio.to_thread(self._verifiers, user))
        shown = found[0] if found else self._decoy
        await send(protocol.authentication(10, protocol.cstr(MECHANISM) + b"\0"))
        first = await receive()
        if first.cstring() != MECHANISM:
            raise PgError("28000", f"unsupported SASL mechanism; use {MECHANISM}")
        bare, client_nonce = _client_first(first.take(first.int32()).decode())
        nonce = client_nonce + base64.b64encode(secrets.token_bytes(18)).decode()
        server_first = f"r={nonce},s={base64.b64encode(shown.salt).decode()},i={shown.iterations}"
        await send(protocol.authentication(11, server_first.encode()))
        final = (await receive()).data.decode()
        for verifier in found or [self._decoy]:
            signature = _verify(verifier, bare, server_first, final, nonce)
            if signature is not None and found:
                await send(protocol.authentication(12, b"v=" + base64.b64encode(signature)))
                return
        raise PgError("28P01", f'password authentication failed for user "{user}"')


def _client_first(message: str) -> tuple[str, str]:
    """(client-first-message-bare, client nonce) from ``n,,n=,r=<nonce>``."""
    parts = message.split(",", 2)
    if len(parts) != 3 or parts[0] not in ("n", "y"):
        raise PgError("08P01", "malformed SCRAM client-first-message (channel binding is not offered)")
    attrs = _attributes(parts[2])
    if "r" not in attrs:
        raise PgError("08P01", "SCRAM client-first-message has no nonce")
    return parts[2], attrs["r"]


def _verify(verifier: Verifier, bare: str, server_first: str, final: str, nonce: str) -> bytes | None:
    """The server signature if the client's proof is right, else None."""
    without_proof, _, proof_attr = final.rpartition(",p=")
    attrs = _attributes(without_proof)
    if attrs.get("r") != nonce or not proof_attr:
        raise PgError("08P01", "malformed SCRAM client-final-message")
    auth_message = f"{bare},{server_first},{without_proof}".encode()
    try:
        proof = base64.b64decode(proof_attr, validate=True)
    except ValueError:
        raise PgError("08P01", "SCRAM proof is not base64") from None
    client_signature = _hmac(verifier.stored_key, auth_message)
    client_key = bytes(a ^ b for a, b in zip(proof, client_signature, strict=False))
    if len(proof) != 32 or not hmac.compare_digest(hashlib.sha256(client_key).digest(), verifier.stored_key):
        return None
    return _hmac(verifier.server_key, auth_message)


def _attributes(text: str) -> dict[str, str]:
    return {p[0]: p[2:] for p in text.split(",") if len(p) >= 2 and p[1] == "="}


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()
