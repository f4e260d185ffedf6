"""Open311 GeoReport v2 at /open311/v2: discovery, services, service definitions, requests
(POST, with an optional photo, and GET, also near a point), one request, tokens; each in `.json`
and `.xml`. The extensions citizens use after submitting are in madina.api.open311_citizens.

The answers and errors are the spec's own: XML or JSON by the path's extension, errors a list of
`{code, description}` with the HTTP status as the code (404 not found, 403 bad api_key, 400
otherwise), a failing database a 503 in the same form. Which city a call is about comes from
`jurisdiction_id` (one endpoint serving several cities, each a tenant) or else NGSILD-Tenant.

Reads are public data (PUBLIC_READ, as for entities). Submitting needs an Open311 `api_key`
(an app's, managed at /open311/v2/admin/keys) or a signed-in citizen's or staff member's
credential. The key travels in the form, as the spec has it, so the route admits anyone (OPEN)
and the endpoint itself refuses a missing or bad key with the spec's 403 and checks that a
credential belongs to the city's tenant. No answer here carries a reporter's contact details.

Submissions are stored by the worker's intake (madina.services.open311.intake), which writes
those arriving together in one transaction with their entities.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import structlog
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from madina.api import http
from madina.auth.principal import ANONYMOUS, Principal, Role, Via
from madina.auth.rules import OPEN, PUBLIC_READ, Grant, allow
from madina.context.errors import NgsiError
from madina.services.open311 import media, workflow
from madina.services.open311.catalogue import Catalogue, Service
from madina.services.open311.entity import attribute_values, public_time
from madina.services.open311.errors import Open311Error, bad_request, forbidden, not_found
from madina.services.open311.formats import FORMATS, render
from madina.services.open311.intake import Pending
from madina.services.open311.query import extensions_flag, request_query
from madina.services.open311.service import Open311Service, Submitter
from madina.services.open311.submission import read_form
from madina.store.base import StoreUnavailable
from madina.store.open311 import RequestRecord, StatusChange

log = structlog.get_logger("madina.open311")

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
MAX_FIELDS = 200
MULTIPART_OVERHEAD = 1024 * 1024
"""Room for the text fields and part headers next to a photo of the largest accepted size."""
SUBMITTING_ROLES = (Role.CITIZEN, Role.DEPARTMENT, Role.OPERATOR)
Payload = tuple[str, Any, int]
"""(XML root element, structure, HTTP status)."""
Handler = Callable[[Request, str], Awaitable[Payload]]


def service_of(request: Request) -> Open311Service:
    return request.app.state.open311


def params_of(request: Request) -> dict[str, str]:
    """Query arguments; a repeated one is read as the comma-separated list clients also send."""
    return {name: ",".join(request.query_params.getlist(name))
            for name in request.query_params}


def public_base(request: Request) -> str:
    """Where citizens reach this Madina: MADINA_PUBLIC_URL, else the address of this call."""
    return request.app.state.settings.public_url or str(request.base_url)


async def tenant_of_call(request: Request, jurisdiction_id: str | None) -> str:
    return await http.call(request, service_of(request).tenant_for, jurisdiction_id,
                           http.tenant_of(request))


async def catalogue_of_call(request: Request,
                            jurisdiction_id: str | None) -> tuple[str, Catalogue]:
    tenant = await tenant_of_call(request, jurisdiction_id)
    catalogue, _ = await http.call(request, service_of(request).configured, tenant)
    return tenant, catalogue


def error_response(error: Open311Error, fmt: str, headers: dict[str, str] | None = None
                   ) -> Response:
    body, media_type = render("errors", error.errors(), fmt)
    return Response(body, error.status, headers, media_type=media_type)


def _format_endpoint(handler: Handler, fmt: str, grant: Grant) -> Callable:
    """The route of `handler` for one format, answering every failure in that format."""

    @allow(grant)
    async def endpoint(request: Request) -> Response:
        try:
            root, payload, status = await handler(request, fmt)
        except Open311Error as exc:
            return error_response(exc, fmt)
        except NgsiError as exc:  # a bad NGSILD-Tenant, a body over the size limit
            return error_response(Open311Error(exc.status if exc.status < 500 else 500,
                                               exc.detail), fmt)
        except StoreUnavailable as exc:
            log.warning("database unavailable", path=request.url.path, error=str(exc))
            return error_response(Open311Error(503, "the database cannot be reached; retry "
                                               "later"), fmt, {"Retry-After": "5"})
        except Exception:  # a bug: still the spec's format, and the traceback in the log
            log.exception("unhandled error", path=request.url.path, method=request.method)
            return error_response(Open311Error(500, "unexpected error; see the server log"),
                                  fmt)
        body, media_type = render(root, payload, fmt)
        return Response(body, status, media_type=media_type)

    endpoint.__name__ = endpoint.__qualname__ = f"{handler.__name__}_{fmt}"
    return endpoint


def georeport_routes(path: str, handler: Handler, method: str, grant: Grant) -> list[Route]:
    """`handler` at `path`.json and `path`.xml."""
    return [Route(f"{path}.{fmt}", _format_endpoint(handler, fmt, grant), methods=[method])
            for fmt in FORMATS]


# -- renderings --------------------------------------------------------------------------------
def request_json(record: RequestRecord, service: Service | None = None,
                 history: list[StatusChange] | None = None) -> dict[str, Any]:
    """A request as GET requests shows it; with `history` (extensions=true) also the
    `extended_attributes` and `notes` extensions. Public fields only, by construction."""
    out: dict[str, Any] = {
        "service_request_id": record.id, "status": record.status,
        "status_notes": record.status_notes, "service_name": record.service_name,
        "service_code": record.service_code, "description": record.description,
        "agency_responsible": record.agency_responsible,
        "service_notice": record.service_notice,
        "requested_datetime": public_time(record.requested_at),
        "updated_datetime": public_time(record.updated_at),
        "expected_datetime": public_time(record.expected_at) if record.expected_at else None,
        "address": record.address, "address_id": record.address_id,
        "zipcode": record.zipcode, "lat": record.lat, "long": record.long,
        "media_url": record.media_url,
    }
    if history is not None:
        out["extended_attributes"] = {
            "attributes": attribute_values(record.attributes, service),
            "state": record.state, "reason": record.reason,
            "duplicate_of": record.duplicate_of,
            "reported_by": record.reported_by or "anonymous",
        }
        out["notes"] = [{"datetime": public_time(change.at),
                         "status": workflow.georeport_status(change.state),
                         "state": change.state, "reason": change.reason,
                         "description": change.note} for change in history]
    return out


def _service_json(catalogue: Catalogue, service: Service) -> dict[str, Any]:
    return {
        "service_code": service.code, "service_name": service.name,
        "description": service.description,
        "metadata": any(a.variable for a in service.attributes), "type": service.type,
        "keywords": ",".join(service.keywords) or None,
        "group": catalogue.group_name(service.group),
    }


# -- handlers ----------------------------------------------------------------------------------
async def discovery(request: Request, fmt: str) -> Payload:
    _, catalogue = await catalogue_of_call(request, request.query_params.get("jurisdiction_id"))
    jurisdiction = catalogue.jurisdiction
    assert jurisdiction is not None  # configured() said so
    changeset = public_time(catalogue.changed_at)
    url = str(request.base_url).rstrip("/") + "/open311/v2"
    return "discovery", {
        "changeset": changeset, "contact": jurisdiction.contact,
        "key_service": jurisdiction.key_service,
        "endpoints": [{"specification": SPECIFICATION, "url": url, "changeset": changeset,
                       "type": "production", "formats": ["text/xml", "application/json"]}],
    }, 200


async def services(request: Request, fmt: str) -> Payload:
    _, catalogue = await catalogue_of_call(request, request.query_params.get("jurisdiction_id"))
    return "services", [_service_json(catalogue, s) for s in catalogue.services], 200


async def service_definition(request: Request, fmt: str) -> Payload:
    _, catalogue = await catalogue_of_call(request, request.query_params.get("jurisdiction_id"))
    code = request.path_params["service_code"]
    service = catalogue.service(code)
    if service is None:
        raise not_found(f"service_code {code!r} not found")
    return "service_definition", {"service_code": service.code,
                                  "attributes": [a.to_json() for a in service.attributes]}, 200


async def list_requests(request: Request, fmt: str) -> Payload:
    params = params_of(request)
    tenant, catalogue = await catalogue_of_call(request, params.get("jurisdiction_id"))
    query = request_query(params,
                          default_radius=request.app.state.settings.open311_duplicate_radius_m)
    open311 = service_of(request)
    records = await http.call(request, open311.requests, tenant, query)
    return "service_requests", await _rendered(request, tenant, catalogue, records,
                                               query.extensions), 200


async def _rendered(request: Request, tenant: str, catalogue: Catalogue,
                    records: list[RequestRecord], extensions: bool) -> list[dict[str, Any]]:
    if not extensions:
        return [request_json(record) for record in records]
    history = await http.call(request, service_of(request).history, tenant,
                              [r.id for r in records])
    return [request_json(r, catalogue.service(r.service_code), history.get(r.id, []))
            for r in records]


async def one_request(request: Request, fmt: str) -> Payload:
    jurisdiction_id = request.query_params.get("jurisdiction_id")
    tenant, catalogue = await catalogue_of_call(request, jurisdiction_id)
    extensions = extensions_flag(request.query_params.get("extensions"))
    record = await http.call(request, service_of(request).request, tenant,
                             request.path_params["service_request_id"])
    return "service_requests", await _rendered(request, tenant, catalogue, [record],
                                               extensions), 200


async def token(request: Request, fmt: str) -> Payload:
    tenant = await tenant_of_call(request, request.query_params.get("jurisdiction_id"))
    value = request.path_params["token"]
    request_id = await http.call(request, service_of(request).request_id_of_token, tenant,
                                 value)
    return "service_requests", [{"service_request_id": request_id, "token": value}], 200


async def submit(request: Request, fmt: str) -> Payload:
    state = request.app.state
    fields, upload = await form_of(request, with_media=True)
    first = dict(reversed(fields))
    tenant = await tenant_of_call(request, first.get("jurisdiction_id") or None)
    submitter = await submitter_of(request, tenant, first.get("api_key") or None)
    submission = read_form(fields, with_media=upload is not None)
    photo = media.clean(upload, state.settings.open311_media_max_bytes) \
        if upload is not None else None
    open311 = service_of(request)
    base = public_base(request)
    media_url = f"{base.rstrip('/')}/open311/v2/media/{photo.name}" if photo else None
    new, service, links = await http.call(request, open311.accept, tenant, submission,
                                          submitter, base, media_url)
    created = state.open311_media.put(photo) if photo else False
    try:
        record = await state.open311_intake.submit(
            Pending(new, service, links, state.contexts.core()))
    except BaseException:
        if photo is not None and created:
            state.open311_media.remove(photo.name)
        raise
    answer: dict[str, Any] = {}
    if service.type == "realtime":
        answer["service_request_id"] = record.id
    elif service.type == "batch":
        answer["token"] = record.token
    answer["service_notice"] = record.service_notice
    answer["account_id"] = None
    return "service_requests", [answer], 201


async def form_of(request: Request, with_media: bool = False
                  ) -> tuple[list[tuple[str, str]], bytes | None]:
    """The POST's text fields, form-encoded or multipart, and with `with_media` the bytes of
    its `media` file part (one photo); any other file part is refused."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (FORM, MULTIPART):
        raise bad_request(f"a service request is posted as {FORM} or {MULTIPART}, not "
                          f"{content_type or 'without a Content-Type'}")
    settings = request.app.state.settings
    limit = settings.max_body_bytes
    if with_media and content_type == MULTIPART:
        limit = max(limit, settings.open311_media_max_bytes + MULTIPART_OVERHEAD)
    body, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise bad_request(f"the request body exceeds {limit} bytes"
                              + (f" (media may be at most {settings.open311_media_max_bytes} "
                                 "bytes)" if with_media else ""))
        body.append(chunk)
    request._body = b"".join(body)
    if content_type == FORM:
        try:
            fields = parse_qsl(request._body.decode("utf-8"), keep_blank_values=True,
                               errors="strict", max_num_fields=MAX_FIELDS)
        except (UnicodeDecodeError, ValueError) as exc:
            raise bad_request(f"the form cannot be read: {exc}") from None
        return fields, None
    try:
        form = await request.form(max_files=1 if with_media else 0, max_fields=MAX_FIELDS)
    except (MultiPartException, HTTPException) as exc:  # Starlette wraps the parser's error
        reason = exc.message if isinstance(exc, MultiPartException) else exc.detail
        raise bad_request(f"the multipart form cannot be read: {reason}"
                          + (" (one file at most: media)" if with_media else
                             " (files are not accepted here)")) from None
    texts, upload = [], None
    for name, value in form.multi_items():
        if not isinstance(value, UploadFile):
            texts.append((name, str(value)))
        elif not with_media or name != "media":
            raise bad_request(f"the file part {name!r} is not accepted"
                              + (": a photo goes in media" if with_media else ""))
        else:
            upload = await value.read()
    return texts, upload


