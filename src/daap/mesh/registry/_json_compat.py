"""The rules of ``can_read`` for JSON Schema: walk reader and writer together, report what breaks.

This module holds the walk (``Checker``: references, ``allOf``, ``oneOf``/``anyOf``)
and the rules on values (type, enum, numbers, strings, ``not``); objects and arrays
are in ``_json_shapes``. The rule table and verdicts are in the docstring of
``daap.mesh.registry.jsonschema``.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from functools import lru_cache
from typing import Any

from daap.mesh.registry._json_common import (
    Compare,
    Finding,
    Schema,
    as_types,
    names,
    prefixed,
    regex_search,
    sizes,
    summary,
)
from daap.mesh.registry._json_merge import conjoin, flatten, value_key
from daap.mesh.registry._json_refs import ANNOTATIONS
from daap.mesh.registry._json_shapes import ARRAY_KEYWORDS, OBJECT_KEYWORDS, arrays, objects

Rule = Callable[[Compare, dict[str, Any], dict[str, Any]], list[Finding]]

_SUMS = ("oneOf", "anyOf")
_ALL_TYPES = frozenset(("null", "boolean", "object", "array", "number", "integer", "string"))
_SHAPE_KINDS = frozenset(("TYPE_CHANGED", "TYPE_NARROWED"))
_NO_CYCLE = 1 << 30


class Checker:
    """One comparison: memoizes pairs of schema nodes, so recursive ``$ref``\\s terminate.

    Every cycle of the linked graphs passes through a ``$ref`` target, so only pairs
    holding one (``shared``) are tracked. A pair met again while it is being
    compared is assumed compatible (the greatest fixed point: a recursive structure
    is readable unless some finite part of it is not). A result that leaned on such
    an assumption about an *enclosing* pair is not memoized, as it may change once
    that pair is decided.
    """

    def __init__(self, shared: frozenset[int] = frozenset()) -> None:
        self._shared = shared  # a pair with neither node here cannot recur: no memo needed
        self._memo: dict[tuple[int, int], tuple[Schema, Schema, list[Finding]]] = {}
        self._active: dict[tuple[int, int], int] = {}
        self._low = _NO_CYCLE
        self._flat: dict[int, tuple[Schema, Schema]] = {}
        self._branches: dict[tuple[int, str], tuple[Schema, list[Schema]]] = {}

    def compare(self, reader: Schema, writer: Schema) -> list[Finding]:
        """Why values valid under ``writer`` may be invalid under ``reader``; [] when none."""
        if id(reader) not in self._shared and id(writer) not in self._shared:
            return self._compare(reader, writer)
        key = (id(reader), id(writer))
        memo = self._memo.get(key)
        if memo is not None:
            return memo[2]
        depth = self._active.get(key)
        if depth is not None:
            self._low = min(self._low, depth)
            return []
        depth = self._active[key] = len(self._active)
        outer_low, self._low = self._low, _NO_CYCLE
        try:
            found = self._compare(reader, writer)
        finally:
            del self._active[key]
        if self._low >= depth:
            self._memo[key] = (reader, writer, found)
        self._low = min(outer_low, self._low)
        return found

    def _compare(self, reader: Schema, writer: Schema) -> list[Finding]:
        if type(writer) is dict and "allOf" in writer:
            writer = self.flat(writer)
        if type(reader) is dict and "allOf" in reader:
            reader = self.flat(reader)
        if writer is False or reader is True or (type(reader) is dict and reader.keys() <= ANNOTATIONS):
            return []
        if reader is False:
            return [("", "TYPE_NARROWED", "the reading schema is false and accepts no value", False)]
        if writer is True:
            writer = {}
        sums = "oneOf" in reader or "anyOf" in reader or "oneOf" in writer or "anyOf" in writer
        if sums and (_sum_key(reader) or _sum_key(writer)):
            return self._sums(reader, writer)
        return _plain(self.compare, reader, writer)

    def flat(self, schema: Schema) -> Schema:
        if not isinstance(schema, dict) or "allOf" not in schema:
            return schema
        hit = self._flat.get(id(schema))
        if hit is None:
            hit = self._flat[id(schema)] = (schema, flatten(schema))
        return hit[1]

    def branches(self, schema: dict[str, Any], key: str) -> list[Schema]:
        """The alternatives of a oneOf/anyOf, each joined with the keywords beside it."""
        hit = self._branches.get((id(schema), key))
        if hit is None:
            siblings = {k: v for k, v in schema.items() if k != key}
            joined = [
                b if not siblings else siblings if b is True else b if b is False else conjoin(siblings, b)
                for b in schema[key]
            ]
            hit = self._branches[(id(schema), key)] = (schema, joined)
        return hit[1]

    def _sums(self, reader: dict[str, Any], writer: dict[str, Any]) -> list[Finding]:
        """Every writer branch must be read by some reader branch (SUM_TYPE_EXTENDED is fine)."""
        rkey, wkey = _sum_key(reader), _sum_key(writer)
        rbranches = self.branches(reader, rkey) if rkey else [reader]
        wbranches = self.branches(writer, wkey) if wkey else [writer]
        found: list[Finding] = []
        if rkey == "oneOf" and wkey == "anyOf":
            found.append(("/oneOf", "COMBINED_TYPE_CHANGED", _ONE_OF_MSG, False))
        for j, wbranch in enumerate(wbranches):
            attempts: list[tuple[int, list[Finding]]] = []
            for i, rbranch in enumerate(rbranches):
                issues = self.compare(rbranch, wbranch)
                if not issues:
                    break
                attempts.append((i, issues))
            else:
                found += _no_branch(rkey, wkey, j, attempts, len(rbranches) < len(wbranches), wbranch)
        return found


_ONE_OF_MSG = (
    "the reading schema requires exactly one branch to match (oneOf) where the writing schema "
    "allowed several (anyOf): written values matching two branches are rejected"
)


def _no_branch(
    rkey: str | None,
    wkey: str | None,
    j: int,
    attempts: list[tuple[int, list[Finding]]],
    fewer: bool,
    wb: Any,
) -> list[Finding]:
    """Findings for writer branch ``j`` that no reader branch reads.

    When the closest reader branch has the same shape (no type change at its top),
    its own findings are the useful ones; else the branch as a whole is reported.
    """
    i, issues = min(attempts, key=lambda a: (len(a[1]), a[0] != j))
    if not any(path in ("", "/type") and kind in _SHAPE_KINDS for path, kind, _, _ in issues):
        return prefixed(f"/{rkey}/{i}", issues) if rkey else issues
    first = issues[0][2]
    if wkey and not rkey:
        sentence = f"the writing schema's {wkey} branch {j} ({summary(wb)}) is not readable: {first}"
        return [("", "SUM_TYPE_NARROWED", sentence, False)]
    kind = "SUM_TYPE_NARROWED" if wkey and fewer else "COMBINED_TYPE_SUBSCHEMAS_CHANGED"
    what = f"branch {j} of the writing schema's {wkey}" if wkey else "the writing schema"
    sentence = f"no branch of the reading schema's {rkey} reads {what} ({summary(wb)}); closest: {first}"
    return [(f"/{rkey}", kind, sentence, False)]


def _sum_key(schema: dict[str, Any]) -> str | None:
    for key in _SUMS:
        if isinstance(schema.get(key), list):
            return key
    return None


# --- types -----------------------------------------------------------------------------------


def _covers(types: frozenset[str], t: str) -> bool:
    return t in types or (t == "integer" and "number" in types)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    by_class = {float: "number", str: "string", list: "array", dict: "object", type(None): "null"}
    return by_class[type(value)]


def _enumerated(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    values = schema.get("enum")
    return values if isinstance(values, list) else None


def _writer_types(writer: dict[str, Any]) -> Any:
    """The writer's ``type``; without one, the types of its enum values. None: any."""
    if "type" in writer:
        return writer["type"]
    values = _enumerated(writer)
    return None if values is None else sorted({_json_type(v) for v in values})


