"""Row filters and masks compiled into the relation a reader sees of a port.

The query path replaces each port a query reads by this relation::

    SELECT * REPLACE (<mask> AS email, ...) FROM <the port's files> WHERE <filters>

built with sqlglot from the product's ``access.yaml`` (:mod:`daap.spec.access`)
and the reader: ``principal.<attribute>`` in a filter becomes the reader's
value, as a literal. The relation keeps the port's columns, their order and
their types, so every protocol and every query shape — joins, subqueries,
CTEs, set operations, windows, aggregates, ``SELECT *`` — reads only what the
reader may see: there is nothing else under the name ``product.port``.

A filter's condition may use the port's columns, ``principal.<name>``,
literals, comparisons, ``AND``/``OR``/``NOT``, ``IN``, ``BETWEEN``, ``LIKE``,
``IS [NOT] NULL`` and a few plain functions (:data:`FUNCTIONS`); nothing that
reads other data. A principal without the attribute a filter needs compares
with NULL, so it sees no rows: filters fail closed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
from sqlglot import exp

from daap.errors import Diagnostic, SpecError
from daap.mesh.policy.policies import column_classifications
from daap.spec.access import (
    AccessSpec,
    RowFilter,
    access_problems,
    classification_mask,
    mask_for,
    mask_problem,
    parse_access,
)
from daap.spec.mesh import PrincipalSpec
from daap.spec.model import ColumnSpec, OutputPortSpec, ProductSpec
from daap.spec.yamlpos import load_yaml

#: the reader, in a filter's condition
PRINCIPAL = "principal"
#: the principal's own fields; any other name is one of its attributes
PRINCIPAL_FIELDS = ("name", "kind", "domain", "roles", "purposes")
_LISTS = ("roles", "purposes")
#: plain functions a condition may call
FUNCTIONS = frozenset({
    "lower", "upper", "trim", "coalesce", "length", "substring", "left", "right", "concat",
    "starts_with", "ends_with", "contains", "list_contains", "array_contains", "year", "month",
    "date_trunc", "abs", "round", "nullif", "strpos",
})  # fmt: skip
_NODES: tuple[type[exp.Expression], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.And, exp.Or,
    exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Is, exp.Between,
    exp.Like, exp.ILike, exp.Array, exp.Tuple, exp.Cast, exp.DataType, exp.Neg, exp.Add, exp.Sub,
    exp.Mul, exp.Div, exp.DPipe, exp.Var,
)  # fmt: skip


@dataclass(frozen=True)
class Restriction:
    """What one reader sees of one port: the filters that hold and the masks applied."""

    product: str
    port: str
    #: the names of the row filters applied, in declaration order
    filters: tuple[str, ...] = ()
    #: column -> mask
    masks: Mapping[str, str] = field(default_factory=dict)
    #: the compiled condition (duckdb SQL), None when every row is seen
    where: str | None = None
    #: the ``* REPLACE`` list (duckdb SQL), empty when nothing is masked
    replace: tuple[str, ...] = ()

    @property
    def restricts(self) -> bool:
        return self.where is not None or bool(self.replace)

    def relation(self, source: str) -> str:
        """The SQL of the restricted relation over ``source`` (a FROM-able expression)."""
        star = f"* REPLACE ({', '.join(self.replace)})" if self.replace else "*"
        where = f" WHERE {self.where}" if self.where is not None else ""
        return f"SELECT {star} FROM {source} AS __port{where}"

    @property
    def signature(self) -> tuple[str | None, tuple[str, ...]]:
        """What the reader's result depends on (part of the result cache's key)."""
        return self.where, self.replace


class FilterError(ValueError):
    """A row filter's condition cannot be compiled (say which filter and why)."""


