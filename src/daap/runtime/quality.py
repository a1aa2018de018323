"""ODCS quality rules run on DuckDB, in as few scans as the rules allow.

Every library metric of a port and the port's column profile come from one
aggregate query over its rows (``count(*) FILTER (WHERE ...)``, exact
``count(DISTINCT ...)`` for duplicates); each ``sql`` rule is one query, each
relationship one anti-join against the referenced port. Only a rule that
fails pays for another query: up to five offending rows, by primary key.

A rule that cannot be measured (its query fails, returns two columns or a
string) is a failed result carrying the engine's message, never an exception:
one broken rule must not hide the others' results.
"""

from __future__ import annotations

import operator as op
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import duckdb

from daap.runtime.contract import SAMPLES, show
from daap.runtime.engine import connect, error_message, literal, quote
from daap.spec.diagnose import suggest
from daap.spec.model import ContractSpec, QualityRule
from daap.spec.quality import relationship_targets

#: the value of every operator: does ``measured`` satisfy ``threshold``?
CHECKS: dict[str, Callable[[float, Any], bool]] = {
    "mustBe": op.eq,
    "mustNotBe": op.ne,
    "mustBeGreaterThan": op.gt,
    "mustBeGreaterOrEqualTo": op.ge,
    "mustBeLessThan": op.lt,
    "mustBeLessOrEqualTo": op.le,
    "mustBeBetween": lambda v, t: t[0] <= v <= t[1],
    "mustNotBeBetween": lambda v, t: not t[0] <= v <= t[1],
}
#: how each operator reads in a message, ``{0}``/``{1}`` the threshold(s)
PHRASES = {
    "mustBe": "must be {0}",
    "mustNotBe": "must not be {0}",
    "mustBeGreaterThan": "must be more than {0}",
    "mustBeGreaterOrEqualTo": "must be at least {0}",
    "mustBeLessThan": "must be less than {0}",
    "mustBeLessOrEqualTo": "must be at most {0}",
    "mustBeBetween": "must be between {0} and {1}",
    "mustNotBeBetween": "must not be between {0} and {1}",
}
#: DuckDB type ids an sql rule may return (a boolean counts as 1 or 0, as ODCS allows)
NUMERIC = frozenset(
    {
        *("tinyint", "smallint", "integer", "bigint", "hugeint", "float", "double", "decimal", "boolean"),
        *("utinyint", "usmallint", "uinteger", "ubigint", "uhugeint"),
    }
)
_NO_FOREIGN: Mapping[str, str] = MappingProxyType({})
_NO_PORTS: Mapping[str, ContractSpec] = MappingProxyType({})


@dataclass(frozen=True)
class RuleResult:
    """One rule measured on one port's rows."""

    rule: QualityRule
    #: measured, in ``rule.unit`` (0..100 for percent); None when it could not be measured
    value: float | None
    #: the raw number: offending rows, the row count, or the sql query's value when whole
    count: int | None
    #: rows checked
    rows: int
    passed: bool
    #: up to five offending rows (``title_id=3: -5``), for failing rules only
    samples: tuple[str, ...] = ()
    #: why the rule could not be measured
    error: str | None = None

    def describe(self) -> str:
        """One line for people: ``rule 'x.invalidValues' (error, accuracy): 12 rows (0.4%) must be 0``."""
        rule = self.rule
        tags = ", ".join(t for t in (rule.severity, rule.dimension) if t)
        head = f"rule {rule.name!r} ({tags})"
        if self.error is not None:
            return f"{head}: could not be measured: {self.error}"
        expected = _expectation(rule)
        if self.passed:
            return f"{head}: {self._measured()}, passed ({expected})"
        examples = f"; e.g. {', '.join(self.samples)}" if self.samples else ""
        return f"{head}: {self._measured()} {expected}{examples}"

    def _measured(self) -> str:
        rule, rows, value = self.rule, self.rows, self.value or 0.0
        raw = (
            self.count if self.count is not None else value * rows / 100 if rule.unit == "percent" else value
        )
        if rule.unit == "percent":
            return f"{_number(value)}% ({_number(raw)} of {_rows_of(rows)})"
        if rule.kind == "sql":
            return f"value {_number(raw)}"
        if rule.metric == "rowCount":
            return _rows_of(raw)
        share = _number(100 * raw / rows if rows else 0.0)
        missing = f" without a match in {rule.references}" if rule.kind == "relationship" else ""
        return f"{_rows_of(raw)} ({share}%){missing}"


