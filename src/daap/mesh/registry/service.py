"""The schema registry: subjects, versions, global ids, compatibility, config and modes.

Semantics follow Confluent Schema Registry, so its clients work unchanged:

- a schema gets a global id; registering an identical schema (same type,
  canonical form and references), under any subject, returns the id it has;
- a subject's versions count from 1 and are never reused; deleting is soft
  first (the version is hidden), then permanent (``permanent=True``);
- registering checks the new schema against the subject's live versions at the
  subject's compatibility level (else the global one, else BACKWARD);
- modes: READWRITE, READONLY (no writes), READONLY_OVERRIDE (read-only, and a
  subject's own mode cannot lift it), IMPORT (schemas arrive with their ids and
  versions, unchecked);
- every refusal is a :class:`RegistryError` carrying the HTTP status and the
  registry's error code (40401 subject not found, 42201 invalid schema, ...).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from daap.errors import DaapError
from daap.mesh.metadata import RegistryStore, SchemaReference, StoredSchema, SubjectVersion
from daap.mesh.metadata._registry import SubjectChanged
from daap.mesh.registry import compat
from daap.mesh.registry._types import InvalidSchema, Parsed

TYPES = ("AVRO", "JSON")
MODES = ("READWRITE", "READONLY", "READONLY_OVERRIDE", "IMPORT")
MAX_VERSION = 2**31 - 1
#: the largest schema text accepted, in characters (a guard, not a format limit)
MAX_SCHEMA_CHARS = 1_000_000
GLOBAL = ""
#: how often a registration is checked again while other writers keep adding versions
REGISTER_ATTEMPTS = 10
#: parsed schemas kept per registry object, by id
PARSED_CACHE = 1_000


class RegistryError(DaapError):
    """A registry request refused: ``status`` (HTTP) and ``error_code`` as Confluent's."""

    exit_code = 6

    def __init__(self, status: int, error_code: int, message: str) -> None:
        self.status = status
        self.error_code = error_code
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        return {"error_code": self.error_code, "message": str(self)}


def _subject_not_found(subject: str) -> RegistryError:
    return RegistryError(404, 40401, f"Subject '{subject}' not found.")


def _version_not_found(subject: str, version: int) -> RegistryError:
    return RegistryError(404, 40402, f"Version {version} not found for subject '{subject}'.")


@dataclass(frozen=True)
class Schema:
    """A schema as a request gives it."""

    schema: str
    schema_type: str = "AVRO"
    references: tuple[SchemaReference, ...] = ()


