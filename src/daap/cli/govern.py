"""``daap govern check``: every product against the mesh's global governance rules."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from daap.cli import output
from daap.cli.main import cli, handle_errors
from daap.errors import GovernanceRefused, SpecError


@cli.group()
def govern() -> None:
    """Federated computational governance: the mesh's global rules, checked on every product."""


@govern.command("check")
@click.argument("path", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result: one report per product.")
@click.pass_context
@handle_errors
def govern_check(ctx: click.Context, path: Path | None, as_json: bool) -> None:
    """Check products against the governance rules (exit 11 if an error rule fails).

    PATH is a workspace (default: the current one) or one product folder. Values are sampled
    from each product's latest published version; a product not published yet is checked by its
    column names only. Severities come from `governance:` in mesh.yaml.
    """
    from daap.mesh.policy import governance
    from daap.mesh.workspace import Workspace, find_root
    from daap.spec.product import DESCRIPTOR

    product_folder = path is not None and (path / DESCRIPTOR).is_file()
    root = ctx.find_root().obj  # -w, else the workspace of the current folder
    if path is not None:
        # a workspace as PATH is the one checked; a product folder's is -w or the one it is in
        root = (root or find_root(path)) if product_folder else path
    ws = Workspace.open(root)
    results: list[dict[str, Any]] = []
    try:
        folders = [path] if path is not None and product_folder else ws.product_folders()
        for folder in folders:
            try:
                spec = ws.load(folder)
            except SpecError as exc:
                problems = [str(d) for d in exc.diagnostics]
                results.append({"folder": str(folder), "product": None, "problems": problems})
                continue
            rows, sampled = governance.latest_rows(ws, spec)
            report = governance.govern(ws, spec, rows, sampled)
            results.append({"folder": str(folder), **report.as_json()})
    finally:
        ws.close()
    if as_json:
        output.print_json(results)
    else:
        _print(results)
    if any(r.get("errors") for r in results):
        sys.exit(GovernanceRefused.exit_code)
    if any(r["product"] is None for r in results):
        sys.exit(SpecError.exit_code)


def _print(results: list[dict[str, Any]]) -> None:
    for result in results:
        if result["product"] is None:
            output.error(f"{result['folder']}: the descriptor does not load (`daap validate` says why):")
            for problem in result["problems"]:
                output.out.print(f"      {problem}", markup=False)
            continue
        _print_report(result)
    if not results:
        output.note("no product folders found (a product folder holds dataproduct.yaml)")
        return
    reports = [r for r in results if r["product"] is not None]
    errors = sum(r["errors"] for r in reports)
    warnings = sum(r["warnings"] for r in reports)
    output.out.print(
        f"{len(reports)} product{'' if len(reports) == 1 else 's'} checked: "
        f"{errors} error{'' if errors == 1 else 's'}, {warnings} warning{'' if warnings == 1 else 's'}",
        markup=False,
    )


def _print_report(report: dict[str, Any]) -> None:
    sampled = (
        f"values sampled from {report['sampled']}"
        if report["sampled"]
        else "not published yet: checked by column names only, no values sampled"
    )
    rows = []
    for rule in report["rules"]:
        if rule["passed"] is None:
            mark = "off"
        elif rule["passed"]:
            mark = "pass"
        else:
            mark = "FAIL" if rule["severity"] == "error" else "warn"
        found = len(rule["findings"])
        count = f"{found} finding{'' if found == 1 else 's'}" if found else ""
        rows.append([mark, rule["rule"], rule["severity"], count])
    output.print_table(f"{report['product']} ({sampled})", ["", "rule", "severity", "findings"], rows)
    for finding in report["findings"]:
        where = ".".join(p for p in (finding["port"], finding["column"]) if p)
        head = f"  {finding['severity']}: {finding['rule']}" + (f" ({where})" if where else "")
        output.out.print(f"{head}: {finding['message']}", markup=False)
        output.out.print(f"      fix: {finding['fix']}", markup=False)
    output.out.print(
        f"  {report['product']}: {report['errors']} error(s), {report['warnings']} warning(s)\n",
        markup=False,
    )
