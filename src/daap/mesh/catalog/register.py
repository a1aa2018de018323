"""Feeding the central catalog from the platform itself, so it cannot drift.

:func:`sync` runs after every ``build_mesh`` (and ``daap catalog sync``): each
product folder of the workspace becomes (or updates) its :class:`CatalogEntry`
from its descriptor, contracts, latest published version, health (quality,
SLOs, monitors) and governance report, with its product lineage. A product
whose folder is gone is marked ``deleted``; one whose descriptor says
``retired`` is marked so. Nothing is ever left stale: a folder that no longer
loads keeps its last entry, marked with the problem.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from daap.errors import DaapError
from daap.mesh.catalog.lineage import column_links, mesh_lineage, product_lineage
from daap.mesh.metadata import CatalogColumn, CatalogEntry, CatalogPersona, CatalogPort
from daap.mesh.observe.report import health
from daap.mesh.policy.policies import column_classifications
from daap.mesh.registry.odcs import value_subject
from daap.mesh.workspace import Workspace
from daap.spec.model import ColumnSpec, OutputPortSpec, ProductSpec

#: descriptor statuses the catalog shows as they are; every other is ``active``
KEPT_STATUSES = ("retired", "deprecated", "draft", "proposed")


def entry_of(ws: Workspace, spec: ProductSpec, health_state: Any = None) -> CatalogEntry:
    """The catalog entry of ``spec`` as the workspace knows it now."""
    version = ws.metadata.latest_version(spec.name)
    governance = ws.metadata.governance_report(spec.name)
    ports = tuple(
        CatalogPort(port.name, port.description, tuple(_column(c) for c in port.contract.columns))
        for port in spec.output_ports
    )
    columns = [col for port in spec.output_ports for col in port.contract.columns]
    classes = sorted({c for col in columns for c in column_classifications(col)})
    lineage = [e.upstream for e in product_lineage(spec)]
    document: dict[str, Any] = {
        "upstream": lineage,
        "version": spec.version,
        "id": spec.id,
        "queries": [q.name for q in spec.queries],
        "contracts": {p.name: _contract(ws, spec.name, p) for p in spec.output_ports},
    }
    if health_state is not None:
        document["health"] = health_state.as_json()
    return CatalogEntry(
        name=spec.name,
        domain=spec.domain,
        product_type=spec.product_type,
        owner=spec.team,
        status=spec.status if spec.status in KEPT_STATUSES else "active",
        business_objective=spec.business_objective,
        purpose=spec.purpose,
        description=spec.purpose,
        usage=spec.usage,
        limitations=spec.limitations,
        personas=tuple(
            CatalogPersona(p.name, p.description, tuple(p.skills)) for p in spec.consumer_personas
        ),
        tags=tuple(spec.tags),
        classifications=tuple(classes),
        ports=ports,
        latest_version=version.version if version is not None else None,
        published_at=version.published_at if version is not None else None,
        quality_status=health_state.quality if health_state is not None else None,
        governance_errors=governance.errors if governance is not None else None,
        governance_warnings=governance.warnings if governance is not None else None,
        updated_at=datetime.now(UTC),
        document=document,
    )


def sync(ws: Workspace, *, with_health: bool = False, health_of: Collection[str] = ()) -> list[str]:
    """Bring the catalog in step with the workspace; returns a note per product it could not read.

    Never raises for one product: the catalog is a side channel of builds. Each product's quality,
    SLOs and monitors are read again for those in ``health_of`` (a build's products), or for all
    ``with_health`` (``daap catalog sync``); the others keep what their entry last had.
    """
    notes: list[str] = []
    #: folders that do not load: their product keeps its entry (it is broken, not deleted)
    broken: set[str] = set()
    specs: list[ProductSpec] = []
    for folder in ws.product_folders():
        try:
            specs.append(ws.load(folder))
        except DaapError as exc:
            broken.add(folder.name)
            notes.append(f"catalog: {folder.name} not updated ({exc.message})")
    states = {}
    try:
        checked = specs if with_health else [s for s in specs if s.name in health_of]
        states = {h.product: h for h in health(ws, checked)} if checked else {}
    except Exception as exc:  # health is a nicety of the entry
        notes.append(f"catalog: health not read ({type(exc).__name__}: {exc})")
    seen = set()
    for spec in specs:
        seen.add(spec.name)
        try:
            entry = entry_of(ws, spec, states.get(spec.name))
            if spec.name not in states:
                entry = _with_last_health(entry, ws.metadata.catalog_entry(spec.name))
            ws.metadata.upsert_catalog(entry)
            ws.metadata.set_product_lineage(spec.name, entry.document.get("upstream", []))
        except Exception as exc:
            notes.append(f"catalog: {spec.name} not updated ({type(exc).__name__}: {exc})")
    notes += _store_column_lineage(ws, specs)
    now = datetime.now(UTC)
    for name, status in ws.metadata.catalog_names():
        if name not in seen and status != "deleted" and name not in broken:
            ws.metadata.mark_catalog_status(name, "deleted", now)
            ws.metadata.set_product_lineage(name, [])  # a deleted product reads nothing any more
    return notes


def _store_column_lineage(ws: Workspace, specs: list[ProductSpec]) -> list[str]:
    """Keep the column lineage of each product's latest version, once per version: its SQL and its
    upstream contracts as they are at registration, which is right after the build published it."""
    pending = []
    for spec in specs:
        latest = ws.metadata.latest_version(spec.name)
        if latest is not None and latest.version not in ws.metadata.column_lineage_versions(spec.name):
            pending.append((spec, latest.version))
    if not pending:
        return []
    edges = mesh_lineage(specs)
    notes = []
    for spec, version in pending:
        try:
            ws.metadata.set_column_lineage(
                spec.name, version, column_links(spec.name, version, edges[spec.name])
            )
        except Exception as exc:
            notes.append(f"catalog: column lineage of {spec.name} not kept ({type(exc).__name__}: {exc})")
    return notes


def _contract(ws: Workspace, product: str, port: OutputPortSpec) -> dict[str, Any]:
    """The port's contract (id, version) and its value schema in the registry (subject, latest
    registered version; None before the first build registers it)."""
    subject = value_subject(product, port.name)
    try:
        registered = ws.registry.versions(subject)
    except DaapError:  # not registered yet
        registered = []
    return {
        "id": port.contract.id,
        "version": port.contract.version,
        "subject": subject,
        "schema_version": registered[-1] if registered else None,
    }


def _with_last_health(entry: CatalogEntry, last: CatalogEntry | None) -> CatalogEntry:
    """``entry`` keeping the quality and health its last registration read."""
    if last is None or last.quality_status is None:
        return entry
    document = dict(entry.document)
    if "health" in last.document:
        document["health"] = last.document["health"]
    return replace(entry, quality_status=last.quality_status, document=document)


def _column(column: ColumnSpec) -> CatalogColumn:
    return CatalogColumn(column.name, column.logical_type, column.description, column.classification)


__all__ = ["entry_of", "sync"]
