"""The admin API under /auth (users, API keys, tenants) in the OpenAPI document.

Bodies are closed objects: the endpoints refuse unknown members, so the description says so.
"""

from __future__ import annotations

from madina.api.http import JSON
from madina.api.openapi.components import Fragment, ref
from madina.api.openapi.paths import operation, params, path_param
from madina.auth.principal import Role

ADMIN_ERRORS = (400, 401, 403, 429, 503)
NAMES = {"type": "array", "items": {"type": "string", "minLength": 1}}
ROLES = {"type": "array", "minItems": 1, "items": {"enum": [role.value for role in Role]}}
NAME = {"type": "string", "minLength": 1, "maxLength": 64}

SCHEMAS: dict[str, Fragment] = {
    "User": {
        "type": "object",
        "required": ["name", "tenant", "roles", "departments", "disabled", "createdAt"],
        "properties": {"name": {"type": "string"}, "tenant": {"type": "string"},
                       "roles": NAMES, "departments": NAMES, "disabled": {"type": "boolean"},
                       "createdAt": {"type": "string"}},
    },
    "ApiKey": {
        "type": "object",
        "required": ["id", "tenant", "name", "roles", "entityIds", "disabled", "createdAt"],
        "properties": {"id": {"type": "string"}, "tenant": {"type": "string"},
                       "name": {"type": "string"}, "roles": NAMES, "entityIds": NAMES,
                       "disabled": {"type": "boolean"}, "createdAt": {"type": "string"},
                       "secret": {"type": "string",
                                  "description": "only in the answer that creates the key"}},
    },
}


def _body(required: list[str], **properties: Fragment) -> Fragment:
    schema = {"type": "object", "required": required, "properties": properties,
              "additionalProperties": False}
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _answer(description: str, schema: Fragment, *headers: str) -> Fragment:
    answer: Fragment = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        answer["headers"] = {name: ref("headers", name) for name in headers}
    return answer


def admin(operation_id: str, summary: str, answers: dict[int, Fragment],
          extra: tuple[int, ...] = (), **kw) -> Fragment:
    return operation(operation_id, summary, "Admin", answers,
                     parameters=[*params("Tenant"), *kw.pop("parameters", [])],
                     statuses=(*ADMIN_ERRORS, *extra), security=[{"bearer": []}], **kw)


USER = ref("schemas", "User")
KEY = ref("schemas", "ApiKey")
USER_NAME = path_param("name", "the user's name")
KEY_ID = path_param("keyId", "the key's id")
ADMIN: dict[str, dict[str, Fragment]] = {
    "/auth/users": {
        "get": admin("listUsers", "the tenant's users",
                     {200: _answer("users", {"type": "array", "items": USER})}),
        "post": admin("createUser", "add a user",
                      {201: _answer("the user", USER, "Location")},
                      body=_body(["name", "password", "roles"], name=NAME,
                                 password={"type": "string", "minLength": 8}, roles=ROLES,
                                 departments=NAMES),
                      extra=(409, 415)),
    },
    "/auth/users/{name}": {
        "get": admin("getUser", "one user", {200: _answer("the user", USER)},
                     parameters=[USER_NAME], extra=(404,)),
        "patch": admin("updateUser", "change a user's roles, departments, password or state",
                       {200: _answer("the user", USER)}, parameters=[USER_NAME],
                       body=_body([], roles=ROLES, departments=NAMES,
                                  disabled={"type": "boolean"},
                                  password={"type": "string", "minLength": 8}),
                       extra=(404, 415)),
    },
    "/auth/keys": {
        "get": admin("listKeys", "the tenant's API keys",
                     {200: _answer("keys", {"type": "array", "items": KEY})}),
        "post": admin("createKey", "add an API key; its secret is in this answer only",
                      {201: _answer("the key and its secret", KEY, "Location")},
                      body=_body(["name", "roles"], name=NAME, roles=ROLES, entityIds=NAMES),
                      extra=(409, 415)),
    },
    "/auth/keys/{keyId}": {
        "get": admin("getKey", "one API key", {200: _answer("the key", KEY)},
                     parameters=[KEY_ID], extra=(404,)),
        "patch": admin("updateKey", "disable or enable an API key",
                       {200: _answer("the key", KEY)}, parameters=[KEY_ID],
                       body=_body(["disabled"], disabled={"type": "boolean"}),
                       extra=(404, 415)),
    },
    "/auth/tenants": {
        "get": admin("listTenants", "the tenants this admin may manage",
                     {200: _answer("tenant names", {"type": "array",
                                                    "items": {"type": "string"}})}),
    },
}
