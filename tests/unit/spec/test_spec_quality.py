"""ODCS quality rules and relationships in a contract → QualityRule, with positioned errors."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from daap.errors import SpecError
from daap.spec import load_contract
from daap.spec.model import ContractSpec, QualityRule
from daap.spec.quality import relationship_targets
from fixtures.spec_folders import ProductFolder, line_of

CONTRACT = "contracts/titles.odcs.yaml"
TITLE = "        description: display title\n"
OBJECT = "  - name: titles\n"


def on_column(raw: ProductFolder, body: str, anchor: str = TITLE) -> str:
    """Give the column ending at ``anchor`` (``title`` by default) the quality list ``body``."""
    raw.edit(
        CONTRACT, anchor, anchor + "        quality:\n" + textwrap.indent(textwrap.dedent(body), " " * 10)
    )
    return (raw.path / CONTRACT).read_text()


def on_object(raw: ProductFolder, body: str) -> str:
    """Give the schema object ``titles`` the quality list ``body``."""
    raw.edit(CONTRACT, OBJECT, OBJECT + "    quality:\n" + textwrap.indent(textwrap.dedent(body), " " * 6))
    return (raw.path / CONTRACT).read_text()


def rules(raw: ProductFolder) -> tuple[QualityRule, ...]:
    return raw.load().output_ports[0].contract.quality


def at(text: str, line: str, token: str) -> tuple[int, int]:
    """(line, column) of ``token`` on the only line containing ``line``."""
    number = line_of(text, line)
    return number, text.splitlines()[number - 1].index(token) + 1


def rule(**fields: Any) -> QualityRule:
    """A rule with the defaults of an unadorned ``nullValues`` on ``title``."""
    base: dict[str, Any] = {
        "name": "title.nullValues",
        "column": "title",
        "kind": "metric",
        "metric": "nullValues",
    }
    return QualityRule(**{**base, **fields})


# --- rules that parse -------------------------------------------------------------------------

COLUMN_RULES = [
    ("- metric: nullValues\n", rule()),
    ("- rule: nullValues\n", rule()),  # the old spelling of metric
    ("- type: library\n  metric: nullValues\n  description: no gaps\n", rule(description="no gaps")),
    (
        "- metric: nullValues\n  unit: percent\n  mustBeLessThan: 1\n  severity: warning\n  dimension: cp\n",
        rule(
            operator="mustBeLessThan",
            threshold=1.0,
            unit="percent",
            severity="warning",
            dimension="completeness",
        ),
    ),
    (
        "- metric: missingValues\n  arguments:\n    missingValues: [null, '', N/A]\n"
        "  mustBeLessOrEqualTo: 3\n",
        rule(
            name="title.missingValues",
            metric="missingValues",
            arguments={"missingValues": (None, "", "N/A")},
            operator="mustBeLessOrEqualTo",
            threshold=3.0,
        ),
    ),
    (
        "- metric: missingValues\n  severity: info\n",
        rule(
            name="title.missingValues",
            metric="missingValues",
            arguments={"missingValues": (None,)},
            severity="info",
        ),
    ),
    (
        "- metric: invalidValues\n  arguments: {validValues: [a, b]}\n  mustNotBe: 7\n"
        "  dimension: conformity\n",
        rule(
            name="title.invalidValues",
            metric="invalidValues",
            arguments={"validValues": ("a", "b")},
            operator="mustNotBe",
            threshold=7.0,
            dimension="conformity",
        ),
    ),
    (
        "- metric: invalidValues\n  arguments: {pattern: '[A-Z].*'}\n  mustBeGreaterOrEqualTo: 0\n",
        rule(
            name="title.invalidValues",
            metric="invalidValues",
            arguments={"pattern": "[A-Z].*"},
            operator="mustBeGreaterOrEqualTo",
        ),
    ),
    (
        "- metric: duplicateValues\n  unit: percent\n  mustNotBeBetween: [10, 100]\n",
        rule(
            name="title.duplicateValues",
            metric="duplicateValues",
            operator="mustNotBeBetween",
            threshold=(10.0, 100.0),
            unit="percent",
        ),
    ),
    (
        "- name: no_shouting\n  type: sql\n"
        "  query: SELECT count(*) FROM {object} WHERE upper({property}) = {property}\n"
        "  mustBeGreaterThan: -1\n",
        rule(
            name="no_shouting",
            kind="sql",
            metric=None,
            query="SELECT count(*) FROM {object} WHERE upper({property}) = {property}",
            operator="mustBeGreaterThan",
            threshold=-1.0,
        ),
    ),
    (
        "- query: SELECT 1\n  mustBe: 1\n",  # a query without a type or metric is an sql rule
        rule(name="title.sql_1", kind="sql", metric=None, query="SELECT 1", threshold=1.0),
    ),
]


@pytest.mark.parametrize(("body", "expected"), COLUMN_RULES)
def test_column_rules_parse_with_odcs_defaults(raw: ProductFolder, body: str, expected: QualityRule) -> None:
    on_column(raw, body)

    assert rules(raw) == (expected,)


OBJECT_RULES = [
    (
        "- metric: rowCount\n  mustBeBetween: [100, 120]\n",
        rule(
            name="rowCount",
            column=None,
            metric="rowCount",
            operator="mustBeBetween",
            threshold=(100.0, 120.0),
        ),
    ),
    (
        "- metric: duplicateValues\n  arguments:\n    properties: [title_id, region]\n",
        rule(
            name="duplicateValues",
            column=None,
            metric="duplicateValues",
            arguments={"properties": ("title_id", "region")},
        ),
    ),
    (
        "- type: sql\n  query: SELECT count(*) FROM {object}\n  mustBeLessThan: 10\n  dimension: uq\n",
        rule(
            name="sql_1",
            column=None,
            kind="sql",
            metric=None,
            query="SELECT count(*) FROM {object}",
            operator="mustBeLessThan",
            threshold=10.0,
            dimension="uniqueness",
        ),
    ),
]


@pytest.mark.parametrize(("body", "expected"), OBJECT_RULES)
def test_schema_object_rules_parse(raw: ProductFolder, body: str, expected: QualityRule) -> None:
    on_object(raw, body)

    assert rules(raw) == (expected,)


def test_text_and_custom_rules_are_skipped_and_sql_rules_are_numbered(raw: ProductFolder) -> None:
    on_column(
        raw,
        """\
        - type: text
          description: titles are in title case
        - type: custom
          engine: soda
          implementation: "type: duplicate_percent"
        - {type: sql, query: SELECT 1, mustBe: 1}
        - {type: sql, query: SELECT 2, mustBe: 2}
        """,
    )

    assert [(r.name, r.query) for r in rules(raw)] == [
        ("title.sql_1", "SELECT 1"),
        ("title.sql_2", "SELECT 2"),
    ]


def test_rules_keep_file_order_object_first(raw: ProductFolder) -> None:
    on_object(raw, "- {metric: rowCount, mustBeGreaterThan: 0}\n")
    on_column(raw, "- metric: duplicateValues\n", anchor="        primaryKeyPosition: 1\n")
    on_column(raw, "- metric: nullValues\n")

    assert [r.name for r in rules(raw)] == ["rowCount", "region.duplicateValues", "title.nullValues"]


def test_a_relationship_is_an_error_rule_on_unmatched_rows(raw: ProductFolder) -> None:
    raw.edit(
        CONTRACT,
        TITLE,
        TITLE + "        relationships:\n          - {type: foreignKey, to: catalog.titles.name}\n"
        "          - to: archive.titles.name\n",
    )

    contract = raw.load().output_ports[0].contract

    first, second = contract.quality
    assert first == rule(
        name="title.references",
        kind="relationship",
        metric=None,
        description="every non-null title is a catalog.titles.name",
        references="catalog.titles.name",
    )
    assert (second.name, second.references) == ("title.references_2", "archive.titles.name")
    assert relationship_targets(contract) == [
        (first, "catalog", "titles", "name"),
        (second, "archive", "titles", "name"),
    ]


def test_contract_without_rules_has_none(raw: ProductFolder) -> None:
    contract = raw.load().output_ports[0].contract

    assert contract.quality == ()
    assert relationship_targets(contract) == []


def test_existing_constructor_calls_keep_working() -> None:
    spec = ContractSpec(Path("x.yaml"), "c", "1", (), ())

    assert spec.quality == ()


# --- rules that do not ------------------------------------------------------------------------

#: (where, quality list, expected message, the line it is on, the token it points at)
BAD_RULES = [
    (
        "column",
        "- metric: nullValue\n",
        "unknown metric 'nullValue'; did you mean 'nullValues'?",
        "metric: nullValue",
        "nullValue",
    ),
    (
        "column",
        "- rule: freshness\n",
        "unknown metric 'freshness' "
        "(known: nullValues, missingValues, invalidValues, duplicateValues, rowCount)",
        "rule: freshness",
        "freshness",
    ),
    (
        "column",
        "- metric: nullValues\n  rule: missingValues\n",
        "rule 'missingValues' (the old name of metric) disagrees with metric 'nullValues'",
        "rule: missingValues",
        "missingValues",
    ),
    (
        "column",
        "- description: no gaps\n  mustBe: 0\n",
        "missing required field 'metric' (or give type: sql with a query)",
        "description: no gaps",
        "description",
    ),
    (
        "column",
        "- type: sqll\n  query: SELECT 1\n  mustBe: 1\n",
        "unknown quality type 'sqll'; did you mean 'sql'?",
        "type: sqll",
        "sqll",
    ),
    (
        "object",
        "- metric: duplicateValues\n  arguments:\n    properties:\n      - title_id\n      - titel\n",
        "unknown column 'titel'; did you mean 'title'?",
        "- titel",
        "titel",
    ),
    (
        "object",
        "- metric: duplicateValues\n  arguments: {properties: [title_id, colour]}\n",
        "unknown column 'colour' (known: title_id, region, title, price, released_at)",
        "colour",
        "colour",
    ),
    (
        "object",
        "- metric: duplicateValues\n",
        "duplicateValues on the schema object needs arguments.properties (its columns)",
        "metric: duplicateValues",
        "metric",
    ),
    (
        "object",
        "- metric: nullValues\n",
        "nullValues checks a column: put the rule in that column's quality",
        "metric: nullValues",
        "nullValues",
    ),
    (
        "object",
        "- type: sql\n  query: SELECT count(*) FROM {object} WHERE {property} IS NULL\n  mustBe: 0\n",
        "{property} means the rule's column: put the rule in that column's quality, "
        "or name the column in the query",
        "query: SELECT",
        "SELECT",
    ),
    (
        "column",
        "- type: sql\n  query: SELECT count(*) FROM {table}\n  mustBe: 0\n",
        "unknown placeholder {table} (daap fills in {object} and {property})",
        "query: SELECT",
        "SELECT",
    ),
    (
        "column",
        "- metric: nullValues\n  mustBe: 0\n  mustBeLessThan: 5\n",
        "a rule has one operator, this one has 2 (mustBe, mustBeLessThan)",
        "mustBeLessThan: 5",
        "mustBeLessThan",
    ),
    (
        "object",
        "- metric: rowCount\n",
        "rowCount needs an operator: one of mustBe, mustNotBe, mustBeGreaterThan, mustBeGreaterOrEqualTo, "
        "mustBeLessThan, mustBeLessOrEqualTo, mustBeBetween, mustNotBeBetween",
        "metric: rowCount",
        "metric",
    ),
    (
        "column",
        "- type: sql\n  query: SELECT 1\n",
        "an sql rule needs an operator: one of mustBe, mustNotBe, mustBeGreaterThan, mustBeGreaterOrEqualTo, "
        "mustBeLessThan, mustBeLessOrEqualTo, mustBeBetween, mustNotBeBetween",
        "type: sql",
        "type",
    ),
    (
        "column",
        "- metric: nullValues\n  mustBe: none\n",
        "'mustBe' must be a number, got a string",
        "mustBe:",
        "none",
    ),
    (
        "column",
        "- metric: nullValues\n  mustNotBe:\n",
        "'mustNotBe' must be a number, got nothing (null)",
        "mustNotBe:",
        "mustNotBe",
    ),
    (
        "column",
        "- metric: nullValues\n  mustBeGreaterThan: lots\n",
        "'mustBeGreaterThan' must be a number or an integer, got a string",  # the ODCS model's check
        "mustBeGreaterThan",
        "lots",
    ),
    (
        "object",
        "- metric: rowCount\n  mustBeBetween: [120, 100]\n",
        "'mustBeBetween' must be [low, high], got low 120 > high 100",
        "mustBeBetween",
        "[120",
    ),
    (
        "object",
        "- metric: rowCount\n  mustBeBetween: [100]\n",
        "List should have at least 2 items after validation, not 1",  # the ODCS model's check
        "mustBeBetween",
        "[100",
    ),
    (
        "column",
        "- metric: nullValues\n  unit: percent\n  mustBeLessThan: 150\n",
        "'mustBeLessThan' is a percentage (unit: percent): it must be within 0..100",
        "mustBeLessThan",
        "150",
    ),
    (
        "column",
        "- metric: nullValues\n  unit: percent\n  mustNotBeBetween: [-1, 5]\n",
        "'mustNotBeBetween' is a percentage (unit: percent): it must be within 0..100",
        "mustNotBeBetween",
        "[-1",
    ),
    (
        "object",
        "- metric: rowCount\n  unit: percent\n  mustBe: 100\n",
        "rowCount counts rows: unit percent does not apply",
        "unit: percent",
        "percent",
    ),
    (
        "column",
        "- metric: nullValues\n  unit: row\n",
        "unit must be one of rows, percent, got 'row'; did you mean 'rows'?",
        "unit: row",
        "row",
    ),
    (
        "column",
        "- metric: nullValues\n  severity: critical\n",
        "severity must be one of error, warning, info, got 'critical'",
        "severity",
        "critical",
    ),
    (
        "column",
        "- metric: nullValues\n  severity: Warning\n",
        "severity must be one of error, warning, info, got 'Warning'; did you mean 'warning'?",
        "severity",
        "Warning",
    ),
    (
        "column",
        "- metric: nullValues\n  dimension: freshness\n",
        "unknown dimension 'freshness' (known: accuracy, completeness, conformity, consistency, coverage, "
        "timeliness, uniqueness)",
        "dimension",
        "freshness",
    ),
    (
        "column",
        "- metric: invalidValues\n",
        "invalidValues needs arguments.validValues or arguments.pattern",
        "metric: invalidValues",
        "metric",
    ),
    (
        "column",
        "- metric: invalidValues\n  arguments: {validValue: [a]}\n",
        "unknown argument 'validValue'; did you mean 'validValues'? (it takes: validValues, pattern)",
        "validValue:",
        "validValue",
    ),
    (
        "column",
        "- metric: nullValues\n  arguments: {missingValues: [a]}\n",
        "unknown argument 'missingValues' (nullValues takes none)",
        "missingValues:",
        "missingValues",
    ),
    (
        "column",
        "- metric: invalidValues\n  arguments: {pattern: '[A-Z'}\n",
        "invalid regular expression '[A-Z': unterminated character set at position 0",
        "pattern",
        "'[A-Z'",
    ),
    (
        "column",
        "- metric: missingValues\n  arguments:\n    missingValues: N/A\n",
        "'missingValues' must be a list of values, got a string",
        "missingValues: N/A",
        "N/A",
    ),
    (
        "column",
        "- metric: invalidValues\n  arguments:\n    validValues:\n      - a\n      - [b]\n",
        "'validValues[1]' must be a plain value, got a list",
        "- [b]",
        "[b]",
    ),
    (
        "column",
        "- type: sql\n  mustBe: 0\n",
        "an sql rule needs a query",
        "type: sql",
        "type",
    ),
]


@pytest.mark.parametrize(("where", "body", "message", "line", "token"), BAD_RULES)
def test_bad_rules_are_positioned_errors(
    raw: ProductFolder, where: str, body: str, message: str, line: str, token: str
) -> None:
    text = on_object(raw, body) if where == "object" else on_column(raw, body)

    problems = raw.problems()

    assert [(d.message, d.line, d.col) for d in problems] == [(message, *at(text, line, token))]


TO = "'to' must name a column of a port as product.port.column"


@pytest.mark.parametrize(
    ("relationship", "message", "token"),
    [
        ("{to: titles.title_id}", f"{TO}, got 'titles.title_id'", "titles"),
        ("{to: [a.b.c, a.b.d]}", f"{TO}, got ['a.b.c', 'a.b.d']", "["),
        ("{to: Cat.titles.name}", f"{TO}, got 'Cat.titles.name'", "Cat"),
        ("{type: partOf, to: a.b.c}", "relationship type must be 'foreignKey', got 'partOf'", "partOf"),
        ("{type: foreignKey}", "missing required field 'to' (the referenced column, product.port.column)",
         "{"),
    ],
)  # fmt: skip
def test_bad_relationships_are_positioned_errors(
    raw: ProductFolder, relationship: str, message: str, token: str
) -> None:
    raw.edit(CONTRACT, TITLE, TITLE + f"        relationships:\n          - {relationship}\n")
    text = (raw.path / CONTRACT).read_text()

    problems = raw.problems()

    assert [(d.message, d.line, d.col) for d in problems] == [(message, *at(text, "- {", token))]


def test_two_rules_may_not_share_a_name(raw: ProductFolder) -> None:
    on_object(raw, "- {name: enough, metric: rowCount, mustBeGreaterThan: 0}\n")
    text = on_column(raw, "- name: enough\n  metric: nullValues\n")

    (problem,) = raw.problems()

    first = line_of(text, "name: enough, metric")
    assert problem.message == f"rule name 'enough' is already used in this port (line {first})"
    assert (problem.line, problem.col) == at(text, "- name: enough\n".strip(), "enough")


def test_derived_names_that_collide_ask_for_a_name(raw: ProductFolder) -> None:
    text = on_column(
        raw, "- {metric: nullValues, mustBe: 0, severity: error}\n- {metric: nullValues, mustBeLessThan: 5}\n"
    )

    (problem,) = raw.problems()

    first = line_of(text, "severity: error}")
    assert problem.message == (
        f"a second rule named 'title.nullValues' (the first is on line {first}): give one of them a name"
    )
    assert (problem.line, problem.col) == at(text, "mustBeLessThan: 5}", "{")


def test_every_problem_is_reported_at_once(raw: ProductFolder) -> None:
    on_object(raw, "- {metric: rowCount}\n")
    on_column(raw, "- {metric: nulValues}\n- {metric: invalidValues, severity: fatal}\n")

    messages = [d.message for d in raw.problems()]

    assert len(messages) == 4
    assert messages[0].startswith("rowCount needs an operator")
    assert messages[1].startswith("unknown metric 'nulValues'")
    assert set(messages[2:]) == {
        "invalidValues needs arguments.validValues or arguments.pattern",
        "severity must be one of error, warning, info, got 'fatal'",
    }


NESTED = """      - name: price
        logicalType: object
        properties:
          - name: amount
            logicalType: number
            quality:
              - metric: nullValues
