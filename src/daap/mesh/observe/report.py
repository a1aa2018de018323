"""The observation port's answer for one product, and the mesh's health in one table.

:func:`observation` is what ``GET /api/products/{product}/observation`` serves
and ``daap check --json`` prints: the latest quality results per port, the
history of runs, the quarantined build if any, the monitors, the SLOs and the
governance report of the latest version checked.
:func:`health` is one row per product for ``daap status``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from daap.errors import DaapError
from daap.mesh.metadata import BuildRecord, ProductVersion, QualityRun
from daap.mesh.observe import monitors, slo
from daap.mesh.registry import odcs
from daap.mesh.registry.service import Schema
from daap.mesh.workspace import SpecCache, Workspace
from daap.spec.model import ProductSpec

HISTORY = 20


def run_json(run: QualityRun) -> dict[str, Any]:
    ports: dict[str, dict[str, Any]] = {}
    for profile in run.profiles:
        ports.setdefault(profile.port, {"rules": []})["rows"] = profile.rows
        ports[profile.port]["profile"] = dict(profile.columns)
    for outcome in run.outcomes:
        entry = ports.setdefault(outcome.port, {"rules": []})
        entry["rules"].append(
            {"rule": outcome.rule, "severity": outcome.severity, "passed": outcome.passed, **outcome.detail}
        )
    return {
        "run_id": run.run_id,
        "kind": run.kind,
        "checked_at": run.checked_at.isoformat(),
        "version": run.version,
        "passed": run.passed,
        "failed": [f"{o.port}.{o.rule}" for o in run.outcomes if not o.passed],
        "ports": ports,
    }


@dataclass(frozen=True)
class History:
    """What the metadata store recorded of one product, read once for every monitor and SLO."""

    runs: list[QualityRun]  # newest first
    versions: list[ProductVersion]  # oldest first
    builds: list[BuildRecord]  # newest first

    @classmethod
    def read(cls, ws: Workspace, product: str, runs: int = 100) -> History:
        metadata = ws.metadata
        return cls(
            metadata.quality_runs(product, limit=runs),
            metadata.list_versions(product),
            metadata.builds(product, limit=500),
        )

    def objectives(self, spec: ProductSpec, now: datetime) -> list[slo.Slo]:
        return slo.objectives(spec, self.runs, self.versions, [b.started_at for b in self.builds], now)


def findings(ws: Workspace, spec: ProductSpec, history: History, now: datetime) -> list[monitors.Finding]:
    """Every monitor's findings for the product."""
    versions, builds, runs = history.versions, history.builds, history.runs
    latest = versions[-1] if versions else None
    good = [b.finished_at or b.started_at for b in builds if b.state in ("published", "unchanged")]
    found = monitors.freshness(spec, latest, now) + monitors.frequency(spec, good, now)
    recent = versions[-(monitors.WINDOW + 1) :]
    for port in spec.output_ports:
        rows = [v.ports[port.name].row_count for v in recent if port.name in v.ports]
        found.append(monitors.volume(port.name, rows))
        changes = [_changes(ws, spec.name, v.version, port.name) for v in recent]
        counted = [c for c in changes if c is not None]
        if counted:
            found.append(monitors.volume(port.name, counted, "changes", "changes"))
        found += monitors.schema_changes(port.name, _schema_history(ws, spec.name, port.name))
    published = [r for r in runs if r.kind == "build" and r.version is not None]
    # per column, only what stands out: an ok or not-yet-judged column is not news
    found += [f for f in monitors.drift(published[: monitors.WINDOW + 1]) if f.status in ("warn", "fail")]
    return found


def _changes(ws: Workspace, product: str, version: int, port: str) -> int | None:
    entry = ws.metadata.get_publication(product, version)
    if entry is None or entry.state != "done" or port not in entry.progress:
        return None
    counts = entry.progress[port]
    return int(counts.get("inserted", 0)) + int(counts.get("updated", 0)) + int(counts.get("deleted", 0))


