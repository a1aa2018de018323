"""Compatibility levels, built from each format's ``can_read(reader, writer)``.

=====================  ==========================================================
level                  the new schema must...
=====================  ==========================================================
BACKWARD (default)     read data written with the latest version
BACKWARD_TRANSITIVE    read data written with every version
FORWARD                be readable by the latest version
FORWARD_TRANSITIVE     be readable by every version
FULL                   both, with the latest version
FULL_TRANSITIVE        both, with every version
NONE                   nothing
=====================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

from daap.mesh.registry._types import Incompatibility, Parsed
from daap.spec.contract import COMPATIBILITY_LEVELS

LEVELS = COMPATIBILITY_LEVELS
DEFAULT_LEVEL = "BACKWARD"


def format_module(schema_type: str) -> ModuleType:
    """The module implementing ``parse``/``canonical``/``can_read`` for a schema type."""
    if schema_type == "AVRO":
        from daap.mesh.registry import avro

        return avro
    if schema_type == "JSON":
        from daap.mesh.registry import jsonschema

        return jsonschema
    raise KeyError(schema_type)


def check(level: str, new: Parsed, versions: Sequence[tuple[int, Parsed]]) -> list[str]:
    """Why ``new`` may not follow ``versions`` (oldest first) at ``level``; [] when it may.

    Each reason names the version it conflicts with, the direction, the rule and the place.
    """
    if level == "NONE" or not versions:
        return []
    targets = list(versions) if level.endswith("_TRANSITIVE") else list(versions[-1:])
    base = level.removesuffix("_TRANSITIVE")
    fmt = format_module(new.schema_type)
    reasons: list[str] = []
    for number, old in reversed(targets):
        if old.schema_type != new.schema_type:
            reasons.append(
                f"version {number}: schema type changed from {old.schema_type} to {new.schema_type}"
            )
            continue
        if base in ("BACKWARD", "FULL"):
            found: list[Incompatibility] = fmt.can_read(new, old)
            reasons += [
                f"version {number}: the new schema cannot read its data: {i.describe()}" for i in found
            ]
        if base in ("FORWARD", "FULL"):
            found = fmt.can_read(old, new)
            reasons += [
                f"version {number}: it cannot read data of the new schema: {i.describe()}" for i in found
            ]
    return reasons
