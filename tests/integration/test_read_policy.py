"""Products' access policies in the one query path: every protocol refuses a principal without `read`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import httpx
import psycopg
import pytest

from daap.mesh.policy.authn import Authenticator
from daap.mesh.policy.identity import Identities
from daap.mesh.workspace import Workspace
from daap.query.service import QueryRequest, QueryService
from fixtures.http import serve_every_port
from fixtures.workspace import Mesh

MESH_YAML = """principals:
  - {name: ana, roles: [analyst], attributes: {region: EU}}
  - {name: bob, roles: [analyst], attributes: {region: US}}
  - {name: gov, roles: [governance]}
"""
POLICY = """@id("everyone-discovers")
permit(principal, action == Daap::Action::"discover", resource);
@id("eu-analysts")
permit(principal, action == Daap::Action::"read", resource)
when { principal.attributes has region && principal.attributes.region == "EU" };
"""
SQL = "SELECT count(*) AS n FROM t.t"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DAAP_HOME", raising=False)
        root: Path = tmp_path_factory.mktemp("policy")
        mesh = Mesh(root)
        (root / "mesh.yaml").write_text(MESH_YAML)
        folder = mesh.product("t", [("id", "integer")], pk=["id"], inputs={"s": {"path": "d.csv"}},
                              files={"d.csv": "id\n1\n2\n"})  # fmt: skip
        (folder / "access.cedar").write_text(POLICY)
        mesh.build_ok()
        ws = Workspace.open(root)
        ids = Identities(ws)
        tokens = {name: ids.create_token(name)[1] for name in ("ana", "bob", "gov")}
        service = QueryService(ws)
        service.enforce_policies()
        authenticator = Authenticator.for_workspace(ws)
        try:
            with serve_every_port(service, authenticator) as ports:
                yield {"tokens": tokens, "service": service, **ports}
        finally:
            ws.close()


def rest(env, who):
    headers = {"Authorization": f"Bearer {env['tokens'][who]}"}
    return httpx.post(f"{env['url']}/api/sql", json={"sql": SQL}, headers=headers, params={"_format": "json"})


@pytest.mark.parametrize("who", ["ana", "gov"])
def test_a_principal_the_policy_permits_reads_on_every_protocol(env, who):
    assert rest(env, who).json()["rows"] == [{"n": 2}]
    with psycopg.connect(
        f"host=127.0.0.1 port={env['pg']} dbname=daap user={who} password={env['tokens'][who]}"
    ) as c:
        assert c.execute(SQL).fetchone() == (2,)
    options = {"adbc.flight.sql.authorization_header": f"Bearer {env['tokens'][who]}"}
    with flightsql.connect(f"grpc://127.0.0.1:{env['flight']}", db_kwargs=options, autocommit=True) as conn:
        cursor = conn.cursor()
        cursor.execute(SQL)
        assert cursor.fetchall() == [(2,)]


def test_a_principal_without_read_is_refused_everywhere_and_learns_nothing(env):
    refused = rest(env, "bob")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "permission denied: bob may not read t"
    rows = httpx.get(f"{env['url']}/api/products/t/ports/t/rows",
                     headers={"Authorization": f"Bearer {env['tokens']['bob']}"})  # fmt: skip
    assert rows.status_code == 403 and '"id"' not in rows.text
    query = "{ t__t { rows { id } } }"
    gql = httpx.post(f"{env['url']}/graphql", json={"query": query},
                     headers={"Authorization": f"Bearer {env['tokens']['bob']}"}).json()  # fmt: skip
    assert gql.get("data") in (None, {"t__t": None}) and "may not read t" in gql["errors"][0]["message"]
    with (
        psycopg.connect(
            f"host=127.0.0.1 port={env['pg']} dbname=daap user=bob password={env['tokens']['bob']}"
        ) as c,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="bob may not read t"),
    ):
        c.execute("WITH x AS (SELECT * FROM t.t) SELECT * FROM x")  # a CTE is no way around
    options = {"adbc.flight.sql.authorization_header": f"Bearer {env['tokens']['bob']}"}
    with flightsql.connect(f"grpc://127.0.0.1:{env['flight']}", db_kwargs=options, autocommit=True) as conn:
        cursor = conn.cursor()
        with pytest.raises(adbc_driver_manager.Error, match="may not read t"):
            cursor.execute("SELECT * FROM (SELECT id FROM t.t) AS s")


def test_the_local_caller_reads_everything(env):
    result = env["service"].execute(QueryRequest(SQL))
    try:
        assert result.read_all().to_pylist() == [{"n": 2}]
    finally:
        result.close()


def test_a_refused_principal_is_never_served_anothers_cached_result(env):
    assert rest(env, "ana").status_code == 200  # cached for ana
    assert rest(env, "bob").status_code == 403