def _type_rule(rtypes: frozenset[str] | None, wtypes: frozenset[str] | None) -> list[Finding]:
    if rtypes is None:
        return []
    if wtypes is None:
        sentence = (
            f"the reading schema accepts only {names(rtypes)} where the writing schema accepted any type"
        )
        return [("/type", "TYPE_NARROWED", sentence, False)]
    lost = [t for t in wtypes if not _covers(rtypes, t)]
    if not lost:
        return []  # equal, or TYPE_EXTENDED (integer -> number included)
    narrowed = all(_covers(wtypes, t) for t in rtypes)
    kind, verb = ("TYPE_NARROWED", "narrowed") if narrowed else ("TYPE_CHANGED", "changed")
    sentence = (
        f"type {verb} from {names(wtypes)} to {names(rtypes)}: "
        f"written values of type {names(lost)} are rejected"
    )
    return [("/type", kind, sentence, False)]


def _plain(compare: Compare, reader: dict[str, Any], writer: dict[str, Any]) -> list[Finding]:
    rtype, wtype = reader.get("type"), writer["type"] if "type" in writer else _writer_types(writer)
    if wtype == "number" and _is_whole(writer.get("multipleOf")):
        wtype = "integer"  # {"type": "number", "multipleOf": 1} writes integers only
    if rtype is not None and type(rtype) is not str:
        rtype = tuple(sorted(rtype))
    if wtype is not None and type(wtype) is not str:
        wtype = tuple(sorted(wtype))
    verdict, live = _type_verdict(rtype, wtype)
    found = list(verdict)
    if not live:
        return found
    if "enum" in reader or "const" in reader:
        found += _enum_rule(reader, writer, _writer_types(writer))
    for kind, keywords, rule in _RULES:
        if kind in live and not keywords.isdisjoint(reader.keys()):
            found += rule(compare, reader, writer)
    if "not" in reader:
        found += _not_rule(compare, reader, writer)
    return found


