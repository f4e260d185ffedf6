"""HTTP details shared by every NGSI-LD route: bodies, media types, @context, tenants, answers.

Clause 6.3 of the spec fixes these rules (Content-Type, Accept, Link header vs in-body @context,
NGSILD-Tenant); keeping them in one place means every route applies them identically.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response

from madina.context.errors import (
    BadRequestData,
    InvalidRequest,
    NgsiError,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from madina.context.jsonld import CORE_CONTEXT_URL, ContextResolver, TermMap, parse_link_header

JSON = "application/json"
JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
LINK_REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
TENANT_HEADER = "NGSILD-Tenant"
T = TypeVar("T")


@dataclass
class RequestContext:
    """What every route needs to know about the caller before touching the broker."""

    tenant: str
    terms: TermMap
    context_value: Any
    """The @context as the client gave it (URL or inline), echoed back in answers."""
    accept: str
    """The media type to answer with."""


async def call(request: Request, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a broker or store call where the engine wants it: inline on the event loop for the
    embedded engine (microseconds, serialised anyway), on a worker thread for PostgreSQL, so
    one request waiting on the network does not hold up every other request of the worker."""
    app_state = request.app.state
    if app_state.store.runs_on_loop:
        return function(*args, **kwargs)
    return await anyio.to_thread.run_sync(
        functools.partial(function, *args, **kwargs), limiter=app_state.store_limiter
    )


def problem_response(error: NgsiError) -> Response:
    """Clause 5.5.3: the RFC 7807 body, but with the plain JSON media type, "so that old clients
    or existing tools are not broken"."""
    return Response(orjson.dumps(error.problem()), status_code=error.status, media_type=JSON)


def tenant_of(request: Request) -> str:
    tenant = request.headers.get(TENANT_HEADER, "")
    if tenant and (len(tenant) > 64 or not all(c.isalnum() or c in "-_." for c in tenant)):
        raise BadRequestData(f"invalid tenant name {tenant!r}")
    return tenant


def negotiate(request: Request, allowed: Iterable[str] = (JSON, JSON_LD, GEO_JSON)) -> str:
    """Pick the answer's media type from Accept (q-values honoured, `*/*` means JSON)."""
    header = request.headers.get("accept")
    if not header:
        return JSON
    offered = []
    for order, part in enumerate(header.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        offered.append((-q, order, media.lower()))
    for neg_q, _, media in sorted(offered):
        if neg_q == 0:
            continue
        if media in allowed:
            return media
        if media in ("*/*", "application/*"):
            return JSON
    raise NotAcceptable(f"none of the media types in Accept {header!r} can be produced")


def check_params(request: Request, allowed: frozenset[str]) -> None:
    """NGSI-LD 1.9 rejects unknown query parameters instead of ignoring them. No parameter or
    path segment may hold U+0000 (see `_refuse_nul`)."""
    for name in request.query_params:
        if name not in allowed:
            raise InvalidRequest(f"unknown query parameter {name!r}")
    texts = [*request.query_params.values(), *map(str, request.path_params.values())]
    if any("\x00" in text for text in texts):
        raise BadRequestData("parameters and identifiers cannot contain the character U+0000")


def options_of(request: Request) -> set[str]:
    options: set[str] = set()
    for value in request.query_params.getlist("options"):
        options.update(v.strip() for v in value.split(",") if v.strip())
    return options


async def read_json(request: Request, max_bytes: int) -> tuple[Any, bool]:
    """The parsed body and whether it is JSON-LD; media type and size are checked first."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (JSON, JSON_LD, MERGE_PATCH):
        raise UnsupportedMediaType(
            f"Content-Type must be {JSON} or {JSON_LD}, not {content_type or 'missing'!r}"
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds {max_bytes} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise InvalidRequest("the request body is empty")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
    if b"\\u0000" in raw:
        _refuse_nul(body)
    return body, content_type == JSON_LD


def _refuse_nul(value: Any) -> None:
    """U+0000 is valid JSON but no text PostgreSQL stores (jsonb refuses it), so both engines
    refuse it alike with a 400 instead of one of them failing. Only bodies whose raw text holds
    the `\\u0000` escape are walked."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise BadRequestData("strings cannot contain the character U+0000")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


async def request_context(
    request: Request,
    resolver: ContextResolver,
    body: Any = None,
    is_ld: bool = False,
    accept: Iterable[str] = (JSON, JSON_LD, GEO_JSON),
) -> RequestContext:
    """Resolve the request's @context (Link header, or in the body for JSON-LD) once."""
    link = request.headers.get("link")
    link_url = parse_link_header(link) if link else None
    context_value: Any = link_url
    if is_ld:
        if link_url is not None:
            raise BadRequestData("a JSON-LD body must not come with a JSON-LD Link header")
        context_value = _body_context(body)
    elif isinstance(body, dict) and "@context" in body:
        raise BadRequestData("@context in the body needs Content-Type application/ld+json")
    terms = await resolver.resolve(context_value)
    return RequestContext(
        tenant=tenant_of(request),
        terms=terms,
        context_value=context_value,
        accept=negotiate(request, accept),
    )


def _body_context(body: Any) -> Any:
    if isinstance(body, dict):
        if "@context" not in body:
            raise BadRequestData("a JSON-LD body must carry an @context")
        return body["@context"]
    if isinstance(body, list):
        if not body:
            return None
        if not all(isinstance(item, dict) and "@context" in item for item in body):
            raise BadRequestData("every entity of a JSON-LD batch must carry an @context")
        return body[0]["@context"]
    raise BadRequestData("a JSON-LD body must be an object or an array")


def strip_context(body: Any) -> Any:
    if isinstance(body, dict) and "@context" in body:
        return {k: v for k, v in body.items() if k != "@context"}
    return body


def json_response(
    payload: Any,
    ctx: RequestContext,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Answer in the negotiated media type with the @context the spec asks for (clause 6.3.6)."""
    headers = dict(headers or {})
    context = ctx.context_value if ctx.context_value is not None else CORE_CONTEXT_URL
    if ctx.accept == JSON_LD:
        if isinstance(payload, dict):
            payload = {**payload, "@context": context}
        elif isinstance(payload, list):
            payload = [
                {**item, "@context": context} if isinstance(item, dict) else item
                for item in payload
            ]
    elif isinstance(context, str):
        headers["Link"] = f"<{context}>; {LINK_REL}"
    return Response(orjson.dumps(payload), status_code=status, media_type=ctx.accept,
                    headers=headers)


def no_content() -> Response:
    return Response(status_code=204)
