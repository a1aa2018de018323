"""From Avro schema JSON to the normalized tree of ``_avro_nodes``, checking the spec.

One :class:`Parser` reads one schema text; ``names`` maps each full name defined so
far (by references, then by this text, depth-first left to right) to its node, so a
name used before its definition is an unknown type, and defining one twice fails.
Messages say where: ``field 'amount' of record 'shop.Order': ...``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, Final, TypeGuard

from daap.mesh.registry._avro_defaults import default_error
from daap.mesh.registry._avro_nodes import (
    NAMED,
    PRIMITIVES,
    Array,
    Enum,
    Field,
    Fixed,
    Map,
    Named,
    Node,
    Primitive,
    Record,
    Union,
    describe,
    show,
)
from daap.mesh.registry._types import InvalidSchema

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME_RULE = "a name starts with a letter or '_' and has only letters, digits and '_'"
ORDERS: Final = ("ascending", "descending", "ignore")
#: plain primitives are shared: a primitive without attributes is the same node everywhere
PLAIN: Final = {kind: Primitive(kind, key=f'"{kind}"') for kind in PRIMITIVES}

_KNOWN_ATTRS: Final = {
    "primitive": {"type", "logicalType", "precision", "scale"},
    "record": {"type", "name", "namespace", "doc", "aliases", "fields"},
    "enum": {"type", "name", "namespace", "doc", "aliases", "symbols", "default"},
    "fixed": {"type", "name", "namespace", "doc", "aliases", "size", "logicalType", "precision", "scale"},
    "array": {"type", "items"},
    "map": {"type", "values"},
    "field": {"name", "type", "doc", "default", "order", "aliases"},
}


class UnknownName(InvalidSchema):
    """A type name that is not defined (yet): a reference may define it."""


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _props(js: dict[str, Any], kind: str) -> dict[str, Any]:
    known = _KNOWN_ATTRS[kind]
    return {k: v for k, v in js.items() if k not in known}


def _max_decimal_digits(size: int) -> int:
    """floor(log10(2^(8*size-1) - 1)): the digits a fixed of ``size`` bytes can hold."""
    if size > 1024:  # no power of two is a power of ten, so the float form is exact enough
        return math.floor((8 * size - 1) * math.log10(2))
    largest = (1 << (8 * size - 1)) - 1 if size > 0 else 0
    return len(str(largest)) - 1 if largest > 0 else 0


class Parser:
    """Reads schema JSON into nodes; ``names`` is shared with the caller (full name -> node)."""

    def __init__(self, names: dict[str, Named], origins: dict[str, str]) -> None:
        self.names = names
        self.origins = origins  # full name -> the reference that defined it
        self.defined: list[str] = []
        self._defaults: list[tuple[str, Node, Any]] = []
        self._builders: dict[str, Callable[[dict[str, Any], str, str], Node]] = {
            "record": self._record,
            "enum": self._enum,
            "fixed": self._fixed,
            "array": self._array,
            "map": self._map,
        }

    def parse(self, js: Any, where: str = "top-level schema") -> Node:
        """The node of ``js``; defaults are checked once the whole schema is read."""
        node = self.node(js, "", where)
        for at, ftype, value in self._defaults:  # after: a default may use a type defined later
            error = default_error(ftype, value)
            if error is not None:
                raise InvalidSchema(f"{at}: default {error}")
        return node

    def node(self, js: Any, ns: str, where: str) -> Node:
        if isinstance(js, str):
            return self._by_name(js, ns, where)
        if isinstance(js, list):
            return self._union(js, ns, where)
        if isinstance(js, dict):
            return self._object(js, ns, where)
        raise InvalidSchema(
            f'{where}: {show(js)} is not a schema: expected a type name, an object with "type",'
            " or an array (a union)"
        )

    # -- names -------------------------------------------------------------------------

    def _by_name(self, name: str, ns: str, where: str) -> Node:
        if name in PRIMITIVES:
            return PLAIN[name]
        full = name if "." in name or not ns else f"{ns}.{name}"
        found = self.names.get(full)
        if found is None and "." not in name:
            found = self.names.get(name)  # a short name may also mean the null namespace
        if found is None:
            tried = f" (looked up as {full!r})" if full != name else ""
            raise UnknownName(
                f"{where}: unknown type {name!r}{tried}; a named type must be defined before"
                " it is used, in this schema or in a reference"
            )
        return found

    def _check_name(self, name: str, what: str, where: str, dotted: bool = True) -> None:
        parts = name.split(".") if dotted else [name]
        if not all(_NAME.fullmatch(p) for p in parts):
            raise InvalidSchema(f"{where}: {what} {name!r} is not a valid name: {_NAME_RULE}")

    def _define(self, js: dict[str, Any], ns: str, where: str) -> tuple[str, str, tuple[str, ...]]:
        """The full name, namespace and aliases of a named type; registers nothing."""
        kind, name = js["type"], js.get("name")
        if not isinstance(name, str):
            raise InvalidSchema(f'{where}: a {kind} needs a "name" (a string), got {show(name)}')
        self._check_name(name, f"{kind} name", where)
        given = js.get("namespace")
        if given is not None and not isinstance(given, str):
            raise InvalidSchema(f'{where}: "namespace" must be a string, got {show(given)}')
        if "." in name:
            space, short = name.rpartition(".")[::2]
        else:
            space, short = (ns if given is None else given), name
            if space:
                self._check_name(space, "namespace", f"{where}, {kind} {name!r}")
        if short in PRIMITIVES:
            raise InvalidSchema(f"{where}: {kind} name {name!r} is a primitive type name")
        full = f"{space}.{short}" if space else short
        if full in self.names:
            origin = self.origins.get(full)
            also = f" (it comes from reference {origin!r})" if origin else ""
            raise InvalidSchema(f"{where}: {kind} {full!r} is defined twice{also}")
        return full, space, self._aliases(js, space, f"{kind} {full!r}", dotted=True)

    def _aliases(self, js: dict[str, Any], space: str, where: str, dotted: bool) -> tuple[str, ...]:
        aliases = js.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise InvalidSchema(f'{where}: "aliases" must be a list of strings, got {show(aliases)}')
        for alias in aliases:
            self._check_name(alias, "alias", where, dotted)
        if not dotted:
            return tuple(aliases)
        return tuple(a if "." in a or not space else f"{space}.{a}" for a in aliases)

    def _register(self, full: str, node: Named) -> None:
        self.names[full] = node
        self.defined.append(full)

    @staticmethod
    def _doc(js: dict[str, Any], where: str) -> str | None:
        doc = js.get("doc")
        if doc is not None and not isinstance(doc, str):
            raise InvalidSchema(f'{where}: "doc" must be a string, got {show(doc)}')
        return doc

    # -- objects -----------------------------------------------------------------------

    def _object(self, js: dict[str, Any], ns: str, where: str) -> Node:
        kind = js.get("type")
        if not isinstance(kind, str):
            missing = 'no "type"' if "type" not in js else f'"type" {show(kind)} is not a type name'
            raise InvalidSchema(f'{where}: a schema object needs a "type" naming a type: {missing}')
        if kind in PRIMITIVES:
            return self._primitive(js, kind, where)
        builder = self._builders.get(kind)
        if builder is None:  # {"type": "shop.Money"}: a defined type, by name
            return self._by_name(kind, ns, where)
        return builder(js, ns, where)

    def _primitive(self, js: dict[str, Any], kind: str, where: str) -> Node:
        logical = js.get("logicalType")
        props = _props(js, "primitive")
        if not isinstance(logical, str):  # an invalid annotation is ignored (spec, "Logical Types")
            logical = None
        if logical is None and not props:
            return PLAIN[kind]
        decimal = self._decimal(js, None, where) if logical == "decimal" and kind == "bytes" else None
        return Primitive(kind, logical, decimal, props)

    def _decimal(self, js: dict[str, Any], size: int | None, where: str) -> tuple[int, int]:
        precision, scale = js.get("precision"), js.get("scale", 0)
        if not _is_int(precision) or precision <= 0:
            raise InvalidSchema(
                f"{where}: decimal precision must be a positive integer, got {show(precision)}"
            )
        if not _is_int(scale) or scale < 0:
            raise InvalidSchema(f"{where}: decimal scale must be a non-negative integer, got {show(scale)}")
        if scale > precision:
            raise InvalidSchema(f"{where}: decimal scale {scale} is greater than its precision {precision}")
        if size is not None and precision > _max_decimal_digits(size):
            raise InvalidSchema(
                f"{where}: decimal precision {precision} does not fit in {size} bytes"
                f" (at most {_max_decimal_digits(size)} digits)"
            )
        return precision, scale

    def _record(self, js: dict[str, Any], ns: str, where: str) -> Node:
        full, space, aliases = self._define(js, ns, where)
        me = f"record {full!r}"
        node = Record(full, aliases, self._doc(js, me), _props(js, "record"))
        self._register(full, node)  # before the fields: a field may refer to its record
        fields = js.get("fields")
        if not isinstance(fields, list):
            raise InvalidSchema(f'{me}: "fields" must be a list of field objects, got {show(fields)}')
        for i, fjs in enumerate(fields):
            f = self._field(fjs, i, node, space)
            if f.name in node.by_name:
                raise InvalidSchema(f"{me}: field {f.name!r} is defined twice")
            node.fields.append(f)
            node.by_name[f.name] = f
        return node

    def _field(self, fjs: Any, i: int, record: Record, space: str) -> Field:
        me = f"record {record.fullname!r}"
        if not isinstance(fjs, dict):
            raise InvalidSchema(f"{me}: field {i} is not an object: {show(fjs)}")
        name = fjs.get("name")
        if not isinstance(name, str):
            raise InvalidSchema(f'{me}: field {i} needs a "name" (a string), got {show(name)}')
        self._check_name(name, f"field {i} name", me, dotted=False)
        where = f"field {name!r} of {me}"
        if "type" not in fjs:
            raise InvalidSchema(f'{where}: no "type"')
        ftype = self.node(fjs["type"], space, where)
        order = fjs.get("order", "ascending")
        if order not in ORDERS:
            raise InvalidSchema(f"{where}: order {show(order)} is not one of {', '.join(ORDERS)}")
        f = Field(name, ftype, order=order, aliases=self._aliases(fjs, "", where, dotted=False))
        f.doc, f.props = self._doc(fjs, where), _props(fjs, "field")
        if "default" in fjs:
            f.default = fjs["default"]
            self._defaults.append((where, ftype, f.default))
        return f

    def _enum(self, js: dict[str, Any], ns: str, where: str) -> Node:
        full, _, aliases = self._define(js, ns, where)
        me = f"enum {full!r}"
        symbols = js.get("symbols")
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            raise InvalidSchema(f'{me}: "symbols" must be a list of strings, got {show(symbols)}')
        seen: set[str] = set()
        for s in symbols:
            self._check_name(s, "symbol", me, dotted=False)
            if s in seen:
                raise InvalidSchema(f"{me}: symbol {s!r} appears twice")
            seen.add(s)
        default = js.get("default")
        if "default" in js and (not isinstance(default, str) or default not in seen):
            raise InvalidSchema(f"{me}: default {show(default)} is not one of its symbols")
        node = Enum(full, tuple(symbols), default, aliases, self._doc(js, me), _props(js, "enum"))
        node.symbol_set = frozenset(seen)
        self._register(full, node)
        return node

    def _fixed(self, js: dict[str, Any], ns: str, where: str) -> Node:
        full, _, aliases = self._define(js, ns, where)
        me = f"fixed {full!r}"
        size = js.get("size")
        if not _is_int(size) or size < 0:
            raise InvalidSchema(f'{me}: "size" must be a non-negative integer, got {show(size)}')
        logical = js.get("logicalType")
        logical = logical if isinstance(logical, str) else None
        decimal = self._decimal(js, size, me) if logical == "decimal" else None
        node = Fixed(full, size, aliases, logical, decimal, self._doc(js, me), _props(js, "fixed"))
        self._register(full, node)
        return node

    def _array(self, js: dict[str, Any], ns: str, where: str) -> Node:
        if "items" not in js:
            raise InvalidSchema(f'{where}: an array needs "items"')
        return Array(self.node(js["items"], ns, f"{where}, array items"), _props(js, "array"))

    def _map(self, js: dict[str, Any], ns: str, where: str) -> Node:
        if "values" not in js:
            raise InvalidSchema(f'{where}: a map needs "values"')
        return Map(self.node(js["values"], ns, f"{where}, map values"), _props(js, "map"))

    def _union(self, js: list[Any], ns: str, where: str) -> Node:
        branches: list[Node] = []
        seen: dict[str, int] = {}
        for i, bjs in enumerate(js):
            if isinstance(bjs, list):
                raise InvalidSchema(f"{where}: union branch {i} is itself a union; unions may not nest")
            branch = self.node(bjs, ns, f"{where}, union branch {i}")
            same = branch.fullname if isinstance(branch, NAMED) else _unnamed_kind(branch)
            if same in seen:
                raise InvalidSchema(
                    f"{where}: union branches {seen[same]} and {i} are both {describe(branch)};"
                    " a union holds each unnamed type once and each named type once"
                )
            seen[same] = i
            branches.append(branch)
        return Union(tuple(branches))


def _unnamed_kind(node: Node) -> str:
    if isinstance(node, Primitive):
        return node.kind
    return "array" if isinstance(node, Array) else "map"


def parse_references(references: dict[str, Any], names: dict[str, Named], origins: dict[str, str]) -> None:
    """Define the named types of each reference (JSON by reference name) into ``names``.

    A reference may use types of another; the order given need not follow that, so
    one that meets an unknown name waits for the others and is tried again.
    """
    pending = list(references.items())
    while pending:
        waiting: list[tuple[str, Any]] = []
        last: UnknownName | None = None
        for ref, js in pending:
            trial = dict(names)
            parser = Parser(trial, origins)
            try:
                parser.parse(js)
            except UnknownName as exc:
                waiting.append((ref, js))
                last = exc
                continue
            except InvalidSchema as exc:
                raise InvalidSchema(f"reference {ref!r}: {exc}") from None
            for full in parser.defined:
                names[full] = trial[full]
                origins[full] = ref
        if last is not None and len(waiting) == len(pending):
            raise InvalidSchema(f"reference {waiting[-1][0]!r}: {last}")
        pending = waiting