"""


def test_rules_on_nested_fields_are_refused(raw: ProductFolder) -> None:
    raw.edit(
        CONTRACT,
        "      - name: price\n        logicalType: number\n        physicalType: decimal(10,2)\n",
        NESTED,
    )
    text = (raw.path / CONTRACT).read_text()

    (problem,) = raw.problems()

    assert problem.message == "quality on a nested field are not supported: put them on the top-level column"
    assert (problem.line, problem.col) == at(text, "            quality:", "quality")


def test_value_metrics_cannot_check_a_nested_column(raw: ProductFolder) -> None:
    nested = NESTED.replace("            quality:\n              - metric: nullValues\n", "")
    nested += "        quality:\n          - {metric: missingValues}\n          - {metric: nullValues}\n"
    raw.edit(
        CONTRACT,
        "      - name: price\n        logicalType: number\n        physicalType: decimal(10,2)\n",
        nested,
    )
    text = (raw.path / CONTRACT).read_text()

    (problem,) = raw.problems()

    assert problem.message == "missingValues compares values: it cannot check the object column"
    assert (problem.line, problem.col) == at(text, "metric: missingValues", "missingValues")


def test_relationships_on_the_schema_object_are_refused(raw: ProductFolder) -> None:
    text = on_object(raw, "- {metric: rowCount, mustBeGreaterThan: 0}\n").replace(
        "    quality:\n", "    relationships:\n      - {from: titles.title, to: a.b.c}\n    quality:\n"
    )
    raw.write(CONTRACT, text)

    (problem,) = raw.problems()

    assert problem.message.startswith("relationships on the schema object are not supported")
    assert (problem.line, problem.col) == at(text, "relationships:", "relationships")


def test_direct_load_reports_file_positions(tmp_path: Path) -> None:
    path = tmp_path / "c.odcs.yaml"
    path.write_text(
        "apiVersion: v3.2.0\nkind: DataContract\nid: c\nversion: '1'\nschema:\n  - name: p\n"
        "    properties:\n      - name: a\n        logicalType: string\n        quality:\n"
        "          - {metric: invalidValues, arguments: {pattern: '('}}\n"
    )

    with pytest.raises(SpecError) as info:
        load_contract(path, "p")

    (problem,) = info.value.diagnostics
    assert (problem.path, problem.line, problem.col) == (str(path), 11, 58)
    assert problem.message.startswith("invalid regular expression '(': missing ), unterminated subpattern")
