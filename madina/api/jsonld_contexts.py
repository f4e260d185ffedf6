"""/jsonldContexts: the broker's @context cache over HTTP (ETSI GS CIM 009 clause 6.30).

Thin: parse the request, call the `ContextResolver` kept in `app.state.contexts`, render.
Paths are relative to /ngsi-ld/v1.
"""

from __future__ import annotations

from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from madina.auth.principal import Role
from madina.auth.rules import PUBLIC_READ, allow
from madina.context.errors import BadRequestData, InvalidRequest
from madina.context.jsonld import ContextResolver

_BASE = "/ngsi-ld/v1/jsonldContexts/"


def _resolver(request: Request) -> ContextResolver:
    resolver: ContextResolver = request.app.state.contexts
    return resolver


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false")
    if value not in ("true", "false"):
        raise BadRequestData(f"{name} must be true or false, not {value!r}")
    return value == "true"


def _only_params(request: Request, allowed: set[str]) -> None:
    unknown = set(request.query_params) - allowed
    if unknown:
        raise BadRequestData(f"unknown query parameters: {', '.join(sorted(unknown))}")


def _json(body: object, status_code: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


@allow(PUBLIC_READ)
async def list_contexts(request: Request) -> Response:
    _only_params(request, {"details", "kind"})
    kind = request.query_params.get("kind")
    return _json(_resolver(request).list(_flag(request, "details"), kind))


@allow(Role.OPERATOR)
async def add_context(request: Request) -> Response:
    _only_params(request, set())
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as error:
        raise InvalidRequest(f"the body is not valid JSON: {error}") from error
    local_id = await _resolver(request).add_hosted(body)
    return Response(status_code=201, headers={"Location": _BASE + quote(local_id, safe=":")})


@allow(PUBLIC_READ)
async def get_context(request: Request) -> Response:
    _only_params(request, set())
    return _json(_resolver(request).get(request.path_params["contextId"]))


@allow(Role.OPERATOR)
async def delete_context(request: Request) -> Response:
    _only_params(request, {"reload"})
    context_id = request.path_params["contextId"]
    if _flag(request, "reload"):
        await _resolver(request).reload(context_id)
    else:
        _resolver(request).delete(context_id)
    return Response(status_code=204)


routes: list[Route] = [
    Route("/jsonldContexts", list_contexts, methods=["GET"]),
    Route("/jsonldContexts", add_context, methods=["POST"]),
    Route("/jsonldContexts/{contextId:path}", get_context, methods=["GET"]),
    Route("/jsonldContexts/{contextId:path}", delete_context, methods=["DELETE"]),
]