@lru_cache(maxsize=1024)
def _type_verdict(
    rtypes: str | tuple[str, ...] | None, wtypes: str | tuple[str, ...] | None
) -> tuple[tuple[Finding, ...], frozenset[str]]:
    """(type findings, the kinds of value written and readable): the same few pairs recur."""
    rset = _ALL_TYPES if rtypes is None else as_types(rtypes)
    wset = _ALL_TYPES if wtypes is None else as_types(wtypes)
    live = frozenset("number" if t == "integer" else t for t in wset if _covers(rset, t))
    found = _type_rule(None if rtypes is None else rset, None if wtypes is None else wset)
    return tuple(found), live


# --- values ----------------------------------------------------------------------------------


def _enum_rule(reader: dict[str, Any], writer: dict[str, Any], written_types: Any) -> list[Finding]:
    allowed = _enumerated(reader) or []
    path = "/const" if "const" in reader else "/enum"
    written = _enumerated(writer)
    wtypes = None if written_types is None else as_types(written_types)
    if written is None and wtypes is not None and wtypes <= {"boolean", "null"}:
        written = [v for t, v in (("boolean", True), ("boolean", False), ("null", None)) if t in wtypes]
    if written is None:
        sentence = (
            f"the reading schema allows only {_preview(allowed)} where the writing schema allowed any value"
        )
        return [(path, "ENUM_ARRAY_NARROWED", sentence, False)]
    keys = {value_key(v) for v in allowed}
    lost = [v for v in written if value_key(v) not in keys]
    if not lost:
        return []  # equal, or ENUM_ARRAY_EXTENDED
    written_keys = {value_key(v) for v in written}
    kind = "ENUM_ARRAY_NARROWED" if keys <= written_keys else "ENUM_ARRAY_CHANGED"
    return [(path, kind, f"written values {_preview(lost)} are no longer allowed", False)]


def _preview(values: list[Any]) -> str:
    shown = ", ".join(value_key(v) for v in values[:5])
    return f"[{shown}{', ...' if len(values) > 5 else ''}]"


