"""The REST output port over real HTTP: uvicorn on a free port, httpx as the client.

One mesh for the module: ``shop`` (primary key ``id``; int, string with nulls
and awkward characters, decimal, date, timestamp; two versions), ``visits``
(no primary key, repeated rows) and ``live`` (rebuilt by the one test that
needs a build between two pages).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from daap.mesh.workspace import Workspace
from daap.query.service import QueryService
from daap.servers.rest import create_app
from fixtures.http import serve_app
from fixtures.workspace import Mesh

SHOP = [("id", "integer"), ("name", "string"), ("price", "number", {"physicalType": "decimal(10,2)"})]
SHOP += [("day", "date"), ("ts", "timestamp")]
QUERIES = {
    "property": "queries",
    "value": [
        {
            "name": "cheap_named",
            "description": "Items of one name under a price.",
            "sql": "SELECT id, price FROM shop.shop WHERE name = $name AND price < $below "
            "ORDER BY id LIMIT $top",
            "parameters": [
                {"name": "name", "type": "string", "description": "exact name"},
                {"name": "below", "type": "number"},
                {"name": "top", "type": "integer", "default": 5},
            ],
            "examples": [{"name": "n1", "below": 50}],
        }
    ],
}


def shop_row(i: int) -> dict[str, Any]:
    name = None if i % 10 == 0 else ('say "hi", ok' if i % 13 == 0 else f"n{i % 7}")
    ts = datetime(2024, 1, 1, 10) + timedelta(seconds=61 * i, microseconds=1000 * i)
    return {
        "id": i,
        "name": name,
        "price": Decimal(f"{i % 90}.25"),
        "day": date(2024, 1, 1) + timedelta(i % 40),
        "ts": ts,
    }


def shop_csv(count: int) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, ["id", "name", "price", "day", "ts"])
    writer.writeheader()
    for i in range(1, count + 1):
        writer.writerow({k: "" if v is None else v for k, v in shop_row(i).items()})
    return out.getvalue()


SHOP_V1 = [shop_row(i) for i in range(1, 251)]
SHOP_V2 = [shop_row(i) for i in range(1, 261)]
VISITS = [{"who": f"u{i % 4}", "hits": i % 3} for i in range(30)]


def add_queries(folder: Path) -> None:
    descriptor = json.loads((folder / "dataproduct.yaml").read_text())
    descriptor["customProperties"].append(QUERIES)
    (folder / "dataproduct.yaml").write_text(json.dumps(descriptor))


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mesh, datetime]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("DAAP_HOME", raising=False)
        mesh = Mesh(tmp_path_factory.mktemp("rest"))
        shop = mesh.product(
            "shop", SHOP, pk=["id"], inputs={"s": {"path": "d.csv"}}, files={"d.csv": shop_csv(250)}
        )
        add_queries(shop)
        visits = "who,hits\n" + "".join(f"{r['who']},{r['hits']}\n" for r in VISITS)
        mesh.product(
            "visits",
            [("who", "string"), ("hits", "integer")],
            inputs={"s": {"path": "d.csv"}},
            files={"d.csv": visits},
        )
        mesh.product(
            "live",
            [("k", "integer")],
            pk=["k"],
            inputs={"s": {"path": "d.csv"}},
            files={"d.csv": "k\n1\n2\n3\n"},
        )
        mesh.build_ok()
        time.sleep(0.05)
        between = datetime.now(UTC)
        time.sleep(0.05)
        (shop / "d.csv").write_text(shop_csv(260))
        mesh.build_ok("shop")
        yield mesh, between


@pytest.fixture(scope="module")
def server(mesh: tuple[Mesh, datetime]) -> Iterator[str]:
    ws = Workspace.open(mesh[0].root)
    with serve_app(create_app(QueryService(ws))) as url:
        yield url
    ws.close()


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as c:
        yield c


ROWS = "/api/products/shop/ports/shop/rows"


# -- decoding every format to the same typed rows ---------------------------------


def typed(row: dict[str, Any]) -> dict[str, Any]:
    """A row from JSON or CSV text with the column types back (decimals were strings, by design)."""
    text = {k: (None if v in (None, "") else v) for k, v in row.items()}
    conv = {"id": int, "price": Decimal, "day": date.fromisoformat, "ts": datetime.fromisoformat}
    return {k: (conv[k](v) if v is not None and k in conv else v) for k, v in text.items()}


def decode(response: httpx.Response, fmt: str) -> list[dict[str, Any]]:
    body = response.content
    if fmt == "json":
        return [typed(r) for r in response.json()["rows"]]
    if fmt == "ndjson":
        return [typed(json.loads(line)) for line in body.decode().splitlines()]
    if fmt == "csv":
        return [typed(r) for r in csv.DictReader(io.StringIO(body.decode()))]
    if fmt == "arrow":
        return ipc.open_stream(body).read_all().to_pylist()  # type: ignore[no-any-return]
    return pq.read_table(io.BytesIO(body)).to_pylist()  # type: ignore[no-any-return]


MEDIA = {
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "csv": "text/csv",
    "arrow": "application/vnd.apache.arrow.stream",
    "parquet": "application/vnd.apache.parquet",
}


@pytest.mark.parametrize("fmt", list(MEDIA))
def test_every_format_returns_the_same_rows(client: httpx.Client, fmt: str) -> None:
    by_param = client.get(ROWS, params={"_size": 60, "_format": fmt})
    by_accept = client.get(ROWS, params={"_size": 60}, headers={"Accept": f"text/html;q=0.5, {MEDIA[fmt]}"})
    for response in (by_param, by_accept):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(MEDIA[fmt])
        assert response.headers["x-daap-versions"] == "shop=2"
        assert decode(response, fmt) == SHOP_V2[:60]


def test_json_encoding_of_decimals_dates_and_timestamps(client: httpx.Client) -> None:
    row = client.get(ROWS, params={"id": 13}).json()["rows"][0]
    assert row == {
        "id": 13,
        "name": 'say "hi", ok',
        "price": "13.25",
        "day": "2024-01-14",
        "ts": "2024-01-01T10:13:13.013000",
    }


def test_sql_streams_every_format_the_same(client: httpx.Client) -> None:
    body = {"sql": "SELECT * FROM shop.shop ORDER BY id"}
    for fmt in MEDIA:
        response = client.post("/api/sql", params={"_format": fmt}, json=body)
        assert response.status_code == 200, response.text
        assert decode(response, fmt) == SHOP_V2, fmt


# -- pages ------------------------------------------------------------------------


def walk(client: httpx.Client, params: dict[str, Any], path: str = ROWS) -> tuple[list[dict[str, Any]], int]:
    """Every row reachable by following ``Link: rel=next`` from the first page; and the page count."""
    response = client.get(path, params=params)
    found, pages = [], 0
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        found += body["rows"]
        pages += 1
        if "link" not in response.headers:
            assert body["next"] is None
            return found, pages
        url, rel = response.headers["link"].split(";")
        assert rel.strip() == 'rel="next"' and url.strip("<> ") == body["next"]
        response = client.get(body["next"])


def test_pages_return_every_row_once_in_order(client: httpx.Client) -> None:
    rows, pages = walk(client, {"_size": 37})
    assert [r["id"] for r in rows] == list(range(1, 261))
    assert pages == 8  # 7 pages of 37 and one of 1


def test_pages_sorted_by_a_nullable_column_with_ties(client: httpx.Client) -> None:
    rows, _ = walk(client, {"_size": 11, "_sort": "-name,-price", "_columns": "id,name,price"})
    expected = sorted(SHOP_V2, key=lambda r: r["id"])  # the tiebreak, then each key by a stable sort
    expected.sort(key=lambda r: r["price"], reverse=True)
    named = sorted((r for r in expected if r["name"] is not None), key=lambda r: r["name"], reverse=True)
    expected = named + [r for r in expected if r["name"] is None]  # nulls last
    assert [r["id"] for r in rows] == [r["id"] for r in expected]
    assert set(rows[0]) == {"id", "name", "price"}


def test_pages_without_a_primary_key_keep_repeated_rows(client: httpx.Client) -> None:
    rows, pages = walk(client, {"_size": 4}, "/api/products/visits/ports/visits/rows")
    assert sorted((r["who"], r["hits"]) for r in rows) == sorted((r["who"], r["hits"]) for r in VISITS)
    assert pages == 8


def test_link_header_in_streaming_formats(client: httpx.Client) -> None:
    first = client.get(ROWS, params={"_size": 200, "_format": "ndjson"})
    url = first.headers["link"].split(";")[0].strip("<>")
    rest = client.get(url)
    ids = [json.loads(x)["id"] for x in (first.text + rest.text).splitlines()]
    assert ids == list(range(1, 261)) and "link" not in rest.headers


def test_a_cursor_keeps_reading_the_version_it_started_on(
    client: httpx.Client, mesh: tuple[Mesh, datetime]
) -> None:
    path = "/api/products/live/ports/live/rows"
    first = client.get(path, params={"_size": 2})
    assert [r["k"] for r in first.json()["rows"]] == [1, 2]
    (mesh[0].root / "live" / "d.csv").write_text("k\n1\n2\n3\n4\n")
    mesh[0].build_ok("live")
    rest = client.get(first.json()["next"])
    assert [r["k"] for r in rest.json()["rows"]] == [3] and rest.headers["x-daap-versions"] == "live=1"
    again = client.get(path, params={"_size": 10})
    assert [r["k"] for r in again.json()["rows"]] == [1, 2, 3, 4] and again.headers[
        "x-daap-versions"
    ] == "live=2"


# -- filters, sort, columns, time travel ------------------------------------------

FILTERS = [
    ({"id": "7"}, lambda r: r["id"] == 7),
    ({"id__eq": "7"}, lambda r: r["id"] == 7),
    ({"id__ne": "7"}, lambda r: r["id"] != 7),
    ({"id__lt": "5"}, lambda r: r["id"] < 5),
    ({"id__lte": "5"}, lambda r: r["id"] <= 5),
    ({"price__gt": "80.25"}, lambda r: r["price"] > Decimal("80.25")),
    ({"price__gte": "80.25"}, lambda r: r["price"] >= Decimal("80.25")),
    ({"day__lt": "2024-01-03"}, lambda r: r["day"] < date(2024, 1, 3)),
    ({"ts__gte": "2024-01-01T14:00:00"}, lambda r: r["ts"] >= datetime(2024, 1, 1, 14)),
    ({"id__in": "3,9,400"}, lambda r: r["id"] in (3, 9)),
    ({"name__like": "say%"}, lambda r: (r["name"] or "").startswith("say")),
    ({"name__isnull": "true"}, lambda r: r["name"] is None),
    ({"name__isnull": "false", "id__lt": "30"}, lambda r: r["name"] is not None and r["id"] < 30),
    ({"name": 'say "hi", ok'}, lambda r: r["name"] == 'say "hi", ok'),
    ({"name": "x' OR '1'='1"}, lambda r: False),
]


@pytest.mark.parametrize(("params", "keep"), FILTERS, ids=[",".join(p) for p, _ in FILTERS])
def test_filters(client: httpx.Client, params: dict[str, str], keep: Any) -> None:
    response = client.get(ROWS, params={**params, "_size": 1000, "_columns": "id"})
    assert response.status_code == 200, response.text
    assert [r["id"] for r in response.json()["rows"]] == [r["id"] for r in SHOP_V2 if keep(r)]


def test_sort_and_columns(client: httpx.Client) -> None:
    body = client.get(ROWS, params={"_sort": "-day,price", "_columns": "day,id", "_size": 5}).json()
    expected = sorted(SHOP_V2, key=lambda r: (-r["day"].toordinal(), r["price"], r["id"]))[:5]
    assert body["rows"] == [{"day": r["day"].isoformat(), "id": r["id"]} for r in expected]


def test_time_travel_by_version_and_time(client: httpx.Client, mesh: tuple[Mesh, datetime]) -> None:
    for at in ("1", mesh[1].isoformat()):
        response = client.get(ROWS, params={"at": at, "_size": 1000, "_columns": "id"})
        assert response.headers["x-daap-versions"] == "shop=1"
        assert len(response.json()["rows"]) == len(SHOP_V1) and response.json()["version"] == 1
    sql = client.post("/api/sql", json={"sql": "SELECT count(*) AS n FROM shop.shop", "at": {"shop": 1}})
    assert sql.json()["rows"] == [{"n": 250}]
    assert client.get(ROWS, params={"_columns": "id", "_size": 1000}).json()["version"] == 2


# -- named queries and SQL --------------------------------------------------------


def test_named_queries_are_listed_and_called(client: httpx.Client) -> None:
    listed = client.get("/api/products/shop/queries").json()
    assert [q["name"] for q in listed] == ["cheap_named"]
    params = {p["name"]: (p["type"], p["required"]) for p in listed[0]["parameters"]}
    assert params == {"name": ("string", True), "below": ("number", True), "top": ("integer", False)}
    assert listed[0]["examples"] == [{"name": "n1", "below": 50}]
    response = client.get(listed[0]["path"], params={"name": "n1", "below": "30", "top": "3"})
    assert response.status_code == 200, response.text
    expected = [r for r in SHOP_V2 if r["name"] == "n1" and r["price"] < 30][:3]
    assert response.json()["rows"] == [{"id": r["id"], "price": str(r["price"])} for r in expected]
    assert response.headers["x-daap-versions"] == "shop=2"
    ndjson = client.get(
        listed[0]["path"], params={"name": "n1", "below": "30", "_format": "ndjson", "at": "1"}
    )
    assert len(ndjson.text.splitlines()) == 5 and ndjson.headers["x-daap-versions"] == "shop=1"


def test_sql_with_parameters(client: httpx.Client) -> None:
    positional = {
        "sql": "SELECT id FROM shop.shop WHERE id < ? AND name = ? ORDER BY id",
        "params": [30, "n2"],
    }
    named = {
        "sql": "SELECT id FROM shop.shop WHERE id < $top AND name = $name ORDER BY id",
        "params": {"top": 30, "name": "n2"},
    }
    expected = [{"id": r["id"]} for r in SHOP_V2 if r["id"] < 30 and r["name"] == "n2"]
    for body in (positional, named):
        response = client.post("/api/sql", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["rows"] == expected


def test_versions_of_every_product_read(client: httpx.Client) -> None:
    sql = "SELECT count(*) AS n FROM shop.shop, visits.visits WHERE shop.id = visits.hits"
    response = client.post("/api/sql", json={"sql": sql})
    assert response.headers["x-daap-versions"] == "shop=2,visits=1"
    assert response.json()["versions"] == {"shop": 2, "visits": 1} and response.json()["version"] is None


def test_tables_and_health(client: httpx.Client) -> None:
    tables = {(t["product"], t["port"]): t for t in client.get("/api/tables").json()}
    shop = tables[("shop", "shop")]
    assert shop["version"] == 2 and shop["rows"] == ROWS
    assert [(c["name"], c["type"], c["nullable"]) for c in shop["columns"]][:3] == [
        ("id", "int64", False),
        ("name", "string", True),
        ("price", "decimal128(10, 2)", True),
    ]
    assert client.get("/healthz").json() == {"status": "ok"}


def test_openapi_describes_every_parameter(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/api/sql", ROWS.replace("shop/ports/shop", "{product}/ports/{port}"), "/api/tables"} <= set(
        spec["paths"]
    )
    undocumented = [
        f"{method.upper()} {path} {p['name']}"
        for path, item in spec["paths"].items()
        for method, op in item.items()
        for p in op.get("parameters", [])
        if not p.get("description")
    ]
    assert undocumented == []
    assert "decimals are strings" in json.dumps(spec)


# -- bad input --------------------------------------------------------------------

BAD = [
    ("get", "/api/products/nope/ports/shop/rows", {}, 404, "NotFound", "'nope'"),
    ("get", "/api/products/shop/ports/nope/rows", {}, 404, "NotFound", "no output port 'nope'"),
    ("get", ROWS, {"colour": "red"}, 422, "InvalidRequest", "no column 'colour'"),
    ("get", ROWS, {"_sort": "-colour"}, 422, "InvalidRequest", "_sort: shop.shop has no column 'colour'"),
    ("get", ROWS, {"_columns": "id,colour"}, 422, "InvalidRequest", "_columns"),
    ("get", ROWS, {"price__gt": "cheap"}, 422, "InvalidRequest", "price__gt: 'cheap' is not a valid decimal"),
    ("get", ROWS, {"day": "2024-13-01"}, 422, "InvalidRequest", "day: '2024-13-01'"),
    ("get", ROWS, {"name__isnull": "maybe"}, 422, "InvalidRequest", "name__isnull"),
    ("get", ROWS, {"_cursor": "not-a-cursor"}, 422, "InvalidRequest", "_cursor: not a cursor"),
    ("get", ROWS, {"_format": "xml"}, 422, "InvalidRequest", "unknown format 'xml'"),
    ("get", ROWS, {"_size": "0"}, 422, "InvalidRequest", "_size: must be between 1 and 10000"),
    ("get", ROWS, {"_size": "many"}, 422, "InvalidRequest", "_size"),
    ("get", ROWS, {"at": "99"}, 404, "NotFound", "shop has no version 99"),
    ("get", ROWS, {"at": "yesterday"}, 422, "InvalidRequest", "at: expected a version number"),
    ("get", "/api/products/shop/queries/nope", {}, 404, "NotFound", "no named query 'nope'"),
    (
        "get",
        "/api/products/shop/queries/cheap_named",
        {"name": "n1"},
        422,
        "InvalidRequest",
        "missing parameter 'below'",
    ),
    (
        "get",
        "/api/products/shop/queries/cheap_named",
        {"name": "n1", "below": "x"},
        422,
        "InvalidRequest",
        "'below'",
    ),
    ("post", "/api/sql", {"sql": "SELECT * FROM shop.shop WHERE"}, 400, "QueryError", "line 1, column"),
    ("post", "/api/sql", {"sql": "SELECT nope FROM shop.shop"}, 400, "QueryError", "nope"),
    ("post", "/api/sql", {"sql": "DROP TABLE shop.shop"}, 400, "QueryRefused", "not DROP"),
    ("post", "/api/sql", {"sql": "SELECT * FROM read_csv('/etc/passwd')"}, 400, "QueryRefused", "READ_CSV"),
    ("post", "/api/sql", {"sql": "SELECT 1; SELECT 2"}, 400, "QueryRefused", "one query"),
    ("post", "/api/sql", {"params": [1]}, 422, "InvalidRequest", "sql"),
]


@pytest.mark.parametrize(
    ("method", "path", "params", "status", "kind", "says"), BAD, ids=[f"{b[1]}{b[2]}" for b in BAD]
)
def test_bad_input_gets_a_clear_error(
    client: httpx.Client, method: str, path: str, params: dict[str, Any], status: int, kind: str, says: str
) -> None:
    response = client.get(path, params=params) if method == "get" else client.post(path, json=params)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == kind and says in error["message"], error
    assert client.get(ROWS, params={"_size": 1}).json()["rows"][0]["id"] == 1  # still serving


def test_client_leaving_a_large_stream_does_not_hurt_the_server(server: str, client: httpx.Client) -> None:
    """The server (in this process) stops working on a stream its client left, and keeps serving."""
    big = {"sql": "SELECT i, md5(i::VARCHAR) AS h FROM range(5000000) AS t(i)"}  # seconds of work
    for _ in range(3):
        with (
            httpx.Client(base_url=server, timeout=30) as leaving,
            leaving.stream("POST", "/api/sql", params={"_format": "ndjson"}, json=big) as response,
        ):
            assert response.status_code == 200
            assert next(response.iter_bytes()).startswith(b'{"i":0,"h":"cfcd2084')
    time.sleep(0.3)
    cpu, wall = time.process_time(), time.monotonic()
    time.sleep(0.5)
    busy = (time.process_time() - cpu) / (time.monotonic() - wall)
    assert busy < 0.3, f"the server kept working on abandoned streams ({busy:.0%} of a CPU)"
    count = client.post("/api/sql", json={"sql": "SELECT count(*) AS n FROM shop.shop"})
    assert count.json()["rows"] == [{"n": 260}]
    lines = client.post("/api/sql", params={"_format": "ndjson"}, json={"sql": big["sql"] + " LIMIT 100000"})
    assert len(lines.text.splitlines()) == 100_000
