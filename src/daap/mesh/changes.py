"""The change set between two published versions of a port, read from their snapshots.

Used by ``daap diff`` (any two versions, however far apart: one comparison,
not one per version in between) and by publication (each version against the
one before it).
"""

from __future__ import annotations

from collections.abc import Sequence

from daap.mesh.metadata import ProductVersion
from daap.mesh.workspace import Workspace
from daap.runtime import cdc, engine


def between(
    ws: Workspace,
    new: ProductVersion,
    port: str,
    old: ProductVersion | None,
    key: Sequence[str],
) -> cdc.ChangeSet:
    """What ``new`` changed in ``port`` since ``old``.

    Args:
        old: the earlier version; None (or a version without the port) reads as empty.
        key: the port's primary key; empty compares whole rows, and rows that
            disappeared are reported as deletes (never refused: the version is published).

    Raises:
        NotFound: ``new`` has no such port.
        StorageError: a snapshot cannot be read.
    """
    old_state = old.ports.get(port) if old is not None else None
    ref = cdc.PortRef(new.product, port, old.version if old_state and old else None, new.version)
    con = engine.connect()
    try:
        before = ws.relation(old_state) if old_state is not None else None
        after = ws.port_data(new.product, port, new.version).relation
        return cdc.compute(con, before, after, tuple(key), ref=ref, append_only=False)
    finally:
        con.close()
