"""The Flight SQL server on a real port, with the real ADBC driver and raw pyarrow.flight clients."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal

import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from daap.query.engine import BATCH_ROWS
from daap.query.service import QueryRequest, QueryService
from daap.servers.flight import FlightSqlServer
from daap.servers.flight.protocol import Protocol
from fixtures.workspace import Mesh

ORDERS = (
    "id,customer,amount,day,placed_at\n"
    "1,ann,10.50,2024-01-01,2024-01-01T10:00:00\n"
    "2,bob,20.25,2024-01-02,2024-01-02T11:30:00\n"
    "3,ann,5.00,2024-01-03,2024-01-03T12:45:00\n"
)
COLUMNS = [
    ("id", "integer"),
    ("customer", "string"),
    ("amount", "number", {"physicalType": "decimal(10,2)"}),
    ("day", "date"),
    ("placed_at", "timestamp"),
]
AT_OPTION = "adbc.flight.sql.rpc.call_header.x-daap-at"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Mesh:
    os.environ.pop("DAAP_HOME", None)
    mesh = Mesh(tmp_path_factory.mktemp("flight-mesh"))
    mesh.product("orders", COLUMNS, pk=["id"], inputs={"src": {"path": "d.csv"}}, files={"d.csv": ORDERS})
    mesh.product(
        "t", [("id", "integer")], pk=["id"], inputs={"s": {"path": "d.csv"}}, files={"d.csv": "id\n1\n"}
    )
    mesh.build_ok()
    (mesh.root / "t" / "d.csv").write_text("id\n1\n2\n")
    mesh.build_ok("t")
    return mesh


@pytest.fixture(scope="module")
def service(mesh: Mesh) -> QueryService:
    ws = mesh.workspace()
    yield QueryService(ws)
    ws.close()


@pytest.fixture(scope="module")
def server(service: QueryService) -> FlightSqlServer:
    server = FlightSqlServer(service).serve_in_thread()
    yield server
    server.shutdown()


@pytest.fixture
def uri(server: FlightSqlServer) -> str:
    return f"grpc://127.0.0.1:{server.port}"


def query(uri: str, sql: str, params: object = None, **db_kwargs: str) -> pa.Table:
    with flightsql.connect(uri, db_kwargs=db_kwargs) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetch_arrow_table()


def command(name: str, **fields: object) -> flight.FlightDescriptor:
    protocol = Protocol()
    return flight.FlightDescriptor.for_command(protocol.pack(protocol.new(name, **fields)))


def test_query_returns_what_the_query_service_returns(uri: str, service: QueryService) -> None:
    sql = "SELECT id, customer, amount, day, placed_at FROM orders.orders ORDER BY id"
    got = query(uri, sql)
    assert got.column("customer").to_pylist() == ["ann", "bob", "ann"]
    assert got.column("amount").to_pylist() == [Decimal("10.50"), Decimal("20.25"), Decimal("5.00")]
    assert got.equals(service.execute(QueryRequest(sql)).read_all())


@pytest.mark.parametrize(
    ("sql", "params", "ids"),
    [
        ("SELECT id FROM orders.orders WHERE id > ? ORDER BY id", [1], [2, 3]),
        ("SELECT id FROM orders.orders WHERE customer = ? ORDER BY id", ["ann"], [1, 3]),
        ("SELECT id FROM orders.orders WHERE day >= $1 AND customer = $2", [date(2024, 1, 2), "bob"], [2]),
    ],
)
def test_bound_parameters(uri: str, sql: str, params: list[object], ids: list[int]) -> None:
    assert query(uri, sql, params).column("id").to_pylist() == ids


def test_a_prepared_statement_runs_again_with_new_parameters(uri: str) -> None:
    with flightsql.connect(uri) as conn, conn.cursor() as cur:
        for wanted in ([1], [2], [3]):
            cur.execute("SELECT id FROM orders.orders WHERE id = ?", wanted)
            assert cur.fetch_arrow_table().column("id").to_pylist() == wanted
        assert conn.adbc_get_table_types() == ["TABLE"]


def test_metadata_lists_products_ports_and_columns(uri: str) -> None:
    with flightsql.connect(uri) as conn:
        objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
        schema = conn.adbc_get_table_schema("orders", db_schema_filter="orders")
    assert [c["catalog_name"] for c in objects] == ["daap"]
    products = {s["db_schema_name"]: s for s in objects[0]["catalog_db_schemas"]}
    assert sorted(products) == ["orders", "t"]
    table = products["orders"]["db_schema_tables"][0]
    assert (table["table_name"], table["table_type"]) == ("orders", "TABLE")
    assert [c["column_name"] for c in table["table_columns"]] == [
        "id",
        "customer",
        "amount",
        "day",
        "placed_at",
    ]
    assert schema.field("amount").type == pa.decimal128(10, 2)
    assert schema.field("day").type == pa.date32()


def test_time_travel_by_header(uri: str) -> None:
    count = "SELECT count(*) AS n FROM t.t"
    assert query(uri, count).column("n").to_pylist() == [2]
    assert query(uri, count, **{AT_OPTION: "1"}).column("n").to_pylist() == [1]
    assert query(uri, count, **{AT_OPTION: "t=1"}).column("n").to_pylist() == [1]
    with pytest.raises(adbc_driver_manager.Error, match="had no published version at 2000"):
        query(uri, count, **{AT_OPTION: "2000-01-01T00:00:00Z"})
    with pytest.raises(adbc_driver_manager.Error, match="neither a version number nor an ISO-8601 time"):
        query(uri, count, **{AT_OPTION: "yesterday"})


def test_large_result_arrives_in_batches_of_at_most_16_mib(uri: str) -> None:
    sql = "SELECT i, repeat('x', 300) AS pad FROM generate_series(1, 1000000) AS t(i)"
    client = flight.connect(uri)
    info = client.get_flight_info(command("CommandStatementQuery", query=sql))
    sizes, rows = [], 0
    for chunk in client.do_get(info.endpoints[0].ticket):
        sizes.append(chunk.data.nbytes)
        rows += chunk.data.num_rows
    client.close()
    assert rows == 1_000_000
    assert max(sizes) <= 16 << 20
    assert sum(sizes) > 10 * (16 << 20)
    assert len(sizes) > -(-1_000_000 // BATCH_ROWS)  # the engine's batches were over the limit: split


def test_large_result_through_adbc(uri: str) -> None:
    got = query(uri, "SELECT i FROM generate_series(1, 1500000) AS t(i)")
    assert got.num_rows == 1_500_000
    assert got.column("i")[-1].as_py() == 1_500_000


@pytest.mark.parametrize(
    ("sql", "kind", "message"),
    [
        ("SELEC id FROM orders.orders", adbc_driver_manager.ProgrammingError, r"line 1, column \d+"),
        ("SELECT * FROM nope.nope", adbc_driver_manager.ProgrammingError, "'nope' has no published version"),
        ("DROP TABLE orders.orders", adbc_driver_manager.ProgrammingError, "only read-only queries"),
        ("SELECT * FROM read_csv('/etc/passwd')", adbc_driver_manager.ProgrammingError, "not allowed"),
    ],
)
def test_errors_reach_the_client_and_the_server_keeps_serving(
    uri: str, sql: str, kind: type[Exception], message: str
) -> None:
    with pytest.raises(kind, match=message):
        query(uri, sql)
    assert query(uri, "SELECT count(*) AS n FROM orders.orders").column("n").to_pylist() == [3]


@pytest.mark.parametrize(
    "cmd",
    # fixed bytes: test ids must be the same in every xdist worker
    [
        random.Random(7).randbytes(64),
        b"\x0a\x05hello\x12\x03abc",
        Protocol().pack(Protocol().new("CommandGetSqlInfo"))[:-1],
    ],
    ids=["random-bytes", "unknown-any-type", "truncated-command"],
)
def test_garbage_commands_are_invalid_arguments(uri: str, cmd: bytes) -> None:
    client = flight.connect(uri)
    with pytest.raises(pa.ArrowInvalid, match=r"not a Flight SQL command|unknown command type|is corrupt"):
        client.get_flight_info(flight.FlightDescriptor.for_command(cmd))
    with pytest.raises(pa.ArrowInvalid, match=r"not issued by daap"):
        client.do_get(
            flight.Ticket(Protocol().pack(Protocol().new("TicketStatementQuery", statement_handle=cmd)))
        )
    assert client.get_flight_info(command("CommandGetCatalogs")).schema.names == ["catalog_name"]
    client.close()


def test_writes_are_refused(uri: str) -> None:
    client = flight.connect(uri)
    with pytest.raises(pa.ArrowNotImplementedError, match="read-only"):
        client.get_flight_info(command("CommandStatementUpdate", query="DELETE FROM orders.orders"))
    client.close()


def test_client_disconnecting_mid_stream_frees_the_query(uri: str, server: FlightSqlServer) -> None:
    client = flight.connect(uri)
    sql = "SELECT i FROM generate_series(1, 5000000) AS t(i)"
    ticket = client.get_flight_info(command("CommandStatementQuery", query=sql)).endpoints[0].ticket
    client.close()
    reader = (
        "import os, sys, pyarrow.flight as f; "
        "f.connect(sys.argv[1]).do_get(f.Ticket(bytes.fromhex(sys.argv[2]))).read_chunk(); "
        "print('read one batch', flush=True); os._exit(0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", reader, uri, ticket.ticket.hex()], capture_output=True, text=True
    )
    assert done.stdout == "read one batch\n", done.stderr
    deadline = time.monotonic() + 10
    while server.open_streams and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.open_streams == 0
    assert query(uri, "SELECT 1 AS one").column("one").to_pylist() == [1]


def test_sql_info_through_raw_flight(uri: str) -> None:
    client = flight.connect(uri)
    info = client.get_flight_info(command("CommandGetSqlInfo", info=[0, 3, 504, 563]))
    table = client.do_get(info.endpoints[0].ticket).read_all()
    client.close()
    assert table.schema.field("value").type.type_codes == [0, 1, 2, 3, 4, 5]
    values = dict(zip(table.column("info_name").to_pylist(), table.column("value").to_pylist(), strict=True))
    assert values == {0: "daap", 3: True, 504: '"', 563: False}


def test_prepared_statement_handles_are_freed_on_close(uri: str, server: FlightSqlServer) -> None:
    before = len(server.prepared)
    with flightsql.connect(uri) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1 AS one")
        assert len(server.prepared) == before + 1
        cur.close()
    assert len(server.prepared) == before


def test_tls(service: QueryService, tmp_path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("neither the cryptography package nor the openssl CLI is available")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server = FlightSqlServer(service, tls_certificates=[(cert.read_bytes(), key.read_bytes())])
    try:
        uri = f"grpc+tls://127.0.0.1:{server.port}"
        client = flight.connect(uri, tls_root_certs=cert.read_bytes())
        assert client.get_flight_info(command("CommandGetCatalogs")).schema.names == ["catalog_name"]
        client.close()
        root = {"adbc.flight.sql.client_option.tls_root_certs": cert.read_text()}
        assert query(uri, "SELECT count(*) AS n FROM orders.orders", **root).column("n").to_pylist() == [3]
        with pytest.raises(flight.FlightUnavailableError):
            plain = flight.connect(f"grpc://127.0.0.1:{server.port}")
            plain.get_flight_info(command("CommandGetCatalogs"), flight.FlightCallOptions(timeout=3))
    finally:
        server.shutdown()


def test_several_bound_rows_run_once_each_through_raw_flight(uri: str) -> None:
    protocol, client = Protocol(), flight.connect(uri)
    sql = "SELECT id FROM orders.orders WHERE id = ?"
    body = protocol.pack(protocol.new("ActionCreatePreparedStatementRequest", query=sql))
    packed = next(iter(client.do_action(flight.Action("CreatePreparedStatement", body)))).body.to_pybytes()
    handle = protocol.unpack(packed).prepared_statement_handle
    descriptor = command("CommandPreparedStatementQuery", prepared_statement_handle=handle)
    writer, _ = client.do_put(descriptor, pa.schema([("0", pa.int64())]))
    writer.write_batch(pa.record_batch([pa.array([3, 1])], names=["0"]))
    writer.close()
    info = client.get_flight_info(descriptor)
    assert client.do_get(info.endpoints[0].ticket).read_all().column("id").to_pylist() == [3, 1]
    closing = protocol.pack(
        protocol.new("ActionClosePreparedStatementRequest", prepared_statement_handle=handle)
    )
    list(client.do_action(flight.Action("ClosePreparedStatement", closing)))
    with pytest.raises(pa.ArrowKeyError, match="unknown or closed"):
        client.get_flight_info(descriptor)
    client.close()
