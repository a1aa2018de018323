"""Every port authenticates: REST, GraphQL, the registry API, Flight SQL and PostgreSQL wire.

The servers are composed as ``daap up`` composes them (:func:`daap.cli.up.http_app`,
:func:`daap.cli.up.pg_authenticator`) over a mesh with two principals, and real
clients (httpx, confluent-kafka's registry client, ADBC, raw pyarrow.flight,
psycopg, psql) send no token, a malformed, unknown, forged, expired or revoked
one, or a good one. A refused request is refused with the protocol's code and
a message that says what is wrong, before any query runs; an accepted one runs
as its principal (the service's policy hook records the caller of every query).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import httpx
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from daap.cli.up import NO_PRINCIPALS, http_app, pg_authenticator
from daap.mesh.metadata import StoredToken
from daap.mesh.policy.authn import LOCAL, Authenticator, Caller, bearer_token, caller_of, fingerprint
from daap.mesh.policy.identity import Identities, digest, scram_verifier
from daap.mesh.workspace import Workspace
from daap.query.service import QueryService
from daap.servers.flight import FlightSqlServer
from daap.servers.pgwire import PgWireServer
from daap.spec.mesh import PrincipalSpec
from fixtures.http import serve_app
from fixtures.workspace import Mesh

MESH_YAML = """principals:
  - {name: ana, kind: person, roles: [analyst], domain: content, purposes: [marketing],
     attributes: {region: EU}}
  - {name: gov, roles: [governance]}
