"""GDPR requests about one person's Open311 data, for the tenant's admins (the data spans every
department): `POST /open311/v2/admin/personal-data/export` answers everything held about them,
`.../erase` erases it, leaving the public requests they made in place, shown as anonymous. The
person is named in the body ({"email": ...}, {"phone": ...} or {"account_id": ...}), never in
a URL, so no access log holds it; every call is recorded in the audit log (`personal_data`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from madina.api import http
from madina.api.open311 import service_of
from madina.api.open311_admin import admin_call, json_answer
from madina.auth.audit import personal_data
from madina.auth.principal import Role
from madina.auth.rules import allow
from madina.context.errors import BadRequestData
from madina.services.open311 import people
from madina.services.open311.entity import entity_id
from madina.services.open311.errors import Open311Error

MAX_BODY = 4096


async def _person(request: Request) -> tuple[str, str]:
    body, _ = await http.read_json(request, MAX_BODY)
    try:
        return people.identifier_of(body)
    except Open311Error as exc:
        raise BadRequestData("; ".join(exc.descriptions)) from None


@allow(Role.ADMIN)
async def export(request: Request) -> Response:
    identifier, value = await _person(request)
    tenant = http.tenant_of(request)
    found = await admin_call(request, people.export, service_of(request).tables, tenant,
                        identifier, value)
    ids = [entity_id(item["service_request_id"]) for item in found["requests"]]
    await personal_data(request, f"Open311 personal data export of one person (by "
                                 f"{identifier})", ids)
    return json_answer(found)


@allow(Role.ADMIN)
async def erase(request: Request) -> Response:
    identifier, value = await _person(request)
    tenant = http.tenant_of(request)
    await personal_data(request, f"Open311 personal data erasure of one person (by "
                                 f"{identifier})")
    done = await admin_call(request, people.erase, service_of(request).tables, tenant, identifier,
                       value)
    return json_answer(done)


routes = [
    Route("/personal-data/export", export, methods=["POST"]),
    Route("/personal-data/erase", erase, methods=["POST"]),
]
