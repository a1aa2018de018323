"""The audit log's error; it lives in :mod:`daap.errors` with every other error."""

from daap.errors import AuditError, AuditKind

Kind = AuditKind

__all__ = ["AuditError", "Kind"]
