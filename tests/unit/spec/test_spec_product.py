"""load_product: a product folder in, a ProductSpec or every problem out."""

from __future__ import annotations

from pathlib import Path

import pytest

from daap.errors import SpecError
from daap.spec import (
    CsvOptions,
    FileSource,
    Persona,
    ProductSource,
    TransformSpec,
    load_product,
)
from fixtures.spec_folders import RAW_DESCRIPTOR, TITLES_CONTRACT, ProductFolder, line_of

DESCRIPTOR = "dataproduct.yaml"


def test_raw_product_resolves_every_part(raw: ProductFolder) -> None:
    spec = raw.load()

    assert (spec.id, spec.name, spec.version, spec.status) == (
        "0b6c-titles",
        "titles",
        "1.0.0",
        "active",
    )
    assert (spec.domain, spec.team, spec.product_type) == ("content", "content-team", "raw")
    assert spec.purpose == "Every title we can stream."
    assert spec.tags == ("catalogue", "content")
    assert spec.business_objective == "Know what we can stream."
    assert spec.consumer_personas == (Persona("analyst", "answers questions with SQL", ("sql", "bi")),)
    (port,) = spec.input_ports
    assert port.name == "raw_titles"
    assert port.description == "nightly export of the legacy catalogue"
    assert port.source == FileSource("data/titles.csv", "csv", CsvOptions(delimiter=";", null_string="NA"))
    assert spec.transformation is None
    assert spec.upstream() == ()


def test_raw_product_output_port_carries_its_contract(raw: ProductFolder) -> None:
    spec = raw.load()

    port = spec.output_port("titles")
    assert port is not None
    assert (port.description, port.version) == ("one row per title", "1")
    assert (port.contract.id, port.contract.version) == ("titles-v1", "1.0.0")
    assert port.contract.path == raw.path.resolve() / "contracts" / "titles.odcs.yaml"
    assert spec.source_files() == (
        raw.path.resolve() / DESCRIPTOR,
        raw.path.resolve() / "contracts" / "titles.odcs.yaml",
    )


def test_derived_product_reads_other_products_through_python(derived: ProductFolder) -> None:
    spec = derived.load()

    assert spec.product_type == "derived"
    assert spec.version == "0.1.0"  # ODPS version is optional
    assert spec.upstream() == (
        ProductSource("titles", "titles", 3),
        ProductSource("playback", "plays", None),
    )
    assert spec.transformation == TransformSpec("python", derived.path.resolve() / "build.py", "popularity")
    assert spec.source_files()[-1] == derived.path.resolve() / "build.py"
    (daily,) = spec.output_ports
    assert daily.contract.primary_key == ("title_id",)


def test_missing_descriptor_is_reported_for_the_whole_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_product(tmp_path)

    (problem,) = info.value.diagnostics
    assert problem.path.endswith(DESCRIPTOR)
    assert (problem.line, problem.message) == (0, "file not found")
    assert "not a product folder" in str(info.value)


def test_malformed_yaml_reports_the_parser_position(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "tags: [catalogue, content]", "tags: [catalogue, content")

    (problem,) = raw.problems()

    assert problem.message.startswith("invalid YAML: expected ',' or ']'")
    assert (problem.line, problem.col) == (9, 12)  # the ':' after "description"


def test_misspelled_field_gets_a_suggestion_at_its_key(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "outputPorts:", "ouputPorts:")

    problem = raw.problem("ouputPorts")

    assert problem.message == "unknown field 'ouputPorts'; did you mean 'outputPorts'?"
    assert (problem.line, problem.col) == (line_of(RAW_DESCRIPTOR, "outputPorts:"), 1)


def test_unknown_field_with_nothing_close_has_no_suggestion(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "domain: content\n", "domain: content\nzzqx: 1\n")

    assert raw.problem("zzqx").message == "unknown field 'zzqx'"


def test_nested_unknown_field_is_found_inside_a_list(raw: ProductFolder) -> None:
    raw.edit(
        DESCRIPTOR,
        "    contractId: titles-v1\n",
        "    contractId: titles-v1\n    sbom: [{urll: x}]\n",
    )

    problem = raw.problem("urll")

    assert problem.message == "unknown field 'urll'; did you mean 'url'?"
    assert problem.line == line_of(RAW_DESCRIPTOR, "contractId") + 1


def test_missing_required_field_points_at_the_mapping_lacking_it(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "id: 0b6c-titles\n", "")

    problem = raw.problem("'id'")

    assert (problem.line, problem.col, problem.message) == (1, 1, "missing required field 'id'")


