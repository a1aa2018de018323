"""The control plane's records, written once in SQL for every adapter (a mixin of the store).

Three areas, one migration ("control"):

- the *access log*: one row per decision (who did what to which product, allowed or
  denied, and by which policies), written in batches by
  :class:`daap.mesh.policy.accesslog.AccessLog`;
- *control versions*: every accepted change of a product's access policies (Cedar text)
  and row filters and masks (YAML text), numbered 1, 2, 3 … per product, with who made
  it and the SHA-256 of the pair, so re-saving the same text adds nothing;
- *governance reports*: the compliance report of each published version of a product.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from daap.mesh.metadata._dialect import Dialect, Row, Tx

#: what a principal can be allowed or denied on a product
ACCESS_ACTIONS = frozenset({"discover", "read", "read_unmasked", "write_input", "administer", "control"})
#: the way in that a request came by
ACCESS_PROTOCOLS = frozenset({"rest", "graphql", "flight", "pgwire", "cli", "http", "sql"})


@dataclass(frozen=True)
class AccessEntry:
    """One access decision: ``principal`` asked to ``action`` ``product`` (``port``) over ``protocol``.

    ``policies`` are the ids of the policies that decided it (the permits that allowed it, or
    the forbids that denied it); ``detail`` says more when there is more (the query, a reason).

    Raises:
        ValueError: ``action`` or ``protocol`` is not one daap knows (see :data:`ACCESS_ACTIONS`,
            :data:`ACCESS_PROTOCOLS`); checked here so a bad entry fails its caller, not a batch.
    """

    at: datetime
    principal: str
    product: str
    port: str | None
    action: str
    allowed: bool
    policies: tuple[str, ...]
    protocol: str
    detail: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The entry as the access log shows it (``GET /api/access-log``, ``daap access log --json``)."""
        return {
            "at": self.at.isoformat(),
            "principal": self.principal,
            "product": self.product,
            "port": self.port,
            "action": self.action,
            "allowed": self.allowed,
            "policies": list(self.policies),
            "protocol": self.protocol,
            "detail": self.detail,
        }

    def __post_init__(self) -> None:
        if self.action not in ACCESS_ACTIONS:
            raise ValueError(f"unknown access action {self.action!r}; one of {sorted(ACCESS_ACTIONS)}")
        if self.protocol not in ACCESS_PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; one of {sorted(ACCESS_PROTOCOLS)}")


@dataclass(frozen=True)
class ControlVersion:
    """One accepted version of a product's access control: Cedar policies and row filters/masks."""

    product: str
    version: int
    policies: str  # Cedar text
    access: str  # YAML text of row filters and masks
    author: str
    at: datetime
    digest: str  # sha256 hex of policies + "\0" + access
    note: str | None


@dataclass(frozen=True)
class GovernanceRecord:
    """The compliance report of one published version; ``report`` is JSON-able."""

    product: str
    version: int
    checked_at: datetime
    errors: int
    warnings: int
    report: Mapping[str, Any]


class AccessLogStore(Protocol):
    """What the access log needs from the metadata store (both adapters have it)."""

    def record_access(self, entries: Sequence[AccessEntry]) -> None:
        """Append ``entries`` in one transaction (all or none)."""
        ...

    def access_log(
        self,
        *,
        product: str | None = None,
        principal: str | None = None,
        action: str | None = None,
        allowed: bool | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AccessEntry]:
        """Returns: the latest ``limit`` entries matching every filter given, newest first
        (``since`` includes entries at that moment)."""
        ...


class ControlStore(Protocol):
    """What access-control changes need from the metadata store (both adapters have it)."""

    def save_control(
        self, product: str, policies: str, access: str, author: str, at: datetime, note: str | None = None
    ) -> ControlVersion:
        """Record the product's next control version; safe from several threads and processes.

        Returns:
            The new version, or the newest one unchanged when it has the same text (same digest).
        """
        ...

    def control_versions(self, product: str) -> list[ControlVersion]:
        """Returns: every version of the product's control, oldest first."""
        ...

    def control_version(self, product: str, version: int | None = None) -> ControlVersion | None:
        """Returns: that version (the newest when None), or None when there is none."""
        ...


