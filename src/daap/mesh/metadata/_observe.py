"""The observation plane's tables, written once in SQL for every adapter (a mixin of the store).

A *quality run* is one evaluation of a product's quality rules: by a build
(``run_id`` is the build id; ``version`` the version it was published as, or
None when the build was quarantined) or by ``daap check`` against a published
version (``run_id`` ``check-…``). Each run stores one row per rule and one
profile per port (rows, and per column nulls and distinct values), which the
monitors read back as history. A quarantined build keeps its staged files,
listed in ``daap_quarantine``, until a newer build replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from daap.mesh.metadata._dialect import Dialect, Tx


@dataclass(frozen=True)
class RuleOutcome:
    """One rule's result in one run; ``detail`` is JSON-able (metric, value, threshold, samples…)."""

    port: str
    rule: str
    severity: str
    passed: bool
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class PortProfile:
    """A port's shape in one run: its rows and, per column, ``{"nulls": n, "distinct": n}``."""

    port: str
    rows: int
    columns: Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class QualityRun:
    run_id: str
    product: str
    checked_at: datetime
    version: int | None  # the version the rules ran on (published or checked); None: quarantined
    kind: str  # "build" or "check"
    outcomes: tuple[RuleOutcome, ...]
    profiles: tuple[PortProfile, ...]

    @property
    def passed(self) -> bool:
        """No error rule failed."""
        return not any(o.severity == "error" and not o.passed for o in self.outcomes)


@dataclass(frozen=True)
class Quarantined:
    """A build held back by its quality rules: staged files per port, and why."""

    build_id: str
    product: str
    quarantined_at: datetime
    ports: Mapping[str, Mapping[str, Any]]  # port -> {"table", "files": [...], "rows"}
    reasons: tuple[str, ...]


class ObservationStore(Protocol):
    """What the observation plane needs from the metadata store (both adapters have it)."""

    def record_quality_run(self, run: QualityRun) -> None: ...
    def quality_runs(self, product: str, limit: int = 50, kind: str | None = None) -> list[QualityRun]: ...
    def quarantine(self, entry: Quarantined) -> list[Quarantined]: ...
    def quarantined(self, product: str) -> Quarantined | None: ...
    def release_quarantine(self, product: str) -> list[Quarantined]: ...


