"""Expiring old versions under an explicit retention policy.

Nothing expires unless a policy says so (in the descriptor, or given to
``daap expire``). Choosing what expires is a pure function; expiring marks
the versions in the metadata store first (readers stop seeing them), then
removes their snapshots and files from the table store.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from daap.mesh.metadata import ProductVersion
from daap.mesh.workspace import Workspace
from daap.spec.model import ProductSource, RetentionPolicy


def choose_expired(
    versions: Sequence[ProductVersion], policy: RetentionPolicy, now: datetime, pinned: Collection[int] = ()
) -> list[int]:
    """Version numbers ``policy`` expires among ``versions`` (ascending, not yet expired).

    The latest version and the ``pinned`` ones are always kept.
    """
    live = sorted((v for v in versions if not v.expired), key=lambda v: v.version)
    keep_last = policy.keep_versions or 1
    candidates = live[:-keep_last] if len(live) > keep_last else []
    if policy.max_age_days is not None:
        cutoff = now - timedelta(days=policy.max_age_days)
        candidates = [v for v in candidates if v.published_at < cutoff]
    return [v.version for v in candidates if v.version not in pinned]


def pinned_versions(ws: Workspace, product: str) -> set[int]:
    """Versions of ``product`` that input ports of the workspace's products pin."""
    pinned = set()
    for folder in ws.product_folders():
        try:
            spec = ws.load(folder)
        except Exception:  # an invalid product pins nothing; its own build reports it
            continue
        for port in spec.input_ports:
            source = port.source
            if isinstance(source, ProductSource) and source.product == product and source.version:
                pinned.add(source.version)
    return pinned


def awaiting_publication(ws: Workspace, product: str) -> set[int]:
    """Versions a pending publication still compares against: its change set starts there."""
    pending = [entry.version for entry in ws.metadata.pending_publications(product)]
    if not pending:
        return set()
    numbers = [v.version for v in ws.metadata.list_versions(product, include_expired=True)]
    return {max((n for n in numbers if n < version), default=0) for version in pending} - {0}


def expire(
    ws: Workspace, product: str, policy: RetentionPolicy, now: datetime, dry_run: bool = False
) -> list[int]:
    """Apply ``policy`` to ``product``; returns the versions expired (or that would be)."""
    versions = ws.metadata.list_versions(product)
    pinned = pinned_versions(ws, product) | awaiting_publication(ws, product)
    chosen = choose_expired(versions, policy, now, pinned)
    if dry_run or not chosen:
        return chosen
    ws.metadata.expire_versions(product, chosen)
    by_number = {v.version: v for v in versions}
    tables: dict[str, tuple[list[int], list[str]]] = {}
    for number in chosen:
        version = by_number[number]
        for state in version.ports.values():
            snapshots, builds = tables.setdefault(state.table, ([], []))
            snapshots.extend(state.snapshot_ids)
            builds.append(version.build_id)
    for table, (snapshots, builds) in tables.items():
        ws.tables.expire(table, snapshots, builds)
    return chosen
