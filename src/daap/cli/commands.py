"""The product commands: init, validate, build, query, snapshots."""

from __future__ import annotations

import contextlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from daap.cli import output
from daap.cli.main import cli, handle_errors
from daap.errors import QueryError, SpecError, UsageError

# The library is imported inside each command, so `daap --help` and every
# command start without loading what they do not use.
if TYPE_CHECKING:
    from daap.mesh.builder import BuildOutcome
    from daap.mesh.workspace import At, Workspace
    from daap.query.engine import AtSpec
    from daap.spec.model import RetentionPolicy

PRODUCT_TYPES = ("raw", "derived", "algorithm", "hybrid", "composite")


def _workspace(ctx: click.Context) -> Workspace:
    from daap.mesh.workspace import Workspace

    return Workspace.open(ctx.obj)


@cli.command()
@click.argument("name")
@click.option("--type", "product_type", type=click.Choice(PRODUCT_TYPES), default="raw", show_default=True)
@click.option("--domain", default=None, help="Business domain the product belongs to.")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Folder to create the product folder in (default: the current folder).",
)
@handle_errors
def init(name: str, product_type: str, domain: str | None, parent: Path) -> None:
    """Create a product folder NAME that builds as it stands."""
    from daap.spec import load_product
    from daap.spec.scaffold import scaffold

    folder = parent / name
    if folder.exists() and any(folder.iterdir()):
        raise UsageError(f"{folder} already exists and is not empty", hint="choose another NAME or --dir")
    files = scaffold(name, product_type, domain)
    for relative, content in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    load_product(folder)  # what we write must validate
    output.out.print(f"created {product_type} product {name} in {folder}/")
    for relative in sorted(files):
        output.out.print(f"  {relative}")
    output.out.print(f"next: daap build {folder} && daap query 'SELECT * FROM {name}.{name} LIMIT 5'")


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.pass_context
@handle_errors
def validate(ctx: click.Context, paths: tuple[Path, ...], as_json: bool) -> None:
    """Check product folders (default: all in the workspace) without building.

    Beyond each folder's own files: quality rules' relationships must name products, ports and
    columns of the workspace, sql rules must run on an empty port, access.cedar must be
    valid Cedar for daap's entities and actions, and access.yaml's row filters and masks must fit
    the product's ports and columns.
    """
    from daap.mesh.observe.quality import rule_problems
    from daap.mesh.policy.cedar import product_policy_problems
    from daap.mesh.policy.restrict import access_file_problems
    from daap.spec import load_product
    from daap.spec.access import ACCESS_FILE, access_path

    ws = _workspace(ctx)
    everything = ws.product_folders()
    masks = ws.config.masks
    folders = list(paths) or everything
    known = {}
    for folder in everything:
        with contextlib.suppress(SpecError):
            spec = load_product(folder)
            known[spec.name] = spec
    results: list[dict[str, Any]] = []
    for folder in folders:
        try:
            spec = load_product(folder)
            problems = rule_problems(spec, {**known, spec.name: spec})
            problems += [str(d) for d in product_policy_problems(folder)]
            shown = f"{folder.name}/{ACCESS_FILE}"
            problems += [str(d) for d in access_file_problems(spec, access_path(folder), shown, masks)]
            results.append(
                {"folder": str(folder), "product": spec.name, "ok": not problems, "problems": problems}
            )
        except SpecError as exc:
            problems = [str(d) for d in exc.diagnostics]
            results.append({"folder": str(folder), "product": None, "ok": False, "problems": problems})
    if as_json:
        output.print_json(results)
    else:
        for result in results:
            if result["ok"]:
                output.out.print(f"ok    {result['product']} ({result['folder']})")
            else:
                output.out.print(f"FAIL  {result['folder']}", markup=False)
                for problem in result["problems"]:
                    output.out.print(f"      {problem}", markup=False)
    if not folders:
        output.note("no product folders found (a product folder holds dataproduct.yaml)")
    sys.exit(0 if all(r["ok"] for r in results) else SpecError.exit_code)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.option(
    "--defer-events",
    is_flag=True,
    help="Publish the versions but leave their change events queued; `daap events publish` sends them.",
)
@click.pass_context
@handle_errors
def build(ctx: click.Context, paths: tuple[Path, ...], as_json: bool, defer_events: bool) -> None:
    """Build products (default: all in the workspace) in dependency order."""
    from daap.mesh.builder import build_mesh

    ws = _workspace(ctx)
    try:
        with output.progress(not as_json) as report:
            outcomes = build_mesh(ws, list(paths) or None, report, send_events=not defer_events)
    finally:
        ws.close()
    if as_json:
        output.print_json([_outcome_json(o) for o in outcomes])
    else:
        output.print_outcomes(outcomes)
    failed = [o for o in outcomes if o.status in ("failed", "skipped", "quarantined")]
    if failed:
        codes = {o.error.exit_code for o in failed if o.error is not None}
        sys.exit(codes.pop() if len(codes) == 1 else 1)