"""
AUTH_OPTION = "adbc.flight.sql.authorization_header"
#: token key (see :func:`tokens`) or None for no token at all -> what the refusal says
REFUSED = [
    (None, "no credentials"),
    ("malformed", "malformed token"),
    ("unknown", "unknown or wrong token"),
    ("forged", "unknown or wrong token"),
    ("expired", "expired at"),
    ("revoked", "was revoked"),
]
REFUSED_IDS = [key or "none" for key, _ in REFUSED]


@dataclass
class Env:
    ws: Workspace
    http: str
    flight: str
    pg: int
    tokens: dict[str, str]
    #: the caller of every query the service ran, in order
    seen: list[Caller]

    def bearer(self, key: str | None) -> dict[str, str]:
        return {} if key is None else {"Authorization": f"Bearer {self.tokens[key]}"}


def expired_token(ws: Workspace, principal: str) -> str:
    """A token that expired yesterday, written as ``daap token create`` would have written it."""
    token_id = secrets.token_hex(6)
    token = f"daap_{token_id}_{secrets.token_urlsafe(32)}"
    now = datetime.now(UTC)
    record = StoredToken(
        token_id,
        principal,
        digest(token),
        "expired",
        now - timedelta(days=2),
        now - timedelta(days=1),
        None,
        scram_verifier(principal, token),
    )
    ws.metadata.add_token(record)
    return token


def tokens(ws: Workspace) -> dict[str, str]:
    ids = Identities(ws)
    _, good = ids.create_token("ana", timedelta(hours=1))
    _, gov = ids.create_token("gov")
    gone, revoked = ids.create_token("ana")
    ids.revoke(gone.token_id)
    return {
        "good": good,
        "gov": gov,
        "revoked": revoked,
        "expired": expired_token(ws, "ana"),
        "forged": good[:-1] + ("A" if good[-1] != "A" else "B"),
        "unknown": "daap_000000000000_" + "A" * 43,
        "malformed": "hunter2",
    }


def write_mesh(root: Path, principals: bool) -> Mesh:
    """A built mesh with one product, ``t.t`` (ids 1 and 2); its state beside it (no DAAP_HOME)."""
    assert "DAAP_HOME" not in os.environ
    mesh = Mesh(root)
    if principals:
        (root / "mesh.yaml").write_text(MESH_YAML)
    mesh.product(
        "t", [("id", "integer")], pk=["id"], inputs={"s": {"path": "d.csv"}}, files={"d.csv": "id\n1\n2\n"}
    )
    mesh.build_ok()
    return mesh


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DAAP_HOME", raising=False)
        mesh = write_mesh(tmp_path_factory.mktemp("auth"), principals=True)
        ws = Workspace.open(mesh.root)
        seen: list[Caller] = []

        def record(tree: Any, refs: Any, caller: Caller) -> Any:
            seen.append(caller)
            return tree

        service = QueryService(ws, rewrite=record)
        authenticator = Authenticator.for_workspace(ws)
        assert authenticator.required  # the mesh has principals
        with serve_app(http_app(service, authenticator)) as url:
            server = FlightSqlServer(service, authenticator=authenticator).serve_in_thread()
            pg = PgWireServer(service, auth=pg_authenticator(authenticator)).serve_in_thread()
            try:
                yield Env(ws, url, f"grpc://127.0.0.1:{server.port}", pg.port, tokens(ws), seen)
            finally:
                pg.stop()
                server.shutdown()
                ws.close()


def ana() -> PrincipalSpec:
    """``ana`` as mesh.yaml declares her."""
    return PrincipalSpec("ana", "person", ("analyst",), "content", ("marketing",), {"region": "EU"})


# -- REST ------------------------------------------------------------------------------


REST_CALLS = [
    ("GET", "/api/tables", None),
    ("POST", "/api/sql", {"sql": "SELECT count(*) AS n FROM t.t"}),
    ("GET", "/api/products/t/ports/t/rows", None),
    ("GET", "/api/whoami", None),
]


@pytest.mark.parametrize(("key", "message"), REFUSED, ids=REFUSED_IDS)
def test_rest_refuses_with_401_and_says_why(env: Env, key: str | None, message: str) -> None:
    env.seen.clear()
    for method, path, body in REST_CALLS:
        response = httpx.request(method, env.http + path, json=body, headers=env.bearer(key))
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert ('error="invalid_token"' in response.headers["www-authenticate"]) == (key is not None)
        error = response.json()["error"]
        assert error["type"] == "AuthenticationError" and message in error["message"], error
    assert env.seen == []  # refused before any query ran


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Basic YW5hOnNlY3JldA==", "must use the Bearer scheme"),
        ("{good}", "bare token: write `Bearer ` before it"),
        ("Bearer", "no credentials"),
    ],
    ids=["basic", "bare-token", "empty-bearer"],
)
def test_rest_names_a_header_of_the_wrong_shape_without_echoing_it(
    env: Env, header: str, message: str
) -> None:
    value = header.format(good=env.tokens["good"])
    response = httpx.get(env.http + "/api/whoami", headers={"Authorization": value})
    assert response.status_code == 401 and message in response.json()["error"]["message"]
    assert env.tokens["good"] not in response.text


def test_rest_with_a_token_runs_as_its_principal(env: Env) -> None:
    headers = env.bearer("good")
    who = httpx.get(env.http + "/api/whoami", headers=headers).json()
    assert who == {
        "name": "ana",
        "authenticated": True,
        "kind": "person",
        "roles": ["analyst"],
        "domain": "content",
        "purposes": ["marketing"],
        "attributes": {"region": "EU"},
    }
    env.seen.clear()
    sql = httpx.post(env.http + "/api/sql", json={"sql": "SELECT count(*) AS n FROM t.t"}, headers=headers)
    assert sql.status_code == 200 and sql.json()["rows"] == [{"n": 2}]
    rows = httpx.get(env.http + "/api/products/t/ports/t/rows", headers=headers)
    assert [r["id"] for r in rows.json()["rows"]] == [1, 2]
    assert [c.name for c in env.seen] == ["ana", "ana"]
    assert {c.fingerprint for c in env.seen} == {fingerprint(ana())}
    gov = httpx.get(env.http + "/api/whoami", headers=env.bearer("gov")).json()
    assert gov["name"] == "gov" and gov["roles"] == ["governance"]


def test_a_token_revoked_while_serving_is_refused_on_the_next_request(env: Env) -> None:
    ids = Identities(env.ws)
    record, token = ids.create_token("gov")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(env.http + "/api/whoami", headers=headers).json()["name"] == "gov"
    ids.revoke(record.token_id)
    refused = httpx.get(env.http + "/api/whoami", headers=headers)
    assert refused.status_code == 401
    assert f"token {record.token_id} was revoked" in refused.json()["error"]["message"]


def test_health_metrics_openapi_and_graphiql_stay_open(env: Env) -> None:
    assert httpx.get(env.http + "/healthz").json() == {"status": "ok"}
    metrics = httpx.get(env.http + "/metrics")
    assert metrics.status_code == 200 and "# TYPE" in metrics.text
    schemes = httpx.get(env.http + "/openapi.json").json()["components"]["securitySchemes"]
    assert any(s["type"] == "http" and s["scheme"] == "bearer" for s in schemes.values())
    explorer = httpx.get(env.http + "/graphql/", headers={"accept": "text/html"})
    assert explorer.status_code == 200 and "<html" in explorer.text.lower()


# -- GraphQL ---------------------------------------------------------------------------

GRAPHQL = {"query": "{ t__t(order_by: [{column: id}]) { rows { id } } }"}


@pytest.mark.parametrize(("key", "message"), REFUSED, ids=REFUSED_IDS)
def test_graphql_refuses_with_401_before_running(env: Env, key: str | None, message: str) -> None:
    env.seen.clear()
    for path in ("/graphql/", "/graphql"):
        response = httpx.post(env.http + path, json=GRAPHQL, headers=env.bearer(key))
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "UNAUTHENTICATED" and message in error["message"]
        assert "data" not in response.json()
    assert env.seen == []


def test_graphql_with_a_token_runs_as_its_principal(env: Env) -> None:
    env.seen.clear()
    response = httpx.post(env.http + "/graphql/", json=GRAPHQL, headers=env.bearer("good"))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["t__t"]["rows"] == [{"id": 1}, {"id": 2}]
    assert [(c.name, c.fingerprint) for c in env.seen] == [("ana", fingerprint(ana()))]


# -- the schema registry ---------------------------------------------------------------


@pytest.mark.parametrize(("key", "message"), REFUSED, ids=REFUSED_IDS)
def test_registry_refuses_with_confluents_40101(env: Env, key: str | None, message: str) -> None:
    response = httpx.get(env.http + "/registry/subjects", headers=env.bearer(key))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["error_code"] == 40101 and message in body["message"]


def test_registry_with_confluents_client_and_a_static_token(env: Env) -> None:
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    url = env.http + "/registry"
    schema = Schema('{"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}', "AVRO")
    conf = {
        "url": url,
        "bearer.auth.credentials.source": "STATIC_TOKEN",
        "bearer.auth.logical.cluster": "daap",
    }
    client = SchemaRegistryClient({**conf, "bearer.auth.token": env.tokens["good"]})
    schema_id = client.register_schema("auth-test-value", schema)
    assert "auth-test-value" in client.get_subjects()
    assert client.get_schema(schema_id).schema_str == schema.schema_str
    refused = SchemaRegistryClient({**conf, "bearer.auth.token": env.tokens["revoked"]})
    with pytest.raises(SchemaRegistryError) as caught:
        refused.get_subjects()
    assert caught.value.http_status_code == 401 and caught.value.error_code == 40101
    assert "was revoked" in caught.value.error_message


# -- Flight SQL ------------------------------------------------------------------------


def adbc(env: Env, key: str | None) -> Any:
    db_kwargs = {} if key is None else {AUTH_OPTION: f"Bearer {env.tokens[key]}"}
    return flightsql.connect(env.flight, db_kwargs=db_kwargs, autocommit=True)


@pytest.mark.parametrize(("key", "message"), REFUSED, ids=REFUSED_IDS)
def test_flight_refuses_adbc_with_unauthenticated(env: Env, key: str | None, message: str) -> None:
    env.seen.clear()
    with pytest.raises(adbc_driver_manager.Error) as caught, adbc(env, key) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM t.t")
    assert caught.value.status_code == adbc_driver_manager.AdbcStatusCode.UNAUTHENTICATED
    assert message in str(caught.value)
    assert env.seen == []


@pytest.mark.parametrize(("key", "message"), REFUSED, ids=REFUSED_IDS)
def test_flight_refuses_every_rpc_of_a_raw_client(env: Env, key: str | None, message: str) -> None:
    headers = [] if key is None else [(b"authorization", f"Bearer {env.tokens[key]}".encode())]
    options = flight.FlightCallOptions(headers=headers)
    client = flight.connect(env.flight)
    with pytest.raises(flight.FlightUnauthenticatedError, match=message):
        list(client.list_actions(options=options))
    # without any credentials a call for data is the anonymous caller's: a ticket it could not
    # have been given is refused as invalid; with bad credentials, as unauthenticated
    refused = pa.ArrowInvalid if key is None else flight.FlightUnauthenticatedError
    with pytest.raises(refused, match="not a Flight SQL command" if key is None else message):
        client.do_get(flight.Ticket(b"anything"), options=options).read_all()
    client.close()


def test_flight_with_a_token_runs_as_its_principal(env: Env) -> None:
    env.seen.clear()
    with adbc(env, "good") as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM t.t")
        assert cursor.fetchall() == [(2,)]
        cursor.execute("SELECT id FROM t.t WHERE id > ? ORDER BY id", [1])  # prepare, bind, fetch
        assert cursor.fetchall() == [(2,)]
    assert env.seen and {c.name for c in env.seen} == {"ana"}
    assert {c.fingerprint for c in env.seen} == {fingerprint(ana())}


# -- PostgreSQL wire -------------------------------------------------------------------


def pg_connect(port: int, user: str, password: str) -> Any:
    import psycopg

    dsn = f"host=127.0.0.1 port={port} dbname=daap user={user} password='{password}'"
    return psycopg.connect(dsn, connect_timeout=10)


def scram_login(port: int, user: str, password: str) -> str | None:
    """Log in over a raw socket with SCRAM-SHA-256, as libpq does (RFC 5802); the SQLSTATE of the
    refusal, or None when the server accepts. libpq keeps a login failure's SQLSTATE to itself."""

    def send(kind: bytes, body: bytes) -> None:
        sock.sendall(kind + struct.pack("!i", len(body) + 4) + body)

    def receive() -> tuple[bytes, bytes]:
        head = sock.recv(5, socket.MSG_WAITALL)
        body = sock.recv(struct.unpack("!i", head[1:])[0] - 4, socket.MSG_WAITALL)
        return head[:1], body

    def sign(key: bytes, data: bytes) -> bytes:
        return hmac.new(key, data, hashlib.sha256).digest()

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        startup = struct.pack("!i", 196608) + f"user\0{user}\0database\0daap\0\0".encode()
        sock.sendall(struct.pack("!i", len(startup) + 4) + startup)
        assert receive()[1][:4] == struct.pack("!i", 10)  # AuthenticationSASL
        bare = f"n=,r={base64.b64encode(secrets.token_bytes(18)).decode()}"
        first = f"n,,{bare}".encode()
        send(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first)
        server_first = receive()[1][4:].decode()  # AuthenticationSASLContinue
        attrs = dict(part.split("=", 1) for part in server_first.split(","))
        salt = base64.b64decode(attrs["s"])
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, int(attrs["i"]))
        client_key = sign(salted, b"Client Key")
        final = f"c=biws,r={attrs['r']}"
        signature = sign(hashlib.sha256(client_key).digest(), f"{bare},{server_first},{final}".encode())
        proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True)))
        send(b"p", f"{final},p={proof.decode()}".encode())
        kind, body = receive()
        if kind == b"E":
            fields = {f[:1]: f[1:].decode() for f in body.split(b"\0") if f}
            return fields[b"C"]
        assert receive()[1][:4] == struct.pack("!i", 0)  # AuthenticationOk after SASLFinal
        return None


