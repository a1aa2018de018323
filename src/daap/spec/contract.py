"""The ODCS v3.2 contract of one output port → :class:`ContractSpec`.

Each output port ``<port>`` has ``contracts/<port>.odcs.yaml``. Its shape is
checked against the ``open_data_contract_standard`` pydantic model; daap then
reads the schema object for the port (the one named after it, or the only
one) and turns each ``properties[]`` entry into a :class:`ColumnSpec`::

    schema:
      - name: titles
        properties:
          - {name: title_id, logicalType: integer, primaryKey: true}
          - {name: price, logicalType: number, physicalType: "decimal(10,2)"}

The object's and its columns' ``quality`` rules and ``relationships`` become
the contract's :class:`~daap.spec.model.QualityRule` list (:mod:`daap.spec.quality`).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from open_data_contract_standard.model import OpenDataContractStandard

from daap.errors import SpecError
from daap.spec.diagnose import check_identifier, validate
from daap.spec.model import ColumnSpec, ContractSpec
from daap.spec.quality import quality_rules
from daap.spec.types import NESTED, TypeMappingError, duration, quote, sql_type
from daap.spec.yamlpos import Loc, YamlDoc, load_yaml

#: the ODCS versions whose shape the v3 model describes
ODCS_VERSIONS = ("v3.2.0", "v3.1.0", "v3.0.2", "v3.0.1", "v3.0.0")
#: how deep objects and arrays may nest inside a column
MAX_DEPTH = 16
#: required by the ODCS JSON schema, though the pydantic model leaves them optional
REQUIRED = ("apiVersion", "kind", "id", "version")
#: the schema registry's compatibility levels, settable per port (``compatibility`` custom property)
COMPATIBILITY_LEVELS = (
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
)


def contract_path(folder: Path, port: str) -> Path:
    """Where the contract of output port ``port`` must be."""
    return folder / "contracts" / f"{port}.odcs.yaml"


def load_contract(path: Path, port: str, shown: str | None = None) -> ContractSpec:
    """Load, validate and resolve the contract of output port ``port``.

    Raises:
        SpecError: with every problem in the file, positioned.
    """
    doc = load_yaml(path, shown)
    odcs = validate(OpenDataContractStandard, doc)
    _check_header(doc)
    obj = _schema_object(doc, port)
    columns, primary_key = _columns(doc, obj)
    rules = quality_rules(doc, obj, columns) if obj is not None else ()
    level = _compatibility(doc)
    sla = _sla(doc)
    target = _slo_target(doc)
    if doc.diagnostics:
        raise SpecError(doc.diagnostics)
    data = doc.data
    return ContractSpec(
        path, data["id"], data["version"], columns, primary_key, odcs, level, rules, sla, target
    )


def _custom(doc: YamlDoc, name: str) -> list[tuple[int, Any]]:
    """(index, value) of each contract-level custom property called ``name``."""
    props = doc.get(("customProperties",))
    if not isinstance(props, list):
        return []
    return [
        (i, p.get("value")) for i, p in enumerate(props) if isinstance(p, dict) and p.get("property") == name
    ]


def _compatibility(doc: YamlDoc) -> str | None:
    """The ``compatibility`` custom property: the port's level in the schema registry."""
    for i, value in _custom(doc, "compatibility"):
        if isinstance(value, str) and value.upper() in COMPATIBILITY_LEVELS:
            return value.upper()
        doc.report(
            ("customProperties", i, "value"),
            f"compatibility must be one of {', '.join(COMPATIBILITY_LEVELS)}, got {value!r}",
        )
    return None


def _slo_target(doc: YamlDoc) -> float | None:
    """The ``sloTarget`` custom property: a percent above 0, at most 100."""
    for i, value in _custom(doc, "sloTarget"):
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 100:
            return float(value)
        doc.report(
            ("customProperties", i, "value"),
            f"sloTarget must be a percent above 0, at most 100, got {value!r}",
        )
    return None


