"""``daap diff``: what a version of a product inserted, updated and deleted.

The two versions' snapshots are compared directly (:mod:`daap.runtime.cdc`),
so versions far apart cost one comparison, not one per version in between.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from daap.cli import output
from daap.cli.main import cli, handle_errors
from daap.errors import NotFound, SpecError, UsageError

if TYPE_CHECKING:
    from daap.mesh.workspace import Workspace
    from daap.runtime.cdc import ChangeSet

#: rows shown per kind of change, unless --limit says otherwise
HUMAN_ROWS = 10


@cli.command()
@click.argument("product")
@click.option("--port", help="Output port (default: the product's only port).")
@click.option(
    "--from", "from_version", type=click.IntRange(min=0), help="Old version (default: --to minus 1; 0: none)."
)
@click.option("--to", "to_version", type=click.IntRange(min=1), help="New version (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="The full change set, machine-readable.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    help=f"Rows per kind of change (default {HUMAN_ROWS}; with --json: all).",
)
@click.pass_context
@handle_errors
def diff(
    ctx: click.Context,
    product: str,
    port: str | None,
    from_version: int | None,
    to_version: int | None,
    as_json: bool,
    limit: int | None,
) -> None:
    """Show the rows PRODUCT inserted, updated and deleted between two versions."""
    from daap.mesh.workspace import Workspace

    ws = Workspace.open(ctx.obj)
    try:
        changes = change_set(ws, product, port, from_version, to_version)
    finally:
        ws.close()
    if as_json:
        output.print_json(change_set_json(changes, limit))
    else:
        print_change_set(changes, HUMAN_ROWS if limit is None else limit)


def change_set(
    ws: Workspace, product: str, port: str | None, from_version: int | None, to_version: int | None
) -> ChangeSet:
    """Compare the two snapshots; a missing old side (version 0, or a port added since) is empty.

    Raises:
        NotFound: unknown product, version or port.
        UsageError: the product has several ports and none was named.
    """
    from daap.mesh import changes

    new = ws.version(product, to_version)
    port = _port(product, port, sorted(new.ports))
    start = new.version - 1 if from_version is None else from_version
    old = ws.version(product, start) if start > 0 else None
    return changes.between(ws, new, port, old, _key(ws, product, port) or ())


def _port(product: str, port: str | None, ports: list[str]) -> str:
    if port is not None:
        if port not in ports:
            raise NotFound(f"{product} has no output port {port!r} (ports: {', '.join(ports)})")
        return port
    if len(ports) != 1:
        raise UsageError(f"{product} has {len(ports)} output ports", hint=f"add --port ({', '.join(ports)})")
    return ports[0]


def _key(ws: Workspace, product: str, port: str) -> tuple[str, ...] | None:
    """The port's primary key from its contract; None when the product folder is not here."""
    for folder in ws.product_folders():
        try:
            spec = ws.load(folder)
        except SpecError:
            continue  # another product's broken descriptor is not this command's business
        if spec.name == product:
            found = spec.output_port(port)
            return found.contract.primary_key if found is not None else None
    output.note(f"{product}'s folder is not in this workspace: rows are compared whole (no key)")
    return None


def change_set_json(changes: ChangeSet, limit: int | None) -> dict[str, Any]:
    """The change set as plain data: every row unless ``limit`` is given."""
    end = limit  # None: to the end
    before = changes.updates_before.slice(0, end).to_pylist()
    after = changes.updates_after.slice(0, end).to_pylist()
    return {
        "product": changes.product,
        "port": changes.port,
        "from": changes.from_version or 0,
        "to": changes.to_version,
        "key": list(changes.key),
        "counts": {"inserts": changes.inserted, "updates": changes.updated, "deletes": changes.deleted},
        "inserts": changes.inserts.slice(0, end).to_pylist(),
        "updates": [{"before": b, "after": a} for b, a in zip(before, after, strict=True)],
        "deletes": changes.deletes.slice(0, end).to_pylist(),
    }


def print_change_set(changes: ChangeSet, limit: int) -> None:
    """Counts, then up to ``limit`` rows of each kind; updates show only what changed."""
    key = f"key ({', '.join(changes.key)})" if changes.key else "no key (append-only)"
    versions = f"version {changes.from_version or 0} -> {changes.to_version}"
    output.out.print(f"{changes.product}.{changes.port}: {versions}, {key}", markup=False)
    counts = f"{changes.inserted:,} inserted, {changes.updated:,} updated, {changes.deleted:,} deleted"
    output.out.print(counts, markup=False)
    _rows("inserted", changes.inserts.slice(0, limit).to_pylist(), changes.inserted)
    _updates(changes, limit)
    _rows("deleted", changes.deletes.slice(0, limit).to_pylist(), changes.deleted)


def _rows(kind: str, rows: list[dict[str, Any]], total: int) -> None:
    if not rows:
        return
    output.out.print()
    headers = list(rows[0])
    output.print_table(_title(kind, len(rows), total), headers, [list(r.values()) for r in rows])


def _updates(changes: ChangeSet, limit: int) -> None:
    """One line per updated row: its key, then ``column: old -> new`` for each changed column."""
    from daap.runtime.contract import show

    before = changes.updates_before.slice(0, limit).to_pylist()
    after = changes.updates_after.slice(0, limit).to_pylist()
    if not after:
        return
    output.out.print()
    output.out.print(_title("updated", len(after), changes.updated), markup=False)
    for old, new in zip(before, after, strict=True):
        ident = ", ".join(f"{k}={show(new[k])}" for k in changes.key)
        diffs = [f"{c}: {show(old[c])} -> {show(v)}" for c, v in new.items() if old[c] != v]
        output.out.print(f"  {ident}: {'; '.join(diffs)}", markup=False)


def _title(kind: str, shown: int, total: int) -> str:
    more = f", first {shown:,} shown" if shown < total else ""
    return f"{kind} ({total:,}{more}):"
