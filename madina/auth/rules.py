"""Who may call a route, declared next to the route and enforced in one place.

Every endpoint is decorated with `@allow(...)` naming the grants that let a request in; the
decorator wraps the endpoint so no route can forget to check, and leaves its rule on the function
(`endpoint.rule`) so the authorization matrix test can find routes that declare none.

A request is let in when any grant admits its principal. Before that, a signed-in principal must be
asking in its own tenant: a credential of tenant A naming tenant B is refused (403), never served
from a silently different tenant. Only the bootstrap admin token is cross-tenant (its principal
takes the request's tenant). With MADINA_AUTH=off every grant admits, but the tenant check stays:
open mode is for working without credentials, not for letting one tenant's credential into another.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from madina.auth.principal import ANONYMOUS, Principal, Role, Via
from madina.context.errors import InvalidRequest, PayloadTooLarge

Endpoint = Callable[[Request], Awaitable[Response]]
Check = Callable[[Principal, Request], Awaitable[bool]]


@dataclass(frozen=True)
class Grant:
    """One way into a route; a rule admits a request when any of its grants does."""

    name: str
    """What the grant asks for, as the 403 detail says it."""
    check: Check
    tenant_scoped: bool = True
    """False for grants that touch no tenant's data (the token endpoint, logout)."""
    needs_credential: bool = True
    """False when an anonymous caller may be admitted (whether it is depends on `check`)."""
    role: Role | None = None
    """The role a role grant asks for (admins hold every role)."""


@dataclass(frozen=True)
class Rule:
    grants: tuple[Grant, ...]

    @property
    def tenant_scoped(self) -> bool:
        return any(grant.tenant_scoped for grant in self.grants)

    @property
    def description(self) -> str:
        return " or ".join(grant.name for grant in self.grants)


async def _anyone(principal: Principal, request: Request) -> bool:
    return True


async def _signed_in(principal: Principal, request: Request) -> bool:
    return principal.authenticated


async def _public_read(principal: Principal, request: Request) -> bool:
    return principal.authenticated or request.app.state.settings.public_reads


def _role(role: Role) -> Grant:
    async def check(principal: Principal, request: Request) -> bool:
        return principal.has(role)

    return Grant(f"the {role.value} role", check, role=role)


async def _device_owns_entities(principal: Principal, request: Request) -> bool:
    if Role.DEVICE not in principal.roles or not principal.entity_ids:
        return False
    entity_id = request.path_params.get("entityId")
    ids = {entity_id} if entity_id is not None else await _body_entity_ids(request)
    return bool(ids) and ids <= principal.entity_ids


async def _body_entity_ids(request: Request) -> set[str]:
    """The entity ids a create or batch body writes: an entity's `id`, each batch item's `id`,
    or the ids of a batch delete. Empty when the body names none, which admits nobody."""
    try:
        body = orjson.loads(await _read_body(request))
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
    items = body if isinstance(body, list) else [body]
    ids: set[str] = set()
    for item in items:
        entity_id = item.get("id") if isinstance(item, dict) else item
        if not isinstance(entity_id, str):
            return set()
        ids.add(entity_id)
    return ids


async def _read_body(request: Request) -> bytes:
    """The body, within the size limit the endpoint itself enforces, kept on the request (where
    Starlette's own `Request.body()` keeps it) so the endpoint reads it again."""
    limit = request.app.state.settings.max_body_bytes
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
        chunks.append(chunk)
    request._body = b"".join(chunks)
    return request._body


OPEN = Grant("nothing", _anyone, tenant_scoped=False, needs_credential=False)
"""Anyone at all: health checks and the token endpoint, which is how a credential is obtained."""
SIGNED_IN = Grant("any credential", _signed_in, tenant_scoped=False)
"""Any valid credential, whatever its tenant: for acting on that credential itself (logout)."""
PUBLIC_READ = Grant("any credential (public reads are off)", _public_read, needs_credential=False)
"""Reads of public data: anyone when MADINA_PUBLIC_READS is on (the default), else any
credential of the tenant."""
DEVICE_OWN_ENTITY = Grant("a device credential owning every entity written",
                          _device_owns_entities)
"""A device writing only entities its credential lists (`Principal.entity_ids`): the path's
entity, or every entity of a create or batch body."""


def allow(*grants: Grant | Role) -> Callable[[Endpoint], Endpoint]:
    """Declare who may call the decorated endpoint, and enforce it before the endpoint runs."""
    if not grants:
        raise ValueError("a rule needs at least one grant")
    rule = Rule(tuple(_role(g) if isinstance(g, Role) else g for g in grants))

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            refusal = await refusal_of(rule, request)
            return refusal if refusal is not None else await endpoint(request)

        guarded.rule = rule  # type: ignore[attr-defined]
        return guarded

    return decorate


def rule_of(endpoint: Any) -> Rule | None:
    """The rule an endpoint declared, None when it declared none."""
    return getattr(endpoint, "rule", None)


def requested_tenants(request: Request) -> set[str]:
    """Every tenant the request names: NGSILD-Tenant ("" when absent, as the broker reads it)
    and FIWARE's fiware-service when given, so neither header can smuggle another tenant in."""
    tenants = {request.headers.get("ngsild-tenant", "")}
    if "fiware-service" in request.headers:
        tenants.add(request.headers["fiware-service"])
    return tenants


async def refusal_of(rule: Rule, request: Request) -> Response | None:
    """None when the request may go on, else the 401 or 403 answer."""
    # No principal means no Authentication middleware in front (an app assembled by hand):
    # such a caller is nobody, the least privileged answer.
    principal: Principal = getattr(request.state, "principal", ANONYMOUS)
    if rule.tenant_scoped and principal.authenticated and principal.via is not Via.ADMIN_TOKEN:
        foreign = requested_tenants(request) - {principal.tenant}
        if foreign:
            return forbidden(
                f"the credential belongs to tenant {principal.tenant!r} and cannot act in "
                f"tenant {sorted(foreign)[0]!r}"
            )
    if request.app.state.settings.auth == "off":
        return None
    for grant in rule.grants:
        if (principal.authenticated or not grant.needs_credential) and await grant.check(
            principal, request
        ):
            return None
    if not principal.authenticated:
        return unauthorized(f"{request.method} {request.url.path} needs a credential: "
                            f"{rule.description}")
    return forbidden(f"{request.method} {request.url.path} needs {rule.description}")


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None):
    # NGSI-LD defines no error type for 401/403: RFC 7807's about:blank, as plain JSON like
    # the NGSI-LD errors (clause 5.5.3).
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def unauthorized(detail: str) -> Response:
    return _problem(401, "Unauthorized", detail, {"WWW-Authenticate": 'Bearer realm="madina"'})


def forbidden(detail: str) -> Response:
    return _problem(403, "Forbidden", detail)