#: the ``slaProperties`` daap's monitors and SLOs read, each a duration
WATCHED_SLAS = ("latency", "frequency")


def _sla(doc: YamlDoc) -> dict[str, timedelta]:
    """``latency`` and ``frequency`` from ``slaProperties``, as durations (``value`` + ``unit``)."""
    props = doc.get(("slaProperties",))
    found: dict[str, timedelta] = {}
    for i, prop in enumerate(props if isinstance(props, list) else []):
        name = prop.get("property") if isinstance(prop, dict) else None
        if not isinstance(name, str) or name.lower() not in WATCHED_SLAS:
            continue
        value, unit = prop.get("value"), prop.get("unit")
        limit = duration(value, unit)
        if limit is None:
            units = ", ".join(sorted({"s", "m", "h", "d", "w"}))
            doc.report(
                ("slaProperties", i, "unit" if "unit" in prop else "value"),
                f"{name} must be a positive number with a unit ({units}, or words like hours), "
                f"got value {value!r}, unit {unit!r}",
            )
        else:
            found[name.lower()] = limit
    return found


def _check_header(doc: YamlDoc) -> None:
    for key in REQUIRED:
        if doc.get((key,)) is None:
            doc.report((key,), f"missing required field '{key}'", at="key")
    api = doc.get(("apiVersion",))
    if isinstance(api, str) and api not in ODCS_VERSIONS:
        doc.report(("apiVersion",), f"apiVersion must be one of {', '.join(ODCS_VERSIONS)}")
    kind = doc.get(("kind",))
    if isinstance(kind, str) and kind != "DataContract":
        doc.report(("kind",), f"kind must be 'DataContract', got {kind!r}")


def _columns(doc: YamlDoc, obj: Loc | None) -> tuple[tuple[ColumnSpec, ...], tuple[str, ...]]:
    if obj is None:
        return (), ()
    props = doc.get((*obj, "properties"))
    if not props:
        doc.report(obj, "schema object has no properties: list its columns there", at="key")
    located: dict[str, tuple[Loc, ColumnSpec]] = {}
    for index in range(len(props) if isinstance(props, list) else 0):
        loc = (*obj, "properties", index)
        column = _column(doc, loc)
        if column is not None and column.name in located:
            doc.report((*loc, "name"), f"column '{column.name}' is declared twice")
        elif column is not None:
            located[column.name] = (loc, column)
    return tuple(c for _, c in located.values()), _primary_key(doc, list(located.values()))


def _schema_object(doc: YamlDoc, port: str) -> Loc | None:
    """The schema object named after the port, or the only one."""
    schema = doc.get(("schema",))
    if not isinstance(schema, list) or not schema:
        if not schema:
            doc.report(("schema",), f"the contract has no schema: add an object named '{port}'")
        return None
    names = [o.get("name") if isinstance(o, dict) else None for o in schema]
    if port in names:
        return ("schema", names.index(port))
    if len(schema) == 1:
        return ("schema", 0)
    listed = ", ".join(repr(n) for n in names)
    doc.report(("schema",), f"no schema object named '{port}' (found {listed})", at="key")
    return None


