"""The resolved product model the rest of daap works with.

``load_product`` (in :mod:`daap.spec.product`) reads a product folder — the
ODPS ``dataproduct.yaml`` and one ODCS contract per output port — validates
it, and returns a :class:`ProductSpec`. Everything downstream (build, query,
catalog) sees only these frozen objects, never raw YAML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

#: product, port and column names must be usable as SQL identifiers unquoted
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")

ProductType = Literal["raw", "derived"]
#: product types the framework knows; only ``SUPPORTED_TYPES`` can be built today
KNOWN_TYPES = ("raw", "derived", "algorithm", "hybrid", "composite")
SUPPORTED_TYPES: tuple[ProductType, ...] = ("raw", "derived")

FileFormat = Literal["csv", "parquet", "json", "ndjson"]


@dataclass(frozen=True)
class CsvOptions:
    """How to read a CSV file; ``None`` means "let the reader detect it"."""

    delimiter: str | None = None
    header: bool = True
    quote: str | None = None
    escape: str | None = None
    encoding: str = "utf-8"
    skip_rows: int = 0
    null_string: str | None = None
    date_format: str | None = None
    timestamp_format: str | None = None


@dataclass(frozen=True)
class FileSource:
    """Local files matched by a glob relative to the product folder."""

    path: str
    format: FileFormat
    csv: CsvOptions = field(default_factory=CsvOptions)


@dataclass(frozen=True)
class ProductSource:
    """Another product's output port, optionally pinned to one of its versions."""

    product: str
    port: str
    version: int | None = None

    @property
    def ref(self) -> str:
        return f"{self.product}.{self.port}"


@dataclass(frozen=True)
class InputPortSpec:
    name: str
    source: FileSource | ProductSource
    description: str | None = None


@dataclass(frozen=True)
class ColumnSpec:
    """One column of an output port, from the ODCS ``schema[].properties[]``.

    ``sql_type`` is the DuckDB type the contract gate casts to (see
    :mod:`daap.spec.types`), e.g. ``BIGINT``, ``DECIMAL(10,2)``, ``TIMESTAMPTZ``.
    A nested ``object`` has its ``fields`` (``STRUCT("city" VARCHAR, …)``); an
    ``array`` its ``items`` (``VARCHAR[]``), a column spec named ``items``.
    """

    name: str
    logical_type: str
    sql_type: str
    required: bool = False
    primary_key: bool = False
    primary_key_position: int | None = None
    unique: bool = False
    classification: str | None = None
    description: str | None = None
    fields: tuple[ColumnSpec, ...] = ()
    items: ColumnSpec | None = None

    @property
    def nullable(self) -> bool:
        """Whether a value may be null: neither ``required`` nor part of the key."""
        return not (self.required or self.primary_key)

    @property
    def nested(self) -> bool:
        return self.logical_type in ("object", "array")


QualityKind = Literal["metric", "sql", "relationship"]
Severity = Literal["error", "warning", "info"]
QualityUnit = Literal["rows", "percent"]


@dataclass(frozen=True)
class QualityRule:
    """One ODCS quality rule of an output port (``quality[]`` of the schema object or a column).

    A ``metric`` rule measures an ODCS library metric, an ``sql`` rule runs
    ``query`` (``{object}`` and ``{property}`` still in it), a ``relationship``
    counts rows whose value has no match in ``references``. The measured value
    must satisfy ``operator`` against ``threshold`` (a pair for the two
    ``...Between`` operators), in ``unit``: ``percent`` is 0..100 of the rows.
    (See :mod:`daap.spec.quality`.)
    """

    #: unique within the port: the ODCS ``name``, else ``<column>.<metric>``, ``<metric>``,
    #: ``<column>.sql_<n>``, ``sql_<n>`` or ``<column>.references``
    name: str
    #: the top-level column of a property-level rule; None for a schema-object rule
    column: str | None
    kind: QualityKind
    #: nullValues, missingValues, invalidValues, duplicateValues or rowCount (kind ``metric``)
    metric: str | None = None
    #: missingValues, validValues, pattern, or properties (a composite key's columns)
    arguments: Mapping[str, Any] = field(default_factory=dict)
    query: str | None = None
    #: the defaults are ODCS's for the counting metrics: ``mustBe: 0`` rows, severity error
    operator: str = "mustBe"
    threshold: float | tuple[float, float] = 0.0
    unit: QualityUnit = "rows"
    severity: Severity = "error"
    #: the ODCS dimension (accuracy, completeness, ...), recorded only
    dimension: str | None = None
    description: str | None = None
    #: kind ``relationship``: the referenced column as ``product.port.column``
    references: str | None = None


