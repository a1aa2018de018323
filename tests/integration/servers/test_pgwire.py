"""The PostgreSQL wire server on a real port, spoken to by psql, psycopg, SQLAlchemy and raw sockets."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa

from daap.mesh.workspace import Workspace
from daap.query.service import QueryRequest, QueryService
from daap.servers.pgwire import PgWireServer, Scram, Trust
from fixtures.workspace import Mesh

USER, PASSWORD = "alice", "s3cret"
COLUMNS = [
    ("id", "integer"),
    ("name", "string"),
    ("amount", "number", {"physicalType": "decimal(10,2)"}),
    ("day", "date"),
    ("ts", "timestamp"),
    ("tz", "timestamp", {"physicalType": "timestamptz"}),
]


def _csv(rows: int) -> str:
    lines = ["id,name,amount,day,ts,tz"]
    for i in range(1, rows + 1):
        name = "" if i % 50 == 0 else f"name {i}"  # some NULLs
        day = dt.date(2024, 1, 1) + dt.timedelta(days=i % 90)
        lines.append(
            f"{i},{name},{i}.{i % 100:02d},{day},2024-01-02 10:00:{i % 60:02d}.5,2024-01-02T1{i % 10}:00:00Z"
        )
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DAAP_HOME", raising=False)
        mesh = Mesh(tmp_path_factory.mktemp("pgwire"))
        mesh.product("sales", COLUMNS, pk=["id"], inputs={"s": {"path": "d.csv"}}, files={"d.csv": _csv(100)})
        mesh.build_ok()
        (mesh.root / "sales" / "d.csv").write_text(_csv(200))
        mesh.build_ok()
        ws = Workspace.open(mesh.root)
        service = QueryService(ws)
        scram = PgWireServer(service, auth=Scram({USER: PASSWORD})).serve_in_thread()
        trust = PgWireServer(service, auth=Trust()).serve_in_thread()
        yield {"service": service, "scram": scram.port, "trust": trust.port, "trust_server": trust.server}
        scram.stop()
        trust.stop()
        ws.close()


def _dsn(env: dict[str, Any], **extra: str) -> str:
    parts = {
        "host": "127.0.0.1",
        "port": str(env["scram"]),
        "user": USER,
        "password": PASSWORD,
        "dbname": "daap",
    }
    return " ".join(f"{k}={v}" for k, v in (parts | extra).items())


def _expected(env: dict[str, Any], sql: str, params: Any = (), at: Any = None) -> list[tuple[Any, ...]]:
    table = env["service"].execute(QueryRequest(sql, params, at)).read_all()
    return [tuple(row.values()) for row in table.to_pylist()]


def _psql(env: dict[str, Any], *commands: str, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    args = ["psql", "-h", "127.0.0.1", "-p", str(env["scram"]), "-U", USER, "-d", "daap", "-X"]
    for command in commands:
        args += ["-c", command]
    environ = os.environ | {"PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"}
    return subprocess.run(args, capture_output=True, text=True, env=environ, timeout=30)


# -- psql --------------------------------------------------------------------------------

needs_psql = pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")


@needs_psql
def test_psql_select_with_scram(env):
    sql = "SELECT id, name, amount, day FROM sales.sales WHERE id <= 3 ORDER BY id"
    done = _psql(env, "\\pset format unaligned", sql)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == "id|name|amount|day"
    rows = [tuple(str(v) for v in row) for row in _expected(env, sql)]
    assert lines[2:5] == ["|".join(row) for row in rows]
    assert lines[5] == "(3 rows)"


@needs_psql
def test_psql_describes_products_and_ports(env):
    done = _psql(env, "\\dt", "\\dn", "\\d sales.sales")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert " sales  | sales | table | daap" in out  # \dt
    assert "List of schemas" in out and " sales  | daap" in out  # \dn
    assert 'Table "sales.sales"' in out
    assert "amount | numeric(10,2)" in out
    assert "tz     | timestamp with time zone" in out
    assert "id     | bigint                      |           | not null |" in out


@needs_psql
def test_psql_wrong_password_is_refused(env):
    done = _psql(env, "SELECT 1", password="wrong")
    assert done.returncode != 0
    assert 'password authentication failed for user "alice"' in done.stderr


# -- psycopg -----------------------------------------------------------------------------


def test_server_side_parameters_of_every_type(env):
    sql = (
        "SELECT * FROM sales.sales"
        " WHERE id > %s AND name <> %s AND day >= %s AND ts > %s AND amount > %s ORDER BY id"
    )
    params = [10, "name 12", dt.date(2024, 1, 5), dt.datetime(2024, 1, 1), Decimal("20.5")]
    duck = sql.replace("%s", "?")
    with psycopg.connect(_dsn(env)) as conn:
        got = conn.execute(sql, params).fetchall()
        assert got == _expected(env, duck, params)
        assert len(got) > 100
        binary = conn.cursor(binary=True).execute(sql, params).fetchall()
        assert binary == got


def test_prepared_statements_are_reused(env):
    sql = "SELECT id, amount, tz FROM sales.sales WHERE id < %s ORDER BY id"
    with psycopg.connect(_dsn(env), prepare_threshold=0) as conn:
        for limit in (3, 5, 8):
            cur = conn.cursor(binary=limit % 2 == 1)
            assert cur.execute(sql, [limit], prepare=True).fetchall() == _expected(
                env, sql.replace("%s", "?"), [limit]
            )


def test_binary_results_match_the_service(env):
    sql = (
        "SELECT *, amount * 1000 AS big, id::smallint AS small, id / 3.0 AS f, id % 2 = 0 AS even"
        " FROM sales.sales"
    )
    with psycopg.connect(_dsn(env)) as conn:
        cur = conn.cursor(binary=True)
        got = cur.execute(sql + " ORDER BY id").fetchall()
        types = [c.type_code for c in cur.description]
    assert got == _expected(env, sql + " ORDER BY id")
    assert types == [20, 25, 1700, 1082, 1114, 1184, 1700, 21, 701, 16]
    assert got[49][1] is None  # NULLs survive


def test_errors_carry_sqlstate_and_position(env):
    cases = [
        ("SELEC id FROM sales.sales", psycopg.errors.SyntaxError),
        ("SELECT * FROM nope.nope", psycopg.errors.UndefinedTable),
        ("SELECT nope FROM sales.sales", psycopg.errors.UndefinedColumn),
        ("DROP TABLE sales.sales", psycopg.errors.ReadOnlySqlTransaction),
        ("SELECT * FROM read_csv('/etc/passwd')", psycopg.errors.InsufficientPrivilege),
    ]
    with psycopg.connect(_dsn(env), autocommit=True) as conn:
        for sql, error in cases:
            with pytest.raises(error) as info:
                conn.execute(sql)
            assert info.value.diag.message_primary
        with pytest.raises(psycopg.errors.SyntaxError) as info:
            conn.execute("SELECT id FROM sales.sales WHERE")
        assert info.value.diag.statement_position is not None
        assert conn.execute("SELECT count(*) FROM sales.sales").fetchone() == (200,)


def test_transaction_blocks_and_aborted_state(env):
    with psycopg.connect(_dsn(env)) as conn:  # not autocommit: psycopg sends BEGIN
        assert conn.execute("SELECT 1").fetchone() == (1,)
        with pytest.raises(psycopg.errors.UndefinedColumn):
            conn.execute("SELECT nope FROM sales.sales")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM sales.sales").fetchone() == (200,)


def test_time_travel_per_session_and_at_startup(env):
    count = "SELECT count(*) FROM sales.sales"
    with psycopg.connect(_dsn(env), autocommit=True) as conn:
        assert conn.execute(count).fetchone() == (200,)
        conn.execute("SET daap.at = '1'")
        assert conn.execute("SHOW daap.at").fetchone() == ("1",)
        assert conn.execute(count).fetchone() == (100,)
        conn.execute("RESET daap.at")
        assert conn.execute(count).fetchone() == (200,)
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            conn.execute("SET daap.at = 'yesterday-ish'")
    with psycopg.connect(_dsn(env, options="'-c daap.at=1'")) as conn:
        assert conn.execute(count).fetchone() == (100,)


def test_session_and_catalog_queries(env):
    with psycopg.connect(_dsn(env), autocommit=True) as conn:
        assert "PostgreSQL 15" in conn.execute("SELECT version()").fetchone()[0]
        assert conn.execute("SELECT current_database(), current_schema()").fetchone() == ("daap", "public")
        assert conn.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
        conn.execute("SET application_name = 'probe'")
        assert conn.execute("SHOW application_name").fetchone() == ("probe",)
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = 'sales'"
        ).fetchall()
        assert tables == [("sales", "sales")]
        columns = conn.execute(
            "SELECT a.attname, t.typname FROM pg_catalog.pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname = 'sales' ORDER BY a.attnum"
        ).fetchall()
        assert columns[:3] == [("id", "int8"), ("name", "text"), ("amount", "numeric")]


def test_sqlalchemy_and_pandas(env):
    engine = sa.create_engine(f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{env['scram']}/daap")
    try:
        frame = pd.read_sql("SELECT id, name, amount FROM sales.sales ORDER BY id", engine)
        query = sa.text("SELECT id, day FROM sales.sales WHERE id < :n ORDER BY id")
        small = pd.read_sql(query, engine, params={"n": 4})
        inspector = sa.inspect(engine)
        assert "sales" in inspector.get_schema_names()
        assert inspector.get_table_names(schema="sales") == ["sales"]
        reflected = {c["name"]: str(c["type"]) for c in inspector.get_columns("sales", schema="sales")}
    finally:
        engine.dispose()
    expected = _expected(env, "SELECT id, name, amount FROM sales.sales ORDER BY id")
    rows = frame.astype(object).where(frame.notna(), None)
    assert list(rows.itertuples(index=False, name=None)) == [(i, n, float(a)) for i, n, a in expected]
    assert small["id"].tolist() == [1, 2, 3]
    assert reflected["amount"] == "NUMERIC(10, 2)"


def test_concurrent_connections(env):
    results: dict[int, Any] = {}

    def worker(n: int) -> None:
        with psycopg.connect(_dsn(env)) as conn:
            results[n] = conn.execute("SELECT count(*) FROM sales.sales WHERE id <= %s", [n * 10]).fetchone()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {n: (n * 10,) for n in range(1, 9)}


def test_cancel_a_long_query(env):
    sql = "SELECT a.id, b.id, c.id FROM sales.sales a, sales.sales b, sales.sales c"  # 8e6 rows
    with psycopg.connect(_dsn(env), autocommit=True) as conn:
        timer = threading.Timer(0.3, conn.cancel_safe)  # cancel() holds the GIL: in-process server
        timer.start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute(sql).fetchall()
        assert time.monotonic() - started < 5
        assert conn.execute("SELECT 1").fetchone() == (1,)


# -- raw sockets: protocol details and hostile clients ------------------------------------


class Raw:
    """A minimal protocol-v3 client for the trust server."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)

    def startup(self) -> list[tuple[bytes, bytes]]:
        body = struct.pack("!i", 196608) + b"user\0bob\0database\0daap\0\0"
        self.sock.sendall(struct.pack("!i", len(body) + 4) + body)
        return self.until(b"Z")

    def send(self, kind: bytes, body: bytes) -> None:
        self.sock.sendall(kind + struct.pack("!i", len(body) + 4) + body)

    def read(self) -> tuple[bytes, bytes]:
        head = self._exact(5)
        return head[:1], self._exact(struct.unpack("!i", head[1:])[0] - 4)

    def until(self, kind: bytes) -> list[tuple[bytes, bytes]]:
        seen = [self.read()]
        while seen[-1][0] != kind:
            seen.append(self.read())
        return seen

    def _exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data


