"""The read-only guard refuses everything but queries over product ports."""

from __future__ import annotations

import pytest

from daap.errors import QueryError, QueryRefused
from daap.query.guard import PortRef, check_query


def test_collects_port_references_in_order():
    refs = check_query("SELECT * FROM a.x JOIN b.y USING (id) WHERE id IN (SELECT id FROM a.x)")
    assert refs == (PortRef("a", "x"), PortRef("b", "y"))


def test_ctes_and_generators_are_not_ports():
    assert check_query("WITH c AS (SELECT * FROM p.q) SELECT * FROM c, range(3)") == (PortRef("p", "q"),)


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("INSERT INTO p.q VALUES (1)", "not INSERT"),
        ("DELETE FROM p.q", "not DELETE"),
        ("DROP TABLE p.q", "not DROP"),
        ("CREATE TABLE x AS SELECT 1", "not CREATE"),
        ("COPY p.q TO '/tmp/x.csv'", "not COPY"),
        ("ATTACH 'other.db'", "not ATTACH"),
        ("INSTALL httpfs", "not"),
        ("LOAD httpfs", "not"),
        ("PRAGMA version", "not PRAGMA"),
        ("SET threads = 1", "not SET"),
        ("SELECT 1; SELECT 2", "expected one query, got 2"),
        ("SELECT * FROM read_csv('/etc/passwd')", "READ_CSV is not allowed"),
        ("SELECT * FROM read_parquet('x.parquet')", "not allowed"),
        ("SELECT * FROM glob('*')", "GLOB is not allowed"),
        ("SELECT * FROM '/etc/passwd'", "reading files"),
        ("SELECT getenv('HOME')", "getenv is not allowed"),
        ("SELECT * FROM cat.p.q", "or daap.<product>.<port>"),
    ],
)
def test_refused(sql, fragment):
    with pytest.raises(QueryRefused) as info:
        check_query(sql)
    assert fragment.lower() in str(info.value).lower()


def test_unknown_bare_table_suggests_the_naming():
    with pytest.raises(QueryError, match=r"(?s)unknown table 'titles'.*<product>\.<port>"):
        check_query("SELECT * FROM titles")


def test_syntax_error_names_the_position():
    with pytest.raises(QueryError, match=r"line 1, column \d+"):
        check_query("SELECT * FROM p.q WHERE (")


def test_the_daap_catalog_may_be_named():
    from daap.query.guard import needs_rewrite, parse_query

    tree, refs = parse_query("SELECT * FROM daap.p.q JOIN r.s USING (id)")
    assert refs == (PortRef("p", "q"), PortRef("r", "s")) and needs_rewrite(tree)
    assert "daap." not in tree.sql("duckdb").lower()
    plain, _ = parse_query("SELECT * FROM p.q")
    assert not needs_rewrite(plain)
