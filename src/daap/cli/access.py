"""``daap principal``, ``daap token`` and ``daap access``: who may use the mesh, their credentials,
what they may do and see, and what they did."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from daap.cli import output
from daap.cli.main import cli, handle_errors


@contextmanager
def _identities(ctx: click.Context) -> Iterator[Any]:
    """The workspace's identities, its metadata store closed afterwards."""
    from daap.mesh.policy.identity import Identities
    from daap.mesh.workspace import Workspace

    ws = Workspace.open(ctx.find_root().obj)
    try:
        yield Identities(ws)
    finally:
        ws.close()


@cli.group()
def principal() -> None:
    """People and services that use the mesh: roles, domain, purposes, attributes."""


@principal.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(["person", "service"]), default="person", show_default=True)
@click.option("--role", "roles", multiple=True, help="A role (repeatable), e.g. analyst, owner, governance.")
@click.option("--domain", help="The principal's domain (team), e.g. content.")
@click.option("--purpose", "purposes", multiple=True, help="A purpose of use (repeatable), e.g. marketing.")
@click.option(
    "--attr", "attrs", multiple=True, metavar="KEY=VALUE", help="An attribute (repeatable), e.g. region=EU."
)
@click.pass_context
@handle_errors
def principal_add(
    ctx: click.Context,
    name: str,
    kind: str,
    roles: tuple[str, ...],
    domain: str | None,
    purposes: tuple[str, ...],
    attrs: tuple[str, ...],
) -> None:
    """Add a principal (principals in mesh.yaml are changed there)."""
    from daap.mesh.policy.identity import attributes
    from daap.spec.mesh import PrincipalSpec

    with _identities(ctx) as ids:
        spec = PrincipalSpec(name, kind, roles, domain, purposes, attributes(attrs))  # type: ignore[arg-type]
        ids.add(spec)
    output.out.print(f"added {kind} {name}; `daap token create {name}` gives it a token", markup=False)


@principal.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.pass_context
@handle_errors
def principal_list(ctx: click.Context, as_json: bool) -> None:
    """List the principals, from mesh.yaml and added here."""
    with _identities(ctx) as ids:
        found = ids.principals()
    rows = [
        {
            "name": p.name,
            "kind": p.kind,
            "roles": list(p.roles),
            "domain": p.domain,
            "purposes": list(p.purposes),
            "attributes": dict(p.attributes),
            "source": p.source,
        }
        for p in found
    ]
    if as_json:
        output.print_json(rows)
        return
    table = [
        [
            r["name"],
            r["kind"],
            ", ".join(r["roles"]),
            r["domain"] or "",
            ", ".join(r["purposes"]),
            ", ".join(f"{k}={v}" for k, v in r["attributes"].items()),
            r["source"],
        ]
        for r in rows
    ]
    output.print_table(None, ["name", "kind", "roles", "domain", "purposes", "attributes", "from"], table)
    if not rows:
        output.note("no principals yet: declare them in mesh.yaml or `daap principal add NAME`")


@principal.command("remove")
@click.argument("name")
@click.pass_context
@handle_errors
def principal_remove(ctx: click.Context, name: str) -> None:
    """Remove a principal added here, and revoke its tokens."""
    with _identities(ctx) as ids:
        revoked = ids.remove(name)
    output.out.print(f"removed {name}; revoked {revoked} token(s)", markup=False)


@cli.group()
def token() -> None:
    """Bearer tokens of principals: shown once, stored hashed, with an expiry."""


