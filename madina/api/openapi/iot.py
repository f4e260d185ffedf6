"""The IoT gateway's routes (madina.api.iot) in the OpenAPI document: the FIWARE IoT Agents'
provisioning API under /iot, and the devices' own /iot/d and /iot/json.

Their errors are the agents' `{"name", "message"}`; the answers the shared middleware writes
before a route runs (401, 403, 429, a database gone: 503) stay ProblemDetails.
"""

from __future__ import annotations

from typing import Any

Fragment = dict[str, Any]
JSON = "application/json"
TEXT = "text/plain"

AGENT_ERROR: Fragment = {
    "type": "object", "required": ["name", "message"],
    "properties": {"name": {"type": "string"}, "message": {"type": "string"}},
}
ERROR_ANSWER: Fragment = {
    "anyOf": [AGENT_ERROR, {"$ref": "#/components/schemas/ProblemDetails"}],
}
ERROR_TEXT = {
    400: "WRONG_SYNTAX, MISSING_CONFIG_PARAMS, COMMAND_NOT_FOUND, PARSE_ERROR, "
         "MANDATORY_PARAMS_NOT_FOUND, UNSUPPORTED_TYPE, BAD_REQUEST",
    401: "invalid credential (or none where one is required)",
    403: "not allowed for this caller",
    404: "DEVICE_NOT_FOUND, DEVICE_GROUP_NOT_FOUND",
    409: "DUPLICATE_GROUP, DUPLICATE_DEVICE_ID, COMMAND_UNAVAILABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "the body is not JSON",
    429: "rate limit exceeded; see Retry-After",
    503: "database unavailable, or too many measures waiting; retry later",
}
PROVISIONING_ERRORS = (400, 401, 403, 404, 413, 415, 429, 503)
SECURITY = [{"bearer": []}]
TENANT_HEADERS: list[Fragment] = [
    {"name": "fiware-service", "in": "header", "schema": {"type": "string",
                                                          "pattern": "^[A-Za-z0-9_.-]{0,64}$"},
     "description": "the tenant (the same as NGSILD-Tenant)"},
    {"name": "fiware-servicepath", "in": "header",
     "schema": {"type": "string", "pattern": "^/[A-Za-z0-9_/-]{0,64}$"},
     "description": "the service path; default `/` (`/*`: every path, on listings)"},
]
ITEM = {"type": "object", "required": ["name"], "properties": {
    "object_id": {"type": "string", "minLength": 1}, "name": {"type": "string", "minLength": 1},
    "type": {"type": "string"}, "metadata": {"type": "object"}}}
STATIC = {**ITEM, "required": ["name", "value"]}
COMMON = {"attributes": {"type": "array", "items": ITEM},
          "static_attributes": {"type": "array", "items": STATIC},
          "commands": {"type": "array", "items": ITEM},
          "lazy": {"type": "array", "items": ITEM},
          "explicitAttrs": {"type": "boolean"}, "timezone": {"type": "string"},
          "protocol": {"type": "string"}, "transport": {"enum": ["MQTT", "HTTP"]}}
KEY = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9_.:-]+$"}
GROUP = {"type": "object", "required": ["apikey", "resource", "entity_type"], "properties": {
    "apikey": KEY, "resource": {"type": "string", "minLength": 1},
    "entity_type": {"type": "string", "minLength": 1}, "autoprovision": {"type": "boolean"},
    **COMMON}}
DEVICE = {"type": "object", "required": ["device_id"], "properties": {
    "device_id": KEY, "entity_name": {"type": "string", "minLength": 1},
    "entity_type": {"type": "string", "minLength": 1}, "apikey": KEY,
    "endpoint": {"type": "string"}, **COMMON}}


def _errors(*statuses: int) -> dict[str, Fragment]:
    answers = {}
    for status in statuses:
        answer: Fragment = {"description": ERROR_TEXT[status],
                            "content": {JSON: {"schema": ERROR_ANSWER}}}
        if status in (429, 503):
            answer["headers"] = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
        answers[str(status)] = answer
    return answers


def _body(schema: Fragment, media: str = JSON) -> Fragment:
    return {"required": True, "content": {media: {"schema": schema}}}


def _list_of(member: str, item: Fragment) -> Fragment:
    return {"type": "object", "required": [member],
            "properties": {member: {"type": "array", "minItems": 1, "items": item}}}


def _operation(operation_id: str, summary: str, answers: dict[int, Fragment], *,
               parameters: list[Fragment] | None = None, body: Fragment | None = None,
               statuses: tuple[int, ...] = PROVISIONING_ERRORS,
               security: list[Fragment] | None = None) -> Fragment:
    fragment: Fragment = {
        "operationId": operation_id, "summary": summary, "tags": ["IoT"],
        "parameters": [*TENANT_HEADERS, *(parameters or [])],
        "responses": {**{str(s): a for s, a in answers.items()}, **_errors(*statuses)},
        "security": SECURITY if security is None else security,
    }
    if body is not None:
        fragment["requestBody"] = body
    return fragment


