"""Arrow Flight SQL output port: the mesh's tables for ADBC, JDBC and pyarrow clients.

Usage::

    from daap.servers.flight import FlightSqlServer

    server = FlightSqlServer(QueryService(ws)).serve_in_thread()
    # adbc_driver_flightsql.dbapi.connect(f"grpc://127.0.0.1:{server.port}")
    server.shutdown()

Supported: statement queries and prepared statements with bound parameters
(``?``, ``$1``, ``$name``), catalog metadata (catalogs, db schemas = products,
tables = output ports with their Arrow schemas, table types, SQL info).
Read-only: updates and bulk ingest are refused.

Time travel: send the call header ``x-daap-at`` with a version (``3``), an
ISO-8601 time (``2024-05-01T12:00:00Z``) or per product
(``titles=3,views=2024-05-01T00:00:00Z``). With ADBC, set the connection or
statement option ``adbc.flight.sql.rpc.call_header.x-daap-at``. The value at
``GetFlightInfo`` time is written into the ticket, so ``DoGet`` reads the
same versions.

Authentication: with an :class:`~daap.mesh.policy.authn.Authenticator` that
requires it (``daap up`` on a mesh with principals), every call carries the
header ``authorization: Bearer <token>``; with ADBC, set the database option
``adbc.flight.sql.authorization_header`` to ``Bearer <token>``. A call without a
valid token fails with UNAUTHENTICATED and says why.

The Flight SQL messages are declared in :mod:`.protocol` and built at runtime
(no generated ``_pb2`` module to regenerate).
"""

from daap.servers.flight.server import FlightSqlServer

__all__ = ["FlightSqlServer"]