NUMBER_KEYWORDS = frozenset(("maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "multipleOf"))
# keyword, upper bound?, exclusive?, kind when added, kind when tightened
_NUMERIC = (
    ("maximum", True, False, "MAXIMUM_ADDED", "MAXIMUM_DECREASED"),
    ("exclusiveMaximum", True, True, "EXCLUSIVE_MAXIMUM_ADDED", "EXCLUSIVE_MAXIMUM_DECREASED"),
    ("minimum", False, False, "MINIMUM_ADDED", "MINIMUM_INCREASED"),
    ("exclusiveMinimum", False, True, "EXCLUSIVE_MINIMUM_ADDED", "EXCLUSIVE_MINIMUM_INCREASED"),
)


def _bound(writer: dict[str, Any], upper: bool) -> tuple[float, bool] | None:
    """The writer's tightest bound on one side as (value, exclusive)."""
    keywords = ("maximum", "exclusiveMaximum") if upper else ("minimum", "exclusiveMinimum")
    found = [(writer[k], k.startswith("exclusive")) for k in keywords if _is_number(writer.get(k))]
    values = _enumerated(writer)
    if values and all(_is_number(v) for v in values):
        found.append((max(values) if upper else min(values), False))
    if not found:
        return None
    sign = 1 if upper else -1  # tighter: smaller upper / larger lower; on a tie, exclusive is tighter
    return min(found, key=lambda b: (sign * b[0], not b[1]))


def _is_whole(value: Any) -> bool:
    return _is_number(value) and float(value).is_integer()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numbers(compare: Compare, reader: dict[str, Any], writer: dict[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    for keyword, upper, exclusive, added, tightened in _NUMERIC:
        if not _is_number(reader.get(keyword)):
            continue
        limit: float = reader[keyword]
        bound = _bound(writer, upper)
        if bound is None:
            sentence = f"the reading schema adds {keyword} {limit}: written numbers were not bounded"
            found.append((f"/{keyword}", added, sentence, False))
            continue
        value, open_end = bound
        inside = value <= limit if upper else value >= limit
        if exclusive:
            inside = (value < limit if upper else value > limit) or (value == limit and open_end)
        if not inside:
            side = "up to" if upper else "down to"
            sentence = (
                f"{keyword} is {limit} but written numbers go {side} {value}{' (exclusive)' * open_end}"
            )
            found.append((f"/{keyword}", tightened, sentence, False))
    return found + _multiple_of(reader, writer)


def _multiple_of(reader: dict[str, Any], writer: dict[str, Any]) -> list[Finding]:
    step = reader.get("multipleOf")
    if not _is_number(step):
        return []
    old = writer.get("multipleOf")
    if old is None and writer.get("type") in ("integer", ["integer"]):
        old = 1
    if old is None:
        return [
            ("/multipleOf", "MULTIPLE_OF_ADDED", f"written numbers need not be multiples of {step}", False)
        ]
    ratio = Fraction(str(old)) / Fraction(str(step))
    if ratio.denominator == 1:
        return []  # equal, or MULTIPLE_OF_REDUCED
    kind = "MULTIPLE_OF_EXPANDED" if ratio.numerator == 1 else "MULTIPLE_OF_CHANGED"
    return [("/multipleOf", kind, f"written multiples of {old} need not be multiples of {step}", False)]


def _strings(compare: Compare, reader: dict[str, Any], writer: dict[str, Any]) -> list[Finding]:
    found = sizes("string", reader, writer)
    pattern = reader.get("pattern")
    if pattern is None or pattern == writer.get("pattern"):
        return found
    values = _enumerated(writer)
    if values and all(isinstance(v, str) and regex_search(pattern, v) for v in values):
        return found
    if "pattern" not in writer:
        sentence = f"the reading schema adds pattern '{pattern}': written strings were not restricted"
        return [*found, ("/pattern", "PATTERN_ADDED", sentence, False)]
    sentence = f"pattern changed from '{writer['pattern']}' to '{pattern}': written strings may not match"
    return [*found, ("/pattern", "PATTERN_CHANGED", sentence, False)]


def _not_rule(compare: Compare, reader: dict[str, Any], writer: dict[str, Any]) -> list[Finding]:
    """Reader ``not: A`` over writer ``not: B`` is fine when A's values are all in B (swapped check)."""
    excluded = reader["not"]
    if excluded is False:
        return []
    if "not" in writer and not compare(writer["not"], excluded):
        return []  # equal, or NOT_TYPE_NARROWED
    what = "widens its `not`" if "not" in writer else "adds `not`"
    sentence = f"the reading schema {what}: written values matching {summary(excluded)} are rejected"
    return [("/not", "NOT_TYPE_EXTENDED", sentence, False)]


_RULES: tuple[tuple[str, frozenset[str], Rule], ...] = (
    ("number", NUMBER_KEYWORDS, _numbers),
    ("string", frozenset(("maxLength", "minLength", "pattern")), _strings),
    ("array", ARRAY_KEYWORDS, arrays),
    ("object", OBJECT_KEYWORDS, objects),
)
