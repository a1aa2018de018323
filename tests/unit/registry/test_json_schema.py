"""JSON Schema for the registry: parse errors, canonical form, and every compatibility rule both ways.

Each case reads "can ``reader`` read what ``writer`` wrote?". ``kinds`` are the
rules reported for ``can_read(reader, writer)``, ``swapped`` those for
``can_read(writer, reader)``. Where a rule is reported, ``witness`` (and
``swapped_witness``) is a document valid under the writer and invalid under the
reader, checked with the ``jsonschema`` validator: the verdict is real, not a
name. Where a direction is compatible, the same validator finds no sample
document that breaks it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jsonschema as validators
import pytest

from daap.mesh.registry import jsonschema as js
from daap.mesh.registry._json_common import location
from daap.mesh.registry._types import InvalidSchema, Parsed

D2019 = "https://json-schema.org/draft/2019-09/schema"
D2020 = "https://json-schema.org/draft/2020-12/schema"
_ABSENT = object()


def obj(closed: bool = False, required: tuple[str, ...] = (), **props: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


STR, INT, NUM = {"type": "string"}, {"type": "integer"}, {"type": "number"}
NULL, BOOL = {"type": "null"}, {"type": "boolean"}


def parsed(value: Any, refs: dict[str, Any] | None = None) -> Parsed:
    return js.parse(json.dumps(value), {name: json.dumps(v) for name, v in (refs or {}).items()})


def kinds(reader: Any, writer: Any, refs: dict[str, Any] | None = None) -> list[str]:
    return sorted(i.kind for i in js.can_read(parsed(reader, refs), parsed(writer, refs)))


def valid(schema: Any, document: Any) -> bool:
    cls = validators.validators.validator_for(schema, default=validators.Draft7Validator)
    return bool(cls(schema).is_valid(document))


@dataclass(frozen=True)
class Case:
    name: str
    reader: Any
    writer: Any
    kinds: tuple[str, ...]  # can_read(reader, writer)
    swapped: tuple[str, ...]  # can_read(writer, reader)
    witness: Any = _ABSENT  # valid under writer, invalid under reader
    swapped_witness: Any = _ABSENT  # valid under reader, invalid under writer
    path: str | None = None  # of the first finding of can_read(reader, writer)

    def __str__(self) -> str:
        return self.name


TNARROW, TCHANGE = ("TYPE_NARROWED",), ("TYPE_CHANGED",)
NONE: tuple[str, ...] = ()

CASES = [
    # --- types -----------------------------------------------------------------------------
    Case("integer widened to number", NUM, INT, NONE, TNARROW, swapped_witness=1.5, path=None),
    Case("string to integer", INT, STR, TCHANGE, TCHANGE, "x", 1, "/type"),
    Case("null added to the type", {"type": ["string", "null"]}, STR, NONE, TNARROW, swapped_witness=None),
    Case("type added to an untyped schema", STR, {}, TNARROW, NONE, 1, path="/type"),
    Case(
        "enum without type gives types",
        STR,
        {"enum": ["a", "b"]},
        NONE,
        ("ENUM_ARRAY_NARROWED",),
        swapped_witness="c",
    ),
    Case("string to boolean enum", BOOL, {"enum": [True, False]}, NONE, NONE),
    # --- enum / const ----------------------------------------------------------------------
    Case(
        "enum extended",
        {"enum": ["a", "b", "c"]},
        {"enum": ["a", "b"]},
        NONE,
        ("ENUM_ARRAY_NARROWED",),
        swapped_witness="c",
    ),
    Case(
        "enum changed",
        {"enum": ["a", "b"]},
        {"enum": ["a", "c"]},
        ("ENUM_ARRAY_CHANGED",),
        ("ENUM_ARRAY_CHANGED",),
        "c",
        "b",
        "/enum",
    ),
    Case(
        "const within enum", {"enum": [1, 2]}, {"const": 1}, NONE, ("ENUM_ARRAY_NARROWED",), swapped_witness=2
    ),
    Case("1 and 1.0 are one value", {"enum": [1.0]}, {"enum": [1]}, NONE, NONE),
    Case(
        "true is not 1",
        {"enum": [1]},
        {"enum": [True]},
        ("ENUM_ARRAY_CHANGED",),
        ("ENUM_ARRAY_CHANGED",),
        True,
        1,
    ),
    # --- numbers ---------------------------------------------------------------------------
    Case("maximum added", {**NUM, "maximum": 10}, NUM, ("MAXIMUM_ADDED",), NONE, 11, path="/maximum"),
    Case(
        "maximum decreased", {**NUM, "maximum": 10}, {**NUM, "maximum": 20}, ("MAXIMUM_DECREASED",), NONE, 15
    ),
    Case("minimum added", {**NUM, "minimum": 0}, NUM, ("MINIMUM_ADDED",), NONE, -1),
    Case("minimum increased", {**NUM, "minimum": 5}, {**NUM, "minimum": 0}, ("MINIMUM_INCREASED",), NONE, 1),
    Case(
        "exclusiveMaximum added", {**NUM, "exclusiveMaximum": 10}, NUM, ("EXCLUSIVE_MAXIMUM_ADDED",), NONE, 10
    ),
    Case(
        "exclusiveMaximum decreased",
        {**NUM, "exclusiveMaximum": 10},
        {**NUM, "exclusiveMaximum": 20},
        ("EXCLUSIVE_MAXIMUM_DECREASED",),
        NONE,
        15,
    ),
    Case(
        "exclusiveMinimum added", {**NUM, "exclusiveMinimum": 0}, NUM, ("EXCLUSIVE_MINIMUM_ADDED",), NONE, 0
    ),
    Case(
        "exclusiveMinimum increased",
        {**NUM, "exclusiveMinimum": 5},
        {**NUM, "exclusiveMinimum": 0},
        ("EXCLUSIVE_MINIMUM_INCREASED",),
        NONE,
        3,
    ),
    Case(
        "maximum made exclusive",
        {**NUM, "exclusiveMaximum": 10},
        {**NUM, "maximum": 10},
        ("EXCLUSIVE_MAXIMUM_DECREASED",),
        NONE,
        10,
    ),
    Case(
        "exclusive minimum made inclusive",
        {**NUM, "minimum": 10},
        {**NUM, "exclusiveMinimum": 10},
        NONE,
        ("EXCLUSIVE_MINIMUM_INCREASED",),
        swapped_witness=10,
    ),
    Case(
        "enum inside new bounds",
        {**NUM, "maximum": 10},
        {"enum": [1, 5]},
        NONE,
        ("ENUM_ARRAY_NARROWED",),
        swapped_witness=7,
    ),
    Case(
        "multipleOf reduced",
        {**NUM, "multipleOf": 5},
        {**NUM, "multipleOf": 10},
        NONE,
        ("MULTIPLE_OF_EXPANDED",),
        swapped_witness=5,
    ),
    Case(
        "multipleOf changed",
        {**NUM, "multipleOf": 2},
        {**NUM, "multipleOf": 3},
        ("MULTIPLE_OF_CHANGED",),
        ("MULTIPLE_OF_CHANGED",),
        3,
        2,
    ),
    Case("multipleOf added", {**NUM, "multipleOf": 0.5}, NUM, ("MULTIPLE_OF_ADDED",), NONE, 0.25),
    Case(
        "multipleOf of decimals",
        {**NUM, "multipleOf": 0.1},
        {**NUM, "multipleOf": 0.3},
        NONE,
        ("MULTIPLE_OF_EXPANDED",),
        swapped_witness=0.5,
    ),
    Case("multipleOf 1 reads integers", {**NUM, "multipleOf": 1}, INT, NONE, NONE),
    Case("multipleOf 1 is not read by integers", INT, {**NUM, "multipleOf": 0.5}, TNARROW, NONE, 0.5),
    # --- strings ---------------------------------------------------------------------------
    Case("maxLength added", {**STR, "maxLength": 3}, STR, ("MAX_LENGTH_ADDED",), NONE, "abcd"),
    Case(
        "maxLength decreased",
        {**STR, "maxLength": 3},
        {**STR, "maxLength": 5},
        ("MAX_LENGTH_DECREASED",),
        NONE,
        "abcd",
    ),
    Case("minLength added", {**STR, "minLength": 1}, STR, ("MIN_LENGTH_ADDED",), NONE, ""),
    Case(
        "minLength increased",
        {**STR, "minLength": 3},
        {**STR, "minLength": 1},
        ("MIN_LENGTH_INCREASED",),
        NONE,
        "ab",
    ),
    Case("minLength 0 is no bound", {**STR, "minLength": 0}, STR, NONE, NONE),
    Case("pattern added", {**STR, "pattern": "^a"}, STR, ("PATTERN_ADDED",), NONE, "b", path="/pattern"),
    Case(
        "pattern changed",
        {**STR, "pattern": "^a"},
        {**STR, "pattern": "^b"},
        ("PATTERN_CHANGED",),
        ("PATTERN_CHANGED",),
        "b",
        "a",
    ),
    Case(
        "enum matching the new pattern",
        {**STR, "pattern": "^[a-z]+$"},
        {"enum": ["ab", "cd"]},
        NONE,
        ("ENUM_ARRAY_NARROWED",),
        swapped_witness="x",
    ),
    Case(
        "string bounds do not apply to integers",
        {"type": ["integer", "string"], "maxLength": 2},
        INT,
        NONE,
        TNARROW,
        swapped_witness="ab",
    ),
    # --- arrays ----------------------------------------------------------------------------
    Case(
        "items recurse",
        {"type": "array", "items": NUM},
        {"type": "array", "items": INT},
        NONE,
        TNARROW,
        swapped_witness=[1.5],
    ),
    Case(
        "maxItems added",
        {"type": "array", "maxItems": 2},
        {"type": "array"},
        ("MAX_ITEMS_ADDED",),
        NONE,
        [1, 2, 3],
    ),
    Case(
        "maxItems decreased",
        {"type": "array", "maxItems": 2},
        {"type": "array", "maxItems": 4},
        ("MAX_ITEMS_DECREASED",),
        NONE,
        [1, 2, 3],
    ),
    Case(
        "minItems added", {"type": "array", "minItems": 1}, {"type": "array"}, ("MIN_ITEMS_ADDED",), NONE, []
    ),
    Case(
        "minItems increased",
        {"type": "array", "minItems": 2},
        {"type": "array", "minItems": 1},
        ("MIN_ITEMS_INCREASED",),
        NONE,
        [1],
    ),
    Case(
        "uniqueItems added",
        {"type": "array", "uniqueItems": True},
        {"type": "array"},
        ("UNIQUE_ITEMS_ADDED",),
        NONE,
        [1, 1],
    ),
    Case(
        "tuple item added to open tuple",
        {"type": "array", "items": [STR, INT]},
        {"type": "array", "items": [STR]},
        ("ITEM_ADDED_TO_OPEN_CONTENT_MODEL",),
        NONE,
        ["a", "b"],
        path="/items/1",
    ),
    Case(
        "tuple item with empty schema added",
        {"type": "array", "items": [STR, {}]},
        {"type": "array", "items": [STR]},
        NONE,
        NONE,
    ),
    Case(
        "tuple item removed from closed tuple",
        {"type": "array", "items": [STR], "additionalItems": False},
        {"type": "array", "items": [STR, INT]},
        ("ADDITIONAL_ITEMS_REMOVED", "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL"),
        NONE,
        ["a", 1],
    ),
    Case(
        "tuple item added, covered by the rest (2020-12)",
        {"$schema": D2020, "type": "array", "prefixItems": [STR, INT], "items": INT},
        {"$schema": D2020, "type": "array", "prefixItems": [STR], "items": INT},
        NONE,
        NONE,
    ),
    Case(
        "tuple item added, not covered by the rest (2020-12)",
        {"$schema": D2020, "type": "array", "prefixItems": [STR, STR]},
        {"$schema": D2020, "type": "array", "prefixItems": [STR], "items": INT},
        ("ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",),
        ("ADDITIONAL_ITEMS_NARROWED", "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
        ["a", 1],
        ["a", "b"],
    ),
    # --- objects: properties and content models ----------------------------------------------
    Case(
        "property added to open model",
        obj(a=STR, b=STR),
        obj(a=STR),
        ("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",),
        NONE,
        {"b": 1},
        path="/properties/b",
    ),
    Case("property with empty schema added to open model", obj(a=STR, b={}), obj(a=STR), NONE, NONE),
    Case(
        "property added to closed model",
        obj(True, a=STR, b=STR),
        obj(True, a=STR),
        NONE,
        ("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",),
        swapped_witness={"b": "x"},
    ),
    Case(
        "property added, covered by additionalProperties",
        {**obj(a=STR, b=STR), "additionalProperties": STR},
        {**obj(a=STR), "additionalProperties": STR},
        NONE,
        NONE,
    ),
    Case(
        "property added, not covered by additionalProperties",
        {**obj(a=STR, b=INT), "additionalProperties": STR},
        {**obj(a=STR), "additionalProperties": STR},
        ("PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",),
        ("PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",),
        {"b": "x"},
        {"b": 1},
    ),
    Case(
        "property under patternProperties gets both schemas",
        {**obj(True, x_a=INT), "patternProperties": {"^x_": NUM}},
        {**obj(True), "patternProperties": {"^x_": NUM}},
        ("PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",),
        NONE,
        {"x_a": 1.5},
    ),
    Case(
        "property removed, covered by patternProperties",
        {**obj(True), "patternProperties": {"^x_": INT}},
        {**obj(True, x_a=NUM), "patternProperties": {"^x_": INT}},
        NONE,
        NONE,
    ),
    Case(
        "required added",
        obj(required=("a",), a=STR),
        obj(a=STR),
        ("REQUIRED_ATTRIBUTE_ADDED",),
        NONE,
        {},
        path="/required/0",
    ),
    Case(
        "required property added to open model",
        obj(required=("b",), a=STR, b=STR),
        obj(a=STR),
        ("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", "REQUIRED_ATTRIBUTE_ADDED"),
        NONE,
        {},
    ),
    Case(
        "required property added to closed model",
        obj(True, ("b",), a=STR, b=STR),
        obj(True, a=STR),
        ("REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",),
        ("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",),
        {"a": "x"},
        {"b": "x"},
    ),
    Case(
        "required property with a default added (Confluent accepts it)",
        obj(True, ("b",), a=STR, b={**STR, "default": ""}),
        obj(True, a=STR),
        NONE,
        ("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",),
        swapped_witness={"b": "x"},
    ),
    Case(
        "additionalProperties removed",
        obj(True, a=STR),
        obj(a=STR),
        ("ADDITIONAL_PROPERTIES_REMOVED",),
        NONE,
        {"z": 1},
        path="/additionalProperties",
    ),
    Case(
        "additionalProperties narrowed",
        {"type": "object", "additionalProperties": STR},
        {"type": "object"},
        ("ADDITIONAL_PROPERTIES_NARROWED",),
        NONE,
        {"z": 1},
    ),
    Case(
        "additionalProperties schemas recurse",
        {"type": "object", "additionalProperties": INT},
        {"type": "object", "additionalProperties": NUM},
        TNARROW,
        NONE,
        {"z": 1.5},
        path="/additionalProperties/type",
    ),
    Case(
        "maxProperties added",
        {"type": "object", "maxProperties": 1},
        {"type": "object"},
        ("MAX_PROPERTIES_ADDED",),
        NONE,
        {"a": 1, "b": 2},
    ),
    Case(
        "minProperties increased",
        {"type": "object", "minProperties": 2},
        {"type": "object", "minProperties": 1},
        ("MIN_PROPERTIES_INCREASED",),
        NONE,
        {"a": 1},
    ),
    Case(
        "dependency array added (draft 7)",
        {**obj(), "dependencies": {"a": ["b"]}},
        obj(),
        ("DEPENDENCY_ARRAY_ADDED",),
        NONE,
        {"a": 1},
    ),
    Case(
        "dependentRequired extended (2019-09)",
        {"$schema": D2019, **obj(), "dependentRequired": {"a": ["b", "c"]}},
        {"$schema": D2019, **obj(), "dependentRequired": {"a": ["b"]}},
        ("DEPENDENCY_ARRAY_EXTENDED",),
        NONE,
        {"a": 1, "b": 1},
    ),
    Case(
        "maxProperties decreased",
        {"type": "object", "maxProperties": 1},
        {"type": "object", "maxProperties": 2},
        ("MAX_PROPERTIES_DECREASED",),
        NONE,
        {"a": 1, "b": 2},
    ),
    Case(
        "minProperties added",
        {"type": "object", "minProperties": 1},
        {"type": "object"},
        ("MIN_PROPERTIES_ADDED",),
        NONE,
        {},
    ),
    Case(
        "dependency array changed",
        {**obj(), "dependencies": {"a": ["c"]}},
        {**obj(), "dependencies": {"a": ["b"]}},
        ("DEPENDENCY_ARRAY_CHANGED",),
        ("DEPENDENCY_ARRAY_CHANGED",),
        {"a": 1, "b": 1},
        {"a": 1, "c": 1},
    ),
    Case(
        "dependency covered by required",
        {**obj(required=("b",)), "dependencies": {"a": ["b"]}},
        obj(required=("b",)),
        NONE,
        NONE,
    ),
    Case(
        "dependency schemas recurse",
        {"$schema": D2019, **obj(), "dependentSchemas": {"a": obj(b=INT)}},
        {"$schema": D2019, **obj(), "dependentSchemas": {"a": obj(b=NUM)}},
        TNARROW,
        NONE,
        {"a": 1, "b": 1.5},
        path="/dependentSchemas/a/properties/b/type",
    ),
    Case(
        "multipleOf added over integers",
        {**INT, "multipleOf": 2},
        INT,
        ("MULTIPLE_OF_EXPANDED",),
        NONE,
        3,
    ),
    Case(
        "dependency schema added",
        {**obj(), "dependencies": {"a": obj(required=("b",))}},
        obj(),
        ("DEPENDENCY_SCHEMA_ADDED",),
        NONE,
        {"a": 1},
    ),
    # --- nesting -----------------------------------------------------------------------------
    Case(
        "nested property type changed",
        obj(address=obj(zip=INT)),
        obj(address=obj(zip=STR)),
        TCHANGE,
        TCHANGE,
        {"address": {"zip": "x"}},
        {"address": {"zip": 1}},
        "/properties/address/properties/zip/type",
    ),
    Case(
        "property of array items",
        obj(tags={"type": "array", "items": obj(n=INT)}),
        obj(tags={"type": "array", "items": obj(n=NUM)}),
        TNARROW,
        NONE,
        {"tags": [{"n": 1.5}]},
        path="/properties/tags/items/properties/n/type",
    ),
    # --- oneOf / anyOf / allOf / not ----------------------------------------------------------
    Case(
        "sum type extended", {"oneOf": [STR, NULL]}, STR, NONE, ("SUM_TYPE_NARROWED",), swapped_witness=None
    ),
    Case(
        "oneOf branch removed",
        {"oneOf": [STR]},
        {"oneOf": [STR, NULL]},
        ("SUM_TYPE_NARROWED",),
        NONE,
        None,
        path="/oneOf",
    ),
    Case("branches reordered", {"oneOf": [NULL, STR]}, {"oneOf": [STR, NULL]}, NONE, NONE),
    Case(
        "anyOf branch replaced",
        {"anyOf": [STR, INT]},
        {"anyOf": [STR, BOOL]},
        ("COMBINED_TYPE_SUBSCHEMAS_CHANGED",),
        ("COMBINED_TYPE_SUBSCHEMAS_CHANGED",),
        True,
        1,
    ),
    Case(
        "oneOf read as anyOf",
        {"anyOf": [NUM, INT]},
        {"oneOf": [NUM, INT]},
        NONE,
        ("COMBINED_TYPE_CHANGED",),
        swapped_witness=1,
    ),
    Case(
        "change inside a branch",
        {"oneOf": [NULL, obj(a=INT)]},
        {"oneOf": [NULL, obj(a=NUM)]},
        TNARROW,
        NONE,
        {"a": 1.5},
        path="/oneOf/1/properties/a/type",
    ),
    Case(
        "no branch reads the writer",
        {"oneOf": [STR, NULL]},
        INT,
        ("COMBINED_TYPE_SUBSCHEMAS_CHANGED",),
        ("SUM_TYPE_NARROWED",),
        1,
        "x",
    ),
    Case(
        "allOf is flattened",
        {"allOf": [{"$ref": "#/definitions/base"}, obj(b=INT)], "definitions": {"base": obj(a=STR)}},
        obj(a=STR, b=INT),
        NONE,
        NONE,
    ),
    Case(
        "allOf member changed",
        {"allOf": [obj(a=STR), obj(b=INT)]},
        {"allOf": [obj(a=STR), obj(b=NUM)]},
        TNARROW,
        NONE,
        {"b": 1.5},
        path="/properties/b/type",
    ),
    Case("not added", {**STR, "not": {"enum": ["x"]}}, STR, ("NOT_TYPE_EXTENDED",), NONE, "x", path="/not"),
    Case(
        "not narrowed",
        {**STR, "not": {"enum": ["x"]}},
        {**STR, "not": {"enum": ["x", "y"]}},
        NONE,
        ("NOT_TYPE_EXTENDED",),
        swapped_witness="y",
    ),
    # --- boolean schemas -------------------------------------------------------------------------
    Case("false reads nothing", False, STR, TNARROW, NONE, "x"),
    Case(
        "true reads everything",
        True,
        obj(a=STR),
        NONE,
        ("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", "TYPE_NARROWED"),
        swapped_witness=1,
    ),
    # --- references ----------------------------------------------------------------------------
    Case(
        "local $ref to definitions",
        {**obj(a={"$ref": "#/definitions/s"}), "definitions": {"s": STR}},
        obj(a=INT),
        TCHANGE,
        TCHANGE,
        {"a": 1},
        {"a": "x"},
        "/properties/a/type",
    ),
    Case(
        "keywords beside $ref apply from 2019-09",
        {"$schema": D2020, **obj(a={"$ref": "#/$defs/s", "maxLength": 2}), "$defs": {"s": STR}},
        {"$schema": D2020, **obj(a=STR)},
        ("MAX_LENGTH_ADDED",),
        NONE,
        {"a": "abc"},
    ),
    Case(
        "keywords beside $ref are ignored in draft 7",
        {**obj(a={"$ref": "#/definitions/s", "maxLength": 2}), "definitions": {"s": STR}},
        obj(a=STR),
        NONE,
        NONE,
    ),
    Case(
        "$anchor reference (2020-12)",
        {"$schema": D2020, **obj(a={"$ref": "#num"}), "$defs": {"n": {"$anchor": "num", **INT}}},
        {"$schema": D2020, **obj(a=NUM)},
        TNARROW,
        NONE,
        {"a": 1.5},
    ),
    Case(
        "recursive tree",
        obj(v=NUM, kids={"type": "array", "items": {"$ref": "#"}}),
        obj(v=INT, kids={"type": "array", "items": {"$ref": "#"}}),
        NONE,
        TNARROW,
        swapped_witness={"kids": [{"v": 1.5}]},
    ),
    Case(
        "$recursiveRef (2019-09)",
        {
            "$schema": D2019,
            "$recursiveAnchor": True,
            **obj(v=NUM, kids={"type": "array", "items": {"$recursiveRef": "#"}}),
        },
        {
            "$schema": D2019,
            "$recursiveAnchor": True,
            **obj(v=NUM, kids={"type": "array", "items": {"$recursiveRef": "#"}, "maxItems": 2}),
        },
        NONE,
        ("MAX_ITEMS_ADDED",),
        swapped_witness={"kids": [{}, {}, {}]},
    ),
    Case(
        "recursion through keywords beside $ref (2020-12)",
        {
            "$schema": D2020,
            "$ref": "#/$defs/node",
            "type": "object",
            "$defs": {"node": obj(next={"$ref": "#"}, v=NUM)},
        },
        {
            "$schema": D2020,
            "$ref": "#/$defs/node",
            "type": "object",
            "$defs": {"node": obj(next={"$ref": "#"}, v=INT)},
        },
        NONE,
        TNARROW,
        swapped_witness={"next": {"next": {"v": 1.5}}},
    ),
    Case(
        "mutually recursive definitions",
        {
            "$ref": "#/definitions/a",
            "definitions": {
                "a": obj(b={"$ref": "#/definitions/b"}),
                "b": obj(a={"$ref": "#/definitions/a"}, n=NUM),
            },
        },
        {
            "$ref": "#/definitions/a",
            "definitions": {
                "a": obj(b={"$ref": "#/definitions/b"}),
                "b": obj(a={"$ref": "#/definitions/a"}, n=INT),
            },
        },
        NONE,
        TNARROW,
        swapped_witness={"b": {"a": {"b": {"n": 1.5}}}},
    ),
]


def _ids(cases: list[Case]) -> list[str]:
    return [c.name for c in cases]


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_rule(case):
    found = js.can_read(parsed(case.reader), parsed(case.writer))
    assert sorted(i.kind for i in found) == sorted(case.kinds)
    if case.path is not None:
        assert found[0].path == case.path


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_rule_swapped(case):
    assert kinds(case.writer, case.reader) == sorted(case.swapped)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_each_schema_reads_itself(case):
    assert kinds(case.reader, case.reader) == []
    assert kinds(case.writer, case.writer) == []


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.witness is not _ABSENT or c.swapped_witness is not _ABSENT]
)
def test_witness_proves_the_incompatibility(case):
    """Reported means: a document exists that the writer accepts and the reader rejects."""
    if case.witness is not _ABSENT:
        assert case.kinds, "a witness for a compatible direction"
        assert valid(case.writer, case.witness) and not valid(case.reader, case.witness)
    if case.swapped_witness is not _ABSENT:
        assert case.swapped, "a witness for a compatible direction"
        assert valid(case.reader, case.swapped_witness) and not valid(case.writer, case.swapped_witness)


SAMPLES = [
    None, True, False, 0, 1, -1, 0.5, 1.5, 3, 5, 7, 10, 11, 15, 20, "", "a", "ab", "abc", "b", "x", "y",
    [], [1], [1, 1], [1, 2, 3], ["a"], ["a", 1], ["a", "b"], ["a", 1, 2], [1.5],
    {}, {"a": "x"}, {"a": 1}, {"a": 1.5}, {"b": "x"}, {"b": 1}, {"b": 1.5}, {"z": 1}, {"a": "x", "b": 2},
    {"x_a": 1}, {"x_a": 1.5}, {"v": 1, "kids": [{"v": 2}]}, {"address": {"zip": "1"}}, {"tags": [{"n": 2}]},
]  # fmt: skip
SAMPLES += [c.witness for c in CASES if c.witness is not _ABSENT]
SAMPLES += [c.swapped_witness for c in CASES if c.swapped_witness is not _ABSENT]
# Compatible by Confluent's rule, not by validation: a reader fills the default in.
CONFLUENT_LENIENT = {"required property with a default added (Confluent accepts it)"}


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_compatible_direction_holds_on_samples(case):
    """Not reported means: no sample the writer accepts is rejected by the reader."""
    for reader, writer, found in (
        (case.reader, case.writer, case.kinds),
        (case.writer, case.reader, case.swapped),
    ):
        if found or case.name in CONFLUENT_LENIENT:
            continue
        broken = [doc for doc in SAMPLES if valid(writer, doc) and not valid(reader, doc)]
        assert broken == [], (reader, writer)


def test_every_incompatible_direction_has_a_witness_or_is_confluent_policy():
    """Only conservative Confluent rules may lack a document proving them."""
    policy = {"PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", "REQUIRED_ATTRIBUTE_ADDED"}
    for case in CASES:
        for found, witness in ((case.kinds, case.witness), (case.swapped, case.swapped_witness)):
            if found and witness is _ABSENT:
                assert set(found) <= policy, case.name


# --- messages and paths -------------------------------------------------------------------------


def test_message_names_the_property_and_the_rule():
    (found,) = js.can_read(parsed(obj(required=("email",), email=STR)), parsed(obj(email=STR)))
    assert found.kind == "REQUIRED_ATTRIBUTE_ADDED"
    assert (
        "property 'email' is required by the reading schema but optional in the writing schema"
        in found.message
    )
    assert "may lack it" in found.message
    assert found.describe().startswith("REQUIRED_ATTRIBUTE_ADDED at /required/0: ")


def test_message_locates_nested_changes():
    found = js.can_read(parsed(obj(address=obj(zip=INT))), parsed(obj(address=obj(zip=STR))))
    assert found[0].message.startswith("at 'address.zip': type changed from 'string' to 'integer'")
    nested = obj(customer=obj(required=("email",), email=STR))
    (required,) = js.can_read(parsed(nested), parsed(obj(customer=obj(email=STR))))
    assert required.path == "/properties/customer/required/0"
    assert required.message.startswith("at 'customer': property 'email' is required")


def test_location_labels():
    assert location("/properties/a/items/properties/b/type") == "a[].b"
    assert location("/properties/t/items/2/maximum") == "t[2]"
    assert location("/oneOf/1/properties/a") == "a"
    assert location("/properties/m/additionalProperties/type") == "m.*"
    assert location("/properties/c/properties/x", member=True) == "c"
    assert location("/properties/a~1b") == "a/b"


def test_one_reason_per_place():
    """Two writer branches failing the same way are one finding."""
    found = js.can_read(parsed(INT), parsed({"oneOf": [STR, NULL]}))
    assert [(i.kind, i.path) for i in found] == [("SUM_TYPE_NARROWED", "")]


# --- references ---------------------------------------------------------------------------------


CUSTOMER_V1 = obj(id=STR)
CUSTOMER_V2 = obj(id=INT)


def test_schema_references_are_followed():
    reader = parsed(obj(c={"$ref": "customer.json"}), {"customer.json": CUSTOMER_V2})
    writer = parsed(obj(c={"$ref": "customer.json"}), {"customer.json": CUSTOMER_V1})
    found = js.can_read(reader, writer)
    assert [(i.kind, i.path) for i in found] == [("TYPE_CHANGED", "/properties/c/properties/id/type")]
    assert "at 'c.id'" in found[0].message
    assert js.can_read(writer, writer) == []


def test_reference_resolved_against_the_id():
    main = {
        "$id": "https://example.com/schemas/order.json",
        **obj(c={"$ref": "customer.json#/properties/id"}),
    }
    refs = {"https://example.com/schemas/customer.json": CUSTOMER_V2}
    assert kinds(main, obj(c=NUM), refs) == ["TYPE_NARROWED"]


def test_reference_with_its_own_local_refs():
    customer = {**obj(id={"$ref": "#/definitions/key"}), "definitions": {"key": INT}}
    assert kinds(obj(c={"$ref": "c.json"}), obj(c=obj(id=STR)), {"c.json": customer}) == ["TYPE_CHANGED"]


def test_parsed_without_graph_is_reparsed():
    plain = Parsed("JSON", {"type": "string"}, '{"type": "string"}')
    assert [i.kind for i in js.can_read(plain, parsed(INT))] == ["TYPE_CHANGED"]


# --- parse --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "references", "fragments"),
    [
        ("{", {}, ["is not JSON", "line 1 column 2"]),
        ('{"type": "string",}', {}, ["is not JSON"]),
        ('{"maximum": NaN}', {}, ["is not JSON", "NaN"]),
        ('{"type": "strin"}', {}, ["not a valid JSON Schema", "'strin' is not valid", "at /type"]),
        ('{"minimum": "x"}', {}, ["'x' is not of type 'number'", "at /minimum"]),
        ('{"properties": {"a": {"type": 5}}}', {}, ["at /properties/a/type"]),
        ('{"pattern": "("}', {}, ["is not a 'regex'", "at /pattern"]),
        ("[1]", {}, ["not a valid JSON Schema", "at /"]),
        (json.dumps({"$schema": D2020, "items": [STR]}), {}, ["at /items"]),
        ('{"$schema": "http://json-schema.org/draft-04/schema#"}', {}, ["unsupported $schema", "draft-04"]),
        (
            '{"properties": {"a": {"$ref": "#/definitions/x"}}}',
            {},
            ["unresolved $ref '#/definitions/x'", "at /properties/a"],
        ),
        (
            '{"$ref": "other.json"}',
            {},
            ["unresolved $ref 'other.json'", "no schema reference named 'other.json'"],
        ),
        ('{"$ref": "#nowhere"}', {}, ["unresolved $ref '#nowhere'"]),
        (
            '{"$ref": "c.json"}',
            {"c.json": '{"$ref": "#/x"}'},
            ["unresolved $ref '#/x'", "of reference 'c.json'"],
        ),
        (
            '{"$ref": "c.json"}',
            {"c.json": '{"type": "strin"}'},
            ["reference 'c.json' is not a valid JSON Schema"],
        ),
        ('{"$ref": "#"}', {}, ["reference loop"]),
    ],
)
def test_parse_rejects(text, references, fragments):
    with pytest.raises(InvalidSchema) as caught:
        js.parse(text, references)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_too_deep_a_schema_is_invalid_not_a_crash():
    schema: dict[str, Any] = INT
    for _ in range(400):
        schema = obj(x=schema)
    with pytest.raises(InvalidSchema, match="nests too deeply"):
        parsed(schema)


def test_references_chained_too_deep_to_compare_are_refused():
    def deep(leaf: Any) -> str:
        for _ in range(120):
            leaf = obj(x=leaf)
        return json.dumps(leaf)

    def chain(leaf: Any) -> dict[str, str]:
        return {"a": deep({"$ref": "b"}), "b": deep({"$ref": "c"}), "c": deep(leaf)}

    one, two = js.parse('{"$ref": "a"}', chain(NUM)), js.parse('{"$ref": "a"}', chain(INT))
    assert [i.kind for i in js.can_read(one, two)] == ["NESTING_TOO_DEEP"]


def test_draft_is_chosen_by_schema_keyword():
    assert js.parse('{"type": "string"}').draft == "http://json-schema.org/draft-07/schema#"
    assert js.parse(json.dumps({"$schema": D2019})).draft == D2019
    tuple_items = {"items": [STR]}
    js.parse(json.dumps(tuple_items))  # draft 7: a tuple
    with pytest.raises(InvalidSchema):
        js.parse(json.dumps({"$schema": D2020, **tuple_items}))
    assert js.parse(json.dumps({"$schema": "http://json-schema.org/draft-07/schema"})).draft.endswith("#")


def test_parsed_keeps_text_and_value():
    text = '{"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#"}}}}'
    schema = js.parse(text)
    assert (schema.schema_type, schema.text, schema.value) == ("JSON", text, json.loads(text))
    assert schema.value["properties"]["kids"]["items"] == {"$ref": "#"}  # the value stays plain JSON
    assert schema == js.parse(text)  # comparing parsed schemas does not walk the cyclic graph


# --- canonical ----------------------------------------------------------------------------------


def test_canonical_ignores_whitespace_and_key_order():
    one = js.parse('{ "type": "object",\n  "properties": {"b": {"type": "string"}, "a": {}} }')
    two = js.parse('{"properties":{"a":{},"b":{"type":"string"}},"type":"object"}')
    assert (
        js.canonical(one)
        == js.canonical(two)
        == '{"properties":{"a":{},"b":{"type":"string"}},"type":"object"}'
    )


def test_canonical_keeps_array_order_and_text():
    assert js.canonical(js.parse('{"enum": ["b", "a"]}')) != js.canonical(js.parse('{"enum": ["a", "b"]}'))
    assert js.canonical(js.parse('{"const": "é"}')) == '{"const":"é"}'


# --- performance --------------------------------------------------------------------------------


def _wide(n: int, changed: dict[str, Any] | None = None) -> dict[str, Any]:
    types = ["string", "integer", "number", "boolean"]
    props = {f"p{i}": {"type": types[i % 4], **({"maxLength": 50} if i % 4 == 0 else {})} for i in range(n)}
    props.update(changed or {})
    return obj(True, tuple(f"p{i}" for i in range(0, n, 3)), **props)


def test_two_200_property_schemas_report_exactly_the_changed_properties():
    reader, writer = parsed(_wide(200, {"p1": STR, "p2": INT})), parsed(_wide(200))
    found = js.can_read(reader, writer)
    assert [(i.kind, i.path) for i in found] == [
        ("TYPE_CHANGED", "/properties/p1/type"),
        ("TYPE_NARROWED", "/properties/p2/type"),
    ]
