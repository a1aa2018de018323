"""``daap up``: serve every output port of the mesh over every protocol.

HTTP (REST under ``/api``, GraphQL at ``/graphql``), Arrow Flight SQL and the
PostgreSQL wire protocol, all over one :class:`~daap.query.service.QueryService`,
bound to 127.0.0.1 unless told otherwise. SIGTERM or Ctrl-C shuts everything
down cleanly. The servers are composed here, in the CLI: they never import
each other.

Every port authenticates with one :class:`~daap.mesh.policy.authn.Authenticator`:
required when the workspace has a principal (``mesh.yaml`` or ``daap principal
add``), off otherwise, and ``--auth/--no-auth`` overrides. HTTP and Flight SQL
take ``Authorization: Bearer <token>``; PostgreSQL clients log in as the
principal with the token as password. ``/healthz`` and ``/metrics`` stay open:
Prometheus scrapes without credentials, and the metrics carry counts and
timings, never rows.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from daap.cli import output
from daap.cli.main import cli, handle_errors
from daap.errors import UsageError

if TYPE_CHECKING:
    from daap.mesh.policy.authn import Authenticator

PG_PASSWORD = "DAAP_PG_PASSWORD"
NO_PRINCIPALS = (
    "no principals: every port is open to anyone who can reach it; add one with daap principal add"
)


@dataclass(frozen=True)
class Ports:
    host: str
    http: int
    flight: int
    pg: int


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address every server binds.")
@click.option("--http-port", default=8080, show_default=True, help="REST, GraphQL (/graphql) and OpenAPI.")
@click.option("--flight-port", default=8815, show_default=True, help="Arrow Flight SQL.")
@click.option("--pg-port", default=5433, show_default=True, help="PostgreSQL wire protocol.")
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM certificate: Flight SQL and the PostgreSQL port then speak TLS.",
)
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="PEM key.")
@click.option(
    "--watch/--no-watch",
    default=True,
    show_default=True,
    help="Build the mesh, then rebuild products as their files or upstream products change (`daap watch`).",
)
@click.option(
    "--auth/--no-auth",
    default=None,
    help="Require a bearer token on every port (default: when the workspace has principals).",
)
@click.pass_context
@handle_errors
def up(
    ctx: click.Context,
    host: str,
    http_port: int,
    flight_port: int,
    pg_port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    watch: bool,
    auth: bool | None,
) -> None:
    """Serve the mesh's products over REST, GraphQL, Flight SQL and PostgreSQL wire.

    When the workspace has principals, every port needs a token (`daap token create`):
    HTTP and Flight SQL as `Authorization: Bearer <token>`, PostgreSQL as the password of
    the principal's user name. Without principals every port is open; PostgreSQL clients
    then log in with any user name when DAAP_PG_PASSWORD is unset (trust, for local
    development), else with SCRAM-SHA-256 as user `daap`.
    """
    from daap.mesh.workspace import Workspace
    from daap.query.service import QueryService

    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    ws = Workspace.open(ctx.obj)
    service = QueryService(ws)
    ports = Ports(host, http_port, flight_port, pg_port)
    try:
        serve_mesh(service, ports, _tls(tls_cert, tls_key), watch=watch, auth=auth)
    finally:
        ws.close()


def serve_mesh(
    service: Any, ports: Ports, tls: tuple[Path, Path] | None, *, watch: bool = True, auth: bool | None = None
) -> None:
    """Start Flight SQL and PostgreSQL in threads, then HTTP in the foreground until a signal.

    With ``watch``, the mesh watcher runs in a thread too, on a workspace of its own.
    ``auth`` requires tokens (True), serves open (False), or decides by whether the workspace
    has principals (None).
    """
    import uvicorn

    from daap.cli.watch import watch_in_thread
    from daap.mesh.policy.authn import Authenticator
    from daap.servers.flight import FlightSqlServer
    from daap.servers.pgwire import PgWireServer

    _check_free(ports)
    authenticator = Authenticator.for_workspace(service.ws, auth)
    recorder = None
    if authenticator.required:  # each product's access policy decides who reads it, and it is logged
        from daap.mesh.policy.accesslog import AccessLog

        recorder = AccessLog(service.ws.metadata)
        service.enforce_policies(recorder=recorder)
    app = http_app(service, authenticator)
    app.state.ports = {"flight": ports.flight, "pg": ports.pg}  # the product pages' snippets name them
    flight_tls = [(tls[0].read_bytes(), tls[1].read_bytes())] if tls else None
    scheme = "grpc+tls" if tls else "grpc"
    flight = FlightSqlServer(
        service,
        location=f"{scheme}://{ports.host}:{ports.flight}",
        tls_certificates=flight_tls,
        authenticator=authenticator,
    )
    flight_handle = flight.serve_in_thread()
    password = os.environ.get(PG_PASSWORD)
    pg_auth = pg_authenticator(authenticator, password)
    callers = authenticator.principal_caller if authenticator.required else None
    pg = PgWireServer(
        service, host=ports.host, port=ports.pg, auth=pg_auth, ssl_context=_ssl_context(tls), callers=callers
    )
    pg_handle = pg.serve_in_thread()
    watcher = watch_in_thread(service.ws.root) if watch else None
    try:
        _print_connect(ports, bool(password), tls is not None, watch, authenticator)
        _warn_auth(authenticator, bool(password))
        server = uvicorn.Server(uvicorn.Config(app, host=ports.host, port=ports.http, log_level="warning"))
        freeze_startup_heap()
        # uvicorn stops on SIGTERM/SIGINT, then re-raises the signal with the handler
        # installed before it; a quiet one lets us stop the other servers and exit 0.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
        server.run()
    finally:
        if watcher is not None:
            watcher[1].set()
            watcher[0].join(timeout=30)
        pg_handle.stop()
        flight_handle.shutdown()
        if recorder is not None:
            recorder.close()
        output.note("daap stopped")


def _check_free(ports: Ports) -> None:
    """Refuse to start, naming the port and its option, when one is taken.

    The servers would otherwise fail deep inside gRPC or asyncio with messages
    that do not say which option to change.
    """
    options = (
        ("--http-port", "HTTP", ports.http),
        ("--flight-port", "Flight SQL", ports.flight),
        ("--pg-port", "PostgreSQL", ports.pg),
    )
    for option, what, port in options:
        with socket.socket() as probe:
            try:
                probe.bind((ports.host, port))
            except OSError as exc:
                raise UsageError(
                    f"cannot serve {what} on {ports.host}:{port}: {exc.strerror}",
                    hint=f"choose another port with {option}, or stop what uses it",
                ) from None


def pg_authenticator(authenticator: Authenticator, password: str | None = None) -> Any:
    """The PostgreSQL port's authenticator: SCRAM-SHA-256 against the principal's live tokens
    when authentication is required (user = principal, password = token); else SCRAM as user
    ``daap`` with ``password``, or trust without one."""
    from daap.servers.pgwire import Scram, ScramMany, Trust, Verifier

    if authenticator.required:
        return ScramMany(lambda user: [Verifier(*v) for v in authenticator.scram_verifiers(user)])
    return Scram({"daap": password}) if password else Trust()


def http_app(service: Any, authenticator: Authenticator | None = None) -> Any:
    """The HTTP server: REST and OpenAPI at the root, GraphQL at /graphql, the schema registry
    at /registry, Prometheus metrics at /metrics, the web UI at /.

    ``authenticator`` guards REST, GraphQL and the registry (default: nobody asked);
    ``/healthz``, ``/metrics``, ``/docs`` and ``/openapi.json`` stay open.
    """
    from starlette.routing import Route

    from daap import web
    from daap.mesh.observe.report import QualityFamilies
    from daap.servers.graphql import create_app as graphql_app
    from daap.servers.registry import create_app as registry_app
    from daap.servers.rest import create_app as rest_app

    app = rest_app(service, authenticator)
    graphql = graphql_app(service, authenticator=authenticator)
    # `/graphql` and `/graphql/` both answer: a redirect would lose a POST body in curl
    app.router.routes.append(Route("/graphql", endpoint=graphql, methods=["GET", "POST"]))
    observed = metrics_endpoint(service, [QualityFamilies(service.ws)])
    app.router.routes.append(Route("/metrics", endpoint=observed, methods=["GET"]))
    app.mount("/graphql", graphql)
    app.mount("/registry", registry_app(service.ws.registry, authenticator))
    app.router.routes.append(Route("/", endpoint=web.index, methods=["GET"]))
    app.mount("/ui", web.app())
    return app


def freeze_startup_heap() -> None:
    """Leave what start-up made (modules, specs, schemas) out of every later garbage collection.

    A request makes thousands of short-lived objects, so full collections come often; each
    would otherwise walk the whole server heap (measured on the lineage endpoint: p95 69 ms
    before, 18 ms after, the median unchanged).
    """
    gc.collect()
    gc.freeze()


def metrics_endpoint(service: Any, sources: Sequence[Any] = ()) -> Any:
    """``GET /metrics``: the service's query metrics and the mesh's (and those of ``sources``,
    :data:`~daap.mesh.observe.metrics.FamilySource` callables), in the Prometheus text format.

    One :class:`~daap.mesh.observe.metrics.Exposition` serves every scrape, so each reads only the
    builds and publications that are new since the last. A plain function: Starlette runs it in its
    thread pool, off the event loop, as the metadata store blocks.
    """
    from starlette.requests import Request
    from starlette.responses import Response

    from daap.mesh.observe.metrics import Exposition

    exposition = Exposition(service, sources)

    def metrics(request: Request) -> Response:
        return Response(exposition.render(), media_type=exposition.content_type)

    return metrics


def _tls(cert: Path | None, key: Path | None) -> tuple[Path, Path] | None:
    return (cert, key) if cert is not None and key is not None else None


def _ssl_context(tls: tuple[Path, Path] | None) -> ssl.SSLContext | None:
    if tls is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls[0]), str(tls[1]))
    return context


def _print_connect(
    ports: Ports, password: bool, tls: bool, watch: bool, authenticator: Authenticator
) -> None:
    host = ports.host
    sslmode = "require" if tls else "disable"
    flight = f"grpc{'+tls' if tls else ''}://{host}:{ports.flight}"
    lines = [
        f"daap is serving on {host}:",
        f"  Web UI      http://{host}:{ports.http}/   (search, product pages, lineage)",
        f"  REST        http://{host}:{ports.http}/api/tables   (OpenAPI: /openapi.json, docs: /docs)",
        f"  GraphQL     http://{host}:{ports.http}/graphql",
        f"  Registry    http://{host}:{ports.http}/registry   (Confluent Schema Registry API)",
        f"  Metrics     http://{host}:{ports.http}/metrics   (Prometheus, open)",
        f"  Flight SQL  {flight}",
        f"  PostgreSQL  {host}:{ports.pg}",
        "",
        authenticator.describe(),
        "",
        *(_connect_with_token if authenticator.required else _connect_open)(ports, password, sslmode, flight),
        "",
        *(
            [
                "products rebuild when their files or upstream products change;",
                "follow their change events with: daap events tail PRODUCT",
                "",
            ]
            if watch
            else []
        ),
        "stop with Ctrl-C (or SIGTERM)",
    ]
    for line in lines:
        output.out.print(line, markup=False, highlight=False)


def _connect_open(ports: Ports, password: bool, sslmode: str, flight: str) -> list[str]:
    host, user = ports.host, "daap" if password else "you"
    return [
        "connect with:",
        f"  psql 'host={host} port={ports.pg} user={user} dbname=daap sslmode={sslmode}' -c '\\dt'",
        f"  curl 'http://{host}:{ports.http}/api/tables'",
        f'  python -c "import adbc_driver_flightsql.dbapi as f; '
        f"c = f.connect('{flight}', autocommit=True).cursor(); c.execute('SELECT 1'); print(c.fetchall())\"",
        f"  curl -s http://{host}:{ports.http}/graphql -H 'content-type: application/json' "
        '-d \'{"query": "{ __schema { queryType { fields { name } } } }"}\'',
    ]


def _connect_with_token(ports: Ports, password: bool, sslmode: str, flight: str) -> list[str]:
    host = ports.host
    header = "Authorization: Bearer $DAAP_TOKEN"
    return [
        "connect with a token (export DAAP_TOKEN=$(daap token create PRINCIPAL --json | jq -r .token)):",
        f"  PGPASSWORD=$DAAP_TOKEN psql 'host={host} port={ports.pg} user=PRINCIPAL dbname=daap "
        f"sslmode={sslmode}' -c '\\dt'",
        f"  curl -H \"{header}\" 'http://{host}:{ports.http}/api/whoami'",
        f'  python -c "import os, adbc_driver_flightsql.dbapi as f; '
        f"c = f.connect('{flight}', db_kwargs={{'adbc.flight.sql.authorization_header': "
        f"'Bearer ' + os.environ['DAAP_TOKEN']}}, autocommit=True).cursor(); "
        f"c.execute('SELECT 1'); print(c.fetchall())\"",
        f"  curl -s http://{host}:{ports.http}/graphql -H \"{header}\" -H 'content-type: application/json' "
        '-d \'{"query": "{ __schema { queryType { fields { name } } } }"}\'',
    ]


def _warn_auth(authenticator: Authenticator, password: bool) -> None:
    """Say so when the ports are open to anyone, or when nobody can get in."""
    principals = authenticator.identities.principals() if authenticator.identities else []
    if not authenticator.required:
        if principals:
            output.note("warning: --no-auth: every port is open to anyone who can reach it")
        else:
            output.note(f"warning: {NO_PRINCIPALS}")
        return
    if not principals:
        output.note(
            "warning: --auth with no principals: nobody can connect until you add one with daap principal add"
        )
    if password:
        output.note(
            f"warning: {PG_PASSWORD} is ignored: PostgreSQL clients log in as a principal with a token"
        )