def _outcome_json(o: BuildOutcome) -> dict[str, Any]:
    return {
        "product": o.product,
        "folder": str(o.folder),
        "status": o.status,
        "version": o.version,
        "build_id": o.build_id,
        "rows": o.rows,
        "seconds": o.seconds,
        "message": o.message,
        "warnings": list(o.warnings),
    }


@cli.command()
@click.argument("sql")
@click.option(
    "--at",
    "at_values",
    multiple=True,
    metavar="VERSION|TIMESTAMP|PRODUCT=…",
    help="Read versions as of a version number or timestamp, for all products or one.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(output.FORMATS),
    default="table",
    show_default=True,
    help="table for people; csv, json (an array) or parquet (needs -o) for tools.",
)
@click.option(
    "-o",
    "--output",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the result to FILE instead of standard output.",
)
@click.option(
    "--quarantined",
    is_flag=True,
    help="Read each product's quarantined build (the rows its quality rules held back) where it has one.",
)
@click.option(
    "--as",
    "principal_name",
    metavar="PRINCIPAL",
    help="Run as PRINCIPAL under the products' policies, row filters and masks: exactly what it gets "
    "from every port of `daap up`.",
)
@click.pass_context
@handle_errors
def query(
    ctx: click.Context,
    sql: str,
    at_values: tuple[str, ...],
    fmt: str,
    out_path: Path | None,
    quarantined: bool,
    principal_name: str | None,
) -> None:
    """Run a read-only SQL query; each output port is the table <product>.<port>."""
    from daap.query.service import Caller, NoMetrics, QueryRequest, QueryService

    if fmt == "parquet" and out_path is None:
        raise QueryError("--format parquet writes a file: add -o FILE")
    if quarantined and at_values:
        raise QueryError("--quarantined reads the held build; it takes no --at")
    ws = _workspace(ctx)
    try:
        service = QueryService(ws, cache_bytes=0, metrics=NoMetrics())
        caller = Caller()
        if principal_name is not None:
            from daap.mesh.policy.authn import Authenticator
            from daap.mesh.policy.identity import Identities

            service.enforce_policies()
            caller = Authenticator(Identities(ws), required=True).principal_caller(principal_name)
        request = QueryRequest(
            sql, at=parse_at(at_values), caller=caller, protocol="cli", quarantined=quarantined
        )
        result = service.execute(request)
        try:
            rows = output.write_arrow(result.reader, fmt, sys.stdout.buffer, out_path)
        finally:
            result.close()
    finally:
        ws.close()
    if out_path is not None:
        output.note(f"wrote {rows:,} rows to {out_path}")


