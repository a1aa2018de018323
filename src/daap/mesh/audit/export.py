"""The export file: a product's audit log as JSON lines, verifiable offline.

One line per entry, in sequence order, and after the entry that brings the log to a
checkpoint's size, that checkpoint::

    {"seq":1,"event_id":"e1","build_id":"b1","product":"orders","port":"orders",
     "payload":"{\\"op\\":\\"insert\\"}","leaf":"<hex>","chain":"<hex>"}
    ...
    {"checkpoint":"daap/acme/orders\\n2\\n<base64 root>\\n\\n— daap/acme <base64 sig>\\n"}

``payload`` is the payload's JSON text as a string, so its exact bytes (which the
leaf hash covers) survive; ``leaf`` and ``chain`` are hex; the checkpoint is the
signed note verbatim (root in base64, as c2sp.org/tlog-checkpoint has it). An export
always ends with a checkpoint over all its entries, so a cut-off file is detected.

Verifying reads entry lines spelled as :func:`write_export` spells them without
``json.loads`` (:meth:`LogVerifier.entry_lines`); every other line is parsed as JSON,
so any JSON spelling of the same objects verifies the same.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from daap.mesh.audit.chain import Entry
from daap.mesh.audit.errors import AuditError
from daap.mesh.audit.note import Verifier
from daap.mesh.audit.verify import LogVerifier, OutOfOrder, Report

_BLOCK = 1 << 20  # bytes of lines read at a time when verifying


def write_export(path: Path, items: Iterable[Entry | str]) -> None:
    """Write entries and checkpoint notes (``str``) atomically: a reader never sees half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    with temporary.open("w", encoding="utf-8") as out:
        for item in items:
            doc = {"checkpoint": item} if isinstance(item, str) else item.to_json()
            out.write(dumps(doc) + "\n")
    temporary.replace(path)


def verify_export(path: Path, verifier: Verifier) -> Report:
    """Check every line of an export; raise :class:`AuditError` naming the first bad seq."""
    log = LogVerifier(verifier)
    position = 0  # index of the next entry line
    try:
        with path.open("rb") as file:
            for block in iter(lambda: file.readlines(_BLOCK), []):
                done = 0
                while done < len(block):
                    taken = log.entry_lines(block, done)  # entry lines as written, that check out
                    position += taken - done
                    if taken < len(block):  # checkpoints, and any line not as written
                        position += _line(log, block[taken], path, position)
                    done = taken + 1
    except OutOfOrder as gap:
        raise classify(_seqs(path), position, gap.expected, log.product) from None
    except OSError as exc:
        raise AuditError("malformed", f"cannot read {path}: {exc.strerror}") from exc
    return log.report(require_signed=True)


def _line(log: LogVerifier, raw: bytes, path: Path, position: int) -> int:
    """Check one line parsed as JSON, naming what is wrong; 1 for an entry, 0 for a checkpoint."""
    doc = _parse(raw, log.tree.size + 1)
    if "checkpoint" in doc:
        log.checkpoint(str(doc["checkpoint"]))
        return 0
    if log.entry_json(doc):
        return 1
    entry = _entry(doc, log.tree.size + 1)
    try:
        log.entry(entry)
    except AuditError as exc:  # a forged line may pass for an altered one: look again
        raise _second_look(path, position, entry.seq, exc) from None
    return 1


def _parse(raw: bytes, seq: int) -> dict[str, object]:
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        return doc
    if not raw.endswith(b"\n"):
        raise AuditError("truncated", "the file ends in the middle of a line", seq=seq)
    raise AuditError("malformed", f"not a JSON object: {raw[:60]!r}", seq=seq)


def _entry(doc: dict[str, object], seq: int) -> Entry:
    try:
        return Entry.from_json(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise AuditError("malformed", f"not an audit entry ({type(exc).__name__}: {exc})", seq=seq) from exc


def _seqs(path: Path) -> list[int | None]:
    """Second pass, only after a failure: the seq of every entry line, in file order."""
    seqs: list[int | None] = []
    with path.open("rb") as lines:
        for raw in lines:
            try:
                doc = json.loads(raw)
            except ValueError:
                seqs.append(None)
                continue
            if isinstance(doc, dict) and "checkpoint" not in doc:
                seq = doc.get("seq")
                seqs.append(seq if isinstance(seq, int) else None)
    return seqs


def _second_look(path: Path, position: int, seq: int, error: AuditError) -> AuditError:
    seqs = _seqs(path)
    if seqs.count(seq) > 1:
        return AuditError("inserted", f"seq {seq} appears more than once", seq=seq, product=error.product)
    return error


def classify(seqs: list[int | None], position: int, expected: int, product: str | None) -> AuditError:
    """Name what happened where entry number ``position`` (0-based) should have seq ``expected``.

    ``seqs`` are the sequence numbers of all entry lines in file order. A duplicate
    number is an insertion; a number nowhere in the file was removed; a foreign line
    directly before the expected one was inserted; anything else is a reordering.
    """
    got = seqs[position] if position < len(seqs) else None
    following = seqs[position + 1] if position + 1 < len(seqs) else None
    if got is not None and seqs.count(got) > 1:
        return AuditError("inserted", f"seq {got} appears more than once", seq=got, product=product)
    if expected not in seqs:
        return AuditError("removed", "the entry is missing", seq=expected, product=product)
    if got is not None and following == expected and got != expected + 1:
        message = f"a line claiming seq {got} stands before seq {expected}"
        return AuditError("inserted", message, seq=got, product=product)
    message = f"the entry is out of place (found seq {got} where it belongs)"
    return AuditError("reordered", message, seq=expected, product=product)
