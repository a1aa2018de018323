"""Row filters and column masks of a product: ``access.yaml`` beside its descriptor. Pure.

Who may do what with a product is its Cedar policy (``access.cedar``); which
rows and which values a reader then sees is this file::

    # billing_customers/access.yaml
    rowFilters:
      - name: own-region
        where: region = principal.region      # SQL over the port's columns and the reader
        ports: [customers]                    # default: every output port
        exempt: [governance]                  # roles that see every row (the owner team always does)
    masks:                                    # classification -> mask, over mesh.yaml's and the built-ins
      pii: hash
    columns:                                  # one column's own mask, over its classification's
      customers.birth_date: year

A column with an ODCS ``classification`` is masked unless its reader may
``read_unmasked`` that classification. Its mask is, first found: the
column's own entry in ``columns``, the product's ``masks`` for the
classification, ``masks:`` in ``mesh.yaml``, the built-ins (``public`` and
``internal`` are not masked; everything else is ``redact``).

The masks (:data:`MASKS`) keep the column's type, so every reader of a port
sees the same schema:

- ``redact``: text becomes ``'***'``; any other value becomes null;
- ``hash``: text becomes a keyed hash (the mesh's secret key), equal for equal
  values, so joins and counts of distinct values still work;
- ``last4``: text keeps its last four characters (``'***1234'``);
- ``year``: a date or timestamp keeps its year (the first of January);
- ``null``: every value becomes null;
- ``none``: not masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daap.errors import Diagnostic, SpecError
from daap.spec.diagnose import suggest
from daap.spec.model import ColumnSpec, ProductSpec
from daap.spec.yamlpos import Loc, YamlDoc, kind, load_yaml

ACCESS_FILE = "access.yaml"
MASKS: tuple[str, ...] = ("none", "redact", "hash", "last4", "year", "null")
#: classifications that are not masked unless a mask is configured for them
UNMASKED: tuple[str, ...] = ("public", "internal")
DEFAULT_MASK = "redact"
#: masks that need a text column, and the one that needs a date or timestamp
TEXT_MASKS = ("hash", "last4")
DATE_MASKS = ("year",)
_TEXT_TYPES = ("string",)
_DATE_TYPES = ("date", "timestamp")
_FIELDS = ("rowFilters", "masks", "columns")
_FILTER_FIELDS = ("name", "where", "ports", "exempt", "description")


@dataclass(frozen=True)
class RowFilter:
    """Rows of ``ports`` a reader sees: those where ``where`` holds for that reader."""

    name: str
    #: a SQL condition over the port's columns and ``principal.<attribute>`` (``principal.name``,
    #: ``.kind``, ``.domain``, ``.roles``, ``.purposes`` and the principal's attributes)
    where: str
    #: the output ports it applies to; empty: every output port
    ports: tuple[str, ...] = ()
    #: roles whose principals see every row (the product's owner team always does)
    exempt: tuple[str, ...] = ()
    description: str | None = None
    #: where it is declared (1-based), for messages about its condition
    line: int = 0
    col: int = 0

    def applies_to(self, port: str) -> bool:
        return not self.ports or port in self.ports


@dataclass(frozen=True)
class AccessSpec:
    """A product's row filters and masks (an empty one when it has no ``access.yaml``)."""

    row_filters: tuple[RowFilter, ...] = ()
    #: classification -> mask
    masks: Mapping[str, str] = field(default_factory=dict)
    #: ``port.column`` -> mask
    columns: Mapping[str, str] = field(default_factory=dict)
    #: the file it was read from, as shown in messages; None: no file
    path: str | None = None
    #: where each entry of ``columns`` is (1-based line, column)
    positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def at(self, column: str) -> tuple[int, int]:
        return self.positions.get(column, (0, 0))

    def filters_for(self, port: str) -> tuple[RowFilter, ...]:
        return tuple(f for f in self.row_filters if f.applies_to(port))


def access_path(folder: Path) -> Path:
    return folder / ACCESS_FILE


