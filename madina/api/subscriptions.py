"""/subscriptions: NGSI-LD subscriptions over HTTP (clauses 5.8 and 6.10-6.11).

Thin: parse, call the subscription store, render. Validation is madina.context.subscriptions';
what becomes of a subscription once stored is the notifier's (madina.events.notifier). Every
route needs an operator: a subscription makes the broker send the city's data to the address it
names, and reading one shows the headers (often credentials) it sends with them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from madina.api import http
from madina.api.http import JSON, JSON_LD, RequestContext
from madina.auth.principal import Role
from madina.auth.rules import allow
from madina.context.broker import now_iso
from madina.context.errors import AlreadyExists, BadRequestData, NonexistentTenant, ResourceNotFound
from madina.context.query import parse_paging
from madina.context.subscriptions import (
    check_uri_path,
    merge_subscription,
    parse_subscription,
    render_subscription,
)
from madina.store.subscriptions import StoredSubscription, SubscriptionStore

BASE = "/ngsi-ld/v1/subscriptions/"
ACCEPT = (JSON, JSON_LD)


def _subscriptions(request: Request) -> SubscriptionStore:
    return request.app.state.store.subscriptions


async def _ctx(request: Request, body: Any = None, is_ld: bool = False) -> RequestContext:
    return await http.request_context(request, request.app.state.contexts, body, is_ld,
                                      accept=ACCEPT)


def _sys_attrs(request: Request) -> bool:
    options = http.options_of(request)
    if options - {"sysAttrs"}:
        raise BadRequestData(f"unknown option {sorted(options - {'sysAttrs'})[0]!r}")
    return "sysAttrs" in options


async def _existing(request: Request, ctx: RequestContext) -> StoredSubscription:
    subscription_id = check_uri_path(request.path_params["subscriptionId"])
    stored = await http.call(request, _subscriptions(request).get, ctx.tenant, subscription_id)
    if stored is None:
        raise ResourceNotFound(f"subscription {subscription_id} not found")
    return stored


async def _check_tenant(request: Request, tenant: str) -> None:
    if not await http.call(request, request.app.state.store.tenant_exists, tenant):
        raise NonexistentTenant(f"tenant {tenant!r} does not exist")


@allow(Role.OPERATOR)
async def create_subscription(request: Request) -> Response:
    http.check_params(request, frozenset())
    body, is_ld = await http.read_json(request, request.app.state.settings.max_body_bytes)
    ctx = await _ctx(request, body, is_ld)
    doc = parse_subscription(http.strip_context(body), ctx.terms, ctx.context_value, now_iso())
    if "jsonldContext" in doc:
        await request.app.state.contexts.resolve(doc["jsonldContext"])
    added = await http.call(request, _subscriptions(request).add, ctx.tenant, doc, now_iso())
    if not added:
        raise AlreadyExists(f"subscription {doc['id']} already exists")
    return Response(status_code=201, headers={"Location": BASE + quote(doc["id"], safe=":")})


@allow(Role.OPERATOR)
async def query_subscriptions(request: Request) -> Response:
    http.check_params(request, frozenset({"limit", "offset", "count", "options"}))
    ctx = await _ctx(request)
    settings = request.app.state.settings
    limit, offset = parse_paging(request.query_params.get("limit"),
                                 request.query_params.get("offset"),
                                 settings.default_limit, settings.max_limit)
    count = request.query_params.get("count", "false")
    if count not in ("true", "false"):
        raise BadRequestData("count must be true or false")
    sys_attrs = _sys_attrs(request)
    await _check_tenant(request, ctx.tenant)
    page, total = await http.call(request, _subscriptions(request).page, ctx.tenant, limit,
                                  offset)
    now = now_iso()
    payload = [render_subscription(s, ctx.terms, now, sys_attrs) for s in page]
    headers = {"NGSILD-Results-Count": str(total)} if count == "true" else None
    return http.json_response(payload, ctx, headers=headers)


@allow(Role.OPERATOR)
async def retrieve_subscription(request: Request) -> Response:
    http.check_params(request, frozenset({"options"}))
    ctx = await _ctx(request)
    sys_attrs = _sys_attrs(request)
    stored = await _existing(request, ctx)
    return http.json_response(render_subscription(stored, ctx.terms, now_iso(), sys_attrs), ctx)


@allow(Role.OPERATOR)
async def update_subscription(request: Request) -> Response:
    http.check_params(request, frozenset())
    body, is_ld = await http.read_json(request, request.app.state.settings.max_body_bytes)
    ctx = await _ctx(request, body, is_ld)
    stored = await _existing(request, ctx)
    doc = merge_subscription(stored.doc, http.strip_context(body), ctx.terms, ctx.context_value,
                             now_iso())
    if "jsonldContext" in doc:
        await request.app.state.contexts.resolve(doc["jsonldContext"])
    if not await http.call(request, _subscriptions(request).replace, ctx.tenant, doc, now_iso()):
        raise ResourceNotFound(f"subscription {stored.id} not found")
    return http.no_content()


@allow(Role.OPERATOR)
async def delete_subscription(request: Request) -> Response:
    http.check_params(request, frozenset())
    ctx = await _ctx(request)
    subscription_id = check_uri_path(request.path_params["subscriptionId"])
    if not await http.call(request, _subscriptions(request).delete, ctx.tenant, subscription_id):
        raise ResourceNotFound(f"subscription {subscription_id} not found")
    return http.no_content()


routes = [
    Route("/subscriptions", create_subscription, methods=["POST"]),
    Route("/subscriptions", query_subscriptions, methods=["GET"]),
    Route("/subscriptions/{subscriptionId:path}", retrieve_subscription, methods=["GET"]),
    Route("/subscriptions/{subscriptionId:path}", update_subscription, methods=["PATCH"]),
    Route("/subscriptions/{subscriptionId:path}", delete_subscription, methods=["DELETE"]),
]
