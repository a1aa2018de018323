"""Building a mesh: products in dependency order, each published all or nothing.

For one product, under its lock: finish any build a killed process left
half-done, resolve the inputs, skip if nothing changed, then prepare (stage),
record the intent (``committing``), commit the tables and publish the version.
Between staging and the commit two gates may stop the build: the mesh's
governance rules (an ``error`` finding refuses it, its files are removed:
:mod:`daap.mesh.policy.governance`) and the quality rules (a failed ``error``
rule quarantines it). Each published version stores its governance report.
The version becomes visible only when published; a crash after the table
commit is rolled forward on the next build, a crash before it is rolled back.
Publishing opens the version's outbox entry; its change events then go to the
audit log and the backbone (:mod:`daap.mesh.publication`), and a build first
sends what an earlier one left in the outbox. A product whose build fails
stops its dependents and nothing else.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable, Collection, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, NoReturn

from daap.errors import BuildError, DaapError, DependencyCycleError, InputError, SpecError
from daap.mesh import publication, retention
from daap.mesh.graph import order_products
from daap.mesh.metadata import BuildRecord, GovernanceRecord, PortState, ProductVersion, Quarantined
from daap.mesh.observe import lineage, quality
from daap.mesh.policy import governance
from daap.mesh.registry import gate
from daap.mesh.workspace import SpecCache, Workspace
from daap.runtime import build, engine
from daap.runtime.inputs import UpstreamData, UpstreamResolver, resolve_inputs
from daap.runtime.storage import FilePlan
from daap.spec.model import ProductSource, ProductSpec

Status = Literal["published", "unchanged", "quarantined", "failed", "skipped"]
Progress = Callable[[str, str], None]


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildOutcome:
    product: str
    folder: Path
    status: Status
    version: int | None = None
    build_id: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    message: str | None = None
    warnings: tuple[str, ...] = ()
    error: DaapError | None = None
    #: per port, the change events the new version published (see PortEvents.as_json)
    events: dict[str, dict[str, object]] = field(default_factory=dict)


def build_mesh(
    ws: Workspace,
    folders: Sequence[Path] | None = None,
    progress: Progress = lambda p, s: None,
    *,
    send_events: bool = True,
) -> list[BuildOutcome]:
    """Build ``folders`` (default: every product of the workspace) in dependency order.

    With ``send_events=False`` each new version's change events stay in the
    outbox (``daap events publish`` or ``daap up`` send them): for bulk loads.
    """
    folders = list(folders) if folders is not None else ws.product_folders()
    specs: list[ProductSpec] = []
    outcomes: dict[str, BuildOutcome] = {}
    for folder in folders:
        try:
            specs.append(ws.load(folder))
        except SpecError as exc:
            name = folder.resolve().name
            outcomes[name] = BuildOutcome(name, folder, "failed", message=str(exc), error=exc)
    ordered, cycles = order_products(specs)
    for cycle in cycles:
        error = DependencyCycleError(cycle)
        for name in cycle[:-1]:
            spec = next(s for s in specs if s.name == name)
            outcomes[name] = BuildOutcome(name, spec.folder, "failed", message=str(error), error=error)
    for spec in specs:
        if spec.name not in outcomes and spec not in ordered:
            message = "skipped: it reads a product that is part of a dependency cycle"
            outcomes[spec.name] = BuildOutcome(spec.name, spec.folder, "skipped", message=message)
    for spec in ordered:
        blocked = [s.product for s in spec.upstream() if _failed(outcomes.get(s.product))]
        if blocked:
            message = f"skipped: upstream {', '.join(sorted(set(blocked)))} did not build"
            outcomes[spec.name] = BuildOutcome(spec.name, spec.folder, "skipped", message=message)
            continue
        outcomes[spec.name] = build_product(ws, spec, functools.partial(progress, spec.name), send_events)
    _register(ws, outcomes)
    return list(outcomes.values())


def _register(ws: Workspace, built: Collection[str]) -> None:
    """Bring the central catalog in step with what was built (and the health of ``built``);
    it never fails a build."""
    from daap.mesh.catalog.register import sync

    try:
        for note in sync(ws, health_of=built):
            log.warning("%s", note)
    except Exception:
        log.exception("the catalog could not be updated")


def _failed(outcome: BuildOutcome | None) -> bool:
    return outcome is not None and outcome.status in ("failed", "skipped")


def build_product(
    ws: Workspace, spec: ProductSpec, progress: Callable[[str], None], send_events: bool = True
) -> BuildOutcome:
    """Build and publish one product; never raises for a failure of the build itself."""
    started = time.monotonic()
    # made before anything can fail: a build refused before it is recorded still names its run
    build_id, begun = build.new_build_id(), datetime.now(UTC)
    try:
        with ws.lock(spec.name):
            notes = tuple(reconcile(ws, spec))
            if send_events:
                notes += tuple(_send_pending(ws, spec.name))
            outcome = _build_locked(ws, spec, progress, send_events, build_id)
            if notes:
                outcome = replace(outcome, warnings=notes + outcome.warnings)
    except DaapError as exc:
        outcome = BuildOutcome(spec.name, spec.folder, "failed", message=str(exc), error=exc)
    except Exception as exc:  # a bug: fail this product only, say so plainly
        message = f"internal error ({type(exc).__name__}: {exc}); this is a bug in daap, please report it"
        outcome = BuildOutcome(spec.name, spec.folder, "failed", message=message)
    if outcome.status == "failed":
        notes = lineage.emit_failed(ws, spec, build_id, begun, outcome.message or "failed")
        # the id names the failed build's OpenLineage run (and its record, when it got that far)
        outcome = replace(outcome, build_id=outcome.build_id or build_id, warnings=outcome.warnings + notes)
    return _timed(outcome, time.monotonic() - started)


def _timed(outcome: BuildOutcome, seconds: float) -> BuildOutcome:
    return replace(outcome, seconds=round(seconds, 3))


def _build_locked(
    ws: Workspace, spec: ProductSpec, progress: Callable[[str], None], send_events: bool, build_id: str
) -> BuildOutcome:
    progress("check contracts against the registry")
    gate.check(ws.registry, spec, ws.config.event_format)
    progress("read inputs")
    inputs = resolve_inputs(spec, _upstream(ws, spec), build.column_types(spec))
    fingerprint = build.fingerprint(spec, inputs)
    latest = ws.metadata.latest_version(spec.name)
    still = _still_quarantined(ws, spec, fingerprint)
    if still is not None:
        return still
    if latest is not None and latest.fingerprint == fingerprint:
        unchanged_notes = tuple(
            gate.register(ws.registry, spec, ws.config.event_format)[1]
        )  # a mesh built before the registry
        return BuildOutcome(
            spec.name,
            spec.folder,
            "unchanged",
            version=latest.version,
            build_id=latest.build_id,
            rows={p: s.row_count for p, s in latest.ports.items()},
            message=f"inputs and code unchanged since version {latest.version}; nothing published",
            warnings=unchanged_notes,
        )
    ws.metadata.start_build(build_id, spec.name, fingerprint)
    try:
        candidate = build.prepare(
            spec,
            inputs,
            ws.tables,
            build_id,
            fingerprint,
            ws.config.home / "tmp" / build_id,
            progress,
            memory_limit=ws.config.build_memory,
            previous=_previous(ws, spec, latest),
        )
    except BaseException as exc:
        ws.metadata.finish_build(build_id, "failed", str(exc))
        raise
    build.crash_point("staged")
    progress("check governance rules")
    governed = _govern(ws, spec, candidate)
    progress("check quality rules")
    verdict = _check_quality(ws, spec, candidate)
    if verdict.failed:
        return _quarantine(ws, spec, candidate, verdict)
    # registered before the commit: the plan carries the ids the version's events are encoded with
    schema_ids, registered = gate.register(ws.registry, spec, ws.config.event_format)
    if registered and ws.config.event_format != "json":
        # without its schemas the version's events could not be encoded: publish nothing
        _abandon(ws, candidate, "its schemas could not be registered: " + "; ".join(registered))
    ws.metadata.mark_committing(build_id, _plan(candidate, schema_ids, governed))
    build.crash_point("committing")
    progress("commit")
    snapshots = build.commit(candidate, ws.tables)
    states = _port_states(candidate, snapshots)
    version = ws.metadata.publish(build_id, states, candidate.inputs)
    build.crash_point("published")
    _record_quality(ws, spec.name, build_id, verdict, version.version)
    governance_notes = _record_governance(ws, spec.name, version.version, governed)
    lineage_notes = lineage.emit(
        ws, lineage.BuildRun(spec, build_id, verdict, candidate.inputs, version.version)
    )
    for released in ws.metadata.release_quarantine(spec.name):
        _discard(ws, released)
    for staged in candidate.ports:
        # the files just committed are the snapshot's plan: first queries need no catalog
        plan = FilePlan(tuple(str(f.resolve()) for f in staged.files))
        ws.plans.put(staged.table, states[staged.port].snapshot_ids[-1], plan)
    sent: dict[int, tuple[publication.PortEvents, ...]] = {}
    held: tuple[str, ...] = ("change events left in the outbox (deferred); `daap events publish` sends them",)
    if send_events:
        progress("publish change events")
        drained = publication.publish_pending(ws, spec.name)
        sent = dict(drained.published)
        problem = drained.problem()
        held = (problem,) if problem else ()
    return BuildOutcome(
        spec.name,
        spec.folder,
        "published",
        version=version.version,
        build_id=build_id,
        rows={p.port: p.row_count for p in candidate.ports},
        warnings=candidate.warnings
        + tuple(f"governance rule {f.describe()}" for f in governed.warnings)
        + governance_notes
        + tuple(verdict.warnings)
        + tuple(registered)
        + held
        + lineage_notes
        + _apply_retention(ws, spec),
        events={p.port: p.as_json() for p in sent.get(version.version, ())},
    )


def _upstream(ws: Workspace, spec: ProductSpec) -> UpstreamResolver:
    """How ``spec`` reads other products: in a mesh with principals (zero trust), only what each
    upstream's policies let it ``read``, filtered and masked for it; else everything.

    Raises (from the resolver):
        InputError: the upstream's policies do not let ``spec`` read it, or its access rules cannot
            be applied (naming the input port and how to grant it).
    """
    from daap.mesh.policy.access import AccessControl, product_principal
    from daap.mesh.policy.identity import Identities
    from daap.mesh.policy.restrict import FilterError

    if not Identities(ws).principals():
        return ws.upstream
    control = AccessControl.for_mesh(ws.config)
    reader = product_principal(spec)
    specs = SpecCache(ws)

    def read(source: ProductSource) -> UpstreamData | None:
        data = ws.upstream(source)
        if data is None:
            return None
        port = next((p.name for p in spec.input_ports if p.source == source), source.ref)
        try:
            upstream = specs.find(source.product)
            if not control.decide(reader, upstream, "read").allowed:
                grant = (
                    'permit(principal, action == Daap::Action::"read", resource) '
                    f'when {{ principal.roles.contains("product") && principal.name == "{spec.name}" }};'
                )
                raise InputError(
                    f"{spec.name} may not read {source.product}: the mesh has principals, so products "
                    "read each other only as their policies allow",
                    product=spec.name,
                    port=port,
                    hint=f"{source.product}'s owners grant it in {source.product}/access.cedar, e.g. {grant}",
                )
            restriction = control.restriction(reader, upstream, source.port)
        except (FilterError, SpecError) as exc:
            raise InputError(
                f"{source.product}'s access rules cannot be applied: {exc}", product=spec.name, port=port
            ) from exc
        if not restriction.restricts:
            return data
        digest = hashlib.sha256(repr(restriction.signature).encode()).hexdigest()[:16]
        relation = replace(data.relation, select=restriction.relation)
        return replace(data, relation=relation, restriction=digest)

    return read


def _govern(ws: Workspace, spec: ProductSpec, candidate: build.Candidate) -> governance.GovernanceReport:
    """The mesh's governance rules on the product, its values sampled from exactly the rows staged
    for publication. An ``error`` finding refuses the build before anything is registered,
    committed or published: it fails, its staged files are removed, consumers keep the last version.

    Raises:
        GovernanceRefused: listing each error finding with its fix.
    """
    try:
        rows = {p.port: engine.Relation.parquet(p.files) for p in candidate.ports}
        # a sample is at most 1,000 values a column: nothing to spill, no temp folder
        report = governance.govern(ws, spec, rows, f"the rows of build {candidate.build_id}")
    except BaseException as exc:
        _drop(ws, candidate, f"governance rules could not run: {exc}")
        raise
    if report.errors:
        refused = report.refusal()
        _drop(ws, candidate, refused.message)
        raise refused
    return report


def _record_governance(
    ws: Workspace, product: str, version: int, report: governance.GovernanceReport
) -> tuple[str, ...]:
    """Store the version's governance report; a failure here never fails a published version."""
    try:
        ws.metadata.save_governance(_governance_record(product, version, report.as_json()))
    except DaapError as exc:
        return (f"governance report of version {version} not stored: {exc}",)
    return ()


