"""GET /alerts/cap (the Atom feed of current CAP messages) and GET /alerts/cap/{identifier} (one
message, `application/cap+xml`): the city's public warnings, readable by anyone like entities
are (PUBLIC_READ), per tenant (NGSILD-Tenant).

The feed lists the tenant's current messages — not superseded by a later message of the same
warning, not expired — newest first, as OASIS "Example Practices: CAP Feeds" describes; each
message stays at its own URL for good, so a reference in a later message can always be
followed. `publish` stores what the safety services issued (`Issuer.take_messages`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from madina.api import http
from madina.api.openapi.components import errors, ref
from madina.auth.rules import PUBLIC_READ, allow
from madina.context.errors import ResourceNotFound
from madina.domains.safety import atom, cap
from madina.domains.safety.model import Message
from madina.store.base import Store
from madina.store.cap_messages import StoredCapMessage

FEED_SIZE = 100
"""Messages in the feed at most (newest first); Google's public-alerts guidance asks feeds to
stay small (ideally under 100 KB)."""
CACHE = {"Cache-Control": "public, max-age=60"}
"""Readers poll feeds; a minute of caching spares the database without delaying a warning
much."""


def stored(message: Message) -> StoredCapMessage:
    return StoredCapMessage(
        identifier=message.identifier,
        sent=message.sent,
        msg_type=message.msg_type,
        references=tuple(reference.identifier for reference in message.references),
        expires=message.expires,
        xml=cap.message_xml(message),
    )


def publish(store: Store, tenant: str, messages: Iterable[Message]) -> int:
    """Store issued messages (oldest first, as issued) so the feed serves them; a message
    already stored is skipped. Returns how many were new. Blocking: call it off the event loop
    on PostgreSQL (`http.call` does)."""
    return sum(store.cap_messages.add(tenant, stored(message)) for message in messages)


def _feed(store: Store, tenant: str, base_url: str) -> bytes:
    now = datetime.now(UTC)
    rows = store.cap_messages.current(tenant, now, FEED_SIZE)
    return atom.feed((cap.parse_message(row.xml) for row in rows), base_url, updated=now)


@allow(PUBLIC_READ)
async def cap_feed(request: Request) -> Response:
    tenant = http.tenant_of(request)
    body = await http.call(request, _feed, request.app.state.store, tenant,
                           str(request.base_url).rstrip("/"))
    return Response(body, 200, CACHE, media_type=atom.CONTENT_TYPE_ATOM)


@allow(PUBLIC_READ)
async def cap_message(request: Request) -> Response:
    tenant = http.tenant_of(request)
    identifier = request.path_params["identifier"]
    row = await http.call(request, request.app.state.store.cap_messages.get, tenant, identifier)
    if row is None:
        raise ResourceNotFound(f"no CAP message {identifier!r}")
    return Response(row.xml, 200, CACHE, media_type=cap.CONTENT_TYPE)


routes = [
    Route("/cap", cap_feed, methods=["GET"]),
    Route("/cap/{identifier}", cap_message, methods=["GET"]),
]


def _xml(media_type: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "headers": {"Cache-Control": {"schema": {"type": "string"}}},
            "content": {media_type: {"schema": {"type": "string"}}}}


_OPERATION = {"tags": ["Public warnings"], "security": [{}]}
OPENAPI: dict[str, dict[str, Any]] = {
    "/alerts/cap": {
        "get": {
            **_OPERATION,
            "operationId": "capFeed",
            "summary": "Atom feed of the current CAP 1.2 public warnings, newest first",
            "parameters": [ref("parameters", "Tenant")],
            "responses": {"200": _xml(atom.CONTENT_TYPE_ATOM, "an Atom 1.0 feed (RFC 4287)"),
                          **errors(400, 401, 403, 429, 503)},
        },
    },
    "/alerts/cap/{identifier}": {
        "get": {
            **_OPERATION,
            "operationId": "capMessage",
            "summary": "one CAP 1.2 message, as issued",
            "parameters": [ref("parameters", "Tenant"),
                           {"name": "identifier", "in": "path", "required": True,
                            "schema": {"type": "string"},
                            "description": "the message's CAP identifier"}],
            "responses": {"200": _xml(cap.CONTENT_TYPE, "an OASIS CAP 1.2 alert message"),
                          **errors(400, 401, 403, 404, 429, 503)},
        },
    },
}
"""These routes in the app's OpenAPI description (madina.api.openapi merges it)."""