def _still_serving(env: dict[str, Any]) -> None:
    with psycopg.connect(_dsn(env)) as conn:
        assert conn.execute("SELECT count(*) FROM sales.sales").fetchone() == (200,)


def test_execute_with_row_limit_suspends_the_portal(env):
    raw = Raw(env["trust"])
    raw.startup()
    raw.send(b"P", b"\0SELECT id FROM sales.sales ORDER BY id\0\0\0")
    raw.send(b"B", b"\0\0" + struct.pack("!hhh", 0, 0, 0))
    raw.send(b"E", b"\0" + struct.pack("!i", 2))
    raw.send(b"E", b"\0" + struct.pack("!i", 0))
    raw.send(b"S", b"")
    kinds = [k for k, _ in raw.until(b"Z")]
    assert kinds[:5] == [b"1", b"2", b"D", b"D", b"s"]
    assert kinds.count(b"D") == 200 and kinds[-2:] == [b"C", b"Z"]
    raw.sock.close()


def test_errors_in_extended_protocol_skip_until_sync(env):
    raw = Raw(env["trust"])
    raw.startup()
    raw.send(b"P", b"\0SELECT nope FROM sales.sales\0\0\0")
    raw.send(b"B", b"\0\0" + struct.pack("!hhh", 0, 0, 0))
    raw.send(b"D", b"P\0")
    raw.send(b"E", b"\0" + struct.pack("!i", 0))
    raw.send(b"S", b"")
    replies = raw.until(b"Z")
    assert [k for k, _ in replies] == [b"1", b"2", b"E", b"Z"]
    assert b"C42703" in replies[2][1]
    raw.sock.close()


