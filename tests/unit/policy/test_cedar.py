"""Product access policies in Cedar: built-ins, product policies, validation, the decision cache.

Real cedarpy throughout. The product is the known-good ``titles`` folder with
a team of two (one of whom has left) and a ``pii`` column beside a ``public`` one.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest

from daap.errors import UsageError
from daap.mesh.policy.cedar import (
    BUILTIN_POLICIES,
    Decision,
    PolicyEngine,
    check_policies,
    policy_ids,
    product_policy_problems,
    schema,
)
from daap.mesh.policy.policies import ACTIONS, classifications, owner_team, statements
from daap.spec.mesh import PrincipalSpec
from daap.spec.model import ProductSpec
from fixtures.spec_folders import RAW_DESCRIPTOR, TITLES_CONTRACT, ProductFolder, line_of

TEAM = """team:
  name: content-team
  members:
    - {username: olga, role: owner}
    - {username: old-timer, dateOut: 2001-01-01}
"""

OLGA = PrincipalSpec("olga", roles=("engineer",))
GOV = PrincipalSpec("gov", roles=("governance",))
ANA = PrincipalSpec(
    "ana", roles=("analyst",), domain="content", purposes=("marketing",), attributes={"region": "EU"}
)
BOB = PrincipalSpec(
    "bob", roles=("analyst",), domain="sales", purposes=("fraud",), attributes={"region": "US"}
)


@pytest.fixture
def folder(tmp_path: Path) -> ProductFolder:
    folder = ProductFolder(tmp_path / "titles")
    folder.write("dataproduct.yaml", RAW_DESCRIPTOR.replace("team:\n  name: content-team\n", TEAM))
    contract = TITLES_CONTRACT.replace(
        "        description: display title\n", "        classification: pii\n"
    )
    folder.write("contracts/titles.odcs.yaml", contract)
    return folder


@pytest.fixture
def product(folder: ProductFolder) -> ProductSpec:
    return folder.load()


@pytest.fixture
def engine() -> PolicyEngine:
    return PolicyEngine()


def allowed(engine: PolicyEngine, who: PrincipalSpec, product: ProductSpec) -> set[str]:
    """The actions (``read_unmasked:<classification>``) ``who`` may do on ``product``."""
    rows = engine.explain(who, product)["decisions"]
    return {
        r["action"] + (f":{r['classification']}" if r["classification"] else "") for r in rows if r["allowed"]
    }


EVERYTHING = {"discover", "read", "read_unmasked:pii", "read_unmasked:public", "write_input", "administer"}


def test_the_owner_team_may_do_everything(engine, product):
    assert owner_team(product).members == ("olga",)  # old-timer left in 2001
    assert allowed(engine, OLGA, product) == EVERYTHING
    assert engine.decide(OLGA, product, "administer") == Decision(True, ("daap.owner",), ())
    assert allowed(engine, PrincipalSpec("old-timer"), product) == set()


def test_a_member_counts_until_its_date_out(folder):
    folder.edit("dataproduct.yaml", "dateOut: 2001-01-01", "dateOut: 2030-06-01")
    product = folder.load()
    before = owner_team(product, today=dt.date(2030, 5, 31))
    assert before.members == ("old-timer", "olga") and before.changes_on == dt.date(2030, 6, 1)
    after = owner_team(product, today=dt.date(2030, 6, 1))
    assert after.members == ("olga",) and after.changes_on is None


def test_an_owner_of_the_products_domain_is_in_the_owner_team(engine, product):
    assert allowed(engine, PrincipalSpec("dora", roles=("owner",), domain="content"), product) == EVERYTHING
    assert allowed(engine, PrincipalSpec("sam", roles=("owner",), domain="sales"), product) == set()
    assert allowed(engine, PrincipalSpec("nobody", roles=("owner",)), product) == set()


def test_governance_may_discover_and_read_everything_unmasked(engine, product):
    assert allowed(engine, GOV, product) == EVERYTHING - {"write_input", "administer"}
    assert engine.decide(GOV, product, "read_unmasked", "pii").reasons == ("daap.governance",)


def test_without_a_policy_a_plain_principal_is_denied(engine, product):
    assert allowed(engine, ANA, product) == set()
    assert engine.decide(ANA, product, "read") == Decision(False, (), ())


def test_a_policy_permits_by_attribute_role_and_purpose(engine, folder, product):
    folder.write(
        "access.cedar",
        """\
@id("eu-read")
permit (principal, action == Daap::Action::"read", resource)
when { principal.attributes.region == "EU" };

permit (principal, action == Daap::Action::"discover", resource)
when { principal.roles.contains("analyst") };

permit (principal, action == Daap::Action::"write_input", resource)
when { principal.purposes.contains("fraud") && principal.domain == "sales" };
""",
    )
    assert allowed(engine, ANA, product) == {"discover", "read"}
    assert allowed(engine, BOB, product) == {"discover", "write_input"}
    assert engine.decide(ANA, product, "read").reasons == ("titles/access.cedar#eu-read",)
    assert engine.decide(BOB, product, "write_input").reasons == ("titles/access.cedar#3",)


def test_forbid_beats_every_permit_the_owners_too(engine, folder, product):
    folder.write(
        "access.cedar",
        """\