@dataclass(frozen=True)
class ColumnProfile:
    """What a port's column looks like in one version: for drift monitors."""

    nulls: int
    #: distinct non-null values; approximate (HyperLogLog) unless a rule counted them exactly
    distinct: int


@dataclass(frozen=True)
class QualityReport:
    """Every rule of one port, and its columns' profile."""

    port: str
    rows: int
    results: tuple[RuleResult, ...]
    #: per top-level scalar column
    profile: Mapping[str, ColumnProfile] = field(default_factory=dict)

    @property
    def failed(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    @property
    def failed_errors(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.failed if r.rule.severity == "error")

    @property
    def failed_warnings(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.failed if r.rule.severity == "warning")

    @property
    def passed(self) -> bool:
        """No ``error`` rule failed (warnings and infos may have)."""
        return not self.failed_errors


class _Unmeasurable(Exception):
    """A rule cannot be measured; ``str()`` says why, for people."""


def run_rules(
    con: Any, table: str, port: str, contract: ContractSpec, foreign: Mapping[str, str] = _NO_FOREIGN
) -> QualityReport:
    """Measure every quality rule of ``contract`` on ``table`` (rows in contract types).

    Args:
        con: a DuckDB connection on which ``table`` can be read.
        table: the table or view (as SQL, quoted if need be); it replaces ``{object}``.
        port: the port's name, for the report.
        contract: the port's contract, whose ``quality`` rules run.
        foreign: ``product.port`` -> a relation SQL or table name, for relationship rules.
    """
    return _Runner(con, table, contract, foreign).report(port)


def dry_run(
    contract: ContractSpec, port: str, foreign_ports: Mapping[str, ContractSpec] = _NO_PORTS
) -> list[str]:
    """Problems the rules would have on any data, for ``daap validate``.

    Every rule runs against an empty table with the contract's columns: an sql
    rule that fails to bind or returns anything but one number, a value in
    ``validValues``/``missingValues`` that is not of the column's type, a
    relationship to a column the target port (in ``foreign_ports``, by
    ``product.port``) does not have. Targets not given are not checked here.
    """
    con = connect()
    try:
        table = _empty(con, f"__dry_{port}", contract)
        foreign = {
            ref: _empty(con, f"__dry_ref_{i}", spec) for i, (ref, spec) in enumerate(foreign_ports.items())
        }
        found = _literal_problems(con, contract) + _target_problems(contract, foreign_ports)
        found += _engine_problems(
            _Runner(con, table, contract, foreign, dry=True), {r.name for r, _ in found}
        )
        order = {id(rule): index for index, rule in enumerate(contract.quality)}
        found.sort(key=lambda problem: order[id(problem[0])])
        return [f"{contract.path.name}: quality rule {rule.name!r}: {message}" for rule, message in found]
    finally:
        con.close()


class _Runner:
    """Runs one port's rules: the scan, then sql rules and relationships one query each."""

    def __init__(
        self, con: Any, table: str, contract: ContractSpec, foreign: Mapping[str, str], dry: bool = False
    ) -> None:
        self.con, self.table, self.contract, self.foreign, self.dry = con, table, contract, foreign, dry
        self.types = {c.name: c.sql_type for c in contract.columns}

    def report(self, port: str) -> QualityReport:
        scan = _Scan(self.table, self.contract)
        rows, counts, errors = scan.run(self.con)
        results = []
        for index, rule in enumerate(self.contract.quality):
            try:
                if index in errors:
                    raise _Unmeasurable(errors[index])
                measured = counts[index] if rule.kind == "metric" else self._measure(rule)
                results.append(self._result(rule, measured, rows))
            except _Unmeasurable as exc:
                results.append(RuleResult(rule, None, None, rows, False, error=str(exc)))
        return QualityReport(port, rows, tuple(results), scan.profile)

    def _measure(self, rule: QualityRule) -> float | None:
        return self._sql(rule) if rule.kind == "sql" else self._orphans(rule)

    def _result(self, rule: QualityRule, measured: float | None, rows: int) -> RuleResult:
        if measured is None:
            if self.dry:  # an aggregate over no rows is null; on real rows it would not be
                return RuleResult(rule, None, None, rows, True)
            return RuleResult(rule, None, None, rows, False, error="the query returned null")
        value = 100 * measured / rows if rule.unit == "percent" and rows else measured
        value = 0.0 if rule.unit == "percent" and not rows else value
        passed = CHECKS[rule.operator](value, rule.threshold)
        count = int(measured) if float(measured).is_integer() else None
        samples = () if passed or self.dry else self._samples(rule)
        return RuleResult(rule, float(value), count, rows, passed, samples)

    def _sql(self, rule: QualityRule) -> float | None:
        """The value of an sql rule's query: one row, one number (or null)."""
        assert rule.query is not None
        query = rule.query.replace("{object}", self.table)
        if rule.column is not None:
            query = query.replace("{property}", quote(rule.column))
        try:
            statements = self.con.extract_statements(query)
            if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
                raise _Unmeasurable("the query must be one SELECT statement")
            relation = self.con.sql(query)
            names, types = relation.columns, relation.types
            if len(names) != 1:
                raise _Unmeasurable(f"the query must return one number, it returns {len(names)} columns")
            if types[0].id not in NUMERIC:
                raise _Unmeasurable(f"the query must return a number, it returns {types[0]}")
            rows = relation.limit(2).fetchall()
        except duckdb.Error as exc:
            raise _Unmeasurable(error_message(str(exc))) from None
        if len(rows) != 1:
            raise _Unmeasurable(f"the query must return one row, it returns {'none' if not rows else 'more'}")
        value = rows[0][0]
        return None if value is None else float(value)

    def _orphans(self, rule: QualityRule) -> int:
        """Rows whose non-null value the referenced port does not have (one anti-join)."""
        query = f"SELECT count(*) FROM {self.table} AS __rows WHERE {self._target(rule)}"
        try:
            return int(self.con.execute(query).fetchall()[0][0])
        except duckdb.Error as exc:
            raise _Unmeasurable(error_message(str(exc))) from None

    def _target(self, rule: QualityRule) -> str:
        """The predicate for a row whose value has no match in the referenced port."""
        assert rule.references is not None and rule.column is not None
        ref, column = rule.references.rsplit(".", 1)
        relation = self.foreign.get(ref)
        if relation is None:
            raise _Unmeasurable(f"the referenced port {ref} is not available")
        mine = f"__rows.{quote(rule.column)}"
        return (
            f"{mine} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {relation} AS __ref WHERE __ref.{quote(column)} = {mine})"
        )

    def _samples(self, rule: QualityRule) -> tuple[str, ...]:
        """Up to five offending rows of a failing rule, by primary key (or row number)."""
        try:
            if rule.metric == "duplicateValues":
                return _duplicates(self.con, self.table, _key_columns(rule))
            bad = self._target(rule) if rule.kind == "relationship" else _predicate(rule, self.types)
            if bad is None or rule.column is None:
                return ()
            return _offending(self.con, self.table, self.contract, rule.column, bad)
        except (duckdb.Error, _Unmeasurable):
            return ()  # the count stands; examples are a courtesy


class _Scan:
    """The one aggregate query: every metric rule's counts and the column profile."""

    def __init__(self, table: str, contract: ContractSpec) -> None:
        self.table = table
        types = {c.name: c.sql_type for c in contract.columns}
        self.scalars = [c.name for c in contract.columns if not c.nested]
        #: by the rule's index in the contract
        self.terms = {i: _terms(r, types) for i, r in enumerate(contract.quality) if r.kind == "metric"}
        rules = [r for r in contract.quality if r.kind == "metric"]
        exact = {r.column for r in rules if r.metric == "duplicateValues" and r.column is not None}
        self.distinct = {
            c: f"count(DISTINCT {quote(c)})" if c in exact else f"approx_count_distinct({quote(c)})"
            for c in self.scalars
        }
        self.profile: dict[str, ColumnProfile] = {}

    def run(self, con: Any) -> tuple[int, dict[int, float], dict[int, str]]:
        """(rows, count per rule, error per rule), rules by their index in the contract."""
        base = ["count(*)", *(f"count({quote(c)})" for c in self.scalars), *self.distinct.values()]
        wanted = list(dict.fromkeys([*base, *(e for terms in self.terms.values() for _, e in terms)]))
        errors: dict[int, str] = {}
        try:
            values = dict(zip(wanted, _aggregate(con, self.table, wanted), strict=True))
        except duckdb.Error:
            values, errors = self._one_by_one(con, base)
        rows = int(values["count(*)"])
        for c in self.scalars:
            nulls = rows - int(values[f"count({quote(c)})"])
            self.profile[c] = ColumnProfile(nulls, int(values[self.distinct[c]]))
        counts = {
            index: float(sum(sign * int(values[e]) for sign, e in terms))
            for index, terms in self.terms.items()
            if index not in errors
        }
        return rows, counts, errors

    def _one_by_one(self, con: Any, base: list[str]) -> tuple[dict[str, Any], dict[int, str]]:
        """After the scan failed: the base aggregates, then each rule alone, to find the broken one."""
        values = dict(zip(base, _aggregate(con, self.table, base), strict=True))
        errors = {}
        for index, terms in self.terms.items():
            exprs = [e for _, e in terms]
            try:
                values.update(zip(exprs, _aggregate(con, self.table, exprs), strict=True))
            except duckdb.Error as exc:
                errors[index] = error_message(str(exc))
        return values, errors


def _aggregate(con: Any, table: str, exprs: Sequence[str]) -> tuple[Any, ...]:
    return tuple(con.execute(f"SELECT {', '.join(exprs)} FROM {table}").fetchall()[0])


#: a count as a signed sum of aggregates: nullValues is ``count(*) - count(c)``
Terms = tuple[tuple[int, str], ...]


def _terms(rule: QualityRule, types: Mapping[str, str]) -> Terms:
    if rule.metric == "rowCount":
        return ((1, "count(*)"),)
    if rule.metric == "nullValues" and rule.column is not None:
        return ((1, "count(*)"), (-1, f"count({quote(rule.column)})"))
    if rule.metric == "duplicateValues":
        return _duplicate_terms(_key_columns(rule))
    bad = _predicate(rule, types)
    return ((1, f"count(*) FILTER (WHERE {bad})"),)


def _duplicate_terms(columns: Sequence[str]) -> Terms:
    """Rows with a (complete) value minus distinct values: each extra copy counts once."""
    if len(columns) == 1:
        name = quote(columns[0])
        return ((1, f"count({name})"), (-1, f"count(DISTINCT {name})"))
    complete = _complete(columns)
    value = f"row({', '.join(quote(c) for c in columns)})"
    return (
        (1, f"count(*) FILTER (WHERE {complete})"),
        (-1, f"count(DISTINCT CASE WHEN {complete} THEN {value} END)"),
    )


def _complete(columns: Iterable[str]) -> str:
    """A composite value counts when none of its columns is null (as SQL's UNIQUE)."""
    return " AND ".join(f"{quote(c)} IS NOT NULL" for c in columns)


def _key_columns(rule: QualityRule) -> tuple[str, ...]:
    if rule.column is not None:
        return (rule.column,)
    return tuple(rule.arguments.get("properties", ()))


def _predicate(rule: QualityRule, types: Mapping[str, str]) -> str | None:
    """SQL true for a row the metric counts, when it counts rows of one column."""
    if rule.column is None:
        return None
    name, sql_type = quote(rule.column), types.get(rule.column, "VARCHAR")
    if rule.metric == "nullValues":
        return f"{name} IS NULL"
    if rule.metric == "missingValues":
        listed = _in_list(name, rule.arguments.get("missingValues", ()), sql_type)
        return f"({name} IS NULL OR {listed})"
    if rule.metric == "invalidValues":
        valid = []
        if "validValues" in rule.arguments:
            valid.append(_in_list(name, rule.arguments["validValues"], sql_type))
        if "pattern" in rule.arguments:
            valid.append(f"regexp_full_match(CAST({name} AS VARCHAR), {literal(rule.arguments['pattern'])})")
        return f"({name} IS NOT NULL AND NOT ({' AND '.join(valid) or 'true'}))"
    return None


def _in_list(name: str, values: Iterable[Any], sql_type: str) -> str:
    """``name IN (...)`` with each value cast to the column's type (null never matches)."""
    items = [f"CAST({literal(v)} AS {sql_type})" for v in values if v is not None]
    return f"{name} IN ({', '.join(items)})" if items else "false"


def _offending(con: Any, table: str, contract: ContractSpec, column: str, bad: str) -> tuple[str, ...]:
    key = [k for k in contract.primary_key if k != column]
    value = f"__rows.{quote(column)}"
    if key:
        ident = ", ".join(f"__rows.{quote(k)}" for k in key)
        source = f"{table} AS __rows"
    else:
        ident = "__rows.__row"
        source = f"(SELECT row_number() OVER () AS __row, * FROM {table}) AS __rows"
    found = con.execute(f"SELECT {ident}, {value} FROM {source} WHERE {bad} LIMIT {SAMPLES}").fetchall()
    if not key:
        return tuple(f"row {r[0]}: {show(r[1])}" for r in found)
    return tuple(
        ", ".join(f"{k}={show(r[i])}" for i, k in enumerate(key)) + f": {show(r[-1])}" for r in found
    )


def _duplicates(con: Any, table: str, columns: Sequence[str]) -> tuple[str, ...]:
    """The most repeated values: ``email='a@b' (x3)``."""
    names = ", ".join(quote(c) for c in columns)
    found = con.execute(
        f"SELECT {names}, count(*) AS __n FROM {table} WHERE {_complete(columns)} "
        f"GROUP BY ALL HAVING count(*) > 1 ORDER BY __n DESC, {names} LIMIT {SAMPLES}"
    ).fetchall()
    return tuple(
        ", ".join(f"{c}={show(r[i])}" for i, c in enumerate(columns)) + f" (x{r[-1]})" for r in found
    )


def _expectation(rule: QualityRule) -> str:
    unit = "%" if rule.unit == "percent" else ""
    bounds = rule.threshold if isinstance(rule.threshold, tuple) else (rule.threshold,)
    return PHRASES[rule.operator].format(*(f"{_number(b)}{unit}" for b in bounds))


def _number(value: float) -> str:
    """``3`` for 3.0, ``0.417`` for 0.41666: as people write numbers."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


def _rows_of(n: float) -> str:
    return f"{_number(n)} row{'' if n == 1 else 's'}"


def _empty(con: Any, name: str, contract: ContractSpec) -> str:
    columns = ", ".join(f"{quote(c.name)} {c.sql_type}" for c in contract.columns)
    con.execute(f"CREATE TABLE {quote(name)} ({columns})")
    return quote(name)


def _literal_problems(con: Any, contract: ContractSpec) -> list[tuple[QualityRule, str]]:
    """Values in ``missingValues``/``validValues`` that the column's type cannot hold.

    On real rows such a value fails the whole scan at run time; on an empty
    table the engine never evaluates it, so it is checked on its own here.
    """
    found = []
    for rule in contract.quality:
        column = contract.column(rule.column) if rule.column else None
        if column is None:
            continue
        for key in ("missingValues", "validValues"):
            for value in rule.arguments.get(key, ()):
                try:
                    con.execute(f"SELECT CAST({literal(value)} AS {column.sql_type})").fetchall()
                except duckdb.Error as exc:
                    message = error_message(str(exc), keep_position=False)
                    found.append((rule, f"{key} {show(value)} is not a {column.sql_type}: {message}"))
                    break
    return found


def _engine_problems(runner: _Runner, reported: set[str]) -> list[tuple[QualityRule, str]]:
    """What the engine says of each rule on no rows, but for rules already reported and
    relationships to ports not given (whose existence the mesh checks)."""
    absent = {
        r.name
        for r, product, port, _ in relationship_targets(runner.contract)
        if f"{product}.{port}" not in runner.foreign
    }
    results = runner.report("").results
    return [
        (r.rule, r.error) for r in results if r.error is not None and r.rule.name not in reported | absent
    ]


def _target_problems(
    contract: ContractSpec, foreign_ports: Mapping[str, ContractSpec]
) -> list[tuple[QualityRule, str]]:
    found = []
    for rule, product, port, column in relationship_targets(contract):
        target = foreign_ports.get(f"{product}.{port}")
        if target is not None and target.column(column) is None:
            names = [c.name for c in target.columns]
            hint = suggest(column, names) or f" (it has: {', '.join(names)})"
            found.append((rule, f"port {product}.{port} has no column {column!r}{hint}"))
    return found


__all__ = ["ColumnProfile", "QualityReport", "RuleResult", "dry_run", "run_rules"]
