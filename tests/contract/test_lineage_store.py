"""OpenLineage events from jobs outside daap, kept as sent: the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from daap.mesh.metadata import LineageEvent, MetadataStore, open_metadata_store
from daap.mesh.metadata._lineage import _COLUMNS
from fixtures.metadata import applied_migrations, open_at_migration

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
RUN = "3f4a6b2c-1111-4222-8333-944455556666"


def event(job: str, kind: str, inputs=(), outputs=(), run: str = RUN) -> LineageEvent:
    body = {"eventType": kind, "job": {"namespace": "airflow", "name": job}, "extra": {"kept": True}}
    return LineageEvent(
        "2026-11-01T12:00:00Z", kind, "airflow", job, run, tuple(inputs), tuple(outputs), body
    )


def test_events_are_kept_as_sent_newest_first(store: MetadataStore) -> None:
    first = event("etl", "START")
    second = event("etl", "COMPLETE", [("pg://db", "public.orders")], [("daap://shop", "orders.orders")])
    store.record_lineage_event(first, T0)
    store.record_lineage_event(second, T0)
    newest, oldest = store.lineage_events(limit=10)
    assert (newest.event_type, oldest.event_type) == ("COMPLETE", "START")
    assert newest.inputs == (("pg://db", "public.orders"),) and newest.event["extra"] == {"kept": True}
    assert newest.received_at == T0 and len(store.lineage_events(limit=1)) == 1


def test_each_job_is_its_newest_event_that_names_datasets(store: MetadataStore) -> None:
    store.record_lineage_event(event("etl", "COMPLETE", [("a", "x")], [("b", "y")]), T0)
    store.record_lineage_event(event("etl", "START"), T0)  # names nothing: the graph keeps the last that did
    store.record_lineage_event(event("dbt", "COMPLETE", [("b", "y")], [("c", "z")]), T0)
    jobs = store.lineage_jobs()
    assert [(j.job_name, j.inputs, j.outputs) for j in jobs] == [
        ("dbt", (("b", "y"),), (("c", "z"),)),
        ("etl", (("a", "x"),), (("b", "y"),)),
    ]
    store.record_lineage_event(event("etl", "COMPLETE", [("a", "w")], []), T0)  # a newer run reads w
    store.record_lineage_event(event("etl", "START"), T0)
    assert [(j.job_name, j.inputs, j.outputs) for j in store.lineage_jobs()][1] == ("etl", (("a", "w"),), ())


def test_product_lineage_is_replaced_per_product_and_read_by_index(store: MetadataStore) -> None:
    store.set_product_lineage("revenue", ["orders.orders", "fx.rates"])
    store.set_product_lineage("orders", ["file:data/*.csv"])
    store.set_product_lineage("report", ["revenue.revenue", "orders.orders", "orders.orders"])
    assert store.readers_of("orders") == ["report", "revenue"] and store.readers_of("report") == []
    store.set_product_lineage("revenue", ["fx.rates"])  # it no longer reads orders
    assert store.readers_of("orders") == ["report"]
    assert store.product_lineage_edges() == [
        ("file:data/*.csv", "orders"),
        ("orders.orders", "report"),
        ("revenue.revenue", "report"),
        ("fx.rates", "revenue"),
    ]
    store.set_product_lineage("report", [])
    assert store.readers_of("revenue") == [] and store.catalog_names() == []


def test_a_store_at_migration_10_upgrades_to_11_finding_each_jobs_newest_event(store_url: str) -> None:
    old = open_at_migration(store_url, 10)
    try:
        d = old.dialect
        with old._tx(write=True) as tx:  # as daap before migration 11 wrote them: events only
            for e in (
                event("etl", "COMPLETE", [("a", "x")], [("b", "y")]),
                event("etl", "COMPLETE", [("a", "w")], []),
                event("etl", "START"),
                event("dbt", "START"),
            ):
                tx.execute(
                    f"INSERT INTO daap_lineage_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (d.encode_time(T0), e.event_time, e.event_type, e.job_namespace, e.job_name, e.run_id,
                     d.encode_json([list(i) for i in e.inputs]), d.encode_json([list(o) for o in e.outputs]),
                     d.encode_json(dict(e.event))),
                )  # fmt: skip
    finally:
        old.close()
    upgraded = open_metadata_store(store_url)
    try:
        assert applied_migrations(upgraded)[10:] == [(11, "lineage jobs")]
        assert [(j.job_name, j.inputs) for j in upgraded.lineage_jobs()] == [("etl", (("a", "w"),))]
        upgraded.record_lineage_event(event("dbt", "COMPLETE", [("b", "y")], [("c", "z")]), T0)
        assert [j.job_name for j in upgraded.lineage_jobs()] == ["dbt", "etl"]
    finally:
        upgraded.close()
