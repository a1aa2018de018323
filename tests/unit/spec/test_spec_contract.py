"""Contracts: contracts/<port>.odcs.yaml checked against ODCS and resolved to columns."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from daap.errors import SpecError
from daap.spec import ColumnSpec, load_contract
from fixtures.spec_folders import TITLES_CONTRACT, ProductFolder, line_of

CONTRACT = "contracts/titles.odcs.yaml"


def test_columns_carry_types_keys_and_descriptions(raw: ProductFolder) -> None:
    contract = raw.load().output_ports[0].contract

    assert [(c.name, c.sql_type) for c in contract.columns] == [
        ("title_id", "BIGINT"),
        ("region", "VARCHAR"),
        ("title", "VARCHAR"),
        ("price", "DECIMAL(10,2)"),
        ("released_at", "TIMESTAMPTZ"),
    ]
    assert contract.column("region") == ColumnSpec(
        name="region",
        logical_type="string",
        sql_type="VARCHAR",
        required=True,
        primary_key=True,
        primary_key_position=1,
        classification="public",
    )
    title = contract.column("title")
    assert title is not None
    assert (title.required, title.primary_key, title.description) == (True, False, "display title")


def test_primary_key_orders_by_position_then_declaration(raw: ProductFolder) -> None:
    contract = raw.load().output_ports[0].contract

    # title_id is declared first but has no position; region has position 1
    assert contract.primary_key == ("region", "title_id")
    title_id = contract.column("title_id")
    assert title_id is not None and title_id.required  # a key column is required


def test_validated_odcs_model_is_kept(raw: ProductFolder) -> None:
    odcs = raw.load().output_ports[0].contract.odcs

    assert odcs.schema_[0].name == "titles"
    assert odcs.apiVersion == "v3.2.0"


def test_unknown_nested_field_gets_a_suggestion(raw: ProductFolder) -> None:
    raw.edit(CONTRACT, "        required: true\n", "        requird: true\n")

    problem = raw.problem("requird")

    assert problem.path.endswith("titles.odcs.yaml")
    assert problem.message == "unknown field 'requird'; did you mean 'required'?"
    assert (problem.line, problem.col) == (line_of(TITLES_CONTRACT, "required: true"), 9)


def test_unknown_top_level_field_gets_a_suggestion(raw: ProductFolder) -> None:
    raw.edit(CONTRACT, "status: active", "staus: active")

    assert raw.problem("staus").message == "unknown field 'staus'; did you mean 'status'?"


def test_unsupported_logical_type_names_the_supported_ones(raw: ProductFolder) -> None:
    raw.edit(CONTRACT, "logicalType: timestamp", "logicalType: map")

    problem = raw.problem("map")

    assert problem.message == (
        "logicalType 'map' is not supported yet by daap "
        "(supported: string, integer, number, boolean, date, timestamp, time)"
    )
    assert (problem.line, problem.col) == (line_of(TITLES_CONTRACT, "timestamp"), 22)


def test_physical_type_outside_its_logical_type_is_refused(raw: ProductFolder) -> None:
    raw.edit(CONTRACT, "physicalType: decimal(10,2)", "physicalType: varchar")

    problem = raw.problem("physicalType")

    assert problem.message.startswith(
        "physicalType 'varchar' does not fit logicalType 'number' (allowed: double, float64"
    )
    assert problem.line == line_of(TITLES_CONTRACT, "physicalType")


def test_missing_logical_type_points_at_the_column(raw: ProductFolder) -> None:
    raw.edit(CONTRACT, "        logicalType: timestamp\n", "")

    problem = raw.problem("logicalType")

    assert problem.message == "missing required field 'logicalType'"
    assert (problem.line, problem.col) == (line_of(TITLES_CONTRACT, "name: released_at"), 9)


def test_column_names_must_be_identifiers_and_unique(raw: ProductFolder) -> None:
    raw.edit(CONTRACT, "name: price", "name: title")
    raw.edit(CONTRACT, "name: released_at", "name: Released At")

    messages = [d.message for d in raw.problems()]

    assert "column 'title' is declared twice" in messages
    assert any("'Released At' is not a valid name" in m and "'released_at'" in m for m in messages)


def test_contract_header_fields_are_required(raw: ProductFolder) -> None:
    raw.edit(CONTRACT, "id: titles-v1\nversion: 1.0.0\n", "")

    messages = {d.message for d in raw.problems() if d.path.endswith("odcs.yaml")}

    assert messages == {"missing required field 'id'", "missing required field 'version'"}


def test_contract_must_be_odcs_v3(raw: ProductFolder) -> None:
    raw.edit(CONTRACT, "apiVersion: v3.2.0", "apiVersion: v2.2.2")

    assert raw.problem("apiVersion").message.startswith("apiVersion must be one of v3.2.0")


def test_primary_key_positions_must_not_collide(raw: ProductFolder) -> None:
    raw.edit(
        CONTRACT,
        "        primaryKey: true\n      - name: region",
        ("        primaryKey: true\n        primaryKeyPosition: 1\n      - name: region"),
    )

    problem = raw.problem("primaryKeyPosition 1")

    assert problem.message == "primaryKeyPosition 1 is also used by column 'title_id'"


def write_contract(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "c.odcs.yaml"
    path.write_text("apiVersion: v3.2.0\nkind: DataContract\nid: c\nversion: '1'\n" + body)
    return path


def test_only_schema_object_is_used_whatever_its_name(tmp_path: Path) -> None:
    path = write_contract(
        tmp_path,
        "schema:\n  - name: other\n    properties:\n      - {name: a, logicalType: boolean}\n",
    )

    contract = load_contract(path, "titles")

    assert [c.sql_type for c in contract.columns] == ["BOOLEAN"]
    assert contract.primary_key == ()


def test_schema_object_is_chosen_by_port_name(tmp_path: Path) -> None:
    path = write_contract(
        tmp_path,
        "schema:\n  - name: a\n    properties: [{name: x, logicalType: date}]\n"
        "  - name: b\n    properties: [{name: y, logicalType: time}]\n",
    )

    assert load_contract(path, "b").columns[0].name == "y"
    with pytest.raises(SpecError) as info:
        load_contract(path, "c")
    assert [(d.line, d.message) for d in info.value.diagnostics] == [
        (5, "no schema object named 'c' (found 'a', 'b')")
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "the contract has no schema: add an object named 'p'"),
        ("schema:\n  - name: p\n", "schema object has no properties: list its columns there"),
    ],
)
def test_contract_without_columns_is_refused(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        load_contract(write_contract(tmp_path, body), "p")

    assert [d.message for d in info.value.diagnostics] == [message]


def test_odcs_team_as_a_list_of_members_is_checked_too(tmp_path: Path) -> None:
    path = write_contract(
        tmp_path,
        "team:\n  - {username: ana, role: owner}\n  - {usernme: bob}\n"
        "schema:\n  - properties: [{name: a, logicalType: string}]\n",
    )

    with pytest.raises(SpecError) as info:
        load_contract(path, "p")

    assert [(d.line, d.col, d.message) for d in info.value.diagnostics] == [
        (7, 6, "unknown field 'usernme'; did you mean 'username'?")
    ]


PRICE = """      - name: price
        logicalType: number
        physicalType: decimal(10,2)
