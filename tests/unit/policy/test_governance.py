"""The global governance rules on product folders: each rule passing and failing, personal data
found by names and by values, severities from mesh.yaml (and bad entries, positioned)."""

from __future__ import annotations

from pathlib import Path

import pytest

from daap.errors import GovernanceRefused, SpecError
from daap.mesh.policy import governance
from daap.runtime import engine
from daap.spec.mesh import GOVERNANCE_RULES, GovernanceConfig, load_mesh_config
from daap.spec.model import ColumnSpec
from fixtures.spec_folders import ProductFolder

DESCRIPTOR = """\
apiVersion: v1.1.0
kind: DataProduct
id: customers-1
name: customers
status: active
team:
  name: crm
  members:
    - {username: joe, role: owner}
inputPorts:
  - name: export
    customProperties:
      - property: source
        value: {path: data/customers.csv}
outputPorts:
  - name: customers
    description: one row per customer
customProperties:
  - property: productType
    value: raw
  - property: businessObjective
    value: Know who our customers are.
  - property: consumerPersonas
    value:
      - {name: analyst, skills: [sql]}
"""

CONTRACT = """\
apiVersion: v3.2.0
kind: DataContract
id: customers-customers
version: 1.0.0
status: active
schema:
  - name: customers
    properties:
      - name: customer_id
        logicalType: string
        primaryKey: true
        description: the customer's id
      - name: email
        logicalType: string
        classification: pii
        description: where we write to
      - name: country
        logicalType: string
        description: ISO 3166 code
    quality:
      - {metric: rowCount, mustBeGreaterThan: 0}
slaProperties:
  - {property: latency, value: 1, unit: d}
  - {property: frequency, value: 1, unit: d}
"""

PORT_CONTRACT = "contracts/customers.odcs.yaml"


@pytest.fixture
def folder(tmp_path: Path) -> ProductFolder:
    """A product that passes every rule."""
    product = ProductFolder(tmp_path / "customers")
    product.write("dataproduct.yaml", DESCRIPTOR)
    product.write(PORT_CONTRACT, CONTRACT)
    return product


def report(
    folder: ProductFolder,
    config: GovernanceConfig | None = None,
    *,
    values: governance.Samples | None = None,
    levels: dict[str, str] | None = None,
    mesh_masks: dict[str, str] | None = None,
) -> governance.GovernanceReport:
    subject = governance.local_subject(folder.load(), mesh_masks=mesh_masks, levels=levels, values=values)
    return governance.check(subject, config)


def failed(result: governance.GovernanceReport) -> list[str]:
    return sorted({f.rule for f in result.findings})


def column(name: str, logical_type: str = "string", classification: str | None = None) -> ColumnSpec:
    return ColumnSpec(name, logical_type, "VARCHAR", classification=classification)


# -- the rule table -----------------------------------------------------------------


def test_the_rules_are_the_ids_mesh_yaml_accepts_with_owner_team_an_error_by_default():
    assert tuple(r.id for r in governance.RULES) == GOVERNANCE_RULES
    assert {r.id: r.severity for r in governance.RULES if r.severity == "error"} == {"owner-team": "error"}
    assert {r.severity for r in governance.RULES} == {"error", "warning"}


def test_a_compliant_product_passes_every_rule(folder):
    result = report(folder)
    assert result.findings == []
    assert all(r.passed for r in result.results)
    body = result.as_json()
    assert (body["errors"], body["warnings"], body["passed"], body["failed"]) == (0, 0, 10, 0)


# -- each rule failing ----------------------------------------------------------------

