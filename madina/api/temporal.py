"""The NGSI-LD temporal API over HTTP (clause 6.18–6.22): the temporal evolution of entities
read, queried, created, appended to and deleted, instance by instance.

Thin like `ngsild`: parameters, media types and the @context here, the work in
`madina.context.temporal`. Reads are public like entity reads; writes need an operator, or a
device writing its own entities; deletes are for operators only, as on /entities. Answers that
had to be cut to the instance limit are 206 with `Content-Range: date-time <first>-<last>/<size>`
(clause 6.3.10).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from madina.api import http, parameters
from madina.api.http import JSON, JSON_LD, RequestContext
from madina.auth.principal import Role
from madina.auth.rules import DEVICE_OWN_ENTITY, PUBLIC_READ, allow
from madina.context.entity_model import NONE_DATASET
from madina.context.errors import BadRequestData
from madina.context.query import QueryParams, build_query, check_uri, split_list
from madina.context.temporal import ContentRange, Temporal, TemporalRequest
from madina.context.temporal_query import parse_temporal_query
from madina.context.temporal_render import AGGREGATED_VALUES, FORMS, TEMPORAL_VALUES

ALIASES = {"keyValues": TEMPORAL_VALUES, "simplified": TEMPORAL_VALUES}
"""The simplified temporal representation is what keyValues (1.9: simplified) means here."""
TEMPORAL_PARAMS = frozenset({"timerel", "timeAt", "endTimeAt", "timeproperty", "lastN",
                             "aggrMethods", "aggrPeriodDuration"})
RETRIEVE_PARAMS = TEMPORAL_PARAMS | {"attrs", "options", "format", "lang", "datasetId", "pick",
                                     "omit"}
QUERY_PARAMS = RETRIEVE_PARAMS | {"id", "idPattern", "type", "q", "scopeQ", "georel",
                                  "geometry", "coordinates", "geoproperty", "limit", "offset",
                                  "count", "local"}
ACCEPT = (JSON, JSON_LD)


def _temporal(request: Request) -> Temporal:
    return Temporal(request.app.state.broker, request.app.state.settings.temporal_max_instances)


async def _ctx(request: Request, body: Any = None, is_ld: bool = False) -> RequestContext:
    return await http.request_context(request, request.app.state.contexts, body, is_ld,
                                      accept=ACCEPT)


async def _body_and_ctx(request: Request) -> tuple[Any, RequestContext]:
    body, is_ld = await http.read_json(request, request.app.state.settings.max_body_bytes)
    ctx = await _ctx(request, body, is_ld)
    return http.strip_context(body), ctx


def _request(request: Request, ctx: RequestContext, temporal_q: dict[str, Any] | None = None,
             attrs: list[str] | None = None, lang: str | None = None) -> TemporalRequest:
    """The temporal query from the parameters (or a Query body's temporalQ) and how to render."""
    params = request.query_params
    # An empty format asks for the default here (GET /entities refuses it).
    form, sys_attrs = parameters.representation(request, params.get("format") or None, FORMS,
                                                ALIASES)
    given = temporal_q if temporal_q is not None else {
        name: params.get(name) for name in TEMPORAL_PARAMS
    }
    query = parse_temporal_query(
        timerel=given.get("timerel"), time_at=given.get("timeAt"),
        end_time_at=given.get("endTimeAt"), timeproperty=given.get("timeproperty"),
        last_n=given.get("lastN"), aggr_methods=given.get("aggrMethods"),
        aggr_period=given.get("aggrPeriodDuration"), aggregated=form == AGGREGATED_VALUES,
    )
    if query.aggr_methods is not None and form not in (None, AGGREGATED_VALUES):
        raise BadRequestData("aggrMethods asks for the aggregated representation, not " + form)
    if attrs is None:
        attrs = split_list(params.get("attrs"))
    pick, omit = parameters.projections(request)
    return TemporalRequest(
        query=query,
        terms=ctx.terms,
        form=AGGREGATED_VALUES if query.aggr_methods is not None else form or "normalized",
        sys_attrs=sys_attrs,
        lang=lang or params.get("lang"),
        attrs=parameters.expanded(ctx.terms, attrs),
        dataset_ids=_datasets(params.get("datasetId")),
        pick=pick,
        omit=omit,
    )


def _datasets(text: str | None) -> frozenset[str] | None:
    """datasetId: URIs, `@none` for the default instance."""
    items = split_list(text)
    if items is None:
        return None
    for item in items:
        if item != NONE_DATASET:
            check_uri(item, "datasetId")
    return frozenset("" if item == NONE_DATASET else item for item in items)


def _answer(payload: Any, ctx: RequestContext, content_range: ContentRange | None,
            headers: dict[str, str] | None = None) -> Response:
    headers = dict(headers or {})
    if content_range is not None:
        headers["Content-Range"] = content_range.header()
    return http.json_response(payload, ctx, status=206 if content_range else 200,
                              headers=headers)


# -- reads -------------------------------------------------------------------------------------
@allow(PUBLIC_READ)
async def query_temporal(request: Request) -> Response:
    http.check_params(request, QUERY_PARAMS)
    ctx = await _ctx(request)
    selection = parameters.url_query(request)
    parameters.check_restricted(request, selection)
    return await _query(request, ctx, selection, _request(request, ctx))


@allow(PUBLIC_READ)
async def query_temporal_batch(request: Request) -> Response:
    http.check_params(request, frozenset({"limit", "offset", "count", "options", "format",
                                          "lang", "local", "datasetId", "pick", "omit"}))
    body, ctx = await _body_and_ctx(request)
    if not isinstance(body, dict) or body.get("type") != "Query":
        raise BadRequestData('a query body must be an object with "type": "Query"')
    temporal_q = body.get("temporalQ", {})
    if not isinstance(temporal_q, dict):
        raise BadRequestData("temporalQ must be an object")
    attrs = body.get("attrs")
    if attrs is not None and (
        not isinstance(attrs, list) or not all(isinstance(a, str) and a for a in attrs)
    ):
        raise BadRequestData("attrs must be a list of attribute names")
    lang = body.get("lang")
    if lang is not None and not isinstance(lang, str):
        raise BadRequestData("lang must be a string")
    temporal_request = _request(request, ctx, temporal_q, attrs, lang)
    return await _query(request, ctx, parameters.body_query(body), temporal_request)


async def _query(request: Request, ctx: RequestContext, selection: QueryParams,
                 temporal_request: TemporalRequest) -> Response:
    limit, offset, count = parameters.paging(request)
    query = build_query(selection, ctx.terms, limit=limit, offset=offset, count=count)
    entities, total, content_range = await http.call(
        request, _temporal(request).query, ctx.tenant, query, temporal_request
    )
    headers = {"NGSILD-Results-Count": str(total)} if total is not None else None
    return _answer(entities, ctx, content_range, headers)


@allow(PUBLIC_READ)
async def retrieve_temporal(request: Request) -> Response:
    http.check_params(request, RETRIEVE_PARAMS)
    ctx = await _ctx(request)
    entity, content_range = await http.call(
        request, _temporal(request).retrieve, ctx.tenant, request.path_params["entityId"],
        _request(request, ctx),
    )
    return _answer(entity, ctx, content_range)


# -- writes ------------------------------------------------------------------------------------
@allow(DEVICE_OWN_ENTITY, Role.OPERATOR)
async def upsert_temporal(request: Request) -> Response:
    http.check_params(request, frozenset())
    body, ctx = await _body_and_ctx(request)
    created = await http.call(request, _temporal(request).upsert, ctx.tenant, body, ctx.terms)
    if not created:
        return http.no_content()
    location = "/ngsi-ld/v1/temporal/entities/" + quote(body["id"], safe=":")
    return Response(status_code=201, headers={"Location": location})


@allow(DEVICE_OWN_ENTITY, Role.OPERATOR)
async def append_temporal(request: Request) -> Response:
    http.check_params(request, frozenset())
    body, ctx = await _body_and_ctx(request)
    await http.call(request, _temporal(request).append, ctx.tenant,
                    request.path_params["entityId"], body, ctx.terms)
    return http.no_content()


@allow(Role.OPERATOR)
async def delete_temporal(request: Request) -> Response:
    http.check_params(request, frozenset())
    ctx = await _ctx(request)
    await http.call(request, _temporal(request).delete_entity, ctx.tenant,
                    request.path_params["entityId"])
    return http.no_content()


@allow(Role.OPERATOR)
async def delete_temporal_attribute(request: Request) -> Response:
    http.check_params(request, frozenset({"datasetId", "deleteAll"}))
    ctx = await _ctx(request)
    delete_all = parameters.flag(request, "deleteAll")
    await http.call(
        request, _temporal(request).delete_attribute, ctx.tenant,
        request.path_params["entityId"], request.path_params["attrId"], ctx.terms,
        request.query_params.get("datasetId"), delete_all,
    )
    return http.no_content()


@allow(DEVICE_OWN_ENTITY, Role.OPERATOR)
async def modify_instance(request: Request) -> Response:
    http.check_params(request, frozenset())
    body, ctx = await _body_and_ctx(request)
    await http.call(
        request, _temporal(request).modify_instance, ctx.tenant,
        request.path_params["entityId"], request.path_params["attrId"],
        request.path_params["instanceId"], body, ctx.terms,
    )
    return http.no_content()


@allow(Role.OPERATOR)
async def delete_instance(request: Request) -> Response:
    http.check_params(request, frozenset())
    ctx = await _ctx(request)
    await http.call(
        request, _temporal(request).delete_instance, ctx.tenant,
        request.path_params["entityId"], request.path_params["attrId"],
        request.path_params["instanceId"], ctx.terms,
    )
    return http.no_content()


ENTITY = "/temporal/entities/{entityId:path}"
routes = [
    Route("/temporal/entities", query_temporal, methods=["GET"]),
    Route("/temporal/entities", upsert_temporal, methods=["POST"]),
    Route(ENTITY + "/attrs/{attrId}/{instanceId}", modify_instance, methods=["PATCH"]),
    Route(ENTITY + "/attrs/{attrId}/{instanceId}", delete_instance, methods=["DELETE"]),
    Route(ENTITY + "/attrs/{attrId}", delete_temporal_attribute, methods=["DELETE"]),
    Route(ENTITY + "/attrs", append_temporal, methods=["POST"]),
    Route(ENTITY, retrieve_temporal, methods=["GET"]),
    Route(ENTITY, delete_temporal, methods=["DELETE"]),
    Route("/temporal/entityOperations/query", query_temporal_batch, methods=["POST"]),
]
