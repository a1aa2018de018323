"""The normalized tree of an Avro schema, and the two ways it is written back as JSON.

A parsed schema is a graph of the node classes below: a named type referenced by
name elsewhere in the schema is the *same* node object as its definition, so a
recursive record points back at itself. Every name in the tree is a full name.

- :func:`canonical_text` writes the identity form (Parsing Canonical Form plus the
  attributes that matter for compatibility); it is cached on each node, so
  comparing two subtrees for identity is one string comparison.
- :func:`to_json` writes a self-contained schema: every named type, including those
  from references, is defined at its first use; docs and custom attributes are kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

PRIMITIVES: Final = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})

#: the writer types each reader primitive can read besides its own (spec, "Schema Resolution")
PROMOTIONS: Final[dict[str, frozenset[str]]] = {
    "long": frozenset({"int"}),
    "float": frozenset({"int", "long"}),
    "double": frozenset({"int", "long", "float"}),
    "bytes": frozenset({"string"}),
    "string": frozenset({"bytes"}),
}


class _NoDefault:
    """The marker of a field without a default (``None`` is the default ``null``)."""

    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Final = _NoDefault()


@dataclass(slots=True, eq=False)
class Primitive:
    kind: str
    logical: str | None = None
    decimal: tuple[int, int] | None = None  # (precision, scale) of a valid decimal
    props: dict[str, Any] = field(default_factory=dict)
    key: str | None = None


@dataclass(slots=True, eq=False)
class Field:
    name: str
    type: Node
    default: Any = NO_DEFAULT
    order: str = "ascending"
    aliases: tuple[str, ...] = ()
    doc: str | None = None
    props: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class Record:
    kind: ClassVar[str] = "record"
    fullname: str
    aliases: tuple[str, ...] = ()  # full names
    doc: str | None = None
    props: dict[str, Any] = field(default_factory=dict)
    fields: list[Field] = field(default_factory=list)
    by_name: dict[str, Field] = field(default_factory=dict)
    key: str | None = None


@dataclass(slots=True, eq=False)
class Enum:
    kind: ClassVar[str] = "enum"
    fullname: str
    symbols: tuple[str, ...]
    default: str | None = None
    aliases: tuple[str, ...] = ()
    doc: str | None = None
    props: dict[str, Any] = field(default_factory=dict)
    symbol_set: frozenset[str] = frozenset()
    key: str | None = None


@dataclass(slots=True, eq=False)
class Fixed:
    kind: ClassVar[str] = "fixed"
    fullname: str
    size: int
    aliases: tuple[str, ...] = ()
    logical: str | None = None
    decimal: tuple[int, int] | None = None
    doc: str | None = None
    props: dict[str, Any] = field(default_factory=dict)
    key: str | None = None


@dataclass(slots=True, eq=False)
class Array:
    items: Node
    props: dict[str, Any] = field(default_factory=dict)
    key: str | None = None


@dataclass(slots=True, eq=False)
class Map:
    values: Node
    props: dict[str, Any] = field(default_factory=dict)
    key: str | None = None


@dataclass(slots=True, eq=False)
class Union:
    branches: tuple[Node, ...]
    key: str | None = None


Node = Primitive | Record | Enum | Fixed | Array | Map | Union
Named = Record | Enum | Fixed
NAMED: Final = (Record, Enum, Fixed)


def namespace_of(fullname: str) -> str:
    return fullname.rpartition(".")[0]


def short_name(fullname: str) -> str:
    return fullname.rpartition(".")[2]


def describe(node: Node) -> str:
    """A short human name of a type: ``long``, ``record 'shop.Order'``, ``array of string``."""
    if isinstance(node, Primitive):
        if node.decimal is not None:
            return f"{node.kind} (decimal({node.decimal[0]},{node.decimal[1]}))"
        return node.kind if node.logical is None else f"{node.kind} ({node.logical})"
    if isinstance(node, Fixed):
        extra = f", decimal({node.decimal[0]},{node.decimal[1]})" if node.decimal else ""
        return f"fixed {node.fullname!r} (size {node.size}{extra})"
    if isinstance(node, Record | Enum):
        return f"{node.kind} {node.fullname!r}"
    if isinstance(node, Array):
        return f"array of {describe(node.items)}"
    if isinstance(node, Map):
        return f"map of {describe(node.values)}"
    return "union [" + ", ".join(describe(b) for b in node.branches) + "]"


def show(value: Any, limit: int = 60) -> str:
    """A JSON value as it would be written, cut short for messages."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- identity form -------------------------------------------------------------------


def canonical_text(node: Node) -> str:
    """The identity form of ``node`` as a standalone schema (cached on the node)."""
    if node.key is None:
        out: list[str] = []
        _canon(node, set(), out)
        node.key = "".join(out)
    return node.key


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _n(name: str) -> str:
    # names, symbols and aliases are checked identifiers: nothing to escape
    return f'"{name}"'


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _logical(logical: str | None, decimal: tuple[int, int] | None) -> str:
    if logical is None:
        return ""
    text = f',"logicalType":{_q(logical)}'
    return text + (f',"precision":{decimal[0]},"scale":{decimal[1]}' if decimal else "")


