"""Objects and arrays: content models, where properties and tuple items follow the same rules.

A content model is *closed* when the rest (``additionalProperties``; for tuples
``additionalItems``, or ``items`` after ``prefixItems``) is ``false``, *open* when
it is absent, ``true`` or ``{}``, and *partially open* when it is another schema
(or a ``patternProperties`` entry matches the property name). A member only one
side declares is judged against the other side's rest, in the names Confluent
uses with ``PROPERTY`` or ``ITEM`` in them.
"""

from __future__ import annotations

from typing import Any

from daap.mesh.registry._json_common import (
    Compare,
    Finding,
    Schema,
    accepts_all,
    prefixed,
    regex_search,
    sizes,
    summary,
)
from daap.mesh.registry._json_refs import pointer_token


def member_added(
    compare: Compare, noun: str, what: str, member: Schema, writer_rest: Schema
) -> list[Finding]:
    """A property (item position) only the reader declares: the writer's rest decides."""
    if writer_rest is False or accepts_all(member):
        return []  # ..._ADDED_TO_CLOSED/UNOPEN_CONTENT_MODEL, ..._WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_...
    if accepts_all(writer_rest):
        sentence = (
            f"{what} is new in the reading schema, but the writing schema's content model is open: "
            f"written documents may already hold it with a value this schema rejects"
        )
        return [("", f"{noun}_ADDED_TO_OPEN_CONTENT_MODEL", sentence, True)]
    issues = compare(member, writer_rest)
    if not issues:
        return []  # ..._ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    sentence = (
        f"{what} is new in the reading schema, but the writing schema's partially open content model "
        f"allowed other values for it: {issues[0][2]}"
    )
    return [("", f"{noun}_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", sentence, True)]


def member_removed(
    compare: Compare, noun: str, what: str, reader_rest: Schema, member: Schema
) -> list[Finding]:
    """A property (item position) only the writer declares: the reader's rest decides."""
    if member is False or accepts_all(reader_rest):
        return []  # ..._REMOVED_FROM_OPEN_CONTENT_MODEL, ..._WITH_FALSE_REMOVED_FROM_CLOSED_...
    if reader_rest is False:
        sentence = (
            f"{what} was removed and the reading schema's content model is closed: "
            f"written documents holding it are rejected"
        )
        return [("", f"{noun}_REMOVED_FROM_CLOSED_CONTENT_MODEL", sentence, True)]
    issues = compare(reader_rest, member)
    if not issues:
        return []  # ..._REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    sentence = (
        f"{what} was removed and the reading schema's partially open content model "
        f"does not accept its written values: {issues[0][2]}"
    )
    return [("", f"{noun}_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", sentence, True)]


def rest_rule(
    compare: Compare, plural: str, path: str, reader_rest: Schema, writer_rest: Schema
) -> list[Finding]:
    """What neither side declares: the two rests against each other (ADDITIONAL_PROPERTIES_...)."""
    if writer_rest is False or accepts_all(reader_rest):
        return []  # ADDITIONAL_..._ADDED / ADDITIONAL_..._EXTENDED
    if reader_rest is False:
        sentence = (
            f"the reading schema closes the content model that the writing schema left open: "
            f"written values with undeclared {plural.lower()} are rejected"
        )
        return [(path, f"ADDITIONAL_{plural}_REMOVED", sentence, False)]
    if accepts_all(writer_rest):
        sentence = (
            f"the reading schema constrains undeclared {plural.lower()} ({summary(reader_rest)}) "
            f"that the writing schema left unconstrained"
        )
        return [(path, f"ADDITIONAL_{plural}_NARROWED", sentence, False)]
    return prefixed(path, compare(reader_rest, writer_rest))


# A reader with none of these has nothing to say about an object (array) beyond its type.
OBJECT_KEYWORDS = frozenset(
    [
        "properties",
        "patternProperties",
        "additionalProperties",
        "required",
        "maxProperties",
        "minProperties",
        "dependencies",
        "dependentRequired",
        "dependentSchemas",
    ]
)
ARRAY_KEYWORDS = frozenset(["items", "prefixItems", "additionalItems", "maxItems", "minItems", "uniqueItems"])