def compile_restriction(
    product: str,
    port: OutputPortSpec,
    access: AccessSpec,
    principal: PrincipalSpec,
    *,
    exempt: bool,
    unmasked: Mapping[str, bool],
    mesh_masks: Mapping[str, str],
    hash_key: str,
) -> Restriction:
    """The restriction of ``port`` for ``principal``.

    Args:
        exempt: the reader sees every row (it may administer the product).
        unmasked: classification -> whether the reader may ``read_unmasked`` it.
        mesh_masks: ``masks:`` of ``mesh.yaml``.
        hash_key: the mesh's secret key of the ``hash`` mask.

    Raises:
        FilterError: a filter's condition is not allowed (fails closed: no query runs).
    """
    columns = {c.name: c for c in port.contract.columns}
    applied: list[str] = []
    conditions: list[exp.Expression] = []
    for rule in access.filters_for(port.name):
        if exempt or set(rule.exempt) & set(principal.roles):
            continue
        problem = condition_problem(rule, columns)
        if problem is not None:
            raise FilterError(f"row filter {rule.name!r} of {product}: {problem}")
        conditions.append(exp.paren(_bind(_parse(rule.where), principal), copy=False))
        applied.append(rule.name)
    masks: dict[str, str] = {}
    replace: list[str] = []
    for column in port.contract.columns:
        mask = mask_for(port.name, column, access, mesh_masks)
        if mask == "none" and column.nested:  # a classified field inside: the whole value is hidden
            inner = set(column_classifications(column)) - {column.classification}
            hidden = [c for c in inner if c and not unmasked.get(c)]
            if any(classification_mask(c, access, mesh_masks) != "none" for c in hidden):
                mask = "null"
        elif column.classification is not None and unmasked.get(column.classification):
            continue
        if mask == "none":
            continue
        if mask_problem(mask, column) is not None:  # reported by validate; never change a column's type
            mask = "null"
        masks[column.name] = mask
        replace.append(f"{_mask(mask, column, hash_key)} AS {_quote(column.name)}")
    where = exp.and_(*conditions, copy=False).sql("duckdb") if conditions else None
    return Restriction(product, port.name, tuple(applied), masks, where, tuple(replace))


def access_file_problems(
    product: ProductSpec, path: Path, shown: str, mesh_masks: Mapping[str, str]
) -> list[Diagnostic]:
    """Every problem of the ``access.yaml`` at ``path`` for ``product`` (none if there is no file):
    its shape, then what does not fit the product, then each filter's condition."""
    if not path.is_file():
        return []
    try:
        doc = load_yaml(path, shown)
    except SpecError as exc:
        return list(exc.diagnostics)
    access = parse_access(doc)
    if doc.diagnostics:
        return list(doc.diagnostics)
    found = access_problems(product, access, mesh_masks)
    return found + filter_problems(access, {p.name: p for p in product.output_ports})


def filter_problems(access: AccessSpec, ports: Mapping[str, OutputPortSpec]) -> list[Diagnostic]:
    """Each row filter whose condition is not allowed, at its ``where``."""
    found = []
    shown = access.path or "access.yaml"
    for rule in access.row_filters:
        for name in rule.ports or tuple(ports):
            port = ports.get(name)
            if port is None:
                continue  # reported by spec.access.access_problems
            problem = condition_problem(rule, {c.name: c for c in port.contract.columns})
            if problem is not None:
                found.append(Diagnostic(shown, rule.line, rule.col, f"row filter {rule.name!r}: {problem}"))
                break
    return found


def condition_problem(rule: RowFilter, columns: Mapping[str, ColumnSpec]) -> str | None:
    """Why ``rule``'s condition cannot be used on a port with ``columns``, or None."""
    try:
        tree = _parse(rule.where)
    except FilterError as exc:
        return str(exc)
    for node in tree.walk():
        if isinstance(node, _NODES):
            if isinstance(node, exp.Column) and (problem := _column_problem(node, columns)):
                return problem
            continue
        if isinstance(node, exp.Func):
            name = node.name.lower() if isinstance(node, exp.Anonymous) else node.sql_name().lower()
            if name not in FUNCTIONS:
                allowed = ", ".join(sorted(FUNCTIONS))
                return f"function {name} is not allowed in a row filter (allowed: {allowed})"
            continue
        what = node.sql("duckdb")[:60]
        use = "use columns, principal.<name>, literals and comparisons"
        return f"{what!r} is not allowed in a row filter: {use}"
    return None


