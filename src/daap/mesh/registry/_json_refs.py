"""Resolve a JSON Schema's ``$ref``\\s by linking its documents into one graph of Python objects.

Comparing two schemas walks both at once; following ``$ref`` by URI at every step
would be slow and would need the document each node came from. Instead, after
parsing, every ``{"$ref": ...}`` is replaced by the very object it points at, so
``{"items": {"$ref": "#"}}`` becomes a list node whose ``items`` *is* the root:
the graph may be cyclic, and the comparison memoizes on object identity.

A reference resolves, in order, to: the current document (``#...``), a
Confluent schema reference by its name, or a document whose ``$id`` equals the
reference resolved against the current document's ``$id``. The fragment is a
JSON pointer (``#/$defs/address``) or a plain name (``$anchor``,
``$dynamicAnchor``, draft 7's ``"$id": "#name"``). ``$recursiveRef`` and
``$dynamicRef`` are read as plain ``$ref`` (dynamic scope is not modelled).

Draft 7 ignores the keywords next to ``$ref``; from 2019-09 on they apply too,
so such a node becomes ``{...siblings, "allOf": [target, ...]}`` in place.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urljoin

from daap.mesh.registry._types import InvalidSchema

REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
# Where subschemas live: one schema, a list of schemas, a map of name -> schema.
_ONE = frozenset(
    [
        "additionalItems",
        "additionalProperties",
        "contains",
        "contentSchema",
        "else",
        "if",
        "items",
        "not",
        "propertyNames",
        "then",
        "unevaluatedItems",
        "unevaluatedProperties",
    ]
)
_LIST = frozenset(("allOf", "anyOf", "oneOf", "prefixItems", "items"))
_MAP = frozenset(
    ("$defs", "definitions", "dependentSchemas", "dependencies", "patternProperties", "properties")
)
# Keywords that do not constrain a value: a $ref next to only these has no siblings that matter.
ANNOTATIONS = frozenset(
    [
        "$schema",
        "$id",
        "$comment",
        "$anchor",
        "$dynamicAnchor",
        "$recursiveAnchor",
        "$defs",
        "definitions",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$vocabulary",
    ]
)


def pointer_token(token: str | int) -> str:
    """One JSON pointer token, escaped (RFC 6901): ``a/b`` -> ``a~1b``."""
    return str(token).replace("~", "~0").replace("/", "~1")


def subschemas(node: Any) -> Iterator[tuple[Any, str | int, Any, str]]:
    """Each direct subschema of ``node`` as (container, key in container, child, pointer suffix)."""
    if not isinstance(node, dict):
        return
    for keyword, value in node.items():
        if keyword in _LIST and isinstance(value, list):
            for i, child in enumerate(value):
                yield value, i, child, f"/{keyword}/{i}"
        elif keyword in _ONE and isinstance(value, dict | bool):
            yield node, keyword, value, f"/{keyword}"
        elif keyword in _MAP and isinstance(value, dict):
            for name, child in value.items():
                if isinstance(child, dict | bool):
                    yield value, name, child, f"/{keyword}/{pointer_token(name)}"


def ref_of(node: Any) -> str | None:
    """The reference a schema node makes, if any."""
    if isinstance(node, dict):
        for keyword in REF_KEYWORDS:
            ref = node.get(keyword)
            if isinstance(ref, str):
                return ref
    return None


@dataclass
class _Document:
    name: str  # "" for the schema itself, else the Confluent reference name
    root: Any
    base: str  # the root's $id, or the name
    siblings_apply: bool  # 2019-09 and later
    anchors: dict[str, Any] = field(default_factory=dict)
    refs: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (node, its pointer)

    def where(self, pointer: str) -> str:
        place = pointer or "/"
        return place if not self.name else f"{place} of reference '{self.name}'"


@dataclass(frozen=True)
class Linked:
    """A schema graph and the nodes more than one edge may reach (reference targets)."""

    root: Any
    shared: frozenset[int]  # ids of nodes in ``root``'s graph; only cycles and sharing pass them


def link(main: tuple[Any, bool], references: Mapping[str, tuple[Any, bool]]) -> Linked:
    """The main schema with every reference replaced by its target (mutates the values given).

    ``main`` and each reference are (fresh JSON value, whether ``$ref`` siblings apply).
    Raises InvalidSchema for a reference that resolves nowhere or only to itself.
    """
    docs = [_Document("", main[0], _base(main[0], ""), main[1])]
    docs += [_Document(name, value, _base(value, name), sib) for name, (value, sib) in references.items()]
    by_uri: dict[str, _Document] = {}
    for doc in reversed(docs):  # the main document wins a clash
        by_uri[doc.name] = by_uri[doc.base] = doc
        _index(doc, doc.root, "")
    targets = {id(node): _lookup(doc, by_uri, node, pointer) for doc in docs for node, pointer in doc.refs}
    kept = {id(node) for doc in docs if doc.siblings_apply for node, _ in doc.refs if _has_siblings(node)}
    final: dict[int, Any] = {}  # plain reference node -> the node it stands for
    for doc in docs:
        for node, pointer in doc.refs:
            if id(node) not in kept:
                final[id(node)] = _final(node, targets, kept, final, doc.where(pointer))
    kept_nodes = [node for doc in docs for node, _ in doc.refs if id(node) in kept]
    for doc in docs:  # in place: a node with siblings keeps its identity and becomes an allOf
        for node, pointer in doc.refs:
            if id(node) in kept:
                target = _final(targets[id(node)], targets, kept, final, doc.where(pointer))
                for keyword in REF_KEYWORDS:
                    node.pop(keyword, None)
                node["allOf"] = [target, *node.get("allOf", [])]
    seen: set[int] = set()
    for doc in docs:
        _patch(doc.root, final, kept, seen)
    root = main[0]
    if ref_of(root) is not None and id(root) not in kept:
        root = final[id(root)]
    shared = {id(node) for node in final.values()} | {id(node["allOf"][0]) for node in kept_nodes}
    return Linked(root, frozenset(shared | {id(root)}))


def _base(root: Any, name: str) -> str:
    if isinstance(root, dict) and isinstance(root.get("$id"), str):
        return str(root["$id"]).split("#")[0]
    return name


def _index(doc: _Document, node: Any, pointer: str) -> None:
    """Collect the document's anchors and reference nodes (a JSON tree: no cycles yet)."""
    if not isinstance(node, dict):
        return
    for keyword in ("$anchor", "$dynamicAnchor"):
        if isinstance(node.get(keyword), str):
            doc.anchors.setdefault(node[keyword], node)
    if isinstance(node.get("$id"), str) and node["$id"].startswith("#"):
        doc.anchors.setdefault(node["$id"][1:], node)
    if ref_of(node) is not None:
        doc.refs.append((node, pointer))
    for _, _, child, suffix in subschemas(node):
        _index(doc, child, pointer + suffix)


