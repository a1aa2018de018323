"""Signed notes and checkpoints: formats, key ids, signatures (interoperable with Go's note)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from daap.mesh.audit.note import Checkpoint, NoteError, Signer, Verifier, key_id, open_checkpoint, split_note

# The example of golang.org/x/mod/sumdb/note: a note signed by a key we did not make.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_NOTE = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def _signer(name: str = "daap/test") -> Signer:
    return Signer(name, Ed25519PrivateKey.generate())


def test_go_note_example_verifies() -> None:
    verifier = Verifier.from_vkey(GO_VKEY)
    assert verifier.vkey == GO_VKEY
    assert verifier.open(GO_NOTE).startswith("If you think")
    with pytest.raises(NoteError):
        verifier.open(GO_NOTE.replace("answer", "Answer"))


def test_key_id_is_sha256_of_name_newline_type_key() -> None:
    public = bytes(range(32))
    assert key_id("a/b", public) == hashlib.sha256(b"a/b\n\x01" + public).digest()[:4]


def test_checkpoint_body_and_signature_line() -> None:
    signer = _signer()
    checkpoint = Checkpoint("daap/m/orders", 3, bytes(32))
    note = signer.sign(checkpoint.text())
    text, [(name, raw)] = split_note(note)
    assert text == f"daap/m/orders\n3\n{base64.b64encode(bytes(32)).decode()}\n"
    assert note.split("\n")[4].startswith("\u2014 daap/test ")
    assert name == "daap/test" and raw[:4] == signer.verifier.key_id and len(raw) == 68
    assert open_checkpoint(note, signer.verifier) == checkpoint


def test_signatures_by_other_keys_are_ignored_but_one_of_ours_is_needed() -> None:
    ours, theirs = _signer(), _signer("witness/x")
    note = ours.sign("a\nb\n")
    cosigned = note + theirs.sign("a\nb\n").split("\n\n")[1]
    assert ours.verifier.open(cosigned) == "a\nb\n"
    with pytest.raises(NoteError, match="no signature"):
        theirs.verifier.open(note)
    with pytest.raises(NoteError, match="no signature"):
        _signer().verifier.open(note)  # same name, other key: another key id


def test_a_bad_signature_of_ours_rejects_the_note() -> None:
    signer = _signer()
    note = signer.sign("x\n")
    text, [(name, raw)] = split_note(note)
    forged = raw[:4] + bytes(64)
    with pytest.raises(NoteError, match="does not verify"):
        signer.verifier.open(f"{text}\n\u2014 {name} {base64.b64encode(forged).decode()}\n")


@pytest.mark.parametrize(
    "note", ["x\n", "x\n\n- name AAAAAAAA\n", "x\n\n\u2014 name !!\n", "x\n\n\u2014 name QUJD\n", "x\n\n"]
)
def test_malformed_notes(note: str) -> None:
    with pytest.raises(NoteError):
        split_note(note)


@pytest.mark.parametrize(
    "text", ["o\n", "o\nx\nAAAA\n", "o\n01\n" + base64.b64encode(bytes(32)).decode() + "\n", "o\n1\nAAAA\n"]
)
def test_malformed_checkpoints(text: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse(text)


def test_vkey_errors_and_names() -> None:
    vkey = _signer().verifier.vkey
    with pytest.raises(NoteError, match="does not match"):
        name, _, key = vkey.split("+", 2)
        Verifier.from_vkey(f"{name}+00000000+{key}")
    with pytest.raises(NoteError):
        Verifier.from_vkey("nonsense")
    with pytest.raises(NoteError):
        Signer("has space", Ed25519PrivateKey.generate())
    with pytest.raises(NoteError):
        _signer().sign("no final newline")
