"""``daap catalog``: search the central catalog, show a product, list what a change would impact."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from daap.cli import output
from daap.cli.main import cli, handle_errors


@contextmanager
def _workspace(ctx: click.Context) -> Iterator[Any]:
    from daap.mesh.workspace import Workspace

    ws = Workspace.open(ctx.find_root().obj)
    try:
        yield ws
    finally:
        ws.close()


@cli.group()
def catalog() -> None:
    """The mesh's central catalog: every product, fed by the builds themselves."""


@catalog.command("search")
@click.argument("text", required=False)
@click.option("--domain", multiple=True, help="Only this domain (repeatable).")
@click.option("--type", "product_type", multiple=True, help="Only this product type (repeatable).")
@click.option("--tag", multiple=True, help="Only products with this tag (repeatable).")
@click.option("--status", multiple=True, help="Only this status: active, retired, deleted, … (repeatable).")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.pass_context
@handle_errors
def catalog_search(
    ctx: click.Context,
    text: str | None,
    domain: tuple[str, ...],
    product_type: tuple[str, ...],
    tag: tuple[str, ...],
    status: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """Find products by what they are for: names, objectives, purposes, personas, tags, columns."""
    facets = {"domain": domain, "product_type": product_type, "tag": tag, "status": status}
    with _workspace(ctx) as ws:
        page = ws.metadata.search_catalog(text, facets={k: v for k, v in facets.items() if v}, limit=limit)
    if as_json:
        output.print_json(
            {
                "total": page.total,
                "any_word": page.any_word,
                "items": [{**h.entry.to_json(), "score": h.score} for h in page.items],
                "facets": {k: dict(v) for k, v in page.facets.items()},
            }
        )
        return
    rows = [
        [h.entry.name, h.entry.domain or "", h.entry.owner or "", h.entry.status,
         h.entry.business_objective or h.entry.purpose or ""]
        for h in page.items
    ]  # fmt: skip
    output.print_table(None, ["product", "domain", "owner", "status", "why it exists"], rows)
    shown = f"{len(page.items)} of {page.total}" if page.total > len(page.items) else str(page.total)
    loose = " (no product has every word: these have some of them)" if page.any_word and page.total else ""
    output.note(f"{shown} product(s){loose}; `daap catalog show PRODUCT` for one")


@catalog.command("show")
@click.argument("product")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.pass_context
@handle_errors
def catalog_show(ctx: click.Context, product: str, as_json: bool) -> None:
    """Everything the catalog knows of PRODUCT: objective, personas, owner, ports and columns, versions,
    quality and governance, lineage."""
    from daap.errors import NotFound

    with _workspace(ctx) as ws:
        entry = ws.metadata.catalog_entry(product)
        if entry is None:
            raise NotFound(f"no product {product!r} in the catalog", hint="`daap catalog search` lists them")
        readers = ws.metadata.readers_of(product)
    if as_json:
        output.print_json({**entry.to_json(), "downstream": readers})
        return
    out = output.out
    out.print(f"[bold]{entry.name}[/] ({entry.status}) — {entry.business_objective or entry.purpose or ''}")
    for persona in entry.personas:
        out.print(f"  for {persona.name}: {persona.description or ''}", markup=False)
    kind, where, owner = entry.product_type or "product", entry.domain or "no domain", entry.owner or "nobody"
    out.print(
        f"  {kind} in {where}, owned by {owner}; version {entry.latest_version or '-'}; "
        f"governance: {entry.governance_errors or 0} error(s), {entry.governance_warnings or 0} warning(s)",
        markup=False,
    )
    for port in entry.ports:
        columns = [[c.name, c.type or "", c.classification or "", c.description or ""] for c in port.columns]
        output.print_table(
            f"{entry.name}.{port.name}: {port.description or ''}", ["column", "type", "class", ""], columns
        )
    out.print(f"  reads: {', '.join(entry.document.get('upstream', [])) or 'nothing'}", markup=False)
    out.print(f"  read by: {', '.join(readers) or 'nobody'}", markup=False)


@catalog.command("impact")
@click.argument("node", metavar="PRODUCT[.PORT[.COLUMN]]")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.pass_context
@handle_errors
def catalog_impact(ctx: click.Context, node: str, as_json: bool) -> None:
    """Every downstream product and column that a change of NODE reaches (column lineage from the
    transformations' SQL)."""
    from daap.mesh.catalog.lineage import impact, mesh_lineage

    with _workspace(ctx) as ws:
        specs = []
        for folder in ws.product_folders():
            try:
                specs.append(ws.load(folder))
            except Exception:  # a broken folder has no lineage to give
                continue
        edges = mesh_lineage(specs)
    found = impact(edges, node)
    if as_json:
        fields = ("depth", "node", "kind", "via", "certain")
        output.print_json([{f: getattr(i, f) for f in fields} for i in found])
        return
    rows = [[str(i.depth), i.node, i.kind, str(i.via or ""), "" if i.certain else "maybe"] for i in found]
    output.print_table(None, ["depth", "downstream", "how", "via", ""], rows)
    if not found:
        output.note(f"nothing downstream of {node}")


@catalog.command("sync")
@click.pass_context
@handle_errors
def catalog_sync(ctx: click.Context) -> None:
    """Register every product again, with its health (builds keep the catalog in step on their own)."""
    from daap.mesh.catalog.register import sync

    with _workspace(ctx) as ws:
        notes = sync(ws, with_health=True)
        count = len(ws.metadata.catalog_entries())
    for note in notes:
        output.note(note)
    output.out.print(f"catalog: {count} product(s)", markup=False)
