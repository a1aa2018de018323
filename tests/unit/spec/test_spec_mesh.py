"""The workspace: mesh.yaml, DAAP_HOME and product discovery."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from daap.errors import ConfigError, SpecError
from daap.spec import MeshConfig, find_products, load_mesh_config
from daap.spec.mesh import OpenLineageConfig


def write_mesh(workspace: Path, text: str) -> None:
    (workspace / "mesh.yaml").write_text(text)


def test_defaults_without_mesh_yaml(tmp_path: Path) -> None:
    config = load_mesh_config(tmp_path, env={})

    home = tmp_path.resolve() / ".daap"
    assert config == MeshConfig(
        workspace=tmp_path.resolve(),
        home=home,
        metadata_url=f"sqlite:///{home}/metadata.db",
        catalog_url=f"sqlite:///{home}/catalog.db",
        warehouse=home / "warehouse",
        name=None,
        build_memory=config.build_memory,
        backbone_url=f"sqlite:///{home}/metadata.db",  # embedded: in the metadata database
    )
    quarter = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4 // 2**20
    assert config.build_memory == f"{quarter}MB"


def test_build_memory_from_mesh_yaml_then_environment(tmp_path: Path) -> None:
    (tmp_path / "mesh.yaml").write_text("buildMemory: 2GB\n")
    assert load_mesh_config(tmp_path, env={}).build_memory == "2GB"
    assert load_mesh_config(tmp_path, env={"DAAP_BUILD_MEMORY": "512MB"}).build_memory == "512MB"
    with pytest.raises(ConfigError, match="DAAP_BUILD_MEMORY='lots' is not a size"):
        load_mesh_config(tmp_path, env={"DAAP_BUILD_MEMORY": "lots"})
    (tmp_path / "mesh.yaml").write_text("name: x\nbuildMemory: two gigs\n")
    with pytest.raises(SpecError, match=r"mesh.yaml:2:\d+: buildMemory 'two gigs' is not a size"):
        load_mesh_config(tmp_path, env={})


@pytest.mark.parametrize(
    "value", ["nats://127.0.0.1:4222", "kafka://broker:9092", "sqlite:///var/lib/events.db"]
)
def test_backbone_url_from_mesh_yaml(tmp_path: Path, value: str) -> None:
    write_mesh(tmp_path, f"backbone: {value}\n")
    assert load_mesh_config(tmp_path, env={}).backbone_url == value


def test_embedded_backbone_beside_postgres_metadata_is_a_file_in_the_home(tmp_path: Path) -> None:
    write_mesh(tmp_path, "metadata: postgresql://daap@db/mesh\nbackbone: embedded\n")
    config = load_mesh_config(tmp_path, env={})
    assert config.backbone_url == f"sqlite:///{tmp_path.resolve()}/.daap/backbone.db"


@pytest.mark.parametrize("value", ["rabbitmq://localhost", "nats://", "'events'"])
def test_unsupported_backbone_is_refused_with_its_position(tmp_path: Path, value: str) -> None:
    write_mesh(tmp_path, f"name: x\nbackbone: {value}\n")
    with pytest.raises(
        SpecError, match=r"mesh.yaml:2:\d+: backbone must be 'embedded', a nats:// or kafka://"
    ):
        load_mesh_config(tmp_path, env={})


def test_daap_home_moves_all_state(tmp_path: Path) -> None:
    home = tmp_path / "elsewhere"

    config = load_mesh_config(tmp_path / "ws", env={"DAAP_HOME": str(home)})

    assert config.home == home
    assert config.metadata_url == f"sqlite:///{home}/metadata.db"
    assert config.catalog_url == f"sqlite:///{home}/catalog.db"
    assert config.warehouse == home / "warehouse"


def test_os_environ_is_the_default_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAAP_HOME", str(tmp_path / "h"))

    assert load_mesh_config(tmp_path).home == tmp_path / "h"


@pytest.mark.parametrize("url", ["postgresql://daap@db:5432/mesh", "postgres://daap@db:5432/mesh"])
def test_postgres_metadata_also_holds_the_catalog(tmp_path: Path, url: str) -> None:
    write_mesh(tmp_path, f"name: media\nmetadata: {url}\nwarehouse: lake\n")

    config = load_mesh_config(tmp_path, env={})

    assert config.name == "media"
    assert config.metadata_url == "postgresql://daap@db:5432/mesh"
    assert config.catalog_url == "postgresql+psycopg://daap@db:5432/mesh"
    assert config.warehouse == tmp_path.resolve() / "lake"


def test_absolute_warehouse_is_kept(tmp_path: Path) -> None:
    write_mesh(tmp_path, f"warehouse: {tmp_path / 'wh'}\n")

    assert load_mesh_config(tmp_path, env={}).warehouse == tmp_path / "wh"


def mesh_problems(workspace: Path, text: str) -> list[tuple[int, int, str]]:
    write_mesh(workspace, text)
    with pytest.raises(SpecError) as info:
        load_mesh_config(workspace, env={})
    return [(d.line, d.col, d.message) for d in info.value.diagnostics]


def test_unsupported_metadata_backend_is_refused(tmp_path: Path) -> None:
    assert mesh_problems(tmp_path, "name: m\nmetadata: mysql://x/y\n") == [
        (2, 11, "metadata must be 'sqlite' or a postgresql:// URL, got 'mysql://x/y'")
    ]


def test_unknown_keys_and_wrong_types_are_all_reported(tmp_path: Path) -> None:
    assert mesh_problems(tmp_path, "nmae: m\nwarehouse: [a]\nbackbon: nats\n") == [
        (1, 1, "unknown field 'nmae'; did you mean 'name'?"),
        (2, 12, "'warehouse' must be a string, got a list"),
        (3, 1, "unknown field 'backbon'; did you mean 'backbone'?"),
    ]


def test_malformed_mesh_yaml_is_positioned(tmp_path: Path) -> None:
    assert mesh_problems(tmp_path, "name: [m\n")[0][:2] == (2, 1)


def test_find_products_searches_recursively_and_skips_tooling(tmp_path: Path) -> None:
    for folder in ["b", "a", "a/nested", ".daap/x", ".git/y", "node_modules/z", "empty"]:
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        if folder != "empty":
            (tmp_path / folder / "dataproduct.yaml").write_text("")

    assert find_products(tmp_path) == [tmp_path / "a", tmp_path / "a/nested", tmp_path / "b"]


def test_event_format_is_avro_unless_mesh_yaml_says_json(tmp_path: Path) -> None:
    assert load_mesh_config(tmp_path, env={}).event_format == "avro"
    write_mesh(tmp_path, "eventFormat: json\n")
    assert load_mesh_config(tmp_path, env={}).event_format == "json"
    write_mesh(tmp_path, "eventFormat: protobuf\n")
    with pytest.raises(SpecError, match=r"mesh.yaml:1:\d+: .*eventFormat"):
        load_mesh_config(tmp_path, env={})


def test_openlineage_events_go_to_a_file_in_the_home_unless_mesh_yaml_says_otherwise(tmp_path: Path) -> None:
    assert load_mesh_config(tmp_path, env={}).openlineage == OpenLineageConfig("file", None)
    write_mesh(tmp_path, "openlineage: {transport: none}\n")
    assert load_mesh_config(tmp_path, env={}).openlineage == OpenLineageConfig("none", None)
    write_mesh(tmp_path, "openlineage:\n  transport: file\n  path: lineage/events.ndjson\n")
    expected = tmp_path.resolve() / "lineage" / "events.ndjson"  # relative to the workspace
    assert load_mesh_config(tmp_path, env={}).openlineage == OpenLineageConfig("file", expected)
    write_mesh(tmp_path, f"openlineage: {{path: {tmp_path / 'abs.ndjson'}}}\n")
    assert load_mesh_config(tmp_path, env={}).openlineage.path == tmp_path / "abs.ndjson"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "name: m\nopenlineage: {transport: kafka}\n",
            (2, 26, "'transport' must be one of 'file', 'http' or 'none', got 'kafka'"),
        ),
        (
            "openlineage: {transport: http, url: localhost:5000}\n",
            (
                1,
                37,
                "openlineage transport http needs a url like http://127.0.0.1:5000, got 'localhost:5000'",
            ),
        ),
        ("openlineage: none\n", (1, 14, "'openlineage' must be a mapping, got a string")),
        (
            "openlineage:\n  transprt: file\n",
            (2, 3, "unknown field 'transprt'; did you mean 'transport'?"),
        ),
        (
            "openlineage:\n  transport: none\n  path: ol.ndjson\n",
            (3, 9, "openlineage path is only read with transport: file, not 'none'"),
        ),
        (
            "openlineage:\n  path: ''\n",
            (2, 9, "openlineage path is empty (leave it out for <home>/openlineage/events.ndjson)"),
        ),
    ],
)
def test_bad_openlineage_settings_are_refused_with_their_position(
    tmp_path: Path, text: str, problem: tuple[int, int, str]
) -> None:
    assert mesh_problems(tmp_path, text) == [problem]
