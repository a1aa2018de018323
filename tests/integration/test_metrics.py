"""``GET /metrics``: queries over every protocol and the mesh's state, in the Prometheus text format.

A real mesh (SQLite metadata, Iceberg, DuckDB), the HTTP app ``daap up`` serves
(uvicorn on a free port), the PostgreSQL wire and Flight SQL servers on the same
query service; clients are httpx, psycopg and the ADBC Flight SQL driver. The
document is read back with prometheus_client's own parser, and every number is
compared with the queries made or with what the metadata store says.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import adbc_driver_flightsql.dbapi as flightsql
import httpx
import psycopg
import pytest
from prometheus_client.metrics_core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from daap.cli.up import http_app
from daap.mesh import publication
from daap.mesh.builder import build_mesh
from daap.mesh.observe.metrics import Exposition, MeshCollector, Metric, metrics_text
from daap.mesh.workspace import Workspace
from daap.query.service import QueryRequest, QueryService
from daap.servers.flight import FlightSqlServer
from daap.servers.pgwire import PgWireServer, Trust
from fixtures.http import serve_app
from fixtures.workspace import Mesh

ORDERS = [("order_id", "integer"), ("customer", "string"), ("amount", "number")]
CUSTOMERS = [("name", "string"), ("city", "string")]
V1 = "order_id,customer,amount\n1,ann,10.5\n2,bob,3.25\n3,ann,7\n"
V2 = "order_id,customer,amount\n1,ann,10.5\n2,bob,4.00\n4,cyd,1\n"  # 3 deleted, 2 updated, 4 inserted
BAD = "order_id,customer,amount\nnot-a-number,ann,1\n"
COUNT_ORDERS = "SELECT count(*) AS n FROM orders.orders"


def declare_orders(mesh: Mesh) -> None:
    mesh.product("orders", ORDERS, pk=["order_id"], inputs={"s": {"path": "d.csv"}}, files={"d.csv": V1})


def rebuild(mesh: Mesh, csv: str) -> str:
    (mesh.root / "orders" / "d.csv").write_text(csv)
    [outcome] = mesh.build("orders")
    return outcome.status


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """orders: published twice, then unchanged, then failed; customers: published once."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("DAAP_HOME", raising=False)
        mesh = Mesh(tmp_path_factory.mktemp("metrics"))
        declare_orders(mesh)
        files = {"d.csv": "name,city\nann,Oslo\nbob,Rome\n"}
        mesh.product("customers", CUSTOMERS, pk=["name"], inputs={"s": {"path": "d.csv"}}, files=files)
        mesh.build_ok()
        assert rebuild(mesh, V2) == "published"
        assert rebuild(mesh, V2) == "unchanged"  # same bytes, new modification time
        assert rebuild(mesh, BAD) == "failed"
        yield mesh