BREAKS = [
    # (rule, file, old, new, fragment of the message, fragment of the fix)
    (
        "owner-team",
        "dataproduct.yaml",
        "team:\n  name: crm\n  members:\n    - {username: joe, role: owner}\n",
        "",
        "product customers has no owner team",
        "add `team: {name: ..., members: [{username: ..., role: owner}]}` to customers/dataproduct.yaml",
    ),
    (
        "owner-team",
        "dataproduct.yaml",
        "  members:\n    - {username: joe, role: owner}\n",
        "",
        "team crm of product customers has no current member",
        "add `members: [{username: ..., role: owner}]` under `team:` in customers/dataproduct.yaml",
    ),
    (
        "owner-team",
        "dataproduct.yaml",
        "{username: joe, role: owner}",
        "{username: joe, role: owner, dateOut: '2020-01-31'}",
        "has no current member",
        "under `team:`",
    ),
    (
        "business-objective",
        "dataproduct.yaml",
        "  - property: businessObjective\n    value: Know who our customers are.\n",
        "",
        "states no business objective",
        "{property: businessObjective",
    ),
    (
        "consumer-personas",
        "dataproduct.yaml",
        "  - property: consumerPersonas\n    value:\n      - {name: analyst, skills: [sql]}\n",
        "",
        "names no consumer personas",
        "{property: consumerPersonas",
    ),
    (
        "contract-primary-key",
        PORT_CONTRACT,
        "        primaryKey: true\n",
        "",
        "output port customers has no primary key",
        "`primaryKey: true` (with `primaryKeyPosition` for a composite key) in customers/contracts",
    ),
    (
        "descriptions",
        "dataproduct.yaml",
        "    description: one row per customer\n",
        "",
        "output port customers has no description",
        "add `description:` to output port customers in customers/dataproduct.yaml",
    ),
    (
        "descriptions",
        PORT_CONTRACT,
        "        description: ISO 3166 code\n",
        "",
        "column(s) of customers without a description: country",
        "add `description:` to each of them in customers/contracts/customers.odcs.yaml",
    ),
    (
        "quality-rule",
        PORT_CONTRACT,
        "    quality:\n      - {metric: rowCount, mustBeGreaterThan: 0}\n",
        "",
        "output port customers has no quality rule",
        "add a `quality:` list",
    ),
    (
        "freshness-sla",
        PORT_CONTRACT,
        "  - {property: latency, value: 1, unit: d}\n",
        "",
        "output port customers has no freshness SLA",
        "add `slaProperties: [{property: latency, value: 1, unit: d}]` to customers/contracts",
    ),
    (
        "personal-data-classified",
        PORT_CONTRACT,
        "        classification: pii\n",
        "",
        "column customers.email looks like personal data (its name says an email address) "
        "but has no classification",
        "add `classification: pii` (or restricted) to property email in customers/contracts",
    ),
    (
        "personal-data-classified",
        PORT_CONTRACT,
        "classification: pii",
        "classification: public",
        "but is classified 'public', which is not masked by default",
        "set `classification: pii`",
    ),
    (
        "compatibility-backward",
        PORT_CONTRACT,
        "slaProperties:",
        "customProperties:\n  - {property: compatibility, value: NONE}\nslaProperties:",
        "output port customers's schema compatibility is NONE (set in its contract)",
        "set the custom property `{property: compatibility, value: BACKWARD}` (or FULL)",
    ),
    (
        "compatibility-backward",
        PORT_CONTRACT,
        "slaProperties:",
        "customProperties:\n  - {property: compatibility, value: FORWARD_TRANSITIVE}\nslaProperties:",
        "compatibility is FORWARD_TRANSITIVE",
        "customers/contracts/customers.odcs.yaml",
    ),
]


@pytest.mark.parametrize(
    ("rule", "file", "old", "new", "message", "fix"),
    BREAKS,
    ids=[f"{b[0]}-{i}" for i, b in enumerate(BREAKS)],
)
def test_each_rule_fails_naming_the_product_what_is_wrong_and_the_fix(
    folder, rule, file, old, new, message, fix
):
    folder.edit(file, old, new)
    result = report(folder)
    assert failed(result) == [rule]
    [finding] = result.findings
    assert finding.product == "customers"
    assert message in finding.message
    assert fix in finding.fix
    assert finding.describe() == f"{rule}: {finding.message}: {finding.fix}"
    assert finding.severity == ("error" if rule == "owner-team" else "warning")