@pytest.mark.parametrize(("key", "message"), REFUSED[1:], ids=REFUSED_IDS[1:])
def test_pgwire_refuses_with_sqlstate_28P01(env: Env, key: str, message: str) -> None:
    assert scram_login(env.pg, "ana", env.tokens[key]) == "28P01"
    assert scram_login(env.pg, "ana", env.tokens["good"]) is None  # the same exchange, right token


@pytest.mark.parametrize(("key", "message"), REFUSED[1:], ids=REFUSED_IDS[1:])
def test_pgwire_refuses_like_postgresql(env: Env, key: str, message: str) -> None:
    import psycopg

    env.seen.clear()
    with pytest.raises(psycopg.OperationalError) as caught:
        pg_connect(env.pg, "ana", env.tokens[key])
    # PostgreSQL says no more than this, whatever was wrong (SQLSTATE 28P01)
    assert 'password authentication failed for user "ana"' in str(caught.value)
    assert env.seen == []


def test_pgwire_refuses_a_login_without_a_password_and_a_token_of_another_principal(env: Env) -> None:
    import psycopg

    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        pg_connect(env.pg, "ana", "")
    with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "gov"'):
        pg_connect(env.pg, "gov", env.tokens["good"])
    with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "local"'):
        pg_connect(env.pg, "local", env.tokens["good"])


