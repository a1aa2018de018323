"""Avro schemas in the registry: parse errors, identity (canonical form), and schema resolution.

The resolution matrix gives each change as (old, new) and the incompatibilities
expected both ways: BACKWARD is ``can_read(new, old)``, FORWARD ``can_read(old, new)``.
Every direction expected compatible is also checked with real data: a value written
by fastavro with the writer schema must be read back with the reader schema.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import fastavro
import pytest

from daap.mesh.registry import avro
from daap.mesh.registry._types import InvalidSchema, Parsed

RFMD = "READER_FIELD_MISSING_DEFAULT_VALUE"
TYPE = "TYPE_MISMATCH"
NAME = "NAME_MISMATCH"
SIZE = "FIXED_SIZE_MISMATCH"
ENUM = "MISSING_ENUM_SYMBOLS"
UNION = "MISSING_UNION_BRANCH"
AT_X = "/fields/0/type"  # the type of the only field of one()


def rec(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": list(fields), **extra}


def fld(name: str, type_: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


def one(type_: Any, **extra: Any) -> dict[str, Any]:
    """A record shop.Order with the single field ``x`` of ``type_``."""
    return rec("Order", fld("x", type_, **extra), namespace="shop")


def enum(symbols: list[str], name: str = "Status", **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": name, "symbols": symbols, **extra}


def fixed(size: int, name: str = "Hash", **extra: Any) -> dict[str, Any]:
    return {"type": "fixed", "name": name, "size": size, **extra}


def dec(precision: int, scale: int = 0) -> dict[str, Any]:
    return {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}


def p(schema: Any, references: dict[str, Any] | None = None) -> Parsed:
    refs = {k: json.dumps(v) for k, v in (references or {}).items()}
    return avro.parse(json.dumps(schema), refs)


ID = fld("id", "long")
ADDRESS = rec("Address", fld("street", "string"))
ADDRESS_ZIP = rec("Address", fld("street", "string"), fld("zip", "string"))
LONG_LIST = rec("LongList", fld("value", "int"), fld("next", ["null", "LongList"], default=None))

# (id, old, new, BACKWARD: can_read(new, old), FORWARD: can_read(old, new)); each a list of (kind, path)
MATRIX: list[tuple[str, Any, Any, list[tuple[str, str]], list[tuple[str, str]]]] = [
    # -- fields added and removed
    ("add field with default", rec("R", ID), rec("R", ID, fld("n", "int", default=0)), [], []),
    ("add field without default", rec("R", ID), rec("R", ID, fld("n", "int")), [(RFMD, "/fields/1")], []),
    ("remove field with default", rec("R", ID, fld("n", "int", default=0)), rec("R", ID), [], []),
    ("remove field without default", rec("R", ID, fld("n", "int")), rec("R", ID), [], [(RFMD, "/fields/1")]),
    ("reorder fields", rec("R", ID, fld("n", "int")), rec("R", fld("n", "int"), ID), [], []),
    (
        "all problems, in reader order",
        rec("R", ID),
        rec("R", fld("a", "int"), fld("id", "string"), fld("b", "int")),
        [(RFMD, "/fields/0"), (TYPE, "/fields/1/type"), (RFMD, "/fields/2")],
        [(TYPE, AT_X)],
    ),
    # -- promotions, and their reverse refused
    ("int to long", one("int"), one("long"), [], [(TYPE, AT_X)]),
    ("int to float", one("int"), one("float"), [], [(TYPE, AT_X)]),
    ("int to double", one("int"), one("double"), [], [(TYPE, AT_X)]),
    ("long to float", one("long"), one("float"), [], [(TYPE, AT_X)]),
    ("long to double", one("long"), one("double"), [], [(TYPE, AT_X)]),
    ("float to double", one("float"), one("double"), [], [(TYPE, AT_X)]),
    ("string to bytes", one("string"), one("bytes"), [], []),
    ("bytes to string", one("bytes"), one("string"), [], []),
    ("string to int", one("string"), one("int"), [(TYPE, AT_X)], [(TYPE, AT_X)]),
    ("boolean to int", one("boolean"), one("int"), [(TYPE, AT_X)], [(TYPE, AT_X)]),
    ("top-level int to long", "int", "long", [], [(TYPE, "")]),
    ("top-level string to record", "string", rec("R", ID), [(TYPE, "")], [(TYPE, "")]),
    # -- enums
    ("enum symbol added", one(enum(["A", "B"])), one(enum(["A", "B", "C"])), [], [(ENUM, f"{AT_X}/symbols")]),
    (
        "enum symbol removed",
        one(enum(["A", "B", "C"])),
        one(enum(["A", "B"])),
        [(ENUM, f"{AT_X}/symbols")],
        [],
    ),
    (
        "enum symbol added, both with default",
        one(enum(["A", "B"], default="A")),
        one(enum(["A", "B", "C"], default="A")),
        [],
        [],
    ),
    (
        "enum symbol removed, new has default",
        one(enum(["A", "B", "C"])),
        one(enum(["A", "B"], default="A")),
        [],
        [],
    ),
    (
        "enum renamed",
        one(enum(["A"])),
        one(enum(["A"], name="State")),
        [(NAME, f"{AT_X}/name")],
        [(NAME, f"{AT_X}/name")],
    ),
    (
        "enum renamed with alias",
        one(enum(["A"])),
        one(enum(["A"], name="State", aliases=["Status"])),
        [],
        [(NAME, f"{AT_X}/name")],
    ),
    # -- unions
    ("union branch added", one(["null", "string"]), one(["null", "string", "int"]), [], [(UNION, AT_X)]),
    ("union branch removed", one(["null", "string", "int"]), one(["null", "string"]), [(UNION, AT_X)], []),
    ("union reordered", one(["null", "string"]), one(["string", "null"]), [], []),
    ("made optional", one("string"), one(["null", "string"], default=None), [], [(TYPE, AT_X)]),
    ("made required", one(["null", "string"], default=None), one("string"), [(TYPE, AT_X)], []),
    ("union branch promoted", one(["null", "int"]), one(["null", "long"]), [], [(UNION, AT_X)]),
    (
        "union of other names",
        one(rec("A", ID)),
        one([rec("B", ID), rec("C", ID)]),
        [(UNION, AT_X)],
        [(NAME, f"{AT_X}/name"), (NAME, f"{AT_X}/name")],
    ),
    # -- nested records, arrays, maps
    ("nested record gains a field", one(ADDRESS), one(ADDRESS_ZIP), [(RFMD, f"{AT_X}/fields/1")], []),
    (
        "optional nested record gains a field",
        one(["null", ADDRESS], default=None),
        one(["null", ADDRESS_ZIP], default=None),
        [(RFMD, f"{AT_X}/1/fields/1")],
        [],
    ),
    (
        "array items promoted",
        one({"type": "array", "items": "int"}),
        one({"type": "array", "items": "long"}),
        [],
        [(TYPE, f"{AT_X}/items")],
    ),
    (
        "map values promoted",
        one({"type": "map", "values": "float"}),
        one({"type": "map", "values": "double"}),
        [],
        [(TYPE, f"{AT_X}/values")],
    ),
    (
        "array of records gains a field",
        one({"type": "array", "items": ADDRESS}),
        one({"type": "array", "items": ADDRESS_ZIP}),
        [(RFMD, f"{AT_X}/items/fields/1")],
        [],
    ),
    (
        "array to map",
        one({"type": "array", "items": "int"}),
        one({"type": "map", "values": "int"}),
        [(TYPE, AT_X)],
        [(TYPE, AT_X)],
    ),
    # -- fixed
    ("fixed resized", one(fixed(16)), one(fixed(32)), [(SIZE, f"{AT_X}/size")], [(SIZE, f"{AT_X}/size")]),
    (
        "fixed renamed",
        one(fixed(16)),
        one(fixed(16, name="Digest")),
        [(NAME, f"{AT_X}/name")],
        [(NAME, f"{AT_X}/name")],
    ),
    (
        "fixed renamed with alias",
        one(fixed(16)),
        one(fixed(16, name="Digest", aliases=["Hash"])),
        [],
        [(NAME, f"{AT_X}/name")],
    ),
    # -- aliases and names
    ("record renamed", rec("Order", ID), rec("Purchase", ID), [(NAME, "/name")], [(NAME, "/name")]),
    (
        "record renamed with alias",
        rec("Order", ID),
        rec("Purchase", ID, aliases=["Order"]),
        [],
        [(NAME, "/name")],
    ),
    (
        "record renamed with full-name alias",
        rec("a.Order", ID),
        rec("b.Purchase", ID, aliases=["a.Order"]),
        [],
        [(NAME, "/name")],
    ),
    ("namespace changed", rec("a.Order", ID), rec("b.Order", ID), [], []),
    (
        "field renamed",
        rec("R", fld("mail", "string")),
        rec("R", fld("email", "string")),
        [(RFMD, "/fields/0")],
        [(RFMD, "/fields/0")],
    ),
    (
        "field renamed with alias",
        rec("R", fld("mail", "string")),
        rec("R", fld("email", "string", aliases=["mail"])),
        [],
        [(RFMD, "/fields/0")],
    ),
    # -- logical types
    ("decimal precision changed", one(dec(10, 2)), one(dec(12, 2)), [(TYPE, AT_X)], [(TYPE, AT_X)]),
    ("decimal scale changed", one(dec(10, 2)), one(dec(10, 3)), [(TYPE, AT_X)], [(TYPE, AT_X)]),
    ("decimal added to bytes", one("bytes"), one(dec(10, 2)), [(TYPE, AT_X)], [(TYPE, AT_X)]),
    (
        "decimal on fixed resized precision",
        one(fixed(8, logicalType="decimal", precision=10)),
        one(fixed(8, logicalType="decimal", precision=12)),
        [(TYPE, AT_X)],
        [(TYPE, AT_X)],
    ),
    (
        "decimal scale 0 written out",
        one(dec(10)),
        one({"type": "bytes", "logicalType": "decimal", "precision": 10}),
        [],
        [],
    ),
    (
        "timestamp unit changed (only decimal is checked)",
        one({"type": "long", "logicalType": "timestamp-millis"}),
        one({"type": "long", "logicalType": "timestamp-micros"}),
        [],
        [],
    ),
    # -- recursive types
    ("recursive unchanged but doc", LONG_LIST, {**LONG_LIST, "doc": "a list"}, [], []),
    (
        "recursive gains a field with default",
        LONG_LIST,
        {**LONG_LIST, "fields": [*LONG_LIST["fields"], fld("tag", "string", default="")]},
        [],
        [],
    ),
    (
        "recursive gains a field without default",
        LONG_LIST,
        {**LONG_LIST, "fields": [*LONG_LIST["fields"], fld("tag", "string")]},
        [(RFMD, "/fields/2")],
        [],
    ),
    (
        "recursive value promoted",
        LONG_LIST,
        rec("LongList", fld("value", "long"), fld("next", ["null", "LongList"], default=None)),
        [],
        [(TYPE, "/fields/0/type")],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "backward", "forward"), [c[1:] for c in MATRIX], ids=[c[0] for c in MATRIX]
)
def test_resolution_matrix(
    old: Any, new: Any, backward: list[tuple[str, str]], forward: list[tuple[str, str]]
):
    old_p, new_p = p(old), p(new)
    assert [(i.kind, i.path) for i in avro.can_read(new_p, old_p)] == backward
    assert [(i.kind, i.path) for i in avro.can_read(old_p, new_p)] == forward
    assert avro.can_read(old_p, old_p) == [] and avro.can_read(new_p, new_p) == []


def _datum(schema: Any, named: dict[str, Any], depth: int = 0) -> Any:
    """A value of ``schema``: the last union branch (the first when deep), the last enum symbol."""
    if isinstance(schema, list):
        return _datum(schema[0] if depth > 3 else schema[-1], named, depth + 1)
    if isinstance(schema, str):
        if schema in named:
            return _datum(named[schema], named, depth + 1)
        return {"null": None, "boolean": True, "int": 1, "long": 2, "float": 1.5, "double": 2.5}.get(
            schema, b"\x01" if schema == "bytes" else "s"
        )
    kind = schema["type"]
    if schema.get("logicalType") == "decimal":
        return Decimal("1")
    if kind in ("record", "enum", "fixed"):
        named[schema["name"]] = schema
    if kind == "record":
        return {f["name"]: _datum(f["type"], named, depth + 1) for f in schema["fields"]}
    return {
        "enum": lambda: schema["symbols"][-1],
        "fixed": lambda: b"\x07" * schema["size"],
        "array": lambda: [_datum(schema["items"], named, depth + 1)],
        "map": lambda: {"k": _datum(schema["values"], named, depth + 1)},
    }.get(kind, lambda: _datum(kind, named, depth))()


@pytest.mark.parametrize(
    ("old", "new", "backward", "forward"), [c[1:] for c in MATRIX], ids=[c[0] for c in MATRIX]
)
def test_compatible_directions_read_real_data(old: Any, new: Any, backward: list[Any], forward: list[Any]):
    directions = [(new, old)] * (not backward) + [(old, new)] * (not forward)
    for reader, writer in directions:
        writer_schema = fastavro.parse_schema(p(writer).value)
        reader_schema = fastavro.parse_schema(p(reader).value)
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, writer_schema, _datum(p(writer).value, {}))
        buffer.seek(0)
        fastavro.schemaless_reader(buffer, writer_schema, reader_schema)  # raises when it cannot


def test_messages_name_the_field_and_the_rule():
    old = p(rec("shop.Customer", ID, fld("kind", enum(["A", "B"]))))
    new = p(rec("shop.Customer", ID, fld("email", "string"), fld("kind", enum(["A"]))))
    found = avro.can_read(new, old)
    assert [i.message for i in found] == [
        "reader field 'email' of record 'shop.Customer' has no default, and data written with the"
        " writer's schema lacks it: add a default or keep the field out",
        "field 'kind' of record 'shop.Customer': reader enum 'shop.Status' lacks the writer's symbols B"
        " and has no default: keep the symbols, or give the reader enum a default",
    ]
    assert found[0].describe().startswith("READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1: ")
    promoted = avro.can_read(p(one("int")), p(one("long")))
    assert "reader type int cannot read writer type long" in promoted[0].message
    assert "(a narrowing; promotions are int→long/float/double" in promoted[0].message
    assert "field 'x' of record 'shop.Order'" in promoted[0].message


def test_writer_union_branches_are_each_named():
    found = avro.can_read(p(one("string")), p(one(["null", "int", "string"])))
    assert [(i.kind, i.path) for i in found] == [(TYPE, AT_X), (TYPE, AT_X)]
    assert "writer union branch 0" in found[0].message and "writer type null" in found[0].message
    assert "writer union branch 1" in found[1].message and "writer type int" in found[1].message


def test_recursive_schemas_terminate_and_report_once():
    tree = rec("Node", fld("label", "string"), fld("children", {"type": "array", "items": "Node"}))
    renamed_label = rec("Node", fld("label", "int"), fld("children", {"type": "array", "items": "Node"}))
    found = avro.can_read(p(renamed_label), p(tree))
    assert [(i.kind, i.path) for i in found] == [(TYPE, "/fields/0/type")]


def test_mutually_recursive_types():
    a = rec("A", fld("b", ["null", rec("B", fld("a", ["null", "A"], default=None))], default=None))
    a_more = rec(
        "A",
        fld("b", ["null", rec("B", fld("a", ["null", "A"], default=None), fld("n", "int"))], default=None),
    )
    assert avro.can_read(p(a), p(a_more)) == []
    found = avro.can_read(p(a_more), p(a))
    assert [(i.kind, i.path) for i in found] == [(RFMD, "/fields/0/type/1/fields/1")]


# -- references ------------------------------------------------------------------------

MONEY = rec("Money", fld("amount", "long"), namespace="shop")
CURRENCY = enum(["EUR", "USD"], name="shop.Currency")
PRICED = rec("Money", fld("amount", "long"), fld("currency", "Currency"), namespace="shop")


def test_references_define_named_types():
    parsed = p(rec("shop.Order", fld("total", "Money")), {"shop.Money": MONEY})
    assert avro.canonical(parsed) == (
        '{"name":"shop.Order","type":"record","fields":[{"name":"total","type":'
        '{"name":"shop.Money","type":"record","fields":[{"name":"amount","type":"long"}]}}]}'
    )
    assert parsed.value["fields"][0]["type"]["name"] == "shop.Money"  # written in: self-contained


def test_references_may_use_each_other_in_any_order():
    refs = {"shop.Money": PRICED, "shop.Currency": CURRENCY}
    parsed = p(rec("shop.Order", fld("total", "Money"), fld("paid_in", "shop.Currency")), refs)
    assert parsed.value["fields"][1]["type"] == "shop.Currency"  # defined at first use, inside Money


def test_a_change_in_a_referenced_type_is_found():
    order = rec("shop.Order", fld("total", "Money"))
    old = p(order, {"shop.Money": MONEY})
    new = p(order, {"shop.Money": PRICED, "shop.Currency": CURRENCY})
    assert [(i.kind, i.path) for i in avro.can_read(new, old)] == [(RFMD, "/fields/0/type/fields/1")]
    assert avro.can_read(old, new) == []


@pytest.mark.parametrize(
    ("schema", "refs", "fragment"),
    [
        (
            rec("shop.Order", fld("total", "Money")),
            {},
            "field 'total' of record 'shop.Order': unknown type 'Money'",
        ),
        (rec("shop.Order", fld("total", "Money")), {"shop.Money": PRICED}, "reference 'shop.Money': "),
        (
            MONEY,
            {"shop.Money": MONEY},
            "record 'shop.Money' is defined twice (it comes from reference 'shop.Money')",
        ),
        ("Money", {"shop.Money": '{"type": '}, "reference 'shop.Money': invalid JSON"),
        ("int", {"shop.Bad": rec("Bad", fld("x", "int", default="no"))}, "reference 'shop.Bad': field 'x'"),
    ],
)
def test_reference_errors(schema: Any, refs: dict[str, Any], fragment: str):
    texts = {k: v if isinstance(v, str) else json.dumps(v) for k, v in refs.items()}
    with pytest.raises(InvalidSchema) as err:
        avro.parse(json.dumps(schema), texts)
    assert fragment in str(err.value)


# -- parse errors ----------------------------------------------------------------------

BAD: list[tuple[str, Any, str]] = [
    (
        "invalid JSON",
        '{"type": "record",',
        "invalid JSON: Expecting property name enclosed in double quotes at line 1",
    ),
    ("not a schema", 42, "top-level schema: 42 is not a schema"),
    ("no type", {"name": "X"}, 'a schema object needs a "type" naming a type: no "type"'),
    ("type not a string", {"type": {"type": "int"}}, '"type" {"type": "int"} is not a type name'),
    (
        "unknown type",
        one("Nope"),
        "field 'x' of record 'shop.Order': unknown type 'Nope' (looked up as 'shop.Nope')",
    ),
    ("used before defined", rec("R", fld("a", "E"), fld("b", enum(["A"], name="E"))), "unknown type 'E'"),
    ("record without name", {"type": "record", "fields": []}, 'a record needs a "name"'),
    ("bad record name", rec("1Order"), "record name '1Order' is not a valid name"),
    (
        "bad namespace",
        rec("Order", namespace="shop..x"),
        "top-level schema, record 'Order': namespace 'shop..x' is not a valid name",
    ),
    ("bad dotted name", rec("shop.9.Order"), "record name 'shop.9.Order' is not a valid name"),
    ("primitive name", rec("a.int"), "record name 'a.int' is a primitive type name"),
    ("redefined", rec("R", fld("a", rec("R"))), "field 'a' of record 'R': record 'R' is defined twice"),
    (
        "redefined enum",
        rec("R", fld("a", enum(["A"])), fld("b", enum(["B"]))),
        "enum 'Status' is defined twice",
    ),
    ("fields missing", {"type": "record", "name": "R"}, "record 'R': \"fields\" must be a list"),
    ("field not an object", rec("R", "x"), "record 'R': field 0 is not an object"),
    ("bad field name", rec("R", fld("a-b", "int")), "record 'R': field 0 name 'a-b' is not a valid name"),
    ("dotted field name", rec("R", fld("a.b", "int")), "field 0 name 'a.b' is not a valid name"),
    (
        "duplicate field",
        rec("R", fld("a", "int"), fld("a", "long")),
        "record 'R': field 'a' is defined twice",
    ),
    ("field without type", rec("R", {"name": "a"}), "field 'a' of record 'R': no \"type\""),
    ("bad order", one("int", order="up"), 'order "up" is not one of ascending, descending, ignore'),
    ("bad field aliases", one("int", aliases="y"), '"aliases" must be a list of strings'),
    ("bad type aliases", rec("R", aliases=["o-k"]), "record 'R': alias 'o-k' is not a valid name"),
    ("bad doc", rec("R", doc=3), "record 'R': \"doc\" must be a string"),
    (
        "enum without symbols",
        {"type": "enum", "name": "E"},
        "enum 'E': \"symbols\" must be a list of strings",
    ),
    ("bad symbol", enum(["A", "b c"]), "enum 'Status': symbol 'b c' is not a valid name"),
    ("duplicate symbol", enum(["A", "A"]), "enum 'Status': symbol 'A' appears twice"),
    (
        "enum default not a symbol",
        enum(["A"], default="B"),
        "enum 'Status': default \"B\" is not one of its symbols",
    ),
    (
        "fixed without size",
        {"type": "fixed", "name": "F"},
        "fixed 'F': \"size\" must be a non-negative integer, got null",
    ),
    ("fixed negative size", fixed(-1), "got -1"),
    ("fixed size a string", {"type": "fixed", "name": "F", "size": "16"}, 'got "16"'),
    ("array without items", {"type": "array"}, 'top-level schema: an array needs "items"'),
    ("map without values", one({"type": "map"}), "field 'x' of record 'shop.Order': a map needs \"values\""),
    ("nested union", ["null", ["int", "string"]], "union branch 1 is itself a union; unions may not nest"),
    ("union duplicate primitive", ["string", "null", "string"], "union branches 0 and 2 are both string"),
    (
        "union duplicate logical",
        ["int", {"type": "int", "logicalType": "date"}],
        "union branches 0 and 1 are both int",
    ),
    (
        "union duplicate array",
        [{"type": "array", "items": "int"}, {"type": "array", "items": "long"}],
        "both array",
    ),
    ("union duplicate name", [rec("a.R", ID), "a.R"], "union branches 0 and 1 are both record 'a.R'"),
    ("decimal without precision", dec(0), "decimal precision must be a positive integer, got 0"),
    ("decimal scale above precision", dec(4, 5), "decimal scale 5 is greater than its precision 4"),
    ("decimal negative scale", dec(4, -1), "decimal scale must be a non-negative integer, got -1"),
    (
        "decimal too wide for fixed",
        fixed(2, logicalType="decimal", precision=5),
        "fixed 'Hash': decimal precision 5 does not fit in 2 bytes (at most 4 digits)",
    ),
    (
        "inner error located",
        one({"type": "array", "items": ["null", {"type": "map"}]}),
        "field 'x' of record 'shop.Order', array items, union branch 1: a map needs \"values\"",
    ),
]

BAD_DEFAULTS: list[tuple[str, Any, Any, str]] = [
    ("string for long", "long", "x", 'default "x" is not a valid long'),
    ("float for int", "int", 1.5, "default 1.5 is not a valid int"),
    ("bool for int", "int", True, "default true is not a valid int"),
    ("int out of range", "int", 2**31, "default 2147483648 is not a valid int"),
    ("long out of range", "long", 2**63, "is not a valid long"),
    ("number for string", "string", 1, "default 1 is not a valid string"),
    ("wide char for bytes", "bytes", "\u0100", "is not a valid bytes"),
    ("null for boolean", "boolean", None, "default null is not a valid boolean"),
    ("string for double", "double", "1.0", 'default "1.0" is not a valid double'),
    ("unknown symbol", enum(["A"]), "B", "default \"B\" is not a valid enum 'shop.Status' (symbols: A)"),
    ("fixed of wrong length", fixed(2), "abc", "is not a valid fixed 'shop.Hash' (size 2)"),
    ("array item", {"type": "array", "items": "int"}, [1, "a"], 'default "a" at [1] is not a valid int'),
    ("map value", {"type": "map", "values": "int"}, {"k": "v"}, 'default "v" at ["k"] is not a valid int'),
    ("record field", rec("In", fld("a", "int")), {"a": "x"}, 'default "x" at a is not a valid int'),
    ("record lacks field", rec("In", fld("a", "int")), {}, "it lacks field 'a', which has no default"),
    (
        "union not first branch",
        ["string", "null"],
        None,
        "a union's default must fit its first branch, string; list null first",
    ),
    (
        "nested union",
        {"type": "array", "items": ["null", "int"]},
        [3],
        "default 3 at [0] is not a valid null",
    ),
]


@pytest.mark.parametrize(("schema", "fragment"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_parse_errors(schema: Any, fragment: str):
    text = schema if isinstance(schema, str) and schema.startswith("{") else json.dumps(schema)
    with pytest.raises(InvalidSchema) as err:
        avro.parse(text)
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    ("type_", "default", "fragment"), [c[1:] for c in BAD_DEFAULTS], ids=[c[0] for c in BAD_DEFAULTS]
)
def test_default_errors(type_: Any, default: Any, fragment: str):
    with pytest.raises(InvalidSchema) as err:
        p(one(type_, default=default))
    assert str(err.value).startswith("field 'x' of record 'shop.Order': default ")
    assert fragment in str(err.value)


VALID: list[tuple[str, Any]] = [
    ("every primitive", ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]),
    ("primitive object form", {"type": "string", "doc": "custom attrs are kept", "x-owner": "me"}),
    (
        "defaults of every kind",
        rec(
            "D",
            fld("n", "null", default=None),
            fld("b", "boolean", default=False),
            fld("i", "int", default=-(2**31)),
            fld("l", "long", default=2**63 - 1),
            fld("f", "float", default=1),
            fld("d", "double", default=0.5),
            fld("by", "bytes", default="\u00ff"),
            fld("s", "string", default="ü"),
            fld("e", enum(["A", "B"]), default="B"),
            fld("fx", fixed(2), default="ab"),
            fld("a", {"type": "array", "items": "int"}, default=[1, 2]),
            fld("m", {"type": "map", "values": "int"}, default={"k": 1}),
            fld("r", rec("In", fld("a", "int"), fld("b", "int", default=2)), default={"a": 1}),
            fld("u", ["null", "int"], default=None),
            fld("rr", "In", default={"a": 3, "b": 4}),
        ),
    ),
    (
        "names resolve in namespaces",
        rec(
            "a.R",
            fld("e", enum(["A"], name="E")),  # a.E
            fld("e2", "E"),
            fld("e3", "a.E"),
            fld("x", rec("X", fld("e", "a.E"), namespace="b")),  # b.X
            fld("y", rec("c.Y", fld("x", "b.X"), namespace="ignored")),
            fld("n", enum(["N"], name="N", namespace="")),  # the null namespace
        ),
    ),
    ("reference by object form", rec("R", fld("e", enum(["A"], name="E")), fld("e2", {"type": "E"}))),
    ("complex type names reused", rec("record", fld("x", "int"))),
    ("empty namespace and enum", rec("R", fld("e", enum([])), namespace="")),
    (
        "invalid logical types are ignored",
        rec(
            "L",
            fld("a", {"type": "string", "logicalType": "date"}),
            fld("b", {"type": "int", "logicalType": "decimal", "precision": -1}),
            fld("c", {"type": "long", "logicalType": "no-such-type"}),
            fld("d", fixed(12, name="Dur", logicalType="duration")),
            fld("e", {"type": "string", "logicalType": "uuid"}),
            fld("f", {"type": "long", "logicalType": "local-timestamp-micros"}),
        ),
    ),
    ("decimal at the fixed's limit", fixed(2, logicalType="decimal", precision=4, scale=4)),
    ("recursive", LONG_LIST),
]


@pytest.mark.parametrize("schema", [c[1] for c in VALID], ids=[c[0] for c in VALID])
def test_valid_schemas_round_trip_through_value(schema: Any):
    parsed = p(schema)
    assert parsed.schema_type == "AVRO" and parsed.text == json.dumps(schema)
    fastavro.parse_schema(parsed.value)  # a second opinion: the self-contained value is valid Avro
    again = avro.parse(json.dumps(parsed.value))
    assert avro.canonical(again) == avro.canonical(parsed)
    plain = Parsed("AVRO", parsed.value, parsed.text)  # another Parsed: re-read from its value
    assert avro.canonical(plain) == avro.canonical(parsed)
    assert avro.can_read(plain, parsed) == []


def test_names_resolve_to_the_right_namespaces():
    value = p(VALID[3][1]).value
    types = {f["name"]: f["type"] for f in value["fields"]}
    assert types["e"]["name"] == "a.E" and types["e2"] == "a.E" and types["e3"] == "a.E"
    assert types["x"]["name"] == "b.X" and types["y"]["name"] == "c.Y"
    assert types["y"]["fields"][0]["type"] == "b.X"
    assert types["n"]["name"] == "N" and types["n"]["namespace"] == ""


def test_a_short_name_falls_back_to_the_null_namespace():
    # as Java's parser does: "N" inside namespace a means a.N if defined, else N
    schema = rec("a.R", fld("n", enum(["N"], name="N", namespace="")), fld("n2", "N"))
    assert p(schema).value["fields"][1]["type"] == "N"
    shadowed = rec(
        "a.R", fld("n", enum(["N"], name="N", namespace="")), fld("m", enum(["M"], name="N")), fld("n2", "N")
    )
    assert p(shadowed).value["fields"][2]["type"] == "a.N"


# -- canonical form --------------------------------------------------------------------

BASE = rec("Order", fld("id", "long"), fld("note", ["null", "string"], default=None), namespace="shop")


@pytest.mark.parametrize(
    "same",
    [
        json.dumps(BASE, indent=4),
        json.dumps({"fields": BASE["fields"], "namespace": "shop", "name": "Order", "type": "record"}),
        json.dumps({**BASE, "doc": "an order", "x-custom": 1}),
        json.dumps(
            rec(
                "shop.Order",
                fld("id", {"type": "long"}, doc="id"),
                fld("note", ["null", "string"], default=None),
            )
        ),
        json.dumps(
            rec(
                "shop.Order",
                fld("id", "long", order="ascending"),
                fld("note", ["null", "string"], default=None),
            )
        ),
        '{"type":"record","name":"\\u004frder","namespace":"shop","fields":[{"name":"id","type":"long"},'
        '{"name":"note","type":["null","string"],"default":null}]}',
    ],
    ids=[
        "whitespace",
        "attribute order",
        "doc and custom",
        "full names, object primitive",
        "explicit order",
        "escapes",
    ],
)
def test_canonical_ignores_what_does_not_matter(same: str):
    expected = (
        '{"name":"shop.Order","type":"record","fields":[{"name":"id","type":"long"},'
        '{"name":"note","type":["null","string"],"default":null}]}'
    )
    assert avro.canonical(avro.parse(same)) == expected


@pytest.mark.parametrize(
    "different",
    [
        rec(
            "Order",
            fld("id", "long", default=0),
            fld("note", ["null", "string"], default=None),
            namespace="shop",
        ),
        rec("Order", fld("id", "long"), fld("note", ["null", "string"]), namespace="shop"),
        rec(
            "Order",
            fld("id", {"type": "long", "logicalType": "timestamp-millis"}),
            BASE["fields"][1],
            namespace="shop",
        ),
        rec("Order", fld("id", "long", aliases=["key"]), BASE["fields"][1], namespace="shop"),
        rec("Order", fld("id", "long", order="descending"), BASE["fields"][1], namespace="shop"),
        {**BASE, "aliases": ["Purchase"]},
        {**BASE, "namespace": "shop2"},
        rec("Order", BASE["fields"][1], fld("id", "long"), namespace="shop"),
    ],
    ids=[
        "default added",
        "default removed",
        "logical type",
        "field alias",
        "order",
        "type alias",
        "namespace",
        "field order",
    ],
)
def test_canonical_keeps_what_matters(different: Any):
    assert avro.canonical(p(different)) != avro.canonical(p(BASE))


@pytest.mark.parametrize(
    ("one_", "other"),
    [
        (one("double", default=1), one("double", default=1.0)),
        (one(dec(6)), one({"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 0})),
        (
            one({"type": "map", "values": "int"}, default={"b": 1, "a": 2}),
            one({"type": "map", "values": "int"}, default={"a": 2, "b": 1}),
        ),
        (
            one(rec("In", fld("a", "int"), fld("b", "int", default=2)), default={"a": 1}),
            one(rec("In", fld("a", "int"), fld("b", "int", default=2)), default={"b": 2, "a": 1}),
        ),
        (one(enum(["A"]), aliases=["y", "z"]), one(enum(["A"]), aliases=["z", "y"])),
    ],
    ids=[
        "float default typed",
        "decimal scale 0",
        "map default keys",
        "record default completed",
        "aliases sorted",
    ],
)
def test_canonical_normalizes_defaults_and_attributes(one_: Any, other: Any):
    assert avro.canonical(p(one_)) == avro.canonical(p(other))


def test_canonical_is_parsing_canonical_form_when_nothing_extra():
    schema = rec(
        "R",
        fld("e", enum(["A", "B"], doc="d")),
        fld("f", fixed(4, aliases=["F0"])),
        fld("m", ["null", {"type": "map", "values": "shop.Status"}]),
        fld("r", "R"),
        namespace="shop",
        doc="doc",
    )
    schema["fields"][1]["type"].pop("aliases")
    expected = fastavro.schema.to_parsing_canonical_form(fastavro.parse_schema(schema))
    assert avro.canonical(p(schema)) == expected


# -- wide records (the registry benchmark times these) ----------------------------------


def _wide(extra: int) -> str:
    kinds: list[Any] = ["int", "long", "string", ["null", "string"], {"type": "array", "items": "double"}]
    fields = [fld(f"f{i}", kinds[i % 5], **({"default": None} if i % 5 == 3 else {})) for i in range(200)]
    fields += [fld(f"added{j}", "string", default="") for j in range(extra)]
    return json.dumps(rec("Wide", *fields, namespace="perf"))


def test_wide_records_with_defaulted_additions_are_compatible_both_ways():
    versions = [avro.parse(_wide(v)) for v in range(5)]
    new = versions[-1]
    for old in versions[:-1]:  # FULL_TRANSITIVE: both ways with every version
        assert avro.can_read(new, old) == [] and avro.can_read(old, new) == []
    narrowed = avro.parse(_wide(0).replace('"long"', '"int"'))
    assert {i.kind for i in avro.can_read(narrowed, versions[0])} == {"TYPE_MISMATCH"}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[" * 100_000, "nested too deeply"),
        ('{"type": "array", "items": ' * 600 + '"int"' + "}" * 600, "nested too deeply"),
        ('{"type": "fixed", "name": "F", "size": 1' + "0" * 5000 + "}", "invalid JSON: Exceeds the limit"),
    ],
    ids=["deep JSON", "deep schema", "huge integer"],
)
def test_hostile_texts_are_invalid_not_crashes(text: str, fragment: str):
    with pytest.raises(InvalidSchema, match=fragment):
        avro.parse(text)


def test_decimal_on_a_huge_fixed_is_checked_without_huge_numbers():
    huge = fixed(10**9, logicalType="decimal", precision=10**12)
    with pytest.raises(InvalidSchema, match="at most 2408239965 digits"):
        p(huge)