def test_port_findings_name_the_port_and_column_findings_the_column(folder):
    folder.edit(PORT_CONTRACT, "        classification: pii\n", "")
    folder.edit(PORT_CONTRACT, "        primaryKey: true\n", "")
    by_rule = {f.rule: f for f in report(folder).findings}
    assert (by_rule["contract-primary-key"].port, by_rule["contract-primary-key"].column) == (
        "customers",
        None,
    )
    assert (by_rule["personal-data-classified"].port, by_rule["personal-data-classified"].column) == (
        "customers",
        "email",
    )


@pytest.mark.parametrize("level", ["BACKWARD", "BACKWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"])
def test_backward_and_full_levels_pass(folder, level):
    folder.edit(
        PORT_CONTRACT,
        "slaProperties:",
        f"customProperties:\n  - {{property: compatibility, value: {level}}}\nslaProperties:",
    )
    assert report(folder).findings == []


def test_without_a_level_in_the_contract_the_registrys_level_counts(folder):
    assert report(folder, levels={"customers": "FULL"}).findings == []
    [finding] = report(folder, levels={"customers": "FORWARD"}).findings
    assert finding.rule == "compatibility-backward"
    assert "the registry's level for daap.customers.customers-value" in finding.message


# -- masks ------------------------------------------------------------------------------


def test_a_classified_column_is_masked_by_default(folder):
    assert report(folder).findings == []


def test_a_mask_of_none_for_the_classification_in_access_yaml_fails(folder):
    folder.write("access.yaml", "masks:\n  pii: none\n")
    [finding] = report(folder).findings
    assert finding.rule == "classified-masked"
    assert (finding.port, finding.column) == ("customers", "email")
    assert "classified 'pii' but its mask is none" in finding.message
    assert "give classification 'pii' under `masks:` in customers/access.yaml a mask" in finding.fix


def test_a_columns_own_mask_of_none_fails_and_its_own_mask_wins(folder):
    folder.write("access.yaml", "columns:\n  customers.email: none\n")
    [finding] = report(folder).findings
    assert "give `customers.email` under `columns:` in customers/access.yaml a mask" in finding.fix
    folder.write("access.yaml", "masks:\n  pii: none\ncolumns:\n  customers.email: hash\n")
    assert report(folder).findings == []


def test_mesh_yaml_masks_count_after_the_products_own(folder):
    [finding] = report(folder, mesh_masks={"pii": "none"}).findings
    assert "under `masks:` in mesh.yaml" in finding.fix
    folder.write("access.yaml", "masks:\n  pii: redact\n")
    assert report(folder, mesh_masks={"pii": "none"}).findings == []


def test_public_and_internal_columns_need_no_mask(folder):
    folder.edit(
        PORT_CONTRACT,
        "        description: ISO 3166 code\n",
        "        description: ISO 3166 code\n        classification: internal\n",
    )
    assert report(folder).findings == []


def test_an_unreadable_access_yaml_is_a_finding_not_a_crash(folder):
    folder.write("access.yaml", "masks:\n  pii: scramble\n")
    [finding] = report(folder).findings
    assert finding.rule == "classified-masked"
    assert "access.yaml of product customers cannot be read" in finding.message
    assert "unknown mask 'scramble'" in finding.message


