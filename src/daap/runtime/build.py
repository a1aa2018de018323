"""Building one product: plan a candidate version, then commit it in one step.

:func:`prepare` reads the inputs, runs the transformation, passes the
contract gate and stages Parquet files that nobody reads yet. :func:`commit`
makes the staged files each port's table content, one atomic table commit per
port. Recording the version (which makes it visible) is the mesh's job; until
then a committed snapshot is invisible, so a crash anywhere leaves the last
published version as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from daap.errors import InputError
from daap.runtime import cdc, contract, engine
from daap.runtime.inputs import ResolvedInput
from daap.runtime.storage import TableStore
from daap.runtime.transform import engine_error, first_line, run_transform
from daap.spec.model import OutputPortSpec, ProductSpec

#: bump when the way a build turns the same inputs into data changes
BUILD_FORMAT = "1"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class StagedPort:
    port: str
    table: str
    files: tuple[Path, ...]
    row_count: int
    key: tuple[str, ...] = ()  # the contract's primary key; empty: append-only


@dataclass(frozen=True)
class Previous:
    """The latest published version of a product: its append-only ports may only grow.

    ``ports`` holds what the engine reads for each port of that version.
    """

    version: int
    ports: Mapping[str, engine.Relation]


@dataclass(frozen=True)
class Candidate:
    """A version that is built and staged but not yet committed or published."""

    product: str
    build_id: str
    fingerprint: str
    inputs: Mapping[str, int]
    ports: tuple[StagedPort, ...]
    warnings: tuple[str, ...] = field(default=())


def crash_point(name: str) -> None:
    """Die here with SIGKILL when ``DAAP_CRASH_AT`` names this point.

    The crash-safety tests run a real ``daap build`` and kill it at each
    point of a build (``staged``, ``committing``, ``committed:<port>``);
    unset, this costs one environment lookup.
    """
    if os.environ.get("DAAP_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def new_build_id() -> str:
    """Sortable by time, unique across processes: ``20261124T101500Z-1a2b3c4d``."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def table_name(product: str, port: str) -> str:
    return f"{product}.{port}"


def column_types(product: ProductSpec) -> dict[str, str] | None:
    """Contract types for reading the input of a raw product without transformation."""
    if product.transformation is not None or len(product.output_ports) != 1:
        return None
    return {c.name: c.sql_type for c in product.output_ports[0].contract.columns}


def fingerprint(product: ProductSpec, inputs: Sequence[ResolvedInput]) -> str:
    """Identity of what a build would produce: its code, contracts and inputs."""
    digest = hashlib.sha256(f"daap-build/{BUILD_FORMAT}\0".encode())
    for path in product.source_files():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for item in sorted(inputs, key=lambda i: i.name):
        digest.update(f"{item.name}={item.fingerprint}\0".encode())
    return digest.hexdigest()


def prepare(
    product: ProductSpec,
    inputs: Sequence[ResolvedInput],
    store: TableStore,
    build_id: str,
    fingerprint: str,
    temp_dir: Path,
    progress: Progress = lambda _: None,
    memory_limit: str | None = None,
    previous: Previous | None = None,
) -> Candidate:
    """Transform, check against the contracts and stage the files of a new version.

    With ``previous``, a port without primary key (append-only) must keep
    every row of that version.

    Raises:
        InputError, TransformError, ContractViolation: nothing is staged then.
    """
    con = engine.connect(temp_dir, config={"memory_limit": memory_limit} if memory_limit else None)
    staged: list[StagedPort] = []
    try:
        for item in inputs:
            _register_input(con, product, inputs, item)
        progress("transform")
        run_transform(con, product, inputs)
        crash_point("transformed")
        gates = {}
        for port in product.output_ports:
            progress(f"check contract of {port.name}")
            gates[port.name] = contract.check_contract(con, product.name, port)
        for port in product.output_ports:
            progress(f"write {port.name}")
            table = table_name(product.name, port.name)
            directory = store.stage_dir(table, build_id)
            rows = gates[port.name].row_count
            files = contract.write_port(con, port, directory, rows)
            _check_append_only(con, product, port, files, previous, progress)
            key = tuple(port.contract.primary_key or ())
            staged.append(StagedPort(port.name, table, tuple(files), rows, key))
    except BaseException:
        for port in product.output_ports:
            store.discard_stage(table_name(product.name, port.name), build_id)
        raise
    finally:
        con.close()
        shutil.rmtree(temp_dir, ignore_errors=True)
    return Candidate(
        product=product.name,
        build_id=build_id,
        fingerprint=fingerprint,
        inputs={i.upstream_ref: i.upstream_version for i in inputs if i.upstream_ref and i.upstream_version},
        ports=tuple(staged),
        warnings=tuple(w for g in gates.values() for w in g.warnings),
    )


def _check_append_only(
    con: object,
    product: ProductSpec,
    port: OutputPortSpec,
    files: Sequence[Path],
    previous: Previous | None,
    progress: Progress,
) -> None:
    """Refuse an append-only port that loses rows of the previous version.

    Checked on the staged files, so the rows compared are exactly the rows
    that would be published, read back the way the previous version is.
    """
    if port.contract.primary_key or previous is None or port.name not in previous.ports:
        return
    progress(f"check {port.name} is append-only")
    ref = cdc.PortRef(product.name, port.name, previous.version, None, port.contract.path.name)
    names = [c.name for c in port.contract.columns]
    cdc.check_append_only(con, previous.ports[port.name], engine.Relation.parquet(files), names, ref=ref)


def _register_input(
    con: object, product: ProductSpec, inputs: Sequence[ResolvedInput], item: ResolvedInput
) -> None:
    """Readers sniff their files when registered: a malformed file fails here."""
    try:
        try:
            engine.register(con, item.name, item.relation)
        except duckdb.BinderException as exc:
            if item.fallback is None or "COLUMN_TYPES" not in str(exc):
                raise
            engine.register(con, item.name, item.fallback)
    except duckdb.Error as exc:
        error = engine_error(exc, product, inputs, None)
        if isinstance(error, InputError):
            raise error from exc
        raise InputError(first_line(str(exc)), product=product.name, port=item.name) from exc


def commit(candidate: Candidate, store: TableStore) -> dict[str, tuple[int, ...]]:
    """Commit each staged port to its table; returns the snapshot ids per port.

    A port already committed by this build (a retry after a crash) is not
    committed twice.
    """
    snapshots = {}
    for staged in candidate.ports:
        done = store.build_snapshots(staged.table, candidate.build_id)
        snapshots[staged.port] = done or store.commit(staged.table, staged.files, candidate.build_id)
        crash_point(f"committed:{staged.port}")
    return snapshots
