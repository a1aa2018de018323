"""The web UI: static files (HTML, CSS, JavaScript modules) that talk to the HTTP API only.

``daap up`` serves :func:`index` at ``/`` and mounts :func:`app` at ``/ui`` (the page's scripts,
styles and icons); every other path stays the API's. Everything the browser loads comes from this folder,
so the UI works with no network; the Content-Security-Policy header says so to the browser.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

#: the UI's files, shipped with the package
STATIC = Path(__file__).parent / "static"

#: nothing from anywhere but the server itself; inline scripts and frames refused
POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def index(request: Any) -> Any:
    """``GET /``: the page; its views are routed in the browser (``#/product/NAME`` …)."""
    from starlette.responses import FileResponse

    return FileResponse(STATIC / "index.html", headers=_HEADERS)


_HEADERS = {
    "content-security-policy": POLICY,
    "x-content-type-options": "nosniff",
    "cache-control": "no-cache",
}


def app() -> Any:
    """An ASGI app serving the UI's files, with the policy header."""
    from starlette.staticfiles import StaticFiles

    files = StaticFiles(directory=STATIC)

    async def serve(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def with_policy(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in _HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await files(scope, receive, with_policy)

    return serve