# --- objects ---------------------------------------------------------------------------------


def objects(compare: Compare, reader: dict[str, Any], writer: dict[str, Any]) -> list[Finding]:
    found = sizes("object", reader, writer)
    rprops: dict[str, Any] = reader.get("properties") or {}
    wprops: dict[str, Any] = writer.get("properties") or {}
    rpatterns: dict[str, Any] = reader.get("patternProperties") or {}
    wpatterns: dict[str, Any] = writer.get("patternProperties") or {}
    radd, wadd = reader.get("additionalProperties", True), writer.get("additionalProperties", True)
    for name, schema in rprops.items():
        schema = _with_patterns(name, schema, rpatterns)
        if name in wprops:
            issues = compare(schema, _with_patterns(name, wprops[name], wpatterns))
        else:
            rest = _rest_for(name, wpatterns, wadd)
            issues = member_added(compare, "PROPERTY", f"property '{name}'", schema, rest)
        if issues:
            found += prefixed("/properties/" + pointer_token(name), issues)
    for name, schema in wprops.items():
        if name not in rprops:
            rest = _rest_for(name, rpatterns, radd)
            schema = _with_patterns(name, schema, wpatterns)
            issues = member_removed(compare, "PROPERTY", f"property '{name}'", rest, schema)
            found += prefixed("/properties/" + pointer_token(name), issues)
    found += _required(reader, writer, wpatterns, wadd)
    for pattern, schema in rpatterns.items():
        path = "/patternProperties/" + pointer_token(pattern)
        found += rest_rule(compare, "PROPERTIES", path, schema, wpatterns.get(pattern, wadd))
    for pattern, schema in wpatterns.items():
        if pattern not in rpatterns:
            found += rest_rule(compare, "PROPERTIES", "/additionalProperties", radd, schema)
    found += rest_rule(compare, "PROPERTIES", "/additionalProperties", radd, wadd)
    return found + _dependencies(compare, reader, writer)


def _rest_for(name: str, patterns: dict[str, Any], additional: Schema) -> Schema:
    """The schema an undeclared property ``name`` gets: matching patternProperties, else additional."""
    matching = [schema for pattern, schema in patterns.items() if regex_search(pattern, name)]
    if not matching:
        return additional
    return matching[0] if len(matching) == 1 else {"allOf": matching}


def _with_patterns(name: str, schema: Schema, patterns: dict[str, Any]) -> Schema:
    """A declared property must also satisfy every patternProperties entry matching its name."""
    if not patterns:
        return schema
    matching = [s for pattern, s in patterns.items() if regex_search(pattern, name)]
    return {"allOf": [schema, *matching]} if matching else schema


def _required(
    reader: dict[str, Any], writer: dict[str, Any], wpatterns: dict[str, Any], wadd: Schema
) -> list[Finding]:
    """REQUIRED_ATTRIBUTE_ADDED, or REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL for a new one.

    As in Confluent, a newly required property with a ``default`` in the reader is
    accepted (REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED): a reader fills it in.
    """
    found: list[Finding] = []
    rprops: dict[str, Any] = reader.get("properties") or {}
    wprops: dict[str, Any] = writer.get("properties") or {}
    had = set(writer.get("required") or ())
    for i, name in enumerate(reader.get("required") or ()):
        prop = rprops.get(name)
        if name in had or (isinstance(prop, dict) and "default" in prop):
            continue
        rest = _rest_for(name, wpatterns, wadd)
        if name in wprops or accepts_all(rest):
            kind = "REQUIRED_ATTRIBUTE_ADDED"
            sentence = (
                f"property '{name}' is required by the reading schema but optional in the writing schema: "
                f"written documents may lack it"
            )
        else:
            kind = "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
            never = "never hold it" if rest is False else "may lack it"
            sentence = (
                f"property '{name}' is new and required in the reading schema, but the writing schema's "
                f"content model is not open: written documents {never}"
            )
        found.append((f"/required/{i}", kind, sentence, True))
    return found


