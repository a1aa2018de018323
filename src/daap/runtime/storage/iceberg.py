"""Apache Iceberg table store (pyiceberg, SQL catalog).

Each output port is the Iceberg table ``<product>.<port>`` at
``<warehouse>/<product>/<port>``. A build's Parquet files are written by the
engine straight into ``data/<build id>/`` of that location and registered with
``add_files`` in the same transaction that removes the previous content, so a
build is one atomic metadata commit (two snapshots: the delete, then the
append) and no data is rewritten by pyiceberg.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.table import Table, Transaction

from daap.errors import StorageError
from daap.runtime.storage import FilePlan

BUILD_ID = "daap.build-id"


class IcebergTableStore:
    """:class:`~daap.runtime.storage.TableStore` on Iceberg."""

    def __init__(self, catalog_url: str, warehouse: Path) -> None:
        self._warehouse = warehouse.resolve()
        self._warehouse.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._catalog = SqlCatalog("daap", uri=catalog_url, warehouse=self._warehouse.as_uri())
        except Exception as exc:  # the driver raises many kinds; name the catalog
            raise StorageError(f"cannot open the Iceberg catalog at {_redact(catalog_url)}: {exc}") from exc

    # -- writing -----------------------------------------------------------

    def stage_dir(self, table: str, build_id: str) -> Path:
        path = self._location(table) / "data" / build_id
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def discard_stage(self, table: str, build_id: str) -> None:
        shutil.rmtree(self._location(table) / "data" / build_id, ignore_errors=True)

    def commit(self, table: str, files: Sequence[Path], build_id: str) -> tuple[int, ...]:
        if not files:
            raise StorageError(f"build {build_id} staged no files for {table}")
        # Columns are optional in Iceberg: the contract gate enforces `required`,
        # and the engine marks constant columns required, which would make a
        # later union of schemas an "incompatible" change.
        schema = pa.schema([f.with_nullable(True) for f in pq.read_schema(files[0])])
        props = {BUILD_ID: build_id}
        uris = [Path(f).resolve().as_uri() for f in files]
        try:
            tbl = self._load_or_create(table, schema)
            before = {s.snapshot_id for s in tbl.snapshots()}
            with tbl.transaction() as tx:
                _evolve(tx, table, schema)
                if tbl.current_snapshot() is not None:
                    tx.delete(AlwaysTrue(), snapshot_properties=props)
                tx.add_files(uris, snapshot_properties=props)
        except StorageError:
            raise
        except Exception as exc:
            raise StorageError(f"commit of {table} for build {build_id} failed: {exc}") from exc
        tbl.refresh()
        return tuple(s.snapshot_id for s in tbl.snapshots() if s.snapshot_id not in before)

    def expire(self, table: str, snapshot_ids: Sequence[int], build_ids: Sequence[str]) -> None:
        try:
            tbl = self._table(table)
        except NoSuchTableError:
            return
        known = {s.snapshot_id for s in tbl.snapshots()}
        current = tbl.current_snapshot()
        doomed = [s for s in snapshot_ids if s in known and (current is None or s != current.snapshot_id)]
        if doomed:
            try:
                tbl.maintenance.expire_snapshots().by_ids(doomed).commit()
            except Exception as exc:
                raise StorageError(f"expiring snapshots {doomed} of {table} failed: {exc}") from exc
        for build_id in build_ids:
            self.discard_stage(table, build_id)

    def build_snapshots(self, table: str, build_id: str) -> tuple[int, ...]:
        try:
            tbl = self._table(table)
        except NoSuchTableError:
            return ()
        return tuple(
            s.snapshot_id
            for s in tbl.snapshots()
            if s.summary is not None and s.summary.get(BUILD_ID) == build_id
        )

    # -- reading -----------------------------------------------------------

    def plan(self, table: str, snapshot_id: int) -> FilePlan:
        tasks = list(self._table(table).scan(snapshot_id=snapshot_id).plan_files())
        return FilePlan(
            paths=tuple(_local_path(t.file.file_path) for t in tasks),
            has_deletes=any(t.delete_files for t in tasks),
        )

    def read_arrow(self, table: str, snapshot_id: int) -> pa.Table:
        result: pa.Table = self._table(table).scan(snapshot_id=snapshot_id).to_arrow()
        return result

    # -- internals ---------------------------------------------------------

    def _location(self, table: str) -> Path:
        product, port = _split(table)
        return self._warehouse / product / port

    def _table(self, table: str) -> Table:
        return self._catalog.load_table(_split(table))

    def _load_or_create(self, table: str, schema: pa.Schema) -> Table:
        with self._lock:
            namespace, _ = _split(table)
            self._catalog.create_namespace_if_not_exists(namespace)
            try:
                return self._table(table)
            except NoSuchTableError:
                return self._catalog.create_table(
                    _split(table), schema=schema, location=self._location(table).as_uri()
                )


def _evolve(tx: Transaction, table: str, schema: pa.Schema) -> None:
    """Add new columns and widen types; refuse a change Iceberg cannot make in place."""
    try:
        with tx.update_schema() as update:
            update.union_by_name(schema)
    except Exception as exc:  # pyiceberg raises ValueError or ValidationError here
        raise StorageError(
            f"the contract changes {table} in a way its table cannot evolve: {exc}",
            hint="Iceberg can add columns and widen types (int -> long, float -> double); "
            "for another change publish a new column or port. Nothing was published; "
            "earlier versions stay readable",
        ) from exc


def _split(table: str) -> tuple[str, str]:
    product, _, port = table.partition(".")
    return product, port


def _local_path(uri: str) -> str:
    return uri.removeprefix("file://")


def _redact(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme_user, _, _ = head.rpartition(":")
    return f"{scheme_user}:***@{tail}"
