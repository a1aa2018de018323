"""``daap registry``: the mesh's schema registry (Confluent-compatible), from the command line."""

from __future__ import annotations

import click

from daap.cli import output
from daap.cli.main import cli, handle_errors


@cli.group()
def registry() -> None:
    """The mesh's schema registry: subjects, and the registry API on its own."""


@registry.command()
@click.option("--prefix", default="", help="Only subjects starting with this.")
@click.option("--deleted", is_flag=True, help="Include soft-deleted subjects.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.pass_context
@handle_errors
def subjects(ctx: click.Context, prefix: str, deleted: bool, as_json: bool) -> None:
    """List the registry's subjects with their latest version and schema id."""
    from daap.mesh.workspace import Workspace

    ws = Workspace.open(ctx.find_root().obj)
    try:
        reg = ws.registry
        rows = []
        for subject in reg.subjects(prefix, deleted):
            latest = reg.version(subject, "latest", deleted=deleted)
            rows.append({"subject": subject, "version": latest["version"], "id": latest["id"],
                         "type": latest.get("schemaType", "AVRO")})  # fmt: skip
    finally:
        ws.close()
    if as_json:
        output.print_json(rows)
        return
    output.print_table(None, ["subject", "version", "id", "type"], [list(r.values()) for r in rows])
    if not rows:
        output.note("no subjects yet")


@registry.command()
@click.argument("product")
@click.pass_context
@handle_errors
def check(ctx: click.Context, product: str) -> None:
    """Would PRODUCT's current contracts be accepted by its subjects? (exit 3 if not)"""
    from daap.mesh.registry import gate
    from daap.mesh.workspace import SpecCache, Workspace

    ws = Workspace.open(ctx.find_root().obj)
    try:
        spec = SpecCache(ws).find(product)
        reg = ws.registry
        for schemas in gate.port_schemas(spec, ws.config.event_format):
            for subject, text in ((schemas.value_subject, schemas.value), (schemas.key_subject, schemas.key)):
                if text is None:
                    continue
                if not ws.metadata.registry_versions(subject):
                    output.out.print(f"new   {subject}: not registered yet; the next build registers it")
                    continue
                level = reg.level_of(subject)
                output.out.print(f"check {subject} ({level})", markup=False)
        gate.check(ws.registry, spec, ws.config.event_format)
    finally:
        ws.close()
    output.out.print(f"OK    {product}: every contract may follow its registered versions", markup=False)


@registry.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8081, show_default=True, help="Port of the registry API.")
@click.pass_context
@handle_errors
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the registry API alone (as /registry of `daap up`), until Ctrl-C."""
    import uvicorn

    from daap.mesh.workspace import Workspace
    from daap.servers.registry import create_app

    ws = Workspace.open(ctx.find_root().obj)
    try:
        app = create_app(ws.registry)
        output.note(f"schema registry on http://{host}:{port} (stop with Ctrl-C)")
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        ws.close()
