"""Column lineage per product version (metadata migration 10): the same on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from daap.errors import MetadataError
from daap.mesh.metadata import ColumnLink, MetadataStore, open_metadata_store
from daap.mesh.metadata._schema import MIGRATIONS
from fixtures.metadata import applied_migrations, open_at_migration


def link(
    target: str,
    source: str,
    kind: str = "direct",
    version: int = 1,
    reason: str | None = None,
) -> ColumnLink:
    """A link of the product ``target`` names; unknown links are not certain."""
    product = target.split(".", 1)[0]
    return ColumnLink(product, version, target, source, kind, kind != "unknown", reason)  # type: ignore[arg-type]


def of(version: int, links: list[ColumnLink]) -> list[ColumnLink]:
    """The same links at another version."""
    return [replace(k, version=version) for k in links]


#: revenue's lineage at version 1: one link of every kind, in the order reads return them
REVENUE = [
    link("revenue.daily", "orders.orders.status", "filter"),
    link("revenue.daily.amount", "fx.rates.rate", "derived"),
    link("revenue.daily.amount", "orders.orders.amount", "derived"),
    link("revenue.daily.day", "orders.orders.ordered_at", "derived"),
    link("revenue.daily.note", "unknown:1", "unknown", reason="notes.py: Python transformation"),
    link("revenue.daily.order_count", "orders.orders.*", "derived"),
    link("revenue.daily.region", "orders.orders.region", "direct"),
]


def test_links_round_trip_sorted_with_their_kinds_and_reasons(store: MetadataStore) -> None:
    store.set_column_lineage("revenue", 1, list(reversed(REVENUE)))

    assert store.column_lineage("revenue", 1) == REVENUE
    assert store.column_lineage("revenue") == REVENUE
    assert store.column_lineage_versions("revenue") == [1]
    stored = store.column_lineage("revenue", 1)
    assert [type(k.certain) for k in stored] == [bool] * len(REVENUE)
    assert [k.certain for k in stored if k.kind == "unknown"] == [False]
    assert store.column_lineage("orders") == [] and store.column_lineage_versions("orders") == []


def test_setting_a_version_again_replaces_only_that_version(store: MetadataStore) -> None:
    store.set_column_lineage("revenue", 1, REVENUE)
    store.set_column_lineage("revenue", 2, of(2, REVENUE))
    store.set_column_lineage("orders", 1, [link("orders.orders.amount", "file:data/*.csv.amount")])

    fixed = [link("revenue.daily.amount", "orders.orders.amount", "direct")]
    store.set_column_lineage("revenue", 1, fixed)

    assert store.column_lineage("revenue", 1) == fixed
    assert store.column_lineage("revenue", 2) == of(2, REVENUE)
    assert store.column_lineage("orders") == [link("orders.orders.amount", "file:data/*.csv.amount")]
    store.set_column_lineage("revenue", 1, [])  # nothing left of version 1
    assert store.column_lineage("revenue", 1) == [] and store.column_lineage_versions("revenue") == [2]


def test_a_product_reads_as_its_newest_stored_version(store: MetadataStore) -> None:
    v2 = [link("revenue.daily.amount", "orders.orders.net_amount", "derived", version=2)]
    store.set_column_lineage("revenue", 1, REVENUE)
    store.set_column_lineage("revenue", 2, v2)

    assert store.column_lineage("revenue") == v2
    assert store.column_lineage("revenue", 1) == REVENUE and store.column_lineage("revenue", 2) == v2
    assert store.column_lineage("revenue", 3) == []
    # storing an older version later (a backfill) leaves the newest the newest
    store.set_column_lineage("revenue", 1, REVENUE[:1])
    assert store.column_lineage("revenue") == v2
    assert store.column_lineage_versions("revenue") == [1, 2]


def test_the_whole_mesh_reads_as_every_products_newest_links(store: MetadataStore) -> None:
    report = [link("report.summary.total", "revenue.daily.amount", "derived", version=3)]
    orders = [link("orders.orders.amount", "file:data/*.csv.amount")]
    store.set_column_lineage("revenue", 1, REVENUE)
    store.set_column_lineage("revenue", 2, of(2, REVENUE[1:3]))
    store.set_column_lineage("report", 3, report)
    store.set_column_lineage("report", 1, [link("report.summary.total", "revenue.daily.day")])
    store.set_column_lineage("orders", 1, orders)

    assert store.column_lineage() == [*orders, *report, *of(2, REVENUE[1:3])]
    with pytest.raises(ValueError, match="version 2 needs a product"):
        store.column_lineage(version=2)


def test_links_from_sources_and_to_targets_are_the_newest_versions(store: MetadataStore) -> None:
    store.set_column_lineage("revenue", 1, REVENUE)
    # version 2 no longer reads fx.rates
    store.set_column_lineage("revenue", 2, of(2, [k for k in REVENUE if not k.source.startswith("fx.")]))
    report = [
        link("report.summary.total", "revenue.daily.amount", "derived"),
        link("report.summary.region", "revenue.daily.region"),
    ]
    store.set_column_lineage("report", 1, report)

    assert store.column_links_from(["fx.rates.rate"]) == []
    assert store.column_links_from(
        ["orders.orders.amount", "revenue.daily.amount", "orders.orders.amount"]
    ) == [
        report[0],
        link("revenue.daily.amount", "orders.orders.amount", "derived", version=2),
    ]
    assert store.column_links_from(["orders.orders.status"]) == of(2, REVENUE[:1])
    assert store.column_links_to(["report.summary.total", "revenue.daily.amount", "nobody.x.y"]) == [
        report[0],
        link("revenue.daily.amount", "orders.orders.amount", "derived", version=2),
    ]
    assert store.column_links_to(["revenue.daily"]) == of(2, REVENUE[:1])  # the filter
    assert store.column_links_from([]) == [] and store.column_links_to([]) == []


def test_setting_the_same_links_twice_keeps_one_copy(store: MetadataStore) -> None:
    many = [link(f"wide.t.c{i:03}", f"raw.t.c{i:03}") for i in range(250)]  # more than one INSERT
    store.set_column_lineage("wide", 1, many + many[:10])
    store.set_column_lineage("wide", 1, many)

    assert store.column_lineage("wide") == many
    assert store.column_links_from(["raw.t.c007"]) == [many[7]]
    with store._tx() as tx:
        (count,) = tx.fetch_one("SELECT count(*) FROM daap_column_lineage")
    assert count == 250


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"product": ""}, "ColumnLink.product must be a product name"),
        ({"product": "a.b", "target": "a.b.t.c"}, "ColumnLink.product must be a product name"),
        ({"version": 0}, "ColumnLink.version must be an integer of at least 1, not 0"),
        ({"version": True}, "ColumnLink.version must be an integer of at least 1, not True"),
        (
            {"kind": "guessed"},
            "ColumnLink.kind must be one of direct, derived, filter, unknown, not 'guessed'",
        ),
        ({"target": "orders.orders.amount"}, "ColumnLink.target must be revenue.port.column"),
        ({"target": "revenue."}, "ColumnLink.target must be revenue.port.column"),
        ({"source": ""}, "ColumnLink.source must not be empty"),
    ],
)
def test_a_malformed_link_is_refused_naming_its_field(fields: dict[str, object], error: str) -> None:
    good: dict[str, object] = {
        "product": "revenue",
        "version": 1,
        "target": "revenue.daily.amount",
        "source": "orders.orders.amount",
        "kind": "direct",
    }
    with pytest.raises(ValueError) as caught:
        ColumnLink(**{**good, **fields})  # type: ignore[arg-type]
    assert str(caught.value).startswith(error)


def test_bad_input_stores_nothing_and_keeps_what_was_there(store: MetadataStore) -> None:
    store.set_column_lineage("revenue", 1, REVENUE)
    other_version = link("revenue.daily.amount", "orders.orders.amount", version=2)
    twice = [
        link("revenue.daily.day", "orders.orders.day"),
        link("revenue.daily.day", "orders.orders.day", reason="x"),
    ]

    with pytest.raises(ValueError, match=r"set_column_lineage: product must be a product name"):
        store.set_column_lineage("", 1, [])
    with pytest.raises(
        ValueError, match=r"set_column_lineage: version must be an integer of at least 1, not 0"
    ):
        store.set_column_lineage("revenue", 0, [])
    with pytest.raises(ValueError, match="was given a link of revenue version 2"):
        store.set_column_lineage("revenue", 1, [*REVENUE[:3], other_version, *REVENUE[3:]])
    with pytest.raises(ValueError, match="differ in certain or reason"):
        store.set_column_lineage("revenue", 1, twice)
    with pytest.raises(ValueError, match="was given a link of revenue version 1"):
        store.set_column_lineage("revenue", 2, [*of(2, REVENUE), REVENUE[0]])

    assert store.column_lineage("revenue", 1) == REVENUE
    assert store.column_lineage_versions("revenue") == [1]


def test_a_store_at_migration_9_upgrades_to_10_keeping_its_data(store_url: str) -> None:
    assert [(m.version, m.name) for m in MIGRATIONS][8:10] == [(9, "product lineage"), (10, "column lineage")]
    old = open_at_migration(store_url, 9)
    try:
        old.set_product_lineage("revenue", ["orders.orders"])
        with pytest.raises(MetadataError, match="daap_column_lineage"):
            old.set_column_lineage("revenue", 1, REVENUE)  # not there yet
    finally:
        old.close()

    upgraded = open_metadata_store(store_url)
    try:
        assert upgraded.product_lineage_edges() == [("orders.orders", "revenue")]
        upgraded.set_column_lineage("revenue", 1, REVENUE)
        assert upgraded.column_lineage() == REVENUE
    finally:
        upgraded.close()

    again = open_metadata_store(store_url)  # nothing left to apply
    try:
        assert applied_migrations(again)[8:10] == [(9, "product lineage"), (10, "column lineage")]
        assert again.column_lineage("revenue") == REVENUE
    finally:
        again.close()
