"""Zero trust between products: in a mesh with principals, a product reads another only as that
one's policies allow, filtered and masked as they say; a changed policy rebuilds the reader."""

from __future__ import annotations

import pytest

from daap.errors import InputError

PEOPLE = "id,email,region\n1,a@x.eu,EU\n2,b@x.us,US\n3,a@x.eu,EU\n"
GRANT = """@id("stats-reads")
permit(principal, action == Daap::Action::"read", resource)
when { principal.roles.contains("product") && principal.domain == "test" };
"""


@pytest.fixture
def mesh_with_principals(mesh):
    (mesh.root / "mesh.yaml").write_text(
        "principals:\n  - {name: ana, roles: [analyst]}\nmasks: {pii: hash}\n"
    )
    people = mesh.product(
        "people",
        [("id", "integer"), ("email", "string", {"classification": "pii"}), ("region", "string")],
        pk=["id"],
        inputs={"s": {"path": "d.csv"}},
        files={"d.csv": PEOPLE},
    )
    mesh.product(
        "stats",
        [("region", "string"), ("people", "integer"), ("emails", "integer"), ("first_email", "string")],
        pk=["region"],
        product_type="derived",
        inputs={"people": "people.people"},
        transform="SELECT region, count(*) AS people, count(DISTINCT email) AS emails, "
        "min(email) AS first_email FROM people GROUP BY region",
    )
    return mesh, people


def test_a_product_without_a_grant_cannot_read_another(mesh_with_principals):
    mesh, _ = mesh_with_principals
    outcomes = {o.product: o for o in mesh.build()}
    assert outcomes["people"].status == "published"
    refused = outcomes["stats"]
    assert refused.status == "failed" and isinstance(refused.error, InputError)
    assert "input port stats.people: stats may not read people" in refused.message
    assert "people/access.cedar" in (refused.error.hint or "")
    ws = mesh.workspace()
    try:
        assert ws.metadata.latest_version("stats") is None  # nothing half-published
    finally:
        ws.close()


def test_a_granted_product_reads_masked_values_and_rebuilds_when_the_masks_change(mesh_with_principals):
    mesh, people = mesh_with_principals
    (people / "access.cedar").write_text(GRANT)
    mesh.build_ok()
    rows = {r["region"]: r for r in mesh.query("SELECT * FROM stats.stats")}
    assert rows["EU"]["people"] == 2 and rows["EU"]["emails"] == 1  # the keyed hash keeps equal values equal
    assert "@" not in rows["EU"]["first_email"] and len(rows["EU"]["first_email"]) == 32

    (people / "access.yaml").write_text(
        "masks: {pii: redact}\nrowFilters:\n  - {name: eu, where: \"region = 'EU'\"}\n"
    )
    outcomes = {o.product: o.status for o in mesh.build()}
    assert outcomes == {"people": "unchanged", "stats": "published"}  # the restriction is part of its inputs
    assert mesh.query("SELECT region, first_email FROM stats.stats") == [
        {"region": "EU", "first_email": "***"}
    ]

    (people / "access.cedar").write_text(
        GRANT
        + '@id("stats-unmasked")\npermit(principal, action == Daap::Action::"read_unmasked", resource)\n'
        'when { principal.name == "stats" };\n'
    )
    mesh.build_ok()
    assert mesh.query("SELECT first_email FROM stats.stats") == [{"first_email": "a@x.eu"}]
