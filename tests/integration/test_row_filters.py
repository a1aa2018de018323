"""Row filters and masks in the one query path: every protocol, every query shape, no way around.

One product, ``customers``, with an EU analyst (ana), a US analyst (bob), an
analyst without a region (nora), the governance role (gov, reads unmasked), and
a principal with no grant at all (dan), served over REST, GraphQL, Flight SQL
and the PostgreSQL wire protocol.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import adbc_driver_flightsql.dbapi as flightsql
import httpx
import psycopg
import pytest

from daap.errors import NotFound, QueryRefused
from daap.mesh.policy.accesslog import AccessLog
from daap.mesh.policy.authn import Authenticator
from daap.mesh.policy.identity import Identities
from daap.mesh.workspace import Workspace
from daap.query.service import QueryRequest, QueryService
from fixtures.http import serve_every_port
from fixtures.workspace import Mesh

MESH_YAML = """principals:
  - {name: ana, roles: [analyst], attributes: {region: EU}}
  - {name: bob, roles: [analyst], attributes: {region: US}}
  - {name: nora, roles: [analyst]}
  - {name: gov, roles: [governance]}
  - {name: dan, roles: [intern]}
  - {name: olga, roles: [engineer]}
"""
POLICY = """@id("analysts-read")
permit(principal, action == Daap::Action::"read", resource) when { principal.roles.contains("analyst") };
@id("governance-unmasked")
permit(principal, action == Daap::Action::"read_unmasked", resource)
when { principal.roles.contains("governance") };
"""
ACCESS = """rowFilters:
  - name: own-region
    where: region = principal.region
    exempt: [governance]
masks:
  pii: hash
columns:
  customers.birth_date: year
  customers.phone: last4
