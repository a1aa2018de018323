"""daap errors as PostgreSQL ErrorResponses: SQLSTATE codes chosen by what went wrong.

The core raises protocol-independent :class:`~daap.errors.QueryError` and friends;
this is the one place that turns them into SQLSTATEs (DESIGN.md: translate errors at
the boundary). Engine messages are matched by pattern, first match wins, so a new
case is one line in :data:`_BY_MESSAGE`.
"""

from __future__ import annotations

import re

from daap.errors import AuthenticationError, DaapError, NotFound, PermissionDenied, QueryError, QueryRefused


class PgError(Exception):
    """An error to send to the client as an ErrorResponse."""

    def __init__(
        self,
        sqlstate: str,
        message: str,
        *,
        hint: str | None = None,
        position: int | None = None,
        severity: str = "ERROR",
    ) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.message = message
        self.hint = hint
        self.position = position
        self.severity = severity


#: (pattern in the engine's message, SQLSTATE)
_BY_MESSAGE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), code)
    for p, code in (
        (r"cannot parse|syntax error|parser error", "42601"),
        (r"unknown table|table with name .* does not exist|has no output port|no published version", "42P01"),
        (r"column .* not found|referenced column|does not have a column", "42703"),
        (r"function .* does not exist|no function matches|scalar function with name", "42883"),
        (r"could not convert|conversion error|invalid input syntax|cannot cast", "22P02"),
        (r"division by zero", "22012"),
        (r"out of range|overflow", "22003"),
        (r"has no version|expired", "22023"),
        (r"interrupt", "57014"),
    )
)


def from_daap(exc: Exception) -> PgError:
    """The ErrorResponse for an exception raised by the query path."""
    if isinstance(exc, PgError):
        return exc
    if isinstance(exc, PermissionDenied):
        return PgError("42501", exc.message, hint=exc.hint)
    if isinstance(exc, AuthenticationError):
        return PgError("28000", exc.message, hint=exc.hint)
    if isinstance(exc, QueryRefused):
        return PgError(_refused_code(exc), exc.message, hint=exc.hint)
    if isinstance(exc, NotFound):
        return PgError("42P01", exc.message, hint=exc.hint)
    if isinstance(exc, QueryError):
        code = next((c for p, c in _BY_MESSAGE if p.search(exc.message)), "42000")
        return PgError(code, exc.message, hint=exc.hint)
    if isinstance(exc, DaapError):
        return PgError("XX000", exc.message, hint=exc.hint)
    return PgError("XX000", f"internal error: {type(exc).__name__}: {exc}")


def _refused_code(exc: QueryRefused) -> str:
    """Writes and DDL: 25006 (read-only transaction); files, functions, settings: 42501."""
    return "25006" if "read-only queries" in exc.message else "42501"


def syntax_error(sql: str, line: int, col: int, description: str) -> PgError:
    """42601 with the ``P`` field: a 1-based character offset into the statement text."""
    lines = sql.split("\n")
    offset = sum(len(ln) + 1 for ln in lines[: max(line - 1, 0)]) + max(col, 1)
    return PgError("42601", f"syntax error: {description}", position=min(offset, len(sql)) or 1)
