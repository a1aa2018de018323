"""Service-level objectives per product port: rolling pass rate, status and error budget.

Objectives of each output port:

- ``quality``: every evaluation of the port's rules (each build, each ``daap
  check``) passes its ``error`` rules;
- ``freshness``: when the contract has a ``latency`` SLA, at each build attempt
  the latest published version was younger than the latency.

Each objective has a target, the share of observations that must pass
(``sloTarget`` in the contract's ``customProperties``, percent; default
:data:`DEFAULT_TARGET`), over the observations of the trailing
:data:`WINDOW_DAYS` days. Its *error budget* is how many observations may fail
in the window; the status is ``breached`` when the pass rate is below the
target, ``at_risk`` when less than a quarter of the budget is left or the
latest observation failed, else ``met`` (``no_data`` without observations).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from daap.mesh.metadata import ProductVersion, QualityRun
from daap.mesh.observe.monitors import sla
from daap.spec.model import ContractSpec, ProductSpec

SloStatus = Literal["met", "at_risk", "breached", "no_data"]

DEFAULT_TARGET = 95.0
WINDOW_DAYS = 30
#: the budget left below which an objective is at risk
AT_RISK = 0.25


@dataclass(frozen=True)
class Slo:
    port: str
    objective: str
    target: float  # percent of observations that must pass
    observations: int
    passed: int
    latest_passed: bool | None

    @property
    def pass_rate(self) -> float | None:
        return None if not self.observations else 100.0 * self.passed / self.observations

    @property
    def budget(self) -> float:
        """Failures the window may hold and still meet the target."""
        return self.observations * (100.0 - self.target) / 100.0

    @property
    def budget_left(self) -> float | None:
        """The share of the error budget not spent (negative when overspent)."""
        if not self.observations:
            return None
        failed = self.observations - self.passed
        if self.budget == 0:
            return 1.0 if failed == 0 else -math.inf
        return 1.0 - failed / self.budget

    @property
    def status(self) -> SloStatus:
        rate, left = self.pass_rate, self.budget_left
        if rate is None or left is None:
            return "no_data"
        if rate < self.target:
            return "breached"
        if left < AT_RISK or self.latest_passed is False:
            return "at_risk"
        return "met"

    def as_json(self) -> dict[str, Any]:
        left = self.budget_left
        return {
            "port": self.port,
            "objective": self.objective,
            "target_percent": self.target,
            "window_days": WINDOW_DAYS,
            "observations": self.observations,
            "passed": self.passed,
            "pass_rate_percent": None if self.pass_rate is None else round(self.pass_rate, 2),
            "error_budget": {
                "allowed_failures": round(self.budget, 2),
                "used_failures": self.observations - self.passed,
                "remaining_fraction": None if left is None or math.isinf(left) else round(left, 3),
            },
            "status": self.status,
        }


def target_of(contract: ContractSpec) -> float:
    """The contract's ``sloTarget`` custom property (percent), else the default."""
    return contract.slo_target or DEFAULT_TARGET


def objectives(
    spec: ProductSpec,
    runs: Sequence[QualityRun],
    versions: Sequence[ProductVersion],
    attempts: Sequence[datetime],
    now: datetime,
) -> list[Slo]:
    """Every port's objectives over the window ending ``now``.

    Args:
        runs: quality runs (any order); versions: published versions (any order);
        attempts: when builds of the product started.
    """
    since = now - timedelta(days=WINDOW_DAYS)
    recent = sorted((r for r in runs if r.checked_at >= since), key=lambda r: r.checked_at)
    published = sorted(v.published_at for v in versions)
    tries = sorted(t for t in attempts if t >= since)
    found = []
    for port in spec.output_ports:
        target = target_of(port.contract)
        checks = [_port_passed(r, port.name) for r in recent if any(o.port == port.name for o in r.outcomes)]
        if recent and not checks:  # no rules on this port: every evaluation holds
            checks = [True for r in recent if any(p.port == port.name for p in r.profiles)]
        found.append(_slo(port.name, "quality", target, checks))
        latency = sla(port.contract, "latency")
        if latency is not None:
            # freshness is owed from the first publication on
            moments = [t for t in [*tries, now] if published and t >= published[0]]
            fresh = [_fresh_at(t, published, latency) for t in moments]
            found.append(_slo(port.name, "freshness", target, fresh))
    return found


def _slo(port: str, objective: str, target: float, checks: list[bool]) -> Slo:
    return Slo(port, objective, target, len(checks), sum(checks), checks[-1] if checks else None)


def _port_passed(run: QualityRun, port: str) -> bool:
    return not any(o.port == port and o.severity == "error" and not o.passed for o in run.outcomes)


def _fresh_at(moment: datetime, published: list[datetime], latency: timedelta) -> bool:
    before = [p for p in published if p <= moment]
    return bool(before) and moment - before[-1] <= latency


__all__ = ["DEFAULT_TARGET", "WINDOW_DAYS", "Slo", "objectives", "target_of"]
