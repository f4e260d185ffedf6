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
from madina.store.audit import AuditEntry

DEFAULT_LIMIT = 100
PARAMETERS = frozenset({"since", "until", "subject", "limit", "tenant"})
NO_STORE = {"Cache-Control": "no-store"}


class BadParameter(Exception):
    pass


def _time(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadParameter(f"{name} must be an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise BadParameter(f"{name} must name its time zone (e.g. a trailing Z)")
    return moment.astimezone(UTC)


def _limit(request: Request) -> int:
    value = request.query_params.get("limit", str(DEFAULT_LIMIT))
    maximum = request.app.state.settings.max_limit
    if not value.isdigit() or not 0 < int(value) <= maximum:
        raise BadParameter(f"limit must be a whole number from 1 to {maximum}")
    return int(value)


def _tenant(request: Request, principal: Principal) -> str | None:
    """Whose entries: an admin's own tenant; for the admin token, `tenant` or every tenant."""
    if principal.via is Via.ADMIN_TOKEN:
        return request.query_params.get("tenant")
    if request.query_params.get("tenant", principal.tenant) != principal.tenant:
        raise BadParameter("an admin reads only the audit log of its own tenant")
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


def _error(description: str) -> Response:
    body = {"error": "invalid_request", "error_description": description}
    return Response(orjson.dumps(body), 400, NO_STORE, media_type="application/json")


@allow(Role.ADMIN)
async def audit_log(request: Request) -> Response:
    principal: Principal = request.state.principal
    try:
        unknown = set(request.query_params) - PARAMETERS
        if unknown:
            raise BadParameter(f"unknown query parameter {sorted(unknown)[0]!r}")
        tenant = _tenant(request, principal)
        since, until = _time(request, "since"), _time(request, "until")
        limit = _limit(request)
    except BadParameter as exc:
        return _error(str(exc))
    audit: AuditLog = request.app.state.audit
    entries = await audit.query(tenant, since, until, request.query_params.get("subject"),
                                limit)
    await personal_data(request, f"audit log of {'every tenant' if tenant is None else tenant!r}")
    return Response(orjson.dumps([render(entry) for entry in entries]), 200, NO_STORE,
                    media_type="application/json")


routes = [Route("/audit", audit_log, methods=["GET"])]