def mask_for(
    port: str, column: ColumnSpec, access: AccessSpec, mesh_masks: Mapping[str, str] | None = None
) -> str:
    """The mask of ``port.column`` for a reader who may not ``read_unmasked`` its classification.

    ``none`` for an unclassified column without a mask of its own.
    """
    own = access.columns.get(f"{port}.{column.name}")
    if own is not None:
        return own
    if column.classification is None:
        return "none"
    return classification_mask(column.classification, access, mesh_masks)


def classification_mask(
    classification: str, access: AccessSpec, mesh_masks: Mapping[str, str] | None = None
) -> str:
    """The mask of ``classification``: the product's, else ``mesh.yaml``'s, else the built-in."""
    for masks in (access.masks, mesh_masks or {}):
        if classification in masks:
            return masks[classification]
    return "none" if classification.lower() in UNMASKED else DEFAULT_MASK


def mask_problem(mask: str, column: ColumnSpec) -> str | None:
    """Why ``mask`` cannot keep ``column``'s type, or None when it can."""
    if mask not in MASKS:
        return f"unknown mask {mask!r}{suggest(mask, MASKS)} (masks: {', '.join(MASKS)})"
    if mask in TEXT_MASKS and column.logical_type not in _TEXT_TYPES:
        return (
            f"mask {mask!r} keeps text only, and column {column.name!r} is {column.logical_type}: "
            "use null or redact"
        )
    if mask in DATE_MASKS and column.logical_type not in _DATE_TYPES:
        return (
            f"mask {mask!r} keeps a date's year, and column {column.name!r} is {column.logical_type}: "
            "use null or redact"
        )
    return None  # redact, null and none fit every type (a value that is not text becomes null)


def load_access(folder: Path, shown: str | None = None) -> AccessSpec:
    """The product's ``access.yaml``, or an empty spec when it has none.

    Raises:
        SpecError: the file is not valid (every problem, positioned).
    """
    path = access_path(folder)
    if not path.is_file():
        return AccessSpec()
    doc = load_yaml(path, shown or str(path))
    access = parse_access(doc)
    if doc.diagnostics:
        raise SpecError(doc.diagnostics)
    return access


def parse_access(doc: YamlDoc) -> AccessSpec:
    """Read an ``access.yaml`` document; problems go on ``doc``."""
    data = doc.data
    for key in data:
        if key not in _FIELDS:
            doc.report((key,), f"unknown field {key!r}{suggest(str(key), _FIELDS)}", at="key")
    filters = _row_filters(doc, data.get("rowFilters"))
    masks = _mask_map(doc, ("masks",), data.get("masks"), "classification")
    columns = _mask_map(doc, ("columns",), data.get("columns"), "port.column")
    for name in columns:
        if name.count(".") != 1 or not all(name.split(".")):
            doc.report(("columns", name), f"{name!r} must name a column as <port>.<column>", at="key")
    positions = {name: doc.position(("columns", name), at="key") for name in columns}
    return AccessSpec(filters, masks, columns, doc.path, positions)


def access_problems(
    product: ProductSpec, access: AccessSpec, mesh_masks: Mapping[str, str]
) -> list[Diagnostic]:
    """What does not fit the product: unknown ports and columns, masks that cannot keep a type.

    The filters' conditions are checked where they are compiled
    (:func:`daap.mesh.policy.restrict.filter_problems`).
    """
    where = access.path or ACCESS_FILE
    found: list[Diagnostic] = []
    ports = {p.name: p for p in product.output_ports}
    for rule in access.row_filters:
        for named in rule.ports:
            if named not in ports:
                found.append(
                    Diagnostic(
                        where, rule.line, rule.col,
                        f"row filter {rule.name!r}: {product.name} has no output port {named!r}"
                        f"{suggest(named, ports)}",
                    )
                )  # fmt: skip
    for name, mask in access.columns.items():
        port_name, _, column_name = name.partition(".")
        port = ports.get(port_name)
        column = port.contract.column(column_name) if port else None
        if column is None:
            what = (
                f"no output port {port_name!r}"
                if port is None
                else f"no column {column_name!r} in {port_name}"
            )
            found.append(Diagnostic(where, *access.at(name), f"columns: {name}: {product.name} has {what}"))
            continue
        if problem := mask_problem(mask, column):
            found.append(Diagnostic(where, *access.at(name), f"columns: {name}: {problem}"))
    for port in product.output_ports:
        for column in port.contract.columns:
            if column.classification is None or f"{port.name}.{column.name}" in access.columns:
                continue
            mask = mask_for(port.name, column, access, mesh_masks)
            if problem := mask_problem(mask, column):
                found.append(
                    Diagnostic(
                        where, 0, 0,
                        f"{port.name}.{column.name} (classification {column.classification!r}): {problem}; "
                        f"give it its own mask under columns: {port.name}.{column.name}",
                    )
                )  # fmt: skip
    return found


