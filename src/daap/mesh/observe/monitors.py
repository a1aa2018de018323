"""Monitors over a product's history: freshness, volume, column drift and schema changes.

Each monitor compares the latest observation with what the contract promises
(freshness, from ODCS ``slaProperties``) or with the trailing builds (volume,
null rates, distinct counts), and answers a :class:`Finding` with a status:
``ok``, ``warn`` (an anomaly) or ``fail`` (a promise broken). They only read
what builds recorded, so asking costs a few metadata queries.

Anomalies use the trailing window (up to :data:`WINDOW` earlier values, at
least :data:`MIN_HISTORY`): a value is anomalous when it is further from the
window's mean than ``3 × stddev`` plus a tolerance (10% of the mean for
volumes, 5 points for null rates), so a perfectly steady history does not turn
every small change into an alert.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from daap.mesh.metadata import ProductVersion, QualityRun
from daap.spec.model import ContractSpec, ProductSpec

Status = Literal["ok", "warn", "fail", "unknown"]

WINDOW = 10
MIN_HISTORY = 3


@dataclass(frozen=True)
class Finding:
    monitor: str  # freshness, frequency, volume, changes, null_rate, distinct, schema
    status: Status
    message: str
    port: str | None = None
    column: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "status": self.status,
            "port": self.port,
            "column": self.column,
            "message": self.message,
            **self.detail,
        }


def sla(contract: ContractSpec, name: str) -> timedelta | None:
    """The contract's ``slaProperties`` entry ``name`` (``latency``, ``frequency``) as a duration."""
    return contract.sla.get(name)


def freshness(spec: ProductSpec, latest: ProductVersion | None, now: datetime) -> list[Finding]:
    """Age of the latest version against each port's ``latency`` SLA."""
    found = []
    for port in spec.output_ports:
        limit = sla(port.contract, "latency")
        if limit is None:
            continue
        if latest is None:
            found.append(Finding("freshness", "fail", "no version is published yet", port.name))
            continue
        age = now - latest.published_at
        ok = age <= limit
        message = (
            f"latest version {latest.version} is {_human(age)} old"
            f"{'' if ok else ','} {'within' if ok else 'beyond'} the {_human(limit)} latency SLA"
        )
        detail = {"age_seconds": round(age.total_seconds(), 3), "limit_seconds": limit.total_seconds()}
        found.append(Finding("freshness", "ok" if ok else "fail", message, port.name, detail=detail))
    return found


def frequency(spec: ProductSpec, builds: Sequence[datetime], now: datetime) -> list[Finding]:
    """Time since the last successful build (published or unchanged) against ``frequency``."""
    found = []
    for port in spec.output_ports:
        limit = sla(port.contract, "frequency")
        if limit is None:
            continue
        last = max(builds, default=None)
        if last is None:
            found.append(Finding("frequency", "fail", "no successful build yet", port.name))
            continue
        gap = now - last
        ok = gap <= limit
        message = f"last successful build {_human(gap)} ago (expected every {_human(limit)})"
        detail = {"since_seconds": round(gap.total_seconds(), 3), "limit_seconds": limit.total_seconds()}
        found.append(Finding("frequency", "ok" if ok else "fail", message, port.name, detail=detail))
    return found


def anomaly(values: Sequence[float], latest: float, tolerance: float) -> tuple[bool, float, float] | None:
    """Whether ``latest`` falls outside the trailing ``values``' band; None without enough history.

    Returns:
        (anomalous, low, high) where [low, high] is the expected band.
    """
    window = list(values)[-WINDOW:]
    if len(window) < MIN_HISTORY:
        return None
    mean = statistics.fmean(window)
    spread = 3 * statistics.pstdev(window) + tolerance
    return abs(latest - mean) > spread, mean - spread, mean + spread


def volume(port: str, counts: Sequence[int], monitor: str = "volume", what: str = "rows") -> Finding:
    """The latest count (last of ``counts``) against the ones before it."""
    if not counts:
        return Finding(monitor, "unknown", f"no {what} recorded yet", port)
    *history, latest = counts
    verdict = anomaly(history, latest, max(1.0, 0.1 * (statistics.fmean(history) if history else 0)))
    if verdict is None:
        return Finding(
            monitor,
            "unknown",
            f"{latest:,} {what}; too little history to judge",
            port,
            detail={"value": latest},
        )
    bad, low, high = verdict
    band = f"{max(0, round(low)):,}..{round(high):,}"
    message = f"{latest:,} {what}, " + (f"outside the expected {band}" if bad else f"within {band}")
    detail = {
        "value": latest,
        "expected_low": max(0.0, low),
        "expected_high": high,
        "history": history[-WINDOW:],
    }
    return Finding(monitor, "warn" if bad else "ok", message, port, detail=detail)


def drift(runs: Sequence[QualityRun]) -> list[Finding]:
    """Null rate and distinct count of every column in the latest run against the runs before it.

    ``runs`` newest first (as the store returns them).
    """
    if not runs:
        return []
    latest, earlier = runs[0], list(reversed(runs[1:]))
    found = []
    for profile in latest.profiles:
        past = [p for run in earlier for p in run.profiles if p.port == profile.port]
        for column, now in profile.columns.items():
            history = [p.columns[column] for p in past if column in p.columns and p.rows]
            rows = [p.rows for p in past if column in p.columns and p.rows]
            rate = now["nulls"] / profile.rows if profile.rows else 0.0
            rates = [h["nulls"] / r for h, r in zip(history, rows, strict=True)]
            found.append(_drift(profile.port, column, "null_rate", rates, rate, 0.05, percent=True))
            distinct = [float(h["distinct"]) for h in history]
            tolerance = max(1.0, 0.1 * statistics.fmean(distinct)) if distinct else 1.0
            found.append(
                _drift(profile.port, column, "distinct", distinct, float(now["distinct"]), tolerance)
            )
    return found


def _drift(
    port: str,
    column: str,
    monitor: str,
    history: list[float],
    value: float,
    tolerance: float,
    *,
    percent: bool = False,
) -> Finding:
    def shown(v: float) -> str:
        return f"{100 * v:.1f}%" if percent else f"{round(v):,}"

    label = "null rate" if monitor == "null_rate" else "distinct values"
    verdict = anomaly(history, value, tolerance)
    detail = {"value": value}
    if verdict is None:
        return Finding(
            monitor, "unknown", f"{label} {shown(value)}; too little history", port, column, detail
        )
    bad, low, high = verdict
    detail.update(expected_low=max(0.0, low), expected_high=high)
    where = f"outside the expected {shown(max(0.0, low))}..{shown(high)}" if bad else "as usual"
    return Finding(monitor, "warn" if bad else "ok", f"{label} {shown(value)}, {where}", port, column, detail)


def schema_changes(port: str, verdicts: Sequence[tuple[int, int, str]]) -> list[Finding]:
    """One finding per contract change: (old version, new version, ``compatible`` or ``breaking``)."""
    found = []
    for old, new, kind in verdicts:
        status: Status = "ok" if kind.startswith("compatible") else "warn"
        message = f"schema version {old} -> {new}: {kind}"
        found.append(
            Finding("schema", status, message, port, detail={"from": old, "to": new, "change": kind})
        )
    return found


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            whole, rest = divmod(seconds, size)
            return f"{whole}{unit}" if not rest or size == 60 else f"{seconds / size:.1f}{unit}"
    return f"{seconds}s"


__all__ = [
    "Finding",
    "anomaly",
    "drift",
    "frequency",
    "freshness",
    "schema_changes",
    "sla",
    "volume",
]