# -- personal data ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "logical_type", "kind"),
    [
        ("email", "string", "an email address"),
        ("contactEmail", "string", "an email address"),
        ("email_address", "string", "an email address"),
        ("phone_number", "string", "a phone number"),
        ("mobile", "string", "a phone number"),
        ("first_name", "string", "a person's name"),
        ("Surname", "string", "a person's name"),
        ("customer_name", "string", "a person's name"),
        ("ip_address", "string", "an IP address"),
        ("billing_address", "object", "a postal address"),
        ("postal_code", "string", "a postal address"),
        ("date_of_birth", "date", "a birth date"),
        ("birthDate", "date", "a birth date"),
        ("dob", "string", "a birth date"),
        ("ssn", "string", "a national id"),
        ("passport_number", "string", "a national id"),
        ("iban", "string", "a bank account"),
        ("email_verified", "boolean", None),
        ("email_verified", "string", None),
        ("email_domain", "string", None),
        ("name", "string", None),
        ("title", "string", None),
        ("hostname", "string", None),
        ("has_phone", "boolean", None),
        ("country", "string", None),
    ],
)
def test_personal_data_is_found_by_name(name, logical_type, kind):
    assert governance.name_kind(column(name, logical_type)) == kind


EMAILS = [f"user{i}@example.com" for i in range(10)]


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (EMAILS, "email addresses"),
        (["+44 20 7946 0958", "+31 6 12345678", "(555) 123-4567", "030 1234567"], "phone numbers"),
        (["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"], "IBANs"),
        (["4111 1111 1111 1111", "5500-0000-0000-0004"], "payment card numbers"),
        (["123-45-6789", "234-56-7890"], "social security numbers"),
        (["221B Baker Street", "12 Main St", "Hauptstraße 5"], "street addresses"),
        # half or more: found; a few among many: not
        ([*EMAILS[:5], *(f"note {i}" for i in range(5))], "email addresses"),
        ([*EMAILS[:4], *(f"note {i}" for i in range(6))], None),
        # ids, dates and numbers are not phone numbers
        (["20260107", "0012345678", "1005", "2026-01-07", "12345678901"], None),
        # a wrong check digit is not an IBAN
        (["DE89 3704 0044 0532 0130 01"], None),
        (["4111 1111 1111 1112"], None),
        (["true", "false", "true"], None),
        ([], None),
    ],
)
def test_personal_data_is_found_by_sampled_values(values, kind):
    found = governance.value_kind(values)
    assert (found[0] if found else None) == kind


def test_a_column_called_contact_holding_emails_is_found_by_its_values(folder):
    folder.edit(
        PORT_CONTRACT,
        "      - name: country\n",
        "      - name: contact\n        logicalType: string\n        description: how to reach them\n"
        "      - name: country\n",
    )
    assert report(folder).findings == []  # by its name alone, contact says nothing
    values = {"customers": {"contact": EMAILS, "country": ["NL", "DE"]}}
    [finding] = report(folder, values=values).findings
    assert finding.rule == "personal-data-classified"
    assert finding.column == "contact"
    assert "10 of 10 sampled values are email addresses" in finding.message


def test_a_boolean_email_verified_column_is_not_personal_data(folder):
    folder.edit(
        PORT_CONTRACT,
        "      - name: country\n",
        "      - name: email_verified\n        logicalType: boolean\n        description: did they click\n"
        "      - name: country\n",
    )
    assert report(folder, values={"customers": {"email_verified": ["true", "false"]}}).findings == []


def test_sample_values_reads_non_null_text_values(tmp_path, folder):
    data = tmp_path / "rows.parquet"
    con = engine.connect()
    con.execute(
        "COPY (SELECT * FROM (VALUES ('c1', 'a@example.com', 'NL'), ('c2', NULL, 'DE')) "
        f"t(customer_id, email, country)) TO {engine.literal(str(data))} (FORMAT parquet)"
    )
    con.close()
    product = folder.load()
    rows = {"customers": engine.Relation.parquet([data])}
    assert governance.sample_values(product, rows) == {
        "customers": {"customer_id": ("c1", "c2"), "email": ("a@example.com",), "country": ("NL", "DE")}
    }
    assert governance.sample_values(product, rows, limit=1)["customers"]["country"] == ("NL",)


# -- severities --------------------------------------------------------------------------