def _column(doc: YamlDoc, loc: Loc, depth: int = 0) -> ColumnSpec | None:
    """One ``properties[]`` entry (or an array's ``items``); ``None`` after reporting what is wrong.

    ``depth`` is 0 for a column, more inside an ``object`` or ``array``.
    """
    prop = doc.get(loc)
    if not isinstance(prop, dict):
        return None  # the ODCS model has reported it
    is_items = loc[-1] == "items"
    name = "items" if is_items else prop.get("name")
    if name is None:
        doc.report(loc, "missing required field 'name'", at="key")
    named = isinstance(name, str) and check_identifier(doc, (*loc, "name"), "column", name)
    primary = prop.get("primaryKey") is True
    if primary and depth:
        doc.report((*loc, "primaryKey"), "a primary key column must be a top-level column, not nested")
    logical = prop.get("logicalType")
    if logical in NESTED and depth >= MAX_DEPTH:
        doc.report((*loc, "logicalType"), f"nested more than {MAX_DEPTH} levels deep")
        return None
    if logical == "object":
        fields = _fields(doc, loc, depth)
        duck = (
            None
            if fields is None
            else "STRUCT(" + ", ".join(f"{quote(f.name)} {f.sql_type}" for f in fields) + ")"
        )
        items = None
    elif logical == "array":
        fields, items = (), _items(doc, loc, depth)
        duck = None if items is None else f"{items.sql_type}[]"
    else:
        fields, items, duck = (), None, _sql_type(doc, loc, prop)
    if primary and logical in NESTED:
        doc.report((*loc, "primaryKey"), f"a primary key column must be a scalar, not an {logical}")
    if not named or duck is None:
        return None
    position = prop.get("primaryKeyPosition")
    return ColumnSpec(
        name=str(name),
        logical_type=str(logical),
        sql_type=duck,
        required=primary or prop.get("required") is True,
        primary_key=primary and not depth,
        primary_key_position=position if type(position) is int and position > 0 else None,
        unique=prop.get("unique") is True,
        classification=_text(prop.get("classification")),
        description=_text(prop.get("description")),
        fields=fields or (),
        items=items,
    )


def _fields(doc: YamlDoc, loc: Loc, depth: int) -> tuple[ColumnSpec, ...] | None:
    """The fields of an ``object`` property, from its ``properties``."""
    props = doc.get((*loc, "properties"))
    if not isinstance(props, list) or not props:
        doc.report(loc, "an object needs properties: list its fields there", at="key")
        return None
    fields: dict[str, ColumnSpec] = {}
    complete = True
    for index in range(len(props)):
        field_loc = (*loc, "properties", index)
        found = _column(doc, field_loc, depth + 1)
        if found is None:
            complete = False
        elif found.name in fields:
            doc.report((*field_loc, "name"), f"field '{found.name}' is declared twice")
            complete = False
        else:
            fields[found.name] = found
    return tuple(fields.values()) if complete else None


def _items(doc: YamlDoc, loc: Loc, depth: int) -> ColumnSpec | None:
    """The element type of an ``array`` property, from its ``items``."""
    if not isinstance(doc.get((*loc, "items")), dict):
        doc.report(loc, "an array needs items: give their logicalType there", at="key")
        return None
    return _column(doc, (*loc, "items"), depth + 1)


def _sql_type(doc: YamlDoc, loc: Loc, prop: dict[str, Any]) -> str | None:
    logical = prop.get("logicalType")
    if logical is None:
        doc.report(loc, "missing required field 'logicalType'", at="key")
    if not isinstance(logical, str):
        return None
    physical = prop.get("physicalType")
    options = prop.get("logicalTypeOptions")
    try:
        return sql_type(
            logical,
            physical if isinstance(physical, str) else None,
            options if isinstance(options, dict) else None,
        )
    except TypeMappingError as exc:
        doc.report((*loc, exc.key), exc.message)
        return None


def _primary_key(doc: YamlDoc, columns: list[tuple[Loc, ColumnSpec]]) -> tuple[str, ...]:
    """Key columns by ``primaryKeyPosition``, then in declaration order."""
    keyed: dict[int, str] = {}
    for loc, column in columns:
        position = column.primary_key_position
        if position is not None and not column.primary_key:
            doc.report((*loc, "primaryKeyPosition"), "primaryKeyPosition set but primaryKey is not")
        elif position is not None and position in keyed:
            doc.report(
                (*loc, "primaryKeyPosition"),
                f"primaryKeyPosition {position} is also used by column '{keyed[position]}'",
            )
        elif position is not None:
            keyed[position] = column.name
    ordered = sorted(
        (c.primary_key_position is None, c.primary_key_position or 0, index, c.name)
        for index, (_, c) in enumerate(columns)
        if c.primary_key
    )
    return tuple(name for *_, name in ordered)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
