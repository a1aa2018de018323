"""The demo mesh's access story, as a user meets it: the EU content analyst and the privacy officer.

The demo (examples/streaming-media, generated small) is built and served; ana
sees only EU customers with personal data masked, priya sees everything, and
each gets the same rows from psql, ADBC, REST and GraphQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from typing import Any

import adbc_driver_flightsql.dbapi as flightsql
import httpx
import psycopg
import pytest

from fixtures.demo import served_demo

COLUMNS = "customer_id email full_name phone birth_date region"
SQL = f"SELECT {', '.join(COLUMNS.split())} FROM customers.customers ORDER BY 1 LIMIT 500"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with served_demo(tmp_path_factory.mktemp("demo"), ("ana", "priya", "joe")) as served:
        yield served


def psql(demo: dict[str, Any], who: str, sql: str) -> list[list[str]]:
    """Through the psql binary, as a user would: unaligned, tab-separated."""
    dsn = f"host=127.0.0.1 port={demo['pg']} dbname=daap user={who} password={demo['tokens'][who]}"
    done = subprocess.run(["psql", dsn, "-AtF\t", "-c", sql], capture_output=True, text=True, check=True)
    return [line.split("\t") for line in done.stdout.splitlines()]


def as_text(value: Any) -> str:
    return "" if value is None else str(value)


def every_protocol(demo: dict[str, Any], who: str) -> list[list[list[str]]]:
    token = demo["tokens"][who]
    headers = {"Authorization": f"Bearer {token}"}
    answers = [psql(demo, who, SQL)]
    dsn = f"host=127.0.0.1 port={demo['pg']} dbname=daap user={who} password={token}"
    with psycopg.connect(dsn) as conn:
        answers.append([[as_text(v) for v in row] for row in conn.execute(SQL).fetchall()])
    options = {"adbc.flight.sql.authorization_header": f"Bearer {token}"}
    with flightsql.connect(f"grpc://127.0.0.1:{demo['flight']}", db_kwargs=options, autocommit=True) as conn:
        cursor = conn.cursor()
        cursor.execute(SQL)
        answers.append([[as_text(v) for v in row] for row in cursor.fetchall()])
    body = httpx.post(
        f"{demo['url']}/api/sql", json={"sql": SQL}, headers=headers, params={"_format": "json"}
    )
    answers.append([[as_text(v) for v in r.values()] for r in body.json()["rows"]])
    query = f"{{ customers__customers(limit: 500) {{ rows {{ {COLUMNS} }} }} }}"
    page = httpx.post(f"{demo['url']}/graphql", json={"query": query}, headers=headers).json()
    answers.append([[as_text(v) for v in r.values()] for r in page["data"]["customers__customers"]["rows"]])
    return answers


def test_the_eu_analyst_sees_eu_customers_masked_and_the_officer_everything_on_every_protocol(demo):
    ana = every_protocol(demo, "ana")
    assert all(answer == ana[0] for answer in ana), "the protocols disagree for ana"
    priya = every_protocol(demo, "priya")
    assert all(answer == priya[0] for answer in priya), "the protocols disagree for priya"
    rows = ana[0]
    assert rows and {r[5] for r in rows} == {"EU"}
    for _id, email, name, phone, born, _region in rows:
        assert "@" not in email and len(email) == 32  # keyed hash
        assert name == "***" and (phone == "" or phone.startswith("***"))
        assert date.fromisoformat(born).timetuple()[1:3] == (1, 1)  # the year only
    everyone = priya[0]
    assert {r[5] for r in everyone} == {"EU", "NA", "LATAM", "APAC"} and len(everyone) == 500
    assert all("@example.com" in r[1] for r in everyone)
    assert psql(demo, "priya", "SELECT count(*) FROM customers.customers") == [["5000"]]
    counted = "SELECT count(*) FROM customers.customers WHERE region = 'EU'"
    assert psql(demo, "ana", "SELECT count(*) FROM customers.customers") == psql(demo, "priya", counted)
    eu = [r[0] for r in everyone if r[5] == "EU"]
    assert [r[0] for r in rows][: len(eu)] == eu[: len(rows)]  # the same customers, masked


def test_a_product_owner_outside_billing_cannot_discover_customers(demo):
    headers = {"Authorization": f"Bearer {demo['tokens']['joe']}"}
    tables = httpx.get(f"{demo['url']}/api/tables", headers=headers).json()
    assert "customers" not in {t["product"] for t in tables} and "playback_events" in {
        t["product"] for t in tables
    }


def test_govern_check_on_the_demo_lists_its_compliance(demo):
    done = subprocess.run(
        [sys.executable, "-m", "daap", "-w", str(demo["root"]), "govern", "check"],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "DAAP_HOME"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for product in ("customers", "playback_events", "title_popularity", "titles"):
        assert product in done.stdout
    assert "owner-team" in done.stdout and "personal-data-classified" in done.stdout