"""
NESTED = """      - name: price
        logicalType: object
        description: the price and its parts
        properties:
          - {name: amount, logicalType: number, physicalType: "decimal(10,2)", required: true}
          - name: parts
            logicalType: array
            items:
              logicalType: object
              properties:
                - {name: kind, logicalType: string}
          - name: tags
            logicalType: array
            required: true
            items: {logicalType: string, required: true}
"""


def test_nested_objects_and_arrays_become_struct_and_list_columns(raw: ProductFolder) -> None:
    raw.edit(CONTRACT, PRICE, NESTED)

    price = raw.load().output_ports[0].contract.column("price")

    assert price is not None and price.logical_type == "object"
    assert (
        price.sql_type == 'STRUCT("amount" DECIMAL(10,2), "parts" STRUCT("kind" VARCHAR)[], "tags" VARCHAR[])'
    )
    amount, parts, tags = price.fields
    assert amount.required and not parts.required and tags.required
    assert parts.items is not None and parts.items.fields[0].name == "kind"
    assert tags.items is not None and tags.items.required and tags.items.name == "items"
    assert price.description == "the price and its parts"


KIND = "{name: kind, logicalType: string}"
TWICE = KIND + "\n                - {name: kind, logicalType: integer}"


@pytest.mark.parametrize(
    ("old", "new", "fragment", "at"),
    [
        ("properties:\n          - {name: amount", "propertiez:\n          - {name: amount",
         "needs properties", "name: price"),
        ("items:\n              logicalType: object", "itemz:\n              logicalType: object",
         "needs items", "name: parts"),
        (KIND, KIND.replace("string", "strin"), "unknown logicalType 'strin'", "name: kind"),
        (KIND, KIND.replace("kind", "Kind"), "'Kind' is not a valid name", "name: Kind"),
        (KIND, KIND.replace("}", ", primaryKey: true}"), "must be a top-level column", "name: kind"),
        (KIND, TWICE, "field 'kind' is declared twice", "{name: kind, logicalType: integer}"),
    ],
)  # fmt: skip
def test_bad_nested_properties_are_positioned_errors(raw: ProductFolder, old, new, fragment, at) -> None:
    raw.edit(CONTRACT, PRICE, NESTED)
    raw.edit(CONTRACT, old, new)

    problem = raw.problem(fragment)

    text = (raw.path / CONTRACT).read_text()
    assert problem.line == line_of(text, at)


def test_a_nested_column_cannot_be_a_primary_key(raw: ProductFolder) -> None:
    raw.edit(
        CONTRACT,
        PRICE,
        NESTED.replace("description: the price", "primaryKey: true\n        description: the price"),
    )

    problem = raw.problem("must be a scalar, not an object")

    assert problem.line == line_of((raw.path / CONTRACT).read_text(), "description: the price") - 1


def test_nesting_is_bounded(raw: ProductFolder) -> None:
    deep = "      - name: price\n"
    indent = "        "
    for _ in range(20):
        deep += f"{indent}logicalType: object\n{indent}properties:\n{indent}  - name: inner\n"
        indent += "    "
    deep += f"{indent}logicalType: string\n"
    raw.edit(CONTRACT, PRICE, deep)

    assert raw.problem("nested more than 16 levels deep")


def test_latency_frequency_and_slo_target_are_read_from_the_contract(raw: ProductFolder) -> None:
    raw.write(
        CONTRACT,
        TITLES_CONTRACT
        + "slaProperties:\n  - {property: latency, value: 4, unit: h}\n"
        + "  - {property: frequency, value: 1, unit: d}\n"
        + "  - {property: retention, value: 3, unit: y}\n"
        + "customProperties:\n  - {property: sloTarget, value: 99.5}\n",
    )

    contract = raw.load().output_ports[0].contract

    assert contract.sla == {
        "latency": timedelta(hours=4),
        "frequency": timedelta(days=1),
    }  # retention is not watched
    assert contract.slo_target == 99.5


@pytest.mark.parametrize(
    ("extra", "fragment", "at"),
    [
        (
            "slaProperties:\n  - {property: latency, value: 4, unit: fortnights}\n",
            "latency must be a positive",
            "unit",
        ),
        (
            "slaProperties:\n  - {property: frequency, value: 0, unit: d}\n",
            "frequency must be a positive",
            "unit",
        ),
        (
            "customProperties:\n  - {property: sloTarget, value: 120}\n",
            "sloTarget must be a percent",
            "value: 120",
        ),
        (
            "customProperties:\n  - {property: sloTarget, value: high}\n",
            "sloTarget must be a percent",
            "value: high",
        ),
    ],
)
def test_bad_slas_and_slo_targets_are_positioned_errors(raw: ProductFolder, extra, fragment, at) -> None:
    raw.write(CONTRACT, TITLES_CONTRACT + extra)

    problem = raw.problem(fragment)

    text = TITLES_CONTRACT + extra
    assert problem.line == line_of(text, at)
