"""Errors at the HTTP boundary: one table from exception to status, one JSON body shape.

The core raises :mod:`daap.errors`; this module is the only place that knows
HTTP statuses (STYLE habit 9). Every error body is::

    {"error": {"type": "QueryRefused", "message": "...", "hint": "..." | null}}

Statuses: 400 the SQL is invalid or refused (a write, a file read), 401 no
valid bearer token (with ``WWW-Authenticate: Bearer``), 403 the principal may
not do what it asked, 404 an unknown product, port, version or named query,
422 a bad request parameter (filter, cursor, format, named-query argument,
``at``), 500 only for faults of the server itself.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from daap.errors import AuthenticationError, DaapError, NotFound, PermissionDenied, QueryError, QueryRefused
from daap.mesh.policy.authn import challenge
from daap.mesh.policy.control import ControlConflict

log = logging.getLogger(__name__)


class InvalidRequest(DaapError):
    """A request parameter cannot be used as given (HTTP 422).

    Args:
        parameter: the query parameter or body field at fault, e.g. ``price__gt``.
    """

    def __init__(self, parameter: str, message: str, *, hint: str | None = None) -> None:
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}", hint=hint)


class BadBody(DaapError):
    """A request body that cannot be taken as it is (an OpenLineage event that is not one): 400."""


#: most specific first: the first class an error is an instance of decides its status
STATUS: tuple[tuple[type[DaapError], int], ...] = (
    (InvalidRequest, 422),
    (BadBody, 400),
    (AuthenticationError, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (ControlConflict, 409),
    (QueryRefused, 400),
    (QueryError, 400),
    (DaapError, 500),
)


def error_body(kind: str, message: str, hint: str | None = None) -> dict[str, dict[str, str | None]]:
    return {"error": {"type": kind, "message": message, "hint": hint}}


def status_of(exc: DaapError) -> int:
    return next(status for cls, status in STATUS if isinstance(exc, cls))


async def _daap_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DaapError)
    status = status_of(exc)
    if status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
    headers = {"WWW-Authenticate": challenge("authorization" in request.headers)} if status == 401 else None
    return JSONResponse(error_body(type(exc).__name__, exc.message, exc.hint), status, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own parameter checks (``_size=abc``), in our body shape, naming the parameter."""
    assert isinstance(exc, RequestValidationError)
    problems = [f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()]
    return JSONResponse(error_body("InvalidRequest", "; ".join(problems)), status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    body = error_body("InternalError", "the server failed; the error is in its log")
    return JSONResponse(body, status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers: every error leaves the app through :data:`STATUS`."""
    app.add_exception_handler(DaapError, _daap_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
