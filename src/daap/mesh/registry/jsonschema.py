"""JSON Schema for the schema registry: parse, canonical form, and "can this reader read that writer?".

Drafts 7, 2019-09 and 2020-12; ``$schema`` selects one, draft 7 when absent (as
Confluent's registry does). ``parse`` checks the text against the draft's
meta-schema and links ``$ref``\\s (local, and to Confluent schema references by
name) into one graph, so recursive schemas can be compared.

``can_read(reader, writer)`` lists why a document valid under ``writer`` may be
invalid under ``reader`` (``[]``: compatible). Rules carry the names of
Confluent's JSON Schema diff types; those marked compatible are never reported.
Paths are JSON pointers into the reader schema, following ``$ref``\\s as if
inlined (``/properties/address/properties/zip/type`` also when ``address`` is a
``$ref``); a member only the writer has is pointed at where it would be.

Examples read "writer -> reader" (for BACKWARD, old -> new):

============================================================  ==========  ==================================
rule                                                          verdict     e.g. writer -> reader
============================================================  ==========  ==================================
TYPE_EXTENDED                                                 compatible  integer -> number; +null
TYPE_NARROWED                                                 reported    number -> integer; {} -> string
TYPE_CHANGED                                                  reported    string -> integer
ENUM_ARRAY_EXTENDED                                           compatible  [a] -> [a, b]
ENUM_ARRAY_NARROWED, ENUM_ARRAY_CHANGED                       reported    [a, b] -> [a]; string -> enum
MAXIMUM_/EXCLUSIVE_MAXIMUM_ INCREASED, _REMOVED               compatible  max 10 -> max 20
MAXIMUM_/EXCLUSIVE_MAXIMUM_ ADDED, _DECREASED                 reported    max 20 -> max 10
MINIMUM_/EXCLUSIVE_MINIMUM_ DECREASED, _REMOVED               compatible  min 5 -> min 0
MINIMUM_/EXCLUSIVE_MINIMUM_ ADDED, _INCREASED                 reported    min 0 -> min 5
MULTIPLE_OF_REDUCED, _REMOVED                                 compatible  multipleOf 10 -> 5
MULTIPLE_OF_ADDED, _EXPANDED, _CHANGED                        reported    5 -> 10; 2 -> 3
MAX_LENGTH_, MAX_ITEMS_, MAX_PROPERTIES_ INCREASED/REMOVED    compatible
MAX_LENGTH_, MAX_ITEMS_, MAX_PROPERTIES_ ADDED/DECREASED      reported
MIN_LENGTH_, MIN_ITEMS_, MIN_PROPERTIES_ DECREASED/REMOVED    compatible
MIN_LENGTH_, MIN_ITEMS_, MIN_PROPERTIES_ ADDED/INCREASED      reported
PATTERN_REMOVED                                               compatible
PATTERN_ADDED, PATTERN_CHANGED                                reported    regexes are not compared
UNIQUE_ITEMS_REMOVED                                          compatible
UNIQUE_ITEMS_ADDED                                            reported
PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL                          reported    old data may hold it, any type
PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL        compatible  new property is ``{}``
OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL               compatible  writer additionalProperties: false
PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL     compatible  it reads the writer's rest schema
PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL    reported
PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL                      compatible
PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL                    reported    reader additionalProperties: false
PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL         compatible  it was ``false`` in the writer
PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL   compatible  the reader's rest schema reads it
PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL  reported
REQUIRED_ATTRIBUTE_REMOVED                                    compatible
REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED                         compatible  as Confluent: reader has a default
REQUIRED_ATTRIBUTE_ADDED                                      reported    old data may lack it
REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL               reported    new and required, writer not open
ADDITIONAL_PROPERTIES_ADDED, _EXTENDED                        compatible  false -> true; schema -> true
ADDITIONAL_PROPERTIES_REMOVED                                 reported    true -> false
ADDITIONAL_PROPERTIES_NARROWED                                reported    true -> schema
DEPENDENCY_ARRAY_NARROWED, _REMOVED; DEPENDENCY_SCHEMA_REM.   compatible
DEPENDENCY_ARRAY_ADDED, _EXTENDED, _CHANGED                   reported    unless the writer requires them
DEPENDENCY_SCHEMA_ADDED                                       reported
ITEM_..., ADDITIONAL_ITEMS_...                                as above    tuples (``items: [...]``,
                                                                          ``prefixItems``) like properties
SUM_TYPE_EXTENDED                                             compatible  oneOf/anyOf gains a branch
SUM_TYPE_NARROWED                                             reported    a written branch is unreadable
COMBINED_TYPE_EXTENDED                                        compatible  oneOf -> anyOf
COMBINED_TYPE_CHANGED                                         reported    anyOf -> oneOf
COMBINED_TYPE_SUBSCHEMAS_CHANGED                              reported    no reader branch reads one
NOT_TYPE_NARROWED                                             compatible  ``not`` excludes less
NOT_TYPE_EXTENDED                                             reported    ``not`` added or excludes more
============================================================  ==========  ==================================

A change inside a oneOf/anyOf branch, a property or an item is reported by its
own rule at its own path. Types come from ``type``; without it, from the
writer's ``enum``/``const`` values (else: any type), and ``number`` with an
integral ``multipleOf`` writes integers. A declared property also meets the
``patternProperties`` matching its name. ``allOf`` is flattened into one schema
first (``_json_merge``; its paths are those of the flattened schema), so moving a
property between ``allOf`` branches is no change. Pairs of recursive ``$ref``
targets are compared once (memoized).

Not modelled (never reported): ``if``/``then``/``else``, ``contains``,
``propertyNames``, ``unevaluated*``, ``format``, ``contentSchema``, overlapping
oneOf branches, dynamic scope of ``$dynamicRef``/``$recursiveRef``, ``$id``
inside subschemas (only a document's root ``$id`` is a base URI). Schemas that
reference each other deeper than Python's recursion allows are refused with
NESTING_TOO_DEEP rather than guessed; ``parse`` refuses one nested over ~150 levels.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jsonschema  # type: ignore[import-untyped]

from daap.mesh.registry._json_common import location
from daap.mesh.registry._json_compat import Checker
from daap.mesh.registry._json_refs import Linked, link
from daap.mesh.registry._types import Incompatibility, InvalidSchema, Parsed

__all__ = ["JsonSchemaParsed", "can_read", "canonical", "parse"]

SCHEMA_TYPE = "JSON"
DEFAULT_DRAFT = "http://json-schema.org/draft-07/schema#"
# $schema (without "#", http or https) -> (validator class name, do keywords beside $ref apply?)
_DRAFTS = {
    "json-schema.org/draft-07/schema": ("Draft7Validator", False),
    "json-schema.org/draft/2019-09/schema": ("Draft201909Validator", True),
    "json-schema.org/draft/2020-12/schema": ("Draft202012Validator", True),
}


@dataclass(frozen=True)
class JsonSchemaParsed(Parsed):
    """A parsed JSON Schema: ``value`` is the JSON as given; ``graph`` has ``$ref``\\s linked."""

    draft: str = DEFAULT_DRAFT
    graph: Linked | None = field(default=None, compare=False, repr=False)  # may be cyclic


def parse(text: str, references: Mapping[str, str] = {}) -> JsonSchemaParsed:
    """Parse and check a JSON Schema.

    Args:
        text: the schema as JSON text.
        references: Confluent schema references, name (as written in ``$ref``) -> schema text.

    Returns:
        The parsed schema; ``graph`` is what ``can_read`` compares.

    Raises:
        InvalidSchema: not JSON, not valid under its draft's meta-schema (the message
            gives the validator's reason and the JSON pointer), an unsupported
            ``$schema``, or a ``$ref`` that resolves nowhere (named in the message).
    """
    try:
        value, draft, siblings = _load(text, "the schema")
        others = {}
        for name, ref_text in references.items():
            _, _, ref_siblings = _load(ref_text, f"reference '{name}'")
            others[name] = (json.loads(ref_text), ref_siblings)
        graph = link((json.loads(text), siblings), others)  # fresh copies: linking mutates them
    except RecursionError:
        raise InvalidSchema("the schema nests too deeply to check (over about 150 levels)") from None
    return JsonSchemaParsed(SCHEMA_TYPE, value, text, draft, graph)


def canonical(parsed: Parsed) -> str:
    """The schema's identity: its JSON with keys sorted and no whitespace, non-ASCII kept.

    Two texts that differ only in formatting or key order have one canonical form,
    which is how Confluent's registry normalizes JSON schemas for lookups. Array
    order (``required``, ``enum``, ``oneOf``) is kept: it is part of the text.
    """
    return json.dumps(parsed.value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def can_read(reader: Parsed, writer: Parsed) -> list[Incompatibility]:
    """Why a document valid under ``writer`` may be invalid under ``reader``; [] when none."""
    rgraph, wgraph = _graph(reader), _graph(writer)
    try:
        findings = Checker(rgraph.shared | wgraph.shared).compare(rgraph.root, wgraph.root)
    except RecursionError:  # references chained deeper than parse can see: refuse, do not guess
        return [Incompatibility("NESTING_TOO_DEEP", "", "the schemas nest too deeply to compare")]
    seen: set[tuple[str, str]] = set()
    result = []
    for path, kind, sentence, member in findings:
        if (path, kind) not in seen:
            seen.add((path, kind))
            label = location(path, member)
            result.append(Incompatibility(kind, path, f"at '{label}': {sentence}" if label else sentence))
    return result


def _graph(parsed: Parsed) -> Linked:
    if isinstance(parsed, JsonSchemaParsed) and parsed.graph is not None:
        return parsed.graph
    graph = parse(parsed.text).graph
    assert graph is not None
    return graph


def _load(text: str, what: str) -> tuple[Any, str, bool]:
    """(JSON value, draft URI, whether $ref siblings apply), checked against the meta-schema."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError) as e:
        where = f" at line {e.lineno} column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        msg = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
        raise InvalidSchema(f"{what} is not JSON: {msg}{where}") from None
    declared = value.get("$schema", DEFAULT_DRAFT) if isinstance(value, dict) else DEFAULT_DRAFT
    key = declared.split("://", 1)[-1].rstrip("#") if isinstance(declared, str) else None
    if key not in _DRAFTS:
        supported = ", ".join(f"'{_uri(k)}'" for k in _DRAFTS)
        raise InvalidSchema(f"{what} has an unsupported $schema {declared!r}: use one of {supported}")
    validator_name, siblings = _DRAFTS[key]
    meta = _meta_validator(validator_name)
    if not meta.is_valid(value):  # the fast path; the best error only when there is one
        error = jsonschema.exceptions.best_match(meta.iter_errors(value))
        pointer = "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in error.absolute_path)
        raise InvalidSchema(f"{what} is not a valid JSON Schema: {error.message} at {pointer or '/'}")
    return value, _uri(key), siblings


@cache
def _meta_validator(name: str) -> Any:
    """A validator of schemas against the draft's meta-schema, ``format: regex`` included."""
    cls = getattr(jsonschema, name)
    return cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)


def _uri(key: str) -> str:
    """The draft's $schema as its meta-schema spells it."""
    return f"https://{key}" if "/draft/" in key else f"http://{key}#"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