def _query(name: str, description: str, required: bool = False,
           schema: Fragment | None = None) -> Fragment:
    return {"name": name, "in": "query", "required": required,
            "schema": schema or {"type": "string"}, "description": description}


def _json(description: str, schema: Fragment) -> Fragment:
    return {"description": description, "content": {JSON: {"schema": schema}}}


DONE = {"description": "done"}
GROUP_KEYS = [_query("apikey", "the group's apikey", True),
              _query("resource", "the group's resource", True)]
DEVICE_ID = {"name": "deviceId", "in": "path", "required": True, "schema": KEY,
             "description": "the device id"}
DEVICE_APIKEY = _query("apikey", "which device, when several share the id")
COUNT = {"type": "string", "pattern": "^[0-9]{1,6}$"}
LISTED_GROUPS = {"type": "object", "required": ["count", "services"], "properties": {
    "count": {"type": "integer"}, "services": {"type": "array", "items": {"type": "object"}}}}
LISTED_DEVICES = {"type": "object", "required": ["count", "devices"], "properties": {
    "count": {"type": "integer"}, "devices": {"type": "array", "items": {"type": "object"}}}}
SOUTH = [_query("k", "the apikey of the device's group (its credential)", True, KEY),
         _query("i", "the device id", True, KEY),
         _query("t", "ISO 8601 time of the measures", schema={"type": "string",
                                                              "format": "date-time"}),
         _query("getCmd", "1: answer with the commands waiting for the device",
                schema={"enum": ["0", "1"]})]
SOUTH_ERRORS = (400, 401, 404, 413, 429, 503)


def _south(operation_id: str, summary: str, media: str, answer_media: str, body: bool,
           extra: list[Fragment]) -> Fragment:
    answers = {200: {"description": "committed; with getCmd=1 the waiting commands",
                     "content": {answer_media: {"schema": {"type": "string"} if
                                                answer_media == TEXT else {"type": "object"}}}}}
    return _operation(operation_id, summary, answers, parameters=[*SOUTH, *extra],
                      body=_body({"type": "string"} if media == TEXT else {}, media)
                      if body else None,
                      statuses=SOUTH_ERRORS, security=[{}])


OPENAPI: dict[str, dict[str, Fragment]] = {
    "/iot/services": {
        "get": _operation("listServiceGroups", "the tenant's service groups",
                          {200: _json("groups", LISTED_GROUPS)}),
        "post": _operation("createServiceGroups", "provision service groups",
                           {201: DONE}, body=_body(_list_of("services", GROUP)),
                           statuses=(*PROVISIONING_ERRORS, 409)),
        "put": _operation("updateServiceGroup", "change a service group's fields",
                          {204: DONE}, parameters=GROUP_KEYS,
                          body=_body({"type": "object", "properties": COMMON})),
        "delete": _operation("deleteServiceGroup", "remove a service group", {204: DONE},
                             parameters=GROUP_KEYS),
    },
    "/iot/devices": {
        "get": _operation("listDevices", "the tenant's devices",
                          {200: _json("devices", LISTED_DEVICES)},
                          parameters=[_query("limit", "page size", schema=COUNT),
                                      _query("offset", "devices to skip", schema=COUNT)]),
        "post": _operation("createDevices", "provision devices (and create their entities)",
                           {201: DONE}, body=_body(_list_of("devices", DEVICE)),
                           statuses=(*PROVISIONING_ERRORS, 409)),
    },
    "/iot/devices/{deviceId}": {
        "get": _operation("getDevice", "one device", {200: _json("the device", DEVICE)},
                          parameters=[DEVICE_ID, DEVICE_APIKEY]),
        "put": _operation("updateDevice", "change a device's fields", {204: DONE},
                          parameters=[DEVICE_ID, DEVICE_APIKEY],
                          body=_body({"type": "object", "properties": COMMON})),
        "delete": _operation("deleteDevice", "remove a device (its entity stays)", {204: DONE},
                             parameters=[DEVICE_ID, DEVICE_APIKEY]),
    },
    "/iot/devices/{deviceId}/commands": {
        "post": _operation("sendCommands", "send commands: `{\"<command>\": <value>}`",
                           {204: DONE}, parameters=[DEVICE_ID, DEVICE_APIKEY],
                           body=_body({"type": "object", "minProperties": 1}),
                           statuses=(*PROVISIONING_ERRORS, 409)),
    },
    "/iot/d": {
        "get": _south("ultralightGet", "UltraLight measures in `d`, or fetch commands",
                      TEXT, TEXT, False, [_query("d", "the UltraLight payload")]),
        "post": _south("ultralightPost", "UltraLight measures (or a command result)",
                       TEXT, TEXT, True, []),
    },
    "/iot/json": {
        "get": _south("jsonGet", "fetch the commands waiting for a JSON device", JSON, JSON,
                      False, []),
        "post": _south("jsonPost", "JSON measures: an object or an array of objects", JSON,
                       JSON, True, []),
    },
}
"""These routes in the app's OpenAPI description (madina.api.openapi merges them)."""
