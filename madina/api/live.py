"""GET /live: entity changes as Server-Sent Events, for dashboards (issue 4).

Thin like the other APIs: check the parameters, the tenant and the @context, turn the query
into the stream's filter and representation, and hand over to the process's hub
(madina/api/live_stream.py). Names resolve with the request's Link header exactly as on the
NGSI-LD routes, so a dashboard uses the same terms for its queries and for its stream. Reading
the stream is reading entities: the same rule (public reads, or any credential of the tenant).
"""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from madina.api import http, parameters
from madina.api.live_stream import EVENT_STREAM, LiveHub, LiveStream, Representation
from madina.auth.rules import PUBLIC_READ, allow
from madina.context import qlang
from madina.context.errors import BadRequestData
from madina.context.geo import DEFAULT_GEOPROPERTY, GeoQuery
from madina.context.jsonld import CORE_CONTEXT_URL
from madina.context.live_filter import LiveFilter
from madina.context.query import parse_type_expression, split_list
from madina.context.representation import FORMS

PARAMS = frozenset({"type", "q", "bbox", "geoproperty", "attrs", "options", "format", "lang",
                    "lastEventId"})
ALIASES = {"simplified": "keyValues"}


@allow(PUBLIC_READ)
async def live(request: Request) -> Response:
    http.check_params(request, PARAMS)
    ctx = await http.request_context(request, request.app.state.contexts,
                                     accept=(EVENT_STREAM,))
    live_filter = _filter(request, ctx)
    representation = _representation(request, ctx)
    await http.call(request, request.app.state.broker.check_tenant, ctx.tenant)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    context = ctx.context_value if ctx.context_value is not None else CORE_CONTEXT_URL
    if isinstance(context, str):
        headers["Link"] = f"<{context}>; {http.LINK_REL}"
    if request.method == "HEAD":
        return Response(headers=headers, media_type=EVENT_STREAM)
    # The header is what an EventSource sends when it reconnects; the parameter serves
    # polyfills and first connections, and yields to the header, which is always newer.
    resume_from = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
    hub: LiveHub = request.app.state.live
    client = hub.connect(live_filter, representation)
    return LiveStream(hub, client, resume_from or None, headers)


def _filter(request: Request, ctx: http.RequestContext) -> LiveFilter:
    params = request.query_params
    terms = ctx.terms
    types = params.get("type")
    q = params.get("q")
    attrs = split_list(params.get("attrs"))
    bbox = params.get("bbox")
    geoproperty = params.get("geoproperty")
    if geoproperty is not None and bbox is None:
        raise BadRequestData("geoproperty needs bbox")
    geoproperty = DEFAULT_GEOPROPERTY if geoproperty is None else geoproperty.strip()
    if not geoproperty:
        raise BadRequestData("geoproperty is empty")
    return LiveFilter(
        tenant=ctx.tenant,
        types=parse_type_expression(types, terms) if types is not None else None,
        q=qlang.resolve(qlang.parse_q(q), terms.expand) if q is not None else None,
        area=_area(bbox) if bbox is not None else None,
        geoproperty=terms.expand(geoproperty),
        watched=parameters.expanded(terms, attrs),
    )


def _area(text: str) -> GeoQuery:
    """`bbox=minLon,minLat,maxLon,maxLat` (WGS84, as GeoJSON's bbox member orders it)."""
    try:
        west, south, east, north = (float(part) for part in text.split(","))
    except ValueError:
        raise BadRequestData(
            f"bbox must be minLon,minLat,maxLon,maxLat in degrees, not {text!r}"
        ) from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise BadRequestData("bbox coordinates must be finite numbers")
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise BadRequestData(
            "bbox needs -180 <= minLon < maxLon <= 180 and -90 <= minLat < maxLat <= 90"
        )
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return GeoQuery(georel="intersects", geometry={"type": "Polygon", "coordinates": [ring]})


def _representation(request: Request, ctx: http.RequestContext) -> Representation:
    """options/format as on GET /entities (normalized, concise, keyValues; sysAttrs)."""
    # An empty format asks for the default here (GET /entities refuses it).
    form, sys_attrs = parameters.representation(
        request, request.query_params.get("format") or None, FORMS, ALIASES
    )
    attrs = split_list(request.query_params.get("attrs"))
    return Representation(
        terms=ctx.terms,
        form=form or "normalized",
        sys_attrs=sys_attrs,
        attrs=parameters.expanded(ctx.terms, attrs),
        lang=request.query_params.get("lang"),
    )


routes = [Route("/live", live, methods=["GET"])]
