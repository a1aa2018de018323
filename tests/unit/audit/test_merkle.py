"""RFC 6962 tree hashes and proofs against a brute-force reading of the RFC and known vectors."""

from __future__ import annotations

import hashlib

import pytest

from daap.mesh.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleTree,
    leaf_hash,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


# --- RFC 6962 §2.1 definitions, transcribed literally (recursive, slow, obviously right) ---
def mth(d: list[bytes]) -> bytes:
    if not d:
        return _h(b"")
    if len(d) == 1:
        return _h(b"\x00" + d[0])
    k = _k(len(d))
    return _h(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], whole: bool) -> list[bytes]:
    if m == len(d):
        return [] if whole else [mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*subproof(m, d[:k], whole), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


DATA = [bytes([i]) * (i % 5) for i in range(17)]
TREE = MerkleTree([leaf_hash(x) for x in DATA])

# Roots of the certificate-transparency test leaves (used by every RFC 6962 implementation).
CT_LEAVES = [
    *("", "00", "10", "2021", "3031", "40414243", "5051525354555657"),
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_known_ct_vectors() -> None:
    tree = MerkleTree([leaf_hash(bytes.fromhex(x)) for x in CT_LEAVES])
    assert [tree.root(n).hex() for n in range(1, 9)] == CT_ROOTS
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("n", range(len(DATA) + 1))
def test_roots_match_the_rfc_definition(n: int) -> None:
    compact = CompactRange()
    for x in DATA[:n]:
        compact.append(leaf_hash(x))
    assert TREE.root(n) == compact.root() == mth(DATA[:n])
    assert CompactRange(compact.size, compact.stack).root() == compact.root()


@pytest.mark.parametrize("start", [0, 1, 2, 3, 5, 8, 12, 16, 17])
def test_extend_is_append_one_by_one(start: int) -> None:
    """``extend`` adds perfect subtrees at a time; from any size, the stack is append's."""
    leaves = [_h(bytes([i])) for i in range(start + 40)]
    for count in range(41):
        one_by_one, at_once = CompactRange(), CompactRange()
        for leaf in leaves[: start + count]:
            one_by_one.append(leaf)
        for leaf in leaves[:start]:
            at_once.append(leaf)
        at_once.extend(leaves[start : start + count])
        assert (at_once.size, at_once.stack) == (one_by_one.size, one_by_one.stack)
        assert at_once.root() == MerkleTree(leaves[: start + count]).root()


@pytest.mark.parametrize("n", range(1, len(DATA) + 1))
def test_inclusion_proofs(n: int) -> None:
    root = mth(DATA[:n])
    for m in range(n):
        proof = TREE.inclusion_proof(m, n)
        assert proof == path(m, DATA[:n])
        assert verify_inclusion(m, n, leaf_hash(DATA[m]), proof, root)
        assert not verify_inclusion(m, n, leaf_hash(b"forged"), proof, root)
        if n > 1:
            assert not verify_inclusion((m + 1) % n, n, leaf_hash(DATA[m]), proof, root)
            assert not verify_inclusion(m, n, leaf_hash(DATA[m]), proof[:-1], root)
            assert root_from_inclusion(m, n, leaf_hash(DATA[m]), [*proof, proof[0]]) is None


@pytest.mark.parametrize("new", range(1, len(DATA) + 1))
def test_consistency_proofs(new: int) -> None:
    for old in range(1, new + 1):
        proof = TREE.consistency_proof(old, new)
        assert proof == (subproof(old, DATA[:new], True) if old < new else [])
        old_root, new_root = mth(DATA[:old]), mth(DATA[:new])
        assert verify_consistency(old, new, old_root, new_root, proof)
        if old < new:
            assert not verify_consistency(old, new, mth(DATA[1 : old + 1]), new_root, proof)
            assert not verify_consistency(old, new, old_root, _h(b"other"), proof)
            tampered = [_h(proof[0]), *proof[1:]]
            assert not verify_consistency(old, new, old_root, new_root, tampered)


def test_shapes_that_are_refused() -> None:
    assert verify_consistency(0, 5, EMPTY_ROOT, TREE.root(5), [])
    assert not verify_consistency(5, 3, TREE.root(5), TREE.root(3), [])
    assert not verify_consistency(3, 5, TREE.root(3), TREE.root(5), [])
    assert not verify_inclusion(5, 5, leaf_hash(DATA[0]), [], TREE.root(5))
    with pytest.raises(ValueError):
        TREE.inclusion_proof(3, 3)
    with pytest.raises(ValueError):
        TREE.consistency_proof(4, 2)
    with pytest.raises(ValueError):
        CompactRange(3, [EMPTY_ROOT])
