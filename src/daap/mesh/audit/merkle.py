"""RFC 6962 Merkle tree hashes, inclusion proofs and consistency proofs (pure, no I/O).

The tree over leaves ``d[0:n]`` is the one of RFC 6962 §2.1 (kept in RFC 9162):
``leaf = SHA-256(0x00 || data)``, ``node = SHA-256(0x01 || left || right)``, the
left subtree of a tree of size ``n`` holding the largest power of two ``k < n``
leaves. Domain separation (0x00 / 0x01) is why a leaf can never be passed off as
an inner node. Any RFC 6962 implementation (Go's ``golang.org/x/mod/sumdb/tlog``,
certificate-transparency tools) computes the same roots and checks the same proofs.

Two ways to hold a tree, for two jobs:

* :class:`CompactRange` keeps only the ``popcount(n)`` perfect subtrees on the right
  edge, so verifying a million entries streams in O(log n) memory and one node hash
  per leaf, and the root at every checkpoint size costs O(log n).
* :class:`MerkleTree` keeps every complete inner node (about ``n`` hashes) so that
  inclusion and consistency proofs for any size ``<= n`` cost O(log n) lookups.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
#: the root of the empty tree, ``SHA-256("")`` (RFC 6962 §2.1)
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2): the size of the left subtree."""
    return 1 << ((n - 1).bit_length() - 1)


class CompactRange:
    """The right edge of a growing tree: append leaf hashes, read the root at the current size.

    ``_stack`` holds one perfect subtree per set bit of the size, largest first; for
    size 6 (0b110) that is the subtrees over leaves 0..3 and 4..5.
    """

    def __init__(self, size: int = 0, stack: Sequence[bytes] = ()) -> None:
        if len(stack) != size.bit_count():
            raise ValueError(f"a range of size {size} has {size.bit_count()} subtrees, not {len(stack)}")
        self.size = size
        self._stack: list[bytes] = list(stack)

    @property
    def stack(self) -> tuple[bytes, ...]:
        """The perfect subtrees of the right edge, largest first: the state to persist."""
        return tuple(self._stack)

    def append(self, leaf: bytes) -> None:
        stack, n = self._stack, self.size
        stack.append(leaf)
        while n & 1:  # merge equal-sized subtrees, like carrying in binary addition
            right = stack.pop()
            stack[-1] = _sha256(b"\x01" + stack[-1] + right).digest()
            n >>= 1
        self.size += 1

    def extend(self, leaves: Sequence[bytes]) -> None:
        """:meth:`append` each of ``leaves``, a perfect subtree at a time: same result, but
        the node hashes of each subtree are computed level by level, without the per-leaf
        bookkeeping (verifying a long log is mostly hashing)."""
        start, count = 0, len(leaves)
        while start < count:
            # the largest perfect subtree that fits what is left and keeps the size aligned
            height = (count - start).bit_length() - 1
            if self.size:
                height = min(height, (self.size & -self.size).bit_length() - 1)
            level = leaves[start : start + (1 << height)]
            while len(level) > 1:
                level = [
                    _sha256(b"\x01" + a + b).digest() for a, b in zip(level[::2], level[1::2], strict=True)
                ]
            stack, n = self._stack, self.size >> height
            stack.append(level[0])
            while n & 1:  # as in append, one level up per set bit
                right = stack.pop()
                stack[-1] = _sha256(b"\x01" + stack[-1] + right).digest()
                n >>= 1
            self.size += 1 << height
            start += 1 << height

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        acc = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            acc = _sha256(b"\x01" + left + acc).digest()
        return acc


class MerkleTree:
    """Every complete node of the tree over ``leaves``: ``levels[k][j]`` covers leaves
    ``j*2^k .. (j+1)*2^k - 1``. Answers roots and proofs for any size up to ``len(leaves)``.
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaves)]
        level = self.levels[0]
        while len(level) > 1:
            level = [_sha256(b"\x01" + a + b).digest() for a, b in zip(level[::2], level[1::2], strict=False)]
            self.levels.append(level)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def range_hash(self, start: int, end: int) -> bytes:
        """MTH(d[start:end]) for a range the RFC recursion produces (``start`` aligned)."""
        if end <= start:
            return EMPTY_ROOT
        parts: list[bytes] = []
        while start < end:  # perfect subtrees, largest first, as in the binary form of the width
            k = (end - start).bit_length() - 1
            parts.append(self.levels[k][start >> k])
            start += 1 << k
        acc = parts[-1]
        for left in reversed(parts[:-1]):
            acc = node_hash(left, acc)
        return acc

    def root(self, size: int | None = None) -> bytes:
        return self.range_hash(0, self.size if size is None else self._check(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, d[0:size]) of RFC 6962 §2.1.1: sibling hashes from the leaf upward."""
        size = self.size if size is None else self._check(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is outside a tree of size {size}")
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:  # walk down, collecting siblings root-first; reversed at the end
            k = _split(end - start)
            if index < start + k:
                proof.append(self.range_hash(start + k, end))
                end = start + k
            else:
                proof.append(self.range_hash(start, start + k))
                start += k
        return proof[::-1]

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """PROOF(old, d[0:new]) of RFC 6962 §2.1.2: shows d[0:old] is a prefix of d[0:new]."""
        new = self.size if new is None else self._check(new)
        if not 0 <= old <= new:
            raise ValueError(f"cannot prove size {old} consistent with size {new}")
        if old in (0, new):
            return []
        proof: list[bytes] = []
        start, end, m, whole = 0, new, old, True
        while m != end - start:  # SUBPROOF, unrolled; collected root-first, reversed at the end
            k = _split(end - start)
            if m <= k:
                proof.append(self.range_hash(start + k, end))
                end = start + k
            else:
                proof.append(self.range_hash(start, start + k))
                start, m, whole = start + k, m - k, False
        if not whole:
            proof.append(self.range_hash(start, end))
        return proof[::-1]

    def _check(self, size: int) -> int:
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is outside a tree of {self.size} leaves")
        return size


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root that ``proof`` implies for ``leaf`` at ``index`` (RFC 9162 §2.1.3.2), or None
    when the proof has the wrong shape for that index and size."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    return root_from_inclusion(index, size, leaf, proof) == root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: True when the tree of size ``old`` is a prefix of the one of size ``new``."""
    if not 0 <= old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof  # every tree extends the empty one
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root
