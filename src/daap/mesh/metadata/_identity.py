"""Principals and their tokens, written once in SQL for every adapter (a mixin of the store).

Principals declared in ``mesh.yaml`` are read from it; these tables hold the
ones added from the command line, and every principal's tokens. A token's
secret is never stored: only its SHA-256, looked up by the token's public id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Protocol

from daap.mesh.metadata._dialect import Dialect, Row, Tx


@dataclass(frozen=True)
class StoredPrincipal:
    name: str
    kind: str  # person or service
    roles: tuple[str, ...] = ()
    domain: str | None = None
    purposes: tuple[str, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(frozen=True)
class StoredToken:
    token_id: str
    principal: str
    secret_hash: str
    description: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    #: the SCRAM-SHA-256 verifier: ``{"iterations", "stored_key", "server_key"}`` (hex); the salt
    #: is the principal's (see :func:`daap.mesh.policy.identity.scram_salt`)
    scram: Mapping[str, object] = field(default_factory=dict)


class IdentityStore(Protocol):
    """What identities need from the metadata store (both adapters have it)."""

    def add_principal(self, principal: StoredPrincipal) -> bool: ...
    def remove_principal(self, name: str) -> bool: ...
    def stored_principals(self) -> list[StoredPrincipal]: ...
    def add_token(self, token: StoredToken) -> None: ...
    def get_token(self, token_id: str) -> StoredToken | None: ...
    def tokens(self, principal: str | None = None) -> list[StoredToken]: ...
    def revoke_token(self, token_id: str, at: datetime) -> bool: ...


_TOKEN_COLUMNS = "token_id, principal, secret_hash, description, created_at, expires_at, revoked_at, scram"


class IdentityTables:
    """Identity queries on the store's transactions (``_tx``, ``dialect``)."""

    dialect: ClassVar[Dialect]

    def _tx(self, *, write: bool = False) -> AbstractContextManager[Tx]:  # provided by the store
        raise NotImplementedError

    def add_principal(self, principal: StoredPrincipal) -> bool:
        """Add ``principal``; False (nothing written) when the name is taken."""
        d = self.dialect
        with self._tx(write=True) as tx:
            if tx.fetch_one("SELECT 1 FROM daap_principals WHERE name = ?", (principal.name,)):
                return False
            tx.execute(
                "INSERT INTO daap_principals (name, kind, roles, domain, purposes, attributes, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    principal.name,
                    principal.kind,
                    d.encode_json(list(principal.roles)),
                    principal.domain,
                    d.encode_json(list(principal.purposes)),
                    d.encode_json(dict(principal.attributes)),
                    d.encode_time(principal.created_at) if principal.created_at else d.encode_time(_now()),
                ),
            )
        return True

    def remove_principal(self, name: str) -> bool:
        """Remove the principal and revoke nothing: its tokens stop working as it is gone."""
        with self._tx(write=True) as tx:
            found = tx.fetch_one("SELECT 1 FROM daap_principals WHERE name = ?", (name,))
            tx.execute("DELETE FROM daap_principals WHERE name = ?", (name,))
        return found is not None

    def stored_principals(self) -> list[StoredPrincipal]:
        d = self.dialect
        with self._tx() as tx:
            rows = tx.fetch_all(
                "SELECT name, kind, roles, domain, purposes, attributes, created_at FROM daap_principals"
                " ORDER BY name"
            )
        return [
            StoredPrincipal(
                name,
                kind,
                tuple(d.decode_json(roles)),
                domain,
                tuple(d.decode_json(purposes)),
                dict(d.decode_json(attributes)),
                d.decode_time(created),
            )
            for name, kind, roles, domain, purposes, attributes, created in rows
        ]

    def add_token(self, token: StoredToken) -> None:
        d = self.dialect
        with self._tx(write=True) as tx:
            tx.execute(
                f"INSERT INTO daap_tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    token.token_id,
                    token.principal,
                    token.secret_hash,
                    token.description,
                    d.encode_time(token.created_at),
                    None if token.expires_at is None else d.encode_time(token.expires_at),
                    None if token.revoked_at is None else d.encode_time(token.revoked_at),
                    d.encode_json(dict(token.scram)),
                ),
            )

    def get_token(self, token_id: str) -> StoredToken | None:
        with self._tx() as tx:
            row = tx.fetch_one(f"SELECT {_TOKEN_COLUMNS} FROM daap_tokens WHERE token_id = ?", (token_id,))
        return None if row is None else self._token(row)

    def tokens(self, principal: str | None = None) -> list[StoredToken]:
        where, params = ("WHERE principal = ?", (principal,)) if principal else ("", ())
        with self._tx() as tx:
            rows = tx.fetch_all(
                f"SELECT {_TOKEN_COLUMNS} FROM daap_tokens {where} ORDER BY created_at, token_id", params
            )
        return [self._token(row) for row in rows]

    def revoke_token(self, token_id: str, at: datetime) -> bool:
        """Revoke it; False when there is no such token (revoking twice keeps the first time)."""
        with self._tx(write=True) as tx:
            found = tx.fetch_one("SELECT revoked_at FROM daap_tokens WHERE token_id = ?", (token_id,))
            if found is None:
                return False
            if found[0] is None:
                tx.execute(
                    "UPDATE daap_tokens SET revoked_at = ? WHERE token_id = ?",
                    (self.dialect.encode_time(at), token_id),
                )
        return True

    def _token(self, row: Row) -> StoredToken:
        d = self.dialect
        token_id, principal, secret_hash, description, created, expires, revoked, scram = row
        return StoredToken(
            token_id,
            principal,
            secret_hash,
            description,
            d.decode_time(created),
            None if expires is None else d.decode_time(expires),
            None if revoked is None else d.decode_time(revoked),
            dict(d.decode_json(scram)),
        )


def _now() -> datetime:
    return datetime.now(UTC)


__all__: Sequence[str] = ["IdentityStore", "IdentityTables", "StoredPrincipal", "StoredToken"]
