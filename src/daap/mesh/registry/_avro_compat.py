"""Avro schema resolution as a checker: every reason ``writer`` data cannot be read by ``reader``.

The walk follows the reader schema; ``path`` is a JSON pointer into it, through
named-type references as if they were written out. Identical subtrees (equal
identity forms) are skipped at once, a recursive pair already being checked is
assumed to resolve (it fails, if it does, where it was first entered), and union
branches are tried with a *probe*, a checker that stops at the first problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from daap.mesh.registry._avro_nodes import (
    NO_DEFAULT,
    PROMOTIONS,
    Array,
    Enum,
    Fixed,
    Map,
    Named,
    Node,
    Primitive,
    Record,
    Union,
    canonical_text,
    describe,
    short_name,
)
from daap.mesh.registry._types import Incompatibility

NAME_MISMATCH: Final = "NAME_MISMATCH"
FIXED_SIZE_MISMATCH: Final = "FIXED_SIZE_MISMATCH"
MISSING_ENUM_SYMBOLS: Final = "MISSING_ENUM_SYMBOLS"
READER_FIELD_MISSING_DEFAULT_VALUE: Final = "READER_FIELD_MISSING_DEFAULT_VALUE"
TYPE_MISMATCH: Final = "TYPE_MISMATCH"
MISSING_UNION_BRANCH: Final = "MISSING_UNION_BRANCH"

_PROMOTION_RULE = "promotions are int→long/float/double, long→float/double, float→double, string↔bytes"


class _Stop(Exception):
    """A probe met its first problem."""


def names_match(reader: Named, writer: Named) -> bool:
    """Same unqualified name, or the writer's name is one of the reader's aliases."""
    if short_name(reader.fullname) == short_name(writer.fullname):
        return True
    return any(a == writer.fullname or short_name(a) == short_name(writer.fullname) for a in reader.aliases)


def matches(reader: Node, writer: Node) -> bool:
    """The spec's shallow *match* of two non-union schemas (the first test of resolution)."""
    if isinstance(reader, Primitive) and isinstance(writer, Primitive):
        return reader.kind == writer.kind or writer.kind in PROMOTIONS.get(reader.kind, ())
    if isinstance(reader, Fixed) and isinstance(writer, Fixed):
        return reader.size == writer.size and names_match(reader, writer)
    if isinstance(reader, Record) and isinstance(writer, Record):
        return names_match(reader, writer)
    if isinstance(reader, Enum) and isinstance(writer, Enum):
        return names_match(reader, writer)
    return isinstance(reader, Array | Map) and type(reader) is type(writer)