def _governance_record(product: str, version: int, report: dict[str, object]) -> GovernanceRecord:
    checked = report.get("checked_at")
    at = datetime.fromisoformat(checked) if isinstance(checked, str) else datetime.now(UTC)
    errors, warnings = report.get("errors", 0), report.get("warnings", 0)
    return GovernanceRecord(
        product,
        version,
        at,
        errors if isinstance(errors, int) else 0,
        warnings if isinstance(warnings, int) else 0,
        report,
    )


def _check_quality(ws: Workspace, spec: ProductSpec, candidate: build.Candidate) -> quality.Verdict:
    """Each port's quality rules on exactly the rows staged for publication."""
    try:
        rows = {p.port: engine.Relation.parquet(p.files) for p in candidate.ports}
        return quality.evaluate(ws, spec, rows, ws.config.home / "tmp" / candidate.build_id)
    except BaseException as exc:
        ws.metadata.finish_build(candidate.build_id, "failed", f"quality rules could not run: {exc}")
        for staged in candidate.ports:
            ws.tables.discard_stage(staged.table, candidate.build_id)
        raise


def _record_quality(
    ws: Workspace, product: str, build_id: str, verdict: quality.Verdict, version: int | None
) -> None:
    run = verdict.run(build_id, product, quality.now(), version, "build")
    ws.metadata.record_quality_run(run)