def parse_at(values: tuple[str, ...]) -> AtSpec:
    """``3`` / ``2026-11-24T10:00`` for every product, or ``titles=3`` for one."""
    per_product: dict[str, At] = {}
    common: At = None
    for value in values:
        name, sep, rest = value.partition("=")
        if sep:
            per_product[name.strip()] = _parse_point(rest.strip())
        else:
            common = _parse_point(value.strip())
    if per_product and common is not None:
        raise QueryError("--at: give one version/time for all products, or PRODUCT=… pairs, not both")
    return per_product or common


def _parse_point(text: str) -> At:
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(
            f"--at {text!r} is neither a version number nor an ISO timestamp",
            hint="e.g. --at 3, --at 2026-11-24T10:00:00Z, --at titles=2",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@cli.command()
@click.argument("product")
@click.option("--all", "show_all", is_flag=True, help="Include expired versions.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.pass_context
@handle_errors
def snapshots(ctx: click.Context, product: str, show_all: bool, as_json: bool) -> None:
    """List the published versions of PRODUCT."""
    ws = _workspace(ctx)
    try:
        ws.version(product)  # NotFound names the known products
        versions = ws.metadata.list_versions(product, include_expired=show_all)
    finally:
        ws.close()
    records: list[dict[str, Any]] = [
        {
            "version": v.version,
            "published_at": v.published_at,
            "build_id": v.build_id,
            "rows": {port: s.row_count for port, s in v.ports.items()},
            "snapshots": {port: list(s.snapshot_ids) for port, s in v.ports.items()},
            "inputs": dict(v.inputs),
            "expired": v.expired,
        }
        for v in versions
    ]
    if as_json:
        output.print_json(records)
        return
    rows = [
        [
            f"{r['version']} (expired)" if r["expired"] else r["version"],
            r["published_at"].isoformat(timespec="seconds"),
            r["build_id"],
            ", ".join(f"{p}={n:,}" for p, n in r["rows"].items()),
            ", ".join(f"{k}@{v}" for k, v in r["inputs"].items()) or "-",
        ]
        for r in records
    ]
    title = f"{product}: {len(rows)} version{'s' if len(rows) != 1 else ''}"
    output.print_table(title, ["version", "published", "build", "rows", "inputs"], rows)


@cli.command()
@click.argument("product")
@click.option("--keep", type=click.IntRange(min=1), help="Keep the newest N versions.")
@click.option(
    "--older-than",
    "older_than",
    type=click.FloatRange(min=0, min_open=True),
    metavar="DAYS",
    help="Expire only versions older than DAYS.",
)
@click.option("--dry-run", is_flag=True, help="Show what would expire, change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.pass_context
@handle_errors
def expire(
    ctx: click.Context, product: str, keep: int | None, older_than: float | None, dry_run: bool, as_json: bool
) -> None:
    """Expire old versions of PRODUCT (default: its descriptor's retention policy).

    The latest version and versions another product pins are always kept.
    Expired versions are no longer readable; their files are deleted.
    """
    from daap.mesh import retention

    ws = _workspace(ctx)
    try:
        ws.version(product)
        policy = _policy(ws, product, keep, older_than)
        expired = retention.expire(ws, product, policy, datetime.now(UTC), dry_run=dry_run)
    finally:
        ws.close()
    if as_json:
        output.print_json({"product": product, "expired": expired, "dry_run": dry_run})
        return
    verb = "would expire" if dry_run else "expired"
    listed = ", ".join(map(str, expired)) if expired else "nothing"
    output.out.print(f"{product}: {verb} {'version(s) ' if expired else ''}{listed}")


def _policy(ws: Workspace, product: str, keep: int | None, older_than: float | None) -> RetentionPolicy:
    from daap.spec import load_product
    from daap.spec.model import RetentionPolicy

    if keep is not None or older_than is not None:
        return RetentionPolicy(keep_versions=keep, max_age_days=older_than)
    for folder in ws.product_folders():
        spec = load_product(folder)
        if spec.name == product and spec.retention is not None:
            return spec.retention
    raise UsageError(
        f"{product} declares no retention policy and none was given",
        hint="pass --keep N and/or --older-than DAYS, or add a `retention` custom property",
    )
