"""The central catalog's entries and search, on SQLite (FTS5) and PostgreSQL (full text) alike.

Every test states what both adapters must return; rank order is asserted only where it
is clear (a match in the name or the objective against one in a column's description).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from daap.errors import MetadataError
from daap.mesh.metadata import (
    CatalogColumn,
    CatalogEntry,
    CatalogPage,
    CatalogPersona,
    CatalogPort,
    MetadataStore,
    open_metadata_store,
)
from daap.mesh.metadata._catalog_words import search_words, word_forms
from daap.mesh.metadata._schema import MIGRATIONS
from fixtures.metadata import applied_migrations, open_at_migration

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def col(name: str, description: str | None = None, classification: str | None = None) -> CatalogColumn:
    return CatalogColumn(name, "string", description, classification)


#: a small streaming-media mesh: (domain, type, owner, objective, tags, columns)
MESH: dict[str, tuple[str, str, str, str, tuple[str, ...], tuple[CatalogColumn, ...]]] = {
    "title_popularity": (
        "content", "derived", "content-team", "Rank titles by weekly popularity for the content team",
        ("kpi", "content"), (col("title_id"), col("views", "plays in the week", "internal"), col("rank")),
    ),
    "playback_events": (
        "streaming", "raw", "platform-team", "Every playback event from the apps, as it happens",
        ("events", "streaming"),
        (col("viewer_email", "email address of the viewer", "pii"),
         col("title_id", "the title; feeds popularity")),
    ),
    "viewer_sessions": (
        "streaming", "derived", "platform-team", "Viewing sessions per viewer and device",
        ("sessions",),
        (col("viewer_id", None, "pii"), col("device"), col("minutes", "watch time, a kpi input")),
    ),
    "next_title_model": (
        "content", "ml-model", "data-science", "Recommend the next title to watch",
        ("ml", "kpi"), (col("viewer_id", None, "pii"), col("score", "predicted popularity for the viewer")),
    ),
    "customer_master": (
        "customer", "derived", "crm-team", "Golden customer records across billing and support",
        ("mdm", "customer"),
        (col("email", None, "pii"), col("address", None, "confidential"),
         col("segment", "used to recommend offers")),
    ),
    "title_catalogue": (
        "content", "raw", "content-team", "The title catalogue migrated from the legacy database",
        ("titles", "legacy"), (col("title_id"), col("genre")),
    ),
}  # fmt: skip
#: unrelated products, so that the mesh's words are rare (as in a real catalog) and rank by weight
FILLER = [f"ledger_{n:02d}" for n in range(8)]


def entry(name: str, **changes: Any) -> CatalogEntry:
    if name in FILLER:
        base = CatalogEntry(
            name, domain="finance", product_type="raw", owner="finance-team",
            business_objective="General ledger balances per account",
            ports=(CatalogPort("balances", "closing balances", (col("account"), col("amount"))),),
            updated_at=T0,
        )  # fmt: skip
        return CatalogEntry(**{**vars(base), **changes})
    domain, type_, owner, objective, tags, columns = MESH[name]
    fields: dict[str, Any] = {
        "domain": domain,
        "product_type": type_,
        "owner": owner,
        "business_objective": objective,
        "tags": tags,
        "ports": (CatalogPort("main", f"the {name.replace('_', ' ')} port", columns),),
        "updated_at": T0,
    }
    return CatalogEntry(name, **{**fields, **changes})


@pytest.fixture
def mesh(store: MetadataStore) -> MetadataStore:
    for name in [*MESH, *FILLER]:
        store.upsert_catalog(entry(name))
    return store


def names(page: CatalogPage) -> list[str]:
    return [hit.entry.name for hit in page.items]


def found(store: MetadataStore, text: str | None, **options: Any) -> set[str]:
    return set(names(store.search_catalog(text, limit=100, **options)))


# -- entries ----------------------------------------------------------------------------


FULL = CatalogEntry(
    "title_popularity",
    domain="content",
    product_type="derived",
    owner="content-team",
    status="active",
    business_objective="Rank titles by weekly popularity",
    purpose="Decide what to promote on the home page",
    description="Plays per title and week, ranked. Zoë's favourite ✓",
    usage="Join on title_id with the title catalogue",
    limitations="Counts plays of 30 s and more only",
    personas=(
        CatalogPersona("content analyst", "plans the home page", ("SQL", "dashboards")),
        CatalogPersona("data scientist"),
    ),
    tags=("kpi", "content"),
    classifications=("internal",),
    ports=(
        CatalogPort(
            "popularity",
            "one row per title and week",
            (
                CatalogColumn("title_id", "string", "the title", None),
                CatalogColumn("plays", "long", "plays that week", "internal"),
                CatalogColumn("viewer_country", "string", None, "pii"),
            ),
        ),
        CatalogPort("daily", None, ()),
    ),
    latest_version=7,
    published_at=T0 - SECOND,
    quality_status="passed",
    governance_errors=0,
    governance_warnings=2,
    updated_at=T0,
    document={"slo": {"freshness": "PT1H"}, "contracts": ["popularity.odcs.yaml"], "n": None},
)


def test_an_entry_round_trips_and_upserting_it_again_changes_nothing(store: MetadataStore) -> None:
    store.upsert_catalog(FULL)
    store.upsert_catalog(FULL)
    assert store.catalog_entry("title_popularity") == FULL
    assert store.catalog_entries() == [FULL]
    assert store.search_catalog("popularity").total == 1
    assert store.catalog_entry("nobody") is None


def test_upserting_a_changed_entry_replaces_it_and_its_index(store: MetadataStore) -> None:
    store.upsert_catalog(FULL)
    changed = CatalogEntry(
        "title_popularity", domain="studio", business_objective="Box office forecasts", updated_at=T0 + SECOND
    )
    store.upsert_catalog(changed)
    assert store.catalog_entries() == [changed]
    assert found(store, "forecasts") == {"title_popularity"}
    assert found(store, "weekly") == set() and found(store, "plays") == set()
    facets = store.search_catalog(None).facets
    assert facets["domain"] == {"studio": 1} and facets["tag"] == {} and facets["product_type"] == {}


def test_entries_are_listed_by_name(store: MetadataStore) -> None:
    for name in ["b", "a", "C", "é"]:
        store.upsert_catalog(CatalogEntry(name, updated_at=T0))
    assert [e.name for e in store.catalog_entries()] == ["C", "a", "b", "é"]  # code point order


def test_an_entry_keeps_lists_as_tuples_and_collects_classifications() -> None:
    built = CatalogEntry(
        "p",
        tags=["kpi", "kpi", "content"],  # type: ignore[arg-type]
        classifications=["internal"],  # type: ignore[arg-type]
        ports=[CatalogPort("o", None, [col("a", None, "pii"), col("b", None, "internal")])],  # type: ignore[list-item]
        personas=[CatalogPersona("analyst", None, ["SQL"])],  # type: ignore[list-item]
    )
    assert built.tags == ("kpi", "content")
    assert built.classifications == ("internal", "pii")
    assert isinstance(built.ports, tuple) and isinstance(built.ports[0].columns, tuple)
    assert built.personas[0].skills == ("SQL",)
    assert CatalogEntry.from_json(FULL.to_json()) == FULL
    assert CatalogEntry.from_json({"name": "bare"}).status == "active"


def test_an_entry_refuses_unknown_status_and_naive_times() -> None:
    with pytest.raises(ValueError, match="unknown catalog status 'gone'"):
        CatalogEntry("p", status="gone")
    with pytest.raises(ValueError, match="updated_at of catalog entry 'p' must be timezone-aware"):
        CatalogEntry("p", updated_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="published_at"):
        CatalogEntry("p", published_at=datetime(2026, 1, 1))


# -- ranking and words ----------------------------------------------------------------------


def test_a_match_in_the_name_ranks_above_one_in_a_column_description(mesh: MetadataStore) -> None:
    page = mesh.search_catalog("popularity")
    assert names(page)[0] == "title_popularity"
    assert set(names(page)) == {"title_popularity", "next_title_model", "playback_events"}
    assert page.total == 3
    assert page.items[0].score > page.items[1].score >= page.items[2].score > 0


def test_a_match_in_the_objective_ranks_above_one_in_a_column_description(mesh: MetadataStore) -> None:
    assert names(mesh.search_catalog("recommend")) == ["next_title_model", "customer_master"]


def test_a_match_in_the_tags_ranks_above_one_in_a_column_description(mesh: MetadataStore) -> None:
    ranked = names(mesh.search_catalog("kpi"))
    assert set(ranked[:2]) == {"title_popularity", "next_title_model"}
    assert ranked[2:] == ["viewer_sessions"]


def test_the_last_word_matches_as_a_prefix(mesh: MetadataStore) -> None:
    assert found(mesh, "popul") == {"title_popularity", "next_title_model", "playback_events"}
    assert found(mesh, "catalog") == {"title_catalogue"}
    loose = mesh.search_catalog("popul weekly")  # only the last word is a prefix: nothing has both ...
    assert names(loose) == ["title_popularity"] and loose.any_word  # ... so any word ranks: weekly
    assert found(mesh, "weekly popul") == {"title_popularity"}
    assert found(mesh, "t") == set()  # one letter is a word, not a prefix of every word with a t


def test_every_word_must_match(mesh: MetadataStore) -> None:
    assert found(mesh, "weekly popularity") == {"title_popularity"}
    assert found(mesh, "viewer device") == {"viewer_sessions"}
    assert found(mesh, "title") == {
        "title_popularity", "playback_events", "next_title_model", "title_catalogue"
    }  # fmt: skip
    assert found(mesh, "title legacy") == {"title_catalogue"}


def test_when_nothing_has_every_word_the_products_with_any_rank(mesh: MetadataStore) -> None:
    strict = mesh.search_catalog("weekly popularity")
    assert names(strict) == ["title_popularity"] and not strict.any_word
    asked = mesh.search_catalog("which titles rank by weekly popularity")  # as a person asks
    assert asked.any_word and names(asked)[0] == "title_popularity"  # it has the most of them
    assert {"playback_events", "next_title_model"} <= set(names(asked))  # "popularity" in a column
    assert asked.total == len(asked.items) and sum(asked.facets["domain"].values()) == asked.total
    nothing = mesh.search_catalog("zeppelin airship")
    assert (nothing.total, nothing.any_word) == (0, True)
    assert not mesh.search_catalog("zeppelin").any_word  # one word: nothing to loosen


def test_a_plural_finds_the_singular(mesh: MetadataStore) -> None:
    assert found(mesh, "viewers devices") == found(mesh, "viewer device") == {"viewer_sessions"}
    assert found(mesh, "titles legacy") == {"title_catalogue"}  # titles: title too
    hit = mesh.search_catalog("viewers devices").items[0]
    assert hit.snippet is not None and hit.snippet.spans  # the singular is marked where it matched


@pytest.mark.parametrize(
    ("word", "forms"),
    [("viewers", ("viewers", "viewer")), ("categories", ("categories", "categorie", "category")),
     ("class", ("class",)), ("status", ("status",)), ("analysis", ("analysis",)), ("bus", ("bus",)),
     ("tags", ("tags", "tag")), ("movies", ("movies", "movie", "movy")), ("is", ("is",))],
)  # fmt: skip
def test_word_forms(word: str, forms: tuple[str, ...]) -> None:
    assert word_forms(word) == forms


def test_no_match_gives_an_empty_page_with_empty_facets(mesh: MetadataStore) -> None:
    page = mesh.search_catalog("zeppelin")
    assert (page.items, page.total) == ((), 0)
    assert dict(page.facets) == {
        f: {} for f in ("domain", "product_type", "owner", "tag", "classification", "status")
    }


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_no_words_finds_everything_by_name(mesh: MetadataStore, text: str | None) -> None:
    page = mesh.search_catalog(text, limit=100)
    assert names(page) == sorted([*MESH, *FILLER])
    assert page.total == len(MESH) + len(FILLER)
    assert {hit.score for hit in page.items} == {0.0} and {hit.snippet for hit in page.items} == {None}


def test_words_are_found_whatever_their_case_accents_or_joins(store: MetadataStore) -> None:
    store.upsert_catalog(
        CatalogEntry("Straße_Café", description="日本語 の データ; naïve Zoë", updated_at=T0)
    )
    for text in [
        "strasse",
        "STRASSE",
        "café",
        "CAFE",
        "straße_café",
        "Straße-Café",
        "naive zoe",
        "日本語",
        "データ",
    ]:
        assert found(store, text) == {"Straße_Café"}, text
    assert search_words("Café_Sales-2024 x²") == ["cafe", "sales", "2024", "x2"]
    assert search_words("データ") == ["データ"]  # voicing marks are not accents


def test_a_hit_shows_where_it_matched(mesh: MetadataStore) -> None:
    top, *rest = mesh.search_catalog("popularity").items
    assert top.snippet is not None and top.snippet.field == "name"
    assert [top.snippet.text[a:b] for a, b in top.snippet.spans] == ["popularity"]
    column = next(hit for hit in rest if hit.entry.name == "next_title_model").snippet
    assert column is not None and column.field == "column main.score"
    assert [column.text[a:b] for a, b in column.spans] == ["popularity"]
    long = CatalogEntry("p", description="lorem " * 100 + "needle " + "ipsum " * 100, updated_at=T0)
    mesh.upsert_catalog(long)
    (hit,) = mesh.search_catalog("needle").items
    assert hit.snippet is not None and hit.snippet.field == "description"
    assert len(hit.snippet.text) <= 162 and hit.snippet.text.startswith("…")
    assert [hit.snippet.text[a:b] for a, b in hit.snippet.spans] == ["needle"]


# -- user text is never syntax ----------------------------------------------------------------

SYNTAX = [
    '"', '""', "'", "*", "(", ")", "()", ":", "-", "^", "+", "{", "}", "[", "]", "\\", "%", "?", "&", "|",
    "!", "<->", ":*", "NEAR", "NEAR(", "NEAR()", "AND", "OR", "NOT", "AND OR NOT", '"title" OR (*',
    "title:", "name:title", "{search_name}:title", "-title", "^title", "title*", "'title'", "title & !x",
    "a'b", 'a"b', "title\\", "x; DROP TABLE daap_catalog; --", "\x00", "\U0001f600", "ß", "日本語",
]  # fmt: skip


@pytest.mark.parametrize("text", SYNTAX)
def test_fts_syntax_in_user_text_never_raises(mesh: MetadataStore, text: str) -> None:
    page = mesh.search_catalog(text, facets={"domain": ["content"]})
    assert page.total == len(page.items) <= 20
    assert len(mesh.catalog_entries()) == len(MESH) + len(FILLER)


@pytest.mark.parametrize(
    "text",
    ['"popularity"', "popularity*", "(popularity)", "popularity:", "-popularity", "^popularity",
     "popularity AND", "OR popularity", "NOT popularity", "NEAR(popularity)", "name:popularity",
     "'popularity'", "popularity\\", "+popularity+", "popularity & !"],
)  # fmt: skip
def test_words_inside_fts_syntax_are_searched_as_words(mesh: MetadataStore, text: str) -> None:
    # "name:popularity" is the words name and popularity: no product has both, so either ranks
    assert found(mesh, text) == {"title_popularity", "next_title_model", "playback_events"}
    assert names(mesh.search_catalog(text))[0] == "title_popularity"
    assert mesh.search_catalog(text).any_word == (text == "name:popularity")


def test_very_long_text_never_raises(mesh: MetadataStore) -> None:
    assert mesh.search_catalog("x" * 100_000).total == 0
    assert mesh.search_catalog("title " * 5_000).total == 4  # repeated words count once
    assert mesh.search_catalog(" ".join(f"w{i}" for i in range(10_000))).total == 0
    assert mesh.search_catalog("weekly " + "popularity " * 20).total == 1
    long_word = "y" * 5_000
    mesh.upsert_catalog(CatalogEntry("long", description=long_word, updated_at=T0))
    assert found(mesh, long_word) == {"long"}  # words are cut to one length, in the index and the query


# -- facets -------------------------------------------------------------------------------


def test_facets_count_every_match(mesh: MetadataStore) -> None:
    facets = mesh.search_catalog("title").facets
    assert facets["domain"] == {"content": 3, "streaming": 1}
    assert facets["product_type"] == {"raw": 2, "derived": 1, "ml-model": 1}
    assert facets["owner"] == {"content-team": 2, "data-science": 1, "platform-team": 1}
    assert facets["tag"] == {
        "content": 1, "events": 1, "kpi": 2, "legacy": 1, "ml": 1, "streaming": 1, "titles": 1
    } and next(iter(facets["tag"])) == "kpi"  # fmt: skip
    assert facets["classification"] == {"pii": 2, "internal": 1}
    assert facets["status"] == {"active": 4}
    everything = mesh.search_catalog(None).facets
    assert everything["domain"] == {"finance": 8, "content": 3, "streaming": 2, "customer": 1}
    assert list(everything["domain"]) == ["finance", "content", "streaming", "customer"]


@pytest.mark.parametrize(
    ("facets", "expected"),
    [
        ({"domain": ["content"]}, {"title_popularity", "next_title_model", "title_catalogue"}),
        ({"product_type": ["raw"]}, {"playback_events", "title_catalogue", *FILLER}),
        ({"owner": ["platform-team"]}, {"playback_events", "viewer_sessions"}),
        ({"tag": ["kpi"]}, {"title_popularity", "next_title_model"}),
        ({"classification": ["confidential"]}, {"customer_master"}),
        ({"status": ["active"]}, {*MESH, *FILLER}),
        ({"status": ["retired"]}, set()),
        ({"domain": ["content", "customer"]},
         {"title_popularity", "next_title_model", "title_catalogue", "customer_master"}),
        ({"domain": ["content"], "product_type": ["raw"]}, {"title_catalogue"}),
        ({"tag": ["kpi", "events"], "classification": ["pii"]}, {"next_title_model", "playback_events"}),
        ({"domain": ["content"], "tag": ["legacy"], "owner": ["content-team"]}, {"title_catalogue"}),
        ({"domain": ["nowhere"]}, set()),
        ({"domain": []}, {*MESH, *FILLER}),  # nothing chosen narrows nothing
        ({"domain": "content"}, {"title_popularity", "next_title_model", "title_catalogue"}),  # a lone value
    ],
)  # fmt: skip
def test_each_facet_and_combinations_narrow_the_results(
    mesh: MetadataStore, facets: dict[str, Any], expected: set[str]
) -> None:
    page = mesh.search_catalog(None, facets=facets, limit=100)
    assert set(names(page)) == expected and page.total == len(expected)


def test_a_chosen_facet_is_counted_over_the_other_choices(mesh: MetadataStore) -> None:
    page = mesh.search_catalog(None, facets={"domain": ["content"], "tag": ["kpi"]})
    assert set(names(page)) == {"title_popularity", "next_title_model"}
    # domain counts ignore the domain choice (what choosing another domain would add) ...
    assert page.facets["domain"] == {"content": 2}
    # ... tag counts ignore the tag choice but keep the domain one
    assert page.facets["tag"] == {"content": 1, "kpi": 2, "legacy": 1, "ml": 1, "titles": 1}
    # ... and the others count the results themselves
    assert page.facets["product_type"] == {"derived": 1, "ml-model": 1}
    assert page.facets["classification"] == {"pii": 1, "internal": 1}

    text = mesh.search_catalog("viewer", facets={"domain": ["streaming"]})
    assert set(names(text)) == {"viewer_sessions", "playback_events"}
    assert text.facets["domain"] == {"streaming": 2, "content": 1}
    assert text.facets["owner"] == {"platform-team": 2}


def test_chosen_values_are_listed_even_when_nothing_has_them(mesh: MetadataStore) -> None:
    page = mesh.search_catalog("popularity", facets={"tag": ["kpi", "nowhere"], "status": ["retired"]})
    assert page.total == 0
    assert page.facets["tag"] == {"kpi": 0, "nowhere": 0}
    assert page.facets["status"] == {"active": 2, "retired": 0}
    single = mesh.search_catalog("popularity", facets={"tag": ["kpi", "nowhere"]})
    assert single.facets["tag"] == {
        "kpi": 2,
        "events": 1,
        "streaming": 1,
        "content": 1,
        "ml": 1,
        "nowhere": 0,
    }


def test_unknown_facets_and_bad_pages_are_refused(mesh: MetadataStore) -> None:
    with pytest.raises(ValueError, match="unknown catalog facet 'colour'"):
        mesh.search_catalog(None, facets={"colour": ["red"]})
    with pytest.raises(ValueError, match="must not be negative"):
        mesh.search_catalog(None, limit=-1)
    with pytest.raises(ValueError, match="must not be negative"):
        mesh.search_catalog(None, offset=-5)


# -- what the caller may discover ---------------------------------------------------------------


def test_only_visible_products_are_found_and_counted(mesh: MetadataStore) -> None:
    visible = {"title_popularity", "playback_events", "customer_master", "not_in_catalog"}
    page = mesh.search_catalog("popularity", visible=visible)
    assert names(page) == ["title_popularity", "playback_events"] and page.total == 2
    assert page.facets["domain"] == {"content": 1, "streaming": 1}
    everything = mesh.search_catalog(None, visible=visible, facets={"domain": ["content"]})
    assert names(everything) == ["title_popularity"]
    assert everything.facets["domain"] == {"content": 1, "customer": 1, "streaming": 1}
    assert mesh.search_catalog("popularity", visible=["title_popularity"]).total == 1
    assert mesh.search_catalog("popularity", visible="title_popularity").total == 1  # a lone name


def test_nothing_visible_finds_nothing(mesh: MetadataStore) -> None:
    page = mesh.search_catalog(None, visible=(), facets={"tag": ["kpi"]})
    assert (page.items, page.total) == ((), 0)
    assert page.facets["tag"] == {"kpi": 0} and page.facets["domain"] == {}
    assert mesh.search_catalog("title", visible=set()).total == 0


def test_many_visible_names(store: MetadataStore) -> None:
    for n in range(300):
        store.upsert_catalog(
            CatalogEntry(f"p{n:03d}", tags=("even" if n % 2 == 0 else "odd",), updated_at=T0)
        )
    visible = [f"p{n:03d}" for n in range(0, 300, 3)] + [f"ghost{n}" for n in range(40_000)]
    page = store.search_catalog("p", visible=visible, limit=5)
    assert page.total == 0  # "p" is one letter: a word, and no product has the word "p"
    page = store.search_catalog(None, visible=visible, limit=5)
    assert page.total == 100 and names(page) == ["p000", "p003", "p006", "p009", "p012"]
    assert page.facets["tag"] == {"even": 50, "odd": 50}


# -- pages ------------------------------------------------------------------------------------


def test_pages_cover_every_match_once_in_order(mesh: MetadataStore) -> None:
    everything = names(mesh.search_catalog("ledger", limit=100))
    assert len(everything) == 8
    pages = [mesh.search_catalog("ledger", limit=3, offset=start) for start in range(0, 9, 3)]
    assert [name for page in pages for name in names(page)] == everything
    assert {page.total for page in pages} == {8}
    assert [len(page.items) for page in pages] == [3, 3, 2]
    beyond = mesh.search_catalog("ledger", limit=3, offset=50)
    assert (beyond.items, beyond.total) == ((), 8)
    counts_only = mesh.search_catalog("ledger", limit=0)
    assert (
        counts_only.items == () and counts_only.total == 8 and counts_only.facets["domain"] == {"finance": 8}
    )


def test_pages_of_everything_follow_names(mesh: MetadataStore) -> None:
    second = mesh.search_catalog(None, facets={"domain": ["finance"]}, limit=3, offset=3)
    assert names(second) == FILLER[3:6] and second.total == 8


# -- retired and deleted --------------------------------------------------------------------------


def test_retired_and_deleted_products_stay_findable_and_marked(mesh: MetadataStore) -> None:
    assert mesh.mark_catalog_status("title_catalogue", "retired", T0 + SECOND)
    assert mesh.mark_catalog_status("playback_events", "deleted", T0 + 2 * SECOND)
    retired = mesh.catalog_entry("title_catalogue")
    assert retired is not None and (retired.status, retired.updated_at) == ("retired", T0 + SECOND)
    assert retired.business_objective == entry("title_catalogue").business_objective

    page = mesh.search_catalog("title")
    assert {hit.entry.name: hit.entry.status for hit in page.items} == {
        "title_popularity": "active", "next_title_model": "active",
        "title_catalogue": "retired", "playback_events": "deleted",
    }  # fmt: skip
    assert page.facets["status"] == {"active": 2, "deleted": 1, "retired": 1}
    assert found(mesh, "title", facets={"status": ["retired", "deleted"]}) == {
        "title_catalogue",
        "playback_events",
    }
    assert found(mesh, "title", facets={"status": ["active"]}) == {"title_popularity", "next_title_model"}
    assert found(mesh, "legacy") == {"title_catalogue"}  # its words are still indexed

    assert mesh.mark_catalog_status("title_catalogue", "active", T0 + 3 * SECOND)
    assert mesh.search_catalog(None).facets["status"] == {"active": 13, "deleted": 1}
    mesh.upsert_catalog(entry("playback_events"))  # published again: active again
    assert mesh.search_catalog(None).facets["status"] == {"active": 14}


def test_marking_unknown_products_or_statuses(mesh: MetadataStore) -> None:
    assert mesh.mark_catalog_status("nobody", "retired", T0) is False
    assert mesh.catalog_entry("nobody") is None
    with pytest.raises(ValueError, match="unknown catalog status 'archived'"):
        mesh.mark_catalog_status("title_catalogue", "archived", T0)
    with pytest.raises(ValueError, match="must be timezone-aware"):
        mesh.mark_catalog_status("title_catalogue", "retired", datetime(2026, 1, 1))
    assert mesh.search_catalog(None).facets["status"] == {"active": 14}


# -- writers at once ------------------------------------------------------------------------------


def run_at_once(workers: list[Callable[[], None]]) -> None:
    """Start ``workers`` together in threads and wait for all; re-raise the first error."""
    barrier, errors = threading.Barrier(len(workers)), []

    def run(work: Callable[[], None]) -> None:
        try:
            barrier.wait()
            work()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_two_stores_upserting_at_once_keep_one_entry_per_product(store_url: str) -> None:
    stores = [open_metadata_store(store_url) for _ in range(2)]

    def work(n: int) -> Callable[[], None]:
        def upsert_all() -> None:
            for i in range(15):  # both write the same products, with new facet values each
                stores[n].upsert_catalog(
                    CatalogEntry(f"p{i}", domain=f"d{i % 4}", tags=(f"t{i}", f"by{n}"), updated_at=T0)
                )

        return upsert_all

    try:
        run_at_once([work(0), work(1)])
        assert [e.name for e in stores[0].catalog_entries()] == sorted(f"p{i}" for i in range(15))
        facets = stores[1].search_catalog(None).facets
        assert facets["domain"] == {"d0": 4, "d1": 4, "d2": 4, "d3": 3}
        assert sum(facets["tag"].values()) == 30  # each product has its own tag and one writer's
        assert stores[0].search_catalog("p7").total == 1
    finally:
        for opened in stores:
            opened.close()


# -- migration ------------------------------------------------------------------------------------


def test_a_store_at_migration_6_upgrades_to_7_keeping_its_data(store_url: str) -> None:
    assert [m.version for m in MIGRATIONS][5:7] == [6, 7]
    cedar = 'permit (principal, action == Action::"read", resource);'
    old = open_at_migration(store_url, 6)
    try:
        old.save_control("title_popularity", cedar, "rowFilters: []\n", "gov", T0)
        with pytest.raises(MetadataError, match="daap_catalog"):
            old.upsert_catalog(FULL)  # not there yet
    finally:
        old.close()

    upgraded = open_metadata_store(store_url)
    try:
        assert getattr(upgraded.control_version("title_popularity"), "version", None) == 1
        upgraded.upsert_catalog(FULL)
        assert upgraded.catalog_entry("title_popularity") == FULL
    finally:
        upgraded.close()

    again = open_metadata_store(store_url)  # nothing left to apply
    try:
        assert applied_migrations(again)[5:7] == [(6, "control"), (7, "catalog")]
        assert names(again.search_catalog("weekly")) == ["title_popularity"]
    finally:
        again.close()