def test_pgwire_with_a_token_is_the_principal(env: Env) -> None:
    env.seen.clear()
    with pg_connect(env.pg, "ana", env.tokens["good"]) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("ana",)
        assert conn.execute("SELECT count(*) FROM t.t").fetchone() == (2,)
    assert [c.name for c in env.seen] == ["ana"]


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_psql_logs_in_with_a_token_and_is_refused_with_sqlstate_28P01(env: Env) -> None:
    args = ["psql", "-h", "127.0.0.1", "-p", str(env.pg), "-U", "ana", "-d", "daap", "-X", "-tA"]
    args += ["-v", "VERBOSITY=verbose", "-c", "SELECT current_user"]

    def psql(password: str) -> subprocess.CompletedProcess[str]:
        environ = os.environ | {"PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"}
        return subprocess.run(args, env=environ, capture_output=True, text=True, timeout=30)

    done = psql(env.tokens["good"])
    assert done.returncode == 0 and done.stdout.strip() == "ana", done.stderr
    refused = psql(env.tokens["expired"])
    assert refused.returncode == 2 and 'password authentication failed for user "ana"' in refused.stderr


# -- the authenticator and `daap up` ---------------------------------------------------


def test_required_when_the_workspace_has_principals_unless_told(mesh: Mesh) -> None:
    ws = mesh.workspace()
    try:
        open_ = Authenticator.for_workspace(ws)
        assert not open_.required and open_.authenticate(None) == LOCAL
        assert open_.authenticate_header("Bearer hunter2") is LOCAL  # nothing is checked when off
        forced = Authenticator.for_workspace(ws, required=True)
        assert forced.required
        Identities(ws).add(PrincipalSpec("bot", "service"))
        assert Authenticator.for_workspace(ws).required
        assert not Authenticator.for_workspace(ws, required=False).required
    finally:
        ws.close()


