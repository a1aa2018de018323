"""Contract for the mesh metadata store: every adapter passes this one suite.

Each test runs on SQLite (a file in tmp_path) and on PostgreSQL (a throwaway
database, fixture ``postgres_url``). Nothing is mocked: concurrency tests use
real threads and real processes against the real database.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from daap.errors import ConfigError, MetadataError
from daap.mesh.metadata import (
    MetadataStore,
    PortState,
    ProductVersion,
    open_metadata_store,
)

SRC = str(Path(__file__).resolve().parents[2] / "src")
US = timedelta(microseconds=1)
PORTS = {"popularity": PortState("title_popularity.popularity", (11, 12), 3)}


def publish_new(
    store: MetadataStore,
    product: str,
    ports: dict[str, PortState] = PORTS,
    inputs: dict[str, int] | None = None,
) -> ProductVersion:
    """Run one build of ``product`` through start, committing and publish."""
    build_id = f"{product}-{uuid.uuid4().hex}"
    store.start_build(build_id, product, fingerprint=f"fp-{build_id}")
    store.mark_committing(build_id, {"append": list(ports)})
    return store.publish(build_id, ports, inputs or {})


def field(record: object | None, name: str) -> object:
    """``record.name``, or None when there is no record (so a missing one fails the assert)."""
    return None if record is None else getattr(record, name)


def raw_execute(url: str, sql: str) -> None:
    """Run SQL with the database's own driver, behind the store's back."""
    if url.startswith("sqlite://"):
        with sqlite3.connect(url.removeprefix("sqlite://")) as conn:
            conn.execute(sql)
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


# -- versions ---------------------------------------------------------------------------


def test_versions_count_from_one_per_product(store: MetadataStore) -> None:
    got = [(p, publish_new(store, p).version) for p in ["a", "b", "a", "a", "b"]]
    assert got == [("a", 1), ("b", 1), ("a", 2), ("a", 3), ("b", 2)]
    assert [v.version for v in store.list_versions("a")] == [1, 2, 3]
    assert field(store.latest_version("b"), "version") == 2


def test_products_lists_only_published_products_sorted(store: MetadataStore) -> None:
    publish_new(store, "zeta")
    publish_new(store, "alpha")
    store.start_build("b-running", "middle", "fp")
    store.start_build("b-failed", "omega", "fp")
    store.finish_build("b-failed", "failed", "boom")
    assert store.products() == ["alpha", "zeta"]


def test_publish_round_trips_everything(store: MetadataStore) -> None:
    ports = {
        "popularity": PortState("title_popularity.popularity", (2**63 - 1, 5), 1_000_000),
        "empty": PortState("title_popularity.empty", (), 0),
    }
    inputs = {"playback_events.events": 7, "titles.catalogue": 2}
    plan = {
        "ports": {"popularity": {"op": "upsert", "keys": ["title_id"]}},
        "note": "é ✓",
        "n": None,
    }
    store.start_build("b1", "title_popularity", "sha256:abc")
    store.mark_committing("b1", plan)
    published = store.publish("b1", ports, inputs)

    for version in (published, store.get_version("title_popularity", 1)):
        assert version is not None
        assert (version.product, version.version, version.build_id) == ("title_popularity", 1, "b1")
        assert version.fingerprint == "sha256:abc"
        assert version.ports == ports and version.inputs == inputs and not version.expired
        assert version.published_at.utcoffset() == timedelta(0)
        assert abs(datetime.now(UTC) - version.published_at) < timedelta(minutes=1)
    build = store.get_build("b1")
    assert build is not None
    assert (build.state, build.version, build.plan) == ("published", 1, plan)
    assert build.finished_at == published.published_at
    assert build.started_at <= published.published_at


def test_publish_is_idempotent(store: MetadataStore) -> None:
    first = publish_new(store, "p")
    again = store.publish(first.build_id, {"other": PortState("p.other", (9,), 9)}, {"x.y": 9})
    assert again == first
    assert [v.version for v in store.list_versions("p")] == [1]
    assert publish_new(store, "p").version == 2


def test_concurrent_publish_of_one_build_creates_one_version(store_url: str) -> None:
    setup = open_metadata_store(store_url)
    setup.start_build("b1", "p", "fp")
    stores = [open_metadata_store(store_url) for _ in range(4)]
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda s=s: results.append(s.publish("b1", PORTS, {}).version))
        for s in stores
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [1, 1, 1, 1]
    assert [v.version for v in setup.list_versions("p")] == [1]
    for opened in [setup, *stores]:
        opened.close()


def test_version_at_boundaries(store: MetadataStore) -> None:
    v1 = publish_new(store, "p")
    time.sleep(0.005)
    v2 = publish_new(store, "p")
    assert v1.published_at < v2.published_at
    assert store.version_at("p", v1.published_at - US) is None
    assert field(store.version_at("p", v1.published_at), "version") == 1
    assert field(store.version_at("p", v2.published_at - US), "version") == 1
    assert field(store.version_at("p", v2.published_at), "version") == 2
    in_paris = v2.published_at.astimezone(timezone(timedelta(hours=2)))
    assert field(store.version_at("p", in_paris), "version") == 2
    assert store.version_at("other", datetime.now(UTC)) is None
    with pytest.raises(MetadataError, match="timezone-aware"):
        store.version_at("p", datetime.now())


# -- expiry -----------------------------------------------------------------------------


def test_expired_versions_are_hidden_but_still_gettable(store: MetadataStore) -> None:
    v1, v2, v3 = (publish_new(store, "p") for _ in range(3))
    store.expire_versions("p", [1])
    store.expire_versions("p", [1])  # again: nothing to do
    assert [v.version for v in store.list_versions("p")] == [2, 3]
    listed = store.list_versions("p", include_expired=True)
    assert [(v.version, v.expired) for v in listed] == [(1, True), (2, False), (3, False)]
    old = store.get_version("p", 1)
    assert old is not None and old.expired and old.build_id == v1.build_id
    assert store.version_at("p", v1.published_at) is None
    assert field(store.version_at("p", v2.published_at), "version") == 2
    assert store.latest_version("p") == v3


def test_latest_version_cannot_be_expired(store: MetadataStore) -> None:
    for _ in range(3):
        publish_new(store, "p")
    with pytest.raises(MetadataError, match="version 3 of p: it is the latest"):
        store.expire_versions("p", [2, 3])
    assert not any(v.expired for v in store.list_versions("p", include_expired=True))
    publish_new(store, "p")
    store.expire_versions("p", (2, 3))
    assert [v.version for v in store.list_versions("p")] == [1, 4]


def test_expiring_unknown_versions_fails(store: MetadataStore) -> None:
    publish_new(store, "p")
    publish_new(store, "p")
    with pytest.raises(MetadataError, match="p has no version 7"):
        store.expire_versions("p", [1, 7])
    with pytest.raises(MetadataError, match="nobody has no version 1"):
        store.expire_versions("nobody", [1])
    assert field(store.get_version("p", 1), "expired") is False
    store.expire_versions("p", [])


# -- builds -----------------------------------------------------------------------------


def test_pending_builds_oldest_first(store: MetadataStore) -> None:
    started = store.start_build("b1", "p", "fp1")
    assert (started.state, started.plan, started.version, started.finished_at) == (
        "running",
        {},
        None,
        None,
    )
    store.start_build("b2", "q", "fp2")
    store.start_build("b3", "p", "fp3")
    store.mark_committing("b3", {"step": 1})
    assert [b.build_id for b in store.pending_builds()] == ["b1", "b2", "b3"]
    assert [(b.build_id, b.state) for b in store.pending_builds("p")] == [
        ("b1", "running"),
        ("b3", "committing"),
    ]
    assert store.pending_builds("p")[1].plan == {"step": 1}
    store.publish("b1", PORTS, {})
    store.finish_build("b3", "failed", "disk full")
    assert [b.build_id for b in store.pending_builds()] == ["b2"]


def test_failed_and_unchanged_builds_publish_nothing(store: MetadataStore) -> None:
    store.start_build("bad", "p", "fp")
    store.finish_build("bad", "failed", "transform failed: division by zero")
    store.finish_build("bad", "failed")  # same end again: nothing to do
    store.start_build("same", "p", "fp")
    store.mark_committing("same", {})
    store.finish_build("same", "unchanged")
    bad, same = store.get_build("bad"), store.get_build("same")
    assert bad is not None and same is not None
    assert (bad.state, bad.message, bad.version) == (
        "failed",
        "transform failed: division by zero",
        None,
    )
    assert (same.state, same.message) == ("unchanged", None)
    assert bad.finished_at is not None and bad.finished_at >= bad.started_at
    for build_id in ("bad", "same"):
        with pytest.raises(MetadataError, match=f"cannot publish build '{build_id}'"):
            store.publish(build_id, PORTS, {})
        with pytest.raises(MetadataError, match="already"):
            store.mark_committing(build_id, {})
    with pytest.raises(MetadataError, match="already failed"):
        store.finish_build("bad", "unchanged")
    assert store.latest_version("p") is None and store.pending_builds() == []


def test_finished_builds_stay_finished(store: MetadataStore) -> None:
    version = publish_new(store, "p")
    with pytest.raises(MetadataError, match="already published"):
        store.finish_build(version.build_id, "failed", "too late")
    with pytest.raises(MetadataError, match="already recorded"):
        store.start_build(version.build_id, "p", "fp")
    assert field(store.get_build(version.build_id), "state") == "published"


@pytest.mark.parametrize(
    "action",
    [
        lambda s: s.mark_committing("no-such-build", {}),
        lambda s: s.publish("no-such-build", PORTS, {}),
        lambda s: s.finish_build("no-such-build", "failed"),
    ],
    ids=["mark_committing", "publish", "finish_build"],
)
def test_unknown_build_ids_are_refused(
    store: MetadataStore, action: Callable[[MetadataStore], object]
) -> None:
    with pytest.raises(MetadataError, match="unknown build id 'no-such-build'"):
        action(store)
    assert store.get_build("no-such-build") is None
    assert store.products() == []


def test_builds_newest_first_with_limit(store: MetadataStore) -> None:
    for n in range(5):
        store.start_build(f"b{n}", "p", "fp")
    store.start_build("other", "q", "fp")
    assert [b.build_id for b in store.builds("p", limit=3)] == ["b4", "b3", "b2"]
    assert len(store.builds("p")) == 5
    assert store.builds("nobody") == []


def test_unknown_products_and_versions_are_none(store: MetadataStore) -> None:
    publish_new(store, "p")
    assert store.latest_version("nobody") is None
    assert store.get_version("p", 2) is None
    assert store.list_versions("nobody", include_expired=True) == []


# -- durability and concurrency ---------------------------------------------------------


def test_reopened_store_sees_everything(store_url: str) -> None:
    first = open_metadata_store(store_url)
    versions = [publish_new(first, "p", inputs={"raw.events": 4}) for _ in range(3)]
    first.expire_versions("p", [1])
    first.start_build("pending", "p", "fp")
    first.mark_committing("pending", {"snapshot": 42})
    first.close()
    with pytest.raises(MetadataError, match="closed"):
        first.products()

    again = open_metadata_store(store_url)
    try:
        stored = again.list_versions("p", include_expired=True)
        assert [v.build_id for v in stored] == [v.build_id for v in versions]
        assert stored[1:] == versions[1:] and stored[0].expired
        assert [(b.build_id, b.plan) for b in again.pending_builds()] == [("pending", {"snapshot": 42})]
        assert publish_new(again, "p").version == 4
    finally:
        again.close()


def test_store_from_a_newer_daap_is_refused(store_url: str) -> None:
    open_metadata_store(store_url).close()
    raw_execute(
        store_url,
        "INSERT INTO daap_schema_migrations (version, name, applied_at) "
        "VALUES (999, 'from the future', CURRENT_TIMESTAMP)",
    )
    with pytest.raises(MetadataError, match="schema version 999") as caught:
        open_metadata_store(store_url)
    assert caught.value.hint is not None and "upgrade daap" in caught.value.hint


# -- publication outbox -------------------------------------------------------------


def test_publishing_a_version_opens_its_outbox_entry(store: MetadataStore) -> None:
    v1 = publish_new(store, "p")
    v2 = publish_new(store, "p")
    publish_new(store, "q")
    pending = store.pending_publications("p")
    assert [(e.version, e.build_id, e.state, dict(e.progress)) for e in pending] == [
        (1, v1.build_id, "pending", {}),
        (2, v2.build_id, "pending", {}),
    ]
    assert [(e.product, e.version) for e in store.pending_publications()] == [("p", 1), ("p", 2), ("q", 1)]
    # publishing the same build again opens nothing new
    store.publish(v1.build_id, PORTS, {})
    assert len(store.pending_publications("p")) == 2


def test_publication_progress_errors_and_done(store: MetadataStore) -> None:
    version = publish_new(store, "p")
    failed = store.record_publication(version.build_id, {"popularity": {"audited": 3}}, error="down")
    assert (failed.state, failed.attempts, failed.error) == ("pending", 1, "down")
    assert dict(failed.progress) == {"popularity": {"audited": 3}}
    done = store.record_publication(version.build_id, {"popularity": {"events": 3}}, done=True)
    assert (done.state, done.attempts, done.error) == ("done", 1, None)
    assert store.pending_publications() == []
    assert store.get_publication("p", 1) == done
    # recording the same final progress again is a no-op; changing it is refused
    assert store.record_publication(version.build_id, {"popularity": {"events": 3}}, done=True) == done
    with pytest.raises(MetadataError, match="already published"):
        store.record_publication(version.build_id, {"popularity": {"events": 4}})


def test_publication_of_unknown_build_is_refused(store: MetadataStore) -> None:
    store.start_build("b", "p", "fp")
    with pytest.raises(MetadataError, match="no publication outbox entry"):
        store.record_publication("b", {})
    assert store.get_publication("p", 1) is None


def test_threads_sharing_one_store_get_distinct_versions(store: MetadataStore) -> None:
    got: list[int] = []

    def work() -> None:
        got.extend(publish_new(store, "p").version for _ in range(5))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(got) == list(range(1, 21))


_PUBLISHER = """
import json, sys, time, uuid
from pathlib import Path
from daap.mesh.metadata import PortState, open_metadata_store
url, go, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
store = open_metadata_store(url)  # all processes migrate a fresh database at once
(go.parent / uuid.uuid4().hex).with_suffix(".ready").touch()
while not go.exists():
    time.sleep(0.001)