def _aliases(aliases: tuple[str, ...]) -> str:
    return f',"aliases":[{",".join(map(_n, sorted(set(aliases))))}]' if aliases else ""


def _canon(node: Node, seen: set[str], out: list[str]) -> None:
    """PCF order: name, type, fields, symbols, items, values, size; then the kept extras."""
    if isinstance(node, Primitive):  # the same in any context: cache it
        if node.key is None:
            node.key = (
                f'"{node.kind}"'
                if node.logical is None
                else f'{{"type":"{node.kind}"{_logical(node.logical, node.decimal)}}}'
            )
        out.append(node.key)
    elif isinstance(node, Array):
        out.append('{"type":"array","items":')
        _canon(node.items, seen, out)
        out.append("}")
    elif isinstance(node, Map):
        out.append('{"type":"map","values":')
        _canon(node.values, seen, out)
        out.append("}")
    elif isinstance(node, Union):
        out.append("[")
        for i, branch in enumerate(node.branches):
            if i:
                out.append(",")
            _canon(branch, seen, out)
        out.append("]")
    elif node.fullname in seen:
        out.append(_n(node.fullname))
    else:
        seen.add(node.fullname)
        _canon_named(node, seen, out)


def _canon_named(node: Named, seen: set[str], out: list[str]) -> None:
    out.append(f'{{"name":"{node.fullname}","type":"{node.kind}"')
    if isinstance(node, Enum):
        out.append(f',"symbols":[{",".join(map(_n, node.symbols))}]')
        if node.default is not None:
            out.append(f',"default":"{node.default}"')
    elif isinstance(node, Fixed):
        out.append(f',"size":{node.size}{_logical(node.logical, node.decimal)}')
    else:
        out.append(',"fields":[')
        for i, f in enumerate(node.fields):
            out.append(f'{"," if i else ""}{{"name":"{f.name}","type":')
            _canon(f.type, seen, out)
            if f.default is not NO_DEFAULT:
                out.append(f',"default":{_dump(normal_default(f.type, f.default))}')
            if f.order != "ascending":
                out.append(f',"order":"{f.order}"')
            out.append(_aliases(f.aliases) + "}")
        out.append("]")
    out.append(_aliases(node.aliases) + "}")


def normal_default(node: Node, value: Any) -> Any:
    """A (valid) default written one way: numbers typed, records in field order and complete."""
    if isinstance(node, Union):
        return normal_default(node.branches[0], value)
    if isinstance(node, Primitive):
        if node.kind in ("float", "double"):
            return float(value)
        return value
    if isinstance(node, Array):
        return [normal_default(node.items, item) for item in value]
    if isinstance(node, Map):
        return {k: normal_default(node.values, value[k]) for k in sorted(value)}
    if isinstance(node, Record):
        return {f.name: normal_default(f.type, value.get(f.name, f.default)) for f in node.fields}
    return value


# -- self-contained JSON -------------------------------------------------------------


def to_json(node: Node, namespace: str = "", seen: set[str] | None = None) -> Any:
    """``node`` as a standalone schema JSON value, defining each named type at first use."""
    seen = set() if seen is None else seen
    if isinstance(node, Primitive):
        if node.logical is None and not node.props:
            return node.kind
        value: dict[str, Any] = {"type": node.kind}
        _put_logical(value, node.logical, node.decimal)
        return value | node.props
    if isinstance(node, Array):
        return {"type": "array", "items": to_json(node.items, namespace, seen)} | node.props
    if isinstance(node, Map):
        return {"type": "map", "values": to_json(node.values, namespace, seen)} | node.props
    if isinstance(node, Union):
        return [to_json(b, namespace, seen) for b in node.branches]
    if node.fullname in seen:
        return node.fullname
    seen.add(node.fullname)
    return _named_json(node, namespace, seen)


def _put_logical(value: dict[str, Any], logical: str | None, decimal: tuple[int, int] | None) -> None:
    if logical is not None:
        value["logicalType"] = logical
    if decimal is not None:
        value["precision"], value["scale"] = decimal


def _named_json(node: Named, namespace: str, seen: set[str]) -> dict[str, Any]:
    value: dict[str, Any] = {"type": node.kind, "name": node.fullname}
    own = namespace_of(node.fullname)
    if not own and namespace:
        value["namespace"] = ""  # else a short name would land in the enclosing namespace
    if node.doc is not None:
        value["doc"] = node.doc
    if node.aliases:
        value["aliases"] = list(node.aliases)
    if isinstance(node, Enum):
        value["symbols"] = list(node.symbols)
        if node.default is not None:
            value["default"] = node.default
    elif isinstance(node, Fixed):
        value["size"] = node.size
        _put_logical(value, node.logical, node.decimal)
    else:
        value["fields"] = [_field_json(f, own, seen) for f in node.fields]
    return value | node.props


def _field_json(f: Field, namespace: str, seen: set[str]) -> dict[str, Any]:
    value: dict[str, Any] = {"name": f.name, "type": to_json(f.type, namespace, seen)}
    if f.doc is not None:
        value["doc"] = f.doc
    if f.default is not NO_DEFAULT:
        value["default"] = f.default
    if f.order != "ascending":
        value["order"] = f.order
    if f.aliases:
        value["aliases"] = list(f.aliases)
    return value | f.props
