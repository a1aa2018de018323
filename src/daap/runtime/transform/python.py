"""Python transformations: ``def transform(inputs: dict[str, pa.Table]) -> pa.Table``.

The function receives every input port as an Arrow table and returns the
output port's table, or a dict of port name to table when the product has
several output ports.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from daap.errors import TransformError
from daap.runtime.engine import quote
from daap.runtime.inputs import ResolvedInput
from daap.runtime.transform import engine_error, result_table
from daap.spec.model import ProductSpec


def run_python(con: Any, product: ProductSpec, inputs: Sequence[ResolvedInput]) -> None:
    spec = product.transformation
    assert spec is not None and spec.function is not None
    function = _load(product, spec.path, spec.function)
    tables = _read_inputs(con, product, inputs)
    try:
        result = function(tables)
    except Exception as exc:
        raise TransformError(
            f"{type(exc).__name__}: {exc}",
            product=product.name,
            location=_where(exc, str(spec.path)),
        ) from exc
    for port, table in _by_port(product, result, f"{spec.path.name}:{spec.function}").items():
        name = f"__arrow_result_{port}"
        con.register(name, table)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {result_table(port)} AS SELECT * FROM {quote(name)}")
        con.unregister(name)


def _load(product: ProductSpec, path: Any, function: str) -> Any:
    module_name = f"daap_transform_{product.name}"
    loader = importlib.util.spec_from_file_location(module_name, path)
    if loader is None or loader.loader is None:
        raise TransformError(f"cannot load {path}", product=product.name)
    module = importlib.util.module_from_spec(loader)
    # Modules beside the transformation are importable while it loads, and
    # forgotten afterwards so the next build (or product) imports its own.
    sys.path.insert(0, str(product.folder))
    before = set(sys.modules)
    try:
        loader.loader.exec_module(module)
    except Exception as exc:
        raise TransformError(
            f"importing {path.name} failed: {type(exc).__name__}: {exc}",
            product=product.name,
            location=_where(exc, str(path)),
        ) from exc
    finally:
        sys.path.remove(str(product.folder))
        _forget_modules(set(sys.modules) - before, product.folder)
    found = getattr(module, function, None)
    if not callable(found):
        raise TransformError(
            f"{path.name} defines no function {function!r}",
            product=product.name,
            location=path.name,
            hint="name the function in `transformation: {python: file.py, function: NAME}`",
        )
    return found


def _forget_modules(names: set[str], folder: Path) -> None:
    for name in names:
        origin = getattr(sys.modules.get(name), "__file__", None)
        if origin and Path(origin).is_relative_to(folder):
            del sys.modules[name]


def _read_inputs(con: Any, product: ProductSpec, inputs: Sequence[ResolvedInput]) -> dict[str, pa.Table]:
    tables = {}
    for item in inputs:
        try:
            tables[item.name] = con.sql(f"SELECT * FROM {quote(item.name)}").to_arrow_table()
        except Exception as exc:
            raise engine_error(exc, product, inputs, None) from exc
    return tables


def _by_port(product: ProductSpec, result: object, where: str) -> dict[str, pa.Table]:
    ports = [p.name for p in product.output_ports]
    if isinstance(result, pa.RecordBatchReader):
        result = result.read_all()
    if isinstance(result, pa.Table) and len(ports) == 1:
        return {ports[0]: result}
    if (
        isinstance(result, dict)
        and set(result) == set(ports)
        and all(isinstance(t, pa.Table) for t in result.values())
    ):
        return dict(result)
    expected = "a pyarrow.Table" if len(ports) == 1 else f"a dict of pyarrow.Table keyed by {ports}"
    raise TransformError(
        f"{where} returned {type(result).__name__}, expected {expected}", product=product.name
    )


def _where(exc: BaseException, path: str) -> str | None:
    """``transform.py:12`` of the innermost frame inside the transformation file."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    if not frames:
        return None
    return f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}"
