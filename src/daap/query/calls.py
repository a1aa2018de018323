"""Named queries called from SQL: ``FROM product.query(args)`` on every protocol.

Flight SQL and PostgreSQL clients only speak SQL, so a product's named query
is also a table function: ``SELECT * FROM title_popularity.top_titles('drama',
top => 5)``. The call is expanded on the parse tree: the named query's own SQL
becomes a subquery, each ``$parameter`` replaced by the argument's expression,
cast to the parameter's declared type. Arguments are expressions of the
caller's query (literals, or ``?`` placeholders the engine binds), moved as
tree nodes: nothing is spliced into SQL text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlglot import exp

from daap.errors import ArgumentError, QueryError
from daap.query.guard import PortRef, parse_query
from daap.spec.model import NamedQuery

#: finds a product's named query by (product, name); raises NotFound
Lookup = Callable[[str, str], NamedQuery]


def calls(tree: exp.Query) -> list[exp.Table]:
    """The ``product.query(...)`` calls in ``tree``."""
    return [t for t in tree.find_all(exp.Table) if isinstance(t.this, exp.Anonymous) and t.db]


def expand(tree: exp.Query, lookup: Lookup) -> tuple[exp.Query, tuple[PortRef, ...]]:
    """A copy of ``tree`` with every named-query call replaced by its SQL.

    Returns:
        the expanded tree and the ports the called queries read.

    Raises:
        NotFound: no such product or named query.
        QueryError: an unknown, missing or surplus argument.
    """
    tree = _number_placeholders(tree.copy())
    refs: list[PortRef] = []
    for table in calls(tree):
        call = table.this
        query = lookup(table.db, call.name.lower())
        body, body_refs = parse_query(query.sql)
        refs += [r for r in body_refs if r not in refs]
        arguments = _arguments(query, call.expressions)
        expanded = body.copy().transform(lambda node, a=arguments, q=query: _substitute(node, a, q))
        alias = table.alias or query.name
        table.replace(exp.Subquery(this=expanded, alias=exp.TableAlias(this=exp.to_identifier(alias))))
    return tree, tuple(refs)


def _number_placeholders(tree: exp.Query) -> exp.Query:
    """``?`` -> ``$1, $2 …`` in text order, so arguments may move without changing binding.

    Text order is the order the engine binds ``?`` in; the tree's walk order is
    not, so each placeholder is marked, the SQL generated, and the marks sorted.
    """
    marked = [node for node in tree.find_all(exp.Placeholder) if node.this is None]
    for index, node in enumerate(marked):
        node.set("this", f"daap_mark_{index}_")
    text = tree.sql("duckdb")
    ordered = sorted(marked, key=lambda node: text.index(f"${node.this}"))
    for number, node in enumerate(ordered, start=1):
        node.set("this", str(number))
    return tree


def _arguments(query: NamedQuery, given: list[exp.Expression]) -> dict[str, exp.Expression]:
    names = [p.name for p in query.parameters]
    problems: list[str] = []
    arguments: dict[str, exp.Expression] = {}
    for index, argument in enumerate(given):
        if isinstance(argument, exp.Kwarg):
            name = argument.this.name
            value = argument.expression
        elif index < len(names):
            name, value = names[index], argument
        else:
            problems.append(f"argument {index + 1} is one too many ({len(names)} parameters)")
            continue
        if name not in names:
            problems.append(f"unknown parameter {name!r}")
        arguments[name] = value
    for param in query.parameters:
        if param.name in arguments:
            arguments[param.name] = exp.cast(arguments[param.name], param.sql_type)
        elif param.default is not None:
            arguments[param.name] = exp.cast(_literal(param.default), param.sql_type)
        elif param.required:
            problems.append(f"missing parameter {param.name!r} ({param.logical_type})")
        else:
            arguments[param.name] = exp.cast(exp.null(), param.sql_type)
    if problems:
        signature = ", ".join(f"{p.name} {p.logical_type}" for p in query.parameters)
        raise ArgumentError(f"call of {query.name}({signature}): " + "; ".join(problems))
    return arguments


def _substitute(node: exp.Expression, arguments: dict[str, exp.Expression], query: NamedQuery) -> Any:
    if isinstance(node, exp.Placeholder) and node.this is not None:
        name = str(node.this)
        if name not in arguments:
            raise QueryError(f"named query {query.name} uses ${name}, which it does not declare")
        return arguments[name].copy()
    return node


def _literal(value: object) -> exp.Expression:
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))
