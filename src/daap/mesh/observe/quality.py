"""The quality gate of a build, and ``daap check``: each port's ODCS quality rules on its rows.

A build runs the rules on its staged files (exactly the rows it would publish,
in the contract's types) before anything is committed. An ``error`` rule that
fails holds the build back as *quarantined*: its files stay staged for the
owners to inspect (``daap query --quarantined``), consumers keep the last good
version. ``warning`` rules publish and report. Every run (rules and the ports'
profiles) is stored with the build, for the monitors to read as history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daap.errors import DaapError
from daap.mesh.metadata import PortProfile, QualityRun, RuleOutcome
from daap.mesh.workspace import Workspace
from daap.runtime import engine
from daap.runtime.quality import QualityReport, RuleResult, dry_run, run_rules
from daap.spec.model import ProductSpec
from daap.spec.quality import relationship_targets


class QualityGateFailed(DaapError):
    """An ``error`` quality rule failed: the build is quarantined, nothing was published."""

    exit_code = 9


@dataclass(frozen=True)
class Verdict:
    """The rules' results for every port of one product's candidate (or published) rows."""

    reports: tuple[QualityReport, ...]

    @property
    def failed(self) -> list[RuleResult]:
        return [r for rep in self.reports for r in rep.results if not r.passed and r.rule.severity == "error"]

    @property
    def warnings(self) -> list[str]:
        return [
            r.describe()
            for rep in self.reports
            for r in rep.results
            if not r.passed and r.rule.severity != "error"
        ]

    def run(self, run_id: str, product: str, at: datetime, version: int | None, kind: str) -> QualityRun:
        outcomes = tuple(
            RuleOutcome(rep.port, r.rule.name, r.rule.severity, r.passed, result_detail(r))
            for rep in self.reports
            for r in rep.results
        )
        profiles = tuple(
            PortProfile(
                rep.port,
                rep.rows,
                {c: {"nulls": p.nulls, "distinct": p.distinct} for c, p in rep.profile.items()},
            )
            for rep in self.reports
        )
        return QualityRun(run_id, product, at, version, kind, outcomes, profiles)


def result_detail(result: RuleResult) -> dict[str, Any]:
    """What is stored and served for one rule's result."""
    rule = result.rule
    threshold = list(rule.threshold) if isinstance(rule.threshold, tuple) else rule.threshold
    return {
        "column": rule.column,
        "kind": rule.kind,
        "metric": rule.metric,
        "dimension": rule.dimension,
        "unit": rule.unit,
        "operator": rule.operator,
        "threshold": threshold,
        "value": result.value,
        "count": result.count,
        "rows": result.rows,
        "samples": list(result.samples),
        "error": result.error,
        "description": rule.description,
        "message": result.describe(),
    }


def evaluate(
    ws: Workspace, spec: ProductSpec, rows: Mapping[str, engine.Relation], temp_dir: Path | None = None
) -> Verdict:
    """Run each port's rules on its rows (``rows``: port -> relation, in contract types).

    Relationships read the other products' latest published versions.
    """
    con = engine.connect(temp_dir)
    try:
        reports = []
        for port in spec.output_ports:
            if port.name not in rows:
                continue
            view = f"__quality_{port.name}"
            engine.register(con, view, rows[port.name])
            foreign = _foreign(ws, con, port.contract.quality)
            reports.append(run_rules(con, engine.quote(view), port.name, port.contract, foreign))
        return Verdict(tuple(reports))
    finally:
        con.close()


def _foreign(ws: Workspace, con: Any, rules: Sequence[Any]) -> dict[str, str]:
    """``product.port`` -> a relation the engine reads, for each relationship's target."""
    targets = {r.references.rsplit(".", 1)[0] for r in rules if r.kind == "relationship" and r.references}
    found = {}
    for target in sorted(targets):
        product, port = target.split(".", 1)
        data = ws.port_data(product, port)
        name = f"__ref_{product}_{port}"
        engine.register(con, name, data.relation)
        found[target] = engine.quote(name)
    return found


def check(ws: Workspace, spec: ProductSpec) -> tuple[int, Verdict]:
    """Run the rules on the product's latest published version (``daap check``), without building.

    Returns:
        the version checked and the verdict.
    """
    latest = ws.version(spec.name)
    relations = {p: ws.relation(state) for p, state in latest.ports.items()}
    return latest.version, evaluate(ws, spec, relations)


def rule_problems(spec: ProductSpec, products: Mapping[str, ProductSpec]) -> list[str]:
    """What ``daap validate`` says about ``spec``'s quality rules, knowing the mesh's ``products``:
    relationships to missing products, ports or columns, and sql rules that fail on an empty port."""
    problems = []
    for port in spec.output_ports:
        foreign = {}
        name = port.contract.path.name
        for rule, product, target_port, column in relationship_targets(port.contract):
            target = products.get(product)
            other = next((p for p in target.output_ports if p.name == target_port), None) if target else None
            if target is None:
                known = ", ".join(sorted(products)) or "none"
                problems.append(
                    f"{name}: quality rule {rule.name!r}: relationship to {rule.references}: "
                    f"no product {product!r} in the workspace (products: {known})"
                )
            elif other is None:
                ports = ", ".join(p.name for p in target.output_ports)
                problems.append(
                    f"{name}: quality rule {rule.name!r}: relationship to {rule.references}: "
                    f"{product} has no output port {target_port!r} (ports: {ports})"
                )
            elif other.contract.column(column) is None:
                columns = ", ".join(c.name for c in other.contract.columns)
                problems.append(
                    f"{name}: quality rule {rule.name!r}: relationship to {rule.references}: "
                    f"{product}.{target_port} has no column {column!r} (columns: {columns})"
                )
            else:
                foreign[f"{product}.{target_port}"] = other.contract
        problems += dry_run(port.contract, port.name, foreign)
    return problems


def gate_message(product: str, failed: Sequence[RuleResult]) -> str:
    lines = "\n".join(f"  - {r.describe()}" for r in failed)
    count = f"{len(failed)} error rule{'' if len(failed) == 1 else 's'}"
    return f"quarantined, {count} failed; consumers keep the last published version:\n{lines}"


def now() -> datetime:
    return datetime.now(UTC)


__all__ = [
    "QualityGateFailed",
    "Verdict",
    "check",
    "evaluate",
    "gate_message",
    "result_detail",
    "rule_problems",
]