class SchemaRegistry:
    """The registry over the metadata store's registry tables."""

    def __init__(self, store: RegistryStore) -> None:
        self.store = store
        # a schema id always names the same schema, so its parse can be kept (bounded); servers
        # share one registry between threads
        self._parsed: dict[int, Parsed] = {}
        self._parsed_lock = threading.Lock()

    # -- schemas -------------------------------------------------------------------

    def parse(self, given: Schema) -> tuple[Parsed, str]:
        """The parsed schema and its fingerprint; RegistryError 42201 when invalid."""
        if given.schema_type not in TYPES:
            raise RegistryError(
                422, 42201, f"Invalid schema type {given.schema_type!r}; supported: {', '.join(TYPES)}"
            )
        if len(given.schema) > MAX_SCHEMA_CHARS:
            raise RegistryError(
                422,
                42201,
                f"Invalid schema: {len(given.schema):,} characters, more than {MAX_SCHEMA_CHARS:,}",
            )
        texts = self._reference_texts(given.references, set())
        fmt = compat.format_module(given.schema_type)
        try:
            parsed: Parsed = fmt.parse(given.schema, texts)
        except InvalidSchema as exc:
            raise RegistryError(422, 42201, f"Invalid schema: {exc}") from None
        refs = [[r.name, r.subject, r.version] for r in given.references]
        identity = json.dumps([given.schema_type, fmt.canonical(parsed), refs], separators=(",", ":"))
        return parsed, hashlib.sha256(identity.encode()).hexdigest()

    def _reference_texts(
        self, references: Sequence[SchemaReference], seen: set[tuple[str, int]]
    ) -> dict[str, str]:
        """name -> schema text of every reference, and of theirs (a reference graph)."""
        texts: dict[str, str] = {}
        for ref in references:
            if (ref.subject, ref.version) in seen:
                continue
            seen.add((ref.subject, ref.version))
            found = self._live_version(ref.subject, ref.version)
            stored = self.store.registry_get_schema(found.schema_id) if found else None
            if stored is None:
                missing = f"reference {ref.name!r} to {ref.subject} version {ref.version} does not exist"
                raise RegistryError(422, 42201, f"Invalid schema: {missing}")
            texts.update(self._reference_texts(stored.references, seen))
            texts[ref.name] = stored.schema
        return texts

    def _stored_parsed(self, stored: StoredSchema) -> Parsed:
        cached = self._parsed.get(stored.id)
        if cached is not None:
            return cached
        fmt = compat.format_module(stored.schema_type)
        parsed: Parsed = fmt.parse(stored.schema, self._reference_texts(stored.references, set()))
        with self._parsed_lock:
            if len(self._parsed) >= PARSED_CACHE:
                self._parsed.pop(next(iter(self._parsed)))
            self._parsed[stored.id] = parsed
        return parsed

    def schema_by_id(self, schema_id: int) -> dict[str, Any]:
        stored = self.store.registry_get_schema(schema_id)
        if stored is None:
            raise RegistryError(404, 40403, f"Schema {schema_id} not found")
        return _schema_body(stored)

    def raw_schema(self, schema_id: int) -> str:
        return str(self.schema_by_id(schema_id)["schema"])

    def subjects_of(self, schema_id: int, deleted: bool = False) -> list[str]:
        self.schema_by_id(schema_id)
        return sorted({v.subject for v in self.store.registry_versions_of_schema(schema_id, deleted)})

    def versions_of(self, schema_id: int, deleted: bool = False) -> list[dict[str, Any]]:
        self.schema_by_id(schema_id)
        found = self.store.registry_versions_of_schema(schema_id, deleted)
        return [{"subject": v.subject, "version": v.version} for v in found]

    # -- subjects --------------------------------------------------------------------

    def subjects(self, prefix: str = "", deleted: bool = False) -> list[str]:
        versions = self.store.registry_versions(None, include_deleted=deleted)
        return sorted({v.subject for v in versions if v.subject.startswith(prefix)})

    def register(
        self, subject: str, given: Schema, schema_id: int | None = None, version: int | None = None
    ) -> int:
        """Register ``given`` under ``subject``; its global id."""
        mode = self.mode_of(subject)
        if mode in ("READONLY", "READONLY_OVERRIDE"):
            raise RegistryError(422, 42205, f"Subject {subject} is in read-only mode")
        parsed, fingerprint = self.parse(given)
        if mode == "IMPORT":
            return self._import(subject, given, fingerprint, schema_id, version)
        if schema_id is not None or version is not None:
            existing = self.store.registry_schema_id(fingerprint)
            if schema_id is not None and existing != schema_id:
                raise RegistryError(
                    422,
                    42205,
                    "Overwrite new schema with id is not permitted unless the subject is in IMPORT mode",
                )
        for _ in range(REGISTER_ATTEMPTS):  # optimistic: check again when another writer got in first
            live = self.store.registry_versions(subject)
            same = self.store.registry_schema_id(fingerprint)
            if same is not None and any(v.schema_id == same for v in live):
                return same
            level = self.level_of(subject)
            history = [(v.version, self._stored_parsed(self._stored(v.schema_id))) for v in live]
            reasons = compat.check(level, parsed, history)
            if reasons:
                raise RegistryError(
                    409,
                    409,
                    f'Schema being registered is incompatible with an earlier schema for subject "{subject}" '
                    f"({level}), details: {reasons}",
                )
            latest = live[-1].version if live else 0
            try:
                new_id, _ = self.store.registry_register(
                    subject, fingerprint, given.schema_type, given.schema, given.references, latest
                )
            except SubjectChanged:
                continue
            return new_id
        raise RegistryError(409, 40901, f"Subject {subject} kept changing while registering; try again")

    def _import(
        self, subject: str, given: Schema, fingerprint: str, schema_id: int | None, version: int | None
    ) -> int:
        if schema_id is None:
            raise RegistryError(422, 42205, "In IMPORT mode a schema is registered with its id")
        number = version or (
            max((v.version for v in self.store.registry_versions(subject, True)), default=0) + 1
        )
        if any(v.version == number for v in self.store.registry_versions(subject, True)):
            raise RegistryError(422, 42205, f"Version {number} of subject {subject} already exists")
        try:
            self.store.registry_import(
                subject, number, schema_id, fingerprint, given.schema_type, given.schema, given.references
            )
        except ValueError as exc:
            raise RegistryError(422, 42205, f"Overwrite not permitted: {exc}") from None
        return schema_id

    def lookup(self, subject: str, given: Schema, deleted: bool = False) -> dict[str, Any]:
        """The version of ``subject`` holding ``given``."""
        versions = self.store.registry_versions(subject, include_deleted=deleted)
        if not versions:
            raise _subject_not_found(subject)
        _, fingerprint = self.parse(given)
        schema_id = self.store.registry_schema_id(fingerprint)
        match = [v for v in versions if v.schema_id == schema_id]
        if schema_id is None or not match:
            raise RegistryError(404, 40403, "Schema not found")
        return self._version_body(match[-1])

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        self._writable(subject)
        everything = self.store.registry_versions(subject, include_deleted=True)
        if not everything:
            raise _subject_not_found(subject)
        live = [v.version for v in everything if not v.deleted]
        if permanent:
            if live:
                raise RegistryError(
                    404, 40405, f"Subject '{subject}' was not deleted first before being permanently deleted"
                )
            numbers = [v.version for v in everything]
            self._refuse_referenced(subject, numbers)
            self.store.registry_purge(subject, numbers)
            self.store.registry_set_setting(subject, "compatibility", None)
            self.store.registry_set_setting(subject, "mode", None)
            return numbers
        if not live:
            raise RegistryError(
                404, 40404, f"Subject '{subject}' was soft deleted. Set permanent=true to delete permanently"
            )
        self._refuse_referenced(subject, live)
        self.store.registry_mark_deleted(subject, live)
        return live

    def _refuse_referenced(self, subject: str, versions: Sequence[int]) -> None:
        for number in versions:
            users = self.store.registry_referenced_by(subject, number)
            if users:
                raise RegistryError(
                    422,
                    42206,
                    f"One or more references exist to the schema {{subject={subject},version={number}}}",
                )

    # -- versions --------------------------------------------------------------------

    def versions(self, subject: str, deleted: bool = False) -> list[int]:
        found = self.store.registry_versions(subject, include_deleted=deleted)
        if not found:
            raise _subject_not_found(subject)
        return [v.version for v in found]

    def version(self, subject: str, version: str | int, deleted: bool = False) -> dict[str, Any]:
        return self._version_body(self._resolve(subject, version, deleted))

    def delete_version(self, subject: str, version: str | int, permanent: bool = False) -> int:
        self._writable(subject)
        found = self._resolve(subject, version, deleted=permanent)
        if permanent:
            if not found.deleted:
                what = f"Subject '{subject}' Version {found.version}"
                raise RegistryError(
                    404, 40407, f"{what} was not deleted first before being permanently deleted"
                )
            self._refuse_referenced(subject, [found.version])
            self.store.registry_purge(subject, [found.version])
            return found.version
        self._refuse_referenced(subject, [found.version])
        self.store.registry_mark_deleted(subject, [found.version])
        return found.version

    def referenced_by(self, subject: str, version: str | int) -> list[int]:
        found = self._resolve(subject, version)
        return self.store.registry_referenced_by(subject, found.version)

    def _resolve(self, subject: str, version: str | int, deleted: bool = False) -> SubjectVersion:
        number = parse_version(version)
        everything = self.store.registry_versions(subject, include_deleted=True)
        if not everything:
            raise _subject_not_found(subject)
        visible = everything if deleted else [v for v in everything if not v.deleted]
        if number is None:  # latest
            if not visible:
                raise _subject_not_found(subject)
            return visible[-1]
        match = [v for v in visible if v.version == number]
        if not match:
            raise _version_not_found(subject, number)
        return match[0]

    def _live_version(self, subject: str, version: int) -> SubjectVersion | None:
        found = [v for v in self.store.registry_versions(subject) if v.version == version]
        return found[0] if found else None

    def _stored(self, schema_id: int) -> StoredSchema:
        stored = self.store.registry_get_schema(schema_id)
        if stored is None:
            raise RegistryError(500, 50001, f"schema {schema_id} is referenced but missing")
        return stored

    def _version_body(self, found: SubjectVersion) -> dict[str, Any]:
        body = {"subject": found.subject, "version": found.version, "id": found.schema_id}
        body.update(_schema_body(self._stored(found.schema_id)))
        return body

    # -- compatibility ---------------------------------------------------------------

    def check(
        self,
        subject: str,
        given: Schema,
        version: str | int | None = None,
        verbose: bool = False,
        level: str | None = None,
    ) -> dict[str, Any]:
        """Would ``given`` be accepted against one version (None: the subject's versions, at its level)?"""
        parsed, _ = self.parse(given)
        level = level or self.level_of(subject)
        if version is None:
            live = self.store.registry_versions(subject)
            history = [(v.version, self._stored_parsed(self._stored(v.schema_id))) for v in live]
        else:
            found = self._resolve(subject, version)
            history = [(found.version, self._stored_parsed(self._stored(found.schema_id)))]
            level = level.removesuffix("_TRANSITIVE")
        reasons = compat.check(level, parsed, history)
        body: dict[str, Any] = {"is_compatible": not reasons}
        if verbose:
            body["messages"] = reasons
        return body

    # -- config and modes ------------------------------------------------------------

    def level_of(self, subject: str) -> str:
        return (
            self.store.registry_setting(subject, "compatibility")
            or self.store.registry_setting(GLOBAL, "compatibility")
            or compat.DEFAULT_LEVEL
        )

    def get_config(self, subject: str = GLOBAL, default_to_global: bool = False) -> dict[str, Any]:
        if subject == GLOBAL:
            return {"compatibilityLevel": self.level_of(GLOBAL)}
        own = self.store.registry_setting(subject, "compatibility")
        if own is None and not default_to_global:
            raise RegistryError(
                404, 40408, f"Subject '{subject}' does not have subject-level compatibility configured"
            )
        return {"compatibilityLevel": own or self.level_of(GLOBAL)}

    def set_config(self, subject: str, level: object) -> dict[str, Any]:
        if not isinstance(level, str) or level.upper() not in compat.LEVELS:
            raise RegistryError(
                422,
                42203,
                f"Invalid compatibility level {level!r}. Valid values are: {', '.join(compat.LEVELS)}",
            )
        self._writable_config(subject)
        self.store.registry_set_setting(subject, "compatibility", level.upper())
        return {"compatibility": level.upper()}

    def delete_config(self, subject: str) -> dict[str, Any]:
        previous = self.store.registry_set_setting(subject, "compatibility", None)
        if previous is None and subject != GLOBAL:
            raise RegistryError(
                404, 40408, f"Subject '{subject}' does not have subject-level compatibility configured"
            )
        return {"compatibilityLevel": previous or compat.DEFAULT_LEVEL}

    def mode_of(self, subject: str) -> str:
        global_mode = self.store.registry_setting(GLOBAL, "mode") or "READWRITE"
        if global_mode == "READONLY_OVERRIDE":
            return global_mode
        return self.store.registry_setting(subject, "mode") or global_mode

    def get_mode(self, subject: str = GLOBAL, default_to_global: bool = False) -> dict[str, Any]:
        if subject == GLOBAL:
            return {"mode": self.mode_of(GLOBAL)}
        own = self.store.registry_setting(subject, "mode")
        if own is None and not default_to_global:
            raise RegistryError(
                404, 40409, f"Subject '{subject}' does not have subject-level mode configured"
            )
        return {"mode": own or self.mode_of(GLOBAL)}

    def set_mode(self, subject: str, mode: object, force: bool = False) -> dict[str, Any]:
        if not isinstance(mode, str) or mode.upper() not in MODES:
            raise RegistryError(422, 42204, f"Invalid mode {mode!r}. Valid values are: {', '.join(MODES)}")
        mode = mode.upper()
        if mode == "IMPORT" and not force:
            present = self.store.registry_versions(
                None if subject == GLOBAL else subject, include_deleted=True
            )
            if present:
                raise RegistryError(
                    422, 42205, "Cannot import since found existing subjects; use force=true to import anyway"
                )
        self.store.registry_set_setting(subject, "mode", mode)
        return {"mode": mode}

    def delete_mode(self, subject: str) -> dict[str, Any]:
        previous = self.store.registry_set_setting(subject, "mode", None)
        if previous is None:
            raise RegistryError(
                404, 40409, f"Subject '{subject}' does not have subject-level mode configured"
            )
        return {"mode": previous}

    def _writable(self, subject: str) -> None:
        if self.mode_of(subject) in ("READONLY", "READONLY_OVERRIDE"):
            raise RegistryError(422, 42205, f"Subject {subject} is in read-only mode")

    def _writable_config(self, subject: str) -> None:
        if self.store.registry_setting(GLOBAL, "mode") == "READONLY_OVERRIDE":
            raise RegistryError(422, 42205, "The registry is in READONLY_OVERRIDE mode")