@dataclass(frozen=True)
class ContractSpec:
    """The ODCS v3.2 contract of one output port."""

    path: Path
    id: str
    version: str
    columns: tuple[ColumnSpec, ...]
    #: column names in primaryKeyPosition order; empty for append-only ports
    primary_key: tuple[str, ...]
    #: the validated ``open_data_contract_standard`` model, for later issues
    odcs: Any = None
    #: the port's compatibility level in the schema registry; None: the registry's global one
    compatibility: str | None = None
    #: the port's quality rules, relationships included (see :mod:`daap.spec.quality`)
    quality: tuple[QualityRule, ...] = ()
    #: the ``slaProperties`` daap watches, as durations: ``latency`` and ``frequency``
    sla: Mapping[str, timedelta] = field(default_factory=dict)
    #: the ``sloTarget`` custom property: percent of observations an SLO needs; None: the default
    slo_target: float | None = None

    def column(self, name: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class OutputPortSpec:
    name: str
    contract: ContractSpec
    description: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class TransformSpec:
    """The onboarding step: a DuckDB SQL file, or ``module.py:function``."""

    kind: Literal["sql", "python"]
    path: Path
    function: str | None = None


@dataclass(frozen=True)
class RetentionPolicy:
    """When published versions expire (Iceberg's semantics for snapshots).

    A version expires when it is older than ``max_age_days`` and not among the
    newest ``keep_versions``; with only ``keep_versions``, every older version
    expires. The latest version never expires, and neither does a version that
    another product's input port pins.
    """

    keep_versions: int | None = None
    max_age_days: float | None = None


@dataclass(frozen=True)
class QueryParameter:
    """A typed parameter of a named query, bound (never spliced) as ``$name``."""

    name: str
    logical_type: str
    sql_type: str
    description: str | None = None
    required: bool = True
    default: Any = None


@dataclass(frozen=True)
class NamedQuery:
    """A documented query a product offers, callable on every protocol.

    ``sql`` reads the product's ports as ``<product>.<port>`` and refers to its
    parameters as ``$name``; ``examples`` are parameter sets that work.
    """

    name: str
    sql: str
    description: str | None = None
    parameters: tuple[QueryParameter, ...] = ()
    examples: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Persona:
    name: str
    description: str | None = None
    skills: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProductSpec:
    """A validated product folder."""

    folder: Path
    descriptor_path: Path
    id: str
    name: str
    version: str
    status: str
    domain: str | None
    product_type: ProductType
    input_ports: tuple[InputPortSpec, ...]
    output_ports: tuple[OutputPortSpec, ...]
    transformation: TransformSpec | None
    purpose: str | None = None
    #: the descriptor's ``description.usage`` and ``description.limitations``
    usage: str | None = None
    limitations: str | None = None
    business_objective: str | None = None
    consumer_personas: tuple[Persona, ...] = ()
    team: str | None = None
    tags: tuple[str, ...] = ()
    retention: RetentionPolicy | None = None
    queries: tuple[NamedQuery, ...] = ()

    def query(self, name: str) -> NamedQuery | None:
        return next((q for q in self.queries if q.name == name), None)

    def output_port(self, name: str) -> OutputPortSpec | None:
        return next((p for p in self.output_ports if p.name == name), None)

    def upstream(self) -> tuple[ProductSource, ...]:
        """The other products' ports this product reads."""
        return tuple(p.source for p in self.input_ports if isinstance(p.source, ProductSource))

    def referenced(self) -> tuple[str, ...]:
        """Other products its quality rules' relationships check against (build them first)."""
        names = {
            rule.references.split(".", 1)[0]
            for port in self.output_ports
            for rule in port.contract.quality
            if rule.references
        }
        return tuple(sorted(names - {self.name}))

    def source_files(self) -> tuple[Path, ...]:
        """Files whose content defines the product (for the build fingerprint)."""
        files = [self.descriptor_path, *(p.contract.path for p in self.output_ports)]
        if self.transformation is not None:
            files.append(self.transformation.path)
        if self.transformation is not None and self.transformation.kind == "python":
            # the transformation may import modules beside it
            files += sorted(p for p in self.folder.glob("*.py") if p != self.transformation.path)
        return tuple(files)
