"""Product access policies in a mesh workspace: principals from mesh.yaml, ``access.cedar`` in a product."""

from __future__ import annotations

import json

import pytest

from daap.mesh.policy.cedar import PolicyEngine, product_policy_problems
from daap.mesh.policy.identity import Identities
from daap.spec.mesh import PrincipalSpec, find_products
from daap.spec.product import load_product

MESH = """principals:
  - {name: ana, roles: [analyst], domain: content, purposes: [marketing], attributes: {region: EU}}
  - {name: ben, roles: [analyst], domain: content, purposes: [marketing], attributes: {region: US}}
  - {name: fred, roles: [analyst], domain: risk, purposes: [fraud], attributes: {region: EU}}
  - {name: gov, roles: [governance]}
  - {name: olga, roles: [engineer], domain: content}
"""

POLICY = """\
// analysts in the EU read customers; emails stay masked unless the purpose is fraud
@id("eu-analysts")
permit (principal, action in [Daap::Action::"discover", Daap::Action::"read"], resource)
when { principal.roles.contains("analyst") && principal.attributes.region == "EU" };

@id("fraud-sees-emails")
permit (principal, action == Daap::Action::"read_unmasked", resource)
when { context.classification == "pii" && principal.purposes.contains("fraud") };

@id("no-fraud-writes")
forbid (principal, action == Daap::Action::"write_input", resource)
when { principal.purposes.contains("fraud") };
"""


@pytest.fixture
def customers(mesh):
    (mesh.root / "mesh.yaml").write_text(MESH)
    folder = mesh.product(
        "customers",
        [("id", "integer"), ("email", "string", {"classification": "pii"}), ("region", "string")],
        inputs={"raw": {"path": "customers.csv"}},
        pk=["id"],
        files={"customers.csv": "id,email,region\n1,a@x.org,EU\n", "access.cedar": POLICY},
    )
    descriptor = json.loads((folder / "dataproduct.yaml").read_text())
    descriptor["team"] = {"name": "crm", "members": [{"username": "olga", "role": "owner"}]}
    (folder / "dataproduct.yaml").write_text(json.dumps(descriptor))
    return folder


@pytest.fixture
def principals(mesh, customers):
    ws = mesh.workspace()
    ids = Identities(ws)
    ids.add(PrincipalSpec("cli-bot", "service", ("analyst",), attributes={"region": "EU"}))
    yield {p.name: p for p in ids.principals()}
    ws.close()


def test_a_products_policy_decides_for_the_meshs_principals(customers, principals):
    product = load_product(customers)
    engine = PolicyEngine()

    def can(name: str, action: str, classification: str | None = None) -> bool:
        return engine.decide(principals[name], product, action, classification).allowed

    assert [n for n in principals if can(n, "read")] == ["ana", "cli-bot", "fred", "gov", "olga"]
    assert [n for n in principals if can(n, "read_unmasked", "pii")] == ["fred", "gov", "olga"]
    assert [n for n in principals if can(n, "write_input")] == ["olga"]
    assert engine.decide(principals["fred"], product, "read").reasons == (
        "customers/access.cedar#eu-analysts",
    )
    assert engine.decide(principals["olga"], product, "administer").reasons == ("daap.owner",)
    report = engine.explain(principals["fred"], product)
    assert report["classifications"] == ["pii"]
    allowed = {r["action"] for r in report["decisions"] if r["allowed"]}
    assert allowed == {"discover", "read", "read_unmasked"}


def test_every_products_policy_file_is_checked(mesh, customers):
    text = POLICY.replace('Action::"write_input"', 'Action::"write"')
    (customers / "access.cedar").write_text(text)
    problems = [p for folder in find_products(mesh.root) for p in product_policy_problems(folder)]
    line = text[: text.index('"write"')].count("\n") + 1
    assert [(p.path, p.line) for p in problems] == [(str(customers / "access.cedar"), line)]
    assert "unrecognized action" in problems[0].message
    load_product(customers)  # the descriptor and contracts are unaffected by the policy file


def test_validate_and_access_explain_on_the_command_line(mesh, daap_env):
    import json as _json
    import subprocess
    import sys

    (mesh.root / "mesh.yaml").write_text(
        "principals:\n"
        "  - {name: ana, roles: [analyst], attributes: {region: EU}}\n"
        "  - {name: bob, roles: [analyst]}\n"
    )
    folder = mesh.product("sales", [("id", "integer")], pk=["id"], inputs={"s": {"path": "d.csv"}},
                          files={"d.csv": "id\n1\n"})  # fmt: skip
    (folder / "access.cedar").write_text(
        '@id("eu-read")\npermit(principal, action == Daap::Action::"read", resource)\n'
        'when { principal.attributes has region && principal.attributes.region == "EU" };\n'
    )

    def daap(*args):
        cmd = [sys.executable, "-m", "daap", "-w", str(mesh.root), *args]
        return subprocess.run(cmd, env=daap_env, capture_output=True, text=True, timeout=60)

    assert daap("validate").returncode == 0
    ana = _json.loads(daap("access", "explain", "sales", "--as", "ana", "--json").stdout)
    bob = _json.loads(daap("access", "explain", "sales", "--as", "bob", "--json").stdout)
    read = {d["action"]: d for d in ana["decisions"]}["read"]
    assert read["allowed"] and read["policies"] == ["sales/access.cedar#eu-read"]
    assert not {d["action"]: d for d in bob["decisions"]}["read"]["allowed"]
    unknown = daap("access", "explain", "sales", "--as", "carol")
    assert unknown.returncode == 2 and "no principal 'carol'" in unknown.stderr
    (folder / "access.cedar").write_text('permit(principal, action == Daap::Action::"reed", resource);\n')
    refused = daap("validate")
    assert refused.returncode == 3 and "access.cedar:1:" in refused.stdout and "reed" in refused.stdout
    (folder / "access.cedar").unlink()
    (folder / "access.yaml").write_text(
        "rowFilters:\n  - {name: mine, where: owner = principal.name}\ncolumns: {sales.id: last4}\n"
    )
    refused = daap("validate")
    assert refused.returncode == 3
    assert "access.yaml:2:25: row filter 'mine': unknown column 'owner'" in refused.stdout
    assert "access.yaml:3:11: columns: sales.id: mask 'last4' keeps text only" in refused.stdout
    shown = _json.loads(daap("access", "explain", "sales", "--as", "ana", "--json").stdout)
    assert shown["access_file"].endswith("sales/access.yaml") and shown["ports"][0]["port"] == "sales"
