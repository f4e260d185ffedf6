"""The Open311 admin and staff API under /open311/v2/admin, in JSON with ProblemDetails errors
like the rest of Madina's own API (the GeoReport v2 format is for Open311 clients).

Admins of a tenant (NGSILD-Tenant, checked by the rules) manage its catalogue (the whole
document, or one service or department at a time) and the api_keys of submitting apps.
Department staff handle the requests routed to their departments: they read the reporter's
contact details (each reading recorded in the audit log), move requests through the workflow
(madina.services.open311.workflow) with public notes, and merge duplicates. An admin may do all
of it for every department. Every change e-mails the people following the request.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from madina.api import http
from madina.api.open311 import public_base, request_json, service_of
from madina.auth.audit import personal_data
from madina.auth.principal import Principal, Role
from madina.auth.rules import allow, forbidden
from madina.context.errors import BadRequestData, ResourceNotFound
from madina.services.open311 import workflow
from madina.services.open311.catalogue import (
    CatalogueError,
    parse_catalogue,
    parse_department,
    parse_service,
)
from madina.services.open311.entity import entity_id, public_time
from madina.services.open311.errors import Open311Error
from madina.services.open311.submission import CONTROL
from madina.store.open311 import AppKey, RequestRecord

MAX_BODY_BYTES = 4 * 1024 * 1024
"""A catalogue with detailed polygons for every department is large, but not larger."""
NO_STORE = {"Cache-Control": "no-store"}
MAX_NOTES = 4000


def json_answer(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status, {**NO_STORE, **(headers or {})},
                    media_type="application/json")


async def _body(request: Request, max_bytes: int = MAX_BODY_BYTES) -> Any:
    body, _ = await http.read_json(request, max_bytes)
    return body


async def admin_call(request: Request, function: Any, *args: Any) -> Any:
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
    catalogue = await admin_call(request, service_of(request).catalogue, http.tenant_of(request))
    return json_answer(catalogue.to_json())


@allow(Role.ADMIN)
async def put_catalogue(request: Request) -> Response:
    """Replace the tenant's whole catalogue (the CLI's `madina open311 load` does the same)."""
    tenant = http.tenant_of(request)
    try:
        catalogue = parse_catalogue(await _body(request))
    except CatalogueError as exc:
        raise BadRequestData(str(exc)) from None
    stored = await admin_call(request, service_of(request).replace_catalogue, tenant, catalogue)
    return json_answer(stored.to_json())


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
    created = await admin_call(request, service_of(request).put_service, http.tenant_of(request),
                          service)
    headers = {"Location": f"/open311/v2/admin/services/{quote(code, safe='')}"}
    return json_answer(service.to_json(), 201 if created else 200, headers if created else None)


@allow(Role.ADMIN)
async def delete_service(request: Request) -> Response:
    code = request.path_params["service_code"]
    if not await admin_call(request, service_of(request).delete_service, http.tenant_of(request),
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
    created = await admin_call(request, service_of(request).put_department,
                          http.tenant_of(request), department)
    headers = {"Location": f"/open311/v2/admin/departments/{quote(code, safe='')}"}
    return json_answer(department.to_json(), 201 if created else 200, headers if created else None)


@allow(Role.ADMIN)
async def delete_department(request: Request) -> Response:
    code = request.path_params["department"]
    if not await admin_call(request, service_of(request).delete_department,
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
    return json_answer([_key_json(key) for key in keys])


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
    return json_answer({**_key_json(key), "secret": secret}, 201,
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
    return json_answer(_key_json(key))


# -- staff: the requests of their departments ---------------------------------------------------
async def _handled(request: Request, request_id: str | None = None
                   ) -> RequestRecord | Response:
    """The request (the path's by default) if the caller handles it (an admin, or staff of
    the department it is routed to), else the 403 answer."""
    record = await admin_call(request, service_of(request).request, http.tenant_of(request),
                         request_id or request.path_params["service_request_id"])
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
    return json_answer([{"role": p.role, "email": p.email, "first_name": p.first_name,
                   "last_name": p.last_name, "phone": p.phone, "device_id": p.device_id,
                   "account_id": p.account_id, "subject": p.subject, "app_key": p.app_key,
                   "created_at": public_time(p.created_at)} for p in people])


def _note(body: dict[str, Any]) -> str | None:
    notes = body.get("status_notes")
    if notes is not None and (not isinstance(notes, str) or len(notes) > MAX_NOTES
                              or CONTROL.search(notes)):
        raise BadRequestData(f"status_notes must be text of at most {MAX_NOTES} characters")
    if notes is None:
        return None
    return notes.strip() or None


def _mail_queued(request: Request) -> None:
    sender = request.app.state.open311_mail
    if sender is not None:
        sender.wake()


@allow(Role.DEPARTMENT)
async def update_request(request: Request) -> Response:
    """Move a request to another state, or add a public note, or both; its entity and its
    followers follow."""
    body = await _body(request, 64 * 1024)
    if not isinstance(body, dict) or not body or set(body) - {"state", "reason",
                                                              "status_notes"}:
        raise BadRequestData("the body is {\"state\": ..., \"reason\": ..., "
                             "\"status_notes\": text}: a new state, a public note, or both "
                             f"(states: {', '.join(workflow.STATES)}; reasons, when closing: "
                             f"{', '.join(workflow.REASONS)})")
    state, reason = body.get("state"), body.get("reason")
    if state is not None and state not in workflow.STATES:
        raise BadRequestData(f"state must be one of {', '.join(workflow.STATES)}")
    if reason is not None and reason not in workflow.REASONS:
        raise BadRequestData(f"reason must be one of {', '.join(workflow.REASONS)}")
    move = workflow.Move(state, reason, _note(body))
    record = await _handled(request)
    if isinstance(record, Response):
        return record
    open311 = service_of(request)
    catalogue = await admin_call(request, open311.catalogue, record.tenant)
    links = await admin_call(request, open311.links, record.tenant, public_base(request))
    changed = await admin_call(request, request.app.state.open311_staff.move, catalogue,
                          record.tenant, record.id, move, request.state.principal.subject,
                          request.app.state.contexts.core(), links)
    _mail_queued(request)
    return json_answer(request_json(changed))


@allow(Role.DEPARTMENT)
async def merge(request: Request) -> Response:
    """Close the path's request as a duplicate of `into`; its reporter and followers follow
    the one kept. The caller must handle both."""
    body = await _body(request, 64 * 1024)
    if not isinstance(body, dict) or not isinstance(body.get("into"), str) \
            or set(body) - {"into", "status_notes"}:
        raise BadRequestData("the body is {\"into\": \"<the service_request_id kept>\", "
                             "\"status_notes\": text} (status_notes optional)")
    note = _note(body)
    duplicate = await _handled(request)
    if isinstance(duplicate, Response):
        return duplicate
    kept = await _handled(request, body["into"])
    if isinstance(kept, Response):
        return kept
    open311 = service_of(request)
    catalogue = await admin_call(request, open311.catalogue, duplicate.tenant)
    links = await admin_call(request, open311.links, duplicate.tenant, public_base(request))
    merged, into = await admin_call(request, request.app.state.open311_staff.merge, catalogue,
                               duplicate.tenant, duplicate.id, kept.id, note,
                               request.state.principal.subject,
                               request.app.state.contexts.core(), links)
    _mail_queued(request)
    return json_answer({"duplicate": request_json(merged), "kept": request_json(into)})


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
    Route("/requests/{service_request_id}/merge", merge, methods=["POST"]),
    Route("/requests/{service_request_id}/reporters", reporters, methods=["GET"]),
]
