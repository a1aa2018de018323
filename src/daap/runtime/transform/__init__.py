"""Onboarding: turn a product's inputs into the content of its output ports.

The transformation is a DuckDB SQL file (each input port is a table by its
name) or a Python function ``(inputs: dict[str, pyarrow.Table]) -> pyarrow.Table``
(or a dict of port name to table for several ports). A raw product without a
transformation publishes its only input as it is. Each result ends up as a
temporary engine table ``__out_<port>`` for the contract gate.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import duckdb

from daap.errors import DaapError, InputError, TransformError
from daap.runtime.engine import error_message, quote
from daap.runtime.inputs import ResolvedInput
from daap.spec.model import ProductSpec


def result_table(port: str) -> str:
    return quote(f"__out_{port}")


def run_transform(con: Any, product: ProductSpec, inputs: Sequence[ResolvedInput]) -> None:
    """Run the product's transformation; leaves one ``__out_<port>`` table per output port.

    Raises:
        TransformError: the SQL or Python code failed (with its position).
        InputError: reading an input failed while the transformation ran.
    """
    spec = product.transformation
    if spec is None:
        only = inputs[0].name
        port = product.output_ports[0].name
        _materialize(con, product, inputs, port, f"SELECT * FROM {quote(only)}")
    elif spec.kind == "sql":
        from daap.runtime.transform.sql import run_sql

        run_sql(con, product, inputs)
    else:
        from daap.runtime.transform.python import run_python

        run_python(con, product, inputs)


def _materialize(
    con: Any,
    product: ProductSpec,
    inputs: Sequence[ResolvedInput],
    port: str,
    select: str,
    locate: Callable[[str], str | None] = lambda message: None,
) -> None:
    """``CREATE TEMP TABLE __out_<port> AS <select>``; ``locate`` maps an error to a position."""
    prefix = f"CREATE OR REPLACE TEMP TABLE {result_table(port)} AS\n"
    try:
        con.execute(prefix + select)
    except duckdb.Error as exc:
        # The prefix is one line: engine line numbers are one too high.
        message = re.sub(r"LINE (\d+):", lambda m: f"LINE {int(m.group(1)) - 1}:", str(exc))
        raise engine_error(exc, product, inputs, locate(message), message) from exc


_FILE_IN_MESSAGE = re.compile(r'file = (\S+)|"([^"]+\.(?:csv|tsv|json|ndjson|jsonl|parquet))"')
_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
_JSON_ERROR = re.compile(r'Malformed JSON in file "[^"]+", at byte (\d+) in line (\d+): (.*)')


def engine_error(
    exc: Exception,
    product: ProductSpec,
    inputs: Sequence[ResolvedInput],
    location: str | None,
    text: str | None = None,
) -> DaapError:
    """Name the input file when the engine failed reading one, else blame the transformation."""
    text = text or str(exc)
    for match in _FILE_IN_MESSAGE.finditer(text):
        path = match.group(1) or match.group(2)
        for item in inputs:
            if any(str(f) == path for f in item.files):
                return InputError(_describe_read_error(text, path), product=product.name, port=item.name)
    return TransformError(
        error_message(text, keep_position=location is None), product=product.name, location=location
    )


def _describe_read_error(text: str, path: str) -> str:
    """``CSV Error on Line: 3 … converting column "x" …`` -> ``path:3: Error when converting …``."""
    line = _CSV_LINE.search(text)
    if line:
        converting = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("Error when")]
        return f"{path}:{line.group(1)}: {converting[0] if converting else first_line(text)}"
    json_error = _JSON_ERROR.search(text)
    if json_error:
        # DuckDB counts the line after the bad one (checked on 2.0: a bad first line says "line 2").
        byte, bad_line, what = json_error.groups()
        return f"{path}:{int(bad_line) - 1}: malformed JSON at byte {byte}: {what.strip()}"
    detail = first_line(text)
    return detail if path in detail else f"{path}: {detail}"


def first_line(text: str) -> str:
    return error_message(text, lines=1)
