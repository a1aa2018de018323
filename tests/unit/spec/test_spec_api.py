"""The public API of daap.spec is curated: this list changes on purpose only."""

from __future__ import annotations

import daap.spec


def test_exported_members() -> None:
    assert sorted(daap.spec.__all__) == [
        "ColumnSpec",
        "ContractSpec",
        "CsvOptions",
        "FileSource",
        "InputPortSpec",
        "MeshConfig",
        "OutputPortSpec",
        "Persona",
        "ProductSource",
        "ProductSpec",
        "TransformSpec",
        "TypeMappingError",
        "find_products",
        "load_contract",
        "load_mesh_config",
        "load_product",
        "sql_type",
    ]
    for name in daap.spec.__all__:
        assert getattr(daap.spec, name).__module__.startswith("daap.spec")
