"""Routes of the registry API; each is a thin call into :class:`SchemaRegistry`.

Handlers are plain functions: Starlette runs them in its thread pool, so the
store's blocking calls never stall the event loop.

With an :class:`~daap.mesh.policy.authn.Authenticator` that requires it, every
route needs ``Authorization: Bearer <token>`` (Confluent clients:
``bearer.auth.credentials.source=STATIC_TOKEN``); without a valid one the answer
is 401 ``{"error_code": 40101, "message": ...}`` (Confluent's code for it) with
``WWW-Authenticate: Bearer``, before the body is even read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from daap.errors import AuthenticationError, DaapError
from daap.mesh.policy.authn import Authenticator, challenge
from daap.mesh.registry.service import GLOBAL, TYPES, RegistryError, SchemaRegistry, schema_from_body

MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
ACCEPTED = {
    "application/vnd.schemaregistry.v1+json",
    "application/vnd.schemaregistry+json",
    "application/json",
}
MAX_BODY = 4_000_000

Handler = Callable[[SchemaRegistry, Request], Any]


#: Confluent's error code of a request without valid credentials
UNAUTHORIZED = 40101


def create_app(registry: SchemaRegistry, authenticator: Authenticator | None = None) -> Starlette:
    """The API over ``registry``; ``authenticator`` says who requests are (default: nobody asked)."""
    auth = authenticator or Authenticator()

    def endpoint(handler: Handler) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            from starlette.concurrency import run_in_threadpool

            refused = await _authenticate(auth, request) if auth.required else None
            if refused is not None:
                return refused
            try:
                body = await _body(request)
                request.state.body = body
                result = await run_in_threadpool(handler, registry, request)
            except RegistryError as exc:
                return _json(exc.body(), exc.status)
            except DaapError as exc:  # the store failed
                return _json({"error_code": 50001, "message": f"Error in the backend data store: {exc}"}, 500)
            if isinstance(result, Response):
                return result
            return _json(result, 200)

        return run

    routes = [
        Route("/", endpoint(lambda r, q: {}), methods=["GET"]),
        Route("/schemas/types", endpoint(lambda r, q: list(TYPES)), methods=["GET"]),
        Route("/schemas/ids/{id}", endpoint(_schema_by_id), methods=["GET"]),
        Route("/schemas/ids/{id}/schema", endpoint(_raw_schema_by_id), methods=["GET"]),
        Route("/schemas/ids/{id}/subjects", endpoint(_subjects_of_id), methods=["GET"]),
        Route("/schemas/ids/{id}/versions", endpoint(_versions_of_id), methods=["GET"]),
        Route("/subjects", endpoint(_subjects), methods=["GET"]),
        Route("/subjects/{subject}", endpoint(_lookup), methods=["POST"]),
        Route("/subjects/{subject}", endpoint(_delete_subject), methods=["DELETE"]),
        Route("/subjects/{subject}/versions", endpoint(_versions), methods=["GET"]),
        Route("/subjects/{subject}/versions", endpoint(_register), methods=["POST"]),
        Route("/subjects/{subject}/versions/{version}", endpoint(_version), methods=["GET"]),
        Route("/subjects/{subject}/versions/{version}", endpoint(_delete_version), methods=["DELETE"]),
        Route("/subjects/{subject}/versions/{version}/schema", endpoint(_raw_version), methods=["GET"]),
        Route(
            "/subjects/{subject}/versions/{version}/referencedby", endpoint(_referenced_by), methods=["GET"]
        ),
        Route("/compatibility/subjects/{subject}/versions/{version}", endpoint(_check_one), methods=["POST"]),
        Route("/compatibility/subjects/{subject}/versions", endpoint(_check_all), methods=["POST"]),
        Route("/config", endpoint(_get_config), methods=["GET"]),
        Route("/config", endpoint(_put_config), methods=["PUT"]),
        Route("/config", endpoint(_delete_config), methods=["DELETE"]),
        Route("/config/{subject}", endpoint(_get_config), methods=["GET"]),
        Route("/config/{subject}", endpoint(_put_config), methods=["PUT"]),
        Route("/config/{subject}", endpoint(_delete_config), methods=["DELETE"]),
        Route("/mode", endpoint(_get_mode), methods=["GET"]),
        Route("/mode", endpoint(_put_mode), methods=["PUT"]),
        Route("/mode/{subject}", endpoint(_get_mode), methods=["GET"]),
        Route("/mode/{subject}", endpoint(_put_mode), methods=["PUT"]),
        Route("/mode/{subject}", endpoint(_delete_mode), methods=["DELETE"]),
    ]
    app = Starlette(routes=routes)
    app.state.registry = registry
    return app


# -- request and response ----------------------------------------------------------------


async def _authenticate(auth: Authenticator, request: Request) -> Response | None:
    """Keep the request's caller in ``request.state.caller``; the 401 response if it has none."""
    from starlette.concurrency import run_in_threadpool

    header = request.headers.get("authorization")
    try:
        request.state.caller = await run_in_threadpool(auth.authenticate_header, header)
    except AuthenticationError as exc:
        message = f"{exc.message}; {exc.hint}" if exc.hint else exc.message
        response = _json({"error_code": UNAUTHORIZED, "message": message}, 401)
        response.headers["WWW-Authenticate"] = challenge(header is not None)
        return response
    return None


