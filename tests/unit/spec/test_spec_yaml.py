"""YAML loading with positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from daap.errors import SpecError
from daap.spec.yamlpos import kind, load_yaml

TEXT = """\
top: 1
nested:
  list:
    - {a: 1, b: two}
    - when: 2024-01-31
      at: 2024-01-31T10:00:00Z
  empty:
"""


@pytest.fixture
def doc_path(tmp_path: Path) -> Path:
    path = tmp_path / "doc.yaml"
    path.write_text(TEXT)
    return path


def test_plain_data_with_dates_as_strings(doc_path: Path) -> None:
    doc = load_yaml(doc_path)

    assert doc.data == {
        "top": 1,
        "nested": {
            "list": [
                {"a": 1, "b": "two"},
                {"when": "2024-01-31", "at": "2024-01-31T10:00:00+00:00"},
            ],
            "empty": None,
        },
    }
    assert type(doc.data["top"]) is int
    assert type(doc.data["nested"]) is dict


def test_positions_of_keys_values_and_items(doc_path: Path) -> None:
    doc = load_yaml(doc_path)

    assert doc.position(("top",), "key") == (1, 1)
    assert doc.position(("top",)) == (1, 6)
    assert doc.position(("nested", "list", 0)) == (4, 7)
    assert doc.position(("nested", "list", 0, "b")) == (4, 17)
    assert doc.position(("nested", "list", 1, "at"), "key") == (6, 7)


def test_missing_loc_falls_back_to_its_nearest_parent(doc_path: Path) -> None:
    doc = load_yaml(doc_path)

    assert doc.position(("nested", "list", 1, "nope")) == (5, 7)
    assert doc.position(("nope",)) == (1, 1)


def test_report_collects_positioned_diagnostics(doc_path: Path) -> None:
    doc = load_yaml(doc_path, "shown.yaml")

    doc.report(("nested", "list", 0, "a"), "bad a")

    assert [str(d) for d in doc.diagnostics] == ["shown.yaml:4:11: bad a"]


def test_every_duplicate_key_is_reported_and_the_first_value_wins(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")

    doc = load_yaml(path)

    assert doc.data == {"a": 1, "b": {"c": 1}}
    assert [(d.line, d.col, d.message) for d in doc.diagnostics] == [
        (4, 3, "duplicate key 'c' (only its first value is used)"),
        (5, 1, "duplicate key 'a' (only its first value is used)"),
    ]


@pytest.mark.parametrize(
    ("text", "line", "col", "start"),
    [
        ("a: [1, 2\nb: 3\n", 2, 2, "invalid YAML: expected ',' or ']'"),
        ("a:\n\tb: 1\n", 2, 1, "invalid YAML: found character '\\t'"),
        ("a: 'open\n", 2, 1, "invalid YAML: found unexpected end of stream"),
    ],
)
def test_syntax_errors_carry_the_parser_position(
    tmp_path: Path, text: str, line: int, col: int, start: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)

    with pytest.raises(SpecError) as info:
        load_yaml(path)

    (problem,) = info.value.diagnostics
    assert (problem.line, problem.col) == (line, col)
    assert problem.message.startswith(start)


def test_missing_file_is_a_whole_file_problem(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_yaml(tmp_path / "nope.yaml", "nope.yaml")

    assert str(info.value.diagnostics[0]) == "nope.yaml: file not found"


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (None, "nothing (null)"),
        (True, "a boolean"),
        (3, "an integer"),
        (1.5, "a number"),
        ("x", "a string"),
        ({}, "a mapping"),
        ([], "a list"),
        (b"x", "a bytes"),
    ],
)
def test_kind_names_values_for_messages(value: object, label: str) -> None:
    assert kind(value) == label