"""
CSV = """id,email,phone,birth_date,region
1,a@x.eu,+31612345678,1990-05-03,EU
2,b@x.us,+1555123456,1985-01-02,US
3,c@x.eu,,1970-12-31,EU
4,d@x.jp,+81312345678,2000-07-07,APAC
"""
COLUMNS = [
    ("id", "integer"),
    ("email", "string", {"classification": "pii"}),
    ("phone", "string", {"classification": "restricted"}),
    ("birth_date", "date", {"classification": "pii"}),
    ("region", "string"),
]
QUERIES = [
    {
        "name": "in_region",
        "sql": "SELECT id FROM customers.customers WHERE region = $region ORDER BY id",
        "parameters": [{"name": "region", "type": "string"}],
    }
]
ALL = (
    "SELECT id, email, phone, CAST(birth_date AS VARCHAR) AS birth_date, region "
    "FROM customers.customers ORDER BY id"
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DAAP_HOME", raising=False)
        mp.delenv("DAAP_MASK_KEY", raising=False)
        root: Path = tmp_path_factory.mktemp("filters")
        mesh = Mesh(root)
        (root / "mesh.yaml").write_text(MESH_YAML)
        folder = mesh.product(
            "customers", COLUMNS, pk=["id"], inputs={"s": {"path": "d.csv"}}, files={"d.csv": CSV}
        )
        descriptor = json.loads((folder / "dataproduct.yaml").read_text())
        descriptor["team"] = {"name": "billing", "members": [{"username": "olga", "role": "owner"}]}
        descriptor["customProperties"].append({"property": "queries", "value": QUERIES})
        (folder / "dataproduct.yaml").write_text(json.dumps(descriptor))
        (folder / "access.cedar").write_text(POLICY)
        (folder / "access.yaml").write_text(ACCESS)
        mesh.build_ok()
        ws = Workspace.open(root)
        ids = Identities(ws)
        tokens = {name: ids.create_token(name)[1] for name in ("ana", "bob", "nora", "gov", "dan", "olga")}
        service = QueryService(ws)
        recorder = AccessLog(ws.metadata)
        service.enforce_policies(recorder=recorder)
        authenticator = Authenticator.for_workspace(ws)
        try:
            with serve_every_port(service, authenticator) as ports:
                yield {"tokens": tokens, "service": service, "auth": authenticator, "ws": ws, **ports}
        finally:
            recorder.close()
            ws.close()


def run(env: dict[str, Any], who: str, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    caller = env["auth"].principal_caller(who)
    return env["service"].execute(QueryRequest(sql, params, caller=caller)).read_all().to_pylist()


def rest(env: dict[str, Any], who: str, sql: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {env['tokens'][who]}"}
    return httpx.post(f"{env['url']}/api/sql", json={"sql": sql}, headers=headers, params={"_format": "json"})


def graphql(env: dict[str, Any], who: str, query: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {env['tokens'][who]}"}
    body: dict[str, Any] = httpx.post(f"{env['url']}/graphql", json={"query": query}, headers=headers).json()
    return body


def psql_rows(env: dict[str, Any], who: str, sql: str) -> list[tuple[Any, ...]]:
    dsn = f"host=127.0.0.1 port={env['pg']} dbname=daap user={who} password={env['tokens'][who]}"
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


def adbc_rows(env: dict[str, Any], who: str, sql: str) -> list[tuple[Any, ...]]:
    options = {"adbc.flight.sql.authorization_header": f"Bearer {env['tokens'][who]}"}
    with flightsql.connect(f"grpc://127.0.0.1:{env['flight']}", db_kwargs=options, autocommit=True) as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        return list(cursor.fetchall())


def test_each_reader_sees_its_rows_with_its_masks(env):
    ana = run(env, "ana", ALL)
    assert [r["id"] for r in ana] == [1, 3]  # EU only
    assert all(r["email"] not in ("a@x.eu", "c@x.eu") and len(r["email"]) == 32 for r in ana)  # keyed hash
    assert [r["phone"] for r in ana] == ["***5678", None]  # last 4; a null stays null
    assert [r["birth_date"] for r in ana] == ["1990-01-01", "1970-01-01"]  # the year only
    assert [r["id"] for r in run(env, "bob", ALL)] == [2]
    assert run(env, "nora", ALL) == []  # no region attribute: the filter fails closed
    gov = run(env, "gov", ALL)
    assert [r["email"] for r in gov] == ["a@x.eu", "b@x.us", "c@x.eu", "d@x.jp"]  # exempt and unmasked
    assert gov[0]["birth_date"] == "1990-05-03" and gov[0]["phone"] == "+31612345678"
    local = env["service"].execute(QueryRequest(ALL)).read_all().to_pylist()
    assert local == gov  # authentication off: the local operator reads everything


def test_the_hash_keeps_equal_values_equal_so_joins_still_work(env):
    ana = run(env, "ana", ALL)
    joined = run(env, "ana", "SELECT a.id, b.id AS other FROM customers.customers a "
                             "JOIN customers.customers b ON a.email = b.email ORDER BY 1")  # fmt: skip
    assert joined == [{"id": 1, "other": 1}, {"id": 3, "other": 3}]
    assert (
        ana[0]["email"] == run(env, "ana", "SELECT email FROM customers.customers WHERE id = 1")[0]["email"]
    )


SHAPES = [
    "SELECT id, email FROM (SELECT * FROM customers.customers) AS s ORDER BY id",
    "WITH c AS (SELECT * FROM customers.customers) SELECT id, email FROM c ORDER BY id",
    "SELECT a.id, a.email FROM customers.customers a JOIN customers.customers b USING (id) ORDER BY 1",
    "SELECT id, email FROM customers.customers UNION ALL SELECT id, email FROM customers.customers "
    "EXCEPT SELECT 99, 'x' ORDER BY id",
    "SELECT id, email FROM (SELECT id, email, row_number() OVER (PARTITION BY region ORDER BY id) AS n "
    "FROM customers.customers) AS w ORDER BY id",
    "SELECT * EXCLUDE (phone, birth_date, region) FROM daap.customers.customers ORDER BY id",
    'SELECT id, email FROM "customers"."customers" AS c '
    "WHERE c.region IN ('EU', 'US', 'APAC') ORDER BY id",
    "SELECT id, email FROM customers.customers WHERE id IN (SELECT id FROM customers.customers) ORDER BY id",
]


@pytest.mark.parametrize("sql", SHAPES)
def test_no_query_shape_gets_around_the_filter_or_the_masks(env, sql):
    rows = run(env, "ana", sql)
    expected = run(env, "ana", "SELECT id, email FROM customers.customers ORDER BY id")
    assert {(r["id"], r["email"]) for r in rows} == {(r["id"], r["email"]) for r in expected}
    assert {r["id"] for r in rows} == {1, 3}


def test_aggregates_and_predicates_over_masked_columns_see_masked_values(env):
    stats = run(env, "ana", "SELECT count(*) AS n, count(DISTINCT email) AS d, min(email) AS lo, "
                            "max(birth_date) AS hi FROM customers.customers")[0]  # fmt: skip
    assert stats["n"] == 2 and stats["d"] == 2 and "@" not in stats["lo"]
    assert str(stats["hi"]) == "1990-01-01"
    assert run(env, "ana", "SELECT id FROM customers.customers WHERE email = 'a@x.eu'") == []
    assert run(env, "ana", "SELECT id FROM customers.customers WHERE email LIKE '%@%'") == []
    assert run(env, "ana", "SELECT id FROM customers.customers WHERE region = 'US'") == []


def test_named_query_parameters_are_values_not_sql(env):
    service, caller = env["service"], env["auth"].principal_caller("ana")
    for region, expected in (("EU", [1, 3]), ("US", []), ("EU' OR '1'='1", [])):
        request = service.named("customers", "in_region", {"region": region}, caller=caller)
        assert [r["id"] for r in service.execute(request).read_all().to_pylist()] == expected
    rows = run(env, "bob", "SELECT * FROM customers.in_region('EU')")
    assert rows == []  # bob's own filter holds inside a named query too


BYPASSES = [
    ("SELECT * FROM read_parquet('{warehouse}/**/*.parquet')", "not allowed"),
    ("SELECT * FROM parquet_scan('{warehouse}/**/*.parquet')", "not allowed"),
    ("SELECT * FROM '{warehouse}/x.parquet'", "not allowed"),
    ("SELECT * FROM query_table('customers.customers')", "not allowed"),
    ("SELECT * FROM query('SELECT * FROM customers.customers')", "not allowed"),
    ("SELECT sql FROM duckdb_views()", "not allowed"),
    ("SELECT * FROM glob('{warehouse}/*')", "not allowed"),
    ("ATTACH '{warehouse}/x.db' AS x", "only read-only queries"),
    ("COPY customers.customers TO '/tmp/out.csv'", "only read-only queries"),
    ("INSTALL httpfs", "only read-only queries"),
    ("LOAD httpfs", "only read-only queries"),
    ("SELECT * FROM customers.customers; SELECT 1", "expected one query"),
    ("SET enable_external_access = true", "only read-only queries"),
]


@pytest.mark.parametrize(("sql", "message"), BYPASSES, ids=[b[0][:40] for b in BYPASSES])
def test_reading_storage_files_or_changing_the_engine_is_refused(env, sql, message):
    sql = sql.format(warehouse=env["ws"].config.warehouse)
    with pytest.raises(QueryRefused, match=message):
        run(env, "ana", sql)


def test_masked_and_filtered_results_are_identical_on_every_protocol(env):
    sql = "SELECT id, email, phone, birth_date, region FROM customers.customers ORDER BY id"
    for who in ("ana", "gov"):
        expected = [tuple(r.values()) for r in run(env, who, sql)]
        assert expected and psql_rows(env, who, sql) == expected
        assert adbc_rows(env, who, sql) == expected
        rest_rows = rest(env, who, sql).json()["rows"]
        assert [(r["id"], r["email"], r["phone"], r["region"]) for r in rest_rows] == [
            (e[0], e[1], e[2], e[4]) for e in expected
        ]
        page = graphql(env, who, "{ customers__customers(limit: 100) { rows { id email phone region } } }")
        gql = [tuple(r.values()) for r in page["data"]["customers__customers"]["rows"]]
        assert gql == [(e[0], e[1], e[2], e[4]) for e in expected]


def test_graphql_and_rest_filters_on_a_masked_column_match_masked_values_only(env):
    page = graphql(env, "ana", '{ customers__customers(where: {email: {eq: "a@x.eu"}}) { rows { id } } }')
    assert page["data"]["customers__customers"]["rows"] == []
    headers = {"Authorization": f"Bearer {env['tokens']['ana']}"}
    rows = httpx.get(f"{env['url']}/api/products/customers/ports/customers/rows",
                     params={"email": "a@x.eu", "_format": "json"}, headers=headers)  # fmt: skip
    assert rows.status_code == 200 and rows.json()["rows"] == []
    everything = httpx.get(f"{env['url']}/api/products/customers/ports/customers/rows",
                           params={"_format": "json"}, headers=headers).json()["rows"]  # fmt: skip
    assert [r["id"] for r in everything] == [1, 3] and all("@" not in r["email"] for r in everything)


def test_one_principals_cached_result_is_never_served_to_another(env):
    sql = "SELECT id, email FROM customers.customers ORDER BY id"
    first = rest(env, "gov", sql).json()["rows"]
    assert [r["id"] for r in first] == [1, 2, 3, 4]
    for who, ids in (("ana", [1, 3]), ("bob", [2]), ("nora", []), ("gov", [1, 2, 3, 4])):
        rows = rest(env, who, sql).json()["rows"]
        assert [r["id"] for r in rows] == ids
        assert all("@" not in r["email"] for r in rows) or who == "gov"


def test_an_undiscoverable_product_is_answered_like_an_unknown_one(env):
    for product in ("customers", "nosuch"):
        with pytest.raises(NotFound) as raised:
            run(env, "dan", f"SELECT * FROM {product}.{product}")
        assert raised.value.message == f"no product {product!r}"
    headers = {"Authorization": f"Bearer {env['tokens']['dan']}"}
    assert httpx.get(f"{env['url']}/api/tables", headers=headers).json() == []
    assert [t["product"] for t in httpx.get(f"{env['url']}/api/tables",
            headers={"Authorization": f"Bearer {env['tokens']['ana']}"}).json()] == ["customers"]  # fmt: skip
    for product in ("customers", "nosuch"):
        page = httpx.get(f"{env['url']}/api/products/{product}/ports/{product}/rows", headers=headers)
        assert page.status_code == 404 and page.json()["error"]["message"] == f"no product {product!r}"
    fields = graphql(env, "dan", "{ __schema { queryType { fields { name } } } }")
    assert "customers__customers" not in json.dumps(fields)
    assert "customers__customers" in json.dumps(
        graphql(env, "ana", "{ __schema { queryType { fields { name } } } }")
    )
    listed = "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = 'customers'"
    assert psql_rows(env, "dan", listed) == [] and psql_rows(env, "ana", listed) == [
        ("customers", "customers")
    ]
    options = {"adbc.flight.sql.authorization_header": f"Bearer {env['tokens']['dan']}"}
    with flightsql.connect(f"grpc://127.0.0.1:{env['flight']}", db_kwargs=options, autocommit=True) as conn:
        objects = conn.adbc_get_objects(depth="tables").read_all().to_pylist()
    assert "customers" not in json.dumps(objects, default=str)


def test_an_edited_access_file_counts_from_the_next_query(env):
    folder = env["service"].product_spec("customers").folder
    path = folder / "access.yaml"
    try:
        path.write_text(ACCESS.replace("region = principal.region", "region <> principal.region"))
        assert [r["id"] for r in run(env, "ana", "SELECT id FROM customers.customers ORDER BY id")] == [2, 4]
        path.write_text("rowFilters:\n  - name: broken\n    where: region = (SELECT 1)\n")
        with pytest.raises(QueryRefused, match=r"row filter 'broken'.*not allowed"):
            run(env, "ana", "SELECT id FROM customers.customers")
    finally:
        path.write_text(ACCESS)
    assert [r["id"] for r in run(env, "ana", "SELECT id FROM customers.customers ORDER BY id")] == [1, 3]


def test_explain_names_the_filters_and_masks_that_apply(env):
    service = env["service"]
    ana = env["auth"].principal_caller("ana").principal
    explained = service.access.explain(ana, service.product_spec("customers"))
    (port,) = explained["ports"]
    assert port["row_filters"] == [{"name": "own-region", "where": "region = principal.region",
                                    "applies": True, "why": "applies"}]  # fmt: skip
    assert {m["column"]: (m["mask"], m["applies"]) for m in port["masks"]} == {
        "email": ("hash", True), "phone": ("last4", True), "birth_date": ("year", True)
    }  # fmt: skip
    gov = env["auth"].principal_caller("gov").principal
    (port,) = service.access.explain(gov, service.product_spec("customers"))["ports"]
    assert port["row_filters"][0]["applies"] is False and "governance" in port["row_filters"][0]["why"]
    assert not any(m["applies"] for m in port["masks"])


def http(env: dict[str, Any], who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {env['tokens'][who]}"}
    return httpx.request(method, f"{env['url']}/api{path}", headers=headers, **kwargs)


def test_the_control_port_is_for_owners_and_governance_versioned_and_checked(env):
    control = "/products/customers/control"
    assert http(env, "ana", "GET", control).status_code == 403  # reads the data, not its control
    assert http(env, "dan", "GET", control).status_code == 404  # may not even discover it
    shown = http(env, "gov", "GET", control).json()
    assert shown["access"] == ACCESS and shown["policies"] == POLICY and shown["author"] == "files"
    first = shown["version"]

    bad = ACCESS.replace("region = principal.region", "nosuch = principal.region")
    refused = http(env, "olga", "PUT", control, json={"access": bad})
    assert refused.status_code == 422 and "unknown column 'nosuch'" in refused.json()["error"]["message"]
    assert "customers/access.yaml:3" in refused.json()["error"]["message"]  # positioned
    broken = http(env, "olga", "PUT", control, json={"policies": "permit(principal, action, resource"})
    assert broken.status_code == 422 and "customers/access.cedar" in broken.json()["error"]["message"]
    assert http(env, "gov", "GET", control).json()["version"] == first  # nothing changed

    swapped = ACCESS.replace("region = principal.region", "region <> principal.region")
    try:
        changed = http(
            env, "olga", "PUT", control, json={"access": swapped, "note": "flip", "expected_version": first}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["version"] == first + 1 and changed.json()["author"] == "olga"
        assert [r["id"] for r in run(env, "ana", "SELECT id FROM customers.customers ORDER BY id")] == [2, 4]
        stale = http(env, "olga", "PUT", control, json={"access": ACCESS, "expected_version": first})
        assert stale.status_code == 409 and "version" in stale.json()["error"]["message"]
        history = http(env, "gov", "GET", f"{control}/versions").json()
        assert [(v["version"], v["author"], v["note"]) for v in history][-1] == (first + 1, "olga", "flip")
    finally:
        restored = http(env, "olga", "PUT", control, json={"access": ACCESS})
        assert restored.status_code == 200
    assert [r["id"] for r in run(env, "ana", "SELECT id FROM customers.customers ORDER BY id")] == [1, 3]


def test_explain_over_http_says_what_a_principal_sees_and_why(env):
    explained = http(
        env, "gov", "GET", "/products/customers/control/explain", params={"principal": "ana"}
    ).json()
    read = next(d for d in explained["decisions"] if d["action"] == "read")
    assert read["allowed"] and read["policies"] == ["customers/access.cedar#analysts-read"]
    assert explained["ports"][0]["row_filters"][0]["applies"] is True
    unknown = http(env, "gov", "GET", "/products/customers/control/explain", params={"principal": "zed"})
    assert unknown.status_code == 404


def test_the_access_log_records_allows_and_denies_per_protocol_for_governance_only(env):
    run(env, "bob", "SELECT count(*) FROM customers.customers")
    psql_rows(env, "bob", "SELECT count(*) FROM customers.customers")
    with pytest.raises(NotFound):
        run(env, "dan", "SELECT * FROM customers.customers")
    assert http(env, "ana", "GET", "/access-log").status_code == 403
    entries = http(env, "gov", "GET", "/access-log", params={"principal": "bob", "action": "read"}).json()
    assert {e["protocol"] for e in entries} >= {"sql", "pgwire"}
    assert all(e["allowed"] and e["product"] == "customers" for e in entries)
    assert entries[0]["policies"] == ["customers/access.cedar#analysts-read"]
    denied = http(env, "gov", "GET", "/access-log", params={"principal": "dan", "allowed": "false"}).json()
    assert denied and denied[0]["action"] == "discover" and denied[0]["product"] == "customers"


def test_the_cli_as_a_principal_returns_what_every_port_returns(env):
    import subprocess
    import sys

    sql = "SELECT id, email, phone, region FROM customers.customers ORDER BY id"
    root = env["ws"].root
    for who in ("ana", "gov"):
        done = subprocess.run(
            [sys.executable, "-m", "daap", "-w", str(root), "query", "--as", who, "--format", "json", sql],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert json.loads(done.stdout) == run(env, who, sql)
    refused = subprocess.run(
        [sys.executable, "-m", "daap", "-w", str(root), "query", "--as", "dan", sql],
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0 and "no product 'customers'" in refused.stderr


def test_the_access_log_on_the_command_line_matches_the_http_one(env):
    import subprocess
    import sys

    run(env, "bob", "SELECT count(*) FROM customers.customers")
    http(env, "gov", "GET", "/access-log")  # flushes the recorder
    cmd = [sys.executable, "-m", "daap", "-w", str(env["ws"].root), "access", "log", "--principal", "bob"]
    listed = json.loads(subprocess.run([*cmd, "--json"], capture_output=True, text=True, check=True).stdout)
    served = http(env, "gov", "GET", "/access-log", params={"principal": "bob", "limit": 50}).json()
    assert listed and listed == served
    table = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert "customers" in table and "allow" in table and "bob" in table
