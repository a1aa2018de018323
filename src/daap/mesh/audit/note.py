"""C2SP signed notes (c2sp.org/signed-note) carrying tlog checkpoints (c2sp.org/tlog-checkpoint).

A checkpoint says "this log, at this size, has this Merkle root" and is signed, so a
copy of the log can be checked by anyone holding only the public key::

    daap/acme/orders            <- origin: which log
    1000                        <- tree size, decimal
    e3b0xK...=                  <- root hash, standard base64
                                <- blank line ends the signed text
    — daap/acme Ab3d...==       <- em dash, key name, base64(key id (4 bytes) || Ed25519 signature)

The signature covers the text including its final newline. The key id is the first
4 bytes of ``SHA-256(key name || 0x0A || 0x01 || public key)`` (0x01: Ed25519). We
use these formats rather than our own so that Go's ``golang.org/x/mod/sumdb/note``
and the transparency-log tooling read our checkpoints and public keys (``vkey``:
``<name>+<key id hex>+<base64(0x01 || public key)>``) as they are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = b"\x01"
DASH = "\u2014 "


class NoteError(ValueError):
    """A note or checkpoint that is malformed or whose signature does not verify."""


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


def check_key_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")
    return name


@dataclass(frozen=True)
class Verifier:
    """A named Ed25519 public key, as the ``vkey`` text gives it."""

    name: str
    public: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public)

    @property
    def vkey(self) -> str:
        encoded = base64.b64encode(ED25519 + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def from_vkey(cls, text: str) -> Verifier:
        try:
            name, hint, encoded = text.strip().split("+", 2)
            raw = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise NoteError(f"not a verifier key (<name>+<id>+<base64 key>): {text.strip()[:60]!r}") from exc
        if len(raw) != 33 or raw[:1] != ED25519:
            raise NoteError("the verifier key is not an Ed25519 key (type 0x01, 32 bytes)")
        verifier = cls(check_key_name(name), raw[1:])
        if verifier.key_id.hex() != hint.lower():
            raise NoteError(f"verifier key {name}: key id {hint} does not match the key")
        return verifier

    def open(self, note: str) -> str:
        """The text of ``note`` if this key signed it; NoteError otherwise.

        Signatures by other keys are ignored (a note may carry witnesses' cosignatures),
        as c2sp.org/signed-note asks; one of ours that fails rejects the note.
        """
        text, signatures = split_note(note)
        ours = [sig for name, sig in signatures if name == self.name and sig[:4] == self.key_id]
        if not ours:
            raise NoteError(f"no signature by key {self.name} ({self.key_id.hex()})")
        public = Ed25519PublicKey.from_public_bytes(self.public)
        for sig in ours:
            try:
                public.verify(sig[4:], text.encode())
            except InvalidSignature:
                raise NoteError(f"the signature by {self.name} does not verify") from None
        return text


class Signer:
    """A named Ed25519 private key that signs note texts."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        self.name = check_key_name(name)
        self._private = private
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = Verifier(name, public)

    def sign(self, text: str) -> str:
        if not text.endswith("\n") or "\n\n" in text:
            raise NoteError("a note text ends with a newline and holds no blank line")
        signature = self.verifier.key_id + self._private.sign(text.encode())
        return f"{text}\n{DASH}{self.name} {base64.b64encode(signature).decode()}\n"


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The text and the (key name, key id || signature) pairs of a signed note."""
    if not note.endswith("\n") or "\n\n" not in note:
        raise NoteError("not a signed note: no blank line before the signatures")
    cut = note.rindex("\n\n")
    text, lines = note[: cut + 1], note[cut + 2 : -1].split("\n")
    signatures: list[tuple[str, bytes]] = []
    for line in lines:
        name, _, encoded = line.removeprefix(DASH).rpartition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raw = b""
        if not line.startswith(DASH) or not name or len(raw) < 5:
            raise NoteError(f"malformed signature line {line[:60]!r}")
        signatures.append((name, raw))
    return text, signatures


@dataclass(frozen=True)
class Checkpoint:
    """The body of a c2sp.org/tlog-checkpoint: origin, tree size and root hash."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        if not self.origin or "\n" in self.origin:
            raise NoteError(f"origin {self.origin!r} must be one non-empty line")
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Read a checkpoint body; extension lines after the root are allowed and ignored."""
        lines = text.split("\n")
        if len(lines) < 4 or not lines[0]:
            raise NoteError("a checkpoint has an origin, a size and a root hash line")
        origin, size, root = lines[:3]
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise NoteError(f"checkpoint size {size!r} is not a decimal number")
        try:
            digest = base64.b64decode(root, validate=True)
        except binascii.Error:
            digest = b""
        if len(digest) != 32:
            raise NoteError(f"checkpoint root {root!r} is not a base64 SHA-256 hash")
        return cls(origin, int(size), digest)


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """Verify the signature, then read the body: never trust a body before its signature."""
    return Checkpoint.parse(verifier.open(note))
