"""PostgreSQL wire protocol (v3) server over daap's one query path.

psql, psycopg, JDBC, SQLAlchemy and BI tools connect as to PostgreSQL; a product's
output port is the table ``<product>.<port>``. Time travel: ``SET daap.at = '3'`` (a
version) or ``SET daap.at = '2026-11-24T10:00:00Z'`` (a time), per session, or the
startup option ``options=-c daap.at=3``; ``RESET daap.at`` returns to the latest.

    from daap.servers.pgwire import PgWireServer, Scram
    handle = PgWireServer(service, port=5433, auth=Scram({"alice": "secret"})).serve_in_thread()
"""

from daap.servers.pgwire.auth import Scram, ScramMany, Trust, Verifier
from daap.servers.pgwire.server import PgWireServer, ServerThread

__all__ = ["PgWireServer", "Scram", "ScramMany", "ServerThread", "Trust", "Verifier"]