def _dependencies(compare: Compare, reader: dict[str, Any], writer: dict[str, Any]) -> list[Finding]:
    """dependentRequired / dependentSchemas (draft 7: both live in ``dependencies``)."""
    found: list[Finding] = []
    rlists, rschemas = _split_dependencies(reader)
    wlists, wschemas = _split_dependencies(writer)
    required = set(writer.get("required") or ())
    for name, (needed, keyword) in rlists.items():
        had = wlists.get(name, ([], ""))[0]
        extra = [p for p in needed if p not in had and p not in required]
        if not extra:
            continue  # equal, DEPENDENCY_ARRAY_NARROWED or _REMOVED
        kind = "ADDED" if name not in wlists else "EXTENDED" if set(had) <= set(needed) else "CHANGED"
        sentence = (
            f"when '{name}' is present the reading schema also requires {extra}, "
            f"which written documents may lack"
        )
        found.append((f"/{keyword}/{pointer_token(name)}", f"DEPENDENCY_ARRAY_{kind}", sentence, False))
    for name, (schema, keyword) in rschemas.items():
        path = f"/{keyword}/{pointer_token(name)}"
        if name in wschemas:
            found += prefixed(path, compare(schema, wschemas[name][0]))
        elif not accepts_all(schema):
            sentence = f"when '{name}' is present the reading schema also applies {summary(schema)}"
            found.append((path, "DEPENDENCY_SCHEMA_ADDED", sentence, False))
    return found


def _split_dependencies(
    schema: dict[str, Any],
) -> tuple[dict[str, tuple[list[str], str]], dict[str, tuple[Schema, str]]]:
    lists: dict[str, tuple[list[str], str]] = {}
    schemas: dict[str, tuple[Schema, str]] = {}
    for keyword in ("dependencies", "dependentRequired", "dependentSchemas"):
        for name, value in (schema.get(keyword) or {}).items():
            if isinstance(value, list):
                lists[name] = (value, keyword)
            else:
                schemas[name] = (value, keyword)
    return lists, schemas


# --- arrays ----------------------------------------------------------------------------------


def arrays(compare: Compare, reader: dict[str, Any], writer: dict[str, Any]) -> list[Finding]:
    found = sizes("array", reader, writer)
    if reader.get("uniqueItems") is True and writer.get("uniqueItems") is not True:
        sentence = "the reading schema requires unique items: written arrays may repeat an item"
        found.append(("/uniqueItems", "UNIQUE_ITEMS_ADDED", sentence, False))
    rprefix, rprefix_key, rrest, rrest_key = _tuple(reader)
    wprefix, _, wrest, _ = _tuple(writer)
    if not rprefix and not wprefix:  # plain lists: the item schemas, recursively
        return found + prefixed(f"/{rrest_key}", compare(rrest, wrest))
    for i in range(max(len(rprefix), len(wprefix))):
        path = f"/{rprefix_key}/{i}"
        if i < len(rprefix) and i < len(wprefix):
            found += prefixed(path, compare(rprefix[i], wprefix[i]))
        elif i < len(rprefix):
            found += prefixed(path, member_added(compare, "ITEM", f"item {i}", rprefix[i], wrest))
        else:
            found += prefixed(path, member_removed(compare, "ITEM", f"item {i}", rrest, wprefix[i]))
    return found + rest_rule(compare, "ITEMS", f"/{rrest_key}", rrest, wrest)


def _tuple(schema: dict[str, Any]) -> tuple[list[Schema], str, Schema, str]:
    """(positional item schemas, their keyword, schema of the rest, its keyword) in any draft."""
    if isinstance(schema.get("prefixItems"), list):
        return schema["prefixItems"], "prefixItems", schema.get("items", True), "items"
    items = schema.get("items", True)
    if isinstance(items, list):
        return items, "items", schema.get("additionalItems", True), "additionalItems"
    return [], "items", items, "items"
