"""``daap up`` as a user runs it: one process, four protocols, the same answer from each.

The same query goes through the CLI, REST, GraphQL, Arrow Flight SQL (ADBC)
and the PostgreSQL wire protocol (psql and psycopg); every one returns the
same rows. SIGTERM then stops the server cleanly.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import adbc_driver_flightsql.dbapi as flight_sql
import httpx
import psycopg
import pytest

from fixtures.workspace import Mesh

pytestmark = pytest.mark.slow

CSV = "id,name,amount,day\n1,ann,10.50,2024-01-01\n2,bob,3.25,2024-02-29\n3,cyd,7.00,2024-12-31\n"
SQL = "SELECT id, name, amount, day FROM shop.orders ORDER BY id"
QUERY = {
    "name": "since",
    "sql": "SELECT id, name FROM shop.orders WHERE day >= $first ORDER BY id",
    "parameters": [{"name": "first", "type": "date"}],
}
CALL = "SELECT id, name FROM shop.since('2024-02-01')"
EXPECTED = [
    ("1", "ann", "10.50", "2024-01-01"),
    ("2", "bob", "3.25", "2024-02-29"),
    ("3", "cyd", "7.00", "2024-12-31"),
]


@dataclass
class Served:
    root: Path
    http: int
    flight: int
    pg: int
    process: subprocess.Popen[str]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    mesh = Mesh(tmp_path_factory.mktemp("up"))
    columns = [
        ("id", "integer"),
        ("name", "string"),
        ("amount", "number", {"physicalType": "decimal(10,2)"}),
        ("day", "date"),
    ]
    mesh.product(
        "shop", columns, pk=["id"], port="orders", inputs={"src": {"path": "d.csv"}}, files={"d.csv": CSV}
    )
    descriptor = json.loads((mesh.root / "shop" / "dataproduct.yaml").read_text())
    descriptor["customProperties"].append({"property": "queries", "value": [QUERY]})
    (mesh.root / "shop" / "dataproduct.yaml").write_text(json.dumps(descriptor))
    mesh.build_ok()
    server = start(mesh.root)
    yield server
    if server.process.poll() is None:
        server.process.kill()


def up_command(root: Path, http: int, flight: int, pg: int) -> list[str]:
    return [sys.executable, "-m", "daap", "-w", str(root), "up", "--http-port", str(http),
            "--flight-port", str(flight), "--pg-port", str(pg)]  # fmt: skip


def start(root: Path) -> Served:
    """``daap up`` on free ports, once its HTTP port answers."""
    http, flight, pg = free_ports(3)
    command = up_command(root, http, flight, pg)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{http}/healthz", timeout=1).status_code == 200:
                return Served(root, http, flight, pg, process)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError(f"daap up did not come up:\n{process.stdout.read() if process.stdout else ''}")


def test_cli(served: Served) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "daap", "-w", str(served.root), "query", SQL, "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert [(str(r["id"]), r["name"], r["amount"], r["day"]) for r in json.loads(out)] == EXPECTED


def test_rest(served: Served) -> None:
    response = httpx.post(f"http://127.0.0.1:{served.http}/api/sql", json={"sql": SQL})
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    assert [(str(r["id"]), r["name"], r["amount"], r["day"]) for r in rows] == EXPECTED
    assert response.headers["x-daap-versions"] == "shop=1"


def test_graphql(served: Served) -> None:
    query = "{ shop__orders(order_by: [{column: id}]) { rows { id name amount day } } }"
    response = httpx.post(f"http://127.0.0.1:{served.http}/graphql/", json={"query": query})
    assert response.status_code == 200, response.text
    rows = response.json()["data"]["shop__orders"]["rows"]
    assert [(str(r["id"]), r["name"], r["amount"], r["day"]) for r in rows] == EXPECTED


def test_flight_sql_with_adbc(served: Served) -> None:
    with flight_sql.connect(f"grpc://127.0.0.1:{served.flight}") as conn, conn.cursor() as cursor:
        cursor.execute(SQL)
        rows = cursor.fetchall()
    assert [(str(i), n, str(a), d.isoformat()) for i, n, a, d in rows] == EXPECTED


def test_postgresql_with_psql_and_psycopg(served: Served) -> None:
    psql = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(served.pg),
            "-U",
            "analyst",
            "-d",
            "daap",
            "-A",
            "-t",
            "-F",
            ",",
            "-c",
            SQL,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert psql.returncode == 0, psql.stderr
    assert [tuple(line.split(",")) for line in psql.stdout.split()] == EXPECTED
    with psycopg.connect(f"host=127.0.0.1 port={served.pg} user=analyst dbname=daap") as conn:
        rows = conn.execute(SQL).fetchall()
    assert [(str(i), n, str(a), d.isoformat()) for i, n, a, d in rows] == EXPECTED


def test_named_query_is_callable_on_every_protocol(served: Served) -> None:
    expected = [("2", "bob"), ("3", "cyd")]
    rest = httpx.get(
        f"http://127.0.0.1:{served.http}/api/products/shop/queries/since", params={"first": "2024-02-01"}
    )
    assert [(str(r["id"]), r["name"]) for r in rest.json()["rows"]] == expected
    graphql = httpx.post(
        f"http://127.0.0.1:{served.http}/graphql/",
        json={"query": '{ shop__query_since(first: "2024-02-01") { id name } }'},
    )
    assert [(str(r["id"]), r["name"]) for r in graphql.json()["data"]["shop__query_since"]] == expected
    with flight_sql.connect(f"grpc://127.0.0.1:{served.flight}") as conn, conn.cursor() as cursor:
        cursor.execute("SELECT id, name FROM shop.since(?)", ["2024-02-01"])
        assert [(str(i), n) for i, n in cursor.fetchall()] == expected
    with psycopg.connect(f"host=127.0.0.1 port={served.pg} user=analyst dbname=daap") as conn:
        assert [(str(i), n) for i, n in conn.execute(CALL).fetchall()] == expected


def test_sigterm_stops_cleanly(served: Served) -> None:
    own = start(served.root)
    own.process.send_signal(signal.SIGTERM)
    assert own.process.wait(timeout=20) == 0
    output = own.process.stdout.read() if own.process.stdout else ""
    assert "daap is serving on 127.0.0.1" in output and "daap stopped" in output


def test_graphql_answers_without_the_trailing_slash(served: Served) -> None:
    response = httpx.post(f"http://127.0.0.1:{served.http}/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 200 and response.json()["data"]["__typename"] == "Query"


def test_a_port_in_use_is_named_with_its_option(served: Served) -> None:
    http, flight = free_ports(2)  # served.pg is held by the module's running server
    command = up_command(served.root, http, flight, served.pg)
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"cannot serve PostgreSQL on 127.0.0.1:{served.pg}" in proc.stderr and "--pg-port" in proc.stderr
