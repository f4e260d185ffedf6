"""The Open311 admin and staff API under /open311/v2/admin, in JSON with ProblemDetails errors
like the rest of Madina's own API (the GeoReport v2 format is for Open311 clients).

Admins of a tenant (NGSILD-Tenant, checked by the rules) manage its catalogue (the whole
document, or one service or department at a time) and the api_keys of submitting apps.
Department staff handle the requests routed to their departments: they read the reporter's
contact details (each reading recorded in the audit log) and set the status. An admin may do
both for every department.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from madina.api import http
from madina.api.open311 import request_json, service_of
from madina.auth.audit import personal_data
from madina.auth.principal import Principal, Role
from madina.auth.rules import allow, forbidden
from madina.context.errors import BadRequestData, ResourceNotFound
from madina.services.open311.catalogue import (
    CatalogueError,
    parse_catalogue,
    parse_department,
    parse_service,
)
from madina.services.open311.entity import entity_id, public_time
from madina.services.open311.errors import Open311Error
from madina.services.open311.service import CLOSED, OPEN
from madina.services.open311.submission import CONTROL
from madina.store.open311 import AppKey, RequestRecord

MAX_BODY_BYTES = 4 * 1024 * 1024
"""A catalogue with detailed polygons for every department is large, but not larger."""
NO_STORE = {"Cache-Control": "no-store"}
MAX_NOTES = 4000


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status, {**NO_STORE, **(headers or {})},
                    media_type="application/json")


async def _body(request: Request, max_bytes: int = MAX_BODY_BYTES) -> Any:
    body, _ = await http.read_json(request, max_bytes)
    return body


async def _call(request: Request, function: Any, *args: Any) -> Any:
    """A service call whose refusals (catalogue or Open311 errors) become ProblemDetails."""
    try:
        return await http.call(request, function, *args)
    except CatalogueError as exc:
        raise BadRequestData(str(exc)) from None
    except Open311Error as exc:
        if exc.status == 404:
            raise ResourceNotFound("; ".join(exc.descriptions)) from None
        raise BadRequestData("; ".join(exc.descriptions)) from None


# -- catalogue ---------------------------------------------------------------------------------
@allow(Role.ADMIN)
async def get_catalogue(request: Request) -> Response:
    catalogue = await _call(request, service_of(request).catalogue, http.tenant_of(request))
    return _json(catalogue.to_json())


@allow(Role.ADMIN)
async def put_catalogue(request: Request) -> Response:
    """Replace the tenant's whole catalogue (the CLI's `madina open311 load` does the same)."""
    tenant = http.tenant_of(request)
    try:
        catalogue = parse_catalogue(await _body(request))
    except CatalogueError as exc:
        raise BadRequestData(str(exc)) from None
    stored = await _call(request, service_of(request).replace_catalogue, tenant, catalogue)
    return _json(stored.to_json())


def _same_code(body: Any, member: str, code: str) -> Any:
    if isinstance(body, dict) and body.get(member, code) != code:
        raise BadRequestData(f"{member} in the body differs from the path's {code!r}")
    return {**body, member: code} if isinstance(body, dict) else body


@allow(Role.ADMIN)
async def put_service(request: Request) -> Response:
    code = request.path_params["service_code"]
    body = _same_code(await _body(request), "service_code", code)
    try:
        service = parse_service(body)
    except CatalogueError as exc:
        raise BadRequestData(str(exc)) from None
    created = await _call(request, service_of(request).put_service, http.tenant_of(request),
                          service)
    headers = {"Location": f"/open311/v2/admin/services/{quote(code, safe='')}"}
    return _json(service.to_json(), 201 if created else 200, headers if created else None)


@allow(Role.ADMIN)
async def delete_service(request: Request) -> Response:
    code = request.path_params["service_code"]
    if not await _call(request, service_of(request).delete_service, http.tenant_of(request),
                       code):
        raise ResourceNotFound(f"no service {code!r}")
    return Response(status_code=204)


@allow(Role.ADMIN)
async def put_department(request: Request) -> Response:
    code = request.path_params["department"]
    body = _same_code(await _body(request), "code", code)
    try:
        department = parse_department(body)
    except CatalogueError as exc:
        raise BadRequestData(str(exc)) from None
    created = await _call(request, service_of(request).put_department,
                          http.tenant_of(request), department)
    headers = {"Location": f"/open311/v2/admin/departments/{quote(code, safe='')}"}
    return _json(department.to_json(), 201 if created else 200, headers if created else None)


@allow(Role.ADMIN)
async def delete_department(request: Request) -> Response:
    code = request.path_params["department"]
    if not await _call(request, service_of(request).delete_department,
                       http.tenant_of(request), code):
        raise ResourceNotFound(f"no department {code!r}")
    return Response(status_code=204)


# -- app keys ----------------------------------------------------------------------------------
def _key_json(key: AppKey) -> dict[str, Any]:
    return {"id": key.id, "name": key.name, "disabled": key.disabled,
            "createdAt": key.created_at}


@allow(Role.ADMIN)
async def list_keys(request: Request) -> Response:
    keys = await http.call(request, service_of(request).tables.app_keys, http.tenant_of(request))
    return _json([_key_json(key) for key in keys])


@allow(Role.ADMIN)
async def create_key(request: Request) -> Response:
    """The api_key (`secret`) is in this answer and nowhere else: only its hash is stored."""
    body = await _body(request, 64 * 1024)
    if not isinstance(body, dict) or set(body) != {"name"}:
        raise BadRequestData("the body is {\"name\": ...} and nothing else")
    name = body["name"]
    if not isinstance(name, str) or not 0 < len(name) <= 64 or not name.isprintable():
        raise BadRequestData("name must be a printable string of 1 to 64 characters")
    key, secret = await http.call(request, service_of(request).create_key,
                                  http.tenant_of(request), name)
    return _json({**_key_json(key), "secret": secret}, 201,
                 {"Location": f"/open311/v2/admin/keys/{key.id}"})


@allow(Role.ADMIN)
async def update_key(request: Request) -> Response:
    body = await _body(request, 64 * 1024)
    if not isinstance(body, dict) or set(body) != {"disabled"} \
            or not isinstance(body["disabled"], bool):
        raise BadRequestData("the body is {\"disabled\": true|false} and nothing else")
    key = await http.call(request, service_of(request).tables.set_app_key_disabled,
                          http.tenant_of(request), request.path_params["keyId"],
                          body["disabled"])
    if key is None:
        raise ResourceNotFound(f"no api_key {request.path_params['keyId']!r}")
    return _json(_key_json(key))


# -- staff: the requests of their departments ---------------------------------------------------
async def _handled(request: Request) -> RequestRecord | Response:
    """The path's request if the caller handles it (an admin, or staff of the department it
    is routed to), else the 403 answer."""
    record = await _call(request, service_of(request).request, http.tenant_of(request),
                         request.path_params["service_request_id"])
    principal: Principal = request.state.principal
    if Role.ADMIN in principal.roles or (record.department is not None
                                         and record.department in principal.departments):
        return record
    return forbidden(f"service request {record.id} is handled by "
                     f"{record.agency_responsible or 'no department yet'}, not by the "
                     "caller's departments")


@allow(Role.DEPARTMENT)
async def reporters(request: Request) -> Response:
    """Who reported the request and how to reach them: personal data, recorded as read."""
    record = await _handled(request)
    if isinstance(record, Response):
        return record
    people = await http.call(request, service_of(request).reporters, record.tenant, record.id)
    await personal_data(request, f"reporter contact of service request {record.id}",
                        [entity_id(record.id)])
    return _json([{"role": p.role, "email": p.email, "first_name": p.first_name,
                   "last_name": p.last_name, "phone": p.phone, "device_id": p.device_id,
                   "account_id": p.account_id, "subject": p.subject, "app_key": p.app_key,
                   "created_at": public_time(p.created_at)} for p in people])


@allow(Role.DEPARTMENT)
async def update_request(request: Request) -> Response:
    """Open or close a request with a public note; its entity follows."""
    body = await _body(request, 64 * 1024)
    if not isinstance(body, dict) or "status" not in body or set(body) - {"status",
                                                                        "status_notes"}:
        raise BadRequestData("the body is {\"status\": \"open\"|\"closed\", "
                             "\"status_notes\": text} (status_notes optional)")
    status, notes = body["status"], body.get("status_notes")
    if status not in (OPEN, CLOSED):
        raise BadRequestData("status must be open or closed")
    if notes is not None and (not isinstance(notes, str) or len(notes) > MAX_NOTES
                              or CONTROL.search(notes)):
        raise BadRequestData(f"status_notes must be text of at most {MAX_NOTES} characters")
    record = await _handled(request)
    if isinstance(record, Response):
        return record
    changed = await _call(request, service_of(request).change_status, record.tenant, record,
                          status, notes or None, request.state.principal.subject,
                          request.app.state.contexts.core())
    return _json(request_json(changed))


routes = [
    Route("/catalogue", get_catalogue, methods=["GET"]),
    Route("/catalogue", put_catalogue, methods=["PUT"]),
    Route("/services/{service_code}", put_service, methods=["PUT"]),
    Route("/services/{service_code}", delete_service, methods=["DELETE"]),
    Route("/departments/{department}", put_department, methods=["PUT"]),
    Route("/departments/{department}", delete_department, methods=["DELETE"]),
    Route("/keys", list_keys, methods=["GET"]),
    Route("/keys", create_key, methods=["POST"]),
    Route("/keys/{keyId}", update_key, methods=["PATCH"]),
    Route("/requests/{service_request_id}", update_request, methods=["PATCH"]),
    Route("/requests/{service_request_id}/reporters", reporters, methods=["GET"]),
]
