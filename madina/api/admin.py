"""The admin API under /auth: users, API keys and tenants, for admins of the tenant asked for.

The tenant is the request's NGSILD-Tenant, as for every NGSI-LD route; the tenant check in
madina.auth.rules has already made sure a tenant's admin names its own tenant, so only the
bootstrap admin token reaches other tenants. Answers never carry a password hash, a key's secret
hash, or (except once, in the answer that creates it) a key's secret.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from madina.api import http
from madina.auth.passwords import hash_password
from madina.auth.principal import Role, Via
from madina.auth.rules import allow
from madina.auth.tokens import secret_hash
from madina.context.errors import AlreadyExists, BadRequestData, ResourceNotFound
from madina.store.identities import ApiKey, IdentityStore, User

MIN_PASSWORD = 8
MAX_BODY_BYTES = 64 * 1024
NO_STORE = {"Cache-Control": "no-store"}
ROLE_NAMES = frozenset(role.value for role in Role)


def _identities(request: Request) -> IdentityStore:
    return request.app.state.store.identities


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status, {**NO_STORE, **(headers or {})},
                    media_type="application/json")


async def _body(request: Request, allowed: set[str], required: set[str]) -> dict[str, Any]:
    body, _ = await http.read_json(request, MAX_BODY_BYTES)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object")
    unknown = set(body) - allowed
    if unknown:
        raise BadRequestData(f"unknown members: {', '.join(sorted(unknown))}")
    missing = required - set(body)
    if missing:
        raise BadRequestData(f"missing members: {', '.join(sorted(missing))}")
    return body


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 64 or not value.isprintable():
        raise BadRequestData(f"{what} must be a printable string of 1 to 64 characters")
    return value


def _strings(body: dict[str, Any], member: str) -> tuple[str, ...]:
    values = body.get(member, [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise BadRequestData(f"{member} must be a list of non-empty strings")
    return tuple(dict.fromkeys(values))


def _roles(body: dict[str, Any]) -> tuple[str, ...]:
    roles = _strings(body, "roles")
    unknown = set(roles) - ROLE_NAMES
    if unknown or not roles:
        raise BadRequestData(f"roles must name at least one of {', '.join(sorted(ROLE_NAMES))}")
    return roles


def _flag(body: dict[str, Any], member: str) -> bool:
    value = body[member]
    if not isinstance(value, bool):
        raise BadRequestData(f"{member} must be true or false")
    return value


async def _password_hash(body: dict[str, Any]) -> str:
    password = body["password"]
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise BadRequestData(f"the password needs at least {MIN_PASSWORD} characters")
    return await anyio.to_thread.run_sync(hash_password, password)


def _user_json(user: User) -> dict[str, Any]:
    return {"name": user.name, "tenant": user.tenant, "roles": list(user.roles),
            "departments": list(user.departments), "disabled": user.disabled,
            "createdAt": user.created_at}


def _key_json(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "tenant": key.tenant, "name": key.name, "roles": list(key.roles),
            "entityIds": list(key.entity_ids), "disabled": key.disabled,
            "createdAt": key.created_at}


# -- users -------------------------------------------------------------------------------------
@allow(Role.ADMIN)
async def list_users(request: Request) -> Response:
    users = await http.call(request, _identities(request).list_users, http.tenant_of(request))
    return _json([_user_json(user) for user in users])


@allow(Role.ADMIN)
async def create_user(request: Request) -> Response:
    body = await _body(request, {"name", "password", "roles", "departments"},
                       {"name", "password", "roles"})
    tenant = http.tenant_of(request)
    name = _name(body["name"], "name")
    roles, departments = _roles(body), _strings(body, "departments")
    user = User(tenant, name, await _password_hash(body), roles, departments)
    if not await http.call(request, _identities(request).add_user, user):
        raise AlreadyExists(f"user {user.name!r} already exists")
    stored = await _user(request, tenant, user.name)
    return _json(_user_json(stored), 201,
                 {"Location": f"/auth/users/{quote(user.name, safe='')}"})


async def _user(request: Request, tenant: str, name: str) -> User:
    user = await http.call(request, _identities(request).get_user, tenant, name)
    if user is None:
        raise ResourceNotFound(f"no user {name!r}")
    return user


@allow(Role.ADMIN)
async def get_user(request: Request) -> Response:
    user = await _user(request, http.tenant_of(request), request.path_params["name"])
    return _json(_user_json(user))


@allow(Role.ADMIN)
async def update_user(request: Request) -> Response:
    """Roles, departments, disabled and password, each optional; disabling ends the user's
    sign-ins (its refresh tokens), so it cannot come back with one."""
    body = await _body(request, {"roles", "departments", "disabled", "password"}, set())
    identities, tenant = _identities(request), http.tenant_of(request)
    user = await _user(request, tenant, request.path_params["name"])
    if "roles" in body or "departments" in body:
        roles = _roles(body) if "roles" in body else user.roles
        departments = _strings(body, "departments") if "departments" in body else user.departments
        await http.call(request, identities.set_user_roles, tenant, user.name, roles, departments)
    if "password" in body:
        password_hash = await _password_hash(body)
        await http.call(request, identities.set_password_hash, tenant, user.name, password_hash)
    if "disabled" in body:
        disabled = _flag(body, "disabled")
        await http.call(request, identities.set_user_disabled, tenant, user.name, disabled)
        if disabled:
            await http.call(request, identities.revoke_subject, tenant, user.name)
    return _json(_user_json(await _user(request, tenant, user.name)))


# -- API keys ----------------------------------------------------------------------------------
@allow(Role.ADMIN)
async def list_keys(request: Request) -> Response:
    keys = await http.call(request, _identities(request).list_api_keys, http.tenant_of(request))
    return _json([_key_json(key) for key in keys])


@allow(Role.ADMIN)
async def create_key(request: Request) -> Response:
    """The secret is in this answer and nowhere else: only its hash is stored."""
    body = await _body(request, {"name", "roles", "entityIds"}, {"name", "roles"})
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    key = ApiKey(key_id, http.tenant_of(request), _name(body["name"], "name"), secret_hash(secret),
                 _roles(body), _strings(body, "entityIds"))
    await http.call(request, _identities(request).add_api_key, key)
    stored = await _key(request, key_id)
    return _json({**_key_json(stored), "secret": secret}, 201,
                 {"Location": f"/auth/keys/{key_id}"})


async def _key(request: Request, key_id: str) -> ApiKey:
    """The key, if it belongs to the request's tenant: another tenant's key is not found."""
    key = await http.call(request, _identities(request).get_api_key, key_id)
    if key is None or key.tenant != http.tenant_of(request):
        raise ResourceNotFound(f"no API key {key_id!r}")
    return key


@allow(Role.ADMIN)
async def get_key(request: Request) -> Response:
    return _json(_key_json(await _key(request, request.path_params["keyId"])))


@allow(Role.ADMIN)
async def update_key(request: Request) -> Response:
    body = await _body(request, {"disabled"}, {"disabled"})
    key = await _key(request, request.path_params["keyId"])
    await http.call(request, _identities(request).set_api_key_disabled, key.id,
                    _flag(body, "disabled"))
    return _json(_key_json(await _key(request, key.id)))


# -- tenants -----------------------------------------------------------------------------------
@allow(Role.ADMIN)
async def list_tenants(request: Request) -> Response:
    """All tenants for the cross-tenant admin token; a tenant's own admin sees only its tenant,
    since the names of other cities' tenants are not its business."""
    known = {"", *await http.call(request, _identities(request).tenants)}
    if request.state.principal.via is not Via.ADMIN_TOKEN:
        known &= {http.tenant_of(request)}
    return _json(sorted(known))


routes = [
    Route("/users", list_users, methods=["GET"]),
    Route("/users", create_user, methods=["POST"]),
    Route("/users/{name}", get_user, methods=["GET"]),
    Route("/users/{name}", update_user, methods=["PATCH"]),
    Route("/keys", list_keys, methods=["GET"]),
    Route("/keys", create_key, methods=["POST"]),
    Route("/keys/{keyId}", get_key, methods=["GET"]),
    Route("/keys/{keyId}", update_key, methods=["PATCH"]),
    Route("/tenants", list_tenants, methods=["GET"]),
]
