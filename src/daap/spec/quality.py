"""ODCS quality rules of an output port → :class:`QualityRule`.

ODCS v3 puts ``quality:`` lists on the schema object and on each property;
a property's ``relationships:`` become rules too::

    schema:
      - name: plays
        quality:
          - {metric: rowCount, mustBeGreaterThan: 0}
          - {metric: duplicateValues, arguments: {properties: [user_id, ts]}}
        properties:
          - name: watch_seconds
            quality:
              - metric: invalidValues          # ``rule:`` in older ODCS
                arguments: {pattern: '[0-9]+'}
                mustBeLessThan: 1
                unit: percent
                severity: warning
              - type: sql
                query: SELECT max({property}) FROM {object}
                mustBeLessOrEqualTo: 86400
          - name: title_id
            relationships:
              - {type: foreignKey, to: titles.titles.title_id}

Rules of type ``text`` and ``custom`` are for people and other tools; daap
skips them. Every problem is reported on the document at its key, all at once.
Whether a relationship's target exists is for the mesh to check
(:func:`relationship_targets`): a contract alone does not know other products.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from daap.spec.diagnose import suggest
from daap.spec.model import ColumnSpec, ContractSpec, QualityRule, QualityUnit, Severity
from daap.spec.yamlpos import At, Loc, YamlDoc, kind

#: comparison operators, as ODCS names them
OPERATORS = (
    "mustBe",
    "mustNotBe",
    "mustBeGreaterThan",
    "mustBeGreaterOrEqualTo",
    "mustBeLessThan",
    "mustBeLessOrEqualTo",
    "mustBeBetween",
    "mustNotBeBetween",
)
#: operators whose threshold is a ``[low, high]`` pair
RANGES = ("mustBeBetween", "mustNotBeBetween")
#: operators whose value the ODCS model types itself (and reports when wrong)
_TYPED_BY_MODEL = frozenset(OPERATORS) - {"mustBe", "mustNotBe"}
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
UNITS: tuple[QualityUnit, ...] = ("rows", "percent")
TYPES = ("library", "sql", "text", "custom")
#: the ODCS dimensions, with their short synonyms
DIMENSIONS = {
    "accuracy": "ac",
    "completeness": "cp",
    "conformity": "cf",
    "consistency": "cs",
    "coverage": "cv",
    "timeliness": "tm",
    "uniqueness": "uq",
}
#: ``{object}`` and ``{property}`` in an sql rule's query
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: a relationship's target
REFERENCE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Metric:
    """An ODCS library metric: where it may stand and what it takes."""

    #: arguments it takes on a property, and on the schema object (None: not allowed there)
    arguments: tuple[str, ...] | None
    object_arguments: tuple[str, ...] | None
    #: without an operator, the rule means ``mustBe: 0``
    zero_default: bool = True
    #: compares values, so a nested (object or array) column cannot have it
    scalar: bool = False


METRICS = {
    "nullValues": Metric((), None),
    "missingValues": Metric(("missingValues",), None, scalar=True),
    "invalidValues": Metric(("validValues", "pattern"), None, scalar=True),
    "duplicateValues": Metric((), ("properties",)),
    "rowCount": Metric((), (), zero_default=False),
}


@dataclass(frozen=True)
class _Scope:
    """Where a quality list stands: on a column (``column``) or on the schema object."""

    column: str | None
    spec: ColumnSpec | None
    #: every column name of the schema object, for references to them
    known: tuple[str, ...]


def quality_rules(doc: YamlDoc, obj: Loc, columns: Sequence[ColumnSpec]) -> tuple[QualityRule, ...]:
    """The rules of the schema object at ``obj`` and of its properties, in file order.

    Problems are reported on ``doc``; a rule with a problem is left out.
    """
    props = doc.get((*obj, "properties"))
    props = props if isinstance(props, list) else []
    names = [p.get("name") if isinstance(p, dict) else None for p in props]
    known = tuple(n for n in names if isinstance(n, str))
    specs = {c.name: c for c in columns}
    found = _rule_list(doc, (*obj, "quality"), _Scope(None, None, known))
    if doc.get((*obj, "relationships")) is not None:
        doc.report(
            (*obj, "relationships"),
            "relationships on the schema object are not supported: put each on its column "
            "(properties[].relationships)",
            at="key",
        )
    for index, name in enumerate(names):
        loc = (*obj, "properties", index)
        if not isinstance(name, str):
            continue
        scope = _Scope(name, specs.get(name), known)
        found += _rule_list(doc, (*loc, "quality"), scope)
        found += _relationships(doc, loc, name)
        _nested(doc, loc)
    _check_unique(doc, found)
    return tuple(rule for _, _, rule in found)


def relationship_targets(contract: ContractSpec) -> list[tuple[QualityRule, str, str, str]]:
    """Each relationship rule with the product, port and column it references."""
    found = []
    for rule in contract.quality:
        if rule.kind == "relationship" and rule.references is not None:
            product, port, column = rule.references.split(".")
            found.append((rule, product, port, column))
    return found


#: a parsed rule: where it is, whether its name was given, the rule
_Found = tuple[Loc, bool, QualityRule]


def _rule_list(doc: YamlDoc, loc: Loc, scope: _Scope) -> list[_Found]:
    items = doc.get(loc)
    found: list[_Found] = []
    sql = 0
    for index in range(len(items) if isinstance(items, list) else 0):
        raw = items[index]
        if not isinstance(raw, dict):
            continue  # the ODCS model has reported it
        kind_ = _kind(raw)
        sql += kind_ == "sql"
        rule = _Rule(doc, (*loc, index), raw, scope).parse(kind_, sql)
        if rule is not None:
            found.append(((*loc, index), isinstance(raw.get("name"), str), rule))
    return found


def _kind(raw: dict[str, Any]) -> str | None:
    """``metric``, ``sql``, ``unknown`` (a ``type`` to report), or None for a rule daap skips."""
    declared = raw.get("type")
    if declared is None:
        has_metric = raw.get("metric") is not None or raw.get("rule") is not None
        return "sql" if raw.get("query") is not None and not has_metric else "metric"
    if declared in ("text", "custom") or not isinstance(declared, str):
        return None  # for people and other tools; or a type the ODCS model has reported
    return {"library": "metric", "sql": "sql"}.get(declared, "unknown")


class _Rule:
    """Parses one ``quality[]`` entry; every problem goes to the document."""

    def __init__(self, doc: YamlDoc, loc: Loc, raw: dict[str, Any], scope: _Scope) -> None:
        self.doc, self.loc, self.raw, self.scope = doc, loc, raw, scope
        self.ok = True

    def report(self, key: str | Loc, message: str, at: At = "value") -> None:
        steps = (key,) if isinstance(key, str) else key
        self.doc.report((*self.loc, *steps), message, at)
        self.ok = False

    def parse(self, kind_: str | None, sql_number: int) -> QualityRule | None:
        if kind_ is None:
            return None
        if kind_ == "unknown":
            declared = str(self.raw["type"])
            self.report("type", f"unknown quality type {declared!r}{_hint(declared, TYPES)}")
            return None
        metric = self._metric() if kind_ == "metric" else None
        query = self._query() if kind_ == "sql" else None
        arguments = self._arguments(metric) if metric is not None else {}
        operator, threshold = self._operator(kind_, metric)
        unit = self._unit(metric)
        severity = self._choice("severity", SEVERITIES, "error")
        dimension = self._dimension()
        if not self.ok or (kind_ == "metric" and metric is None) or operator is None or threshold is None:
            return None
        self._check_percent(unit, operator, threshold)
        if not self.ok:
            return None
        return QualityRule(
            name=self._name(metric or f"sql_{sql_number}"),
            column=self.scope.column,
            kind="metric" if kind_ == "metric" else "sql",
            metric=metric,
            arguments=arguments,
            query=query,
            operator=operator,
            threshold=threshold,
            unit=cast(QualityUnit, unit),
            severity=cast(Severity, severity),
            dimension=dimension,
            description=_text(self.raw.get("description")),
        )

    def _name(self, derived: str) -> str:
        given = self.raw.get("name")
        if isinstance(given, str) and given.strip():
            return given
        return derived if self.scope.column is None else f"{self.scope.column}.{derived}"

    def _metric(self) -> str | None:
        """The ``metric`` (or its old name ``rule``), checked against the library."""
        metric, rule = self.raw.get("metric"), self.raw.get("rule")
        key = "metric" if metric is not None else "rule"
        name = metric if metric is not None else rule
        if metric is not None and rule is not None and metric != rule:
            self.report("rule", f"rule {rule!r} (the old name of metric) disagrees with metric {metric!r}")
        if name is None:
            self.report((), "missing required field 'metric' (or give type: sql with a query)", at="key")
            return None
        if not isinstance(name, str):
            return None  # the ODCS model has reported it
        if name not in METRICS:
            self.report(key, f"unknown metric {name!r}{_hint(name, METRICS)}")
            return None
        return self._placed(key, name)

    def _placed(self, key: str, name: str) -> str | None:
        """``name`` if the metric may stand where it is."""
        metric, column = METRICS[name], self.scope.spec
        if self.scope.column is None and metric.object_arguments is None:
            self.report(key, f"{name} checks a column: put the rule in that column's quality")
            return None
        if metric.scalar and column is not None and column.nested:
            self.report(key, f"{name} compares values: it cannot check the {column.logical_type} column")
            return None
        return name

    def _arguments(self, metric: str) -> dict[str, Any]:
        raw = self.raw.get("arguments")
        if raw is not None and not isinstance(raw, dict):
            return {}  # the ODCS model has reported it
        raw = raw or {}
        spec = METRICS[metric]
        allowed = (spec.arguments if self.scope.column is not None else spec.object_arguments) or ()
        takes = f" (it takes: {', '.join(allowed)})" if allowed else f" ({metric} takes none)"
        for key in raw:
            if key not in allowed:
                message = f"unknown argument {key!r}{suggest(key, allowed)}{takes}"
                self.report(("arguments", key), message, at="key")
        parsed = {key: _ARGUMENTS[key](self, ("arguments", key), raw[key]) for key in raw if key in allowed}
        if raw.keys() <= set(allowed):  # else a misspelt argument is the problem
            self._required_arguments(metric, parsed)
        return parsed

    def _required_arguments(self, metric: str, parsed: dict[str, Any]) -> None:
        if metric == "invalidValues" and not ({"validValues", "pattern"} & parsed.keys()):
            self.report("arguments", "invalidValues needs arguments.validValues or arguments.pattern")
        elif metric == "missingValues" and "missingValues" not in parsed:
            parsed["missingValues"] = (None,)  # only null is missing
        elif metric == "duplicateValues" and self.scope.column is None and "properties" not in parsed:
            self.report(
                "arguments", "duplicateValues on the schema object needs arguments.properties (its columns)"
            )

    def _values(self, key: Loc, value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            self.report(key, f"'{key[-1]}' must be a list of values, got {kind(value)}")
            return ()
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                self.report((*key, index), f"'{key[-1]}[{index}]' must be a plain value, got {kind(item)}")
        return tuple(value)

    def _pattern(self, key: Loc, value: Any) -> str:
        if not isinstance(value, str):
            self.report(key, f"'pattern' must be a regular expression as a string, got {kind(value)}")
            return ""
        try:
            re.compile(value)
        except re.error as exc:
            self.report(key, f"invalid regular expression {value!r}: {exc}")
        return value

    def _properties(self, key: Loc, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.report(key, f"'properties' must be a list of column names, got {kind(value)}")
            return ()
        for index, name in enumerate(value):
            if name not in self.scope.known:
                self.report((*key, index), _unknown_column(name, self.scope.known))
        return tuple(str(n) for n in value)

    def _query(self) -> str | None:
        query = self.raw.get("query")
        if query is None:
            self.report((), "an sql rule needs a query", at="key")
            return None
        if not isinstance(query, str):
            return None  # the ODCS model has reported it
        for name in dict.fromkeys(PLACEHOLDER.findall(query)):
            if name == "property" and self.scope.column is None:
                self.report(
                    "query",
                    "{property} means the rule's column: put the rule in that column's quality, "
                    "or name the column in the query",
                )
            elif name not in ("object", "property"):
                hint = suggest(name, ("object", "property")) or " (daap fills in {object} and {property})"
                self.report("query", f"unknown placeholder {{{name}}}{hint}")
        return query

    def _operator(
        self, kind_: str, metric: str | None
    ) -> tuple[str | None, float | tuple[float, float] | None]:
        given = [op for op in OPERATORS if op in self.raw]
        if len(given) > 1:
            listed = ", ".join(given)
            self.report(given[1], f"a rule has one operator, this one has {len(given)} ({listed})", at="key")
            return None, None
        if not given and kind_ == "metric" and metric is None:
            return None, None  # the metric's problem is reported
        if not given:
            if metric is not None and METRICS[metric].zero_default:
                return "mustBe", 0.0
            what = metric or "an sql rule"
            self.report((), f"{what} needs an operator: one of {', '.join(OPERATORS)}", at="key")
            return None, None
        operator = given[0]
        return operator, self._threshold(operator, self.raw[operator])

    def _threshold(self, operator: str, value: Any) -> float | tuple[float, float] | None:
        pair = operator in RANGES
        fits = (
            isinstance(value, list) and len(value) == 2 and all(_number(v) for v in value)
            if pair
            else _number(value)
        )
        if not fits:
            wanted = "a list of two numbers [low, high]" if pair else "a number"
            self._wrong(operator, f"'{operator}' must be {wanted}, got {kind(value)}", value)
            return None
        if not pair:
            return float(value)
        low, high = float(value[0]), float(value[1])
        if low > high:
            self.report(operator, f"'{operator}' must be [low, high], got low {value[0]} > high {value[1]}")
            return None
        return low, high

    def _wrong(self, operator: str, message: str, value: Any) -> None:
        """Report a threshold of the wrong kind, unless the ODCS model has (it types most)."""
        if value is None:
            self.report(operator, message, at="key")  # the model allows null everywhere
        elif operator in _TYPED_BY_MODEL:
            self.ok = False
        else:
            self.report(operator, message)

    def _unit(self, metric: str | None) -> str:
        unit = self._choice("unit", UNITS, "rows")
        if unit == "percent" and metric == "rowCount":
            self.report("unit", "rowCount counts rows: unit percent does not apply")
        return unit

    def _check_percent(self, unit: str, operator: str, threshold: float | tuple[float, float]) -> None:
        values = threshold if isinstance(threshold, tuple) else (threshold,)
        if unit == "percent" and any(not 0 <= v <= 100 for v in values):
            self.report(operator, f"'{operator}' is a percentage (unit: percent): it must be within 0..100")

    def _choice(self, key: str, allowed: Sequence[str], default: str) -> str:
        value = self.raw.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.ok = False  # the ODCS model has reported it
            return default
        if value not in allowed:
            self.report(
                key, f"{key} must be one of {', '.join(allowed)}, got {value!r}{suggest(value, allowed)}"
            )
        return value

    def _dimension(self) -> str | None:
        value = self.raw.get("dimension")
        if not isinstance(value, str):
            return None
        for name, short in DIMENSIONS.items():
            if value in (name, short):
                return name
        self.report("dimension", f"unknown dimension {value!r}{_hint(value, DIMENSIONS)}")
        return None


_ARGUMENTS: dict[str, Callable[[_Rule, Loc, Any], Any]] = {
    "missingValues": _Rule._values,
    "validValues": _Rule._values,
    "pattern": _Rule._pattern,
    "properties": _Rule._properties,
}


def _relationships(doc: YamlDoc, loc: Loc, column: str) -> list[_Found]:
    """The ``relationships`` of the column at ``loc``: each a rule of kind ``relationship``."""
    items = doc.get((*loc, "relationships"))
    found: list[_Found] = []
    for index in range(len(items) if isinstance(items, list) else 0):
        at = (*loc, "relationships", index)
        raw = items[index]
        if not isinstance(raw, dict):
            continue  # the ODCS model has reported it
        kind_, target = raw.get("type"), raw.get("to")
        if isinstance(kind_, str) and kind_ != "foreignKey":
            doc.report((*at, "type"), f"relationship type must be 'foreignKey', got {kind_!r}")
            continue
        if target is None:
            doc.report(
                at, "missing required field 'to' (the referenced column, product.port.column)", at="key"
            )
            continue
        if not isinstance(kind_, str | None) or not isinstance(target, str | list):
            continue  # the ODCS model has reported it
        if not (isinstance(target, str) and REFERENCE.match(target)):
            doc.report(
                (*at, "to"), f"'to' must name a column of a port as product.port.column, got {target!r}"
            )
            continue
        name = f"{column}.references" if not found else f"{column}.references_{len(found) + 1}"
        found.append((at, False, _reference(name, column, target)))
    return found


def _reference(name: str, column: str, target: str) -> QualityRule:
    return QualityRule(
        name, column, "relationship", description=f"every non-null {column} is a {target}", references=target
    )


def _nested(doc: YamlDoc, loc: Loc) -> None:
    """Rules on a nested field are refused (not silently skipped): they address top-level columns."""
    for key in ("properties", "items"):
        inner = doc.get((*loc, key))
        places = [(*loc, key)] if isinstance(inner, dict) else []
        places += [(*loc, key, i) for i in range(len(inner))] if isinstance(inner, list) else []
        for place in places:
            for field in ("quality", "relationships"):
                if doc.get((*place, field)) is not None:
                    doc.report(
                        (*place, field),
                        f"{field} on a nested field are not supported: put them on the top-level column",
                        at="key",
                    )
            _nested(doc, place)


def _check_unique(doc: YamlDoc, found: list[_Found]) -> None:
    seen: dict[str, Loc] = {}
    for loc, given, rule in found:
        if rule.name not in seen:
            seen[rule.name] = loc
            continue
        line = doc.position(seen[rule.name], "key")[0]
        if given:
            doc.report((*loc, "name"), f"rule name {rule.name!r} is already used in this port (line {line})")
        else:
            doc.report(
                loc,
                f"a second rule named {rule.name!r} (the first is on line {line}): give one of them a name",
                at="key",
            )


def _unknown_column(name: Any, known: Sequence[str]) -> str:
    if not isinstance(name, str):
        return f"a column name must be a string, got {kind(name)}"
    return f"unknown column {name!r}{_hint(name, known)}"


def _hint(name: str, allowed: Sequence[str] | dict[str, Any]) -> str:
    """A did-you-mean, else the list of what is allowed."""
    choices = list(allowed)
    return suggest(name, choices) or (f" (known: {', '.join(choices)})" if choices else "")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


__all__ = ["METRICS", "OPERATORS", "quality_rules", "relationship_targets"]
