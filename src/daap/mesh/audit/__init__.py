"""The immutable change audit log: every committed change, hash-chained and Merkle-checkpointed.

Each product's committed change events are appended as entries (seq from 1,
event id, build id, product, port, JSON payload). Entries are linked by a SHA-256
hash chain and are the leaves of an RFC 6962 Merkle tree whose root, at chosen
sizes, is signed as a C2SP checkpoint with the mesh's Ed25519 key. Anyone with the
public key can then check an export of the log, or a single-entry inclusion proof,
offline, and a change to any entry names the first sequence number affected.

Layout::

    merkle.py   RFC 6962 tree hash, inclusion and consistency proofs (pure)
    chain.py    entries, their leaf data, the hash chain (pure)
    note.py     signed notes, checkpoints, Ed25519 keys in vkey form (pure)
    verify.py   the streaming verifier and offline proof checks (pure)
    export.py   the JSON-lines export file, writing and verifying it
    store.py    SQLite tables, append-only, in <home>/audit.db
    keys.py     the signing key in <home>/keys/audit-ed25519 (+ .pub)
    log.py      AuditLog, the API the rest of daap and the CLI use

Example::

    log = AuditLog.open(workspace)
    log.append("orders", [NewEntry("ev-1", "b-1", "orders", b'{"op":"insert"}')])
    log.checkpoint("orders")
    log.export("orders", Path("orders.audit.jsonl"))
    verify_export(Path("orders.audit.jsonl"), log.public_key_path)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from daap.mesh.audit.chain import Entry
from daap.mesh.audit.errors import AuditError
from daap.mesh.audit.export import verify_export as _verify_export
from daap.mesh.audit.keys import load_verifier
from daap.mesh.audit.log import PROOF_FORMAT, AuditLog, ExportSummary
from daap.mesh.audit.note import Checkpoint, Verifier
from daap.mesh.audit.store import NewEntry
from daap.mesh.audit.verify import Report
from daap.mesh.audit.verify import verify_proof as _verify_proof

#: a public key: a Verifier, the path of a ``.pub`` file, or the vkey text itself
PublicKey = Verifier | Path | str


def verify_export(path: Path, public_key: PublicKey) -> Report:
    """Verify an export file; raises :class:`AuditError` naming the first bad sequence number."""
    return _verify_export(path, _verifier(public_key))


def verify_proof(proof: Mapping[str, Any], public_key: PublicKey) -> Entry:
    """Verify an inclusion proof offline; returns the proven entry or raises :class:`AuditError`."""
    return _verify_proof(proof, _verifier(public_key))


def _verifier(public_key: PublicKey) -> Verifier:
    return public_key if isinstance(public_key, Verifier) else load_verifier(public_key)


__all__ = [
    "PROOF_FORMAT",
    "AuditError",
    "AuditLog",
    "Checkpoint",
    "Entry",
    "ExportSummary",
    "NewEntry",
    "Report",
    "Verifier",
    "verify_export",
    "verify_proof",
]