permit (principal, action == Daap::Action::"read", resource);
forbid (principal, action, resource) when { principal.purposes.contains("fraud") };
forbid (principal, action == Daap::Action::"administer", resource) when { principal.name == "olga" };
""",
    )
    assert engine.decide(ANA, product, "read") == Decision(True, ("titles/access.cedar#1",), ())
    assert engine.decide(BOB, product, "read") == Decision(False, ("titles/access.cedar#2",), ())
    assert allowed(engine, OLGA, product) == EVERYTHING - {"administer"}


def test_a_forbid_that_cannot_be_evaluated_denies(engine, folder, product):
    folder.write(
        "access.cedar",
        """\
permit (principal, action == Daap::Action::"read", resource);
forbid (principal, action, resource) when { principal.attributes.clearance == "none" };
""",
    )
    denied = engine.decide(ANA, product, "read")  # ana has no clearance attribute
    assert not denied.allowed and denied.reasons == ("titles/access.cedar#2",)
    assert "clearance" in denied.errors[0]
    cleared = replace(ANA, attributes={"region": "EU", "clearance": "high"})
    assert engine.decide(cleared, product, "read").allowed


def test_read_unmasked_is_decided_per_classification(engine, folder, product):
    assert classifications(product) == ("pii", "public")
    folder.write(
        "access.cedar",
        """\
permit (principal, action == Daap::Action::"read_unmasked", resource)
when { context.classification == "public" || principal.purposes.contains("fraud") };
""",
    )
    assert engine.decide(ANA, product, "read_unmasked", "public").allowed
    assert not engine.decide(ANA, product, "read_unmasked", "pii").allowed
    assert engine.decide(BOB, product, "read_unmasked", "pii").allowed
    with pytest.raises(UsageError, match="per classification"):
        engine.decide(ANA, product, "read_unmasked")
    with pytest.raises(UsageError, match="unknown action 'delete'"):
        engine.decide(ANA, product, "delete")


def test_a_second_decision_comes_from_the_cache(engine, product):
    first = engine.decide(GOV, product, "read")
    assert engine.cache_info().misses == 1 and engine.cache_info().hits == 0
    assert engine.decide(GOV, product, "read") == first
    assert engine.cache_info().hits == 1 and engine.cache_info().misses == 1
    engine.decide(GOV, product, "read_unmasked", "pii")
    engine.decide(GOV, product, "read_unmasked", "public")
    assert engine.cache_info().misses == 3  # each classification is its own decision


def test_editing_the_policy_file_invalidates_the_cache(engine, folder, product):
    folder.write(
        "access.cedar", 'permit (principal, action, resource) when { principal.attributes.region == "EU" };'
    )
    assert engine.decide(ANA, product, "read").allowed
    version = engine.policy_version(product)
    # same size, written at once: the file's timestamp alone could not tell the edit apart
    folder.write(
        "access.cedar", 'permit (principal, action, resource) when { principal.attributes.region == "US" };'
    )
    assert not engine.decide(ANA, product, "read").allowed
    assert engine.policy_version(product) != version
    assert engine.cache_info().misses == 2 and engine.cache_info().hits == 0
    (folder.path / "access.cedar").unlink()
    assert not engine.decide(BOB, product, "read").allowed


def test_the_cache_follows_old_files_by_their_timestamps(engine, folder, product):
    path = folder.write(
        "access.cedar", 'permit (principal, action, resource) when { principal.domain == "content" };'
    )
    _age(path)
    assert engine.decide(ANA, product, "read").allowed
    assert engine.decide(ANA, product, "read").allowed
    assert engine.cache_info().hits == 1
    folder.write("access.cedar", "forbid (principal, action, resource);")
    assert engine.decide(ANA, product, "read") == Decision(False, ("titles/access.cedar#1",), ())


def test_changing_the_principal_invalidates_its_cached_decision(engine, product):
    assert not engine.decide(ANA, product, "read").allowed
    promoted = replace(ANA, roles=("analyst", "governance"))
    assert engine.decide(promoted, product, "read").allowed
    assert engine.cache_info().misses == 2
    moved = replace(ANA, attributes={"region": "US"})
    engine.decide(moved, product, "read")
    assert engine.cache_info().misses == 3 and engine.cache_info().hits == 0


def test_editing_the_team_in_the_descriptor_is_seen(engine, folder, product):
    assert not engine.decide(ANA, product, "administer").allowed
    folder.edit("dataproduct.yaml", "    - {username: olga, role: owner}\n", "    - {username: ana}\n")
    assert engine.decide(ANA, product, "administer").reasons == ("daap.owner",)
    assert not engine.decide(OLGA, product, "administer").allowed


def test_bad_policy_text_is_reported_with_its_line(folder):
    text = """\