def _schema_history(ws: Workspace, product: str, port: str) -> list[tuple[int, int, str]]:
    """Each registered change of the port's row schema, classified."""
    subject = odcs.value_subject(product, port)
    registry = ws.registry
    try:
        numbers = registry.versions(subject)
    except DaapError:
        return []
    found = []
    for old, new in itertools.pairwise(numbers):
        newer = registry.version(subject, new)
        schema = Schema(newer["schema"], newer.get("schemaType", "AVRO"))

        def holds(level: str, old: int = old, schema: Schema = schema) -> bool:
            return bool(registry.check(subject, schema, old, level=level)["is_compatible"])

        reads_old, old_reads = holds("BACKWARD"), holds("FORWARD")
        label = (
            "compatible (full)"
            if reads_old and old_reads
            else "compatible (backward)"
            if reads_old
            else ("compatible (forward)" if old_reads else "breaking")
        )
        found.append((old, new, label))
    return found


def observation(
    ws: Workspace,
    product: str,
    history: int = HISTORY,
    now: datetime | None = None,
    spec: ProductSpec | None = None,
) -> dict[str, Any]:
    """Everything the observation port says about ``product`` (``spec``: its loaded descriptor).

    Raises:
        NotFound: no such product in the workspace.
    """
    spec = spec or SpecCache(ws).find(product)
    now = now or datetime.now(UTC)
    past = History.read(ws, product, runs=max(history, 100))
    runs = past.runs
    held = ws.metadata.quarantined(product)
    latest_version = past.versions[-1] if past.versions else None
    return {
        "product": product,
        "checked_at": now.isoformat(),
        "version": None if latest_version is None else latest_version.version,
        "published_at": None if latest_version is None else latest_version.published_at.isoformat(),
        "latest": run_json(runs[0]) if runs else None,
        "quarantined": None
        if held is None
        else {
            "build_id": held.build_id,
            "quarantined_at": held.quarantined_at.isoformat(),
            "reasons": list(held.reasons),
            "rows": {p: info.get("rows") for p, info in held.ports.items()},
        },
        "monitors": [f.as_json() for f in findings(ws, spec, past, now)],
        "slos": [o.as_json() for o in past.objectives(spec, now)],
        "governance": governance_json(ws, product),
        "last_build": past.builds[0].state if past.builds else None,
        "last_build_id": past.builds[0].build_id if past.builds else None,
        "history": [
            {
                "run_id": r.run_id,
                "kind": r.kind,
                "checked_at": r.checked_at.isoformat(),
                "version": r.version,
                "passed": r.passed,
                "failed": [f"{o.port}.{o.rule}" for o in r.outcomes if not o.passed],
                "rows": {p.port: p.rows for p in r.profiles},
            }
            for r in runs[:history]
        ],
    }


def governance_json(ws: Workspace, product: str) -> dict[str, Any] | None:
    """The governance report stored with the product's newest version reported, or None."""
    record = ws.metadata.governance_report(product)
    if record is None:
        return None
    report = record.report
    return {
        "version": record.version,
        "checked_at": record.checked_at.isoformat(),
        "errors": record.errors,
        "warnings": record.warnings,
        "sampled": report.get("sampled"),
        "rules": [
            {"rule": r.get("rule"), "severity": r.get("severity"), "passed": r.get("passed")}
            for r in report.get("rules", [])
        ],
        "findings": list(report.get("findings", [])),
    }


@dataclass(frozen=True)
class Health:
    product: str
    version: int | None
    published_at: datetime | None
    last_build: str | None  # the latest build's state
    quality: str  # passed, failed (warnings), quarantined, no rules run
    slo: str  # worst SLO status
    monitors: str  # worst monitor status, with a count
    status: str  # healthy, degraded, failing

    def as_json(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "version": self.version,
            "published_at": None if self.published_at is None else self.published_at.isoformat(),
            "last_build": self.last_build,
            "quality": self.quality,
            "slo": self.slo,
            "monitors": self.monitors,
            "status": self.status,
        }


_SLO_ORDER = ("breached", "at_risk", "met", "no_data")