def test_missing_port_name_points_at_the_port(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "  - name: titles\n    version", "  - version")

    problem = raw.problem("missing required field 'name'")

    assert (problem.line, problem.col) == (line_of(RAW_DESCRIPTOR, "- name: titles"), 5)


def test_wrong_type_reads_like_a_sentence(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "version: 1.0.0\n", "version: [1, 0]\n")

    problem = raw.problem("'version'")

    assert problem.message == "'version' must be a string, got a list"
    assert (problem.line, problem.col) == (5, 10)


def test_number_where_a_string_is_expected_suggests_quoting(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "version: 1.0.0\n", "version: 1.5\n")

    assert raw.problem("'version'").message == ("'version' must be a string, got a number (quote it: '1.5')")


def test_enum_field_lists_its_values(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "apiVersion: v1.1.0", "apiVersion: v2.0.0")

    assert raw.problem("apiVersion").message == (
        "'apiVersion' must be one of 'v1.1.0', 'v1.0.0' or 'v0.9.0', got 'v2.0.0'"
    )


def test_product_name_must_be_an_identifier_and_a_fix_is_offered(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "name: titles\nversion", "name: Title-Popularity\nversion")

    problem = raw.problem("product name")

    assert "'Title-Popularity' is not a valid name" in problem.message
    assert problem.message.endswith("use 'title_popularity'")
    assert (problem.line, problem.col) == (4, 7)


def test_duplicate_output_port_points_at_the_second(raw: ProductFolder) -> None:
    raw.edit(
        DESCRIPTOR,
        "customProperties:\n  - property: productType",
        ("  - name: titles\ncustomProperties:\n  - property: productType"),
    )

    problem = raw.problem("duplicate")

    first = line_of(RAW_DESCRIPTOR, "- name: titles")
    assert problem.message == f"duplicate output port 'titles' (first at line {first})"
    assert problem.line == line_of(RAW_DESCRIPTOR, "value: Know what") - 4


def test_missing_contract_file_is_reported_on_the_port_name(raw: ProductFolder) -> None:
    (raw.path / "contracts" / "titles.odcs.yaml").unlink()

    problem = raw.problem("no contract")

    assert problem.path.endswith(DESCRIPTOR)
    assert problem.message == ("no contract for output port 'titles': expected contracts/titles.odcs.yaml")
    assert (problem.line, problem.col) == (line_of(RAW_DESCRIPTOR, "- name: titles"), 11)


def test_contract_id_must_match_the_contract(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "contractId: titles-v1", "contractId: titles-v2")

    problem = raw.problem("contractId")

    assert "'titles-v2' differs from the id 'titles-v1'" in problem.message
    assert problem.line == line_of(RAW_DESCRIPTOR, "contractId")


def test_duplicate_yaml_keys_are_all_reported(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "status: active\n", "status: active\nstatus: draft\n")

    problem = raw.problem("duplicate key")

    assert (problem.line, problem.col) == (7, 1)
    assert problem.message == "duplicate key 'status' (only its first value is used)"


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "the file is empty"), ("- a\n- b\n", "the file is a list, not a mapping of fields")],
)
def test_descriptor_must_be_a_mapping(raw: ProductFolder, text: str, message: str) -> None:
    raw.write(DESCRIPTOR, text)

    (problem,) = raw.problems()

    assert problem.message == message


def test_ports_are_required(raw: ProductFolder) -> None:
    raw.write(
        DESCRIPTOR,
        "apiVersion: v1.1.0\nkind: DataProduct\nid: x\nname: x\nstatus: s\ninputPorts: []\n",
    )

    messages = {d.message for d in raw.problems()}

    assert messages == {
        "'inputPorts' is empty: a product needs a port to get data from",
        "missing required field 'outputPorts': a product needs a port to serve data",
    }


def test_several_problems_in_several_files_are_reported_at_once(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "status: active\n", "status: [active]\n")
    raw.edit(DESCRIPTOR, "- name: raw_titles", "- name: raw-titles")
    raw.edit("contracts/titles.odcs.yaml", "logicalType: timestamp", "logicalType: map")

    problems = raw.problems()

    found = {(d.path.rsplit("/", 1)[-1], d.line) for d in problems}
    assert found >= {
        (DESCRIPTOR, 6),
        (DESCRIPTOR, line_of(RAW_DESCRIPTOR, "- name: raw_titles")),
        ("titles.odcs.yaml", line_of(TITLES_CONTRACT, "logicalType: timestamp")),
    }
    assert len({d.message for d in problems}) >= 3


def test_null_required_field_counts_as_missing(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "name: titles\nversion", "name:\nversion")

    problem = raw.problem("'name'")

    assert (problem.line, problem.col, problem.message) == (4, 1, "missing required field 'name'")
