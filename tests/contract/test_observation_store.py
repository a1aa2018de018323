"""The observation tables (quality runs, port profiles, quarantine) on SQLite and PostgreSQL alike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from daap.mesh.metadata import (
    MetadataStore,
    PortProfile,
    QualityRun,
    Quarantined,
    RuleOutcome,
    check_run_id,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def build(store: MetadataStore, product: str) -> str:
    build_id = f"{product}-{uuid.uuid4().hex}"
    store.start_build(build_id, product, fingerprint="fp")
    return build_id


def run(
    run_id: str, product: str, at: datetime, *, passed: bool = True, version: int | None = 1
) -> QualityRun:
    return QualityRun(
        run_id,
        product,
        at,
        version,
        "build",
        (
            RuleOutcome("plays", "seconds.invalidValues", "error", passed, {"value": 0 if passed else 3}),
            RuleOutcome("plays", "rowCount", "warning", False, {"value": 10, "samples": []}),
        ),
        (PortProfile("plays", 10, {"seconds": {"nulls": 1, "distinct": 7}}),),
    )


def test_runs_round_trip_newest_first(store: MetadataStore) -> None:
    first, second = build(store, "p"), build(store, "p")
    store.record_quality_run(run(first, "p", T0))
    store.record_quality_run(run(second, "p", T0 + timedelta(hours=1), passed=False, version=None))
    store.record_quality_run(run(build(store, "other"), "other", T0))

    latest, earlier = store.quality_runs("p")

    assert (latest.run_id, earlier.run_id) == (second, first)
    assert latest.checked_at == T0 + timedelta(hours=1) and latest.version is None
    assert not latest.passed and earlier.passed  # a failed warning rule does not fail a run
    assert latest.outcomes[0] == RuleOutcome(
        "plays", "rowCount", "warning", False, {"value": 10, "samples": []}
    )
    assert latest.profiles == (PortProfile("plays", 10, {"seconds": {"nulls": 1, "distinct": 7}}),)
    assert [r.run_id for r in store.quality_runs("p", limit=1)] == [second]
    assert store.quality_runs("p", kind="check") == []


def test_recording_a_run_again_replaces_it(store: MetadataStore) -> None:
    run_id = build(store, "p")
    store.record_quality_run(run(run_id, "p", T0, passed=False))
    store.record_quality_run(run(run_id, "p", T0, passed=True))

    [only] = store.quality_runs("p")

    assert only.passed and len(only.outcomes) == 2


def test_check_runs_need_no_build(store: MetadataStore) -> None:
    run_id = check_run_id(T0)
    store.record_quality_run(QualityRun(run_id, "p", T0, 3, "check", (), ()))

    [found] = store.quality_runs("p", kind="check")

    assert found.run_id.startswith("check-20261101T120000Z-") and found.version == 3


def test_one_quarantined_build_per_product(store: MetadataStore) -> None:
    first, second = build(store, "p"), build(store, "p")
    ports = {"plays": {"table": "p.plays", "files": ["/x/part-0.parquet"], "rows": 5}}
    assert store.quarantine(Quarantined(first, "p", T0, ports, ("rule a failed",))) == []

    replaced = store.quarantine(Quarantined(second, "p", T0, ports, ("rule b failed",)))

    assert [q.build_id for q in replaced] == [first]
    held = store.quarantined("p")
    assert held is not None and held.build_id == second and held.reasons == ("rule b failed",)
    assert held.ports == ports
    assert [q.build_id for q in store.release_quarantine("p")] == [second]
    assert store.quarantined("p") is None and store.release_quarantine("p") == []
