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
import json.decoder
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, NoReturn

from daap.mesh.audit.chain import GENESIS, Entry, Row, link
from daap.mesh.audit.errors import AuditError, Kind
from daap.mesh.audit.merkle import CompactRange, verify_inclusion
from daap.mesh.audit.note import Checkpoint, NoteError, Verifier, open_checkpoint

_sha256 = hashlib.sha256
#: json's own string decoder, the one json.loads uses: ``(text, index past the closing quote)``
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]

# An export entry line as the writer makes it (compact JSON, keys in this order):
#   {"seq":7,"event_id":"ev-7","build_id":"b-3","product":"orders","port":"orders",
#    "payload":"{\"op\":\"insert\"}","leaf":"<64 hex>","chain":"<64 hex>"}
# The fast path matches the fields up to the payload with _HEAD (identifiers without
# escapes or control characters, so their JSON value is their text), decodes the payload
# string with the json module's own string scanner, and compares the rest of the line
# with what the computed hashes must give. A line of any other shape goes the slow way.
_IDENT = r'([^"\\\x00-\x1f]+)'
_HEAD = re.compile(
    r'\{"seq":([1-9][0-9]{0,17}),"event_id":"%s","build_id":"%s","product":"%s","port":"%s","payload":"'
    % ((_IDENT,) * 4)
)
_FLUSH = 1 << 14  # leaf hashes held back before they go into the tree at once


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
        self.chain = GENESIS
        self.checkpoints = 0
        self.signed = 0
        self._tree = CompactRange()
        self._pending: list[bytes] = []  # leaves the fast paths accepted, not yet in the tree

    @property
    def tree(self) -> CompactRange:
        """The Merkle tree of every leaf accepted so far."""
        if self._pending:
            self._tree.extend(self._pending)
            self._pending = []
        return self._tree

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

    def entry_row(self, row: Row) -> bool:
        """:meth:`entry` for a stored row, without building an :class:`Entry`: the hot path
        of verifying the stored log. False when anything is off (or the row does not have
        the types it should); the caller then makes the Entry and takes the slow path."""
        seq, event_id, build_id, product, port, payload, leaf, chain = row
        pending = self._pending
        if seq != self._tree.size + len(pending) + 1 or product != self.product:
            return False
        try:
            header = f"\x00{seq}\n{event_id}\n{build_id}\n{product}\n{port}\n".encode()
            if _sha256(header + payload).digest() != leaf:
                return False
            following = _sha256(self.chain + leaf).digest()
        except (TypeError, ValueError):  # a tampered row: a payload stored as text, say
            return False
        if following != chain:
            return False
        self.chain = chain
        pending.append(leaf)
        if len(pending) >= _FLUSH:
            self._tree.extend(pending)
            self._pending = []
        return True

    def entry_json(self, doc: dict[str, Any]) -> bool:
        """:meth:`entry` for an export line parsed as JSON, without building an :class:`Entry`.
        False when anything is off, and the caller then takes the slow path, which names
        the problem.
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
        try:
            data = f"\x00{seq}\n{event_id}\n{build_id}\n{product}\n{port}\n{payload}".encode()
        except UnicodeEncodeError:  # a lone surrogate (from a \ud800 escape) is not UTF-8
            return False
        leaf = _sha256(data).digest()
        chain = _sha256(self.chain + leaf).digest()
        if leaf.hex() != leaf_hex or chain.hex() != chain_hex:
            return False
        self.chain = chain
        self.tree.append(leaf)
        return True

    def entry_lines(self, lines: Sequence[bytes], start: int = 0) -> int:
        """:meth:`entry_json` for the export lines ``lines[start:]``, without parsing them as
        JSON: the hot path of verifying a million lines. Takes lines as long as each is an
        entry line exactly as the writer makes it (:data:`_HEAD`) and checks out, and
        returns the index of the first it does not take (``len(lines)`` for none): the
        caller parses that one and takes the slow path, which handles checkpoints and
        names problems. A line taken is one the slow path would accept as the same entry.
        """
        product = self.product
        if product is None:  # the first entry goes the slow way, which learns the product
            return start
        match, scan, sha256 = _HEAD.match, _scanstring, _sha256
        chain, pending = self.chain, self._pending
        expected = self._tree.size + len(pending) + 1
        taken = start
        for raw in islice(lines, start, None):
            try:
                line = raw.decode()
            except UnicodeDecodeError:
                break
            head = match(line)
            if head is None:
                break
            seq, event_id, build_id, of, port = head.groups()
            if of != product or int(seq) != expected:
                break
            try:  # the payload string, to its closing quote, decoded as json.loads does
                payload, end = scan(line, head.end(), True)
                leaf = sha256(f"\x00{seq}\n{event_id}\n{build_id}\n{of}\n{port}\n{payload}".encode()).digest()
            except ValueError:  # JSONDecodeError, or UnicodeEncodeError for a lone surrogate
                break
            following = sha256(chain + leaf).digest()
            rest = f',"leaf":"{leaf.hex()}","chain":"{following.hex()}"}}\n'
            if len(line) - end != len(rest) or not line.endswith(rest):
                break
            chain = following
            pending.append(leaf)
            expected += 1
            taken += 1
        self.chain = chain
        if len(pending) >= _FLUSH:
            self._tree.extend(pending)
            self._pending = []
        return taken

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