def parse_version(version: str | int) -> int | None:
    """A version number, or None for ``latest`` / ``-1``; RegistryError 42202 otherwise."""
    text = str(version).strip()
    if text.lower() == "latest" or text == "-1":
        return None
    try:
        number = int(text)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_VERSION:
        raise RegistryError(
            422,
            42202,
            f"The specified version '{version}' is not a valid version id. Allowed values are between "
            f'[1, {MAX_VERSION}] and the string "latest"',
        )
    return number


def _schema_body(stored: StoredSchema) -> dict[str, Any]:
    body: dict[str, Any] = {"schema": stored.schema}
    if stored.schema_type != "AVRO":
        body["schemaType"] = stored.schema_type
    if stored.references:
        body["references"] = [
            {"name": r.name, "subject": r.subject, "version": r.version} for r in stored.references
        ]
    return body


def schema_from_body(body: Mapping[str, Any]) -> tuple[Schema, int | None, int | None]:
    """The schema, id and version of a register/lookup/check request body; 422 when malformed."""
    if not isinstance(body, Mapping) or not isinstance(body.get("schema"), str):
        raise RegistryError(
            422, 422, "Unrecognized request body: expected a JSON object with a string 'schema'"
        )
    schema_type = body.get("schemaType") or "AVRO"
    refs = body.get("references") or []
    if not isinstance(schema_type, str) or not isinstance(refs, list):
        raise RegistryError(
            422, 422, "Unrecognized request body: 'schemaType' must be a string, 'references' a list"
        )
    references = []
    for ref in refs:
        if not (
            isinstance(ref, Mapping)
            and isinstance(ref.get("name"), str)
            and isinstance(ref.get("subject"), str)
            and isinstance(ref.get("version"), int)
        ):
            raise RegistryError(422, 422, f"Unrecognized reference {ref!r}: needs name, subject and version")
        references.append(SchemaReference(ref["name"], ref["subject"], ref["version"]))
    schema_id, version = body.get("id"), body.get("version")
    if schema_id is not None and not isinstance(schema_id, int):
        raise RegistryError(422, 422, "'id' must be an integer")
    if version is not None and not isinstance(version, int):
        raise RegistryError(422, 422, "'version' must be an integer")
    return Schema(body["schema"], schema_type.upper(), tuple(references)), schema_id, version
