"""``AuditLog``: append, checkpoint, export, verify and prove one mesh's audit entries.

Each product has its own log (sequence numbers from 1, its own Merkle tree) whose
checkpoints carry the origin ``daap/<mesh>/<product>``, ``<mesh>`` being the mesh
name from ``mesh.yaml`` or else the workspace path. One Ed25519 key per mesh signs
every product's checkpoints (:mod:`.keys`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daap.errors import NotFound
from daap.mesh.audit.chain import Entry, Row
from daap.mesh.audit.errors import AuditError
from daap.mesh.audit.export import write_export
from daap.mesh.audit.keys import key_paths, load_or_create_signer
from daap.mesh.audit.merkle import MerkleTree
from daap.mesh.audit.note import Signer, Verifier
from daap.mesh.audit.store import EntryStore, NewEntry
from daap.mesh.audit.verify import LogVerifier, OutOfOrder, Report

if TYPE_CHECKING:
    from daap.mesh.workspace import Workspace

PROOF_FORMAT = "daap-audit-inclusion-proof/1"


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    entries: int
    checkpoints: int


class AuditLog:
    """The audit log kept in ``home`` (``audit.db`` and ``keys/``) for the mesh ``mesh``."""

    def __init__(self, home: Path, mesh: str) -> None:
        self.home = home
        self.mesh = re.sub(r"[\s+]+", "_", mesh.strip("/")) or "mesh"
        self.store = EntryStore(home / "audit.db")

    @classmethod
    def open(cls, workspace: Workspace) -> AuditLog:
        config = workspace.config
        return cls(config.home, config.name or str(config.workspace))

    def close(self) -> None:
        self.store.close()

    def origin(self, product: str) -> str:
        return f"daap/{self.mesh}/{product}"

    @cached_property
    def signer(self) -> Signer:
        return load_or_create_signer(self.home / "keys", f"daap/{self.mesh}")

    @property
    def verifier(self) -> Verifier:
        return self.signer.verifier

    @property
    def public_key_path(self) -> Path:
        self.signer  # noqa: B018 - created on first use, so the path exists once we answer it
        return key_paths(self.home / "keys")[1]

    def append(self, product: str, entries: Iterable[NewEntry]) -> list[Entry]:
        return self.store.append(product, entries)

    def checkpoint(self, product: str) -> str:
        """Sign the log at its current size (or return the checkpoint already there); the note."""
        self._require(product)
        return self.store.checkpoint(product, self.origin(product), self.signer)[1]

    def entries(self, product: str) -> Iterator[Entry]:
        return self.store.entries(product)

    def products(self) -> list[str]:
        return self.store.products()

    def export(self, product: str, path: Path) -> ExportSummary:
        """Write the log as JSON lines (:mod:`.export`), first signing any unsigned tail."""
        self.checkpoint(product)
        checkpoints = self.store.checkpoints(product)
        items = self._interleave(product, checkpoints)
        write_export(path, (item if isinstance(item, str) else Entry(*item) for item in items))
        return ExportSummary(path, checkpoints[-1][0], len(checkpoints))

    def verify(self, product: str) -> Report:
        """Check the stored log as an export would be checked; entries after the last
        checkpoint are checked for hashes and chain and reported as ``unsigned``."""
        self._require(product)
        log = LogVerifier(self.verifier, product)
        try:
            for item in self._interleave(product, self.store.checkpoints(product)):
                if isinstance(item, str):
                    log.checkpoint(item)
                elif not log.entry_row(item):  # the fast check failed: the slow one says why
                    log.entry(Entry(*item))
        except OutOfOrder as gap:
            raise AuditError("removed", "the entry is missing", seq=gap.expected, product=product) from None
        pending = [size for size, _ in self.store.checkpoints(product) if size > log.tree.size]
        if pending:  # signed sizes the entries no longer reach: the tail was deleted
            raise AuditError("removed", "the entry is missing", seq=log.tree.size + 1, product=product)
        return log.report(require_signed=False)

    def prove(self, product: str, event_id: str) -> dict[str, Any]:
        """An inclusion proof of the event in the latest checkpoint (signed now if needed)."""
        entry = self.store.find(product, event_id)
        if entry is None:
            raise NotFound(f"no audit entry {event_id!r} for product {product!r}")
        latest = self.store.latest_checkpoint(product)
        if latest is None or latest[0].size < entry.seq:
            self.checkpoint(product)
            latest = self.store.latest_checkpoint(product)
        assert latest is not None
        checkpoint, note = latest
        tree = MerkleTree(self.store.leaves(product, checkpoint.size))
        hashes = tree.inclusion_proof(entry.seq - 1, checkpoint.size)
        return {
            "format": PROOF_FORMAT,
            "origin": checkpoint.origin,
            "leaf_index": entry.seq - 1,
            "tree_size": checkpoint.size,
            "entry": entry.to_json(),
            "hashes": [h.hex() for h in hashes],
            "checkpoint": note,
        }

    def _interleave(self, product: str, checkpoints: list[tuple[int, str]]) -> Iterator[Row | str]:
        """Entries (as rows) in order, each checkpoint right after the entry that reaches its size."""
        pending = iter(checkpoints)
        upcoming = next(pending, None)
        while upcoming is not None and upcoming[0] == 0:
            yield upcoming[1]
            upcoming = next(pending, None)
        for row in self.store.rows(product):
            yield row
            while upcoming is not None and upcoming[0] <= row[0]:
                yield upcoming[1]
                upcoming = next(pending, None)

    def _require(self, product: str) -> None:
        if self.store.size(product) == 0:
            known = ", ".join(self.store.products()) or "none yet"
            raise NotFound(f"no audit entries for product {product!r} (products with entries: {known})")
