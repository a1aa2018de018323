"""How much one GraphQL request may ask for, checked before anything runs.

GraphQL lets one request fan out: aliases repeat a field, fragments nest, and
introspection types are recursive (``ofType { ofType { … } }``). The rule
here measures each operation once (fragments expanded, with variables) and
refuses it with a clear error instead of running it:

- ``max_depth``: nesting of selections. Our data types are flat (3 levels);
  the standard IntrospectionQuery needs 15, so the default of 20 lets GraphiQL
  in and keeps recursive introspection out.
- ``max_fields``: selections in total, fragments expanded (stops fragment bombs).
- ``max_root_fields``: data fields per request, aliases included; each runs a query.
- ``max_page`` / ``max_rows``: rows per page and in total (a port field counts
  its ``limit``, default ``default_page``; a named query counts ``default_page``).
  Bulk reads belong on Flight SQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    SKIP,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    Node,
    OperationDefinitionNode,
    SelectionNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)


@dataclass(frozen=True)
class Limits:
    default_page: int = 100
    max_page: int = 1000
    max_rows: int = 2000
    max_depth: int = 20
    max_fields: int = 2000
    max_root_fields: int = 10


class _TooComplex(Exception):
    """Measuring stopped: the operation already selects more than ``max_fields``."""


def limits_rule(limits: Limits, variables: Mapping[str, Any] | None) -> type[ValidationRule]:
    """The validation rule for one request (it needs the request's variables)."""

    class LimitsRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
            for message, code, at in _problems(self.context, node, limits, variables or {}):
                self.report_error(GraphQLError(message, at, extensions={"code": code}))
            return SKIP

    return LimitsRule


def _problems(
    context: ValidationContext, op: OperationDefinitionNode, limits: Limits, variables: Mapping[str, Any]
) -> Iterator[tuple[str, str, Node]]:
    try:
        depth, _ = _measure(context, op.selection_set.selections, 1, frozenset(), limits.max_fields)
    except _TooComplex:
        yield f"query selects more than {limits.max_fields} fields", "QUERY_TOO_COMPLEX", op
        return
    if depth > limits.max_depth:
        yield f"query is {depth} levels deep; the limit is {limits.max_depth}", "QUERY_TOO_DEEP", op
    roots = [f for f in _root_fields(context, op.selection_set.selections, frozenset()) if _is_data(f)]
    if len(roots) > limits.max_root_fields:
        message = f"query asks for {len(roots)} data fields (aliases included); the limit is"
        yield f"{message} {limits.max_root_fields} per request", "QUERY_TOO_COMPLEX", op
    total = 0
    for field in roots:
        rows = _rows(context, field, limits, variables)
        total += rows
        if rows > limits.max_page:
            yield (
                f"{(field.alias or field.name).value}: limit {rows} is above the maximum of "
                f"{limits.max_page} rows per page; page with `after`, or read in bulk over Flight SQL",
                "LIMIT_EXCEEDED",
                field,
            )
    if total > limits.max_rows:
        yield f"query asks for {total} rows in total; the limit is {limits.max_rows}", "LIMIT_EXCEEDED", op


def _measure(
    context: ValidationContext, selections: Any, depth: int, visiting: frozenset[str], budget: int
) -> tuple[int, int]:
    """(deepest level, number of fields) below ``selections``; fragments expanded."""
    deepest, count = 0, 0
    for selection in selections:
        below, fields = depth, 0
        if isinstance(selection, FieldNode):
            fields = 1
            if selection.selection_set:
                inner = _measure(context, selection.selection_set.selections, depth + 1, visiting, budget)
                below, fields = max(depth, inner[0]), 1 + inner[1]
        else:
            inner_selections, visiting_next = _fragment(context, selection, visiting)
            below, fields = _measure(context, inner_selections, depth, visiting_next, budget)
        deepest, count = max(deepest, below), count + fields
        if count > budget:
            raise _TooComplex
    return deepest, count


def _fragment(
    context: ValidationContext, selection: SelectionNode, visiting: frozenset[str]
) -> tuple[Any, frozenset[str]]:
    """The selections inside an inline fragment or a spread (none for a cyclic or unknown spread)."""
    if isinstance(selection, InlineFragmentNode):
        return selection.selection_set.selections, visiting
    assert isinstance(selection, FragmentSpreadNode)
    name = selection.name.value
    fragment = context.get_fragment(name)
    if fragment is None or name in visiting:  # other rules report unknown and cyclic fragments
        return (), visiting
    return fragment.selection_set.selections, visiting | {name}


def _root_fields(
    context: ValidationContext, selections: Any, visiting: frozenset[str]
) -> Iterator[FieldNode]:
    for selection in selections:
        if isinstance(selection, FieldNode):
            yield selection
        else:
            inner, visiting_next = _fragment(context, selection, visiting)
            yield from _root_fields(context, inner, visiting_next)


def _is_data(field: FieldNode) -> bool:
    return not field.name.value.startswith("__")


def _rows(context: ValidationContext, field: FieldNode, limits: Limits, variables: Mapping[str, Any]) -> int:
    query = context.schema.query_type
    definition = query.fields.get(field.name.value) if query else None
    if definition is None or "limit" not in definition.args:
        return limits.default_page
    for argument in field.arguments or ():
        if argument.name.value != "limit":
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode) and isinstance(variables.get(value.name.value), int):
            return int(variables[value.name.value])
    return limits.default_page
