"""The contract gate: a port's contract may change only as its subject's compatibility allows.

Before a build reads anything, each output port's contract is translated
(:mod:`.odcs`) and checked against the subjects ``daap.<product>.<port>-value``
and ``-key`` at their levels; after the version is published the schemas are
registered, so the registry always holds what consumers may receive.
"""

from __future__ import annotations

from dataclasses import dataclass

from daap.errors import IncompatibleContract
from daap.mesh.metadata import RegistryStore
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


def port_schemas(spec: ProductSpec) -> list[PortSchemas]:
    return [
        PortSchemas(
            port.name,
            odcs.value_subject(spec.name, port.name),
            odcs.avro_value(spec.name, port.name, port.contract),
            odcs.key_subject(spec.name, port.name),
            odcs.avro_key(spec.name, port.name, port.contract),
            port.contract.compatibility,
        )
        for port in spec.output_ports
    ]


def check(store: RegistryStore, spec: ProductSpec) -> None:
    """Raise IncompatibleContract when a port's contract may not follow its registered versions."""
    registry = SchemaRegistry(store)
    for schemas in port_schemas(spec):
        for subject, text in ((schemas.value_subject, schemas.value), (schemas.key_subject, schemas.key)):
            if text is None or not store.registry_versions(subject):
                continue
            level = schemas.level or registry.level_of(subject)
            verdict = registry.check(subject, Schema(text), verbose=True, level=level)
            if not verdict["is_compatible"]:
                raise IncompatibleContract(spec.name, schemas.port, subject, level, verdict["messages"])


def register(store: RegistryStore, spec: ProductSpec) -> list[str]:
    """Register every port's schemas (after publishing); returns warnings, never raises."""
    registry = SchemaRegistry(store)
    warnings = []
    for schemas in port_schemas(spec):
        for subject, text in ((schemas.value_subject, schemas.value), (schemas.key_subject, schemas.key)):
            if text is None:
                continue
            try:
                if schemas.level and store.registry_setting(subject, "compatibility") != schemas.level:
                    registry.set_config(subject, schemas.level)  # the contract says, the registry keeps
                registry.register(subject, Schema(text))
            except RegistryError as exc:
                warnings.append(f"schema of {subject} not registered: {exc}")
    return warnings