class GovernanceStore(Protocol):
    """What governance checks need from the metadata store (both adapters have it)."""

    def save_governance(self, record: GovernanceRecord) -> None:
        """Store the report of ``(record.product, record.version)``, replacing an earlier one."""
        ...

    def governance_report(self, product: str, version: int | None = None) -> GovernanceRecord | None:
        """Returns: the report of that version (of the newest version reported when None), or None."""
        ...


def control_digest(policies: str, access: str) -> str:
    """The SHA-256 (hex) that tells two control versions apart: ``policies + "\\0" + access``."""
    return hashlib.sha256(f"{policies}\0{access}".encode()).hexdigest()


_ACCESS_COLUMNS = "at, principal, product, port, action, allowed, policies, protocol, detail"
_CONTROL_COLUMNS = "product, version, policies, access, author, at, digest, note"
_GOVERNANCE_COLUMNS = "product, version, checked_at, errors, warnings, report"
#: rows per INSERT: 9 columns x 100 rows stays under SQLite's oldest limit of 999 parameters
_ROWS_PER_INSERT = 100


class ControlTables:
    """Access log, control version and governance queries on the store's transactions."""

    dialect: ClassVar[Dialect]

    def _tx(self, *, write: bool = False) -> AbstractContextManager[Tx]:  # provided by the store
        raise NotImplementedError

    # -- access log --------------------------------------------------------------------

    def record_access(self, entries: Sequence[AccessEntry]) -> None:
        """Append ``entries`` in one transaction, as multi-row INSERTs (a batch of 1000 is 10)."""
        if not entries:
            return
        row_marks = "(" + ", ".join("?" * 9) + ")"
        with self._tx(write=True) as tx:
            for start in range(0, len(entries), _ROWS_PER_INSERT):
                chunk = entries[start : start + _ROWS_PER_INSERT]
                params = [value for entry in chunk for value in self._access_row(entry)]
                tx.execute(
                    f"INSERT INTO daap_access_log ({_ACCESS_COLUMNS})"
                    f" VALUES {', '.join(row_marks for _ in chunk)}",
                    params,
                )

    def access_log(
        self,
        *,
        product: str | None = None,
        principal: str | None = None,
        action: str | None = None,
        allowed: bool | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AccessEntry]:
        filters: list[tuple[str, object]] = [
            ("product = ?", product),
            ("principal = ?", principal),
            ("action = ?", action),
            ("allowed = ?", allowed),
            ("at >= ?", None if since is None else self.dialect.encode_time(since)),
        ]
        given = [(clause, value) for clause, value in filters if value is not None]
        where = " AND ".join(clause for clause, _ in given) or "TRUE"
        with self._tx() as tx:
            rows = tx.fetch_all(
                f"SELECT {_ACCESS_COLUMNS} FROM daap_access_log WHERE {where}"
                " ORDER BY at DESC, id DESC LIMIT ?",
                (*(value for _, value in given), limit),
            )
        return [self._access_entry(row) for row in rows]

    def _access_row(self, entry: AccessEntry) -> tuple[object, ...]:
        d = self.dialect
        return (
            d.encode_time(entry.at),
            entry.principal,
            entry.product,
            entry.port,
            entry.action,
            entry.allowed,
            d.encode_json(list(entry.policies)),
            entry.protocol,
            entry.detail,
        )

    def _access_entry(self, row: Row) -> AccessEntry:
        d = self.dialect
        at, principal, product, port, action, allowed, policies, protocol, detail = row
        return AccessEntry(
            d.decode_time(at),
            principal,
            product,
            port,
            action,
            bool(allowed),
            tuple(d.decode_json(policies)),
            protocol,
            detail,
        )

    # -- control versions ----------------------------------------------------------------

    def save_control(
        self, product: str, policies: str, access: str, author: str, at: datetime, note: str | None = None
    ) -> ControlVersion:
        """Add the next version unless the newest one has the same digest.

        Two writers may pick the same number (PostgreSQL, READ COMMITTED): the second one's
        ``ON CONFLICT DO NOTHING`` waits for the first to commit and inserts nothing, and
        it reads the newest version again (now the first writer's) and tries the next
        number. On SQLite ``BEGIN IMMEDIATE`` already lets one writer in at a time.
        """
        digest = control_digest(policies, access)
        with self._tx(write=True) as tx:
            while True:
                newest = self._newest_control(tx, product)
                if newest is not None and newest.digest == digest:
                    return newest
                version = ControlVersion(
                    product, (newest.version if newest else 0) + 1, policies, access, author, at, digest, note
                )
                if self._insert_control(tx, version):
                    return version

    def control_versions(self, product: str) -> list[ControlVersion]:
        with self._tx() as tx:
            rows = tx.fetch_all(
                f"SELECT {_CONTROL_COLUMNS} FROM daap_control_versions WHERE product = ? ORDER BY version",
                (product,),
            )
        return [self._control(row) for row in rows]

    def control_version(self, product: str, version: int | None = None) -> ControlVersion | None:
        with self._tx() as tx:
            if version is None:
                return self._newest_control(tx, product)
            row = tx.fetch_one(
                f"SELECT {_CONTROL_COLUMNS} FROM daap_control_versions WHERE product = ? AND version = ?",
                (product, version),
            )
        return None if row is None else self._control(row)

    def _newest_control(self, tx: Tx, product: str) -> ControlVersion | None:
        row = tx.fetch_one(
            f"SELECT {_CONTROL_COLUMNS} FROM daap_control_versions WHERE product = ?"
            " ORDER BY version DESC LIMIT 1",
            (product,),
        )
        return None if row is None else self._control(row)

    def _insert_control(self, tx: Tx, v: ControlVersion) -> bool:
        """Insert ``v``; False when another writer holds its number already."""
        inserted = tx.fetch_one(
            f"INSERT INTO daap_control_versions ({_CONTROL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (product, version) DO NOTHING RETURNING version",
            (
                v.product,
                v.version,
                v.policies,
                v.access,
                v.author,
                self.dialect.encode_time(v.at),
                v.digest,
                v.note,
            ),
        )
        return inserted is not None

    def _control(self, row: Row) -> ControlVersion:
        product, version, policies, access, author, at, digest, note = row
        return ControlVersion(
            product, int(version), policies, access, author, self.dialect.decode_time(at), digest, note
        )

    # -- governance reports --------------------------------------------------------------

    def save_governance(self, record: GovernanceRecord) -> None:
        d = self.dialect
        with self._tx(write=True) as tx:
            tx.execute(
                f"INSERT INTO daap_governance_reports ({_GOVERNANCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (product, version) DO UPDATE SET checked_at = excluded.checked_at,"
                " errors = excluded.errors, warnings = excluded.warnings, report = excluded.report",
                (
                    record.product,
                    record.version,
                    d.encode_time(record.checked_at),
                    record.errors,
                    record.warnings,
                    d.encode_json(dict(record.report)),
                ),
            )

    def governance_report(self, product: str, version: int | None = None) -> GovernanceRecord | None:
        where, params = (
            ("product = ?", (product,))
            if version is None
            else (
                "product = ? AND version = ?",
                (product, version),
            )
        )
        with self._tx() as tx:
            row = tx.fetch_one(
                f"SELECT {_GOVERNANCE_COLUMNS} FROM daap_governance_reports WHERE {where}"
                " ORDER BY version DESC LIMIT 1",
                params,
            )
        if row is None:
            return None
        product_, version_, checked_at, errors, warnings, report = row
        d = self.dialect
        return GovernanceRecord(
            product_,
            int(version_),
            d.decode_time(checked_at),
            int(errors),
            int(warnings),
            d.decode_json(report),
        )


__all__: Sequence[str] = [
    "ACCESS_ACTIONS",
    "ACCESS_PROTOCOLS",
    "AccessEntry",
    "AccessLogStore",
    "ControlStore",
    "ControlTables",
    "ControlVersion",
    "GovernanceRecord",
    "GovernanceStore",
    "control_digest",
]