def _quarantine(
    ws: Workspace, spec: ProductSpec, candidate: build.Candidate, verdict: quality.Verdict
) -> BuildOutcome:
    """Hold the candidate back: its files stay staged for its owners, consumers keep the last version."""
    failed = verdict.failed
    message = quality.gate_message(spec.name, failed)
    _record_quality(ws, spec.name, candidate.build_id, verdict, None)
    run = lineage.BuildRun(spec, candidate.build_id, verdict, candidate.inputs, None, message)
    lineage_notes = lineage.emit(ws, run)
    ports = {
        p.port: {"table": p.table, "files": [str(f) for f in p.files], "rows": p.row_count}
        for p in candidate.ports
    }
    entry = Quarantined(
        candidate.build_id, spec.name, quality.now(), ports, tuple(r.describe() for r in failed)
    )
    for replaced in ws.metadata.quarantine(entry):
        _discard(ws, replaced)
    ws.metadata.finish_build(candidate.build_id, "failed", message)
    error = quality.QualityGateFailed(
        message,
        hint=f"`daap query --quarantined` reads the held rows, `daap check {spec.name}` shows every rule",
    )
    warnings = [*verdict.warnings, *lineage_notes]
    return _quarantined_outcome(spec, candidate.build_id, ports, message, error, warnings)


