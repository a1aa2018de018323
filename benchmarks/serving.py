"""daap's HTTP server as ``daap up`` builds it, in a child process, and requests timed against it.

:func:`serve_http` runs ``http_app(QueryService(ws), Authenticator.for_workspace(ws))``
(REST, GraphQL, the registry and the web UI; authentication off, as in a workspace
without principals; the start-up heap frozen, as ``daap up`` does) under uvicorn in its
own process, on a socket bound here on 127.0.0.1 port 0 and handed over (no port race).
The clients here do not share its interpreter lock, as a browser would not.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from benchmarks.runner import profile_lines, python, subprocess_env

#: the socket is rebuilt with ``socket(fileno=)``, which reads its family and protocol back, so
#: asyncio sets TCP_NODELAY on each connection as it does when uvicorn binds the port itself
#: (``daap up``). ``uvicorn.run(fd=)`` does not: its socket claims AF_UNIX, and every response
#: written in two parts would wait for the client's delayed ACK (about 40 ms on Linux).
SERVE = (
    "import socket, sys, uvicorn; from pathlib import Path; "
    "from daap.cli.up import freeze_startup_heap, http_app; "
    "from daap.mesh.policy.authn import Authenticator; from daap.mesh.workspace import Workspace; "
    "from daap.query.service import QueryService; ws = Workspace.open(Path(sys.argv[1])); "
    "app = http_app(QueryService(ws), Authenticator.for_workspace(ws)); "
    "server = uvicorn.Server(uvicorn.Config(app, log_level='warning')); freeze_startup_heap(); "
    "server.run(sockets=[socket.socket(fileno=int(sys.argv[2]))])"
)


@contextmanager
def serve_http(root: Path) -> Iterator[str]:
    """Yields the base URL (``http://127.0.0.1:<port>``) while the workspace at ``root`` is served."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    cmd = [python(), "-c", SERVE, str(root), str(sock.fileno())]
    proc = subprocess.Popen(cmd, env=subprocess_env(), pass_fds=[sock.fileno()])
    sock.close()
    try:
        _wait_until_up(base, proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


def _wait_until_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the HTTP server did not start")


def latencies(client: httpx.Client, requests: Sequence[tuple[str, Mapping[str, Any]]]) -> list[float]:
    """Milliseconds of each ``GET path?params``, one at a time, the whole body received (not parsed).

    Raises:
        RuntimeError: a request did not answer 200.
    """
    times = []
    for path, params in requests:
        start = time.perf_counter()
        response = client.get(path, params=params)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} {dict(params)}: {response.status_code} {response.text[:300]}")
    return times


def profile_route(root: Path, title: str, route: str, calls: Sequence[Mapping[str, Any]]) -> list[str]:
    """cProfile of the endpoint of ``route`` (``/api/lineage``) called here, once per ``calls``
    (its arguments), as the local caller: the route's own work, without HTTP and serialization.

    The served child cannot be profiled from here, and in a server the endpoint runs on a
    worker thread, which cProfile does not follow; this calls the same function in this thread.
    """
    from starlette.requests import Request

    from daap.cli.up import http_app
    from daap.mesh.policy.authn import LOCAL, Authenticator
    from daap.mesh.workspace import Workspace
    from daap.query.service import QueryService

    ws = Workspace.open(root)
    try:
        app = http_app(QueryService(ws), Authenticator.for_workspace(ws))
        endpoint = _endpoint(app.routes, route)
        scope = {"type": "http", "method": "GET", "scheme": "http", "server": ("127.0.0.1", 80),
                 "path": route, "root_path": "", "query_string": b"", "headers": [], "app": app}  # fmt: skip

        def run() -> None:
            for kwargs in calls:
                endpoint(request=Request(scope), caller=LOCAL, **kwargs)

        run()  # warm: imports, the engine, caches
        return profile_lines(title, run)
    finally:
        ws.close()


def _endpoint(routes: Sequence[Any], path: str) -> Any:
    """The function serving GET ``path`` among ``routes``, looking into included routers.

    FastAPI 0.16x includes a router lazily: the app lists it, with its routes under
    ``original_router``, rather than the routes themselves.
    """
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            try:
                return _endpoint(inner.routes, path)
            except LookupError:
                continue
        if getattr(route, "path", None) == path and "GET" in (getattr(route, "methods", None) or ()):
            return route.endpoint
    raise LookupError(f"no GET {path} in the HTTP app")
