"""Input port sources: files in the folder, or another product's port."""

from __future__ import annotations

import pytest

from daap.spec import CsvOptions, FileSource, ProductSource
from fixtures.spec_folders import RAW_DESCRIPTOR, ProductFolder, line_of

DESCRIPTOR = "dataproduct.yaml"
SOURCE = """\
        value:
          path: data/titles.csv
          delimiter: ";"
          nullString: NA
"""


def with_source(folder: ProductFolder, value: str) -> None:
    """Replace the raw product's source value with ``value`` (YAML, one line)."""
    folder.edit(DESCRIPTOR, SOURCE, f"        value: {value}\n")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("data/*.csv", FileSource("data/*.csv", "csv")),
        ("data/x.tsv", FileSource("data/x.tsv", "csv", CsvOptions(delimiter="\t"))),
        ("data/x.PARQUET", FileSource("data/x.PARQUET", "parquet")),
        ("data/x.pq", FileSource("data/x.pq", "parquet")),
        ("x.json", FileSource("x.json", "json")),
        ("x.jsonl", FileSource("x.jsonl", "ndjson")),
        ("logs/*.ndjson.gz", FileSource("logs/*.ndjson.gz", "ndjson")),
    ],
)
def test_format_follows_the_extension(raw: ProductFolder, path: str, expected: FileSource) -> None:
    with_source(raw, f"{{path: '{path}'}}")

    assert raw.load().input_ports[0].source == expected


def test_csv_options_are_read_in_camel_case(raw: ProductFolder) -> None:
    with_source(
        raw,
        "{path: in.txt, format: csv, header: false, quote: \"'\", escape: '\\', "
        "encoding: latin-1, skipRows: 2, dateFormat: '%d/%m/%Y', timestampFormat: '%s'}",
    )

    assert raw.load().input_ports[0].source == FileSource(
        "in.txt",
        "csv",
        CsvOptions(
            header=False,
            quote="'",
            escape="\\",
            encoding="latin-1",
            skip_rows=2,
            date_format="%d/%m/%Y",
            timestamp_format="%s",
        ),
    )


def test_unknown_extension_needs_an_explicit_format(raw: ProductFolder) -> None:
    with_source(raw, "{path: data/export.dat}")

    problem = raw.problem("format")

    assert problem.message == (
        "cannot tell the format of 'data/export.dat' from its extension; "
        "add format: csv, parquet, json or ndjson"
    )


def test_misspelled_csv_option_gets_a_suggestion(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, 'delimiter: ";"', 'delimeter: ";"')

    problem = raw.problem("delimeter")

    assert problem.message == "unknown field 'delimeter'; did you mean 'delimiter'?"
    assert (problem.line, problem.col) == (line_of(RAW_DESCRIPTOR, "delimiter"), 11)


def test_csv_option_on_parquet_is_refused(raw: ProductFolder) -> None:
    with_source(raw, "{path: x.parquet, skipRows: 1}")

    assert raw.problem("skipRows").message == "'skipRows' is a CSV option; this source is parquet"


def test_encoding_must_be_a_known_one(raw: ProductFolder) -> None:
    with_source(raw, "{path: x.csv, encoding: ebcdic}")

    assert raw.problem("encoding").message == (
        "'encoding' must be one of 'utf-8', 'utf-16' or 'latin-1', got 'ebcdic'"
    )


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/etc/passwd.csv", "must be relative to the product folder"),
        ("~/x.csv", "must be relative to the product folder"),
        ("C:/data/x.csv", "must be relative to the product folder"),
        ("data/../../x.csv", "must stay inside the product folder (no '..')"),
    ],
)
def test_file_paths_stay_inside_the_folder(raw: ProductFolder, path: str, why: str) -> None:
    with_source(raw, f"{{path: '{path}'}}")

    assert raw.problem("path").message == f"path {path!r} {why}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("titles.titles", ProductSource("titles", "titles")),
        ("titles.titles@3", ProductSource("titles", "titles", 3)),
        ("{product: titles, port: daily, version: 2}", ProductSource("titles", "daily", 2)),
    ],
)
def test_product_sources(derived: ProductFolder, value: str, expected: ProductSource) -> None:
    derived.edit(DESCRIPTOR, "value: titles.titles@3", f"value: {value}")

    assert derived.load().input_ports[0].source == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("titles", "is not '<product>.<port>' or '<product>.<port>@<version>'"),
        ("titles.titles@0", "version must be a positive integer"),
        ("{product: titles, port: t, version: 0}", "'version' should be greater than 0"),
        ("{product: titles, port: t, version: '2'}", "'version' must be an integer, got a string"),
        ("{product: titles, port: t, path: x.csv}", "not both"),
        ("[titles]", "source must be a mapping or '<product>.<port>', got a list"),
        ("Titles.titles", "product 'Titles' is not a valid name"),
    ],
)
def test_bad_product_sources(derived: ProductFolder, value: str, fragment: str) -> None:
    derived.edit(DESCRIPTOR, "value: titles.titles@3", f"value: {value}")

    problem = derived.problem(fragment)

    assert problem.line == 10


def test_input_port_without_source_is_reported_on_the_port(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "property: source", "property: x-source")

    problem = raw.problem("has no source")

    assert problem.message.startswith("input port 'raw_titles' has no source")
    assert (problem.line, problem.col) == (line_of(RAW_DESCRIPTOR, "- name: raw_titles"), 5)


def test_misspelled_port_property_gets_a_suggestion(raw: ProductFolder) -> None:
    raw.edit(DESCRIPTOR, "property: source", "property: sourc")

    assert raw.problem("sourc'").message.startswith("unknown daap property 'sourc'; did you mean 'source'?")