def _quarantined_outcome(
    spec: ProductSpec,
    build_id: str,
    ports: dict[str, dict[str, object]],
    message: str,
    error: DaapError,
    warnings: Sequence[str] = (),
) -> BuildOutcome:
    rows = {port: int(str(info["rows"])) for port, info in ports.items()}
    return BuildOutcome(
        spec.name,
        spec.folder,
        "quarantined",
        build_id=build_id,
        rows=rows,
        message=message,
        warnings=tuple(warnings),
        error=error,
    )


def _still_quarantined(ws: Workspace, spec: ProductSpec, fingerprint: str) -> BuildOutcome | None:
    """The same inputs and code as the quarantined build: the same verdict, without building again."""
    held = ws.metadata.quarantined(spec.name)
    record = ws.metadata.get_build(held.build_id) if held is not None else None
    if held is None or record is None or record.fingerprint != fingerprint:
        return None
    message = record.message or quality.gate_message(spec.name, [])
    error = quality.QualityGateFailed(
        message, hint="the inputs and code are those of the quarantined build; fix the data or the rules"
    )
    ports = {port: dict(info) for port, info in held.ports.items()}
    return _quarantined_outcome(spec, held.build_id, ports, message, error)


def _discard(ws: Workspace, entry: Quarantined) -> None:
    """Remove a quarantined build's staged files (it was replaced or a newer version published)."""
    for info in entry.ports.values():
        ws.tables.discard_stage(str(info["table"]), entry.build_id)


def _send_pending(ws: Workspace, product: str) -> list[str]:
    """Publish what earlier builds left in the outbox, before anything newer."""
    if not ws.metadata.pending_publications(product):
        return []
    drained = publication.publish_pending(ws, product)
    lines = [f"sent the change events an earlier build left pending: {line}" for line in drained.describe()]
    problem = drained.problem()
    return lines + ([problem] if problem else [])


