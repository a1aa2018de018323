"""``access.yaml`` (row filters, masks) read with positions, and compiled into a reader's relation.

The compiled relations run on a real DuckDB connection over a small table, so
each mask and filter is checked by what it returns, not by its SQL text.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from daap.errors import SpecError
from daap.mesh.policy.restrict import FilterError, compile_restriction, filter_problems
from daap.spec.access import access_problems, load_access, mask_for
from daap.spec.mesh import PrincipalSpec
from daap.spec.model import ProductSpec
from fixtures.spec_folders import RAW_DESCRIPTOR, TITLES_CONTRACT, ProductFolder

ANA = PrincipalSpec("ana", roles=("analyst",), domain="content", attributes={"region": "EU"})
NOBODY = PrincipalSpec("nobody")
ROWS = """CREATE TABLE t AS SELECT * FROM (VALUES
    (1, 'EU', 'The Long Night', 9.99, TIMESTAMPTZ '2021-05-03 10:00:00+00'),
    (2, 'US', 'Go', 5.00, TIMESTAMPTZ '1999-12-31 23:00:00+00'),
    (3, 'EU', NULL, NULL, NULL)
) AS v(title_id, region, title, price, released_at)"""


@pytest.fixture
def product(tmp_path: Path) -> ProductSpec:
    folder = ProductFolder(tmp_path / "titles")
    folder.write("dataproduct.yaml", RAW_DESCRIPTOR)
    contract = TITLES_CONTRACT.replace(
        "        description: display title\n", "        classification: pii\n"
    )
    contract = contract.replace(
        "        physicalType: decimal(10,2)\n",
        "        physicalType: decimal(10,2)\n        classification: secret\n",
    )
    folder.write("contracts/titles.odcs.yaml", contract)
    return folder.load()


def write(product: ProductSpec, text: str) -> None:
    (product.folder / "access.yaml").write_text(text)


def rows(
    product: ProductSpec, who: PrincipalSpec, *, exempt: bool = False, unmasked: dict | None = None
) -> list:
    access = load_access(product.folder)
    restriction = compile_restriction(
        product.name, product.output_ports[0], access, who, exempt=exempt, unmasked=unmasked or {},
        mesh_masks={}, hash_key="k",
    )  # fmt: skip
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(ROWS)
    return con.sql(f"SELECT * FROM ({restriction.relation('t')}) ORDER BY title_id").fetchall()


def test_no_file_means_no_filter_but_classified_columns_are_still_redacted(product):
    got = rows(product, ANA)
    assert [r[2] for r in got] == ["***", "***", None]  # pii: redact by default; a null stays null
    assert [r[3] for r in got] == [None, None, None]  # a number cannot keep '***': null
    assert [r[1] for r in got] == ["EU", "US", "EU"]  # public: not masked
    assert rows(product, ANA, unmasked={"pii": True, "secret": True})[0][2:4] == (
        "The Long Night",
        Decimal("9.99"),
    )


def test_a_filter_binds_the_readers_attributes_and_fails_closed_without_them(product):
    write(product, "rowFilters:\n  - {name: own, where: region = principal.region}\n")
    assert [r[0] for r in rows(product, ANA)] == [1, 3]
    assert rows(product, NOBODY) == []  # no region attribute: NULL compares false
    assert [r[0] for r in rows(product, NOBODY, exempt=True)] == [1, 2, 3]


def test_roles_and_names_in_a_condition_and_exempt_roles(product):
    write(product, "rowFilters:\n"
                   "  - {name: staff, where: \"'analyst' IN principal.roles AND principal.name <> 'x'\"}\n"
                   "  - {name: eu, where: \"region = 'EU'\", exempt: [analyst]}\n")  # fmt: skip
    assert [r[0] for r in rows(product, ANA)] == [1, 2, 3]  # staff holds; exempt from eu
    assert rows(product, NOBODY) == []  # no roles: an empty IN list is false


def test_each_mask_keeps_the_type_and_hides_the_value(product):
    write(product, "columns:\n  titles.title: last4\n  titles.released_at: year\n  titles.price: 'null'\n"
                   "masks:\n  public: hash\n")  # fmt: skip
    got = rows(product, ANA)
    assert [r[2] for r in got] == ["***ight", "***", None]  # 'Go' is too short to keep 4
    assert [r[4].isoformat() if r[4] else None for r in got] == [
        "2021-01-01T00:00:00+00:00",
        "1999-01-01T00:00:00+00:00",
        None,
    ]
    hashed = [r[1] for r in got]
    assert hashed[0] == hashed[2] != hashed[1] and len(hashed[0]) == 32 and "EU" not in hashed[0]


def test_the_mask_order_column_then_product_then_mesh_then_built_in(product):
    column = product.output_ports[0].contract.column("title")
    assert column is not None
    write(product, "masks: {pii: 'null'}\ncolumns: {titles.title: last4}\n")
    assert mask_for("titles", column, load_access(product.folder), {"pii": "hash"}) == "last4"
    write(product, "masks: {pii: 'null'}\n")
    assert mask_for("titles", column, load_access(product.folder), {"pii": "hash"}) == "null"
    write(product, "rowFilters: []\n")
    assert mask_for("titles", column, load_access(product.folder), {"pii": "hash"}) == "hash"
    assert mask_for("titles", column, load_access(product.folder), {}) == "redact"


BAD_FILES = [
    ("rowFilters: {name: x}\n", "access.yaml:1:13: rowFilters must be a list of filters"),
    ("rowFilters:\n  - {where: a = 1}\n", "access.yaml:2:5: a row filter needs a name"),
    ("rowFilters:\n  - {name: x}\n", "row filter 'x' needs a where condition"),
    (
        "rowFilters:\n  - {name: x, where: a = 1}\n  - {name: x, where: b = 1}\n",
        "row filter 'x' is declared twice",
    ),
    ("rowFilters:\n  - {name: x, where: a = 1, wher: 2}\n", "unknown field 'wher'; did you mean 'where'?"),
    ("masks: {pii: hsh}\n", "unknown mask 'hsh'; did you mean 'hash'?"),
    ("colums: {}\n", "unknown field 'colums'; did you mean 'columns'?"),
    ("columns: {title: redact}\n", "'title' must name a column as <port>.<column>"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_a_bad_access_file_is_refused_with_a_position(product, text, message):
    write(product, text)
    with pytest.raises(SpecError) as raised:
        load_access(product.folder)
    assert message in str(raised.value)


MISFITS = [
    ("columns: {titles.nosuch: redact}\n", "has no column 'nosuch' in titles"),
    ("columns: {other.title: redact}\n", "has no output port 'other'"),
    ("columns: {titles.price: last4}\n", "mask 'last4' keeps text only, and column 'price' is number"),
    ("columns: {titles.title: year}\n", "keeps a date's year, and column 'title' is string"),
    ("masks: {secret: hash}\n", "titles.price (classification 'secret'): mask 'hash' keeps text only"),
    (
        "rowFilters:\n  - {name: x, where: a = 1, ports: [other]}\n",
        "row filter 'x': titles has no output port",
    ),
]


@pytest.mark.parametrize(("text", "message"), MISFITS)
def test_what_does_not_fit_the_product_is_named(product, text, message):
    write(product, text)
    found = access_problems(product, load_access(product.folder), {})
    assert any(message in str(d) for d in found), found


CONDITIONS = [
    ("region = (SELECT 'EU')", "is not allowed in a row filter"),
    ("region IN (SELECT region FROM titles.titles)", "is not allowed in a row filter"),
    ("read_text('/etc/passwd') = region", "function read_text is not allowed"),
    ("getenv('HOME') = region", "function getenv is not allowed"),
    ("nosuch = 1", "unknown column 'nosuch'"),
    ("t.region = 'EU'", "name a column of the port without a table"),
    ("principal.a.b = 'x'", "write principal.<name> or principal.attributes.<name>"),
    ("region = 'EU' AND", "cannot parse"),
    ("region = 'EU'; DROP TABLE t", "is not allowed"),
]


@pytest.mark.parametrize(("condition", "message"), CONDITIONS)
def test_a_condition_that_reads_more_than_the_row_and_the_reader_is_refused(product, condition, message):
    write(product, f'rowFilters:\n  - name: bad\n    where: "{condition}"\n')
    access = load_access(product.folder)
    problems = filter_problems(access, {p.name: p for p in product.output_ports})
    assert len(problems) == 1 and message in problems[0].message and problems[0].line == 3
    with pytest.raises(FilterError, match="row filter 'bad' of titles"):
        rows(product, ANA)


def test_a_mask_that_cannot_keep_a_columns_type_hides_it_as_null_instead(product):
    write(product, "masks: {secret: last4}\n")  # price is a number: validate reports it
    assert access_problems(product, load_access(product.folder), {})
    assert [r[3] for r in rows(product, ANA)] == [None, None, None]


def test_the_mask_key_is_made_once_private_and_an_empty_one_is_refused(tmp_path):
    from daap.errors import ConfigError
    from daap.mesh.policy.access import KEY_FILE, AccessControl

    made = AccessControl(tmp_path, env={}).hash_key()
    key = tmp_path / KEY_FILE
    assert len(key.read_bytes()) == 32 and key.stat().st_mode & 0o777 == 0o600
    assert AccessControl(tmp_path, env={}).hash_key() == made  # the same key: hashes still join
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # no temporary file left
    key.write_bytes(b"")
    with pytest.raises(ConfigError, match=r"mask key .* is empty"):
        AccessControl(tmp_path, env={}).hash_key()
