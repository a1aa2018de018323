"""daap errors as Flight statuses, translated once at the server's boundary.

pyarrow.flight turns the exception a handler raises into a gRPC status:
``ValueError`` becomes INVALID_ARGUMENT, ``KeyError`` NOT_FOUND,
``NotImplementedError`` UNIMPLEMENTED and the ``Flight*Error`` classes their
own codes. ADBC maps those to DB-API errors (INVALID_ARGUMENT and NOT_FOUND to
``ProgrammingError``), so a client can tell its own mistakes from ours.

============================  =================  ==================================
raised                        gRPC status        why
============================  =================  ==================================
QueryRefused, QueryError      INVALID_ARGUMENT   the client's SQL; the message says where
NotFound                      NOT_FOUND          unknown product, port or version
AuthenticationError           UNAUTHENTICATED    no valid token (raised by the call middleware)
PermissionDenied              UNAUTHORIZED       the principal may not do this
malformed command             INVALID_ARGUMENT   garbage bytes, unknown ``Any`` type
write commands                UNIMPLEMENTED      daap is read-only: build products instead
another DaapError             UNAVAILABLE        storage/metadata trouble; retry later
anything else                 INTERNAL           a bug; logged, the message kept short
============================  =================  ==================================
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import pyarrow.flight as flight

from daap.errors import AuthenticationError, DaapError, NotFound, PermissionDenied, QueryError

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


class InvalidArgument(ValueError):
    """The request is wrong (INVALID_ARGUMENT); the message says how."""


class Missing(KeyError):
    """Something named in the request does not exist (NOT_FOUND)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class Unsupported(NotImplementedError):
    """A valid Flight SQL request that daap does not serve (UNIMPLEMENTED)."""


def to_flight(exc: Exception) -> Exception:
    """The exception to raise to the client in place of ``exc``."""
    if isinstance(exc, InvalidArgument | Missing | Unsupported):
        return exc
    if isinstance(exc, flight.FlightError):
        return exc  # type: ignore[no-any-return]
    if isinstance(exc, NotFound):
        return Missing(str(exc))
    if isinstance(exc, AuthenticationError):
        return flight.FlightUnauthenticatedError(str(exc))  # type: ignore[no-any-return]
    if isinstance(exc, PermissionDenied):
        return flight.FlightUnauthorizedError(str(exc))  # type: ignore[no-any-return]
    if isinstance(exc, QueryError):
        return InvalidArgument(str(exc))
    if isinstance(exc, DaapError):
        return flight.FlightUnavailableError(str(exc))  # type: ignore[no-any-return]
    log.exception("Flight SQL request failed")
    return flight.FlightInternalError(  # type: ignore[no-any-return]
        f"internal error in daap's Flight SQL server: {type(exc).__name__}"
    )


def translated(method: F) -> F:
    """Decorate a handler so that whatever it raises reaches the client as a Flight status."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            # pyarrow sends the traceback to the client: keep it to this one frame
            raise to_flight(exc).with_traceback(None) from None

    return wrapper  # type: ignore[return-value]