def _drop(ws: Workspace, candidate: build.Candidate, message: str) -> None:
    """A staged build given up before its commit: failed, its files removed, nothing published."""
    ws.metadata.finish_build(candidate.build_id, "failed", message)
    for staged in candidate.ports:
        ws.tables.discard_stage(staged.table, candidate.build_id)


def _abandon(ws: Workspace, candidate: build.Candidate, why: str) -> NoReturn:
    """Give up a staged build before its commit: failed, its files removed, nothing published."""
    message = f"{candidate.product}: not published, {why}"
    _drop(ws, candidate, message)
    raise BuildError(message, hint="fix the registry (its mode, or the subject's versions), then build again")


def _previous(ws: Workspace, spec: ProductSpec, latest: ProductVersion | None) -> build.Previous | None:
    """The latest version's append-only ports (no primary key), which the new version may only extend."""
    if latest is None:
        return None
    ports = {
        port.name: ws.relation(latest.ports[port.name])
        for port in spec.output_ports
        if not port.contract.primary_key and port.name in latest.ports
    }
    return build.Previous(latest.version, ports) if ports else None


def _apply_retention(ws: Workspace, spec: ProductSpec) -> tuple[str, ...]:
    """Expire versions under the product's policy; a failure here never fails the build."""
    if spec.retention is None:
        return ()
    try:
        expired = retention.expire(ws, spec.name, spec.retention, datetime.now(UTC))
    except DaapError as exc:
        return (f"retention policy not applied: {exc}",)
    if not expired:
        return ()
    return (f"retention policy expired version(s) {', '.join(map(str, expired))}",)


def _plan(
    candidate: build.Candidate,
    schema_ids: dict[str, dict[str, int]],
    governed: governance.GovernanceReport,
) -> dict[str, object]:
    """Everything needed to publish the build from its committed snapshots alone."""
    return {
        "governance": governed.as_json(),
        "ports": {
            p.port: {
                "table": p.table,
                "rows": p.row_count,
                "key": list(p.key),
                "schema_ids": schema_ids.get(p.port, {}),
            }
            for p in candidate.ports
        },
        "inputs": dict(candidate.inputs),
    }


def _port_states(candidate: build.Candidate, snapshots: dict[str, tuple[int, ...]]) -> dict[str, PortState]:
    return {
        p.port: PortState(table=p.table, snapshot_ids=snapshots[p.port], row_count=p.row_count)
        for p in candidate.ports
    }


def reconcile(ws: Workspace, spec: ProductSpec) -> list[str]:
    """Finish builds of ``spec`` that a killed process left pending (caller holds the lock).

    A build that committed every port is published (rolled forward); any other
    is marked failed and its staged files removed (rolled back).

    Returns:
        one line per build reconciled, for the user.
    """
    notes = []
    for record in ws.metadata.pending_builds(spec.name):
        ports = dict(record.plan.get("ports", {})) if record.state == "committing" else {}
        states = {
            port: PortState(
                info["table"], ws.tables.build_snapshots(info["table"], record.build_id), info["rows"]
            )
            for port, info in ports.items()
        }
        if states and all(s.snapshot_ids for s in states.values()):
            version = ws.metadata.publish(record.build_id, states, dict(record.plan.get("inputs", {})))
            done = f"published as version {version.version}"
            _recover_governance(ws, record, version.version)
            notes.append(f"build {record.build_id} was interrupted after commit: {done}")
            continue
        ws.metadata.finish_build(record.build_id, "failed", "interrupted before its commit; rolled back")
        for port in spec.output_ports:
            table = build.table_name(spec.name, port.name)
            if not ws.tables.build_snapshots(table, record.build_id):
                ws.tables.discard_stage(table, record.build_id)
        notes.append(f"build {record.build_id} was interrupted before commit: rolled back")
    return notes


def _recover_governance(ws: Workspace, record: BuildRecord, version: int) -> None:
    """The report the interrupted build checked, stored with the version it became."""
    report = record.plan.get("governance")
    if isinstance(report, dict):
        with suppress(DaapError):  # reconciling must not fail on a report
            ws.metadata.save_governance(_governance_record(record.product, version, report))


__all__ = ["BuildOutcome", "DependencyCycleError", "build_mesh", "build_product", "reconcile"]