class Checker:
    """Collects the incompatibilities of one (reader, writer) pair; ``probe`` stops at the first."""

    def __init__(self, probe: bool = False, active: set[tuple[int, int]] | None = None) -> None:
        self.found: list[Incompatibility] = []
        self.probe = probe
        self.active: set[tuple[int, int]] = set() if active is None else active

    def report(self, kind: str, path: str, message: str) -> None:
        self.found.append(Incompatibility(kind, path, message))
        if self.probe:
            raise _Stop

    def compatible(self, reader: Node, writer: Node) -> bool:
        probe = Checker(probe=True, active=self.active)
        try:
            probe.check(reader, writer, "", "")
        except _Stop:
            return False
        return True

    def check(self, reader: Node, writer: Node, path: str, where: str) -> None:
        if reader is writer:
            return
        if isinstance(writer, Union):
            self._writer_union(reader, writer, path, where)
        elif isinstance(reader, Union):
            self._into_union(reader, writer, path, where)
        elif type(reader) is not type(writer):
            self._type_mismatch(reader, writer, path, where)
        elif isinstance(reader, Primitive) or canonical_text(reader) != canonical_text(writer):
            _SAME_KIND[type(reader)](self, reader, writer, path, where)

    # -- unions ------------------------------------------------------------------------

    def _writer_union(self, reader: Node, writer: Union, path: str, where: str) -> None:
        # every branch the writer may have chosen must be readable
        if isinstance(reader, Union) and canonical_text(reader) == canonical_text(writer):
            return
        for i, branch in enumerate(writer.branches):
            inner = f"{where}, writer union branch {i}"
            if isinstance(reader, Union):
                self._into_union(reader, branch, path, inner)
            else:
                self.check(reader, branch, path, inner)

    def _into_union(self, reader: Union, writer: Node, path: str, where: str) -> None:
        """A non-union writer read by a reader union: some branch must resolve it."""
        key = canonical_text(writer)
        if any(canonical_text(b) == key for b in reader.branches):
            return
        candidates = [(i, b) for i, b in enumerate(reader.branches) if matches(b, writer)]
        if any(self.compatible(b, writer) for _, b in candidates):
            return
        if candidates:  # report why the branch that resolution would pick fails
            i, branch = candidates[0]
            self.check(branch, writer, f"{path}/{i}", f"{where}, reader union branch {i}")
            return
        self.report(
            MISSING_UNION_BRANCH,
            path,
            f"{_at(where)}reader union [{', '.join(describe(b) for b in reader.branches)}]"
            f" has no branch that can read writer type {describe(writer)}: add one",
        )

    # -- same kinds --------------------------------------------------------------------

    def _type_mismatch(self, reader: Node, writer: Node, path: str, where: str, why: str = "") -> None:
        if (
            isinstance(reader, Primitive)
            and isinstance(writer, Primitive)
            and reader.kind in PROMOTIONS.get(writer.kind, ())
        ):
            why = why or f" (a narrowing; {_PROMOTION_RULE})"
        self.report(
            TYPE_MISMATCH,
            path,
            f"{_at(where)}reader type {describe(reader)} cannot read writer type {describe(writer)}{why}",
        )

    def _decimal(self, reader: Primitive | Fixed, writer: Primitive | Fixed, path: str, where: str) -> None:
        if reader.decimal != writer.decimal:
            why = (
                ": a decimal's precision and scale cannot change"
                if reader.decimal and writer.decimal
                else ": adding or removing the decimal logical type changes what the bytes mean"
            )
            self._type_mismatch(reader, writer, path, where, why)

    def _primitive(self, reader: Primitive, writer: Primitive, path: str, where: str) -> None:
        if reader.kind != writer.kind and writer.kind not in PROMOTIONS.get(reader.kind, ()):
            self._type_mismatch(reader, writer, path, where)
        else:
            self._decimal(reader, writer, path, where)

    def _name(self, reader: Named, writer: Named, path: str, where: str) -> None:
        if not names_match(reader, writer):
            self.report(
                NAME_MISMATCH,
                f"{path}/name",
                f"{_at(where)}reader {reader.kind} {reader.fullname!r} cannot read writer"
                f" {writer.kind} {writer.fullname!r}: the names differ and no reader alias matches"
                f" (keep the name, or add alias {writer.fullname!r} to the reader)",
            )

    def _record(self, reader: Record, writer: Record, path: str, where: str) -> None:
        self._name(reader, writer, path, where)
        pair = (id(reader), id(writer))
        if pair in self.active:
            return
        self.active.add(pair)
        try:
            self._fields(reader, writer, path)
        finally:
            self.active.discard(pair)

    def _fields(self, reader: Record, writer: Record, path: str) -> None:
        by_name = writer.by_name
        for i, rf in enumerate(reader.fields):
            wf = by_name.get(rf.name)
            if wf is None:  # renamed? the reader's field aliases name the writer's field
                wf = next((by_name[a] for a in rf.aliases if a in by_name), None)
            if wf is None:
                if rf.default is NO_DEFAULT:
                    self._missing_default(reader, i, path)
                continue
            rt, wt = rf.type, wf.type
            if rt is wt or (
                type(rt) is Primitive
                and type(wt) is Primitive
                and rt.kind == wt.kind
                and rt.decimal == wt.decimal
            ):
                continue  # the common case, without building a path
            self.check(rt, wt, f"{path}/fields/{i}/type", f"field {rf.name!r} of record {reader.fullname!r}")

    def _missing_default(self, reader: Record, i: int, path: str) -> None:
        name = reader.fields[i].name
        self.report(
            READER_FIELD_MISSING_DEFAULT_VALUE,
            f"{path}/fields/{i}",
            f"reader field {name!r} of record {reader.fullname!r} has no default, and data written"
            " with the writer's schema lacks it: add a default or keep the field out",
        )

    def _enum(self, reader: Enum, writer: Enum, path: str, where: str) -> None:
        self._name(reader, writer, path, where)
        if reader.default is not None:
            return  # unknown writer symbols read as the reader's default
        missing = [s for s in writer.symbols if s not in reader.symbol_set]
        if missing:
            self.report(
                MISSING_ENUM_SYMBOLS,
                f"{path}/symbols",
                f"{_at(where)}reader enum {reader.fullname!r} lacks the writer's symbols"
                f" {', '.join(missing)} and has no default: keep the symbols, or give the reader"
                " enum a default",
            )

    def _fixed(self, reader: Fixed, writer: Fixed, path: str, where: str) -> None:
        self._name(reader, writer, path, where)
        if reader.size != writer.size:
            self.report(
                FIXED_SIZE_MISMATCH,
                f"{path}/size",
                f"{_at(where)}reader fixed {reader.fullname!r} has size {reader.size}, the writer's"
                f" {writer.fullname!r} has size {writer.size}: a fixed's size cannot change",
            )
        self._decimal(reader, writer, path, where)

    def _array(self, reader: Array, writer: Array, path: str, where: str) -> None:
        self.check(reader.items, writer.items, f"{path}/items", _inside("array items", where))

    def _map(self, reader: Map, writer: Map, path: str, where: str) -> None:
        self.check(reader.values, writer.values, f"{path}/values", _inside("map values", where))


#: node class -> the check of a reader and a writer of that class
_SAME_KIND: Final[dict[type, Callable[[Checker, Any, Any, str, str], None]]] = {
    Primitive: Checker._primitive,
    Record: Checker._record,
    Enum: Checker._enum,
    Fixed: Checker._fixed,
    Array: Checker._array,
    Map: Checker._map,
}


def _at(where: str) -> str:
    return f"{where}: " if where else ""


def _inside(what: str, where: str) -> str:
    return f"{where}, {what}" if where else what
