"""The contract gate: a port's contract may change only as its subject's compatibility allows.

Before a build reads anything, each output port's contract is translated
(:mod:`.odcs`) and checked against the subjects ``daap.<product>.<port>-value``
(the change events' envelope around the rows) and ``-key`` at their levels;
before the version is committed the schemas are registered and their ids go
into the build's plan, so its events are encoded with exactly those schemas,
even when a crash leaves them to a later process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from daap.errors import IncompatibleContract
from daap.mesh.registry import odcs
from daap.mesh.registry.service import RegistryError, Schema, SchemaRegistry
from daap.spec.model import ProductSpec


@dataclass(frozen=True)
class PortSchemas:
    port: str
    value_subject: str
    value: str
    key_subject: str
    key: str | None
    level: str | None  # the contract's ``compatibility``; None: the subject's or global level
    schema_type: str = "AVRO"  # or "JSON" (JSON Schema), as ``eventFormat`` says


def port_schemas(spec: ProductSpec, event_format: str = "avro") -> list[PortSchemas]:
    """Each port's schemas: JSON Schema when events are ``jsonschema``, else Avro."""
    json_schema = event_format == "jsonschema"
    envelope = odcs.json_envelope if json_schema else odcs.avro_envelope
    key = odcs.json_key if json_schema else odcs.avro_key
    return [
        PortSchemas(
            port.name,
            odcs.value_subject(spec.name, port.name),
            envelope(spec.name, port.name, port.contract),
            odcs.key_subject(spec.name, port.name),
            key(spec.name, port.name, port.contract),
            port.contract.compatibility,
            "JSON" if json_schema else "AVRO",
        )
        for port in spec.output_ports
    ]


def check(registry: SchemaRegistry, spec: ProductSpec, event_format: str = "avro") -> None:
    """Raise IncompatibleContract when a port's contract may not follow its registered versions."""
    store = registry.store
    for schemas in port_schemas(spec, event_format):
        for subject, text in ((schemas.value_subject, schemas.value), (schemas.key_subject, schemas.key)):
            if text is None or not store.registry_versions(subject):
                continue
            level = schemas.level or registry.level_of(subject)
            verdict = registry.check(subject, Schema(text, schemas.schema_type), verbose=True, level=level)
            if not verdict["is_compatible"]:
                reasons = _rows_view(verdict["messages"])
                raise IncompatibleContract(spec.name, schemas.port, subject, level, reasons)
            if subject == schemas.value_subject and level.removesuffix("_TRANSITIVE") in ("FORWARD", "NONE"):
                _check_old_rows_fit(registry, spec, schemas, level)


def _check_old_rows_fit(
    registry: SchemaRegistry, spec: ProductSpec, schemas: PortSchemas, level: str
) -> None:
    """Whatever the level, the next version's update and delete events carry rows of the current
    one under the new contract: a column the new contract requires must be there already."""
    latest = registry.check(
        schemas.value_subject,
        Schema(schemas.value, schemas.schema_type),
        "latest",
        verbose=True,
        level="BACKWARD",
    )
    missing = [m for m in latest.get("messages", []) if "READER_FIELD_MISSING_DEFAULT_VALUE" in m]
    if missing:
        reasons = [
            *_rows_view(missing),
            "change events carry the previous version's rows under the new contract, so a column "
            "it requires must exist there (or have a default)",
        ]
        raise IncompatibleContract(spec.name, schemas.port, schemas.value_subject, level, reasons)


#: the rules that say a column the new contract requires is missing from old rows (Avro, JSON Schema)
_REQUIRED_ADDED = re.compile(r"READER_FIELD_MISSING_DEFAULT_VALUE|REQUIRED_(ATTRIBUTE|PROPERTY)_ADDED")

#: where the rows sit in the envelope: ``before`` and ``after`` are ``["null", Value]``
_ROW_PATH = re.compile(r" at /fields/[01]/type/1(?=/|:)")


def _rows_view(reasons: list[str]) -> list[str]:
    """Reasons about the rows, said once (``before`` and ``after`` hold the same record) and
    with paths into the row record, as the contract's author knows it."""
    return list(dict.fromkeys(_ROW_PATH.sub(" at ", r).replace(" at :", " at /:") for r in reasons))


def register(
    registry: SchemaRegistry, spec: ProductSpec, event_format: str = "avro"
) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Register every port's schemas; never raises.

    Returns:
        per port, the ids registered (``{"value": id, "key": id}``; ``key`` absent
        without a primary key), and warnings for what could not be registered.
    """
    store = registry.store
    ids: dict[str, dict[str, int]] = {}
    warnings = []
    for schemas in port_schemas(spec, event_format):
        kinds = (("value", schemas.value_subject, schemas.value), ("key", schemas.key_subject, schemas.key))
        for kind, subject, text in kinds:
            if text is None:
                continue
            try:
                if schemas.level and store.registry_setting(subject, "compatibility") != schemas.level:
                    registry.set_config(subject, schemas.level)  # the contract says, the registry keeps
                schema = Schema(text, schemas.schema_type)
                ids.setdefault(schemas.port, {})[kind] = registry.register(subject, schema)
            except RegistryError as exc:
                warnings.append(f"schema of {subject} not registered: {exc}")
    return ids, warnings
