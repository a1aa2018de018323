"""The newcomer's path through the real ``daap`` command: init, build, query, time travel."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def run(cwd: Path, env, *args, code=0):
    proc = subprocess.run(
        [sys.executable, "-m", "daap", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == code, (
        f"daap {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    )
    return proc


@pytest.mark.parametrize("kind", ["raw", "derived"])
def test_init_build_query_and_query_first_version(tmp_path, daap_env, kind):
    run(tmp_path, daap_env, "init", "sales", "--type", kind, "--domain", "retail")
    run(tmp_path, daap_env, "validate")
    built = json.loads(run(tmp_path, daap_env, "build", "--json").stdout)
    assert [(b["product"], b["status"], b["version"]) for b in built] == [("sales", "published", 1)]
    first = run(
        tmp_path, daap_env, "query", "SELECT count(*) AS n FROM sales.sales", "--format", "csv"
    ).stdout
    csv_file = tmp_path / "sales" / "data" / "orders.csv"
    csv_file.write_text(csv_file.read_text() + "1006,c-009,JP,99.00,2026-01-08 12:00:00\n")
    again = json.loads(run(tmp_path, daap_env, "build", "--json").stdout)
    assert again[0]["version"] == 2
    now = run(tmp_path, daap_env, "query", "SELECT count(*) AS n FROM sales.sales", "--format", "csv").stdout
    then = run(
        tmp_path, daap_env, "query", "SELECT count(*) AS n FROM sales.sales", "--at", "1", "--format", "csv"
    ).stdout
    assert then == first
    expected = {"raw": ("5", "6"), "derived": ("3", "4")}[kind]
    assert (first.split()[1], now.split()[1]) == expected
    listed = json.loads(run(tmp_path, daap_env, "snapshots", "sales", "--json").stdout)
    assert [v["version"] for v in listed] == [1, 2]
    unchanged = run(tmp_path, daap_env, "build").stdout
    assert "unchanged sales" in unchanged


def test_output_formats(tmp_path, daap_env):
    run(tmp_path, daap_env, "init", "sales")
    run(tmp_path, daap_env, "build")
    sql = "SELECT order_id, country FROM sales.sales ORDER BY order_id LIMIT 2"
    as_json = json.loads(run(tmp_path, daap_env, "query", sql, "--format", "json").stdout)
    assert as_json == [{"order_id": 1001, "country": "NL"}, {"order_id": 1002, "country": "DE"}]
    table = run(tmp_path, daap_env, "query", sql).stdout
    assert "order_id" in table and "1002" in table
    run(tmp_path, daap_env, "query", sql, "--format", "parquet", "-o", "out.parquet")
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "out.parquet").num_rows == 2


def test_exit_codes_and_messages(tmp_path, daap_env):
    run(tmp_path, daap_env, "init", "sales")
    refused = run(tmp_path, daap_env, "query", "DROP TABLE sales.sales", code=7)
    assert "only read-only queries" in refused.stderr
    missing = run(tmp_path, daap_env, "query", "SELECT * FROM sales.sales", code=7)
    assert "no published version" in missing.stderr
    bad = run(tmp_path, daap_env, "init", "bad-name", code=3)
    assert "try 'bad_name'" in bad.stderr
    unsupported = run(tmp_path, daap_env, "init", "model", "--type", "algorithm", code=3)
    assert "not supported yet" in unsupported.stderr
    (tmp_path / "sales" / "dataproduct.yaml").write_text("kind: DataProduct\nnmae: x\n")
    invalid = run(tmp_path, daap_env, "validate", code=3)
    assert "dataproduct.yaml:2:1" in invalid.stdout and "did you mean 'name'" in invalid.stdout
    failed = run(tmp_path, daap_env, "build", code=3)
    assert "dataproduct.yaml:2:1" in failed.stderr


def test_error_text_is_printed_verbatim_not_as_markup(tmp_path, daap_env):
    bad = run(tmp_path, daap_env, "init", "Bad-Name", code=3)
    assert "^[a-z][a-z0-9_]*$" in bad.stderr


def test_usage_errors_exit_2(tmp_path, daap_env):
    run(tmp_path, daap_env, "init", "sales")
    again = run(tmp_path, daap_env, "init", "sales", code=2)
    assert "already exists and is not empty" in again.stderr
    run(tmp_path, daap_env, "build")
    no_policy = run(tmp_path, daap_env, "expire", "sales", code=2)
    assert "declares no retention policy" in no_policy.stderr


def test_commands_inside_a_product_folder_find_the_mesh(tmp_path, daap_env):
    run(tmp_path, daap_env, "init", "sales")
    run(tmp_path, daap_env, "build")
    inside = run(
        tmp_path / "sales" / "data",
        daap_env,
        "query",
        "SELECT count(*) AS n FROM sales.sales",
        "--format",
        "csv",
    )
    assert inside.stdout.split() == ["n", "5"]
    assert not (tmp_path / "sales" / ".daap").exists()


def test_daap_home_that_is_a_file_is_a_configuration_error(tmp_path, daap_env):
    (tmp_path / "afile").write_text("")
    env = {**daap_env, "DAAP_HOME": str(tmp_path / "afile")}
    proc = run(tmp_path, env, "build", code=3)
    assert "DAAP_HOME=" in proc.stderr and "is not a folder" in proc.stderr
