"""Errors of the event backbone; they live in :mod:`daap.errors` with every other error."""

from daap.errors import BackboneError, BackboneUnavailable, OffsetOutOfRange

__all__ = ["BackboneError", "BackboneUnavailable", "OffsetOutOfRange"]
