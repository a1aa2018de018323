"""GraphQL over the published output ports (DESIGN.md §5): a protocol adapter, nothing more.

``create_app(service)`` returns an ASGI app; ``daap up`` mounts it at
``/graphql`` (it works under any prefix; ``GET`` opens GraphiQL). The schema is
generated from the ports and named queries (see :mod:`.schema` for names and
:mod:`.scalars` for types), every read goes through
:meth:`QueryService.execute`, and :mod:`.limits` refuses requests that are
too deep or ask for too many rows before anything runs. A port field returns
a page::

    { title_popularity__popularity(where: {genre: {eq: "drama"}}, order_by: [{column: hours_watched,
        direction: DESC}], limit: 10) { rows { title hours_watched } next version } }

Pass ``next`` as ``after`` for the following page; the cursor pins the
version, so paging sees one version even while a new build is published.

With an :class:`~daap.mesh.policy.authn.Authenticator` that requires it, every
request but ``GET`` (GraphiQL's page, which runs nothing) needs
``Authorization: Bearer <token>``; without a valid one the answer is HTTP 401,
before the query is even parsed.
"""

from __future__ import annotations

from daap.mesh.policy.authn import Authenticator
from daap.query.service import QueryService
from daap.servers.graphql.app import GraphQLServer
from daap.servers.graphql.limits import Limits

__all__ = ["GraphQLServer", "Limits", "create_app"]


def create_app(
    service: QueryService,
    *,
    limits: Limits | None = None,
    refresh_seconds: float = 2.0,
    authenticator: Authenticator | None = None,
) -> GraphQLServer:
    """The GraphQL ASGI app over ``service``.

    Args:
        service: the one query path; shared with the other servers.
        limits: page sizes, depth and cost limits (defaults in :class:`Limits`).
        refresh_seconds: how stale the schema may get before a request re-checks the ports.
        authenticator: who a request is (for policies); default none asked: every request is the
            unrestricted local caller.
    """
    return GraphQLServer(
        service,
        limits=limits or Limits(),
        refresh_seconds=refresh_seconds,
        authenticator=authenticator or Authenticator(),
    )
