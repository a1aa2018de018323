"""Rendering for the CLI: human output on a console, or JSON for machines.

Commands build plain data (dicts, Arrow tables); only this module decides
how they look. Human output goes to stdout, progress and errors to stderr.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from daap.mesh.builder import BuildOutcome

# Piped output is not squeezed to 80 columns: tables stay readable in files and logs.
_PIPE_WIDTH = shutil.get_terminal_size((160, 24)).columns
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else _PIPE_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)

#: rows shown by --format table before "… N more rows"
TABLE_ROWS = 200


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _cell(value: Any) -> str:
    """A table cell: nested values (objects, arrays) as compact JSON, not Python's repr."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=_default, ensure_ascii=False, separators=(", ", ": "))
    return str(value)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_default) + "\n")


def print_table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    out.print(table)


def error(message: str) -> None:
    # Text, not markup: messages hold patterns like [a-z] that markup would eat.
    err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)


def note(message: str) -> None:
    err.print(message, markup=False)


@contextmanager
def progress(enabled: bool) -> Iterator[Any]:
    """A status line on stderr while long work runs; silent when not a terminal."""
    if not enabled or not err.is_terminal:
        yield lambda product, step: None
        return
    with err.status("starting") as status:
        yield lambda product, step: status.update(f"{product}: {step}")


def print_outcomes(outcomes: Sequence[BuildOutcome]) -> None:
    """One line per product built: published, unchanged, or the error."""
    for o in outcomes:
        rows = ", ".join(f"{port}: {n:,} rows" for port, n in o.rows.items())
        if o.status == "published":
            out.print(f"published {o.product} version {o.version} ({rows}) in {o.seconds:.2f}s")
        elif o.status == "unchanged":
            out.print(f"unchanged {o.product}: {o.message}")
        elif o.status == "quarantined":
            error(f"{o.product}: {o.message}")
            if o.error is not None and o.error.hint:
                note(f"  {o.error.hint}")
        else:
            error(f"{o.product}: {o.message}")
        for warning in o.warnings:
            note(f"  warning: {warning}")
    if not outcomes:
        note("no product folders found (a product folder holds dataproduct.yaml)")


def write_arrow(reader: pa.RecordBatchReader, fmt: str, target: IO[bytes] | None, path: Path | None) -> int:
    """Stream query results in ``fmt``; returns the number of rows written."""
    return _WRITERS[fmt](reader, target, path)


def _table(reader: pa.RecordBatchReader, target: IO[bytes] | None, path: Path | None) -> int:
    names = reader.schema.names
    rows: list[list[Any]] = []
    total = 0
    for batch in reader:
        total += batch.num_rows
        if len(rows) < TABLE_ROWS:
            rows.extend(list(r.values()) for r in batch.slice(0, TABLE_ROWS - len(rows)).to_pylist())
    print_table(None, names, rows)
    if total > len(rows):
        note(f"… {total - len(rows)} more rows (use --format csv or -o FILE for all)")
    return total


def _csv(reader: pa.RecordBatchReader, target: IO[bytes] | None, path: Path | None) -> int:
    import pyarrow.csv as pcsv

    reader = _nested_as_json(reader)
    sink = path.open("wb") if path else target
    assert sink is not None
    total = 0
    # Arrow quotes every header name when quoting is "needed"; only do it when it is.
    plain = all(not set(name) & set(',"\r\n') for name in reader.schema.names)
    options = pcsv.WriteOptions(quoting_header="none" if plain else "needed")
    with pcsv.CSVWriter(sink, reader.schema, write_options=options) as writer:
        for batch in reader:
            writer.write_batch(batch)
            total += batch.num_rows
    if path:
        sink.close()
    return total


def _nested_as_json(reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """CSV has no nested values: objects and arrays become JSON text."""
    nested = [i for i, f in enumerate(reader.schema) if pa.types.is_nested(f.type)]
    if not nested:
        return reader
    schema = reader.schema
    for i in nested:
        schema = schema.set(i, pa.field(schema.field(i).name, pa.string()))

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            columns = list(batch.columns)
            for i in nested:
                columns[i] = pa.array([None if v is None else _cell(v) for v in columns[i].to_pylist()])
            yield pa.RecordBatch.from_arrays(columns, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def _json(reader: pa.RecordBatchReader, target: IO[bytes] | None, path: Path | None) -> int:
    """A JSON array, written row by row so large results stream."""
    sink = path.open("wb") if path else target
    assert sink is not None
    total = 0
    sink.write(b"[")
    for batch in reader:
        for row in batch.to_pylist():
            sink.write((b",\n " if total else b"\n ") + json.dumps(row, default=_default).encode())
            total += 1
    sink.write(b"\n]\n")
    if path:
        sink.close()
    return total


def _parquet(reader: pa.RecordBatchReader, target: IO[bytes] | None, path: Path | None) -> int:
    import pyarrow.parquet as pq

    if path is None:
        raise ValueError("--format parquet needs -o FILE")
    total = 0
    with pq.ParquetWriter(path, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
            total += batch.num_rows
    return total


_WRITERS = {"table": _table, "csv": _csv, "json": _json, "parquet": _parquet}
FORMATS = tuple(_WRITERS)
