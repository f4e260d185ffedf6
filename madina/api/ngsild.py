"""The NGSI-LD HTTP binding (clause 6) for entities, attributes, batches and discovery.

Thin by design: check parameters and media types, resolve the @context, call the broker, render.
Each endpoint declares who may call it (madina.auth.rules): reads are public, writes need an
operator, or a device writing its own entities; deletes are for operators only, since a sensor
reports and never retires what it reports on.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from madina.api import http, parameters
from madina.api.http import GEO_JSON, JSON, JSON_LD, RequestContext
from madina.auth.principal import Role
from madina.auth.rules import DEVICE_OWN_ENTITY, PUBLIC_READ, allow
from madina.context import discovery, qlang
from madina.context.broker import BatchResult, Broker, now_iso
from madina.context.entity_model import is_geojson_geometry
from madina.context.errors import BadRequestData, OperationNotSupported
from madina.context.jsonld import ContextResolver
from madina.context.query import build_query, split_list
from madina.context.representation import render_entity
from madina.store.base import Document, Store

RENDER_PARAMS = frozenset({"attrs", "pick", "omit", "options", "format", "lang", "datasetId",
                           "geometryProperty", "local", "join", "joinLevel"})
QUERY_PARAMS = RENDER_PARAMS | {
    "id", "idPattern", "type", "q", "scopeQ", "georel", "geometry", "coordinates", "geoproperty",
    "limit", "offset", "count", "orderBy", "csf", "containedBy",
}
NOT_SUPPORTED = ("join", "joinLevel", "containedBy")
"""Spec parameters (linked-entity retrieval, 1.8+) this broker does not implement yet: refused
with OperationNotSupported rather than silently ignored."""
RETRIEVE_PARAMS = RENDER_PARAMS | {"type"}
FORMS = {"normalized", "concise", "keyValues"}
ALIASES = {"simplified": "keyValues"}
"""1.9 names keyValues "simplified" in places; both spellings are accepted."""


def _broker(request: Request) -> Broker:
    return request.app.state.broker


def _resolver(request: Request) -> ContextResolver:
    return request.app.state.contexts


def _limits(request: Request):
    return request.app.state.settings


async def _ctx(request: Request, body: Any = None, is_ld: bool = False, **kw) -> RequestContext:
    return await http.request_context(request, _resolver(request), body, is_ld, **kw)


async def _body_and_ctx(request: Request, **kw) -> tuple[Any, RequestContext]:
    body, is_ld = await http.read_json(request, _limits(request).max_body_bytes)
    ctx = await _ctx(request, body, is_ld, **kw)
    return http.strip_context(body), ctx


def _object_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequestData("the request body must be a JSON object")
    return body


# -- rendering ---------------------------------------------------------------------------------
def _render_options(request: Request, ctx: RequestContext) -> dict[str, Any]:
    query = request.query_params
    for name in NOT_SUPPORTED:
        if name in query:
            raise OperationNotSupported(f"{name} (linked entity retrieval) is not supported")
    form, sys_attrs = parameters.representation(request, query.get("format"), FORMS, ALIASES)
    attrs = split_list(query.get("attrs"))
    pick, omit = parameters.projections(request)
    dataset_ids = split_list(query.get("datasetId"))
    return {
        "form": form or "normalized",
        "sys_attrs": sys_attrs,
        "attrs": {ctx.terms.expand(a) for a in attrs} if attrs is not None else None,
        "pick": pick,
        "omit": omit,
        "lang": query.get("lang"),
        "dataset_ids": set(dataset_ids) if dataset_ids is not None else None,
        "now": now_iso(),
    }


def _render(doc: Document, ctx: RequestContext, options: dict[str, Any]) -> dict[str, Any]:
    return render_entity(doc, ctx.terms, **options)


def _feature(entity: dict[str, Any], geometry_property: str, form: str) -> dict[str, Any]:
    """GeoJSON Feature of an entity (clause 4.5.16): its chosen GeoProperty becomes geometry;
    of several instances the default one, and null when the value is no GeoJSON geometry."""
    geometry = entity.get(geometry_property)
    if isinstance(geometry, list):
        defaults = [i for i in geometry if isinstance(i, dict) and "datasetId" not in i]
        geometry = (defaults or geometry)[0]
    if isinstance(geometry, dict) and form != "keyValues" and "value" in geometry:
        geometry = geometry["value"]
    if not is_geojson_geometry(geometry):
        geometry = None
    properties = {k: v for k, v in entity.items() if k != "id"}
    return {"id": entity.get("id"), "type": "Feature", "geometry": geometry,
            "properties": properties}


def _entities_response(
    request: Request,
    ctx: RequestContext,
    docs: list[Document],
    options: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> Response:
    entities = [_render(doc, ctx, options) for doc in docs]
    if ctx.accept == GEO_JSON:
        geometry_property = request.query_params.get("geometryProperty", "location")
        payload: Any = {
            "type": "FeatureCollection",
            "features": [_feature(e, geometry_property, options["form"]) for e in entities],
        }
        return http.json_response(payload, ctx, headers=headers)
    return http.json_response(entities, ctx, headers=headers)


# -- entities ----------------------------------------------------------------------------------
@allow(DEVICE_OWN_ENTITY, Role.OPERATOR)
async def create_entity(request: Request) -> Response:
    http.check_params(request, frozenset())
    body, ctx = await _body_and_ctx(request)
    entity_id = await http.call(
        request, _broker(request).create, ctx.tenant, _object_body(body), ctx.terms
    )
    return Response(
        status_code=201,
        headers={"Location": f"/ngsi-ld/v1/entities/{quote(entity_id, safe=':')}"},
    )


@allow(PUBLIC_READ)
async def query_entities(request: Request) -> Response:
    http.check_params(request, QUERY_PARAMS)
    ctx = await _ctx(request)
    selection = parameters.url_query(request)
    _check_query_extras(request)
    parameters.check_restricted(request, selection)
    limit, offset, count = parameters.paging(request)
    options = _render_options(request, ctx)
    query = build_query(selection, ctx.terms, limit=limit, offset=offset, count=count)
    docs, total = await http.call(request, _broker(request).query, ctx.tenant, query)
    headers = {"NGSILD-Results-Count": str(total)} if total is not None else None
    return _entities_response(request, ctx, docs, options, headers)


SYSTEM_MEMBERS = frozenset({"id", "type", "scope", "createdAt", "modifiedAt", "deletedAt",
                            "expiresAt"})


def _check_query_extras(request: Request) -> None:
    """Clause 5.7.2.4: `attrs` naming only entity members restricts nothing, and a `csf` must at
    least be well formed even though no context source is registered here to match it."""
    attrs = split_list(request.query_params.get("attrs"))
    if attrs is not None and set(attrs) <= SYSTEM_MEMBERS:
        raise BadRequestData("attrs must name at least one attribute, not only entity members")
    csf = request.query_params.get("csf")
    if csf is not None:
        qlang.parse_q(csf)


@allow(Role.OPERATOR)
async def purge_entities(request: Request) -> Response:
    http.check_params(request, frozenset({"id", "idPattern", "type", "q", "scopeQ", "georel",
                                          "geometry", "coordinates", "geoproperty", "attrs",
                                          "keep", "drop"}))
    ctx = await _ctx(request)
    selection = parameters.url_query(request)
    if not selection.restricts():
        raise BadRequestData("purging needs at least one of id, idPattern, type, q or scopeQ")
    keep = split_list(request.query_params.get("keep"))
    drop = split_list(request.query_params.get("drop"))
    if keep is not None and drop is not None:
        raise BadRequestData("keep and drop cannot be used together")
    query = build_query(selection, ctx.terms, limit=0, offset=0, count=False)
    await http.call(
        request, _broker(request).purge,
        ctx.tenant, query,
        keep={ctx.terms.expand(a) for a in keep} if keep is not None else None,
        drop={ctx.terms.expand(a) for a in drop} if drop is not None else None,
    )
    return http.no_content()


@allow(PUBLIC_READ)
async def retrieve_entity(request: Request) -> Response:
    http.check_params(request, RETRIEVE_PARAMS)
    ctx = await _ctx(request)
    options = _render_options(request, ctx)
    doc = await http.call(
        request, _broker(request).get,
        ctx.tenant, request.path_params["entityId"], _type_filter(request, ctx)
    )
    entity = _render(doc, ctx, options)
    if ctx.accept == GEO_JSON:
        geometry_property = request.query_params.get("geometryProperty", "location")
        return http.json_response(_feature(entity, geometry_property, options["form"]), ctx)
    return http.json_response(entity, ctx)


@allow(DEVICE_OWN_ENTITY, Role.OPERATOR)
async def replace_entity(request: Request) -> Response:
    http.check_params(request, frozenset())
    body, ctx = await _body_and_ctx(request)
    await http.call(request, _broker(request).replace, ctx.tenant,
                    request.path_params["entityId"], _object_body(body), ctx.terms)
    return http.no_content()


@allow(DEVICE_OWN_ENTITY, Role.OPERATOR)
async def merge_entity(request: Request) -> Response:
    http.check_params(request, frozenset({"options"}))
    body, ctx = await _body_and_ctx(request)
    await http.call(request, _broker(request).merge, ctx.tenant,
                    request.path_params["entityId"], _object_body(body), ctx.terms)
    return http.no_content()


@allow(Role.OPERATOR)
async def delete_entity(request: Request) -> Response:
    http.check_params(request, frozenset({"type"}))
    ctx = await _ctx(request)
    await http.call(request, _broker(request).delete, ctx.tenant,
                    request.path_params["entityId"], _type_filter(request, ctx))
    return http.no_content()


def _type_filter(request: Request, ctx: RequestContext) -> set[str] | None:
    """The optional `type` selector of single-entity operations (clauses 5.6.3, 5.6.6, 5.7.1):
    the entity must have one of these (expanded) types, else it is not found."""
    types = split_list(request.query_params.get("type"))
    return {ctx.terms.expand(t) for t in types} if types is not None else None


# -- attributes --------------------------------------------------------------------------------
def _partial(not_updated: list[dict[str, Any]], ctx: RequestContext, body: dict[str, Any]):
    """204, or 207 with UpdateResult (clause 5.2.18) when some attributes were not updated."""
    if not not_updated:
        return http.no_content()
    skipped = {ctx.terms.compact(n["attributeName"]) for n in not_updated}
    updated = [k for k in body if k not in ("id", "type", "scope") and k not in skipped]
    reasons = [
        {"attributeName": ctx.terms.compact(n["attributeName"]), "reason": n["reason"]}
        for n in not_updated
    ]
    return http.json_response({"updated": updated, "notUpdated": reasons}, ctx, status=207)


@allow(DEVICE_OWN_ENTITY, Role.OPERATOR)
async def append_attrs(request: Request) -> Response:
    http.check_params(request, frozenset({"options", "type"}))
    body, ctx = await _body_and_ctx(request)
    body = _object_body(body)
    no_overwrite = "noOverwrite" in http.options_of(request)
    not_updated = await http.call(
        request, _broker(request).append_attrs,
        ctx.tenant, request.path_params["entityId"], body, ctx.terms, no_overwrite,
        _type_filter(request, ctx),
    )
    return _partial(not_updated, ctx, body)


@allow(DEVICE_OWN_ENTITY, Role.OPERATOR)
async def update_attrs(request: Request) -> Response:
    http.check_params(request, frozenset({"options"}))
    body, ctx = await _body_and_ctx(request)
    body = _object_body(body)
    not_updated = await http.call(
        request, _broker(request).update_attrs,
        ctx.tenant, request.path_params["entityId"], body, ctx.terms
    )
    return _partial(not_updated, ctx, body)


@allow(DEVICE_OWN_ENTITY, Role.OPERATOR)
async def partial_update_attr(request: Request) -> Response:
    http.check_params(request, frozenset())
    body, ctx = await _body_and_ctx(request)
    await http.call(
        request, _broker(request).partial_update_attr,
        ctx.tenant, request.path_params["entityId"], request.path_params["attrId"],
        _object_body(body), ctx.terms,
    )
    return http.no_content()


@allow(DEVICE_OWN_ENTITY, Role.OPERATOR)
async def replace_attr(request: Request) -> Response:
    http.check_params(request, frozenset())
    body, ctx = await _body_and_ctx(request)
    await http.call(
        request, _broker(request).replace_attr,
        ctx.tenant, request.path_params["entityId"], request.path_params["attrId"], body,
        ctx.terms,
    )
    return http.no_content()


@allow(Role.OPERATOR)
async def delete_attr(request: Request) -> Response:
    http.check_params(request, frozenset({"datasetId", "deleteAll"}))
    ctx = await _ctx(request)
    delete_all = parameters.flag(request, "deleteAll")
    await http.call(
        request, _broker(request).delete_attr,
        ctx.tenant, request.path_params["entityId"], request.path_params["attrId"], ctx.terms,
        request.query_params.get("datasetId"), delete_all,
    )
    return http.no_content()


# -- batch -------------------------------------------------------------------------------------
async def _batch_items(request: Request) -> tuple[list[tuple[Any, Any]], RequestContext]:
    body, is_ld = await http.read_json(request, _limits(request).max_body_bytes)
    if not isinstance(body, list) or not body:
        raise BadRequestData("a batch body must be a non-empty JSON array")
    if not all(isinstance(item, dict) for item in body):
        raise BadRequestData("every item of a batch must be an entity object (clause 5.6.7.4)")
    ctx = await _ctx(request, body, is_ld)
    if not is_ld:
        return [(item, ctx.terms) for item in body], ctx
    resolver = _resolver(request)
    items = []
    for item in body:
        terms = await resolver.resolve(item["@context"])
        items.append((http.strip_context(item), terms))
    return items, ctx


def _batch_response(result: BatchResult, ctx: RequestContext, created_status: bool) -> Response:
    if result.errors:
        return http.json_response(
            {"success": result.success, "errors": result.errors}, ctx, status=207
        )
    if created_status:
        return http.json_response(result.success, ctx, status=201)
    return http.no_content()


@allow(DEVICE_OWN_ENTITY, Role.OPERATOR)
async def batch_create(request: Request) -> Response:
    http.check_params(request, frozenset())
    items, ctx = await _batch_items(request)
    result = await http.call(request, _broker(request).batch_create, ctx.tenant, items)
    return _batch_response(result, ctx, True)


@allow(DEVICE_OWN_ENTITY, Role.OPERATOR)
async def batch_upsert(request: Request) -> Response:
    http.check_params(request, frozenset({"options"}))
    options = http.options_of(request) - {""}
    if not options <= {"replace", "update"} or len(options) > 1:
        raise BadRequestData("upsert options must be replace or update")
    items, ctx = await _batch_items(request)
    result = await http.call(request, _broker(request).batch_upsert, ctx.tenant, items,
                             replace="update" not in options)
    if result.errors:
        return _batch_response(result, ctx, False)
    if result.created:
        return http.json_response(result.created, ctx, status=201)
    return http.no_content()


@allow(DEVICE_OWN_ENTITY, Role.OPERATOR)
async def batch_update(request: Request) -> Response:
    http.check_params(request, frozenset({"options"}))
    no_overwrite = "noOverwrite" in http.options_of(request)
    items, ctx = await _batch_items(request)
    result = await http.call(request, _broker(request).batch_update, ctx.tenant, items,
                             no_overwrite)
    return _batch_response(result, ctx, False)


@allow(DEVICE_OWN_ENTITY, Role.OPERATOR)
async def batch_merge(request: Request) -> Response:
    http.check_params(request, frozenset())
    items, ctx = await _batch_items(request)
    result = await http.call(request, _broker(request).batch_merge, ctx.tenant, items)
    return _batch_response(result, ctx, False)


@allow(Role.OPERATOR)
async def batch_delete(request: Request) -> Response:
    http.check_params(request, frozenset())
    body, _ = await http.read_json(request, _limits(request).max_body_bytes)
    if not isinstance(body, list) or not body or not all(isinstance(i, str) for i in body):
        raise BadRequestData("a batch delete body must be a non-empty JSON array of entity ids")
    ctx = await _ctx(request)
    result = await http.call(request, _broker(request).batch_delete, ctx.tenant, body)
    return _batch_response(result, ctx, False)


@allow(PUBLIC_READ)
async def batch_query(request: Request) -> Response:
    http.check_params(request, frozenset({"limit", "offset", "count", "options", "format",
                                          "lang", "local"}))
    body, ctx = await _body_and_ctx(request)
    body = _object_body(body)
    if body.get("type") != "Query":
        raise BadRequestData('a query body must have "type": "Query"')
    selection = parameters.body_query(body)
    limit, offset, count = parameters.paging(request)
    options = _render_options(request, ctx)
    if body.get("attrs"):
        options["attrs"] = {ctx.terms.expand(a) for a in body["attrs"]}
    if body.get("lang"):
        options["lang"] = body["lang"]
    query = build_query(selection, ctx.terms, limit=limit, offset=offset, count=count)
    docs, total = await http.call(request, _broker(request).query, ctx.tenant, query)
    headers = {"NGSILD-Results-Count": str(total)} if total is not None else None
    return _entities_response(request, ctx, docs, options, headers)


# -- discovery ---------------------------------------------------------------------------------
async def _summaries(
    request: Request, allowed: frozenset[str], kind: Callable[[Store], Callable[[str], Any]]
) -> tuple[RequestContext, Any]:
    """What every discovery route does first: parameters, @context, tenant, then the store's
    summaries (`kind`: its types or its attributes) of that tenant."""
    http.check_params(request, allowed)
    ctx = await _ctx(request, accept=(JSON, JSON_LD))
    broker = _broker(request)
    await http.call(request, broker.check_tenant, ctx.tenant)
    return ctx, await http.call(request, kind(broker.store), ctx.tenant)


_TYPES = attrgetter("types")
_ATTRIBUTES = attrgetter("attributes")


@allow(PUBLIC_READ)
async def list_types(request: Request) -> Response:
    ctx, types = await _summaries(request, frozenset({"details", "local"}), _TYPES)
    details = request.query_params.get("details") == "true"
    return http.json_response(discovery.type_list(types, ctx.terms, details), ctx)


@allow(PUBLIC_READ)
async def get_type(request: Request) -> Response:
    ctx, types = await _summaries(request, frozenset({"local"}), _TYPES)
    name = ctx.terms.expand(request.path_params["type"])
    return http.json_response(discovery.type_info(types, name, ctx.terms), ctx)


@allow(PUBLIC_READ)
async def list_attributes(request: Request) -> Response:
    ctx, attributes = await _summaries(request, frozenset({"details", "local"}), _ATTRIBUTES)
    details = request.query_params.get("details") == "true"
    return http.json_response(discovery.attribute_list(attributes, ctx.terms, details), ctx)


@allow(PUBLIC_READ)
async def get_attribute(request: Request) -> Response:
    ctx, attributes = await _summaries(request, frozenset({"local"}), _ATTRIBUTES)
    name = ctx.terms.expand(request.path_params["attrId"])
    return http.json_response(discovery.attribute_info(attributes, name, ctx.terms), ctx)


routes = [
    Route("/entities", create_entity, methods=["POST"]),
    Route("/entities", query_entities, methods=["GET"]),
    Route("/entities", purge_entities, methods=["DELETE"]),
    Route("/entities/{entityId:path}/attrs/{attrId}", partial_update_attr, methods=["PATCH"]),
    Route("/entities/{entityId:path}/attrs/{attrId}", replace_attr, methods=["PUT"]),
    Route("/entities/{entityId:path}/attrs/{attrId}", delete_attr, methods=["DELETE"]),
    Route("/entities/{entityId:path}/attrs", append_attrs, methods=["POST"]),
    Route("/entities/{entityId:path}/attrs", update_attrs, methods=["PATCH"]),
    Route("/entities/{entityId:path}", retrieve_entity, methods=["GET"]),
    Route("/entities/{entityId:path}", replace_entity, methods=["PUT"]),
    Route("/entities/{entityId:path}", merge_entity, methods=["PATCH"]),
    Route("/entities/{entityId:path}", delete_entity, methods=["DELETE"]),
    Route("/entityOperations/create", batch_create, methods=["POST"]),
    Route("/entityOperations/upsert", batch_upsert, methods=["POST"]),
    Route("/entityOperations/update", batch_update, methods=["POST"]),
    Route("/entityOperations/merge", batch_merge, methods=["POST"]),
    Route("/entityOperations/delete", batch_delete, methods=["POST"]),
    Route("/entityOperations/query", batch_query, methods=["POST"]),
    Route("/types", list_types, methods=["GET"]),
    Route("/types/{type:path}", get_type, methods=["GET"]),
    Route("/attributes", list_attributes, methods=["GET"]),
    Route("/attributes/{attrId:path}", get_attribute, methods=["GET"]),
]
