"""``daap audit``: export, verify and prove a product's change audit log; show the public key.

Verification is meant to run where daap is not trusted: ``verify --file`` and the
proof check need only the export (or proof) and the ``.pub`` file that
``daap audit public-key`` prints, never the mesh's database or private key.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from daap.cli import output
from daap.cli.main import cli, handle_errors
from daap.errors import UsageError

# The library is imported inside each command, so `daap --help` stays fast.
if TYPE_CHECKING:
    from daap.mesh.audit import AuditLog, Report


def _log(ctx: click.Context) -> AuditLog:
    from daap.mesh.audit import AuditLog
    from daap.mesh.workspace import Workspace

    return AuditLog.open(Workspace.open(ctx.find_root().obj))


def _ok(report: Report) -> str:
    root = base64.b64encode(report.root).decode() if report.root else "-"
    tail = f", {report.unsigned} after the last checkpoint" if report.unsigned else ""
    return (
        f"OK {report.product}: {report.entries} entries, {report.checkpoints} checkpoints, "
        f"signed through seq {report.signed} (root {root}){tail}"
    )


@cli.group()
def audit() -> None:
    """Export, verify and prove products' change audit logs (hash chain + signed checkpoints)."""


@audit.command("export")
@click.argument("product")
@click.option("-o", "--output", "target", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
@handle_errors
def export(ctx: click.Context, product: str, target: Path) -> None:
    """Write PRODUCT's audit log to FILE as JSON lines, ending with a signed checkpoint."""
    log = _log(ctx)
    try:
        summary = log.export(product, target)
    finally:
        log.close()
    output.out.print(f"wrote {summary.entries} entries and {summary.checkpoints} checkpoints to {target}")


@audit.command("verify")
@click.argument("product", required=False)
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--public-key", "public_key", help="The .pub file (or its vkey text) to check signatures with.")
@click.pass_context
@handle_errors
def verify(ctx: click.Context, product: str | None, file: Path | None, public_key: str | None) -> None:
    """Check PRODUCT's stored log (default: every product's), or an export --file.

    Exits non-zero naming the first sequence number altered, removed, reordered or
    inserted. --file needs --public-key unless run inside the mesh that signed it.
    """
    from daap.mesh.audit import AuditError, verify_export

    if file is not None:
        if product is not None:
            raise UsageError("give PRODUCT or --file, not both")
        key = public_key if public_key is not None else _log(ctx).public_key_path
        try:
            report = verify_export(file, key)
        except AuditError as exc:
            line = _line_of(file, exc.seq)
            if line is None:
                raise
            where = f"{exc.detail} (line {line} of {file})"
            raise AuditError(exc.kind, where, seq=exc.seq, product=exc.product, hint=exc.hint) from None
        output.out.print(_ok(report), markup=False)
        return
    log = _log(ctx)
    try:
        for name in [product] if product else log.products():
            output.out.print(_ok(log.verify(name)), markup=False)
    finally:
        log.close()


def _line_of(path: Path, seq: int | None) -> int | None:
    """The 1-based line of ``path`` holding entry ``seq`` (read loosely: the line may be damaged)."""
    if seq is None:
        return None
    wanted = re.compile(rb'"seq":\s*%d\s*[,}]' % seq)
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            if b'"checkpoint"' not in raw[:16] and wanted.search(raw):
                return number
    return None


@audit.command("prove")
@click.argument("product")
@click.option("--event", "event_id", required=True, help="The event id to prove.")
@click.option("-o", "--output", "target", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
@handle_errors
def prove(ctx: click.Context, product: str, event_id: str, target: Path | None) -> None:
    """Print (or write to FILE) an inclusion proof of one event, checkable offline."""
    log = _log(ctx)
    try:
        proof = log.prove(product, event_id)
    finally:
        log.close()
    text = json.dumps(proof, indent=2) + "\n"
    if target is None:
        sys.stdout.write(text)
    else:
        target.write_text(text, encoding="utf-8")
        output.out.print(f"wrote the proof of {event_id} (seq {proof['entry']['seq']}) to {target}")


@audit.command("verify-proof")
@click.argument("proof", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--public-key", "public_key", required=True, help="The .pub file (or its vkey text).")
@handle_errors
def verify_proof(proof: Path, public_key: str) -> None:
    """Check an inclusion proof file against the public key, offline."""
    from daap.mesh.audit import AuditError
    from daap.mesh.audit import verify_proof as check

    try:
        doc = json.loads(proof.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise AuditError("malformed", f"{proof} is not JSON: {exc}") from exc
    entry = check(doc, public_key)
    output.out.print(f"OK {entry.product}: event {entry.event_id} is seq {entry.seq} of a signed log")


@audit.command("public-key")
@click.option("--path", "path_only", is_flag=True, help="Print only the .pub file's path.")
@click.pass_context
@handle_errors
def public_key(ctx: click.Context, path_only: bool) -> None:
    """Print the mesh's checkpoint verifier key (created on first use) and its file."""
    log = _log(ctx)
    try:
        path = log.public_key_path
    finally:
        log.close()
    if path_only:
        output.out.print(str(path))
        return
    output.out.print(path.read_text(encoding="utf-8").strip(), markup=False)
    output.note(f"(from {path}; give this file to whoever verifies exports and proofs)")
