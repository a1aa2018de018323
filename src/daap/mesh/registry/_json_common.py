"""What the JSON Schema compatibility rules share: the finding shape and small helpers.

A finding is ``(path, kind, sentence, member)``: ``path`` a JSON pointer relative
to the reader node being compared; ``member`` true when the finding is about a
property or item position itself (the sentence names it), so the location label
is taken from the enclosing object rather than from the member.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from daap.mesh.registry._json_refs import ANNOTATIONS

Schema = Any  # dict[str, Any] | bool; after linking, possibly cyclic
Finding = tuple[str, str, str, bool]
Compare = Callable[[Schema, Schema], list[Finding]]  # (reader, writer) -> findings


def accepts_all(schema: Schema) -> bool:
    """``true``, ``{}`` or only annotations: every value is valid."""
    return schema is True or (isinstance(schema, dict) and schema.keys() <= ANNOTATIONS)


def prefixed(prefix: str, findings: list[Finding]) -> list[Finding]:
    return [(prefix + path, kind, sentence, member) for path, kind, sentence, member in findings]


def regex_search(pattern: str, text: str) -> bool:
    """JSON Schema's ``pattern`` test (unanchored); an ECMA 262 construct Python lacks never matches."""
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def as_types(value: Any) -> frozenset[str]:
    return frozenset((value,)) if isinstance(value, str) else frozenset(value)


def names(types: frozenset[str] | list[str]) -> str:
    return " or ".join(f"'{t}'" for t in sorted(types))


def summary(schema: Schema) -> str:
    """A few words naming a schema in a message."""
    if not isinstance(schema, dict):
        return str(schema).lower()
    if "type" in schema:
        return f"type {names(as_types(schema['type']))}"
    if "enum" in schema or "const" in schema:
        return "an enum"
    return "a schema with " + ", ".join(sorted(schema)[:4]) if schema else "any value"


# keyword, upper bound?, kind when added, kind when tightened, what is counted
_SIZES = {
    "string": (
        ("maxLength", True, "MAX_LENGTH_ADDED", "MAX_LENGTH_DECREASED", "characters"),
        ("minLength", False, "MIN_LENGTH_ADDED", "MIN_LENGTH_INCREASED", "characters"),
    ),
    "array": (
        ("maxItems", True, "MAX_ITEMS_ADDED", "MAX_ITEMS_DECREASED", "items"),
        ("minItems", False, "MIN_ITEMS_ADDED", "MIN_ITEMS_INCREASED", "items"),
    ),
    "object": (
        ("maxProperties", True, "MAX_PROPERTIES_ADDED", "MAX_PROPERTIES_DECREASED", "properties"),
        ("minProperties", False, "MIN_PROPERTIES_ADDED", "MIN_PROPERTIES_INCREASED", "properties"),
    ),
}


def sizes(kind: str, reader: dict[str, Any], writer: dict[str, Any]) -> list[Finding]:
    """maxLength/minLength, maxItems/minItems, maxProperties/minProperties: added or tightened."""
    found: list[Finding] = []
    for keyword, upper, added, tightened, unit in _SIZES[kind]:
        limit = reader.get(keyword)
        if limit is None:
            continue
        old = writer.get(keyword)
        if upper and (old is None or limit < old):
            most = "any number of" if old is None else f"up to {old}"
            sentence = f"{keyword} is {limit} but written values may have {most} {unit}"
            found.append((f"/{keyword}", added if old is None else tightened, sentence, False))
        elif not upper and limit > (old or 0):
            sentence = f"{keyword} is {limit} but written values may have as few as {old or 0} {unit}"
            found.append((f"/{keyword}", added if old is None else tightened, sentence, False))
    return found


def location(path: str, member: bool = False) -> str:
    """A dotted label for a reader path: ``/properties/a/items/properties/b`` -> ``a[].b``.

    A member finding (a property or item itself) is labelled by its enclosing object.
    """
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]]
    if member:
        tokens = tokens[:-2]
    label, i = "", 0
    while i < len(tokens):
        token, following = tokens[i], tokens[i + 1] if i + 1 < len(tokens) else None
        if token == "properties" and following is not None:
            label, i = f"{label}.{following}" if label else following, i + 2
        elif token in ("items", "prefixItems") and following is not None and following.isdigit():
            label, i = f"{label}[{following}]", i + 2
        elif token in ("items", "additionalItems"):
            label, i = f"{label}[]", i + 1
        elif token in ("additionalProperties", "patternProperties"):
            label, i = f"{label}.*" if label else "*", i + (2 if token == "patternProperties" else 1)
        elif token in ("oneOf", "anyOf", "dependentSchemas", "dependencies", "dependentRequired"):
            i += 2
        else:
            i += 1
    return label
