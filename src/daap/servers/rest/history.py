"""A product's history on the discovery port: its versions and its recent change events.

Routes (under ``/api``)::

    GET /products/{product}/versions?limit=   published versions, newest first, with their changes
    GET /products/{product}/changes?limit=    the last change events of its ports, newest first

Versions are metadata (row counts, snapshots, inputs, change counts): whoever may discover
the product sees them. Change events carry rows, so they need ``read``; and since an event
is the whole row before and after, they are shown only to a caller who reads every port
unfiltered and unmasked. Anyone else gets the counts of each version, and why not more.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from daap.errors import BackboneError
from daap.mesh.feed import plain, recent
from daap.mesh.metadata import ProductVersion
from daap.mesh.wire import Decoder
from daap.query.service import Caller, QueryService
from daap.servers.rest.auth import CALLER, authenticated

PRODUCT = Path(description="the data product's name")
#: op letters of a change event, as words
OPS = {"c": "insert", "u": "update", "d": "delete", "r": "read"}


def history_router(service: QueryService) -> APIRouter:
    api = APIRouter(prefix="/api", dependencies=[Depends(authenticated)], tags=["catalog"])

    @api.get("/products/{product}/versions", summary="A product's published versions")
    def versions(
        caller: CALLER,
        product: Annotated[str, PRODUCT],
        limit: Annotated[int, Query(ge=1, le=500, description="how many, newest first")] = 50,
    ) -> dict[str, Any]:
        """Each published version, newest first: when, from which build, rows and snapshot per port,
        the input versions it read, and its changes per port (inserted, updated, deleted)."""
        service.product_spec(product, caller)
        found = service.ws.metadata.list_versions(product, include_expired=True)
        return {"items": [_version(service, v) for v in reversed(found[-limit:])], "total": len(found)}

    @api.get("/products/{product}/changes", summary="A product's recent change events")
    def changes(
        caller: CALLER,
        product: Annotated[str, PRODUCT],
        limit: Annotated[int, Query(ge=1, le=200, description="events per port, newest first")] = 20,
    ) -> dict[str, Any]:
        """The last change events each port put on the event backbone (op, key, before and after),
        newest first. `withheld` says why there are none for a caller who sees some rows
        filtered or some columns masked: an event carries the whole row."""
        spec = service.require(caller, product, "read")
        ports = [p.name for p in spec.output_ports]
        withheld = _withheld(service, caller, spec, ports)
        if withheld is not None:
            return {"items": [], "withheld": withheld}
        decode = Decoder(service.ws.registry.schema_by_id)
        items: list[dict[str, Any]] = []
        try:
            for port in ports:
                items += [_event(port, e, decode) for e in recent(service.ws, product, port, limit)]
        except BackboneError as exc:
            return {"items": items, "withheld": f"the event backbone did not answer: {exc.message}"}
        items.sort(key=lambda e: (e["timestamp_ms"], e["offset"] or 0), reverse=True)
        return {"items": items, "withheld": None}

    return api


def _version(service: QueryService, version: ProductVersion) -> dict[str, Any]:
    entry = service.ws.metadata.get_publication(version.product, version.version)
    progress = entry.progress if entry is not None else {}
    counts = ("inserted", "updated", "deleted")
    return {
        "version": version.version,
        "build_id": version.build_id,
        "published_at": version.published_at.isoformat(),
        "expired": version.expired,
        "ports": {
            name: {
                "rows": state.row_count,
                "snapshot_id": state.snapshot_ids[-1] if state.snapshot_ids else None,
            }
            for name, state in version.ports.items()
        },
        "inputs": dict(version.inputs),
        "changes": {port: {k: int(done.get(k, 0)) for k in counts} for port, done in progress.items()},
        "events": entry.state if entry is not None else None,
    }


def _withheld(service: QueryService, caller: Caller, spec: Any, ports: list[str]) -> str | None:
    principal = caller.principal
    if principal is None or service.access is None:
        return None
    for port in ports:
        restriction = service.access.restriction(principal, spec, port)
        if restriction.restricts:
            return (
                f"{spec.name}.{port} is filtered or masked for {caller.name}, and a change event "
                "carries the whole row: the versions list its changes as counts"
            )
    return None


def _event(port: str, event: Any, decode: Decoder) -> dict[str, Any]:
    value = plain(decode(event.value))
    return {
        "port": port,
        "offset": event.offset,
        "timestamp_ms": event.timestamp_ms,
        "op": "tombstone" if value is None else OPS.get(value.get("op", ""), value.get("op")),
        "version": None if value is None else value.get("source", {}).get("version"),
        "key": plain(decode(event.key)),
        "before": None if value is None else value.get("before"),
        "after": None if value is None else value.get("after"),
    }


__all__ = ["history_router"]
