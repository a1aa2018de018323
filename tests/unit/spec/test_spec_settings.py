"""daap settings in customProperties: product type, transformation, personas."""

from __future__ import annotations

from typing import Literal

import pytest

from daap.spec import TransformSpec
from fixtures.spec_folders import DERIVED_DESCRIPTOR, RAW_DESCRIPTOR, ProductFolder, line_of

DESCRIPTOR = "dataproduct.yaml"
TRANSFORM = "    value: {python: build.py, function: popularity}"


def with_transformation(folder: ProductFolder, value: str) -> None:
    folder.edit(DESCRIPTOR, TRANSFORM, f"    value: {value}")


@pytest.mark.parametrize(
    ("value", "file", "kind", "function"),
    [
        ("transform.sql", "transform.sql", "sql", None),
        ("{sql: transform.sql}", "transform.sql", "sql", None),
        ("build.py", "build.py", "python", "transform"),
        ("build.py:popularity", "build.py", "python", "popularity"),
        ("{python: build.py}", "build.py", "python", "transform"),
    ],
)
def test_transformation_forms(
    derived: ProductFolder,
    value: str,
    file: str,
    kind: Literal["sql", "python"],
    function: str | None,
) -> None:
    derived.write("transform.sql", "SELECT * FROM titles\n")
    with_transformation(derived, value)

    spec = derived.load()

    assert spec.transformation == TransformSpec(kind, derived.path.resolve() / file, function)


def test_missing_transformation_file_points_at_the_value(derived: ProductFolder) -> None:
    with_transformation(derived, "{sql: sql/missing.sql}")

    problem = derived.problem("not found")

    assert problem.message == "transformation file 'sql/missing.sql' not found in the product folder"
    line = line_of(DERIVED_DESCRIPTOR, "python: build.py")
    assert (problem.line, problem.col) == (line, 18)


def test_empty_sql_transformation_is_refused(derived: ProductFolder) -> None:
    derived.write("transform.sql", "  \n\n")
    with_transformation(derived, "transform.sql")

    assert derived.problem("empty").message == "transformation file 'transform.sql' is empty"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "transform.rb",
            "transformation 'transform.rb' is not 'file.sql', 'file.py' or 'file.py:name'",
        ),
        ("{sql: a.sql, python: b.py}", "transformation needs exactly one of 'sql' or 'python'"),
        ("{python: build.py, function: 2fast}", "function name '2fast' is not a Python identifier"),
        (
            "{python: ../build.py}",
            "path '../build.py' must stay inside the product folder (no '..')",
        ),
        ("{pyhton: build.py}", "unknown field 'pyhton'; did you mean 'python'?"),
    ],
)
def test_bad_transformations(derived: ProductFolder, value: str, message: str) -> None:
    with_transformation(derived, value)

    assert message in [d.message for d in derived.problems()]


def test_derived_product_needs_a_transformation(derived: ProductFolder) -> None:
    derived.edit(DESCRIPTOR, "  - property: transformation\n" + TRANSFORM + "\n", "")

    problem = derived.problem("needs a transformation")

    assert problem.message.startswith("a derived product needs a transformation")
    assert problem.line == line_of(DERIVED_DESCRIPTOR, "value: derived")


@pytest.mark.parametrize("product_type", ["algorithm", "hybrid", "composite"])
def test_framework_types_not_built_yet_are_refused(raw: ProductFolder, product_type: str) -> None:
    raw.edit(DESCRIPTOR, "value: raw", f"value: {product_type}")

    (problem,) = raw.problems()

    assert problem.message == (
        f"product type '{product_type}' is not supported yet: daap builds raw and derived products for now"
    )
    assert (problem.line, problem.col) == (line_of(RAW_DESCRIPTOR, "value: raw"), 12)


def test_unknown_product_type_gets_a_suggestion(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "value: raw", "value: derivd")

    (problem,) = raw.problems()  # no raw/derived rule piles on

    assert problem.message.startswith("unknown product type 'derivd'; did you mean 'derived'?")


def test_product_type_defaults_to_raw(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "  - property: productType\n    value: raw\n", "")

    assert raw.load().product_type == "raw"


def test_raw_product_cannot_read_another_product(derived: ProductFolder) -> None:
    derived.edit(DESCRIPTOR, "value: derived", "value: raw")

    problems = derived.problems()

    assert [d.line for d in problems if "source-aligned" in d.message] == [10, 14]
    assert not any("add a transformation" in d.message for d in problems)


def test_raw_identity_needs_exactly_one_input(raw: ProductFolder) -> None:
    raw.edit(
        DESCRIPTOR,
        "outputPorts:\n",
        "  - name: more\n    customProperties:\n"
        "      - {property: source, value: {path: more.parquet}}\noutputPorts:\n",
    )

    problem = raw.problem("without a transformation")

    assert problem.message.endswith("but this one has 2: add a transformation")
    assert (problem.line, problem.col) == (line_of(RAW_DESCRIPTOR, "inputPorts:"), 1)


def test_misspelled_daap_property_gets_a_suggestion(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "property: businessObjective", "property: businesObjective")

    problem = raw.problem("businesObjective")

    assert problem.message.startswith(
        "unknown daap property 'businesObjective'; did you mean 'businessObjective'?"
    )
    assert problem.line == line_of(RAW_DESCRIPTOR, "property: businessObjective")


def test_foreign_custom_properties_are_ignored(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "property: com.example.costCentre", "property: x-cost-centre")

    assert raw.load().name == "titles"


def test_setting_a_property_twice_is_refused(raw: ProductFolder) -> None:
    raw.edit(
        DESCRIPTOR,
        "  - property: businessObjective",
        ("  - property: businessObjective\n    value: once\n  - property: businessObjective"),
    )

    assert raw.problem("twice").message == "property 'businessObjective' is set twice"


def test_personas_are_validated_item_by_item(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "      - name: analyst\n", "      - nam: analyst\n")
    raw.edit(DESCRIPTOR, "skills: [sql, bi]", "skills: sql")

    messages = {(d.line, d.message) for d in raw.problems()}

    first = line_of(RAW_DESCRIPTOR, "- name: analyst")
    assert messages == {
        (first, "missing required field 'name'"),
        (first, "unknown field 'nam'; did you mean 'name'?"),
        (first + 2, "'skills' must be a list, got a string"),
    }