async def submitter_of(request: Request, tenant: str, api_key: str | None) -> Submitter:
    """Who submits: an app's api_key of this tenant, or a credential of this tenant that may
    report (citizens and staff; not devices). Anything else is the spec's 403."""
    principal: Principal = getattr(request.state, "principal", ANONYMOUS)
    subject = None
    if principal.authenticated:
        if principal.via is not Via.ADMIN_TOKEN and principal.tenant != tenant:
            raise forbidden(f"the credential belongs to tenant {principal.tenant!r} and cannot "
                            f"submit in tenant {tenant!r}")
        if not principal.has(*SUBMITTING_ROLES):
            raise forbidden("this credential may not submit service requests (citizens and "
                            "city staff may)")
        subject = principal.subject
    if api_key is not None:
        key = await http.call(request, service_of(request).app_key, api_key)
        if key is None or key.tenant != tenant:
            raise forbidden("api_key is not valid for this jurisdiction")
        return Submitter(subject, key.id)
    if subject is not None or request.app.state.settings.auth == "off":
        return Submitter(subject)
    raise forbidden("api_key is missing: submitting apps need one (see discovery's "
                    "key_service), or sign in")


routes = [
    *georeport_routes("/discovery", discovery, "GET", PUBLIC_READ),
    *georeport_routes("/services", services, "GET", PUBLIC_READ),
    *georeport_routes("/services/{service_code}", service_definition, "GET", PUBLIC_READ),
    *georeport_routes("/requests", submit, "POST", OPEN),
    *georeport_routes("/requests", list_requests, "GET", PUBLIC_READ),
    *georeport_routes("/requests/{service_request_id}", one_request, "GET", PUBLIC_READ),
    *georeport_routes("/tokens/{token}", token, "GET", PUBLIC_READ),
]
