"""The REST output port (FastAPI): :func:`create_app` over a :class:`~daap.query.service.QueryService`.

Modules: :mod:`.app` routes, :mod:`.pages` and :mod:`.rows` the ``/rows``
endpoint's query building and keyset pages, :mod:`.cursor` its cursor,
:mod:`.formats` and :mod:`.jsonrows` the response formats, :mod:`.responses`
streaming, :mod:`.errors` the one place errors become HTTP statuses.
"""

from __future__ import annotations

from daap.servers.rest.app import create_app

__all__ = ["create_app"]
