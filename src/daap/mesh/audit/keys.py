"""The mesh's checkpoint signing key: created on first use, kept in ``<home>/keys``.

``audit-ed25519`` holds the private key (PKCS#8 PEM, mode 0600, readable by
``openssl pkey``); ``audit-ed25519.pub`` holds the verifier key in the signed-note
``vkey`` form (``<name>+<key id>+<base64 key>``), which is what to hand to anyone
who verifies an export or a proof. The key name is fixed when the key is created
and read back from the ``.pub`` file, so renaming the mesh does not orphan old
checkpoints.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from daap.mesh.audit.errors import AuditError
from daap.mesh.audit.note import NoteError, Signer, Verifier

KEY_FILE = "audit-ed25519"


def key_paths(keys: Path) -> tuple[Path, Path]:
    return keys / KEY_FILE, keys / f"{KEY_FILE}.pub"


def load_or_create_signer(keys: Path, name: str) -> Signer:
    """The signer in ``keys``, creating the key pair (named ``name``) if there is none."""
    private_path, public_path = key_paths(keys)
    if not private_path.exists():
        _create(private_path, public_path, name)
    private = load_pem_private_key(private_path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise AuditError("signature", f"{private_path} is not an Ed25519 private key")
    if public_path.exists():
        name = load_verifier(public_path).name
    signer = Signer(name, private)
    if not public_path.exists() or load_verifier(public_path) != signer.verifier:
        public_path.write_text(signer.verifier.vkey + "\n", encoding="utf-8")
    return signer


def load_verifier(path_or_vkey: str | Path) -> Verifier:
    """A verifier from a ``.pub`` file or from the vkey text itself."""
    text = str(path_or_vkey)
    path = Path(path_or_vkey)
    try:
        if "+" not in text or path.exists():
            text = path.read_text(encoding="utf-8")
        return Verifier.from_vkey(text)
    except OSError as exc:
        raise AuditError("signature", f"cannot read public key {path}: {exc.strerror}") from exc
    except NoteError as exc:
        hint = "pass the .pub file `daap audit public-key` prints"
        raise AuditError("signature", str(exc), hint=hint) from exc


def _create(private_path: Path, public_path: Path, name: str) -> None:
    private_path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    # Written aside, then linked into place: link() fails if the key exists, so of two
    # processes creating it at once one wins, and nobody ever reads a half-written key.
    temporary = private_path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    try:
        os.link(temporary, private_path)
        public_path.unlink(missing_ok=True)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
