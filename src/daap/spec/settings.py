"""daap's own settings, carried in ODPS ``customProperties``.

ODPS has no field for "how is this product built", so daap reads
``property``/``value`` pairs from the top-level ``customProperties`` list::

    customProperties:
      - property: productType
        value: derived
      - property: transformation
        value: transform.py:build       # or {python: transform.py, function: build}

Each known property has one parser in :data:`PARSERS`. A property whose name
contains a dot or starts with ``x-`` belongs to someone else and is ignored;
any other unknown name is a typo until proven otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from daap.spec.diagnose import path_problem, suggest, validate
from daap.spec.model import (
    IDENTIFIER,
    KNOWN_TYPES,
    SUPPORTED_TYPES,
    NamedQuery,
    Persona,
    ProductType,
    QueryParameter,
    RetentionPolicy,
    TransformSpec,
)
from daap.spec.types import TypeMappingError, sql_type
from daap.spec.yamlpos import Loc, YamlDoc, kind

#: file extension → transformation kind, for the string shorthand
TRANSFORM_KINDS: dict[str, Literal["sql", "python"]] = {".sql": "sql", ".py": "python"}
DEFAULT_FUNCTION = "transform"


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PersonaValue(_Value):
    name: str
    description: str | None = None
    skills: list[str] = []


class RetentionValue(_Value):
    keepVersions: int | None = None
    maxAgeDays: float | None = None


class ParameterValue(_Value):
    name: str
    type: str
    description: str | None = None
    required: bool = True
    default: str | int | float | bool | None = None


class QueryValue(_Value):
    name: str
    sql: str
    description: str | None = None
    parameters: list[ParameterValue] = []
    examples: list[dict[str, str | int | float | bool | None]] = []


class TransformValue(_Value):
    sql: str | None = None
    python: str | None = None
    function: str | None = None


@dataclass
class Settings:
    """What the top-level custom properties say, filled in by :data:`PARSERS`."""

    folder: Path
    product_type: ProductType = "raw"
    product_type_loc: Loc | None = None
    business_objective: str | None = None
    personas: tuple[Persona, ...] = ()
    transformation: TransformSpec | None = None
    #: where the transformation was given, even if it turned out invalid
    transformation_loc: Loc | None = None
    #: productType was given but is not a type daap can build (already reported)
    type_invalid: bool = False
    retention: RetentionPolicy | None = None
    queries: tuple[NamedQuery, ...] = ()


def daap_properties(doc: YamlDoc, loc: Loc, known: Collection[str]) -> Iterator[tuple[str, Loc]]:
    """``(property, loc of its value)`` for each daap property under ``loc``.

    Reports unknown and repeated daap properties; skips entries whose shape
    the ODPS model already reported.
    """
    items = doc.get((*loc, "customProperties"))
    seen: set[str] = set()
    for index, item in enumerate(items if isinstance(items, list) else []):
        if not (isinstance(item, dict) and isinstance(item.get("property"), str)):
            continue
        name, item_loc = item["property"], (*loc, "customProperties", index)
        if "." in name or name.startswith("x-"):
            continue
        if name not in known:
            doc.report(
                (*item_loc, "property"),
                f"unknown daap property '{name}'{suggest(name, known)} (known: "
                f"{', '.join(known)}; name your own with a dot or an 'x-' prefix)",
            )
        elif name in seen:
            doc.report((*item_loc, "property"), f"property '{name}' is set twice")
        elif "value" in item:
            seen.add(name)
            yield name, (*item_loc, "value")


def read_settings(doc: YamlDoc, folder: Path) -> Settings:
    """Parse every daap property of the product; problems go to ``doc``."""
    settings = Settings(folder)
    for name, loc in daap_properties(doc, (), PARSERS):
        PARSERS[name](settings, doc, loc)
    return settings


def _product_type(settings: Settings, doc: YamlDoc, loc: Loc) -> None:
    value = doc.get(loc)
    settings.product_type_loc = loc
    settings.type_invalid = value not in SUPPORTED_TYPES
    if value in SUPPORTED_TYPES:
        settings.product_type = value
    elif value in KNOWN_TYPES:
        doc.report(
            loc,
            f"product type '{value}' is not supported yet: daap builds raw and derived products for now",
        )
    elif isinstance(value, str):
        doc.report(
            loc,
            f"unknown product type '{value}'{suggest(value, KNOWN_TYPES)} (known: {', '.join(KNOWN_TYPES)})",
        )
    else:
        doc.report(loc, f"productType must be a string, got {kind(value)}")


def _business_objective(settings: Settings, doc: YamlDoc, loc: Loc) -> None:
    value = doc.get(loc)
    if isinstance(value, str):
        settings.business_objective = value
    else:
        doc.report(loc, f"businessObjective must be a string, got {kind(value)}")


def _personas(settings: Settings, doc: YamlDoc, loc: Loc) -> None:
    value = doc.get(loc)
    if not isinstance(value, list):
        doc.report(loc, f"consumerPersonas must be a list, got {kind(value)}")
        return
    found = [validate(PersonaValue, doc, (*loc, i), "persona") for i in range(len(value))]
    settings.personas = tuple(Persona(p.name, p.description, tuple(p.skills)) for p in found if p is not None)


def _retention(settings: Settings, doc: YamlDoc, loc: Loc) -> None:
    """``{keepVersions: 10, maxAgeDays: 30}``: at least one, both positive."""
    parsed = validate(RetentionValue, doc, loc, "retention")
    if parsed is None:
        return
    if parsed.keepVersions is None and parsed.maxAgeDays is None:
        doc.report(loc, "retention needs keepVersions, maxAgeDays or both")
        return
    if parsed.keepVersions is not None and parsed.keepVersions < 1:
        doc.report(
            (*loc, "keepVersions"), "keepVersions must be at least 1 (the latest version is always kept)"
        )
        return
    if parsed.maxAgeDays is not None and parsed.maxAgeDays <= 0:
        doc.report((*loc, "maxAgeDays"), "maxAgeDays must be positive")
        return
    settings.retention = RetentionPolicy(parsed.keepVersions, parsed.maxAgeDays)


def _queries(settings: Settings, doc: YamlDoc, loc: Loc) -> None:
    """The query catalog: ``[{name, sql, description, parameters: [{name, type}], examples}]``."""
    value = doc.get(loc)
    if not isinstance(value, list):
        doc.report(loc, f"queries must be a list, got {kind(value)}")
        return
    found: list[NamedQuery] = []
    for index in range(len(value)):
        parsed = validate(QueryValue, doc, (*loc, index), "query")
        if parsed is not None:
            query = _named_query(doc, (*loc, index), parsed, {q.name for q in found})
            if query is not None:
                found.append(query)
    settings.queries = tuple(found)


def _named_query(doc: YamlDoc, loc: Loc, parsed: QueryValue, taken: set[str]) -> NamedQuery | None:
    ok = True
    if not IDENTIFIER.match(parsed.name) or parsed.name in taken:
        why = "is used twice" if parsed.name in taken else f"must match {IDENTIFIER.pattern}"
        doc.report((*loc, "name"), f"query name {parsed.name!r} {why}")
        ok = False
    parameters = []
    for index, param in enumerate(parsed.parameters):
        try:
            parameters.append(
                QueryParameter(
                    param.name,
                    param.type,
                    sql_type(param.type),
                    param.description,
                    param.required and param.default is None,
                    param.default,
                )
            )
        except TypeMappingError as exc:
            doc.report((*loc, "parameters", index, "type"), exc.message)
            ok = False
    declared = {p.name for p in parameters}
    for index, example in enumerate(parsed.examples):
        unknown = set(example) - declared
        if unknown:
            doc.report((*loc, "examples", index), f"example sets unknown parameter(s) {sorted(unknown)}")
            ok = False
    if not ok:
        return None
    examples = tuple(dict(e) for e in parsed.examples)
    return NamedQuery(parsed.name, parsed.sql, parsed.description, tuple(parameters), examples)


@dataclass(frozen=True)
class _Ref:
    """A transformation as written, before its file is checked."""

    kind: Literal["sql", "python"]
    file: str
    file_loc: Loc
    function: str | None
    function_loc: Loc


def _transformation(settings: Settings, doc: YamlDoc, loc: Loc) -> None:
    settings.transformation_loc = loc
    value = doc.get(loc)
    ref = _shorthand(doc, loc, value) if isinstance(value, str) else _mapping(doc, loc)
    if ref is not None:
        settings.transformation = _resolve(doc, settings.folder, ref)


def _shorthand(doc: YamlDoc, loc: Loc, value: str) -> _Ref | None:
    """``transform.sql``, ``transform.py`` or ``transform.py:build``."""
    file, colon, function = value.partition(":")
    transform_kind = TRANSFORM_KINDS.get(Path(file).suffix)
    if transform_kind is None or (colon and transform_kind != "python"):
        doc.report(loc, f"transformation {value!r} is not 'file.sql', 'file.py' or 'file.py:name'")
        return None
    if transform_kind == "sql":
        return _Ref("sql", file, loc, None, loc)
    return _Ref("python", file, loc, function or DEFAULT_FUNCTION, loc)


def _mapping(doc: YamlDoc, loc: Loc) -> _Ref | None:
    """``{sql: file}`` or ``{python: file, function: name}``."""
    parsed = validate(TransformValue, doc, loc, "transformation")
    if parsed is None:
        return None
    if (parsed.sql is None) == (parsed.python is None):
        doc.report(loc, "transformation needs exactly one of 'sql' or 'python'")
        return None
    if parsed.python is not None:
        function = parsed.function or DEFAULT_FUNCTION
        return _Ref("python", parsed.python, (*loc, "python"), function, (*loc, "function"))
    if parsed.function is not None:
        doc.report((*loc, "function"), "'function' only applies to a python transformation")
    return _Ref("sql", str(parsed.sql), (*loc, "sql"), None, loc)


def _resolve(doc: YamlDoc, folder: Path, ref: _Ref) -> TransformSpec | None:
    """Check the file and the function name; the spec, or ``None`` after reporting."""
    problem = _file_problem(folder, ref)
    if problem is not None:
        doc.report(ref.file_loc, problem)
    bad_function = ref.function is not None and not ref.function.isidentifier()
    if bad_function:
        doc.report(ref.function_loc, f"function name {ref.function!r} is not a Python identifier")
    if problem is not None or bad_function:
        return None
    return TransformSpec(ref.kind, folder / ref.file, ref.function)


def _file_problem(folder: Path, ref: _Ref) -> str | None:
    problem = path_problem(ref.file)
    if problem is not None:
        return problem
    path = folder / ref.file
    if ref.kind == "python" and path.suffix != ".py":
        return f"python transformation {ref.file!r} must be a .py file"
    if not path.is_file():
        return f"transformation file {ref.file!r} not found in the product folder"
    if ref.kind == "sql" and not path.read_text("utf-8", errors="replace").strip():
        return f"transformation file {ref.file!r} is empty"
    return None


SettingParser = Callable[[Settings, YamlDoc, Loc], None]

#: the daap properties of a product, and who reads each
PARSERS: dict[str, SettingParser] = {
    "productType": _product_type,
    "businessObjective": _business_objective,
    "consumerPersonas": _personas,
    "transformation": _transformation,
    "retention": _retention,
    "queries": _queries,
}
