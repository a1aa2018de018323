"""Nothing is anonymous unless a product's policy grants public read.

``titles`` has a policy that permits every principal (public); ``secret`` has
none. A request without any credentials reads titles (masked like anyone
else's) on REST, GraphQL and Flight SQL, and is asked for a token for anything
else; even a policy that permits every action lets it only discover and read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import httpx
import pytest

from daap.mesh.policy.accesslog import AccessLog
from daap.mesh.policy.authn import Authenticator
from daap.mesh.policy.identity import Identities
from daap.mesh.workspace import Workspace
from daap.query.service import QueryService
from fixtures.http import serve_every_port
from fixtures.workspace import Mesh

PUBLIC = (
    "permit(principal, action, resource);\n"  # every principal, every action: still only read for anonymous
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DAAP_HOME", raising=False)
        root: Path = tmp_path_factory.mktemp("public")
        mesh = Mesh(root)
        (root / "mesh.yaml").write_text("principals:\n  - {name: ana, roles: [analyst]}\n")
        columns = [("id", "integer"), ("title", "string"), ("editor", "string", {"classification": "pii"})]
        data = {"d.csv": "id,title,editor\n1,Go,olga@x.eu\n2,Run,piet@x.nl\n"}
        titles = mesh.product("titles", columns, pk=["id"], inputs={"s": {"path": "d.csv"}}, files=data)
        (titles / "access.cedar").write_text(PUBLIC)
        mesh.product("secret", [("id", "integer")], pk=["id"], inputs={"s": {"path": "d.csv"}},
                     files={"d.csv": "id\n7\n"})  # fmt: skip
        mesh.build_ok()
        ws = Workspace.open(root)
        service = QueryService(ws)
        recorder = AccessLog(ws.metadata)
        service.enforce_policies(recorder=recorder)
        authenticator = Authenticator.for_workspace(ws)
        token = Identities(ws).create_token("ana")[1]
        try:
            with serve_every_port(service, authenticator) as ports:
                yield {"ws": ws, "recorder": recorder, "token": token, **ports}
        finally:
            recorder.close()
            ws.close()


def sql(env: dict[str, Any], query: str) -> httpx.Response:
    return httpx.post(f"{env['url']}/api/sql", json={"sql": query}, params={"_format": "json"})


def test_anonymous_rest_reads_the_public_product_masked_and_nothing_else(env):
    assert [t["product"] for t in httpx.get(f"{env['url']}/api/tables").json()] == ["titles"]
    rows = sql(env, "SELECT id, title, editor FROM titles.titles ORDER BY id").json()["rows"]
    assert [(r["id"], r["title"], r["editor"]) for r in rows] == [(1, "Go", "***"), (2, "Run", "***")]
    for refused in (sql(env, "SELECT * FROM secret.secret"), sql(env, "SELECT 1"),
                    httpx.get(f"{env['url']}/api/whoami"),
                    httpx.get(f"{env['url']}/api/products/titles/control"),
                    httpx.get(f"{env['url']}/api/access-log")):  # fmt: skip
        assert refused.status_code == 401, refused.text
        assert "no credentials" in refused.json()["error"]["message"]
        assert refused.headers["www-authenticate"] == 'Bearer realm="daap"'
    # with a token, the same principal rules apply as ever: ana may not see secret
    authed = httpx.get(f"{env['url']}/api/tables", headers={"Authorization": f"Bearer {env['token']}"})
    assert [t["product"] for t in authed.json()] == ["titles"]


def test_anonymous_graphql_sees_only_the_public_product(env):
    body = httpx.post(
        f"{env['url']}/graphql", json={"query": "{ __schema { queryType { fields { name } } } }"}
    )
    names = {f["name"] for f in body.json()["data"]["__schema"]["queryType"]["fields"]}
    assert "titles__titles" in names and not any(n.startswith("secret") for n in names)
    page = httpx.post(f"{env['url']}/graphql", json={"query": "{ titles__titles { rows { id editor } } }"})
    assert page.json()["data"]["titles__titles"]["rows"] == [
        {"id": 1, "editor": "***"},
        {"id": 2, "editor": "***"},
    ]


def test_anonymous_flight_sql_reads_the_public_product_only(env):
    with flightsql.connect(f"grpc://127.0.0.1:{env['flight']}", autocommit=True) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT count(*) FROM titles.titles")
        assert cursor.fetchall() == [(2,)]
        with pytest.raises(adbc_driver_manager.Error, match="no credentials") as caught:
            cursor.execute("SELECT * FROM secret.secret")
        assert caught.value.status_code == adbc_driver_manager.AdbcStatusCode.UNAUTHENTICATED


def test_anonymous_reads_are_in_the_access_log(env):
    sql(env, "SELECT count(*) FROM titles.titles")
    env["recorder"].flush()
    entries = env["ws"].metadata.access_log(principal="anonymous", product="titles", action="read")
    assert entries and entries[0].allowed and entries[0].policies == ("titles/access.cedar#1",)
