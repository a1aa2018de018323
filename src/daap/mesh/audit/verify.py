"""Checking a log, a copy of it, or one inclusion proof, with nothing but the public key.

A log is read in order, entries and the signed checkpoints where they fall. For each
entry the verifier recomputes the leaf hash from its fields and the chain hash from
the previous one: the first mismatch is the first entry altered. At each checkpoint
it checks the signature, then that the root of the leaves seen so far is the signed
root. Because every checkpoint's root is recomputed from the one sequence of leaves,
successive checkpoints are consistent by construction (a consistency proof is what a
verifier needs who holds an old checkpoint but not the leaves: :mod:`.merkle`).

An entry whose hashes were all recomputed by a forger passes the chain but not the
signed root; then the alteration is named as the range between the last checkpoint
that matched and the first that does not, which is as precise as a root can be.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from daap.mesh.audit.chain import GENESIS, Entry, link
from daap.mesh.audit.errors import AuditError, Kind
from daap.mesh.audit.merkle import CompactRange, verify_inclusion
from daap.mesh.audit.note import Checkpoint, NoteError, Verifier, open_checkpoint

_sha256 = hashlib.sha256


@dataclass(frozen=True)
class Report:
    """What a verification checked: ``entries`` in all, the last ``signed`` of them covered
    by ``checkpoints`` signed checkpoints, the last of which has ``root``."""

    product: str | None
    origin: str | None
    entries: int
    checkpoints: int
    signed: int
    root: bytes

    @property
    def unsigned(self) -> int:
        return self.entries - self.signed


class OutOfOrder(Exception):
    """Raised by :class:`LogVerifier` for a sequence gap; the caller knows the whole
    log and decides whether the entry was removed, reordered or something was inserted."""

    def __init__(self, expected: int, got: int | None) -> None:
        super().__init__(f"expected seq {expected}, got {got}")
        self.expected = expected
        self.got = got


class LogVerifier:
    """Feed it a log's entries in order and checkpoints where they fall; it raises
    :class:`AuditError` at the first problem and :class:`OutOfOrder` at a gap."""

    def __init__(self, verifier: Verifier, product: str | None = None) -> None:
        self.verifier = verifier
        self.product = product
        self.origin: str | None = None
        self.tree = CompactRange()
        self.chain = GENESIS
        self.checkpoints = 0
        self.signed = 0

    def entry(self, entry: Entry) -> None:
        expected = self.tree.size + 1
        if entry.seq != expected:
            raise OutOfOrder(expected, entry.seq)
        if self.product is None:
            self.product = entry.product
        if entry.product != self.product:
            self._fail("inserted", f"an entry of product {entry.product!r} in the log of {self.product!r}")
        if entry.expected_leaf() != entry.leaf:
            self._fail("altered", "its fields do not match its leaf hash", entry.seq)
        chain = link(self.chain, entry.leaf)
        if chain != entry.chain:
            self._fail("altered", "its chain hash does not follow from the entry before it", entry.seq)
        self.chain = chain
        self.tree.append(entry.leaf)

    def entry_json(self, doc: dict[str, Any]) -> bool:
        """:meth:`entry` for an export line, without building an :class:`Entry`: the hot
        path of verifying a million lines. False when anything is off, and the caller
        then takes the slow path, which names the problem.
        """
        try:
            seq, event_id, build_id, product, port, payload, leaf_hex, chain_hex = (
                doc["seq"], doc["event_id"], doc["build_id"], doc["product"],
                doc["port"], doc["payload"], doc["leaf"], doc["chain"],
            )  # fmt: skip
        except KeyError:
            return False
        if seq != self.tree.size + 1 or type(seq) is not int or product != self.product:
            return False
        if not (type(event_id) is type(build_id) is type(port) is type(payload) is str):
            return False
        leaf = _sha256(
            b"\x00" + f"{seq}\n{event_id}\n{build_id}\n{product}\n{port}\n{payload}".encode()
        ).digest()
        chain = _sha256(self.chain + leaf).digest()
        if leaf.hex() != leaf_hex or chain.hex() != chain_hex:
            return False
        self.chain = chain
        self.tree.append(leaf)
        return True

    def checkpoint(self, note: str) -> Checkpoint:
        where = self.tree.size
        try:
            checkpoint = open_checkpoint(note, self.verifier)
        except NoteError as exc:
            self._fail("signature", f"checkpoint after seq {where}: {exc}", where)
        self._check_origin(checkpoint.origin)
        if checkpoint.size > where:
            raise OutOfOrder(where + 1, None)
        if checkpoint.size < where or (self.checkpoints and checkpoint.size <= self.signed):
            message = f"the checkpoint at size {checkpoint.size} comes after seq {where}"
            self._fail("reordered", message, where)
        if checkpoint.root != self.tree.root():
            first = self.signed + 1
            self._fail(
                "altered",
                f"entries {first}..{where} do not match the root signed at size {where}: "
                "an entry among them was rewritten with recomputed hashes",
                first,
            )
        self.checkpoints += 1
        self.signed = where
        return checkpoint

    def report(self, *, require_signed: bool) -> Report:
        """The result; with ``require_signed`` every entry must be under a checkpoint (exports)."""
        size = self.tree.size
        if require_signed and (size > self.signed or not self.checkpoints):
            self._fail(
                "truncated",
                f"the log ends after seq {size} without a signed checkpoint covering it; "
                "entries (at least the closing checkpoint) were cut off",
                size + 1,
            )
        root = self.tree.root() if self.signed == size else b""
        return Report(self.product, self.origin, size, self.checkpoints, self.signed, root)

    def _check_origin(self, origin: str) -> None:
        if self.origin is None:
            self.origin = origin
        if origin != self.origin or (self.product and not origin.endswith(f"/{self.product}")):
            self._fail("inserted", f"a checkpoint of another log ({origin!r})", self.tree.size)

    def _fail(self, kind: Kind, message: str, seq: int | None = None) -> NoReturn:
        raise AuditError(kind, message, seq=seq, product=self.product)


def verify_proof(proof: Mapping[str, Any], verifier: Verifier) -> Entry:
    """Check an inclusion proof offline; returns the entry it proves is in the signed log."""
    try:
        entry = Entry.from_json(dict(proof["entry"]))
        index, size = int(proof["leaf_index"]), int(proof["tree_size"])
        hashes = [bytes.fromhex(h) for h in proof["hashes"]]
        note = str(proof["checkpoint"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AuditError("malformed", f"not an inclusion proof: {exc}") from exc
    try:
        checkpoint = open_checkpoint(note, verifier)
    except NoteError as exc:
        raise AuditError("signature", f"the proof's checkpoint: {exc}", seq=size) from exc
    leaf = entry.expected_leaf()
    if checkpoint.size != size or index != entry.seq - 1:
        raise AuditError("malformed", "the proof's index or size does not match its entry", seq=entry.seq)
    if not checkpoint.origin.endswith(f"/{entry.product}"):
        raise AuditError("inserted", f"the checkpoint is of another log ({checkpoint.origin})", seq=entry.seq)
    if not verify_inclusion(index, size, leaf, hashes, checkpoint.root):
        message = f"the entry is not in the tree signed at size {size}"
        raise AuditError("altered", message, seq=entry.seq, product=entry.product)
    return entry
