"""Conjunction of JSON schemas: flatten ``allOf``, and put ``oneOf`` branches next to their siblings.

``{"type": "object", "allOf": [{"$ref": "#/$defs/base"}, {"properties": {...}}]}``
is compared as one object schema, so moving a property from one ``allOf`` branch
to another is not a change. Each keyword is combined by a rule from ``_COMBINE``
(properties merge by name, ``required`` unites, ``type`` and ``enum`` intersect,
an upper bound takes the smaller value, ...); keywords without a rule keep the
first value, which for ``pattern`` means the merge reads a little more widely than
the schema. The inputs are never mutated: linked graphs share nodes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from fractions import Fraction
from math import gcd
from typing import Any

Schema = Any  # dict[str, Any] | bool, possibly cyclic after linking


def flatten(schema: Schema, active: frozenset[int] = frozenset()) -> Schema:
    """``schema`` without ``allOf``: a dict, or False when a branch is ``false``.

    An ``allOf`` cycle (``{"$ref": "#", "type": "object"}`` in 2020-12) adds nothing
    to what the cycle already requires, so a branch already being flattened is skipped.
    """
    if not isinstance(schema, dict) or "allOf" not in schema:
        return schema
    inside = active | {id(schema)}
    merged: dict[str, Any] = {key: value for key, value in schema.items() if key != "allOf"}
    for branch in schema["allOf"]:
        if id(branch) in inside:
            continue
        flat = flatten(branch, inside)
        if flat is False:
            return False
        if isinstance(flat, dict):
            merged = conjoin(merged, flat)
    return merged


def conjoin(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """One schema a value satisfies when it satisfies both (new dict; approximate, see module doc)."""
    result = dict(first)
    for key, value in second.items():
        if key not in result:
            result[key] = value
        elif result[key] is not value and key in _COMBINE:
            result[key] = _COMBINE[key](result[key], value)
    return result


def _both(a: Any, b: Any) -> Any:
    if isinstance(a, dict | bool) and isinstance(b, dict | bool):
        return {"allOf": [a, b]}
    return a


def _by_name(a: Any, b: Any) -> Any:
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return a
    merged = dict(a)
    for name, value in b.items():
        if name not in merged:
            merged[name] = value
        elif isinstance(merged[name], list) and isinstance(value, list):  # dependentRequired
            merged[name] = _union(merged[name], value)
        elif merged[name] is not value:
            merged[name] = _both(merged[name], value)
    return merged


def _union(a: Any, b: Any) -> Any:
    if not (isinstance(a, list) and isinstance(b, list)):
        return a
    return a + [item for item in b if item not in a]


def _types(a: Any, b: Any) -> list[str]:
    first = {a} if isinstance(a, str) else set(a)
    second = {b} if isinstance(b, str) else set(b)
    both = {t for t in first if t in second or (t == "integer" and "number" in second)}
    both |= {t for t in second if t == "integer" and "number" in first}
    return sorted(both)


def _enum(a: Any, b: Any) -> Any:
    if not (isinstance(a, list) and isinstance(b, list)):
        return a
    keys = {value_key(v) for v in b}
    return [v for v in a if value_key(v) in keys]


def _multiple(a: Any, b: Any) -> Any:
    """Least common multiple of two positive rationals: lcm(p/q, r/s) = lcm(p, r) / gcd(q, s)."""
    x, y = Fraction(str(a)), Fraction(str(b))
    p, r = x.numerator, y.numerator
    lcm = Fraction(p * r // gcd(p, r), gcd(x.denominator, y.denominator))
    return int(lcm) if lcm.denominator == 1 else float(lcm)


def _product(a: Any, b: Any) -> Any:
    if not (isinstance(a, list) and isinstance(b, list)):
        return a
    return [{"allOf": [x, y]} for x in a for y in b]


def _positions(a: Any, b: Any) -> Any:
    if not (isinstance(a, list) and isinstance(b, list)):
        return a
    return [_both(a[i], b[i]) if i < len(b) else a[i] for i in range(len(a))] + b[len(a) :]


def value_key(value: Any) -> str:
    """A JSON value's identity: ``1`` and ``1.0`` are one number, ``true`` is not ``1``."""
    return json.dumps(_integral(value), sort_keys=True, separators=(",", ":"))


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    return value


_COMBINE: dict[str, Callable[[Any, Any], Any]] = {
    **dict.fromkeys(("properties", "patternProperties", "dependentSchemas", "dependentRequired"), _by_name),
    **dict.fromkeys(("dependencies", "$defs", "definitions"), _by_name),
    **dict.fromkeys(("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"), min),
    **dict.fromkeys(("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"), max),
    **dict.fromkeys(("additionalProperties", "additionalItems", "propertyNames"), _both),
    **dict.fromkeys(("unevaluatedProperties", "unevaluatedItems", "contains"), _both),
    **dict.fromkeys(("anyOf", "oneOf"), _product),
    "required": _union,
    "type": _types,
    "enum": _enum,
    "multipleOf": _multiple,
    "uniqueItems": lambda a, b: bool(a) or bool(b),
    "not": lambda a, b: {"anyOf": [a, b]},
    "prefixItems": _positions,
    "items": lambda a, b: _positions(a, b) if isinstance(a, list) else _both(a, b),
}
