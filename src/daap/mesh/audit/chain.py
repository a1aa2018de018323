"""Audit entries, the bytes their leaf hash covers, and the SHA-256 hash chain linking them.

Every entry is hashed twice, for two different questions:

* its **leaf hash** ``SHA-256(0x00 || leaf data)`` goes into the RFC 6962 Merkle tree that
  signed checkpoints commit to ("is this exactly what the log held at size n?");
* its **chain hash** ``h_n = SHA-256(h_{n-1} || leaf hash_n)`` with ``h_0`` = 32 zero bytes
  links it to everything before it, so a verifier walking the log finds the *first*
  entry that was changed, dropped or moved, without the signing key.

The leaf data is a few header lines then the payload, for example (seq 7)::

    7\\nev-7\\nb-3\\norders\\norders\\n{"op":"insert","key":{"id":7}}

Identifiers may not contain a newline (checked on append), so the header is
unambiguous; the payload, last, may hold any bytes (it is JSON text, UTF-8).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from daap.mesh.audit.merkle import leaf_hash

#: ``h_0``, the chain value before the first entry
GENESIS = bytes(32)

_sha256 = hashlib.sha256


def link(previous: bytes, leaf: bytes) -> bytes:
    """``h_n = SHA-256(h_{n-1} || leaf_hash_n)``."""
    return _sha256(previous + leaf).digest()


def leaf_data(seq: int, event_id: str, build_id: str, product: str, port: str, payload: bytes) -> bytes:
    header = f"{seq}\n{event_id}\n{build_id}\n{product}\n{port}\n"
    return header.encode() + payload


#: an entry's fields in the order of :class:`Entry`'s, as the store reads them
Row = tuple[int, str, str, str, str, bytes, bytes, bytes]


@dataclass(frozen=True)
class Entry:
    """One committed change event of a product (``seq`` is 1-based, per product)."""

    seq: int
    event_id: str
    build_id: str
    product: str
    port: str
    payload: bytes
    leaf: bytes
    chain: bytes

    @classmethod
    def make(
        cls, previous: bytes, seq: int, event_id: str, build_id: str, product: str, port: str, payload: bytes
    ) -> Entry:
        """The entry after the one whose chain hash is ``previous``, hashes computed."""
        leaf = leaf_hash(leaf_data(seq, event_id, build_id, product, port, payload))
        return cls(seq, event_id, build_id, product, port, payload, leaf, link(previous, leaf))

    def expected_leaf(self) -> bytes:
        data = leaf_data(self.seq, self.event_id, self.build_id, self.product, self.port, self.payload)
        return leaf_hash(data)

    def to_json(self) -> dict[str, Any]:
        """The export form: payload as its JSON text (so its bytes survive), hashes as hex."""
        return {
            "seq": self.seq,
            "event_id": self.event_id,
            "build_id": self.build_id,
            "product": self.product,
            "port": self.port,
            "payload": self.payload.decode(),
            "leaf": self.leaf.hex(),
            "chain": self.chain.hex(),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Entry:
        """Inverse of :meth:`to_json`; raises KeyError, TypeError or ValueError on a bad shape."""
        seq = doc["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise TypeError("seq must be an integer")
        fields = [doc[k] for k in ("event_id", "build_id", "product", "port", "payload", "leaf", "chain")]
        if not all(isinstance(f, str) for f in fields):
            raise TypeError("entry fields must be strings")
        event_id, build_id, product, port, payload, leaf, chain = fields
        hashes = bytes.fromhex(leaf), bytes.fromhex(chain)
        return cls(seq, event_id, build_id, product, port, payload.encode(), *hashes)


def check_identifier(name: str, value: str) -> None:
    """Identifiers go on their own line of the leaf data, so they may not hold a newline."""
    if not value or "\n" in value or "\r" in value:
        raise ValueError(f"{name} must be a non-empty single line, got {value!r}")


def check_payload(payload: bytes) -> None:
    """Payloads are JSON text in UTF-8, so an export can carry them as JSON strings."""
    try:
        orjson.loads(payload)  # strict: UTF-8, no NaN, no lone surrogate
    except ValueError as exc:
        raise ValueError(f"the payload is not JSON text in UTF-8 ({exc})") from exc