def _column_problem(node: exp.Column, columns: Mapping[str, ColumnSpec]) -> str | None:
    parts = [p.name for p in node.parts]
    if parts[0] == PRINCIPAL:
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[1] != "attributes"):
            return f"{node.sql('duckdb')!r}: write principal.<name> or principal.attributes.<name>"
        return None
    if len(parts) != 1:
        return f"{node.sql('duckdb')!r}: name a column of the port without a table"
    if parts[0] not in columns:
        return f"unknown column {parts[0]!r} (columns: {', '.join(columns)})"
    return None


def _parse(condition: str) -> exp.Expression:
    try:
        tree = sqlglot.parse_one(condition, read="duckdb")
        assert isinstance(tree, exp.Expression)
        return tree
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        raise FilterError(f"cannot parse {condition!r}: {first.get('description', exc)}") from exc


def _bind(tree: exp.Expression, principal: PrincipalSpec) -> exp.Expression:
    """``principal.<name>`` replaced by the principal's value (a literal; NULL when it has none)."""

    def value(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.In) and isinstance(node.args.get("field"), exp.Column):
            field = node.args["field"]
            parts = [p.name for p in field.parts]
            if parts[0] == PRINCIPAL and parts[-1] in _LISTS:
                items = list(getattr(principal, parts[-1]))
                if not items:
                    return exp.false()
                return exp.In(this=node.this, expressions=[exp.Literal.string(i) for i in items])
        if not isinstance(node, exp.Column):
            return node
        parts = [p.name for p in node.parts]
        if parts[0] != PRINCIPAL:
            return node
        name = parts[-1]
        if len(parts) == 2 and name in PRINCIPAL_FIELDS:
            found = getattr(principal, name)
            if name in _LISTS:
                return exp.Array(expressions=[exp.Literal.string(i) for i in found])
            return exp.Literal.string(found) if found is not None else exp.null()
        attribute = principal.attributes.get(name)
        return exp.Literal.string(str(attribute)) if attribute is not None else exp.null()

    return tree.copy().transform(value, copy=False)


def _mask(mask: str, column: ColumnSpec, key: str) -> str:
    col = _quote(column.name)
    if mask == "hash":
        salted = f"{_literal(key)} || {col}"
        return f"CASE WHEN {col} IS NULL THEN NULL ELSE left(sha256({salted}), 32) END"
    if mask == "last4":
        kept = f"CASE WHEN length({col}) <= 4 THEN '***' ELSE '***' || right({col}, 4) END"
        return f"CASE WHEN {col} IS NULL THEN NULL ELSE {kept} END"
    if mask == "year":
        truncated = f"date_trunc('year', {col})"
        return f"CAST({truncated} AS DATE)" if column.logical_type == "date" else truncated
    if mask == "redact" and column.logical_type == "string":
        return f"CASE WHEN {col} IS NULL THEN NULL ELSE '***' END"
    # null, and redact of a value that is not text: a NULL of the column's type, which reads nothing
    return f"CAST(NULL AS {column.sql_type})"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def hash_key_of(secret: bytes) -> str:
    """The ``hash`` mask's key from the mesh's secret (hex, so it is a plain SQL literal)."""
    return hashlib.sha256(b"daap-mask\0" + secret).hexdigest()


__all__ = [
    "FUNCTIONS",
    "FilterError",
    "Restriction",
    "access_file_problems",
    "compile_restriction",
    "condition_problem",
    "filter_problems",
    "hash_key_of",
]
