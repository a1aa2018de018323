"""Principals and their tokens: who is asking, proven by a bearer token.

Principals come from ``mesh.yaml`` (read-only here) and from ``daap principal
add`` (kept in the metadata store). A token is ``daap_<id>_<secret>``: the id
finds it, and only the SHA-256 of the whole token is stored, so a token is
shown once, when it is created. :meth:`Identities.authenticate` turns a token
into its principal, or says why it cannot: malformed, unknown, expired,
revoked, or its principal gone. Unknown ids and wrong secrets get the same
answer, so a guess learns nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from daap.errors import AuthenticationError, UsageError
from daap.mesh.metadata import StoredPrincipal, StoredToken
from daap.mesh.workspace import Workspace
from daap.spec.mesh import ANONYMOUS, PRINCIPAL_KINDS, PRINCIPAL_NAME, PrincipalSpec
from daap.spec.types import duration

TOKEN_PREFIX = "daap_"
_TOKEN = re.compile(r"^daap_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
#: how long a token lives unless told otherwise
DEFAULT_LIFETIME = timedelta(days=90)


def lifetime(text: str) -> timedelta | None:
    """``30d``, ``12h``, ``90m``, ``2w`` (any :func:`~daap.spec.types.duration`), or ``never`` (None).

    Raises:
        UsageError: anything else.
    """
    if text.strip().lower() == "never":
        return None
    found = duration(text)
    if found is None:
        raise UsageError(
            f"--expires {text!r} is not a duration", hint="write it like 90m, 12h, 30d, 2w, or never"
        )
    return found


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


#: PBKDF2 rounds of a token's SCRAM verifier (PostgreSQL's default)
SCRAM_ITERATIONS = 4096


def scram_salt(principal: str) -> bytes:
    """The principal's SCRAM salt: one per principal, since a PostgreSQL client names only its
    user before proving it knows one of the user's tokens; tokens are 256-bit random, so a
    salt that is public and fixed per name costs nothing against guessing."""
    return hashlib.sha256(b"daap-scram\0" + principal.encode()).digest()[:16]


def scram_verifier(principal: str, token: str, iterations: int = SCRAM_ITERATIONS) -> dict[str, object]:
    """The SCRAM-SHA-256 verifier of ``token`` as ``principal``'s password (RFC 5802)."""
    salted = hashlib.pbkdf2_hmac("sha256", token.encode(), scram_salt(principal), iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return {
        "iterations": iterations,
        "stored_key": hashlib.sha256(client_key).hexdigest(),
        "server_key": server_key.hex(),
    }


class Identities:
    """The workspace's principals and tokens."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def principals(self) -> list[PrincipalSpec]:
        """Every principal: those of ``mesh.yaml``, then those added with the CLI, by name."""
        declared = {p.name: p for p in self.ws.config.principals}
        added = [_spec(s) for s in self.ws.metadata.stored_principals() if s.name not in declared]
        return sorted([*declared.values(), *added], key=lambda p: p.name)

    def principal(self, name: str) -> PrincipalSpec | None:
        return next((p for p in self.principals() if p.name == name), None)

    def add(self, spec: PrincipalSpec) -> PrincipalSpec:
        """Add a principal (kept in the metadata store).

        Raises:
            UsageError: a bad name or kind, or the name is taken.
        """
        if not PRINCIPAL_NAME.match(spec.name):
            raise UsageError(
                f"principal name {spec.name!r} is not valid",
                hint="use lowercase letters, digits, _ . - (start with a letter, at most 63 characters)",
            )
        if spec.name == ANONYMOUS:
            raise UsageError(f"the principal name {ANONYMOUS!r} is reserved for requests without a token")
        if spec.kind not in PRINCIPAL_KINDS:
            raise UsageError(f"principal kind must be one of {', '.join(PRINCIPAL_KINDS)}, got {spec.kind!r}")
        if any(p.name == spec.name for p in self.ws.config.principals):
            raise UsageError(f"principal {spec.name!r} is declared in mesh.yaml", hint="change it there")
        stored = StoredPrincipal(
            spec.name, spec.kind, spec.roles, spec.domain, spec.purposes, dict(spec.attributes), _now()
        )
        if not self.ws.metadata.add_principal(stored):
            raise UsageError(f"principal {spec.name!r} exists already", hint="`daap principal list` shows it")
        return replace(spec, source="cli")

    def remove(self, name: str) -> int:
        """Remove a principal added with the CLI and revoke its tokens; returns how many were revoked.

        Raises:
            UsageError: it is declared in ``mesh.yaml``, or there is no such principal.
        """
        if any(p.name == name for p in self.ws.config.principals):
            raise UsageError(f"principal {name!r} is declared in mesh.yaml", hint="remove it there")
        if not self.ws.metadata.remove_principal(name):
            raise UsageError(f"no principal {name!r}", hint="`daap principal list` shows the principals")
        live = [t for t in self.ws.metadata.tokens(name) if t.revoked_at is None]
        for token in live:
            self.ws.metadata.revoke_token(token.token_id, _now())
        return len(live)

    def create_token(
        self, principal: str, expires_in: timedelta | None = DEFAULT_LIFETIME, description: str | None = None
    ) -> tuple[StoredToken, str]:
        """A new token for ``principal``: its record, and the token itself (shown once, never stored).

        Raises:
            UsageError: no such principal.
        """
        if self.principal(principal) is None:
            raise UsageError(f"no principal {principal!r}", hint="`daap principal add` adds one")
        token_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        now = _now()
        expires = None if expires_in is None else now + expires_in
        verifier = scram_verifier(principal, token)
        record = StoredToken(token_id, principal, digest(token), description, now, expires, None, verifier)
        self.ws.metadata.add_token(record)
        return record, token

    def tokens(self, principal: str | None = None) -> list[StoredToken]:
        return self.ws.metadata.tokens(principal)

    def revoke(self, token_id: str) -> StoredToken:
        """Revoke a token by its id (``daap token list`` shows them).

        Raises:
            UsageError: no such token.
        """
        if not self.ws.metadata.revoke_token(token_id, _now()):
            raise UsageError(f"no token {token_id!r}", hint="`daap token list` shows the token ids")
        found = self.ws.metadata.get_token(token_id)
        assert found is not None
        return found

    def live_tokens(self, principal: str, now: datetime | None = None) -> list[StoredToken]:
        """The principal's tokens that are neither revoked nor expired (none if it is gone)."""
        if self.principal(principal) is None:
            return []
        moment = now or _now()
        return [
            t
            for t in self.ws.metadata.tokens(principal)
            if t.revoked_at is None and (t.expires_at is None or t.expires_at > moment)
        ]

    def authenticate(self, token: str | None, now: datetime | None = None) -> PrincipalSpec:
        """The principal ``token`` stands for.

        Raises:
            AuthenticationError: no token, a malformed, unknown, expired or revoked one, or one
                whose principal was removed.
        """
        if not token:
            raise AuthenticationError(
                "no credentials: every port needs a token",
                hint="create one with `daap token create PRINCIPAL`",
            )
        match = _TOKEN.match(token.strip())
        if match is None:
            raise AuthenticationError(
                "malformed token: a daap token looks like daap_<12 hex>_<43 characters>"
            )
        record = self.ws.metadata.get_token(match.group(1))
        if record is None or not hmac.compare_digest(record.secret_hash, digest(token.strip())):
            raise AuthenticationError(
                "unknown or wrong token", hint="`daap token list` shows the live tokens"
            )
        moment = now or _now()
        if record.revoked_at is not None:
            raise AuthenticationError(
                f"token {record.token_id} was revoked at {record.revoked_at:%Y-%m-%d %H:%M} UTC"
            )
        if record.expires_at is not None and record.expires_at <= moment:
            raise AuthenticationError(
                f"token {record.token_id} expired at {record.expires_at:%Y-%m-%d %H:%M} UTC",
                hint=f"create a new one with `daap token create {record.principal}`",
            )
        principal = self.principal(record.principal)
        if principal is None:
            raise AuthenticationError(
                f"token {record.token_id} belongs to principal {record.principal!r}, which no longer exists"
            )
        return principal


def scram_verifiers(ids: Identities, principal: str) -> list[tuple[bytes, int, bytes, bytes]]:
    """(salt, iterations, StoredKey, ServerKey) of each of the principal's live tokens: what a
    PostgreSQL-wire server checks a SCRAM proof against (user = principal, password = token)."""
    salt = scram_salt(principal)
    return [
        (
            salt,
            int(str(t.scram["iterations"])),
            bytes.fromhex(str(t.scram["stored_key"])),
            bytes.fromhex(str(t.scram["server_key"])),
        )
        for t in ids.live_tokens(principal)
        if t.scram
    ]


def _spec(stored: StoredPrincipal) -> PrincipalSpec:
    kind = stored.kind if stored.kind in PRINCIPAL_KINDS else "person"
    return PrincipalSpec(
        stored.name,
        "service" if kind == "service" else "person",
        tuple(stored.roles),
        stored.domain,
        tuple(stored.purposes),
        dict(stored.attributes),
        source="cli",
    )


def attributes(pairs: tuple[str, ...]) -> Mapping[str, str]:
    """``region=EU`` pairs as a mapping.

    Raises:
        UsageError: a pair without ``=`` or with an empty key.
    """
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--attr {pair!r} is not KEY=VALUE", hint="e.g. --attr region=EU")
        found[key.strip()] = value.strip()
    return found


def _now() -> datetime:
    return datetime.now(UTC)


__all__ = ["DEFAULT_LIFETIME", "TOKEN_PREFIX", "Identities", "attributes", "lifetime"]