permit (principal, action == Daap::Action::"read", resource);

// a comment; with a semicolon
permit (principal, action, resource)
when { principal.name == "a;b" && };
"""
    [problem] = check_policies(text, "titles/access.cedar")
    assert problem.startswith(
        f"titles/access.cedar:{line_of(text, 'permit (principal, action, resource)')}:1: "
    )
    assert "policy #2 does not parse: unexpected token" in problem


def test_unknown_actions_attributes_and_templates_are_reported(folder):
    text = """\
permit (principal, action == Daap::Action::"read", resource);
forbid (principal,
        action in [Daap::Action::"read", Daap::Action::"reed"],
        resource);
permit (principal, action, resource) when { principal.role == "owner" };
permit (principal == ?principal, action, resource);
permit (principal, action == Daap::Action::"read", resource) when { context.classification == "pii" };
"""
    problems = check_policies(text, "access.cedar")
    assert len(problems) == 4, problems
    reed, role, template, context = problems
    assert reed.startswith(f"access.cedar:{line_of(text, 'reed')}:")
    assert 'unrecognized action `Daap::Action::"reed"`' in reed and "the actions are discover, read" in reed
    assert role.startswith(f"access.cedar:{line_of(text, '.role')}:") and "attribute `role`" in role
    assert template.startswith(f"access.cedar:{line_of(text, '?principal')}:1:") and "templates" in template
    assert context.startswith(f"access.cedar:{line_of(text, 'context.')}:") and "classification" in context


def test_a_product_with_a_bad_policy_file_denies_everything(engine, folder, product):
    folder.write("access.cedar", 'permit (principal, action == Daap::Action::"raed", resource);\n')
    [problem] = product_policy_problems(folder.path, "titles/access.cedar")
    assert (problem.path, problem.line) == ("titles/access.cedar", 1)
    decision = engine.decide(OLGA, product, "read")
    assert not decision.allowed and decision.reasons == () and "raed" in decision.errors[0]
    assert engine.explain(OLGA, product)["problems"] == list(decision.errors)


def test_valid_policies_have_no_problems(folder):
    assert product_policy_problems(folder.path) == []  # no file
    folder.write("access.cedar", "// nothing yet\n")
    assert product_policy_problems(folder.path) == []
    text = 'permit (principal, action, resource) when { principal.attributes["cost-centre"] == "4711" };'
    assert check_policies(text, "access.cedar") == []


def test_the_built_in_policies_validate_against_the_schema():
    import cedarpy  # the test checks daap's schema with cedarpy itself

    result = cedarpy.validate_policies(BUILTIN_POLICIES, schema())
    assert result.validation_passed, result.errors
    assert set(schema()["Daap"]["actions"]) == set(ACTIONS)


def test_policy_ids_use_unique_id_annotations():
    import cedarpy

    est = cedarpy.policies_to_json_str(
        '@id("a") permit(principal, action, resource);\n@id("b c") permit(principal, action, resource);\n'
        '@id("d") permit(principal, action, resource);\n@id("d") permit(principal, action, resource);\n'
        '@id("7") permit(principal, action, resource);'
    )
    names = policy_ids(json.loads(est), "p")
    assert [n.removeprefix("p/access.cedar#") for n in names.values()] == ["a", "2", "3", "4", "5"]


def test_explain_lists_every_action_and_classification(engine, folder, product):
    folder.write(
        "access.cedar",
        """\
@id("eu-read")
permit (principal, action in [Daap::Action::"discover", Daap::Action::"read"], resource)
when { principal.attributes.region == "EU" };
""",
    )
    report = engine.explain(ANA, product)
    assert report["principal"] == "ana" and report["product"] == "titles"
    assert report["policy_file"] == str(folder.path.resolve() / "access.cedar")
    assert report["owner_team"] == {"name": "content-team", "members": ["olga"]}
    assert report["classifications"] == ["pii", "public"] and report["problems"] == []
    assert report["policy_version"] == engine.policy_version(product)
    rows = [(r["action"], r["classification"], r["allowed"], r["policies"]) for r in report["decisions"]]
    assert rows == [
        ("discover", None, True, ["titles/access.cedar#eu-read"]),
        ("read", None, True, ["titles/access.cedar#eu-read"]),
        ("read_unmasked", "pii", False, []),
        ("read_unmasked", "public", False, []),
        ("write_input", None, False, []),
        ("administer", None, False, []),
    ]


def test_statements_split_on_semicolons_outside_strings_and_comments():
    text = '// a; b\n@id("x;y")\npermit(principal, action, resource)\n  when { "\\";" == "" };\n\n  forbid(a)'
    parts = statements(text)
    assert [(s.line, s.col) for s in parts] == [(2, 1), (6, 3)]
    assert parts[0].text.endswith('== "" };')
    assert parts[1].text == "forbid(a)"


def _age(path: Path) -> None:
    """Make ``path`` look written a minute ago, past the window in which a timestamp is not trusted."""
    import os
    import time

    past = time.time() - 60
    os.utime(path, (past, past))