def health(ws: Workspace, specs: Sequence[ProductSpec], now: datetime | None = None) -> list[Health]:
    """One row per product: its version, last build, quality, SLOs and monitors, and a verdict."""
    now = now or datetime.now(UTC)
    rows = []
    for spec in specs:
        seen = observation(ws, spec.name, history=1, now=now, spec=spec)
        latest = seen["latest"]
        if seen["quarantined"] is not None and seen["last_build_id"] == seen["quarantined"]["build_id"]:
            quality_state = "quarantined"
        elif latest is None:
            quality_state = "no runs"
        elif latest["failed"]:
            quality_state = f"{len(latest['failed'])} rule(s) failed"
        else:
            quality_state = "passed"
        statuses = [s["status"] for s in seen["slos"]]
        worst_slo = next((s for s in _SLO_ORDER if s in statuses), "no_data")
        bad = [m for m in seen["monitors"] if m["status"] in ("fail", "warn")]
        failing = [m for m in bad if m["status"] == "fail"]
        monitor_state = (
            f"{len(failing)} failing"
            if failing
            else f"{len(bad)} anomal{'y' if len(bad) == 1 else 'ies'}"
            if bad
            else "ok"
        )
        last_state: str | None = seen["last_build"]
        if quality_state == "quarantined" and seen["quarantined"] is not None:
            last_state = "quarantined"
        verdict = "healthy"
        if bad or worst_slo == "at_risk" or quality_state not in ("passed", "no runs"):
            verdict = "degraded"
        if failing or worst_slo == "breached" or last_state == "failed" or seen["version"] is None:
            verdict = "failing"
        published = seen["published_at"]
        rows.append(
            Health(
                spec.name,
                seen["version"],
                None if published is None else datetime.fromisoformat(published),
                last_state,
                quality_state,
                worst_slo,
                monitor_state,
                verdict,
            )
        )
    return rows


class QualityFamilies:
    """Prometheus families of the observation plane (a ``FamilySource`` of ``/metrics``): each
    product's latest rule results, whether it is quarantined, and its SLOs."""

    def __init__(self, ws: Workspace) -> None:
        self.specs = SpecCache(ws)

    def __call__(self, ws: Workspace) -> Iterable[Any]:
        from daap.mesh.observe.metrics import GaugeMetricFamily

        rule_labels = ["product", "port", "rule", "severity", "dimension"]
        passed = GaugeMetricFamily(
            "daap_quality_rule_passed", "1 if the rule passed in the latest run", labels=rule_labels
        )
        value = GaugeMetricFamily(
            "daap_quality_rule_value", "The rule's measured value (its unit)", labels=rule_labels
        )
        held = GaugeMetricFamily(
            "daap_quarantined", "1 while a build of the product is quarantined", labels=["product"]
        )
        slo_labels = ["product", "port", "objective"]
        rate = GaugeMetricFamily(
            "daap_slo_pass_ratio", "Share of the window's observations that passed", labels=slo_labels
        )
        budget = GaugeMetricFamily(
            "daap_slo_error_budget_remaining_ratio", "Share of the error budget left", labels=slo_labels
        )
        state = GaugeMetricFamily(
            "daap_slo_status",
            "1 for the objective's status (met, at_risk, breached, no_data)",
            labels=[*slo_labels, "status"],
        )
        now = datetime.now(UTC)
        for folder in ws.product_folders():
            try:
                spec = self.specs.load(folder)
            except DaapError:
                continue
            past = History.read(ws, spec.name)
            if past.runs:
                for o in past.runs[0].outcomes:
                    labels = [spec.name, o.port, o.rule, o.severity, str(o.detail.get("dimension") or "")]
                    passed.add_metric(labels, 1.0 if o.passed else 0.0)
                    if isinstance(o.detail.get("value"), int | float):
                        value.add_metric(labels, float(o.detail["value"]))
            held.add_metric([spec.name], 0.0 if ws.metadata.quarantined(spec.name) is None else 1.0)
            for objective in past.objectives(spec, now):
                labels = [spec.name, objective.port, objective.objective]
                if objective.pass_rate is not None:
                    rate.add_metric(labels, objective.pass_rate / 100.0)
                left = objective.budget_left
                if left is not None and left != float("-inf"):
                    budget.add_metric(labels, left)
                for status in ("met", "at_risk", "breached", "no_data"):
                    state.add_metric([*labels, status], 1.0 if objective.status == status else 0.0)
        return [passed, value, held, rate, budget, state]


__all__ = [
    "Health",
    "History",
    "QualityFamilies",
    "findings",
    "governance_json",
    "health",
    "observation",
    "run_json",
]