def test_the_fingerprint_changes_with_what_policies_read() -> None:
    base = ana()
    assert caller_of(base) == Caller("ana", fingerprint(base))
    assert caller_of(base).principal == base and caller_of(base).fingerprint != LOCAL.fingerprint
    variants = [
        PrincipalSpec("ana", "person", ("analyst", "admin"), "content", ("marketing",), {"region": "EU"}),
        PrincipalSpec("ana", "person", ("analyst",), "content", ("marketing",), {"region": "US"}),
        PrincipalSpec("ana", "person", ("analyst",), "sales", ("marketing",), {"region": "EU"}),
        PrincipalSpec("ana", "person", ("analyst",), "content", (), {"region": "EU"}),
        PrincipalSpec("ana", "service", ("analyst",), "content", ("marketing",), {"region": "EU"}),
        PrincipalSpec("bob", "person", ("analyst",), "content", ("marketing",), {"region": "EU"}),
    ]
    prints = {fingerprint(v) for v in variants}
    assert len(prints) == len(variants) and fingerprint(base) not in prints
    same = PrincipalSpec("ana", "person", ("analyst",), "content", ("marketing",), {"region": "EU"}, "cli")
    assert fingerprint(same) == fingerprint(base)  # where it is declared does not matter


def test_bearer_token_reads_the_scheme_case_insensitively() -> None:
    assert bearer_token("Bearer  daap_x ") == "daap_x" and bearer_token("bearer daap_x") == "daap_x"
    assert bearer_token(None) is None and bearer_token("  ") is None and bearer_token("Bearer ") is None


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@dataclass
class Up:
    process: subprocess.Popen[str]
    http: str
    flight: str
    pg: int

    def stop(self) -> str:
        """SIGTERM, then everything it printed (stdout and stderr)."""
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=30) == 0
        return self.process.stdout.read() if self.process.stdout else ""


