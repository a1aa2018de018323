"""daap.spec: read product folders and the mesh workspace into validated models.

Pure: it reads YAML and text files and nothing else. Everything downstream
works with the frozen objects of :mod:`daap.spec.model`, never raw YAML.
"""

from daap.spec.contract import load_contract
from daap.spec.mesh import MeshConfig, find_products, load_mesh_config
from daap.spec.model import (
    ColumnSpec,
    ContractSpec,
    CsvOptions,
    FileSource,
    InputPortSpec,
    OutputPortSpec,
    Persona,
    ProductSource,
    ProductSpec,
    TransformSpec,
)
from daap.spec.product import load_product
from daap.spec.types import TypeMappingError, sql_type

__all__ = [
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
