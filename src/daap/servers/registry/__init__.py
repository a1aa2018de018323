"""The schema registry's HTTP API, Confluent-compatible (Starlette): :func:`create_app`.

Mounted at ``/registry`` by ``daap up`` and served alone by ``daap registry serve``.
Requests may be ``application/vnd.schemaregistry.v1+json``,
``application/vnd.schemaregistry+json`` or ``application/json``; answers are
``application/vnd.schemaregistry.v1+json``. Errors are ``{"error_code", "message"}``
with the registry's codes (see :mod:`daap.mesh.registry.service`).
"""

from __future__ import annotations

from daap.servers.registry.app import create_app

__all__ = ["create_app"]