def _row_filters(doc: YamlDoc, value: Any) -> tuple[RowFilter, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        doc.report(("rowFilters",), f"rowFilters must be a list of filters, got {kind(value)}")
        return ()
    found: list[RowFilter] = []
    names: set[str] = set()
    for index, item in enumerate(value):
        loc: Loc = ("rowFilters", index)
        if not isinstance(item, dict):
            doc.report(loc, f"a row filter must be a mapping with name and where, got {kind(item)}")
            continue
        for key in item:
            if key not in _FILTER_FIELDS:
                doc.report((*loc, key), f"unknown field {key!r}{suggest(str(key), _FILTER_FIELDS)}", at="key")
        name, where = item.get("name"), item.get("where")
        if not isinstance(name, str) or not name.strip():
            doc.report((*loc, "name"), "a row filter needs a name (a non-empty string)")
            continue
        if name in names:
            doc.report((*loc, "name"), f"row filter {name!r} is declared twice")
            continue
        names.add(name)
        if not isinstance(where, str) or not where.strip():
            doc.report(
                (*loc, "where"),
                f"row filter {name!r} needs a where condition, e.g. region = principal.region",
            )
            continue
        ports = _names(doc, (*loc, "ports"), item.get("ports"))
        exempt = _names(doc, (*loc, "exempt"), item.get("exempt"))
        description = item.get("description")
        line, col = doc.position((*loc, "where"))
        found.append(
            RowFilter(
                name, where.strip(), ports, exempt, str(description) if description else None, line, col
            )
        )
    return tuple(found)


def _names(doc: YamlDoc, loc: Loc, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        doc.report(loc, f"{loc[-1]} must be a list of names, got {kind(value)}")
        return ()
    return tuple(value)


def _mask_map(doc: YamlDoc, loc: Loc, value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        doc.report(loc, f"{loc[-1]} must map each {what} to a mask ({', '.join(MASKS)}), got {kind(value)}")
        return {}
    found: dict[str, str] = {}
    for key, mask in value.items():
        if not isinstance(mask, str) or mask not in MASKS:
            shown = mask if isinstance(mask, str) else kind(mask)
            doc.report(
                (*loc, key), f"unknown mask {shown!r}{suggest(str(shown), MASKS)} (masks: {', '.join(MASKS)})"
            )
            continue
        found[str(key)] = mask
    return found


def check_masks(doc: YamlDoc, loc: Loc, value: Any) -> dict[str, str]:
    """``masks:`` of ``mesh.yaml``: classification -> mask; problems go on ``doc``."""
    return _mask_map(doc, loc, value, "classification")


def classified(product: ProductSpec) -> Iterable[tuple[str, ColumnSpec]]:
    """Each (port, column) of the product's contracts that has a classification."""
    for port in product.output_ports:
        for column in port.contract.columns:
            if column.classification is not None:
                yield port.name, column


__all__ = [
    "ACCESS_FILE",
    "MASKS",
    "AccessSpec",
    "RowFilter",
    "access_path",
    "access_problems",
    "check_masks",
    "classification_mask",
    "classified",
    "load_access",
    "mask_for",
    "mask_problem",
    "parse_access",
]
