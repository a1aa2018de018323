"""Contract for the schema registry's tables in the metadata store: SQLite and PostgreSQL.

Real databases (a file in tmp_path; a throwaway PostgreSQL database), real
processes for the concurrency test.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daap.mesh.metadata import MetadataStore, SchemaReference, open_metadata_store

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_identical_schemas_share_one_global_id(store: MetadataStore) -> None:
    first = store.registry_register("a-value", "fp-1", "AVRO", '"string"', ())
    again = store.registry_register("a-value", "fp-1", "AVRO", '"string"', ())
    other_subject = store.registry_register("b-value", "fp-1", "AVRO", '"string"', ())
    second = store.registry_register("a-value", "fp-2", "AVRO", '"long"', ())
    assert first == again and first[1] == 1
    assert other_subject == (first[0], 1)
    assert second[1] == 2 and second[0] != first[0]
    assert store.registry_schema_id("fp-1") == first[0]
    stored = store.registry_get_schema(second[0])
    assert stored is not None and (stored.schema_type, stored.schema) == ("AVRO", '"long"')
    assert store.registry_get_schema(10_000) is None


def test_versions_soft_delete_purge_and_numbering(store: MetadataStore) -> None:
    for n in range(3):
        store.registry_register("s", f"fp-{n}", "AVRO", f'{{"type":"fixed","name":"f","size":{n + 1}}}', ())
    store.registry_mark_deleted("s", [3])
    assert [v.version for v in store.registry_versions("s")] == [1, 2]
    assert [(v.version, v.deleted) for v in store.registry_versions("s", include_deleted=True)] == [
        (1, False),
        (2, False),
        (3, True),
    ]
    # numbers are never reused, even after a soft delete
    assert store.registry_register("s", "fp-9", "AVRO", '"int"', ())[1] == 4
    store.registry_purge("s", [2, 3])  # 2 is live: a purge takes only soft-deleted versions
    assert [v.version for v in store.registry_versions("s", include_deleted=True)] == [1, 2, 4]


def test_references_and_referenced_by(store: MetadataStore) -> None:
    base_id, _ = store.registry_register(
        "base", "fp-base", "AVRO", '{"type":"record","name":"B","fields":[]}', ()
    )
    ref = SchemaReference("B", "base", 1)
    user_id, _ = store.registry_register("user", "fp-user", "AVRO", '{"type":"record","name":"U"}', [ref])
    stored = store.registry_get_schema(user_id)
    assert stored is not None and stored.references == (ref,)
    assert store.registry_referenced_by("base", 1) == [user_id]
    store.registry_mark_deleted("user", [1])
    assert store.registry_referenced_by("base", 1) == []
    assert base_id != user_id


def test_settings_per_subject_and_global(store: MetadataStore) -> None:
    assert store.registry_setting("", "compatibility") is None
    assert store.registry_set_setting("", "compatibility", "FULL") is None
    assert store.registry_set_setting("s", "compatibility", "NONE") is None
    assert store.registry_set_setting("s", "compatibility", "FORWARD") == "NONE"
    assert store.registry_setting("s", "compatibility") == "FORWARD"
    assert store.registry_setting("", "compatibility") == "FULL"
    assert store.registry_set_setting("s", "compatibility", None) == "FORWARD"
    assert store.registry_setting("s", "compatibility") is None
    store.registry_set_setting("", "mode", "READONLY")
    assert store.registry_setting("", "mode") == "READONLY"


def test_import_keeps_given_ids_and_later_ids_go_above(store: MetadataStore) -> None:
    store.registry_import("imp", 7, 1000, "fp-imp", "AVRO", '"bytes"', ())
    assert [(v.version, v.schema_id) for v in store.registry_versions("imp")] == [(7, 1000)]
    new_id, version = store.registry_register("imp", "fp-next", "AVRO", '"double"', ())
    assert version == 8 and new_id > 1000
    with pytest.raises(ValueError, match="already holds another schema"):
        store.registry_import("imp2", 1, 1000, "fp-other", "AVRO", '"float"', ())


def test_processes_registering_at_once_never_share_an_id(store_url: str) -> None:
    script = (
        "import sys\n"
        "from daap.mesh.metadata import open_metadata_store\n"
        "s = open_metadata_store(sys.argv[1])\n"
        "for i in range(25):\n"
        "    fp = f'{sys.argv[2]}-{i}'\n"
        "    print(s.registry_register(f'subj-{i % 3}', fp, 'AVRO', '\"' + fp + '\"', ())[0])\n"
        "s.close()\n"
    )
    open_metadata_store(store_url).close()  # migrate once, before the race
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, store_url, f"p{n}"],
            stdout=subprocess.PIPE,
            text=True,
            env={"PYTHONPATH": SRC},
        )
        for n in range(4)
    ]
    ids = [int(line) for proc in procs for line in proc.communicate(timeout=120)[0].split()]
    assert all(proc.returncode == 0 for proc in procs)
    assert len(ids) == 100 and len(set(ids)) == 100
    store = open_metadata_store(store_url)
    try:
        versions = {
            s: [v.version for v in store.registry_versions(s)] for s in ("subj-0", "subj-1", "subj-2")
        }
    finally:
        store.close()
    assert sum(len(numbers) for numbers in versions.values()) == 100
    for numbers in versions.values():  # dense per subject: no number handed out twice
        assert numbers == list(range(1, len(numbers) + 1))


def test_registering_against_a_stale_latest_version_writes_nothing(store: MetadataStore) -> None:
    from daap.mesh.metadata._registry import SubjectChanged

    assert store.registry_register("s", "fp-1", "AVRO", '"int"', (), expected_latest=0)[1] == 1
    with pytest.raises(SubjectChanged, match="latest version is 1, not 0"):
        store.registry_register("s", "fp-2", "AVRO", '"long"', (), expected_latest=0)
    assert [v.version for v in store.registry_versions("s")] == [1]
    assert store.registry_register("s", "fp-2", "AVRO", '"long"', (), expected_latest=1)[1] == 2


def test_registries_racing_on_one_subject_keep_it_compatible(store_url: str) -> None:
    """Four processes register chains of schemas under one BACKWARD subject. Each process's
    field ``tag`` has its own type, so two processes' schemas never follow each other: checked
    against the same latest version, both would pass; only one may be stored after it."""
    script = (
        "import json, sys\n"
        "from daap.mesh.metadata import open_metadata_store\n"
        "from daap.mesh.registry.service import RegistryError, Schema, SchemaRegistry\n"
        "store = open_metadata_store(sys.argv[1])\n"
        "reg = SchemaRegistry(store)\n"
        "tag = sys.argv[2]\n"
        "import time\n"
        "time.sleep(max(0.0, float(sys.argv[3]) - time.time()))  # start together\n"
        "for i in range(40):\n"
        "    fields = [{'name': 'tag', 'type': tag}]\n"
        "    fields += [{'name': f'f{j}', 'type': 'string', 'default': ''} for j in range(i)]\n"
        "    record = {'type': 'record', 'name': 'R', 'fields': fields}\n"
        "    try:\n"
        "        reg.register('race-value', Schema(json.dumps(record)))\n"
        "    except RegistryError as exc:\n"
        "        assert exc.error_code in (409, 40901), exc\n"
        "store.close()\n"
    )
    open_metadata_store(store_url).close()
    start = str(time.time() + 2.0)
    procs = [
        subprocess.Popen([sys.executable, "-c", script, store_url, tag, start], env={"PYTHONPATH": SRC})
        for tag in ("string", "long", "boolean", "double")
    ]
    assert all(proc.wait(timeout=120) == 0 for proc in procs)
    from daap.mesh.registry import avro

    store = open_metadata_store(store_url)
    try:
        schemas = [store.registry_get_schema(v.schema_id) for v in store.registry_versions("race-value")]
    finally:
        store.close()
    parsed = [avro.parse(s.schema) for s in schemas if s is not None]
    assert len(parsed) >= 2  # the winner's chain went on
    for old, new in itertools.pairwise(parsed):
        assert avro.can_read(new, old) == [], "a version was stored that cannot read the one before it"