got = []
for _ in range(count):
    build = uuid.uuid4().hex
    store.start_build(build, "p", "fp")
    got.append(store.publish(build, {"o": PortState("p.o", (1,), 1)}, {}).version)
store.close()
print(json.dumps(got))
"""


@pytest.mark.slow
def test_processes_publishing_at_once_get_distinct_consecutive_versions(
    store_url: str, tmp_path: Path
) -> None:
    go, processes, count = tmp_path / "go", 3, 10
    env = {"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _PUBLISHER, store_url, str(go), str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(processes)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("*.ready"))) < processes and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # every process has opened the store: now all publish at once
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * processes, [err for _, err in outputs]
    got = [v for out, _ in outputs for v in json.loads(out)]
    assert sorted(got) == list(range(1, processes * count + 1))
    check = open_metadata_store(store_url)
    assert [v.version for v in check.list_versions("p")] == sorted(got)
    assert check.pending_builds() == []
    check.close()


@pytest.mark.postgres
def test_postgres_store_reconnects_after_losing_its_connection(postgres_url: str) -> None:
    import psycopg

    store = open_metadata_store(postgres_url)
    publish_new(store, "p")
    database = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (database,),
        )
    with pytest.raises(MetadataError, match="metadata store postgresql://"):
        store.products()  # the loss shows up once, as a MetadataError...
    assert field(store.latest_version("p"), "version") == 1  # ...then it reconnects
    store.close()


def test_public_names() -> None:
    import daap.mesh.metadata as metadata

    assert sorted(metadata.__all__) == [
        "ACCESS_PROTOCOLS",
        "AccessEntry",
        "AccessLogStore",
        "BuildRecord",
        "BuildState",
        "CatalogColumn",
        "CatalogEntry",
        "CatalogHit",
        "CatalogPage",
        "CatalogPersona",
        "CatalogPort",
        "CatalogSnippet",
        "CatalogStore",
        "ColumnLink",
        "ControlStore",
        "ControlVersion",
        "GovernanceRecord",
        "GovernanceStore",
        "IdentityStore",
        "LineageEvent",
        "LineageStore",
        "MetadataStore",
        "ObservationStore",
        "PortProfile",
        "PortState",
        "ProductVersion",
        "Publication",
        "PublicationState",
        "QualityRun",
        "Quarantined",
        "RegistryStore",
        "RuleOutcome",
        "SchemaReference",
        "StoredPrincipal",
        "StoredSchema",
        "StoredToken",
        "SubjectVersion",
        "check_run_id",
        "open_metadata_store",
    ]


# -- bad URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://db/mesh", "'mysql://db/mesh' is not supported"),
        ("metadata.db", "'metadata.db' is not supported"),
        ("", "'' is not supported"),
        ("sqlite://relative/metadata.db", "does not name an absolute file path"),
        ("sqlite://", "does not name an absolute file path"),
        ("postgresql://ana:hunter2@127.0.0.1:1/mesh", "cannot connect to metadata store"),
    ],
)
def test_bad_urls_raise_config_error(url: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_metadata_store(url)
    message = str(caught.value)
    assert expected in message
    assert "hunter2" not in message
    assert caught.value.hint


def test_connection_errors_redact_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        open_metadata_store("postgresql://ana:hunter2@127.0.0.1:1/mesh?password=hunter2")
    message = str(caught.value)
    assert "postgresql://ana:***@127.0.0.1:1/mesh?password=***" in message
    assert "hunter2" not in message and "check that PostgreSQL is running" in message


@pytest.mark.postgres
def test_missing_postgres_database_is_named(postgres_url: str) -> None:
    with pytest.raises(ConfigError, match=r"database \"\w+_missing\" does not exist"):
        open_metadata_store(postgres_url + "_missing")


def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    bogus = tmp_path / "metadata.db"
    bogus.write_text("not sqlite, just text " * 100)
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(ConfigError, match="not a database"):
        open_metadata_store(f"sqlite://{bogus}")
    with pytest.raises(ConfigError, match="cannot open"):
        open_metadata_store(f"sqlite://{blocked}/sub/metadata.db")


def test_missing_driver_gives_install_hint() -> None:
    script = (
        "import sys; sys.modules['psycopg'] = None\n"  # as if psycopg were not installed
        "from daap.mesh.metadata import open_metadata_store\n"
        "try:\n"
        "    open_metadata_store('postgresql://u@127.0.0.1:1/db')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={"PYTHONPATH": SRC}
    )
    assert done.stdout.startswith("ConfigError"), done.stderr
    assert "pip install 'daap[postgres]'" in done.stdout
