"""Apache Avro schemas for the registry: parse, identity, and schema resolution (Avro 1.11).

``parse(text, references)`` validates a schema against the specification and
builds a normalized tree (``_avro_nodes``) where every name is a full name and a
named type used by name is the same node as its definition:

- primitives; records (``name``, ``namespace``, ``fields`` with ``name``/``type``/
  ``default``/``aliases``/``order``/``doc``); enums (valid, unique ``symbols``, a
  ``default`` among them); arrays; maps; fixed (``size``); unions (no union directly
  inside a union, no two branches of one unnamed type or of one full name);
- names match ``[A-Za-z_][A-Za-z0-9_]*`` (a namespace is such names joined by dots); a
  short name takes the namespace of the most tightly enclosing named type (and
  falls back to the null namespace when only there); a name is defined once and
  before it is used (a record may refer to itself);
- a field default must fit its type, a union's default its *first* branch;
- logical types: ``decimal`` on bytes or fixed must have 0 < precision (<= what the
  fixed's size can hold) and 0 <= scale <= precision, else the schema is invalid;
  any other unknown or misplaced annotation is ignored, as the spec says;
- ``references`` (full name -> schema text, Confluent's schema references) are read
  first; their named types can be used by ``text`` and must not be redefined.

``canonical(parsed)`` is the schema's identity: Parsing Canonical Form (full names,
primitives in short form, no ``doc``/``namespace``/custom attributes, keys in the
order name, type, fields, symbols, items, values, size, no whitespace) *plus* what
changes compatibility, so schemas differing there are not merged into one:
``logicalType`` (and a decimal's ``precision``/``scale``, scale always written),
field ``default`` (normalized: numbers typed, record defaults complete and in field
order, map keys sorted), enum ``default``, field ``order`` (unless ascending) and
``aliases`` (sorted, full names for types). Each extra key follows the PCF keys.

``can_read(reader, writer)`` lists why data written with ``writer`` cannot be read
with ``reader`` (spec, "Schema Resolution"), with Confluent's rule names:

- TYPE_MISMATCH: kinds differ, except the promotions int→long/float/double,
  long→float/double, float→double, string↔bytes; also a decimal whose precision or
  scale changed, or a decimal annotation added to or removed from bytes/fixed;
- NAME_MISMATCH: records, enums, fixed match by unqualified name or a reader alias;
- READER_FIELD_MISSING_DEFAULT_VALUE: a reader field the writer lacks (matched by
  name, then by the reader field's aliases) needs a default; writer fields the
  reader lacks are skipped;
- MISSING_ENUM_SYMBOLS: a writer symbol the reader lacks, unless the reader enum
  has a default;
- FIXED_SIZE_MISMATCH: fixed sizes differ;
- MISSING_UNION_BRANCH: no branch of a reader union can read a writer type (each
  branch of a writer union must be readable). When a reader branch *matches* the
  writer type but fails deeper (an optional record gained a field without a
  default), that deeper reason is reported instead, at its place in the branch.

Arrays and maps recurse on items and values; recursive types terminate. Every
problem is returned, in reader-schema order; ``path`` is a JSON pointer into the
reader schema (``/fields/1/type/items``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from daap.mesh.registry._avro_compat import Checker
from daap.mesh.registry._avro_nodes import Named, Node, canonical_text, to_json
from daap.mesh.registry._avro_parse import Parser, parse_references
from daap.mesh.registry._types import Incompatibility, InvalidSchema, Parsed

__all__ = ["AvroParsed", "can_read", "canonical", "parse"]


@dataclass(frozen=True)
class AvroParsed(Parsed):
    """A parsed Avro schema; ``value`` is self-contained (referenced types written in)."""

    root: Node = field(repr=False, compare=False)


def _load(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidSchema(
            f"{what}invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InvalidSchema(f"{what}the JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise InvalidSchema(f"{what}invalid JSON: {exc}") from None


def parse(text: str, references: Mapping[str, str] = {}) -> AvroParsed:
    """The parsed schema of ``text``; raises :class:`InvalidSchema` saying what and where.

    Args:
        text: the schema as JSON text.
        references: full name -> schema text of each referenced schema (and of theirs).
    """
    names: dict[str, Named] = {}
    origins: dict[str, str] = {}
    try:
        refs = {name: _load(ref, f"reference {name!r}: ") for name, ref in references.items()}
        parse_references(refs, names, origins)
        root = Parser(names, origins).parse(_load(text, ""))
        value = to_json(root)
    except RecursionError:
        raise InvalidSchema("the schema is nested too deeply") from None
    return AvroParsed("AVRO", value, text, root)


def _root(parsed: Parsed) -> Node:
    if isinstance(parsed, AvroParsed):
        return parsed.root
    if parsed.schema_type != "AVRO":
        raise ValueError(f"not an Avro schema: {parsed.schema_type}")
    return parse(json.dumps(parsed.value)).root  # value is self-contained


def canonical(parsed: Parsed) -> str:
    """The identity of the schema: Parsing Canonical Form plus defaults, logical types,
    aliases and field order (see the module docstring). Equal texts mean the same schema."""
    return canonical_text(_root(parsed))


def can_read(reader: Parsed, writer: Parsed) -> list[Incompatibility]:
    """Why data written with ``writer`` cannot be read with ``reader``; [] when it can."""
    checker = Checker()
    checker.check(_root(reader), _root(writer), "", "")
    return checker.found