def test_malformed_startup_and_oversized_message_leave_others_alone(env):
    bad = socket.create_connection(("127.0.0.1", env["trust"]), timeout=10)
    bad.sendall(struct.pack("!i", 3) + b"\xff" * 16)  # a length no packet can have
    assert bad.recv(1024)[:1] == b"E"
    bad.close()
    raw = Raw(env["trust"])
    raw.startup()
    raw.sock.sendall(b"Q" + struct.pack("!i", 1 << 30))  # claims 1 GiB, sends nothing more
    kind, body = raw.read()
    assert kind == b"E" and b"C54000" in body
    assert raw.sock.recv(1) == b""  # then the server hangs up
    _still_serving(env)


def test_client_disconnecting_mid_result(env):
    raw = Raw(env["trust"])
    raw.startup()
    body = b"SELECT a.id, b.id FROM sales.sales a, sales.sales b, sales.sales c\0"
    raw.send(b"Q", body)
    assert raw.read()[0] == b"T"
    assert raw.read()[0] == b"D"
    raw.sock.close()
    deadline = time.monotonic() + 10
    while len(env["trust_server"]._connections) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not env["trust_server"]._connections  # the backend noticed and cleaned up
    _still_serving(env)


def test_tls_when_configured(env, tmp_path: Path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handle = PgWireServer(env["service"], auth=Scram({USER: PASSWORD}), ssl_context=context).serve_in_thread()
    try:
        dsn = _dsn(env, port=str(handle.port), sslmode="require")
        with psycopg.connect(dsn) as conn:
            assert conn.pgconn.ssl_in_use
            assert conn.execute("SELECT count(*) FROM sales.sales").fetchone() == (200,)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(_dsn(env, sslmode="require"))  # the plain server says 'N'
        # a server with a certificate refuses clients that do not use it
        with pytest.raises(psycopg.OperationalError, match="requires TLS"):
            psycopg.connect(_dsn(env, port=str(handle.port), sslmode="disable"))
        with psycopg.connect(dsn) as conn:  # and keeps serving
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        handle.stop()