class ObservationTables:
    """Observation queries on the store's transactions (``_tx``, ``dialect``)."""

    dialect: ClassVar[Dialect]

    def _tx(self, *, write: bool = False) -> AbstractContextManager[Tx]:  # provided by the store
        raise NotImplementedError

    def record_quality_run(self, run: QualityRun) -> None:
        """Store a run; storing the same run again replaces it (a retried build)."""
        d = self.dialect
        with self._tx(write=True) as tx:
            for table in ("daap_quality_results", "daap_port_profiles", "daap_quality_runs"):
                tx.execute(f"DELETE FROM {table} WHERE run_id = ?", (run.run_id,))
            tx.execute(
                "INSERT INTO daap_quality_runs (run_id, product, checked_at, version, kind)"
                " VALUES (?, ?, ?, ?, ?)",
                (run.run_id, run.product, d.encode_time(run.checked_at), run.version, run.kind),
            )
            for o in run.outcomes:
                tx.execute(
                    "INSERT INTO daap_quality_results (run_id, port, rule, severity, passed, detail)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (run.run_id, o.port, o.rule, o.severity, o.passed, d.encode_json(dict(o.detail))),
                )
            for p in run.profiles:
                tx.execute(
                    "INSERT INTO daap_port_profiles (run_id, port, rows, columns) VALUES (?, ?, ?, ?)",
                    (run.run_id, p.port, p.rows, d.encode_json({k: dict(v) for k, v in p.columns.items()})),
                )

    def quality_runs(self, product: str, limit: int = 50, kind: str | None = None) -> list[QualityRun]:
        """The product's latest runs, newest first."""
        d = self.dialect
        where, params = "product = ?", [product]
        if kind is not None:
            where += " AND kind = ?"
            params.append(kind)
        with self._tx() as tx:
            heads = tx.fetch_all(
                "SELECT run_id, product, checked_at, version, kind FROM daap_quality_runs"
                f" WHERE {where} ORDER BY checked_at DESC, run_id DESC LIMIT ?",
                (*params, limit),
            )
            ids = [h[0] for h in heads]
            marks = ", ".join("?" for _ in ids) or "NULL"
            results = tx.fetch_all(
                "SELECT run_id, port, rule, severity, passed, detail FROM daap_quality_results"
                f" WHERE run_id IN ({marks}) ORDER BY port, rule",
                tuple(ids),
            )
            profiles = tx.fetch_all(
                f"SELECT run_id, port, rows, columns FROM daap_port_profiles WHERE run_id IN ({marks})"
                " ORDER BY port",
                tuple(ids),
            )
        outcomes: dict[str, list[RuleOutcome]] = {i: [] for i in ids}
        for run_id, port, rule, severity, passed, detail in results:
            outcomes[run_id].append(RuleOutcome(port, rule, severity, bool(passed), d.decode_json(detail)))
        shapes: dict[str, list[PortProfile]] = {i: [] for i in ids}
        for run_id, port, rows, columns in profiles:
            shapes[run_id].append(PortProfile(port, int(rows), d.decode_json(columns)))
        return [
            QualityRun(
                run_id,
                name,
                d.decode_time(at),
                None if version is None else int(version),
                kind_,
                tuple(outcomes[run_id]),
                tuple(shapes[run_id]),
            )
            for run_id, name, at, version, kind_ in heads
        ]

    # -- quarantine ------------------------------------------------------------------

    def quarantine(self, entry: Quarantined) -> list[Quarantined]:
        """Hold ``entry``; returns the entries it replaces (their files are the caller's to remove)."""
        d = self.dialect
        with self._tx(write=True) as tx:
            replaced = self._held(tx, entry.product)
            tx.execute("DELETE FROM daap_quarantine WHERE product = ?", (entry.product,))
            tx.execute(
                "INSERT INTO daap_quarantine (build_id, product, quarantined_at, ports, reasons)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    entry.build_id,
                    entry.product,
                    d.encode_time(entry.quarantined_at),
                    d.encode_json({k: dict(v) for k, v in entry.ports.items()}),
                    d.encode_json(list(entry.reasons)),
                ),
            )
        return [q for q in replaced if q.build_id != entry.build_id]

    def quarantined(self, product: str) -> Quarantined | None:
        with self._tx() as tx:
            held = self._held(tx, product)
        return held[0] if held else None

    def release_quarantine(self, product: str) -> list[Quarantined]:
        """Forget the product's quarantined build (a newer version is published); returns it."""
        with self._tx(write=True) as tx:
            held = self._held(tx, product)
            tx.execute("DELETE FROM daap_quarantine WHERE product = ?", (product,))
        return held

    def _held(self, tx: Tx, product: str) -> list[Quarantined]:
        d = self.dialect
        rows = tx.fetch_all(
            "SELECT build_id, product, quarantined_at, ports, reasons FROM daap_quarantine WHERE product = ?",
            (product,),
        )
        return [
            Quarantined(
                build_id, name, d.decode_time(at), d.decode_json(ports), tuple(d.decode_json(reasons))
            )
            for build_id, name, at, ports, reasons in rows
        ]


def check_run_id(now: datetime | None = None) -> str:
    """A run id for ``daap check``: sortable, unique enough for one product."""
    import uuid

    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"check-{moment}-{uuid.uuid4().hex[:8]}"


__all__: Sequence[str] = [
    "ObservationStore",
    "ObservationTables",
    "PortProfile",
    "QualityRun",
    "Quarantined",
    "RuleOutcome",
    "check_run_id",
]