async def _body(request: Request) -> Any:
    """The JSON body of a POST or PUT; None for other methods."""
    if request.method not in ("POST", "PUT"):
        return None
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if kind not in ACCEPTED:
        raise RegistryError(
            415, 415, f"Unsupported content type {kind!r}; send {MEDIA_TYPE} or application/json"
        )
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise RegistryError(413, 413, f"Request body of {len(raw):,} bytes is larger than {MAX_BODY:,}")
    try:
        return json.loads(raw or b"{}")
    except ValueError as exc:
        raise RegistryError(400, 400, f"Malformed JSON body: {exc}") from None


def _json(value: Any, status: int) -> Response:
    return Response(json.dumps(value), status_code=status, media_type=MEDIA_TYPE)


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() == "true"


def _subject(request: Request) -> str:
    return str(request.path_params.get("subject", GLOBAL))


def _id(request: Request) -> int:
    text = request.path_params["id"]
    try:
        return int(text)
    except ValueError:
        raise RegistryError(404, 40403, f"Schema {text} not found") from None


def _object(request: Request) -> dict[str, Any]:
    body = request.state.body
    if not isinstance(body, dict):
        raise RegistryError(422, 422, "Unrecognized request body: expected a JSON object")
    return body


# -- handlers ----------------------------------------------------------------------------


def _schema_by_id(registry: SchemaRegistry, request: Request) -> Any:
    return registry.schema_by_id(_id(request))


def _raw_schema_by_id(registry: SchemaRegistry, request: Request) -> Any:
    return Response(registry.raw_schema(_id(request)), media_type=MEDIA_TYPE)


def _subjects_of_id(registry: SchemaRegistry, request: Request) -> Any:
    return registry.subjects_of(_id(request), _flag(request, "deleted"))


def _versions_of_id(registry: SchemaRegistry, request: Request) -> Any:
    return registry.versions_of(_id(request), _flag(request, "deleted"))


def _subjects(registry: SchemaRegistry, request: Request) -> Any:
    return registry.subjects(request.query_params.get("subjectPrefix", ""), _flag(request, "deleted"))


def _lookup(registry: SchemaRegistry, request: Request) -> Any:
    schema, _, _ = schema_from_body(_object(request))
    return registry.lookup(_subject(request), schema, _flag(request, "deleted"))


def _delete_subject(registry: SchemaRegistry, request: Request) -> Any:
    return registry.delete_subject(_subject(request), _flag(request, "permanent"))


def _versions(registry: SchemaRegistry, request: Request) -> Any:
    return registry.versions(_subject(request), _flag(request, "deleted"))


def _register(registry: SchemaRegistry, request: Request) -> Any:
    schema, schema_id, version = schema_from_body(_object(request))
    return {"id": registry.register(_subject(request), schema, schema_id, version)}


def _version(registry: SchemaRegistry, request: Request) -> Any:
    return registry.version(_subject(request), request.path_params["version"], _flag(request, "deleted"))


def _raw_version(registry: SchemaRegistry, request: Request) -> Any:
    found = registry.version(_subject(request), request.path_params["version"])
    return Response(found["schema"], media_type=MEDIA_TYPE)


def _referenced_by(registry: SchemaRegistry, request: Request) -> Any:
    return registry.referenced_by(_subject(request), request.path_params["version"])


def _delete_version(registry: SchemaRegistry, request: Request) -> Any:
    return registry.delete_version(
        _subject(request), request.path_params["version"], _flag(request, "permanent")
    )


def _check_one(registry: SchemaRegistry, request: Request) -> Any:
    schema, _, _ = schema_from_body(_object(request))
    version = request.path_params["version"]
    return registry.check(_subject(request), schema, version, _flag(request, "verbose"))


def _check_all(registry: SchemaRegistry, request: Request) -> Any:
    schema, _, _ = schema_from_body(_object(request))
    return registry.check(_subject(request), schema, None, _flag(request, "verbose"))


def _get_config(registry: SchemaRegistry, request: Request) -> Any:
    return registry.get_config(_subject(request), _flag(request, "defaultToGlobal"))


def _put_config(registry: SchemaRegistry, request: Request) -> Any:
    return registry.set_config(_subject(request), _object(request).get("compatibility"))


def _delete_config(registry: SchemaRegistry, request: Request) -> Any:
    return registry.delete_config(_subject(request))


def _get_mode(registry: SchemaRegistry, request: Request) -> Any:
    return registry.get_mode(_subject(request), _flag(request, "defaultToGlobal"))


def _put_mode(registry: SchemaRegistry, request: Request) -> Any:
    return registry.set_mode(_subject(request), _object(request).get("mode"), _flag(request, "force"))


def _delete_mode(registry: SchemaRegistry, request: Request) -> Any:
    return registry.delete_mode(_subject(request))
