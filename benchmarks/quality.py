"""quality: a port's ODCS quality rules through daap, against one hand-written DuckDB query.

The benchmark port ``p`` (data.py's eight columns; 1e7 rows, 1e6 with
--quick) as Parquet files like a published version's, with ten rules: four
nullValues (one in percent, mustBeBetween), invalidValues by validValues (in
percent, mustBeBetween) and by pattern, missingValues, duplicateValues on the
key, rowCount, and one sql rule. All pass, so no samples are taken.
Ours: :func:`daap.runtime.quality.run_rules` on a fresh engine connection over
a view of the files (which also profiles every column: nulls and approximate
distinct values). Baseline: a fresh ``duckdb.connect()`` running one query
that computes the same ten numbers over the same files.
Goal: ours <= 1.5x.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import duckdb

from benchmarks import data
from benchmarks.runner import Measure, Outcome, Settings, alternate, log, median, profile_lines, spread, timed

NAME = "quality"
GOAL = 1.5
#: c3 holds 0..999: these are about 10% of its values
VALID_C3 = list(range(0, 1000, 10))


def _rules(rows: int) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Schema-level rules, and rules per column."""
    table = [
        {"metric": "rowCount", "mustBe": rows},
        {
            "type": "sql",
            "name": "no_negative_c4",
            "query": "SELECT count(*) FROM {object} WHERE c4 < 0",
            "mustBe": 0,
        },
    ]
    columns = {
        "c1": [{"metric": "duplicateValues", "mustBe": 0}],
        "c2": [
            {"metric": "nullValues"},
            {"metric": "invalidValues", "arguments": {"pattern": "customer-[0-9]+"}, "mustBe": 0},
        ],
        "c3": [
            {
                "metric": "invalidValues",
                "arguments": {"validValues": VALID_C3},
                "unit": "percent",
                "mustBeBetween": [85, 95],
            }
        ],
        "c4": [{"metric": "nullValues", "unit": "percent", "mustBeBetween": [0, 1]}],
        "c5": [{"metric": "nullValues", "mustBe": 0, "severity": "warning"}],
        "c6": [{"metric": "nullValues", "dimension": "completeness"}],
        "c8": [{"metric": "missingValues", "arguments": {"missingValues": ["", "N/A"]}, "mustBe": 0}],
    }
    return table, columns


def _baseline_sql(files: str, rows: int) -> str:
    valid = ", ".join(str(v) for v in VALID_C3)
    return (
        "SELECT count(*) AS row_count, "
        "count(*) FILTER (WHERE c4 < 0) AS no_negative_c4, "
        "count(c1) - count(DISTINCT c1) AS c1_duplicates, "
        "count(*) FILTER (WHERE c2 IS NULL) AS c2_nulls, "
        "count(*) FILTER (WHERE c2 IS NOT NULL AND NOT regexp_full_match(c2, 'customer-[0-9]+')) "
        "AS c2_invalid, "
        f"count(*) FILTER (WHERE c3 IS NOT NULL AND c3 NOT IN ({valid})) AS c3_invalid, "
        "count(*) FILTER (WHERE c4 IS NULL) AS c4_nulls, "
        "count(*) FILTER (WHERE c5 IS NULL) AS c5_nulls, "
        "count(*) FILTER (WHERE c6 IS NULL) AS c6_nulls, "
        "count(*) FILTER (WHERE c8 IS NULL OR c8 IN ('', 'N/A')) AS c8_missing "
        f"FROM read_parquet({files})"
    )


def _write_port(folder: Path, rows: int) -> list[str]:
    """The port's rows as Parquet files, cast to the contract's types (as a build writes them)."""
    folder.mkdir(parents=True, exist_ok=True)
    select = ", ".join(f"{sql} AS {name}" for name, _, _, sql in data.COLUMNS)
    query = f"SELECT {select} FROM range({rows}) AS t(i)"
    with duckdb.connect() as con:
        con.execute(
            f"COPY ({query}) TO '{folder}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, "
            "PER_THREAD_OUTPUT true, OVERWRITE true)"
        )
    return sorted(str(p) for p in folder.glob("*.parquet"))


def _contract(path: Path, rows: int) -> Any:
    from daap.spec.contract import load_contract

    doc = data.contract()
    table, columns = _rules(rows)
    (schema,) = doc["schema"]  # type: ignore[misc]
    schema["quality"] = table
    for prop in schema["properties"]:
        if prop["name"] in columns:
            prop["quality"] = columns[prop["name"]]
    path.write_text(json.dumps(doc, indent=2))
    return load_contract(path, data.PRODUCT)


def run(settings: Settings) -> Outcome:
    from daap.runtime import engine
    from daap.runtime.quality import QualityReport, run_rules

    rows = 1_000_000 if settings.quick else 10_000_000
    root = settings.work / NAME
    files = _write_port(root / "data", rows)
    contract = _contract(root / "p.odcs.yaml", rows)
    listed = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    direct = _baseline_sql(listed, rows)
    rules = len(contract.quality)
    log(f"{NAME}: {rows:,} rows in {len(files)} files, {rules} rules; {settings.reps} runs each")

    def ours() -> QualityReport:
        con = engine.connect()
        try:
            engine.register(con, "port", engine.Relation.parquet(files))
            return run_rules(con, engine.quote("port"), data.PRODUCT, contract)
        finally:
            con.close()

    def baseline() -> tuple[Any, ...]:
        with duckdb.connect() as con:
            return tuple(con.execute(direct).fetchall()[0])

    _check(ours(), baseline())
    mine, theirs = alternate(timed(ours), timed(baseline), settings.reps)
    details = profile_lines("one run of the rules", ours) if settings.profile else []
    measure = Measure(
        NAME,
        f"{rules} rules over {rows:,} rows",
        median(mine) * 1e3,
        median(theirs) * 1e3,
        "ms",
        GOAL,
        note=f"median of {settings.reps}, alternating, after one warm-up each; ours also profiles "
        f"{len(contract.columns)} columns; ours {spread(mine, 1e3, 'ms')}, "
        f"baseline {spread(theirs, 1e3, 'ms')}; {os.cpu_count()} CPUs",
    )
    return Outcome([measure], details)


def _check(report: Any, numbers: tuple[Any, ...]) -> None:
    """Every rule passed and counted what the baseline counted."""
    failed = [r.describe() for r in report.results if not r.passed]
    if failed:
        raise RuntimeError(f"rules failed: {failed}")
    counts = {r.rule.name: r.count for r in report.results}
    expected = {
        "rowCount": numbers[0],
        "no_negative_c4": numbers[1],
        "c1.duplicateValues": numbers[2],
        "c2.nullValues": numbers[3],
        "c2.invalidValues": numbers[4],
        "c3.invalidValues": numbers[5],
        "c4.nullValues": numbers[6],
        "c5.nullValues": numbers[7],
        "c6.nullValues": numbers[8],
        "c8.missingValues": numbers[9],
    }
    wrong = {k: (counts.get(k), v) for k, v in expected.items() if counts.get(k) != v}
    if wrong or len(counts) != 10:
        raise RuntimeError(f"ours vs baseline differ: {wrong} ({len(counts)} rules)")
