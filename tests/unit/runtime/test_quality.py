"""ODCS quality rules measured on DuckDB: metrics, sql rules, relationships, samples, profile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daap.runtime.engine import connect
from daap.runtime.quality import QualityReport, RuleResult, dry_run, run_rules
from daap.spec.model import ColumnSpec, ContractSpec, QualityRule

COLUMNS = (
    ColumnSpec("event_id", "integer", "BIGINT", required=True, primary_key=True),
    ColumnSpec("title_id", "integer", "BIGINT"),
    ColumnSpec("country", "string", "VARCHAR"),
    ColumnSpec("watch_seconds", "integer", "INTEGER"),
    ColumnSpec("tags", "array", "VARCHAR[]", items=ColumnSpec("items", "string", "VARCHAR")),
)
#: event_id, title_id, country, watch_seconds
ROWS = [
    (1, 10, "DE", 30),
    (2, 10, "FR", -5),
    (3, 11, None, 60),
    (4, 12, "", 0),
    (5, None, "N/A", 120),
    (6, 11, "de", None),
    (7, 13, "DE", -1),
    (8, 10, "DE", 45),
]


@pytest.fixture
def con() -> Iterator[Any]:
    con = connect()
    con.execute(
        "CREATE TABLE plays (event_id BIGINT, title_id BIGINT, country VARCHAR, watch_seconds INTEGER, "
        "tags VARCHAR[])"
    )
    con.executemany("INSERT INTO plays VALUES (?, ?, ?, ?, ['x'])", ROWS)
    con.execute("CREATE TABLE titles AS SELECT * FROM (VALUES (10), (11), (12)) AS t(title_id)")
    yield con
    con.close()


def rule(metric: str | None = "nullValues", column: str | None = "country", **fields: Any) -> QualityRule:
    """A rule as the spec layer makes it; ``mustBe: 0`` in rows unless told otherwise."""
    name = f"{column}.{metric}" if column else str(metric)
    return QualityRule(**{"name": name, "column": column, "kind": "metric", "metric": metric, **fields})


def sql(query: str, column: str | None = None, **fields: Any) -> QualityRule:
    return rule(None, column, kind="sql", query=query, name=fields.pop("name", "q"), **fields)


def contract(*rules: QualityRule, key: tuple[str, ...] = ("event_id",)) -> ContractSpec:
    return ContractSpec(Path("plays.odcs.yaml"), "plays", "1", COLUMNS, key, quality=rules)


def run(con: Any, *rules: QualityRule, key: tuple[str, ...] = ("event_id",), **foreign: str) -> QualityReport:
    refs = {name.replace("__", "."): table for name, table in foreign.items()}
    return run_rules(con, "plays", "plays", contract(*rules, key=key), refs)


def only(report: QualityReport) -> RuleResult:
    (result,) = report.results
    return result


# --- metrics ----------------------------------------------------------------------------------

VALID = {"validValues": ("DE", "FR", "US")}

#: (rule, count, value, passed)
METRICS = [
    (rule(), 1, 1.0, False),
    (rule(operator="mustBeLessOrEqualTo", threshold=1.0), 1, 1.0, True),
    (rule(unit="percent", operator="mustBeLessThan", threshold=10.0), 1, 12.5, False),
    (rule(unit="percent", operator="mustBeBetween", threshold=(10.0, 12.5)), 1, 12.5, True),
    (rule("missingValues", arguments={"missingValues": (None, "", "N/A")}, threshold=3.0), 3, 3.0, True),
    (rule("missingValues", arguments={"missingValues": ("", "N/A")}, operator="mustNotBe", threshold=3.0),
     3, 3.0, False),
    (rule("missingValues", arguments={"missingValues": (None,)}), 1, 1.0, False),
    (rule("invalidValues", arguments=VALID, operator="mustBeLessThan", threshold=3.0), 3, 3.0, False),
    (rule("invalidValues", arguments=VALID, operator="mustBeLessThan", threshold=4.0), 3, 3.0, True),
    (rule("invalidValues", arguments={"pattern": "[A-Z]{2}"}, threshold=3.0), 3, 3.0, True),
    # with both, a valid value is listed and matches: FR is not listed, 'de' does not match
    (rule("invalidValues", arguments={"validValues": ("DE", "de"), "pattern": "[A-Z]{2}"}), 4, 4.0, False),
    # a pattern on a number matches its text; null is never invalid
    (rule("invalidValues", "watch_seconds", arguments={"pattern": "[0-9]+"}, threshold=2.0), 2, 2.0, True),
    (rule("invalidValues", "title_id", arguments={"validValues": (10, 11, None)}), 2, 2.0, False),
    (rule("duplicateValues", "title_id", operator="mustBeGreaterThan", threshold=2.0), 3, 3.0, True),
    (rule("duplicateValues", "title_id", operator="mustBeGreaterOrEqualTo", threshold=4.0), 3, 3.0, False),
    (rule("duplicateValues", "title_id", unit="percent", operator="mustBeLessOrEqualTo", threshold=37.5),
     3, 37.5, True),
    (rule("duplicateValues", "event_id"), 0, 0.0, True),
    # composite: rows with a null in the key are not compared; (10, 'DE') twice
    (rule("duplicateValues", None, arguments={"properties": ("title_id", "country")}), 1, 1.0, False),
    (rule("rowCount", None, operator="mustBeBetween", threshold=(1.0, 8.0)), 8, 8.0, True),
    (rule("rowCount", None, operator="mustNotBeBetween", threshold=(1.0, 8.0)), 8, 8.0, False),
    (rule("rowCount", None, operator="mustBeGreaterThan", threshold=8.0), 8, 8.0, False),
    (rule("rowCount", None, operator="mustNotBe", threshold=0.0), 8, 8.0, True),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "count", "value", "passed"), METRICS)
def test_metrics_measure_and_compare(
    con: Any, spec: QualityRule, count: int, value: float, passed: bool
) -> None:
    result = only(run(con, spec))

    assert (result.count, result.value, result.rows, result.passed, result.error) == (
        count,
        value,
        8,
        passed,
        None,
    )


def test_all_metrics_and_the_profile_take_one_scan(con: Any) -> None:
    seen: list[str] = []

    class Recording:
        def execute(self, query: str, *args: Any) -> Any:
            seen.append(query)
            return con.execute(query, *args)

    rules = [spec for spec, *_, passed in METRICS if passed]
    report = run_rules(Recording(), "plays", "plays", contract(*rules))

    assert all(r.passed for r in report.results) and len(report.results) == len(rules)
    assert len(seen) == 1


def test_profile_counts_nulls_and_distinct_values_of_scalar_columns(con: Any) -> None:
    report = run(con)

    assert report.rows == 8 and report.results == ()
    assert {c: (p.nulls, p.distinct) for c, p in report.profile.items()} == {
        "event_id": (0, 8),
        "title_id": (1, 4),
        "country": (1, 5),
        "watch_seconds": (1, 7),
    }


def test_profile_of_no_rows(con: Any) -> None:
    con.execute("DELETE FROM plays")

    report = run(con, rule(unit="percent", operator="mustBeLessThan", threshold=1.0))

    assert report.rows == 0 and report.profile["country"].nulls == 0
    assert (only(report).value, only(report).passed) == (0.0, True)


def test_a_broken_metric_is_an_error_result_and_the_others_still_count(con: Any) -> None:
    broken = rule("invalidValues", "title_id", arguments={"validValues": ("ten",)})

    report = run(con, rule(), broken, rule("rowCount", None, threshold=8.0))

    nulls, bad, rows = report.results
    assert (nulls.count, nulls.passed, rows.count, rows.passed) == (1, False, 8, True)
    assert (bad.value, bad.count, bad.passed) == (None, None, False)
    assert bad.error is not None and "'ten'" in bad.error and "INT64" in bad.error
    assert report.profile["title_id"].nulls == 1


# --- sql rules --------------------------------------------------------------------------------

SQL_RULES = [
    (sql("SELECT count(*) FROM {object} WHERE {property} < 0", "watch_seconds", threshold=2.0), 2, 2.0, True),
    (sql("SELECT count(*) FROM {object} WHERE {property} < 0", "watch_seconds", unit="percent",
         operator="mustBeLessThan", threshold=20.0), 2, 25.0, False),
    (sql("SELECT avg(watch_seconds) FROM {object}", operator="mustBeGreaterThan", threshold=35.0),
     None, 249 / 7, True),
    (sql("SELECT bool_and(watch_seconds IS NOT NULL) FROM {object}", threshold=1.0), 0, 0.0, False),
    (sql("SELECT sum(watch_seconds)::DECIMAL(10, 2) FROM {object};", threshold=249.0), 249, 249.0, True),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "count", "value", "passed"), SQL_RULES)
def test_sql_rules_fill_in_placeholders_and_compare(
    con: Any, spec: QualityRule, count: int | None, value: float, passed: bool
) -> None:
    result = only(run(con, spec))

    assert (result.count, result.value, result.passed, result.error) == (
        count,
        pytest.approx(value),
        passed,
        None,
    )
    assert result.samples == ()  # an sql rule has no rows to show


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("SELECT 1 FROM {object} WHERE false", "the query must return one row, it returns none"),
        ("SELECT watch_seconds FROM {object}", "the query must return one row, it returns more"),
        (
            "SELECT count(*), max(event_id) FROM {object}",
            "the query must return one number, it returns 2 columns",
        ),
        ("SELECT max(country) FROM {object}", "the query must return a number, it returns VARCHAR"),
        ("SELECT max(event_id) FROM {object} WHERE false", "the query returned null"),
        ("DELETE FROM {object}", "the query must be one SELECT statement"),
        ("SELECT 1; SELECT 2", "the query must be one SELECT statement"),
        ("SELECT count(*) FROM {object} WHERE nope > 0", 'Referenced column "nope" not found'),
        ("SELECT CAST(country AS INTEGER) FROM {object} WHERE event_id = 1", "Could not convert string 'DE'"),
        ("SELEC 1", 'syntax error at or near "SELEC"'),
    ],
)
def test_an_sql_rule_that_cannot_be_measured_fails_with_a_reason(con: Any, query: str, error: str) -> None:
    result = only(run(con, sql(query, threshold=1.0)))

    assert (result.passed, result.value, result.count) == (False, None, None)
    assert result.error is not None and error in result.error
    assert con.execute("SELECT count(*) FROM plays").fetchall() == [(8,)]  # nothing was changed


# --- relationships ----------------------------------------------------------------------------


def reference(column: str = "title_id", target: str = "catalog.titles.title_id") -> QualityRule:
    return rule(None, column, kind="relationship", name=f"{column}.references", references=target)


def test_relationship_counts_unmatched_values_and_ignores_nulls(con: Any) -> None:
    result = only(run(con, reference(), catalog__titles="titles"))

    assert (result.count, result.value, result.passed) == (1, 1.0, False)
    assert result.samples == ("event_id=7: 13",)


def test_relationship_that_matches_passes(con: Any) -> None:
    con.execute("INSERT INTO titles VALUES (13)")

    result = only(run(con, reference(), catalog__titles="titles"))

    assert (result.count, result.passed, result.samples) == (0, True, ())


def test_relationship_to_a_port_not_given_is_an_error(con: Any) -> None:
    result = only(run(con, reference()))

    assert (result.passed, result.error) == (False, "the referenced port catalog.titles is not available")


def test_relationship_to_a_missing_column_is_an_error(con: Any) -> None:
    result = only(run(con, reference(target="catalog.titles.id"), catalog__titles="titles"))

    assert result.passed is False and result.error is not None and '"id"' in result.error


# --- samples and messages ---------------------------------------------------------------------


def test_samples_name_the_primary_key(con: Any) -> None:
    result = only(run(con, rule("invalidValues", arguments=VALID)))

    assert result.samples == ("event_id=4: ''", "event_id=5: 'N/A'", "event_id=6: 'de'")


def test_samples_without_a_key_give_row_numbers(con: Any) -> None:
    result = only(run(con, rule(), key=()))

    assert result.samples == ("row 3: null",)


def test_samples_of_a_key_column_give_row_numbers(con: Any) -> None:
    result = only(run(con, rule("invalidValues", "event_id", arguments={"validValues": (1, 2, 3)})))

    assert result.samples == ("row 4: 4", "row 5: 5", "row 6: 6", "row 7: 7", "row 8: 8")


def test_samples_are_at_most_five_and_only_for_failing_rules(con: Any) -> None:
    many = rule("invalidValues", "watch_seconds", arguments={"validValues": (0,)})
    passing = rule(operator="mustBeLessThan", threshold=5.0)

    failing, passed = run(con, many, passing).results

    assert len(failing.samples) == 5 and failing.samples[0] == "event_id=1: 30"
    assert passed.samples == ()


@pytest.mark.parametrize(
    ("spec", "samples"),
    [
        (rule("duplicateValues", "title_id"), ("title_id=10 (x3)", "title_id=11 (x2)")),
        (rule("duplicateValues", None, arguments={"properties": ("title_id", "country")}),
         ("title_id=10, country='DE' (x2)",)),
    ],
)  # fmt: skip
def test_duplicate_samples_show_the_repeated_values(
    con: Any, spec: QualityRule, samples: tuple[str, ...]
) -> None:
    assert only(run(con, spec)).samples == samples


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            rule("invalidValues", "watch_seconds", arguments={"pattern": "[0-9]+"}, dimension="accuracy"),
            "rule 'watch_seconds.invalidValues' (error, accuracy): 2 rows (25%) must be 0; "
            "e.g. event_id=2: -5, event_id=7: -1",
        ),
        (
            rule(unit="percent", operator="mustBeLessThan", threshold=10.0, severity="warning"),
            "rule 'country.nullValues' (warning): 12.5% (1 of 8 rows) must be less than 10%; "
            "e.g. event_id=3: null",
        ),
        (
            rule(operator="mustBeLessOrEqualTo", threshold=1.0),
            "rule 'country.nullValues' (error): 1 row (12.5%), passed (must be at most 1)",
        ),
        (
            rule("rowCount", None, operator="mustBeBetween", threshold=(10.0, 20.0), severity="info"),
            "rule 'rowCount' (info): 8 rows must be between 10 and 20",
        ),
        (
            sql("SELECT count(*) FROM {object} WHERE watch_seconds < 0", operator="mustBeLessThan",
                threshold=1.0, name="no_negatives"),
            "rule 'no_negatives' (error): value 2 must be less than 1",
        ),
        (
            sql("SELECT 'x'", threshold=1.0, name="text"),
            "rule 'text' (error): could not be measured: the query must return a number, it returns VARCHAR",
        ),
        (
            reference(),
            "rule 'title_id.references' (error): 1 row (12.5%) without a match in catalog.titles.title_id "
            "must be 0; e.g. event_id=7: 13",
        ),
    ],
)  # fmt: skip
def test_describe_reads_as_one_line(con: Any, spec: QualityRule, message: str) -> None:
    assert only(run(con, spec, catalog__titles="titles")).describe() == message


def test_report_sorts_failures_by_severity(con: Any) -> None:
    report = run(
        con,
        rule(name="e1"),
        rule(name="w1", severity="warning"),
        rule(name="i1", severity="info"),
        rule(name="ok", severity="error", threshold=1.0),
    )

    assert [r.rule.name for r in report.failed_errors] == ["e1"]
    assert [r.rule.name for r in report.failed_warnings] == ["w1"]
    assert [r.rule.name for r in report.failed] == ["e1", "w1", "i1"]
    assert report.passed is False
    assert run(con, rule(name="w", severity="warning")).passed is True


# --- dry run ----------------------------------------------------------------------------------


def test_dry_run_of_sound_rules_finds_nothing() -> None:
    rules = [spec for spec, *_ in METRICS] + [spec for spec, *_ in SQL_RULES] + [reference()]
    titles = ContractSpec(
        Path("titles.odcs.yaml"), "t", "1", (ColumnSpec("title_id", "integer", "BIGINT"),), ()
    )

    assert dry_run(contract(*rules), "plays", {"catalog.titles": titles}) == []


def test_dry_run_reports_what_would_fail_on_any_data() -> None:
    titles = ContractSpec(Path("titles.odcs.yaml"), "t", "1", (ColumnSpec("id", "varchar", "VARCHAR"),), ())
    rules = (
        sql("SELECT count(*) FROM {object} WHERE nope > 0", name="typo"),
        sql("SELECT count(*), 1 FROM {object}", name="two"),
        sql("SELECT max(country) FROM {object}", name="text"),
        sql("SELECT watch_seconds FROM {object} LIMIT 1", name="no_row"),
        sql("SELECT max(watch_seconds) FROM {object}", name="null_is_fine_on_no_rows"),
        rule("invalidValues", "title_id", arguments={"validValues": (10, "ten")}),
        rule("invalidValues", arguments={"pattern": "(?=lookahead)"}),
        reference(target="catalog.titles.title_id"),
        reference("country", "catalog.titles.id"),  # VARCHAR = VARCHAR: fine
        reference("watch_seconds", "elsewhere.port.id"),  # not given: the mesh checks it
    )

    problems = dry_run(contract(*rules), "plays", {"catalog.titles": titles})

    assert len(problems) == 7
    assert all(p.startswith("plays.odcs.yaml: quality rule '") for p in problems)
    typo, two, text, no_row, literal, pattern, target = problems
    assert "'typo'" in typo and 'Referenced column "nope" not found' in typo
    assert two.endswith("'two': the query must return one number, it returns 2 columns")
    assert text.endswith("'text': the query must return a number, it returns VARCHAR")
    assert no_row.endswith("'no_row': the query must return one row, it returns none")
    assert (
        "'title_id.invalidValues': validValues 'ten' is not a BIGINT: Could not convert string 'ten'"
        in literal
    )
    assert "'country.invalidValues'" in pattern and "invalid perl operator" in pattern
    assert target == (
        "plays.odcs.yaml: quality rule 'title_id.references': port catalog.titles has no column 'title_id' "
        "(it has: id)"
    )
