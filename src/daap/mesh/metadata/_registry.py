"""The schema registry's tables, written once in SQL for every adapter (a mixin of the store).

Ids are global and handed out by the database (an identity column), so any
number of registry processes over one PostgreSQL never give two schemas the same
id; ``fingerprint`` is unique, so registering an identical schema anywhere
returns the id it already has. Version numbers per subject are allocated in the
transaction that adds the version, under the subject's lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from daap.mesh.metadata._dialect import Dialect, Tx

Setting = Literal["compatibility", "mode"]


class SubjectChanged(Exception):
    """Another writer added a version to the subject since the caller checked it: check again."""

    def __init__(self, subject: str, expected: int, found: int) -> None:
        super().__init__(f"subject {subject}: latest version is {found}, not {expected}")


@dataclass(frozen=True)
class SchemaReference:
    """``name`` (as the schema refers to it) is version ``version`` of ``subject``."""

    name: str
    subject: str
    version: int


@dataclass(frozen=True)
class StoredSchema:
    id: int
    schema_type: str
    schema: str
    references: tuple[SchemaReference, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class SubjectVersion:
    subject: str
    version: int
    schema_id: int
    deleted: bool


_INSERT_VERSION = (
    "INSERT INTO daap_registry_versions (subject, version, schema_id, deleted) VALUES (?, ?, ?, FALSE)"
)


class RegistryStore(Protocol):
    """What the schema registry needs from the metadata store (both adapters have it)."""

    def registry_schema_id(self, fingerprint: str) -> int | None: ...
    def registry_get_schema(self, schema_id: int) -> StoredSchema | None: ...
    def registry_register(
        self,
        subject: str,
        fingerprint: str,
        schema_type: str,
        schema: str,
        references: Sequence[SchemaReference],
        expected_latest: int | None = None,
    ) -> tuple[int, int]: ...
    def registry_import(
        self,
        subject: str,
        version: int,
        schema_id: int,
        fingerprint: str,
        schema_type: str,
        schema: str,
        references: Sequence[SchemaReference],
    ) -> None: ...
    def registry_versions(
        self, subject: str | None = None, include_deleted: bool = False
    ) -> list[SubjectVersion]: ...
    def registry_versions_of_schema(
        self, schema_id: int, include_deleted: bool = False
    ) -> list[SubjectVersion]: ...
    def registry_mark_deleted(self, subject: str, versions: Sequence[int]) -> None: ...
    def registry_purge(self, subject: str, versions: Sequence[int]) -> None: ...
    def registry_referenced_by(self, subject: str, version: int) -> list[int]: ...
    def registry_setting(self, subject: str, setting: Setting) -> str | None: ...
    def registry_set_setting(self, subject: str, setting: Setting, value: str | None) -> str | None: ...


class RegistryTables:
    """Registry queries on the store's transactions (``_tx``, ``dialect``)."""

    dialect: ClassVar[Dialect]

    def _tx(self, *, write: bool = False) -> AbstractContextManager[Tx]:  # provided by the store
        raise NotImplementedError

    # -- schemas -------------------------------------------------------------------

    def registry_schema_id(self, fingerprint: str) -> int | None:
        with self._tx() as tx:
            row = tx.fetch_one("SELECT id FROM daap_registry_schemas WHERE fingerprint = ?", (fingerprint,))
        return None if row is None else int(row[0])

    def registry_get_schema(self, schema_id: int) -> StoredSchema | None:
        with self._tx() as tx:
            row = tx.fetch_one(
                "SELECT id, schema_type, schema, refs FROM daap_registry_schemas WHERE id = ?", (schema_id,)
            )
        return None if row is None else self._schema(row)

    def registry_register(
        self,
        subject: str,
        fingerprint: str,
        schema_type: str,
        schema: str,
        references: Sequence[SchemaReference],
        expected_latest: int | None = None,
    ) -> tuple[int, int]:
        """Store the schema (or find it by fingerprint) and add it as the subject's next version.

        Args:
            expected_latest: the subject's latest live version the caller checked the schema
                against (0: none); when another writer added one since, nothing is written.

        Returns:
            (schema id, version). A schema already a live version of the subject is not
            added again: its id and that version are returned.

        Raises:
            SubjectChanged: ``expected_latest`` is no longer the latest live version.
        """
        with self._tx(write=True) as tx:
            self._lock_subject(tx, subject)
            if expected_latest is not None:
                row = tx.fetch_one(
                    "SELECT coalesce(max(version), 0) FROM daap_registry_versions"
                    " WHERE subject = ? AND NOT deleted",
                    (subject,),
                )
                latest = int(row[0]) if row else 0
                if latest != expected_latest:
                    raise SubjectChanged(subject, expected_latest, latest)
            schema_id = self._schema_id(tx, fingerprint, schema_type, schema, references)
            live = tx.fetch_one(
                "SELECT version FROM daap_registry_versions"
                " WHERE subject = ? AND schema_id = ? AND NOT deleted ORDER BY version LIMIT 1",
                (subject, schema_id),
            )
            if live is not None:
                return schema_id, int(live[0])
            row = tx.fetch_one(
                "SELECT coalesce(max(version), 0) FROM daap_registry_versions WHERE subject = ?", (subject,)
            )
            version = int(row[0] if row else 0) + 1
            tx.execute(
                _INSERT_VERSION,
                (subject, version, schema_id),
            )
            return schema_id, version

    def registry_import(
        self,
        subject: str,
        version: int,
        schema_id: int,
        fingerprint: str,
        schema_type: str,
        schema: str,
        references: Sequence[SchemaReference],
    ) -> None:
        """IMPORT mode: store the schema under the id and version given (both must be free
        or already hold exactly this schema)."""
        with self._tx(write=True) as tx:
            self._lock_subject(tx, subject)
            row = tx.fetch_one("SELECT fingerprint FROM daap_registry_schemas WHERE id = ?", (schema_id,))
            if row is None:
                postgres = self.dialect.name == "postgres"
                tx.execute(
                    "INSERT INTO daap_registry_schemas (id, fingerprint, schema_type, schema, refs)"
                    + (" OVERRIDING SYSTEM VALUE" if postgres else "")
                    + " VALUES (?, ?, ?, ?, ?)",
                    (schema_id, fingerprint, schema_type, schema, self._refs_json(references)),
                )
                if postgres:  # ids handed out later start above the imported ones
                    tx.fetch_one(
                        "SELECT setval(pg_get_serial_sequence('daap_registry_schemas', 'id'),"
                        " (SELECT max(id) FROM daap_registry_schemas))"
                    )
                self._insert_references(tx, schema_id, references)
            elif row[0] != fingerprint:
                raise ValueError(f"schema id {schema_id} already holds another schema")
            tx.execute(
                _INSERT_VERSION,
                (subject, version, schema_id),
            )

    def _schema_id(
        self, tx: Tx, fingerprint: str, schema_type: str, schema: str, references: Sequence[SchemaReference]
    ) -> int:
        row = tx.fetch_one("SELECT id FROM daap_registry_schemas WHERE fingerprint = ?", (fingerprint,))
        if row is not None:
            return int(row[0])
        tx.execute(
            "INSERT INTO daap_registry_schemas (fingerprint, schema_type, schema, refs) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (fingerprint) DO NOTHING",
            (fingerprint, schema_type, schema, self._refs_json(references)),
        )
        row = tx.fetch_one("SELECT id FROM daap_registry_schemas WHERE fingerprint = ?", (fingerprint,))
        assert row is not None
        schema_id = int(row[0])
        self._insert_references(tx, schema_id, references)
        return schema_id

    def _insert_references(self, tx: Tx, schema_id: int, references: Sequence[SchemaReference]) -> None:
        for ref in references:
            tx.execute(
                "INSERT INTO daap_registry_references (schema_id, name, subject, version) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (schema_id, name) DO NOTHING",
                (schema_id, ref.name, ref.subject, ref.version),
            )

    def _lock_subject(self, tx: Tx, subject: str) -> None:
        """Serialise writers of one subject (PostgreSQL; SQLite holds the database lock)."""
        if self.dialect.lock_row:
            tx.execute(
                "INSERT INTO daap_registry_settings (subject, setting, value) VALUES (?, 'lock', '')"
                " ON CONFLICT (subject, setting) DO NOTHING",
                (subject,),
            )
            tx.fetch_one(
                f"SELECT value FROM daap_registry_settings WHERE subject = ? AND setting = 'lock'"
                f"{self.dialect.lock_row}",
                (subject,),
            )

    # -- subjects and versions ---------------------------------------------------

    def registry_versions(
        self, subject: str | None = None, include_deleted: bool = False
    ) -> list[SubjectVersion]:
        where = [] if include_deleted else ["NOT deleted"]
        params: list[object] = []
        if subject is not None:
            where.append("subject = ?")
            params.append(subject)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._tx() as tx:
            rows = tx.fetch_all(
                f"SELECT subject, version, schema_id, deleted FROM daap_registry_versions{clause}"
                " ORDER BY subject, version",
                tuple(params),
            )
        return [SubjectVersion(r[0], int(r[1]), int(r[2]), bool(r[3])) for r in rows]

    def registry_versions_of_schema(
        self, schema_id: int, include_deleted: bool = False
    ) -> list[SubjectVersion]:
        extra = "" if include_deleted else " AND NOT deleted"
        with self._tx() as tx:
            rows = tx.fetch_all(
                "SELECT subject, version, schema_id, deleted FROM daap_registry_versions"
                f" WHERE schema_id = ?{extra} ORDER BY subject, version",
                (schema_id,),
            )
        return [SubjectVersion(r[0], int(r[1]), int(r[2]), bool(r[3])) for r in rows]

    def registry_mark_deleted(self, subject: str, versions: Sequence[int]) -> None:
        with self._tx(write=True) as tx:
            for version in versions:
                tx.execute(
                    "UPDATE daap_registry_versions SET deleted = TRUE WHERE subject = ? AND version = ?",
                    (subject, version),
                )

    def registry_purge(self, subject: str, versions: Sequence[int]) -> None:
        """Delete versions for good (they must be soft-deleted; the caller checks)."""
        with self._tx(write=True) as tx:
            for version in versions:
                tx.execute(
                    "DELETE FROM daap_registry_versions WHERE subject = ? AND version = ? AND deleted",
                    (subject, version),
                )

    def registry_referenced_by(self, subject: str, version: int) -> list[int]:
        """Ids of schemas whose references name this subject version and that a live version uses."""
        with self._tx() as tx:
            rows = tx.fetch_all(
                "SELECT DISTINCT r.schema_id FROM daap_registry_references r"
                " JOIN daap_registry_versions v ON v.schema_id = r.schema_id AND NOT v.deleted"
                " WHERE r.subject = ? AND r.version = ? ORDER BY 1",
                (subject, version),
            )
        return [int(r[0]) for r in rows]

    # -- settings ------------------------------------------------------------------

    def registry_setting(self, subject: str, setting: Setting) -> str | None:
        with self._tx() as tx:
            row = tx.fetch_one(
                "SELECT value FROM daap_registry_settings WHERE subject = ? AND setting = ?",
                (subject, setting),
            )
        return None if row is None else str(row[0])

    def registry_set_setting(self, subject: str, setting: Setting, value: str | None) -> str | None:
        """Set (or with None, remove) a setting; returns the value it had."""
        with self._tx(write=True) as tx:
            row = tx.fetch_one(
                "SELECT value FROM daap_registry_settings WHERE subject = ? AND setting = ?",
                (subject, setting),
            )
            if value is None:
                tx.execute(
                    "DELETE FROM daap_registry_settings WHERE subject = ? AND setting = ?", (subject, setting)
                )
            else:
                tx.execute(
                    "INSERT INTO daap_registry_settings (subject, setting, value) VALUES (?, ?, ?)"
                    " ON CONFLICT (subject, setting) DO UPDATE SET value = excluded.value",
                    (subject, setting, value),
                )
        return None if row is None else str(row[0])

    # -- helpers -------------------------------------------------------------------

    def _refs_json(self, references: Sequence[SchemaReference]) -> object:
        return self.dialect.encode_json(
            [{"name": r.name, "subject": r.subject, "version": r.version} for r in references]
        )

    def _schema(self, row: Sequence[Any]) -> StoredSchema:
        refs: list[Mapping[str, Any]] = self.dialect.decode_json(row[3])
        references = tuple(SchemaReference(r["name"], r["subject"], int(r["version"])) for r in refs)
        return StoredSchema(int(row[0]), str(row[1]), str(row[2]), references)