def daap_up(root: Path, env: dict[str, str], *options: str) -> Up:
    """``daap up --no-watch`` on free ports, once its HTTP port answers."""
    http, flight_port, pg = free_ports(3)
    command = [sys.executable, "-m", "daap", "-w", str(root), "up", "--no-watch", "--http-port", str(http)]
    command += ["--flight-port", str(flight_port), "--pg-port", str(pg), *options]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{http}/healthz", timeout=1).status_code == 200:
                return Up(process, f"http://127.0.0.1:{http}", f"grpc://127.0.0.1:{flight_port}", pg)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError(f"daap up did not come up:\n{process.stdout.read() if process.stdout else ''}")


@pytest.mark.slow
def test_daap_up_requires_a_token_on_every_port_when_the_mesh_has_principals(
    tmp_path: Path, daap_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAAP_HOME", raising=False)
    mesh = write_mesh(tmp_path, principals=True)
    ws = mesh.workspace()
    try:
        _, token = Identities(ws).create_token("ana")
    finally:
        ws.close()
    up = daap_up(mesh.root, daap_env)
    try:
        assert httpx.get(up.http + "/api/tables").status_code == 401
        assert httpx.post(up.http + "/graphql", json=GRAPHQL).status_code == 401
        assert httpx.get(up.http + "/registry/subjects").status_code == 401
        who = httpx.get(up.http + "/api/whoami", headers={"Authorization": f"Bearer {token}"})
        assert who.json()["name"] == "ana"
        db_kwargs = {AUTH_OPTION: f"Bearer {token}"}
        denied = pytest.raises(adbc_driver_manager.Error, match="no product 't'")
        with (
            denied,  # t's policy grants ana nothing, not even to know t exists: `daap up` enforces it
            flightsql.connect(up.flight, db_kwargs=db_kwargs, autocommit=True) as conn,
            conn.cursor() as cursor,
        ):
            cursor.execute("SELECT count(*) FROM t.t")
        grant = 'permit(principal, action == Daap::Action::"read", resource)'
        grant += ' when { principal.domain == "content" };'
        (mesh.root / "t" / "access.cedar").write_text(grant + "\n")
        with (
            flightsql.connect(up.flight, db_kwargs=db_kwargs, autocommit=True) as conn,
            conn.cursor() as cursor,
        ):
            cursor.execute("SELECT count(*) FROM t.t")  # the edited policy counts at once
            assert cursor.fetchall() == [(2,)]
        with pg_connect(up.pg, "ana", token) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("ana",)
        refused = pytest.raises(adbc_driver_manager.Error, match="no credentials")
        with refused, flightsql.connect(up.flight, autocommit=True) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        printed = up.stop()
    assert "authentication: required (2 principals): every port asks for a token" in printed
    assert "Authorization: Bearer $DAAP_TOKEN" in printed and NO_PRINCIPALS not in printed


@pytest.mark.slow
@pytest.mark.parametrize(
    ("options", "status", "said"),
    [
        ((), 200, f"warning: {NO_PRINCIPALS}"),
        (("--auth",), 401, "warning: --auth with no principals: nobody can connect"),
    ],
    ids=["default-open", "forced"],
)
def test_daap_up_without_principals_serves_open_and_warns_unless_told(
    tmp_path: Path,
    daap_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    options: tuple[str, ...],
    status: int,
    said: str,
) -> None:
    monkeypatch.delenv("DAAP_HOME", raising=False)
    mesh = write_mesh(tmp_path, principals=False)
    up = daap_up(mesh.root, daap_env, *options)
    try:
        assert httpx.get(up.http + "/api/tables").status_code == status
        assert httpx.get(up.http + "/healthz").status_code == 200
    finally:
        printed = up.stop()
    assert said in printed
    mode = "authentication: required" if options else "authentication: off"
    assert mode in printed
