"""The control port over HTTP: a product's policies and filters, their history, explain, the access log.

Routes (under ``/api``)::

    GET  /products/{product}/control                     the control in force (policies, access, version)
    PUT  /products/{product}/control                     {policies?, access?, note?, expected_version?}
    GET  /products/{product}/control/versions            every version, oldest first
    GET  /products/{product}/control/explain?principal=  what that principal may do and see, and why
    GET  /access-log?product=&principal=&action=&allowed=&since=&limit=

The control routes are for the product's administrators (its owner team, or
whoever its policies let ``administer`` it) and the ``governance`` role; the
access log for the governance role. With authentication off, the local caller
may do everything. Every decision about a control route goes to the access log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, Field

from daap.errors import NotFound, PermissionDenied, SpecError
from daap.mesh.metadata import AccessEntry
from daap.mesh.policy.authn import is_anonymous, no_credentials
from daap.mesh.policy.control import ControlPlane
from daap.mesh.policy.identity import Identities
from daap.query.service import Caller, QueryService
from daap.servers.rest.auth import CALLER, authenticated
from daap.servers.rest.errors import InvalidRequest
from daap.spec.model import ProductSpec

#: the role that reads every product's control and the access log
GOVERNANCE = "governance"
PRODUCT = Path(description="the data product's name")


class ControlChange(BaseModel):
    """A new control for a product; a part left out stays as it is."""

    policies: str | None = Field(None, description="the whole new access.cedar (empty: no product policies)")
    access: str | None = Field(None, description="the whole new access.yaml (empty: no filters or masks)")
    note: str | None = Field(None, description="why, kept with the version")
    expected_version: int | None = Field(
        None, description="the version this change was made against; 409 if it is no longer the newest"
    )


def control_router(service: QueryService) -> APIRouter:
    api = APIRouter(prefix="/api", dependencies=[Depends(authenticated)], tags=["control"])
    plane = ControlPlane(service.ws.metadata, dict(service.ws.config.masks))

    def administered(caller: Caller, product: str, protocol_detail: str) -> ProductSpec:
        if is_anonymous(caller):
            raise no_credentials()
        spec = service.product_spec(product, caller)
        principal = caller.principal
        if principal is None or service.access is None:
            return spec
        allowed = service.may(caller, spec, "administer") or GOVERNANCE in principal.roles
        service.recorder.record(
            AccessEntry(datetime.now(UTC), caller.name, product, None, "administer", allowed, (), "rest",
                        protocol_detail)
        )  # fmt: skip
        if not allowed:
            raise PermissionDenied(
                f"permission denied: {caller.name} may not see or change the control of {product}",
                hint="its owner team and the governance role may",
            )
        return spec

    @api.get("/products/{product}/control", summary="A product's access policies and row filters")
    def get_control(caller: CALLER, product: Annotated[str, PRODUCT]) -> dict[str, Any]:
        """The control in force: `policies` (access.cedar), `access` (access.yaml: row filters and masks),
        its `version`, `author`, `at` and `note`."""
        spec = administered(caller, product, "GET control")
        return _document(plane.current(spec))

    @api.put("/products/{product}/control", summary="Change a product's access policies and row filters")
    def put_control(
        caller: CALLER,
        product: Annotated[str, PRODUCT],
        change: Annotated[ControlChange, Body(description="the new policies and/or access file")],
    ) -> dict[str, Any]:
        """Checks the new control completely (400 with every problem positioned; nothing changes), then
        puts it in force and stores it as the next version, with the caller as author."""
        spec = administered(caller, product, "PUT control")
        try:
            version = plane.change(
                spec, author=caller.name, policies=change.policies, access=change.access, note=change.note,
                expected=change.expected_version,
            )  # fmt: skip
        except SpecError as exc:
            raise InvalidRequest("body", exc.message, hint=exc.hint) from None
        return _document(version)

    @api.get("/products/{product}/control/versions", summary="Every version of a product's control")
    def control_versions(caller: CALLER, product: Annotated[str, PRODUCT]) -> list[dict[str, Any]]:
        spec = administered(caller, product, "GET control/versions")
        return [_document(v) for v in plane.history(spec)]

    @api.get("/products/{product}/control/explain", summary="What a principal may do and see, and why")
    def explain(
        caller: CALLER,
        product: Annotated[str, PRODUCT],
        principal: Annotated[str, Query(description="the principal to explain")],
    ) -> dict[str, Any]:
        """Per action, whether the principal is allowed and which policies decided; per output port, the
        row filters and masks that apply to it."""
        spec = administered(caller, product, f"explain {principal}")
        subject = Identities(service.ws).principal(principal)
        if subject is None:
            raise NotFound(f"no principal {principal!r}")
        control = service.access
        if control is None:
            from daap.mesh.policy.access import AccessControl

            control = AccessControl.for_mesh(service.ws.config)
        return control.explain(subject, spec)

    @api.get("/access-log", summary="Allowed and denied accesses (governance role)")
    def access_log(
        caller: CALLER,
        product: Annotated[str | None, Query(description="only this product")] = None,
        principal: Annotated[str | None, Query(description="only this principal")] = None,
        action: Annotated[
            str | None, Query(description="only this action: discover, read, administer, …")
        ] = None,
        allowed: Annotated[
            bool | None, Query(description="only allowed (true) or denied (false) accesses")
        ] = None,
        since: Annotated[
            datetime | None, Query(description="only accesses at or after this ISO 8601 time")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=10_000, description="how many, newest first")] = 100,
    ) -> list[dict[str, Any]]:
        """Newest first: who, which product and port, which action, allowed or not, the policies that
        decided, when, and through which protocol."""
        if is_anonymous(caller):
            raise no_credentials()
        if caller.principal is not None and GOVERNANCE not in caller.principal.roles:
            raise PermissionDenied(
                f"permission denied: {caller.name} may not read the access log",
                hint="the governance role may",
            )
        service.recorder.flush()
        entries = service.ws.metadata.access_log(
            product=product, principal=principal, action=action, allowed=allowed, since=since, limit=limit
        )
        return [e.as_json() for e in entries]

    return api


def _document(version: Any) -> dict[str, Any]:
    return {
        "product": version.product,
        "version": version.version,
        "policies": version.policies,
        "access": version.access,
        "digest": version.digest,
        "author": version.author,
        "at": version.at.isoformat(),
        "note": version.note,
    }


__all__ = ["GOVERNANCE", "ControlChange", "control_router"]
