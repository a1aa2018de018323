"""Who an HTTP request is: the bearer token's principal, as a FastAPI dependency."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from daap.mesh.policy.authn import Authenticator, Caller
from daap.query.service import QueryService

BEARER = HTTPBearer(
    auto_error=False,
    description="a daap token (`daap token create PRINCIPAL`), required when the mesh has principals",
)


def authenticated(
    request: Request, _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]
) -> Caller:
    """Who the request is: the caller its queries carry (a plain function: the metadata store blocks).

    Raises:
        AuthenticationError: authentication is on and the token is missing or not valid (401).
    """
    authenticator: Authenticator = request.app.state.authenticator
    # no credentials at all: the anonymous caller, who reads public products and nothing else
    return authenticator.authenticate_header(request.headers.get("authorization"), anonymous=True)


#: the caller of the request; FastAPI runs :func:`authenticated` once per request however often it is named
CALLER = Annotated[Caller, Depends(authenticated)]


def visible(service: QueryService, caller: Caller) -> Collection[str] | None:
    """The products ``caller`` may discover (None: all, for the local caller). Deleted products (no
    folder) only for the local caller and the governance role."""
    found = service.visible_products(caller)
    principal = caller.principal
    if found is None or principal is None or "governance" not in principal.roles:
        return found
    known = {s.name for s in service.products()}
    return found | {name for name, _ in service.ws.metadata.catalog_names() if name not in known}


__all__ = ["BEARER", "CALLER", "authenticated", "visible"]
