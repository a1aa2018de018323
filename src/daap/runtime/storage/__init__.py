"""Table storage with snapshots: the port every product's data is committed through.

A build stages Parquet files (written by the engine) under
:meth:`TableStore.stage_dir`, then :meth:`TableStore.commit` makes them the
table's content in one atomic commit that carries the build id. Readers never
see a table's "current" state: they read the snapshot a published version
points at, so a commit whose version was never published is invisible.

The embedded adapter is Apache Iceberg (pyiceberg, SQL catalog on SQLite or
PostgreSQL); it is imported only when a store is opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from daap.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class FilePlan:
    """The files that hold one snapshot of a table.

    ``paths`` are local filesystem paths of Parquet data files. When
    ``has_deletes`` is true the files alone are not the snapshot's content
    (row-level deletes apply) and readers must use :meth:`TableStore.read_arrow`.
    """

    paths: tuple[str, ...]
    has_deletes: bool = False


class TableStore(Protocol):
    """Versioned tables, one per product output port, identified as ``product.port``."""

    def stage_dir(self, table: str, build_id: str) -> Path:
        """A fresh directory inside the warehouse where a build writes its Parquet files.

        Returns:
            the directory; it exists and is empty.
        """
        ...

    def commit(self, table: str, files: Sequence[Path], build_id: str) -> tuple[int, ...]:
        """Replace the table's content with ``files`` in one atomic commit.

        The table is created on first commit; its schema follows the files
        (columns added or widened compatibly). Every snapshot created carries
        ``daap.build-id = build_id`` in its summary.

        Returns:
            the ids of the snapshots created, oldest first; readers read the last.

        Raises:
            StorageError: the schema cannot evolve that way, or the commit failed.
        """
        ...

    def build_snapshots(self, table: str, build_id: str) -> tuple[int, ...]:
        """Snapshots a build committed (empty if none): how a restart finds a half-done build."""
        ...

    def plan(self, table: str, snapshot_id: int) -> FilePlan:
        """The data files of a snapshot (see :class:`~daap.runtime.storage.plans.PlanCache`)."""
        ...

    def read_arrow(self, table: str, snapshot_id: int) -> pa.Table:
        """The content of a snapshot as Arrow, applying any deletes."""
        ...

    def expire(self, table: str, snapshot_ids: Sequence[int], build_ids: Sequence[str]) -> None:
        """Forget ``snapshot_ids`` and delete the data files ``build_ids`` wrote.

        The caller guarantees no remaining version reads them (each build
        writes its own files, and the table's current snapshot is never passed).
        """
        ...

    def discard_stage(self, table: str, build_id: str) -> None:
        """Remove a build's staged files that were never committed."""
        ...


def open_table_store(catalog_url: str, warehouse: Path) -> TableStore:
    """Open the Iceberg table store.

    Args:
        catalog_url: SQLAlchemy URL of the Iceberg SQL catalog
            (``sqlite:///…`` or ``postgresql+psycopg://…``).
        warehouse: local directory holding table data and metadata.

    Raises:
        ConfigError: pyiceberg is not installed.
    """
    try:
        from daap.runtime.storage.iceberg import IcebergTableStore
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigError(
            f"the Iceberg table store needs pyiceberg ({exc})",
            hint="pip install 'daap[iceberg]'",
        ) from exc
    return IcebergTableStore(catalog_url, warehouse)
