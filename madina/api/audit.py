"""GET /auth/audit: the audit log, for admins of their own tenant (the bootstrap admin token: of
every tenant, or of the one `tenant` names). Reading it is itself recorded, since entries name
people and their addresses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from madina.auth.audit import AuditLog, personal_data
from madina.auth.principal import Principal, Role, Via
from madina.auth.rules import allow
from madina.context.errors import BadRequestData
from madina.store.audit import AuditEntry

DEFAULT_LIMIT = 100
PARAMETERS = frozenset({"since", "until", "subject", "limit", "tenant"})
NO_STORE = {"Cache-Control": "no-store"}


def _time(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequestData(f"{name} must be an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise BadRequestData(f"{name} must name its time zone (e.g. a trailing Z)")
    return moment.astimezone(UTC)


def _limit(request: Request) -> int:
    value = request.query_params.get("limit", str(DEFAULT_LIMIT))
    maximum = request.app.state.settings.max_limit
    if not value.isdigit() or not 0 < int(value) <= maximum:
        raise BadRequestData(f"limit must be a whole number from 1 to {maximum}")
    return int(value)


def _tenant(request: Request, principal: Principal) -> str | None:
    """Whose entries: an admin's own tenant; for the admin token, `tenant` or every tenant."""
    if principal.via is Via.ADMIN_TOKEN:
        return request.query_params.get("tenant")
    if request.query_params.get("tenant", principal.tenant) != principal.tenant:
        raise BadRequestData("an admin reads only the audit log of its own tenant")
    return principal.tenant


def render(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "tenant": entry.tenant,
        "subject": entry.subject,
        "subjectTenant": entry.subject_tenant,
        "via": entry.via,
        "roles": list(entry.roles),
        "action": entry.action,
        "method": entry.method,
        "path": entry.path,
        "entityIds": list(entry.entity_ids),
        "status": entry.status,
        "detail": entry.detail,
        "client": entry.client,
        "requestId": entry.request_id,
    }


@allow(Role.ADMIN)
async def audit_log(request: Request) -> Response:
    principal: Principal = request.state.principal
    unknown = set(request.query_params) - PARAMETERS
    if unknown:
        raise BadRequestData(f"unknown query parameter {sorted(unknown)[0]!r}")
    tenant = _tenant(request, principal)
    since, until = _time(request, "since"), _time(request, "until")
    limit = _limit(request)
    audit: AuditLog = request.app.state.audit
    entries = await audit.query(tenant, since, until, request.query_params.get("subject"),
                                limit)
    await personal_data(request, f"audit log of {'every tenant' if tenant is None else tenant!r}")
    return Response(orjson.dumps([render(entry) for entry in entries]), 200, NO_STORE,
                    media_type="application/json")


routes = [Route("/audit", audit_log, methods=["GET"])]


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


_TIME = {"type": "string", "format": "date-time"}
_ENTRY = {
    "type": "object",
    "required": ["at", "tenant", "subject", "subjectTenant", "via", "roles", "action", "method",
                 "path", "entityIds", "status", "detail", "client", "requestId"],
    "properties": {
        "at": _TIME, "tenant": {"type": "string"}, "subject": {"type": "string"},
        "subjectTenant": {"type": "string"}, "via": {"type": "string"},
        "roles": {"type": "array", "items": {"type": "string"}},
        "action": {"enum": ["write", "refused", "personal_data"]},
        "method": {"type": "string"}, "path": {"type": "string"},
        "entityIds": {"type": "array", "items": {"type": "string"}},
        "status": {"type": ["integer", "null"]}, "detail": {"type": "string"},
        "client": {"type": "string"}, "requestId": {"type": "string"},
    },
}
OPENAPI: dict[str, dict[str, Any]] = {
    "/auth/audit": {
        "get": {
            "operationId": "auditLog",
            "summary": "the audit log, newest first (admins: their tenant; admin token: any)",
            "tags": ["Admin"],
            "security": [{"bearer": []}],
            "parameters": [
                {"$ref": "#/components/parameters/Tenant"},
                _query("since", _TIME, "entries at or after this time"),
                _query("until", _TIME, "entries before this time"),
                _query("subject", {"type": "string"}, "entries of this caller only"),
                _query("limit", {"type": "integer", "minimum": 1}, "at most this many"),
                _query("tenant", {"type": "string"}, "admin token only: one tenant's entries"),
            ],
            "responses": {
                "200": {"description": "entries", "content": {"application/json": {
                    "schema": {"type": "array", "items": _ENTRY}}}},
                **{str(status): {"$ref": f"#/components/responses/ProblemDetails{status}"}
                   for status in (400, 401, 403, 429, 503)},
            },
        },
    },
}
"""This route in the app's OpenAPI description (madina.api.openapi merges it)."""