@dataclass
class Served:
    service: QueryService
    http: str
    pg_port: int
    flight: str

    def scrape(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        response = httpx.get(f"{self.http}/metrics", timeout=30)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        return samples(response.text)

    def rest(self, sql: str) -> httpx.Response:
        return httpx.post(f"{self.http}/api/sql", json={"sql": sql}, timeout=30)

    def pg(self, sql: str, **kw: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(
            f"host=127.0.0.1 port={self.pg_port} user=me dbname=daap", autocommit=True
        ) as conn:
            return conn.execute(sql, **kw).fetchall()


@pytest.fixture
def served(built: Mesh) -> Iterator[Served]:
    """A fresh service (its counts start at zero) behind HTTP, PostgreSQL wire and Flight SQL."""
    ws = Workspace.open(built.root)
    service = QueryService(ws)
    pg = PgWireServer(service, auth=Trust()).serve_in_thread()
    flight = FlightSqlServer(service).serve_in_thread()
    try:
        with serve_app(http_app(service)) as url:
            yield Served(service, url, pg.port, f"grpc://127.0.0.1:{flight.port}")
    finally:
        flight.shutdown()
        pg.stop()
        ws.close()


def extended(port: int, sql: bytes, *params: bytes) -> list[tuple[bytes, bytes]]:
    """Run ``sql`` as a named prepared statement over the extended protocol, describing the
    statement before binding it (as JDBC and asyncpg do); the server's replies up to ReadyForQuery."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:

        def send(kind: bytes, body: bytes) -> None:
            sock.sendall(kind + struct.pack("!i", len(body) + 4) + body)

        def read() -> tuple[bytes, bytes]:
            head = exact(sock, 5)
            return head[:1], exact(sock, struct.unpack("!i", head[1:])[0] - 4)

        startup = struct.pack("!i", 196608) + b"user\0me\0database\0daap\0\0"
        sock.sendall(struct.pack("!i", len(startup) + 4) + startup)
        while read()[0] != b"Z":
            pass
        values = b"".join(struct.pack("!i", len(p)) + p for p in params)
        send(b"P", b"s\0" + sql + b"\0\0\0")
        send(b"D", b"Ss\0")
        send(b"B", b"\0s\0\0\0" + struct.pack("!h", len(params)) + values + b"\0\0")
        send(b"E", b"\0\0\0\0\0")
        send(b"S", b"")
        replies = [read()]
        while replies[-1][0] != b"Z":
            replies.append(read())
        return replies


def exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the server closed the connection"
        data += chunk
    return data


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def durations(found: Samples) -> dict[tuple[str, str, str], float]:
    """(product, port, protocol) -> how many queries the histogram counted."""
    return {
        (labels["product"], labels["port"], labels["protocol"]): count
        for (name, pairs), count in found.items()
        if name == "daap_query_duration_seconds_count"
        for labels in [dict(pairs)]
    }


def test_queries_over_every_protocol_are_timed_once_per_port_they_read(served: Served) -> None:
    assert served.rest(COUNT_ORDERS).json()["rows"] == [{"n": 3}]
    join = "SELECT count(*) AS n FROM orders.orders o JOIN customers.customers c ON o.customer = c.name"
    assert served.rest(join).json()["rows"] == [{"n": 2}]
    assert served.rest("SELECT 1 AS one").json()["rows"] == [{"one": 1}]
    page = httpx.get(f"{served.http}/api/products/orders/ports/orders/rows", timeout=30)
    assert len(page.json()["rows"]) == 3
    graphql = httpx.post(
        f"{served.http}/graphql", json={"query": "{ customers__customers { rows { name } } }"}, timeout=30
    )
    assert graphql.json()["data"]["customers__customers"]["rows"] == [{"name": "ann"}, {"name": "bob"}]
    assert served.pg(COUNT_ORDERS) == [(3,)]
    with flightsql.connect(served.flight, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT name FROM customers.customers ORDER BY name")
        assert cur.fetchall() == [("ann",), ("bob",)]

    assert durations(served.scrape()) == {
        ("orders", "orders", "rest"): 3,  # count, join, page
        ("customers", "customers", "rest"): 1,  # the join
        ("", "", "rest"): 1,  # SELECT 1 reads no port
        ("customers", "customers", "graphql"): 1,
        ("orders", "orders", "pgwire"): 1,
        ("customers", "customers", "flight"): 1,
    }


def test_prepared_statements_count_once_not_for_their_describe_probe(served: Served) -> None:
    # Parse, Describe of the statement (answered by the LIMIT 0 probe), then Bind and Execute
    replies = extended(served.pg_port, b"SELECT order_id FROM orders.orders WHERE order_id = $1", b"2")
    assert [kind for kind, _ in replies] == [b"1", b"t", b"T", b"2", b"D", b"C", b"Z"]
    assert replies[4][1] == struct.pack("!hi", 1, 1) + b"2"  # one row: order_id 2
    with flightsql.connect(served.flight, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT order_id FROM orders.orders WHERE order_id = ?", [4])  # prepared, bound, probed
        assert cur.fetchall() == [(4,)]
    found = served.scrape()
    assert durations(found) == {("orders", "orders", "pgwire"): 1, ("orders", "orders", "flight"): 1}
    assert value(found, "daap_query_cache_misses_total", protocol="pgwire") == 1
    assert value(found, "daap_query_cache_misses_total", protocol="flight") == 1


def test_a_repeated_query_is_a_cache_hit(served: Served) -> None:
    for _ in range(3):
        assert served.rest(COUNT_ORDERS).json()["rows"] == [{"n": 3}]
    found = served.scrape()
    assert value(found, "daap_query_cache_misses_total", protocol="rest") == 1
    assert value(found, "daap_query_cache_hits_total", protocol="rest") == 2
    assert durations(found) == {("orders", "orders", "rest"): 3}  # answers from the cache are timed too


def test_errors_are_counted_by_kind_and_not_timed(served: Served) -> None:
    assert served.rest("SELECT no_such_column FROM orders.orders").status_code == 400
    assert served.rest("SELECT * FROM nothing.here").status_code == 404
    with pytest.raises(psycopg.Error):
        served.pg("DELETE FROM orders.orders")
    replies = extended(served.pg_port, b"SELECT no_such_column FROM orders.orders")
    assert [kind for kind, _ in replies] == [b"1", b"t", b"E", b"Z"]  # the Describe probe failed
    found = served.scrape()
    assert value(found, "daap_query_errors_total", protocol="rest", kind="QueryError") == 1
    assert value(found, "daap_query_errors_total", protocol="rest", kind="NotFound") == 1
    assert value(found, "daap_query_errors_total", protocol="pgwire", kind="QueryRefused") == 1
    assert value(found, "daap_query_errors_total", protocol="pgwire", kind="QueryError") == 1
    assert durations(found) == {}
    assert value(found, "daap_query_cache_misses_total", protocol="rest") is None


def test_mesh_gauges_and_counters_equal_what_the_metadata_store_says(served: Served) -> None:
    before = time.time()
    found = served.scrape()
    after = time.time()
    store = served.service.ws.metadata
    builds = store.builds("orders", 100)
    # newest first; the unchanged build was found so before it started, and left no record
    assert [b.state for b in builds] == ["failed", "published", "published"]
    for status in ("published", "unchanged", "failed"):
        expected = sum(1 for b in builds if b.state == status)
        assert value(found, "daap_builds_total", product="orders", status=status) == expected
    assert value(found, "daap_builds_total", product="customers", status="published") == 1
    failed = builds[0]
    assert failed.finished_at is not None
    seconds = (failed.finished_at - failed.started_at).total_seconds()
    assert value(found, "daap_build_duration_seconds", product="orders", status="failed") == seconds

    latest = store.latest_version("orders")
    assert latest is not None and latest.version == 2
    assert value(found, "daap_port_rows", product="orders", port="orders") == 3
    assert value(found, "daap_port_version", product="orders", port="orders") == 2
    assert value(found, "daap_port_rows", product="customers", port="customers") == 2
    published = latest.published_at.timestamp()
    assert value(found, "daap_last_publish_timestamp_seconds", product="orders") == published
    age = value(found, "daap_freshness_age_seconds", product="orders")
    assert age is not None and before - published <= age <= after - published

    # version 1 inserted three orders; version 2 inserted 4, updated 2, deleted 3
    events = {op: value(found, "daap_change_events_total", product="orders", port="orders", op=op) for op in
              ("insert", "update", "delete")}  # fmt: skip
    assert events == {"insert": 4, "update": 1, "delete": 1}
    recorded = [store.get_publication("orders", v) for v in (1, 2)]
    assert events["insert"] == sum(p.progress["orders"]["inserted"] for p in recorded if p is not None)
    assert value(found, "daap_metrics_source_up", source="mesh") == 1


def test_family_sources_add_families_and_a_broken_one_hides_nothing(built: Mesh) -> None:
    def slo(ws: Workspace) -> Iterable[Metric]:
        gauge = GaugeMetricFamily("daap_slo_ok", "test source", labels=["product"])
        for product in ws.metadata.products():
            gauge.add_metric([product], 1)
        yield gauge

    def broken(ws: Workspace) -> Iterable[Metric]:
        raise RuntimeError("the quality store is down")

    ws = Workspace.open(built.root)
    try:
        service = QueryService(ws)
        service.execute(QueryRequest(COUNT_ORDERS, protocol="cli")).read_all()
        found = samples(metrics_text(service, [slo, broken]).decode())
    finally:
        ws.close()
    assert value(found, "daap_slo_ok", product="customers") == 1
    assert value(found, "daap_metrics_source_up", source="slo") == 1
    assert value(found, "daap_metrics_source_up", source="broken") == 0
    assert value(found, "daap_builds_total", product="orders", status="published") == 2
    assert durations(found) == {("orders", "orders", "cli"): 1}


def mesh_numbers(exposition: Exposition) -> Samples:
    """Every sample but the one that moves with the clock."""
    found = samples(exposition.render().decode())
    return {key: v for key, v in found.items() if key[0] != "daap_freshness_age_seconds"}


def test_scrapes_count_only_what_is_new(mesh: Mesh) -> None:
    """One exposition kept across builds counts each build and change event once, like a fresh one."""
    declare_orders(mesh)
    mesh.build_ok()
    ws = mesh.workspace()
    try:
        kept = Exposition(QueryService(ws))
        first = mesh_numbers(kept)
        assert value(first, "daap_builds_total", product="orders", status="published") == 1
        assert value(first, "daap_change_events_total", product="orders", port="orders", op="insert") == 3
        assert rebuild(mesh, V2) == "published"
        assert rebuild(mesh, BAD) == "failed"
        again = mesh_numbers(kept)
        assert value(again, "daap_builds_total", product="orders", status="published") == 2
        assert value(again, "daap_builds_total", product="orders", status="failed") == 1
        assert value(again, "daap_change_events_total", product="orders", port="orders", op="insert") == 4
        assert value(again, "daap_change_events_total", product="orders", port="orders", op="delete") == 1
        assert value(again, "daap_port_version", product="orders", port="orders") == 2
        assert mesh_numbers(kept) == again == mesh_numbers(Exposition(QueryService(ws)))

        (mesh.root / "orders" / "d.csv").write_text(V2 + "5,dan,2\n")
        [deferred] = build_mesh(ws, [mesh.root / "orders"], send_events=False)
        assert (deferred.status, deferred.version) == ("published", 3)
        waiting = mesh_numbers(kept)  # version 3 is out, its change events are not yet
        assert value(waiting, "daap_port_version", product="orders", port="orders") == 3
        assert value(waiting, "daap_change_events_total", product="orders", port="orders", op="insert") == 4
        assert publication.publish_pending(ws, "orders").error is None
        sent = mesh_numbers(kept)
        assert value(sent, "daap_change_events_total", product="orders", port="orders", op="insert") == 5
        assert sent == mesh_numbers(Exposition(QueryService(ws)))
    finally:
        ws.close()


def test_build_counts_follow_long_histories_and_builds_that_finish_late(mesh: Mesh) -> None:
    """More builds between two scrapes than one page of build records, and a build that was
    running at the first scrape and fails after many newer ones: each is counted once."""
    mesh.product("ghost", CUSTOMERS, inputs={"s": {"path": "d.csv"}})  # declared, never published
    ws = mesh.workspace()
    store = ws.metadata
    kept = MeshCollector(ws)

    def builds(start: int, count: int, state: str = "failed") -> None:
        for i in range(start, start + count):
            store.start_build(f"b{i}", "ghost", "fp")
            store.finish_build(f"b{i}", state)  # type: ignore[arg-type]

    def counted(collector: MeshCollector = kept) -> dict[str, float]:
        return {
            s.labels["status"]: s.value
            for family in collector.collect()
            if family.name == "daap_builds"
            for s in family.samples
            if s.labels["product"] == "ghost" and s.name == "daap_builds_total"
        }

    try:
        builds(0, 20)
        store.start_build("slow", "ghost", "fp")  # still running at the first scrape
        builds(20, 3, "unchanged")
        assert counted() == {"failed": 20, "unchanged": 3, "published": 0}
        builds(23, 70)  # more than one page of build records since the last scrape
        assert counted() == {"failed": 90, "unchanged": 3, "published": 0}
        store.finish_build("slow", "failed")  # 72 records back: beyond the page a scrape reads first
        builds(93, 2, "unchanged")
        assert counted() == {"failed": 91, "unchanged": 5, "published": 0}
        assert counted() == counted(MeshCollector(ws)) == {"failed": 91, "unchanged": 5, "published": 0}
    finally:
        ws.close()
