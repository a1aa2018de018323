"""Where an input port reads from: files in the product folder, or another product.

The ``source`` custom property of an input port takes one of::

    value: {path: "data/*.csv", format: csv, delimiter: ";", header: true}
    value: {product: titles, port: titles, version: 3}
    value: titles.titles@3        # shorthand for the line above; "@3" is optional

Whether the files exist is not checked here: that is the build's job, and a
validated folder may legitimately be waiting for its data.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from daap.spec.diagnose import check_identifier, path_problem, validate
from daap.spec.model import CsvOptions, FileFormat, FileSource, ProductSource
from daap.spec.settings import daap_properties
from daap.spec.yamlpos import Loc, YamlDoc, kind

Source = FileSource | ProductSource

#: file extension → (format, default delimiter)
EXTENSIONS: dict[str, tuple[FileFormat, str | None]] = {
    ".csv": ("csv", None),
    ".tsv": ("csv", "\t"),
    ".parquet": ("parquet", None),
    ".pq": ("parquet", None),
    ".json": ("json", None),
    ".ndjson": ("ndjson", None),
    ".jsonl": ("ndjson", None),
}
#: compression suffixes the readers undo themselves (``events.csv.gz`` is CSV)
COMPRESSION = (".gz", ".zst")

#: YAML option name → :class:`CsvOptions` field
CSV_OPTIONS: dict[str, str] = {
    "delimiter": "delimiter",
    "header": "header",
    "quote": "quote",
    "escape": "escape",
    "encoding": "encoding",
    "skipRows": "skip_rows",
    "nullString": "null_string",
    "dateFormat": "date_format",
    "timestampFormat": "timestamp_format",
}

SHORTHAND = re.compile(r"^(?P<product>[^.@\s]+)\.(?P<port>[^.@\s]+)(@(?P<version>\d+))?$")


class FileSourceValue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    format: FileFormat | None = None
    delimiter: str | None = None
    header: bool | None = None
    quote: str | None = None
    escape: str | None = None
    encoding: Literal["utf-8", "utf-16", "latin-1"] | None = None
    skipRows: int | None = Field(default=None, ge=0)
    nullString: str | None = None
    dateFormat: str | None = None
    timestampFormat: str | None = None


class ProductSourceValue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    product: str
    port: str
    version: int | None = Field(default=None, gt=0)


class PortSource(NamedTuple):
    """An input port's source (``None`` if invalid), its description and position.

    The description is the ``description`` of the ``source`` custom property,
    since ODPS input ports have no description of their own.
    """

    source: Source | None
    description: str | None
    loc: Loc


def read_source(doc: YamlDoc, port_loc: Loc) -> PortSource | None:
    """The source of the input port at ``port_loc``; ``None`` if it has none."""
    found = [loc for _, loc in daap_properties(doc, port_loc, ("source",))]
    if not found:
        name = doc.get((*port_loc, "name"))
        doc.report(
            port_loc,
            f"input port {name!r} has no source: add a custom property 'source' whose "
            "value is {path: <files>} or '<product>.<port>'",
            at="key",
        )
        return None
    loc = found[0]
    description = doc.get((*loc[:-1], "description"))
    text = description if isinstance(description, str) else None
    return PortSource(_source(doc, loc), text, loc)


def _source(doc: YamlDoc, loc: Loc) -> Source | None:
    value = doc.get(loc)
    if isinstance(value, str):
        return _shorthand(doc, loc, value)
    if not isinstance(value, dict):
        doc.report(loc, f"source must be a mapping or '<product>.<port>', got {kind(value)}")
        return None
    if "product" in value and "path" in value:
        doc.report(loc, "a source reads files ('path') or another product ('product'), not both")
        return None
    return _product(doc, loc) if "product" in value else _files(doc, loc)


def _shorthand(doc: YamlDoc, loc: Loc, value: str) -> ProductSource | None:
    match = SHORTHAND.match(value)
    if match is None:
        doc.report(
            loc,
            f"source {value!r} is not '<product>.<port>' or '<product>.<port>@<version>'; "
            "to read files write {path: 'data/*.csv'}",
        )
        return None
    version = int(match["version"]) if match["version"] else None
    if version == 0:
        doc.report(loc, "source version must be a positive integer, got 0")
        return None
    return _product_source(doc, loc, loc, match["product"], match["port"], version)


def _product(doc: YamlDoc, loc: Loc) -> ProductSource | None:
    parsed = validate(ProductSourceValue, doc, loc, "source")
    if parsed is None:
        return None
    product_loc, port_loc = (*loc, "product"), (*loc, "port")
    return _product_source(doc, product_loc, port_loc, parsed.product, parsed.port, parsed.version)


def _product_source(
    doc: YamlDoc, product_loc: Loc, port_loc: Loc, product: str, port: str, version: int | None
) -> ProductSource | None:
    good = check_identifier(doc, product_loc, "product", product)
    good = check_identifier(doc, port_loc, "port", port) and good
    return ProductSource(product, port, version) if good else None


def _files(doc: YamlDoc, loc: Loc) -> FileSource | None:
    parsed = validate(FileSourceValue, doc, loc, "source")
    if parsed is None:
        return None
    problem = path_problem(parsed.path)
    if problem is not None:
        doc.report((*loc, "path"), problem)
        return None
    detected, default_delimiter = _detect(parsed.path)
    file_format = parsed.format or detected
    if file_format is None:
        doc.report(
            (*loc, "path"),
            f"cannot tell the format of {parsed.path!r} from its extension; "
            "add format: csv, parquet, json or ndjson",
        )
        return None
    options = parsed.model_dump(include=set(CSV_OPTIONS), exclude_none=True)
    if file_format != "csv" and options:
        for option in options:
            doc.report((*loc, option), f"'{option}' is a CSV option; this source is {file_format}")
        return None
    if default_delimiter is not None and file_format == "csv":
        options.setdefault("delimiter", default_delimiter)
    return FileSource(parsed.path, file_format, _csv_options(options))


def _detect(path: str) -> tuple[FileFormat | None, str | None]:
    """Format and default delimiter from the extension, ignoring compression."""
    suffixes = [s.lower() for s in PurePosixPath(path.replace("\\", "/")).suffixes]
    while suffixes and suffixes[-1] in COMPRESSION:
        suffixes.pop()
    return EXTENSIONS.get(suffixes[-1], (None, None)) if suffixes else (None, None)


def _csv_options(options: dict[str, Any]) -> CsvOptions:
    return CsvOptions(**{CSV_OPTIONS[name]: value for name, value in options.items()})