def test_mesh_yaml_severities_override_the_defaults_and_off_skips_a_rule(folder):
    folder.edit(PORT_CONTRACT, "        description: ISO 3166 code\n", "")
    folder.edit(PORT_CONTRACT, "        classification: pii\n", "")
    config = GovernanceConfig({"descriptions": "off", "personal-data-classified": "error"})
    result = report(folder, config)
    assert [f.rule for f in result.errors] == ["personal-data-classified"]
    assert result.warnings == []
    skipped = next(r for r in result.results if r.rule == "descriptions")
    assert (skipped.severity, skipped.passed, skipped.findings) == ("off", None, ())
    body = result.as_json()
    assert (body["errors"], body["warnings"], body["failed"]) == (1, 0, 1)
    assert next(r for r in body["rules"] if r["rule"] == "descriptions")["passed"] is None


def test_owner_team_can_be_lowered_to_a_warning(folder):
    folder.edit("dataproduct.yaml", "  members:\n    - {username: joe, role: owner}\n", "")
    result = report(folder, GovernanceConfig({"owner-team": "warning"}))
    assert (len(result.errors), len(result.warnings)) == (0, 1)


def test_a_refusal_lists_each_error_with_its_fix_and_exits_11(folder):
    folder.edit(
        "dataproduct.yaml", "team:\n  name: crm\n  members:\n    - {username: joe, role: owner}\n", ""
    )
    folder.edit(PORT_CONTRACT, "        classification: pii\n", "")
    result = report(folder, GovernanceConfig({"personal-data-classified": "error"}))
    refused = result.refusal()
    assert isinstance(refused, GovernanceRefused)
    assert refused.exit_code == 11
    assert refused.product == "customers"
    text = str(refused)
    assert "not published, 2 governance errors; consumers keep the last published version" in text
    assert "  - owner-team: product customers has no owner team: add `team:" in text
    assert "  - personal-data-classified: column customers.email looks like personal data" in text
    assert "`daap govern check` shows every rule for customers" in text


# -- mesh.yaml --------------------------------------------------------------------------


def mesh_yaml(tmp_path: Path, text: str) -> Path:
    (tmp_path / "mesh.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_mesh_yaml_governance_rules_are_read(tmp_path):
    text = "governance:\n  rules:\n    owner-team: error\n    descriptions: off\n    quality-rule: Warning\n"
    config = load_mesh_config(mesh_yaml(tmp_path, text), env={})
    assert dict(config.governance.rules) == {
        "owner-team": "error",
        "descriptions": "off",
        "quality-rule": "warning",
    }
    assert load_mesh_config(mesh_yaml(tmp_path, "name: m\n"), env={}).governance == GovernanceConfig()


def test_a_yaml_11_false_means_off(tmp_path):
    config = load_mesh_config(mesh_yaml(tmp_path, "governance: {rules: {descriptions: false}}\n"), env={})
    assert dict(config.governance.rules) == {"descriptions": "off"}


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        (
            "name: m\ngovernance:\n  rules:\n    descriptons: off\n",
            4,
            5,
            "unknown governance rule 'descriptons'; did you mean 'descriptions'? (rules: owner-team,",
        ),
        (
            "name: m\ngovernance:\n  rules:\n    owner-team: eror\n",
            4,
            17,
            "governance rule 'owner-team': unknown severity 'eror'; did you mean 'error'? "
            "(one of error, warning, off)",
        ),
        (
            "governance:\n  rules:\n    owner-team: 3\n",
            3,
            17,
            "governance rule 'owner-team': unknown severity 3",
        ),
        ("governance:\n  rulez: {}\n", 2, 3, "unknown field 'rulez'; did you mean 'rules'?"),
        ("governance:\n  rules: [owner-team]\n", 2, 10, "'rules' must be a mapping, got a list"),
    ],
)
def test_bad_governance_entries_are_positioned(tmp_path, text, line, col, message):
    with pytest.raises(SpecError) as info:
        load_mesh_config(mesh_yaml(tmp_path, text), env={})
    [problem] = info.value.diagnostics
    assert (problem.path.endswith("mesh.yaml"), problem.line, problem.col) == (True, line, col)
    assert message in problem.message
