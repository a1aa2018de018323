"""Product- and column-level lineage computed from product specs, and impact analysis over it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from daap.errors import NotFound
from daap.mesh.catalog.lineage import (
    ColumnLineage,
    Edge,
    FilterEdge,
    Impact,
    ProductEdge,
    SourceColumn,
    column_lineage,
    column_links,
    impact,
    lineage_edges,
    product_lineage,
)
from daap.spec import ProductSource, ProductSpec, load_product
from fixtures.spec_folders import ProductFolder

EXAMPLES = Path(__file__).parents[3] / "examples" / "streaming-media"

#: the upstream ports the SQL shapes below read: input port -> (source, columns)
EVENTS = ("playback.events", ["event_id", "viewer_id", "title_id", "watch_seconds", "device", "info"])
TITLES = ("catalogue.titles", ["title_id", "title", "genre"])
CLIPS = ("clips.clips", ["clip_id", "title_id", "watch_seconds"])


def write_product(
    root: Path,
    name: str,
    inputs: Mapping[str, str],
    outputs: Mapping[str, Sequence[str]],
    transformation: str | None = None,
    files: Mapping[str, str] | None = None,
) -> ProductSpec:
    """A product folder: ``inputs`` port -> ``product.port`` (or a YAML mapping for a file),
    ``outputs`` port -> contract columns, ``transformation`` the YAML value of that property."""
    folder = ProductFolder(root / name)
    ports = "".join(
        f"  - name: {port}\n    customProperties:\n      - property: source\n        value: {source}\n"
        for port, source in inputs.items()
    )
    kind = "derived" if transformation else "raw"
    custom = f"  - property: productType\n    value: {kind}\n"
    if transformation:
        custom += f"  - property: transformation\n    value: {transformation}\n"
    folder.write(
        "dataproduct.yaml",
        f"apiVersion: v1.1.0\nkind: DataProduct\nid: {name}-1\nname: {name}\nstatus: active\n"
        f"inputPorts:\n{ports}outputPorts:\n"
        + "".join(f"  - name: {port}\n" for port in outputs)
        + f"customProperties:\n{custom}",
    )
    for port, columns in outputs.items():
        properties = "".join(f"      - {{name: {c}, logicalType: string}}\n" for c in columns)
        folder.write(
            f"contracts/{port}.odcs.yaml",
            f"apiVersion: v3.2.0\nkind: DataContract\nid: {name}-{port}\nversion: 1.0.0\n"
            f"schema:\n  - name: {port}\n    properties:\n{properties}",
        )
    for relative, text in (files or {}).items():
        folder.write(relative, text)
    return folder.load()


def sql_product(
    root: Path,
    sql: str,
    columns: Sequence[str],
    inputs: Mapping[str, tuple[str, list[str]]] | None = None,
    known: bool = True,
) -> ColumnLineage:
    """Column lineage of product ``p`` whose one port ``out`` has ``columns``, made by ``sql``."""
    inputs = inputs if inputs is not None else {"events": EVENTS, "titles": TITLES}
    spec = write_product(
        root,
        "p",
        {port: source for port, (source, _) in inputs.items()},
        {"out": columns},
        "{sql: transform.sql}",
        {"transform.sql": sql},
    )
    return column_lineage(spec, {port: cols for port, (_, cols) in inputs.items()} if known else {})


def sources(lineage: ColumnLineage, column: str, port: str = "out") -> set[tuple[str, str]]:
    """``{("upstream.port.column", kind)}`` of one output column (unknown edges: the reason)."""
    return {(str(e.source) if e.source else f"? {e.reason}", e.kind) for e in lineage.sources(port, column)}


def reasons(lineage: ColumnLineage, column: str, port: str = "out") -> str:
    (edge,) = lineage.sources(port, column)
    assert edge.kind == "unknown" and edge.source is None and edge.reason
    return edge.reason


# -- the demo ----------------------------------------------------------------------------


def upstream_columns(spec: ProductSpec) -> dict[str, list[str]]:
    """Each input port's columns, from the upstream product's contract (as the catalog knows them)."""
    found = {}
    for port in spec.input_ports:
        assert isinstance(port.source, ProductSource)
        upstream = load_product(EXAMPLES / port.source.product).output_port(port.source.port)
        assert upstream is not None
        found[port.name] = [c.name for c in upstream.contract.columns]
    return found


def test_demo_title_popularity_reads_events_and_titles() -> None:
    spec = load_product(EXAMPLES / "title_popularity")

    assert product_lineage(spec) == [
        ProductEdge("playback_events.events", "title_popularity", "events"),
        ProductEdge("titles.titles", "title_popularity", "titles"),
    ]


def test_demo_title_popularity_columns() -> None:
    spec = load_product(EXAMPLES / "title_popularity")

    lineage = column_lineage(spec, upstream_columns(spec))

    events = "playback_events.events"
    assert sources(lineage, "title_id", "popularity") == {(f"{events}.title_id", "direct")}
    assert sources(lineage, "title", "popularity") == {("titles.titles.title", "direct")}
    assert sources(lineage, "genre", "popularity") == {("titles.titles.genre", "direct")}
    assert sources(lineage, "plays", "popularity") == {(f"{events}.*", "derived")}
    assert sources(lineage, "viewers", "popularity") == {(f"{events}.viewer_id", "derived")}
    assert sources(lineage, "hours_watched", "popularity") == {(f"{events}.watch_seconds", "derived")}
    assert sources(lineage, "completion_rate", "popularity") == {(f"{events}.completed", "derived")}
    assert sources(lineage, "popularity_rank", "popularity") == {(f"{events}.watch_seconds", "derived")}
    assert (lineage.sources("popularity", "plays")[0].source or SourceColumn("", "")).product == (
        "playback_events"
    )
    # the join and GROUP BY key decides the rows; it is no source of the other columns
    assert set(lineage.filters) == {
        FilterEdge("title_popularity", "popularity", SourceColumn(events, "title_id")),
        FilterEdge("title_popularity", "popularity", SourceColumn("titles.titles", "title_id")),
    }
    assert lineage.unknown == ()


def test_demo_raw_product_passes_its_file_through() -> None:
    spec = load_product(EXAMPLES / "playback_events")

    (edge,) = product_lineage(spec)
    lineage = column_lineage(spec, {})

    assert edge == ProductEdge("file:data/generated/*.ndjson", "playback_events", "device_events")
    (viewer,) = lineage.sources("events", "viewer_id")
    assert (viewer.kind, viewer.source) == (
        "direct",
        SourceColumn("file:data/generated/*.ndjson", "viewer_id"),
    )
    assert viewer.source is not None
    assert viewer.source.file == "data/generated/*.ndjson"
    assert viewer.source.product is None
    assert len(lineage.edges) == len(spec.output_ports[0].contract.columns)


# -- SQL shapes --------------------------------------------------------------------------


def test_ctes_subqueries_and_join_aliases(tmp_path: Path) -> None:
    lineage = sql_product(
        tmp_path,
        """
        WITH watched AS (SELECT title_id AS tid, watch_seconds FROM events),
             per_title AS (SELECT tid, sum(watch_seconds) AS seconds FROM watched GROUP BY tid)
        SELECT t.title AS name, w.tid AS title_id, w.seconds
        FROM (SELECT * FROM per_title) AS w
        JOIN titles AS t ON t.title_id = w.tid
        """,
        ["name", "title_id", "seconds"],
    )

    assert sources(lineage, "name") == {("catalogue.titles.title", "direct")}
    assert sources(lineage, "title_id") == {("playback.events.title_id", "direct")}
    assert sources(lineage, "seconds") == {("playback.events.watch_seconds", "derived")}


def test_select_star_expands_with_the_input_columns(tmp_path: Path) -> None:
    lineage = sql_product(tmp_path, "SELECT * FROM titles", ["title_id", "genre"])

    assert sources(lineage, "title_id") == {("catalogue.titles.title_id", "direct")}
    assert sources(lineage, "genre") == {("catalogue.titles.genre", "direct")}


def test_select_star_over_unknown_columns_is_unknown(tmp_path: Path) -> None:
    lineage = sql_product(tmp_path, "SELECT * FROM titles", ["genre"], known=False)

    assert "no column 'genre'" in reasons(lineage, "genre")
    assert "*" in reasons(lineage, "genre")


def test_star_exclude_and_replace(tmp_path: Path) -> None:
    lineage = sql_product(
        tmp_path,
        "SELECT * EXCLUDE (device) REPLACE (watch_seconds / 60 AS watch_seconds) FROM events",
        ["viewer_id", "watch_seconds", "device"],
    )

    assert sources(lineage, "viewer_id") == {("playback.events.viewer_id", "direct")}
    assert sources(lineage, "watch_seconds") == {("playback.events.watch_seconds", "derived")}
    assert "no column 'device'" in reasons(lineage, "device")


def test_aggregates_case_and_window_functions_are_derived(tmp_path: Path) -> None:
    lineage = sql_product(
        tmp_path,
        """
        SELECT
            title_id,
            count(*) AS plays,
            max(watch_seconds) AS longest,
            sum(CASE WHEN device = 'tv' THEN 1 ELSE 0 END) AS on_tv,
            row_number() OVER (PARTITION BY viewer_id ORDER BY event_id) AS nth,
            'v1' AS version
        FROM events
        """,
        ["title_id", "plays", "longest", "on_tv", "nth", "version"],
    )

    assert sources(lineage, "title_id") == {("playback.events.title_id", "direct")}
    assert sources(lineage, "plays") == {("playback.events.*", "derived")}
    assert sources(lineage, "longest") == {("playback.events.watch_seconds", "derived")}
    assert sources(lineage, "on_tv") == {("playback.events.device", "derived")}
    assert sources(lineage, "nth") == {
        ("playback.events.viewer_id", "derived"),
        ("playback.events.event_id", "derived"),
    }
    # a constant has no source at all, and is not unknown either
    assert lineage.sources("out", "version") == ()
    aggregated = {c: {e.aggregated for e in lineage.sources("out", c)} for c in ("plays", "longest", "on_tv")}
    assert aggregated == {"plays": {True}, "longest": {True}, "on_tv": {True}}
    assert {e.aggregated for c in ("title_id", "nth") for e in lineage.sources("out", c)} == {False}


def test_an_aggregate_is_followed_through_ctes_and_passed_on(tmp_path: Path) -> None:
    lineage = sql_product(
        tmp_path,
        """
        WITH per_title AS (SELECT title_id, sum(watch_seconds) AS seconds FROM events GROUP BY title_id)
        SELECT p.title_id, round(p.seconds / 3600, 1) AS hours, t.genre
        FROM per_title p JOIN titles t USING (title_id)
        """,
        ["title_id", "hours", "genre"],
    )

    [hours] = lineage.sources("out", "hours")
    assert (str(hours.source), hours.kind, hours.aggregated) == (
        "playback.events.watch_seconds",
        "derived",
        True,
    )
    assert not any(e.aggregated for c in ("title_id", "genre") for e in lineage.sources("out", c))


def test_union_takes_sources_from_every_branch(tmp_path: Path) -> None:
    lineage = sql_product(
        tmp_path,
        """
        SELECT title_id, watch_seconds AS seconds FROM events
        UNION ALL
        SELECT title_id, watch_seconds * 2 FROM clips
        UNION
        SELECT title_id, NULL FROM titles
        """,
        ["title_id", "seconds"],
        {"events": EVENTS, "titles": TITLES, "clips": CLIPS},
    )

    assert sources(lineage, "title_id") == {
        ("playback.events.title_id", "direct"),
        ("clips.clips.title_id", "direct"),
        ("catalogue.titles.title_id", "direct"),
    }
    assert sources(lineage, "seconds") == {
        ("playback.events.watch_seconds", "direct"),
        ("clips.clips.watch_seconds", "derived"),
    }


def test_union_by_name_matches_columns_by_name(tmp_path: Path) -> None:
    lineage = sql_product(
        tmp_path,
        "SELECT title_id, genre FROM titles UNION ALL BY NAME SELECT watch_seconds, title_id FROM events",
        ["title_id", "genre", "watch_seconds"],
    )

    assert sources(lineage, "title_id") == {
        ("catalogue.titles.title_id", "direct"),
        ("playback.events.title_id", "direct"),
    }
    assert sources(lineage, "genre") == {("catalogue.titles.genre", "direct")}
    assert sources(lineage, "watch_seconds") == {("playback.events.watch_seconds", "direct")}


def test_using_join_key_comes_from_both_sides(tmp_path: Path) -> None:
    lineage = sql_product(
        tmp_path,
        "SELECT title_id, title, viewer_id FROM events JOIN titles USING (title_id)",
        ["title_id", "title", "viewer_id"],
    )

    assert sources(lineage, "title_id") == {
        ("playback.events.title_id", "direct"),
        ("catalogue.titles.title_id", "direct"),
    }
    assert sources(lineage, "title") == {("catalogue.titles.title", "direct")}
    assert sources(lineage, "viewer_id") == {("playback.events.viewer_id", "direct")}


def test_qualified_and_unqualified_columns(tmp_path: Path) -> None:
    lineage = sql_product(
        tmp_path,
        "SELECT events.viewer_id, genre, e2.device FROM events JOIN titles ON true JOIN events AS e2 ON true",
        ["viewer_id", "genre", "device"],
    )

    assert sources(lineage, "viewer_id") == {("playback.events.viewer_id", "direct")}
    assert sources(lineage, "genre") == {("catalogue.titles.genre", "direct")}
    assert sources(lineage, "device") == {("playback.events.device", "direct")}


def test_a_column_that_cannot_be_resolved_leaves_the_others_alone(tmp_path: Path) -> None:
    # `nope` is in no input and two sources could hold it; `legacy.t` is no input port
    lineage = sql_product(
        tmp_path,
        "SELECT title, nope, x.y AS z FROM titles JOIN events USING (title_id) JOIN legacy.t AS x ON true",
        ["title", "nope", "z"],
    )

    assert sources(lineage, "title") == {("catalogue.titles.title", "direct")}
    assert "cannot tell which source column 'nope' comes from" in reasons(lineage, "nope")
    assert "reads legacy.t" in reasons(lineage, "z")
    assert "not an input port" in reasons(lineage, "z")


def test_a_column_the_input_lacks_is_unknown(tmp_path: Path) -> None:
    lineage = sql_product(tmp_path, "SELECT title, budget FROM titles", ["title", "budget"])

    assert sources(lineage, "title") == {("catalogue.titles.title", "direct")}
    assert "input port 'titles' has no column 'budget'" in reasons(lineage, "budget")


def test_duckdb_dialect(tmp_path: Path) -> None:
    lineage = sql_product(
        tmp_path,
        """
        FROM events
        SELECT
            title_id::VARCHAR AS title_id,
            info.city AS city,
            list_transform([watch_seconds], x -> x / 60) AS minutes,
            strftime(to_timestamp(event_id), '%Y') AS year,
            count(*) AS plays
        GROUP BY ALL
        QUALIFY row_number() OVER (PARTITION BY device) = 1
        """,
        ["title_id", "city", "minutes", "year", "plays"],
    )

    assert sources(lineage, "title_id") == {("playback.events.title_id", "direct")}
    assert sources(lineage, "city") == {("playback.events.info", "direct")}
    assert sources(lineage, "minutes") == {("playback.events.watch_seconds", "derived")}
    assert sources(lineage, "year") == {("playback.events.event_id", "derived")}
    assert SourceColumn("playback.events", "device") in {f.source for f in lineage.filters}


def test_filter_columns_are_not_sources(tmp_path: Path) -> None:
    lineage = sql_product(
        tmp_path,
        """
        SELECT e.title_id, count(DISTINCT e.viewer_id) AS viewers
        FROM events e JOIN titles t ON t.title_id = e.title_id
        WHERE t.genre = 'drama' AND e.device IN (SELECT device FROM events WHERE watch_seconds > 0)
        GROUP BY e.title_id
        HAVING max(e.event_id) > 10
        """,
        ["title_id", "viewers"],
    )

    assert sources(lineage, "viewers") == {("playback.events.viewer_id", "derived")}
    assert {str(f.source) for f in lineage.filters} == {
        "catalogue.titles.genre",
        "catalogue.titles.title_id",
        "playback.events.title_id",
        "playback.events.device",
        "playback.events.watch_seconds",
        "playback.events.event_id",
    }


def test_scalar_subquery_in_the_select_list_is_derived(tmp_path: Path) -> None:
    lineage = sql_product(
        tmp_path,
        "SELECT t.title, (SELECT max(e.watch_seconds) FROM events e WHERE e.title_id = t.title_id) "
        "AS longest FROM titles t",
        ["title", "longest"],
    )

    assert sources(lineage, "longest") == {("playback.events.watch_seconds", "derived")}
    # the correlation decides which row of the subquery: a filter, from the outer table too
    assert {str(f.source) for f in lineage.filters} == {
        "playback.events.title_id",
        "catalogue.titles.title_id",
    }


def test_lateral_subqueries_and_values(tmp_path: Path) -> None:
    lineage = sql_product(
        tmp_path,
        """
        SELECT e.viewer_id, x.genre, v.label
        FROM events e,
             LATERAL (SELECT t.genre FROM titles t WHERE t.title_id = e.title_id) AS x,
             (VALUES ('all')) AS v(label)
        """,
        ["viewer_id", "genre", "label"],
    )

    assert sources(lineage, "viewer_id") == {("playback.events.viewer_id", "direct")}
    assert sources(lineage, "genre") == {("catalogue.titles.genre", "direct")}
    assert lineage.sources("out", "label") == ()  # a literal


def test_count_star_counts_only_what_the_query_reads(tmp_path: Path) -> None:
    lineage = sql_product(
        tmp_path,
        "WITH unused AS (SELECT * FROM titles), e AS (SELECT * FROM events) SELECT count(*) AS n FROM e",
        ["n"],
    )

    assert sources(lineage, "n") == {("playback.events.*", "derived")}


def test_recursive_cte_terminates(tmp_path: Path) -> None:
    lineage = sql_product(
        tmp_path,
        """
        WITH RECURSIVE ids(n, title_id) AS (
            SELECT 1, title_id FROM titles
            UNION ALL
            SELECT n + 1, title_id FROM ids WHERE n < 3
        )
        SELECT n, title_id FROM ids
        """,
        ["n", "title_id"],
    )

    assert sources(lineage, "title_id") == {("catalogue.titles.title_id", "direct")}
    assert sources(lineage, "n") == set()


def test_tables_created_earlier_in_the_script_are_followed(tmp_path: Path) -> None:
    lineage = sql_product(
        tmp_path,
        """
        CREATE TEMP TABLE per_title AS SELECT title_id, sum(watch_seconds) AS seconds FROM events GROUP BY 1;
        CREATE OR REPLACE VIEW titled AS SELECT p.*, t.genre FROM per_title p JOIN titles t USING (title_id);
        SELECT genre, seconds FROM titled;
        """,
        ["genre", "seconds"],
    )

    assert sources(lineage, "genre") == {("catalogue.titles.genre", "direct")}
    assert sources(lineage, "seconds") == {("playback.events.watch_seconds", "derived")}


def test_several_output_ports_are_the_tables_named_after_them(tmp_path: Path) -> None:
    spec = write_product(
        tmp_path,
        "p",
        {"events": "playback.events"},
        {"by_viewer": ["viewer_id", "plays"], "by_device": ["device"], "missing": ["x"]},
        "{sql: transform.sql}",
        {
            "transform.sql": "CREATE TABLE by_viewer AS "
            "SELECT viewer_id, count(*) AS plays FROM events GROUP BY 1;\n"
            "CREATE VIEW by_device AS SELECT DISTINCT device FROM events;\n"
        },
    )

    lineage = column_lineage(spec, {"events": EVENTS[1]})

    assert sources(lineage, "viewer_id", "by_viewer") == {("playback.events.viewer_id", "direct")}
    assert sources(lineage, "plays", "by_viewer") == {("playback.events.*", "derived")}
    assert sources(lineage, "device", "by_device") == {("playback.events.device", "direct")}
    assert "creates no table or view 'missing'" in reasons(lineage, "x", "missing")


def test_file_inputs_are_file_nodes(tmp_path: Path) -> None:
    spec = write_product(
        tmp_path,
        "p",
        {"raw": "{path: 'data/*.csv'}", "titles": "catalogue.titles@3"},
        {"out": ["id", "title"]},
        "{sql: transform.sql}",
        {"transform.sql": "SELECT raw.id, t.title FROM raw JOIN titles t ON raw.id = t.title_id"},
    )

    lineage = column_lineage(spec, {"raw": ["id"], "titles": TITLES[1]})

    assert product_lineage(spec) == [
        ProductEdge("file:data/*.csv", "p", "raw"),
        ProductEdge("catalogue.titles", "p", "titles", version=3),
    ]
    assert sources(lineage, "id") == {("file:data/*.csv.id", "direct")}
    assert sources(lineage, "title") == {("catalogue.titles.title", "direct")}


# -- when the lineage cannot be known ------------------------------------------------------


def test_python_transformation_is_unknown(tmp_path: Path) -> None:
    spec = write_product(
        tmp_path,
        "p",
        {"events": "playback.events"},
        {"out": ["viewer_id", "plays"]},
        "{python: build.py, function: summarize}",
        {"build.py": "def summarize(inputs):\n    return inputs['events']\n"},
    )

    lineage = column_lineage(spec, {"events": EVENTS[1]})

    assert [e.kind for e in lineage.edges] == ["unknown", "unknown"]
    assert reasons(lineage, "plays") == "Python transformation build.py:summarize: column lineage is unknown"
    # the product level still holds
    assert product_lineage(spec) == [ProductEdge("playback.events", "p", "events")]


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("SELEC title FROM titles", "line 1, column 16"),
        ("SELECT (title FROM titles", "Expecting )"),
        ("SELECT 'unterminated FROM titles", "cannot parse"),
    ],
)
def test_sql_that_does_not_parse_is_unknown_with_the_reason(tmp_path: Path, sql: str, fragment: str) -> None:
    lineage = sql_product(tmp_path, sql, ["title", "genre"])

    assert [e.kind for e in lineage.edges] == ["unknown", "unknown"]
    assert reasons(lineage, "title").startswith("transform.sql: sqlglot cannot parse it")
    assert fragment in reasons(lineage, "genre")


def test_a_union_branch_that_cannot_be_expanded_is_unknown_beside_the_others(tmp_path: Path) -> None:
    lineage = sql_product(
        tmp_path, "SELECT title_id FROM events UNION SELECT * FROM legacy_titles", ["title_id"]
    )

    assert sources(lineage, "title_id") == {
        ("playback.events.title_id", "direct"),
        ("? transform.sql: * cannot be expanded", "unknown"),
    }


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("-- to do\n", "transform.sql: the script holds no statement"),
        (
            "INSERT INTO somewhere SELECT * FROM titles",
            "transform.sql: the script ends in INSERT, not a query, and creates no table or view 'out'",
        ),
    ],
)
def test_a_script_without_the_port_query_is_unknown(tmp_path: Path, sql: str, reason: str) -> None:
    assert reasons(sql_product(tmp_path, sql, ["title"]), "title") == reason


def test_a_contract_column_the_query_does_not_produce_is_unknown(tmp_path: Path) -> None:
    lineage = sql_product(tmp_path, "SELECT title FROM titles", ["title", "rating"])

    assert sources(lineage, "title") == {("catalogue.titles.title", "direct")}
    assert reasons(lineage, "rating") == "transform.sql: the query selects no column 'rating'"


# -- as the metadata store keeps it -------------------------------------------------------

#: title_id passes through, viewers and plays are computed, genre and the join key filter,
#: budget is in no input, z reads a table that is no input port and a column no input has
STORED_SQL = """
SELECT e.title_id, count(DISTINCT e.viewer_id) AS viewers, count(*) AS plays, budget,
       coalesce(x.y, nope) AS z