@token.command("create")
@click.argument("principal_name", metavar="PRINCIPAL")
@click.option("--expires", default="90d", show_default=True, help="Lifetime: 90m, 12h, 30d, 2w or never.")
@click.option("--description", help="What the token is for.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.pass_context
@handle_errors
def token_create(
    ctx: click.Context, principal_name: str, expires: str, description: str | None, as_json: bool
) -> None:
    """Create a token for PRINCIPAL and print it, once: only its hash is kept."""
    from daap.mesh.policy.identity import lifetime

    with _identities(ctx) as ids:
        record, secret = ids.create_token(principal_name, lifetime(expires), description)
    until = "never" if record.expires_at is None else record.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    if as_json:
        output.print_json(
            {"id": record.token_id, "principal": principal_name, "token": secret, "expires_at": until}
        )
        return
    output.out.print(secret, markup=False, highlight=False)
    output.note(f"token {record.token_id} for {principal_name}, expires {until}; it is not shown again")


@token.command("list")
@click.option("--principal", "principal_name", help="Only this principal's tokens.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.pass_context
@handle_errors
def token_list(ctx: click.Context, principal_name: str | None, as_json: bool) -> None:
    """List tokens (ids, never the tokens themselves) with their state."""
    from datetime import UTC, datetime

    with _identities(ctx) as ids:
        found = ids.tokens(principal_name)
    now = datetime.now(UTC)

    def state(t: Any) -> str:
        if t.revoked_at is not None:
            return "revoked"
        if t.expires_at is not None and t.expires_at <= now:
            return "expired"
        return "live"

    rows = [
        {
            "id": t.token_id,
            "principal": t.principal,
            "state": state(t),
            "created_at": t.created_at.isoformat(),
            "expires_at": None if t.expires_at is None else t.expires_at.isoformat(),
            "description": t.description,
        }
        for t in found
    ]
    if as_json:
        output.print_json(rows)
        return
    table = [
        [
            r["id"],
            r["principal"],
            r["state"],
            r["created_at"][:16],
            (r["expires_at"] or "never")[:16],
            r["description"] or "",
        ]
        for r in rows
    ]
    output.print_table(None, ["id", "principal", "state", "created", "expires", "description"], table)
    if not rows:
        output.note("no tokens yet: `daap token create PRINCIPAL`")


@token.command("revoke")
@click.argument("token_id", metavar="ID")
@click.pass_context
@handle_errors
def token_revoke(ctx: click.Context, token_id: str) -> None:
    """Revoke a token by its id: it stops working at once, on every port."""
    with _identities(ctx) as ids:
        record = ids.revoke(token_id)
    output.out.print(f"revoked token {record.token_id} of {record.principal}", markup=False)


@cli.group()
def access() -> None:
    """Who may do what with a product and see what of it, and why; the access log."""


@access.command("explain")
@click.argument("product")
@click.option(
    "--as", "principal_name", required=True, metavar="PRINCIPAL", help="The principal to explain for."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.pass_context
@handle_errors
def access_explain(ctx: click.Context, product: str, principal_name: str, as_json: bool) -> None:
    """What PRINCIPAL may do with PRODUCT, per action (and classification), and which policies decided."""
    from daap.errors import UsageError
    from daap.mesh.policy.access import AccessControl
    from daap.mesh.workspace import SpecCache

    with _identities(ctx) as ids:
        principal = ids.principal(principal_name)
        if principal is None:
            raise UsageError(f"no principal {principal_name!r}", hint="`daap principal list` shows them")
        spec = SpecCache(ids.ws).find(product)
        explained = AccessControl.for_mesh(ids.ws.config).explain(principal, spec)
    if as_json:
        output.print_json(explained)
        return
    team = explained.get("owner_team") or {}
    output.out.print(
        f"{principal_name} on {product} (owner team: {team.get('name') or 'none'}; policies: "
        f"{explained.get('policy_file') or 'built-in only'})",
        markup=False,
    )
    rows = [
        [
            "allow" if d["allowed"] else "deny",
            d["action"] + (f" [{d['classification']}]" if d.get("classification") else ""),
            ", ".join(d["policies"]) or "(no policy permits it)",
            "; ".join(d["errors"]),
        ]
        for d in explained["decisions"]
    ]
    output.print_table(None, ["", "action", "decided by", "errors"], rows)
    for port in explained.get("ports") or []:
        seen = [
            [f"row filter {f['name']}", f["where"], "applies" if f["applies"] else f["why"]]
            for f in port["row_filters"]
        ] + [
            [
                f"mask {m['column']}",
                f"{m['mask']} ({m['classification']})",
                "applies" if m["applies"] else "unmasked",
            ]
            for m in port["masks"]
        ]
        if seen:
            output.print_table(
                f"what {principal_name} sees of {product}.{port['port']}", ["", "rule", ""], seen
            )
    for problem in explained.get("problems") or []:
        output.note(f"  problem: {problem}")


@access.command("log")
@click.option("--product", help="Only this product.")
@click.option("--principal", "principal_name", help="Only this principal.")
@click.option("--action", help="Only this action (read, discover, administer, ...).")
@click.option("--denied", is_flag=True, help="Only refusals.")
@click.option(
    "--limit", type=click.IntRange(1, 100_000), default=50, show_default=True, help="How many, newest first."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.pass_context
@handle_errors
def access_log(
    ctx: click.Context,
    product: str | None,
    principal_name: str | None,
    action: str | None,
    denied: bool,
    limit: int,
    as_json: bool,
) -> None:
    """Every allowed and denied access of authenticated principals, newest first: who, which product and
    port, which action, which policies decided, when, through which protocol (what `daap up` recorded)."""
    with _identities(ctx) as ids:
        entries = ids.ws.metadata.access_log(
            product=product,
            principal=principal_name,
            action=action,
            allowed=False if denied else None,
            limit=limit,
        )
    if as_json:
        output.print_json([e.as_json() for e in entries])
        return
    table = [
        [e.at.isoformat(timespec="seconds"), e.principal, e.product + (f".{e.port}" if e.port else ""),
         e.action, "allow" if e.allowed else "deny", ", ".join(e.policies), e.protocol]
        for e in entries
    ]  # fmt: skip
    output.print_table(None, ["at", "principal", "product", "action", "", "policies", "protocol"], table)
    if not entries:
        output.note("no accesses recorded (they are recorded by `daap up` when it authenticates)")


def _mask_state(mask: dict[str, Any]) -> str:
    return "applies" if mask["applies"] else "unmasked: may read_unmasked"
