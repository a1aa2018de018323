"""Principals (mesh.yaml and the CLI) and bearer tokens: created once, stored hashed, checked."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from daap.errors import AuthenticationError, SpecError, UsageError
from daap.mesh.policy.identity import Identities, digest, lifetime
from daap.spec.mesh import PrincipalSpec

MESH = """principals:
  - {name: ana, kind: person, roles: [analyst], domain: content, purposes: [marketing],
     attributes: {region: EU}}
  - {name: gov, roles: [governance]}
"""


@pytest.fixture
def ids(mesh):
    (mesh.root / "mesh.yaml").write_text(MESH)
    ws = mesh.workspace()
    yield Identities(ws)
    ws.close()


def test_mesh_yaml_principals_and_added_ones_are_listed_together(ids):
    ids.add(PrincipalSpec("etl-bot", "service", ("writer",), attributes={"region": "US"}))
    found = {p.name: p for p in ids.principals()}
    assert list(found) == ["ana", "etl-bot", "gov"]
    assert found["ana"].attributes == {"region": "EU"} and found["ana"].source == "mesh.yaml"
    assert found["etl-bot"].kind == "service" and found["etl-bot"].source == "cli"
    with pytest.raises(UsageError, match=r"declared in mesh\.yaml"):
        ids.add(PrincipalSpec("ana"))
    with pytest.raises(UsageError, match="exists already"):
        ids.add(PrincipalSpec("etl-bot"))
    with pytest.raises(UsageError, match="is not valid"):
        ids.add(PrincipalSpec("Bad Name"))
    with pytest.raises(UsageError, match=r"declared in mesh\.yaml"):
        ids.remove("gov")


def test_a_token_authenticates_its_principal_and_only_its_hash_is_stored(ids):
    record, token = ids.create_token("ana", timedelta(hours=1), "psql")
    assert token.startswith(f"daap_{record.token_id}_") and len(token) == 5 + 12 + 1 + 43
    stored = ids.ws.metadata.get_token(record.token_id)
    assert stored is not None and stored.secret_hash == digest(token) and token not in repr(stored)
    assert ids.authenticate(token).name == "ana"
    assert ids.authenticate(f"  {token}\n").name == "ana"  # pasted with whitespace


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (None, "no credentials"),
        ("", "no credentials"),
        ("hunter2", "malformed token"),
        ("daap_000000000000_" + "A" * 43, "unknown or wrong token"),
    ],
)
def test_missing_malformed_and_unknown_tokens_are_refused(ids, given, message):
    with pytest.raises(AuthenticationError, match=message):
        ids.authenticate(given)


def test_a_wrong_secret_reads_like_an_unknown_token(ids):
    _, token = ids.create_token("ana")
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(AuthenticationError) as caught:
        ids.authenticate(forged)
    assert caught.value.message == "unknown or wrong token"  # no hint that the id exists


def test_expired_revoked_and_orphaned_tokens_are_refused(ids):
    _, short = ids.create_token("ana", timedelta(minutes=5))
    later = datetime.now(UTC) + timedelta(minutes=6)
    with pytest.raises(AuthenticationError, match="expired at") as caught:
        ids.authenticate(short, now=later)
    assert "daap token create ana" in (caught.value.hint or "")
    _, forever = ids.create_token("gov", None)
    assert ids.authenticate(forever, now=later + timedelta(days=3650)).name == "gov"
    record, revoked = ids.create_token("gov")
    ids.revoke(record.token_id)
    with pytest.raises(AuthenticationError, match=f"token {record.token_id} was revoked"):
        ids.authenticate(revoked)
    ids.add(PrincipalSpec("temp"))
    _, orphan = ids.create_token("temp")
    assert ids.remove("temp") == 1  # its live token revoked with it
    with pytest.raises(AuthenticationError, match="revoked"):
        ids.authenticate(orphan)


def test_lifetimes():
    assert lifetime("30d") == timedelta(days=30) and lifetime("12h") == timedelta(hours=12)
    assert lifetime("never") is None and lifetime("2w") == timedelta(weeks=2)
    for bad in ("0d", "tomorrow", "5y", ""):
        with pytest.raises(UsageError, match="is not a duration"):
            lifetime(bad)


@pytest.mark.parametrize(
    ("yaml", "message", "where"),
    [
        ("principals:\n  - {name: Ana}\n", "principal name 'Ana' must be lowercase", (2, 12)),
        ("principals:\n  - {name: ana}\n  - {name: ana}\n", "principal 'ana' is declared twice", (3, 12)),
        ("principals:\n  - {name: ana, kind: robot}\n", "kind", (2, 23)),
        ("principals:\n  - {name: ana, roles: analyst}\n", "roles", (2, 24)),
    ],
)
def test_bad_principals_in_mesh_yaml_are_positioned(mesh, yaml, message, where):
    (mesh.root / "mesh.yaml").write_text(yaml)
    with pytest.raises(SpecError) as caught:
        mesh.workspace()
    [problem] = [d for d in caught.value.diagnostics if message in d.message]
    assert (problem.line, problem.col) == where


def test_the_cli_creates_shows_once_lists_and_revokes(mesh, daap_env):
    (mesh.root / "mesh.yaml").write_text(MESH)

    def daap(*args):
        cmd = [sys.executable, "-m", "daap", "-w", str(mesh.root), *args]
        return subprocess.run(cmd, env=daap_env, capture_output=True, text=True, timeout=60)

    added = daap("principal", "add", "etl-bot", "--kind", "service", "--attr", "region=US")
    assert added.returncode == 0, added.stderr
    created = json.loads(daap("token", "create", "etl-bot", "--expires", "1h", "--json").stdout)
    listed = json.loads(daap("token", "list", "--json").stdout)
    assert [(t["id"], t["principal"], t["state"]) for t in listed] == [(created["id"], "etl-bot", "live")]
    assert created["token"] not in json.dumps(listed)  # never shown again
    assert daap("token", "revoke", created["id"]).returncode == 0
    assert json.loads(daap("token", "list", "--json").stdout)[0]["state"] == "revoked"
    refused = daap("principal", "add", "x", "--attr", "region")
    assert refused.returncode == 2 and "is not KEY=VALUE" in refused.stderr
    names = [p["name"] for p in json.loads(daap("principal", "list", "--json").stdout)]
    assert names == ["ana", "etl-bot", "gov"]


def test_a_token_is_the_postgresql_password_of_its_principal(mesh, daap_env):
    """psql and psycopg log in with user = principal, password = token (SCRAM-SHA-256)."""
    import os
    import shutil

    import psycopg

    from daap.mesh.policy.identity import scram_verifiers
    from daap.query.service import QueryService
    from daap.servers.pgwire import PgWireServer, ScramMany, Verifier

    (mesh.root / "mesh.yaml").write_text(MESH)
    mesh.product(
        "t", [("id", "integer")], pk=["id"], inputs={"s": {"path": "d.csv"}}, files={"d.csv": "id\n1\n2\n"}
    )
    mesh.build_ok()
    ws = mesh.workspace()
    ids = Identities(ws)
    _, token = ids.create_token("ana")
    _, second = ids.create_token("ana")
    gone, revoked = ids.create_token("ana")
    ids.revoke(gone.token_id)

    def verifiers(user):
        return [Verifier(*v) for v in scram_verifiers(ids, user)]

    from daap.mesh.policy.authn import Authenticator

    seen = []

    def recording(tree, refs, caller):  # the policy hook sees who asks
        seen.append((caller.name, caller.fingerprint))
        return tree

    callers = Authenticator(ids, required=True).principal_caller
    service = QueryService(ws, rewrite=recording)
    server = PgWireServer(service, auth=ScramMany(verifiers), callers=callers).serve_in_thread()
    try:

        def connect(user, password):
            dsn = f"host=127.0.0.1 port={server.port} dbname=daap user={user} password={password}"
            return psycopg.connect(dsn, connect_timeout=10)

        for good in (token, second):
            with connect("ana", good) as conn:
                assert conn.execute("SELECT count(*) FROM t.t").fetchone() == (2,)
        assert {name for name, _ in seen} == {"ana"}
        assert all(fingerprint != "unrestricted" for _, fingerprint in seen)  # its own cache entries
        for user, password in (("ana", revoked), ("gov", token), ("nobody", token), ("ana", "hunter2")):
            with pytest.raises(
                psycopg.OperationalError, match=f'password authentication failed for user "{user}"'
            ):
                connect(user, password)
        if shutil.which("psql"):
            args = ["psql", "-h", "127.0.0.1", "-p", str(server.port), "-U", "ana", "-d", "daap", "-X", "-tA"]
            env = os.environ | {"PGPASSWORD": token}
            done = subprocess.run(
                [*args, "-c", "SELECT max(id) FROM t.t"], env=env, capture_output=True, text=True, timeout=30
            )
            assert done.returncode == 0 and done.stdout.strip() == "2", done.stderr
    finally:
        server.stop()
        ws.close()
