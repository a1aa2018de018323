"""``daap check`` (quality rules on a product's current version) and ``daap status`` (the mesh's health)."""

from __future__ import annotations

import sys
from typing import Any

import click

from daap.cli import output
from daap.cli.main import cli, handle_errors


@cli.command()
@click.argument("product")
@click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable result: the observation port's answer."
)
@click.pass_context
@handle_errors
def check(ctx: click.Context, product: str, as_json: bool) -> None:
    """Run PRODUCT's quality rules on its current version, without building (exit 9 if an error rule fails).

    Also shows the monitors, the SLOs and the quarantined build, if any.
    """
    from daap.mesh.metadata import check_run_id
    from daap.mesh.observe import quality, report
    from daap.mesh.workspace import SpecCache, Workspace

    ws = Workspace.open(ctx.find_root().obj)
    try:
        spec = SpecCache(ws).find(product)
        version, verdict = quality.check(ws, spec)
        ws.metadata.record_quality_run(verdict.run(check_run_id(), product, quality.now(), version, "check"))
        seen = report.observation(ws, product)
    finally:
        ws.close()
    if as_json:
        output.print_json(seen)
    else:
        _print_observation(seen)
    if verdict.failed:
        sys.exit(quality.QualityGateFailed.exit_code)


def _print_observation(seen: dict[str, Any]) -> None:
    latest = seen["latest"]
    head = f"{seen['product']} version {seen['version']}" if seen["version"] is not None else seen["product"]
    output.out.print(head, markup=False)
    rows = []
    for port, info in (latest or {}).get("ports", {}).items():
        for rule in info["rules"]:
            mark = "pass" if rule["passed"] else ("FAIL" if rule["severity"] == "error" else "warn")
            rows.append(
                [mark, port, rule["rule"], rule["severity"], rule.get("dimension") or "", rule["message"]]
            )
    if rows:
        output.print_table(None, ["", "port", "rule", "severity", "dimension", "result"], rows)
    else:
        output.note("no quality rules in the contracts")
    held = seen["quarantined"]
    if held is not None:
        output.out.print(
            f"quarantined build {held['build_id']} ({held['quarantined_at']}): consumers keep version "
            f"{seen['version']}; `daap query --quarantined` reads its rows",
            markup=False,
        )
        for reason in held["reasons"]:
            output.out.print(f"  - {reason}", markup=False)
    monitors = [m for m in seen["monitors"] if m["status"] in ("warn", "fail")]
    if not monitors:
        output.note("monitors: nothing stands out (`--json` shows each one)")
    else:
        table = [
            [m["status"], m["monitor"], m["port"] or "", m["column"] or "", m["message"]] for m in monitors
        ]
        output.print_table("monitors", ["status", "monitor", "port", "column", ""], table)
    slos = [
        [
            s["status"],
            s["port"],
            s["objective"],
            f"{s['target_percent']:g}%",
            "" if s["pass_rate_percent"] is None else f"{s['pass_rate_percent']:g}%",
            f"{s['observations']}",
            _budget(s["error_budget"]["remaining_fraction"]),
        ]
        for s in seen["slos"]
    ]
    if slos:
        output.print_table(
            "SLOs", ["status", "port", "objective", "target", "pass rate", "observed", "budget left"], slos
        )


def _budget(left: float | None) -> str:
    return "" if left is None else f"{max(left, 0) * 100:.0f}%"


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.pass_context
@handle_errors
def status(ctx: click.Context, as_json: bool) -> None:
    """The health of every product of the mesh in one table: version, last build, quality, SLOs, monitors."""
    from daap.errors import DaapError
    from daap.mesh.observe import report
    from daap.mesh.workspace import Workspace

    ws = Workspace.open(ctx.find_root().obj)
    try:
        specs = []
        broken = []
        for folder in ws.product_folders():
            try:
                specs.append(ws.load(folder))
            except DaapError:
                broken.append(folder.name)
        rows = report.health(ws, specs)
    finally:
        ws.close()
    if as_json:
        output.print_json([r.as_json() for r in rows])
        return
    table = [
        [
            r.status,
            r.product,
            "" if r.version is None else str(r.version),
            "" if r.published_at is None else r.published_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.last_build or "",
            r.quality,
            r.slo,
            r.monitors,
        ]
        for r in rows
    ]
    output.print_table(
        None,
        ["status", "product", "version", "published (UTC)", "last build", "quality", "SLOs", "monitors"],
        table,
    )
    for name in broken:
        output.note(f"{name}: its descriptor does not load; `daap validate` says why")
    if not rows and not broken:
        output.note("no product folders found (a product folder holds dataproduct.yaml)")