FROM events e JOIN titles t ON t.title_id = e.title_id JOIN legacy.t AS x ON true
WHERE t.genre = 'drama'
GROUP BY e.title_id
"""


def stored_edges(tmp_path: Path) -> list[Edge]:
    spec = write_product(
        tmp_path,
        "p",
        {"events": EVENTS[0], "titles": TITLES[0]},
        {"out": ["title_id", "viewers", "plays", "budget", "z"]},
        "{sql: transform.sql}",
        {"transform.sql": STORED_SQL},
    )
    return lineage_edges(spec, {"events": EVENTS[1], "titles": TITLES[1]})


def test_column_links_are_the_column_edges_of_one_version(tmp_path: Path) -> None:
    links = column_links("p", 3, stored_edges(tmp_path))

    not_there = "transform.sql: reads legacy.t AS x, which is not an input port"
    assert {(link.product, link.version) for link in links} == {("p", 3)}
    assert [(k.target, k.source, k.kind, k.certain, k.reason) for k in links] == [
        ("p.out", "catalogue.titles.genre", "filter", True, None),
        ("p.out", "catalogue.titles.title_id", "filter", True, None),
        ("p.out", "playback.events.title_id", "filter", True, None),
        (
            "p.out.budget",
            "unknown:1",
            "unknown",
            False,
            "transform.sql: cannot tell which source column 'budget' comes from",
        ),
        ("p.out.plays", "catalogue.titles.*", "derived", True, None),
        ("p.out.plays", "playback.events.*", "derived", True, None),
        ("p.out.plays", "unknown:1", "unknown", False, not_there),
        ("p.out.title_id", "playback.events.title_id", "direct", True, None),
        ("p.out.viewers", "playback.events.viewer_id", "derived", True, None),
        (
            "p.out.z",
            "unknown:1",
            "unknown",
            False,
            "transform.sql: cannot tell which source column 'nope' comes from",
        ),
        ("p.out.z", "unknown:2", "unknown", False, not_there),
    ]


def test_column_links_do_not_depend_on_the_edges_order_and_refuse_other_products(tmp_path: Path) -> None:
    edges = stored_edges(tmp_path)

    assert column_links("p", 1, list(reversed(edges))) == column_links("p", 1, edges)
    assert column_links("p", 1, [e for e in edges if isinstance(e, ProductEdge)]) == []
    with pytest.raises(ValueError, match=r"ColumnLink\.target must be q\.port\.column"):
        column_links("q", 1, edges)
    with pytest.raises(ValueError, match=r"ColumnLink\.version must be an integer of at least 1, not 0"):
        column_links("p", 0, edges)


# -- impact analysis ---------------------------------------------------------------------


def chain(tmp_path: Path) -> dict[str, list[Edge]]:
    """raw (file) -> a.t -> b.u -> c.v, each column by column, plus a filter in c."""
    a = write_product(tmp_path, "a", {"f": "{path: data/a.csv}"}, {"t": ["id", "x", "y"]})
    b = write_product(
        tmp_path,
        "b",
        {"t": "a.t"},
        {"u": ["id", "x2", "y"]},
        "{sql: b.sql}",
        {"b.sql": "SELECT id, x * 2 AS x2, y FROM t"},
    )
    c = write_product(
        tmp_path,
        "c",
        {"u": "b.u"},
        {"v": ["id", "total"]},
        "{sql: c.sql}",
        {"c.sql": "SELECT id, sum(x2) AS total FROM u WHERE y > 0 GROUP BY id"},
    )
    return {
        "a": lineage_edges(a, {"f": ["id", "x", "y"]}),
        "b": lineage_edges(b, {"t": ["id", "x", "y"]}),
        "c": lineage_edges(c, {"u": ["id", "x2", "y"]}),
    }


def nodes(found: list[Impact]) -> dict[str, tuple[int, str, bool]]:
    return {
        f"{i.kind}:{i.node}" if i.kind in ("product", "filter") else i.node: (i.depth, i.kind, i.certain)
        for i in found
    }


def test_impact_of_a_column_follows_a_three_product_chain(tmp_path: Path) -> None:
    found = impact(chain(tmp_path), "a.t.x")

    assert nodes(found) == {
        "b.u.x2": (1, "derived", True),
        "product:b": (1, "product", True),
        "c.v.total": (2, "derived", True),
        "product:c": (2, "product", True),
    }
    assert found[0].via == "a.t.x"


def test_impact_of_a_filter_column_names_the_port_not_its_columns(tmp_path: Path) -> None:
    found = nodes(impact(chain(tmp_path), "a.t.y"))

    assert found == {
        "b.u.y": (1, "direct", True),
        "product:b": (1, "product", True),
        "filter:c.v": (2, "filter", True),
        "product:c": (2, "product", True),
    }


def test_impact_of_a_product_reaches_every_downstream_product_and_column(tmp_path: Path) -> None:
    found = nodes(impact(chain(tmp_path), "a"))

    assert {k for k in found if k.startswith("product:")} == {"product:b", "product:c"}
    assert {"b.u.id", "b.u.x2", "b.u.y", "c.v.id", "c.v.total"} <= set(found)
    assert found["product:c"][0] == 2
    assert nodes(impact(chain(tmp_path), "file:data/a.csv"))["c.v.total"] == (3, "derived", True)


def test_impact_over_a_diamond_lists_each_node_once(tmp_path: Path) -> None:
    a = write_product(tmp_path, "a", {"f": "{path: a.csv}"}, {"t": ["k", "v"]})
    left = write_product(
        tmp_path,
        "l",
        {"t": "a.t"},
        {"o": ["k", "v"]},
        "{sql: q.sql}",
        {"q.sql": "SELECT k, v + 1 AS v FROM t"},
    )
    right = write_product(
        tmp_path, "r", {"t": "a.t"}, {"o": ["k", "w"]}, "{sql: q.sql}", {"q.sql": "SELECT k, v AS w FROM t"}
    )
    join = "SELECT l.k, l.v + r.w AS s FROM l JOIN r USING (k)"
    bottom = write_product(
        tmp_path, "d", {"l": "l.o", "r": "r.o"}, {"o": ["k", "s"]}, "{sql: q.sql}", {"q.sql": join}
    )
    edges = {
        "a": lineage_edges(a, {}),
        "l": lineage_edges(left, {"t": ["k", "v"]}),
        "r": lineage_edges(right, {"t": ["k", "v"]}),
        "d": lineage_edges(bottom, {"l": ["k", "v"], "r": ["k", "w"]}),
    }

    found = impact(edges, "a.t.v")

    assert nodes(found) == {
        "l.o.v": (1, "derived", True),
        "r.o.w": (1, "direct", True),
        "product:l": (1, "product", True),
        "product:r": (1, "product", True),
        "d.o.s": (2, "derived", True),
        "product:d": (2, "product", True),
    }
    assert [i.node for i in found] == sorted(i.node for i in found if i.depth == 1) + sorted(
        i.node for i in found if i.depth == 2
    )
    assert [i.node for i in impact(edges, "a") if i.kind == "product"] == ["l", "r", "d"]


def test_impact_through_a_python_product_is_uncertain(tmp_path: Path) -> None:
    edges = chain(tmp_path)
    py = write_product(
        tmp_path,
        "py",
        {"u": "b.u"},
        {"o": ["score"]},
        "{python: m.py, function: f}",
        {"m.py": "def f(inputs):\n    return inputs['u']\n"},
    )
    edges["py"] = lineage_edges(py, {"u": ["id", "x2", "y"]})

    found = nodes(impact(edges, "a.t.x"))

    assert found["py.o.score"] == (2, "unknown", False)
    assert found["product:py"] == (2, "product", False)
    assert found["c.v.total"] == (2, "derived", True)


def test_impact_is_safe_on_cycles(tmp_path: Path) -> None:
    a = write_product(tmp_path, "a", {"b": "b.o"}, {"o": ["k"]}, "{sql: q.sql}", {"q.sql": "SELECT k FROM b"})
    b = write_product(tmp_path, "b", {"a": "a.o"}, {"o": ["k"]}, "{sql: q.sql}", {"q.sql": "SELECT k FROM a"})
    edges = {"a": lineage_edges(a, {"b": ["k"]}), "b": lineage_edges(b, {"a": ["k"]})}

    assert nodes(impact(edges, "a.o.k")) == {
        "b.o.k": (1, "direct", True),
        "product:b": (1, "product", True),
        "a.o.k": (2, "direct", True),
        "product:a": (2, "product", True),
    }
    assert [i.node for i in impact(edges, "a") if i.kind == "product"] == ["b", "a"]


def test_impact_of_an_unknown_node_is_not_found(tmp_path: Path) -> None:
    edges = chain(tmp_path)

    with pytest.raises(NotFound, match="no lineage knows 'nowhere'"):
        impact(edges, "nowhere")
    with pytest.raises(NotFound):
        impact(edges, "a.nope")
    assert impact(edges, "c") == []  # known, nothing reads it