def _lookup(doc: _Document, by_uri: Mapping[str, _Document], node: dict[str, Any], pointer: str) -> Any:
    ref = ref_of(node)
    assert ref is not None
    uri, _, fragment = ref.partition("#")
    target_doc = doc if not uri else by_uri.get(uri) or by_uri.get(urljoin(doc.base, uri))
    if target_doc is None:
        raise InvalidSchema(
            f"unresolved $ref '{ref}' at {doc.where(pointer)}: no schema reference named '{uri}'"
        )
    found = _resolve_fragment(target_doc, unquote(fragment))
    if found is _MISSING:
        raise InvalidSchema(f"unresolved $ref '{ref}' at {doc.where(pointer)}: nothing at '#{fragment}'")
    return found


_MISSING = object()


def _resolve_fragment(doc: _Document, fragment: str) -> Any:
    if fragment and not fragment.startswith("/"):
        return doc.anchors.get(fragment, _MISSING)
    node: Any = doc.root
    for raw in fragment.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return _MISSING
    return node


def _has_siblings(node: dict[str, Any]) -> bool:
    return any(key not in ANNOTATIONS and key not in REF_KEYWORDS for key in node)


def _final(node: Any, targets: Mapping[int, Any], kept: set[int], final: dict[int, Any], where: str) -> Any:
    """Follow a chain of references to a node that is not a plain reference."""
    chain: list[int] = []
    while ref_of(node) is not None and id(node) not in kept:
        if id(node) in final:
            node = final[id(node)]
            break
        if id(node) in chain:
            raise InvalidSchema(f"$ref at {where} refers only to itself (a reference loop)")
        chain.append(id(node))
        node = targets[id(node)]
    for link_id in chain:
        final[link_id] = node
    return node


def _patch(node: Any, final: Mapping[int, Any], kept: set[int], seen: set[int]) -> None:
    """Replace each plain reference below ``node`` by its target, visiting each node once."""
    if not isinstance(node, dict) or id(node) in seen:
        return
    seen.add(id(node))
    for container, key, child, _ in list(subschemas(node)):
        if isinstance(child, dict) and id(child) in final and id(child) not in kept:
            container[key] = final[id(child)]
            _patch(child, final, kept, seen)  # its own subschemas may hold references too
        _patch(container[key], final, kept, seen)
