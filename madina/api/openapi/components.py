"""Reusable pieces of the OpenAPI document: schemas, parameters, security schemes, and helpers
that turn a few words of the route table into response and request-body fragments.

NGSI-LD entities and attribute fragments are open-ended (any attribute name, any value), so their
schemas are permissive objects; what the API does check (an entity's id and type, a batch being a
non-empty array, a Query's `"type": "Query"`) is written down precisely, so a fuzzer exercises the
checks rather than only the happy path.
"""

from __future__ import annotations

from typing import Any

from madina.api.http import GEO_JSON, JSON, JSON_LD, MERGE_PATCH, TENANT_HEADER

FORM = "application/x-www-form-urlencoded"
Fragment = dict[str, Any]


def ref(kind: str, name: str) -> Fragment:
    return {"$ref": f"#/components/{kind}/{name}"}


STRING_LIST = {"type": "string", "description": "comma-separated list"}
BOOLEAN = {"type": "boolean"}
COUNT = {"type": "integer", "minimum": 0}
ENTITY_URI = {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$",
             "description": "a URI (clause 4.5.1)"}
NAME = {"type": "string", "pattern": r"^[^\s<>\"'=;()\\\x00-\x1f\x7f]+$",
        "description": "a term or an IRI (clause 4.6.2 forbids some characters)"}
NAMES = {"anyOf": [NAME, {"type": "array", "items": NAME}]}
SCOPE = {"type": "string", "pattern": r"^(/[^/\s#+]+)+$", "description": "clause 4.18"}
CONTEXT = {
    "description": "a JSON-LD @context: a URL, an inline context object, or a list of them",
    "anyOf": [{"type": "string"}, {"type": "object"}, {"type": "array"}],
}

SCHEMAS: dict[str, Fragment] = {
    "ProblemDetails": {
        "description": "RFC 7807 error (NGSI-LD clause 5.5.3), served as application/json",
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
        },
    },
    "OAuthError": {
        "description": "RFC 6749 §5.2 error; a rate-limited answer names the error in the same "
                       "member and explains it in `description`",
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "error_description": {"type": "string"},
            "description": {"type": "string"},
        },
    },
    "Entity": {
        "description": "an NGSI-LD entity (clause 5.2.4); attributes are open-ended",
        "example": {
            "id": "urn:ngsi-ld:AirQualityObserved:Kallio", "type": "AirQualityObserved",
            "no2": {"type": "Property", "value": 31.5, "unitCode": "GQ"},
        },
        "type": "object",
        "required": ["id", "type"],
        "properties": {
            "id": ENTITY_URI,
            "type": NAMES,
            "scope": {"anyOf": [SCOPE, {"type": "array", "items": SCOPE}]},
            "@context": CONTEXT,
        },
    },
    "EntityRepresentation": {
        "description": "an entity as answered: normalized, concise or keyValues; pick/omit/attrs "
                       "may leave out any member, even id and type",
        "type": "object",
        "properties": {"id": {"type": "string"}, "type": NAMES},
    },
    "EntityReplacement": {
        "description": "the new content of an entity; an id, when given, must be the path's",
        "type": "object",
        "required": ["type"],
        "properties": {
            "id": {"type": "string"},
            "type": NAMES,
            "@context": CONTEXT,
        },
    },
    "EntityFragment": {
        "description": "attributes (and optionally type/scope) to merge into an entity",
        "type": "object",
        "properties": {"@context": CONTEXT},
    },
    "EntityUpdate": {
        "description": "an entity of a batch update or merge: its id names the target",
        "type": "object",
        "required": ["id"],
        "properties": {"id": ENTITY_URI, "@context": CONTEXT},
    },
    "Attribute": {
        "description": "one attribute (Property, Relationship, GeoProperty, ...) or a fragment",
        "type": "object",
        "properties": {"@context": CONTEXT},
    },
    "Query": {
        "description": "the Query data type (clause 5.2.23)",
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"const": "Query"},
            "entities": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {
                        "type": {"type": "string"},
                        "id": {"anyOf": [{"type": "string"},
                                         {"type": "array", "items": {"type": "string"}}]},
                        "idPattern": {"type": "string"},
                    },
                },
            },
            "attrs": {"type": "array", "items": {"type": "string"}},
            "q": {"type": "string"},
            "scopeQ": {"type": "string"},
            "geoQ": {"type": "object"},
            "lang": {"type": "string"},
            "@context": CONTEXT,
        },
    },
    "UpdateResult": {
        "description": "clause 5.2.18: which attributes were updated and why others were not",
        "type": "object",
        "required": ["updated", "notUpdated"],
        "properties": {
            "updated": {"type": "array", "items": {"type": "string"}},
            "notUpdated": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["attributeName", "reason"],
                    "properties": {"attributeName": {"type": "string"},
                                   "reason": {"type": "string"}},
                },
            },
        },
    },
    "BatchOperationResult": {
        "description": "clause 5.2.16: ids that succeeded and the errors of the others",
        "type": "object",
        "required": ["success", "errors"],
        "properties": {
            "success": {"type": "array", "items": {"type": "string"}},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["entityId", "error"],
                    "properties": {"entityId": {"type": "string"},
                                   "error": ref("schemas", "ProblemDetails")},
                },
            },
        },
    },
    "Feature": {
        "description": "an entity as a GeoJSON Feature (clause 4.5.16)",
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {"type": {"const": "Feature"}, "geometry": {"type": ["object", "null"]},
                       "properties": {"type": "object"}},
    },
    "FeatureCollection": {
        "type": "object",
        "required": ["type", "features"],
        "properties": {"type": {"const": "FeatureCollection"},
                       "features": {"type": "array", "items": ref("schemas", "Feature")}},
    },
    "TokenForm": {
        "description": "RFC 6749 token request; which members are needed depends on grant_type",
        "type": "object",
        "required": ["grant_type"],
        "properties": {
            "grant_type": {"enum": ["password", "client_credentials", "refresh_token"]},
            "username": {"type": "string"},
            "password": {"type": "string"},
            "tenant": {"type": "string"},
            "client_id": {"type": "string"},
            "client_secret": {"type": "string"},
            "refresh_token": {"type": "string"},
        },
    },
    "Error": {
        "description": "outside NGSI-LD: an OAuth-style error, or a ProblemDetails where the "
                       "shared middleware answers (invalid credential, database down)",
        "anyOf": [ref("schemas", "OAuthError"), ref("schemas", "ProblemDetails")],
    },
    "Token": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in"],
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {"const": "Bearer"},
            "expires_in": {"type": "integer"},
            "refresh_token": {"type": "string"},
        },
    },
}


def _query(name: str, schema: Fragment, description: str = "") -> Fragment:
    parameter: Fragment = {"name": name, "in": "query", "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


PARAMETERS: dict[str, Fragment] = {
    "Tenant": {
        "name": TENANT_HEADER, "in": "header", "schema": {"type": "string",
                                                           "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
        "description": "the tenant (clause 6.3.14); echoed in the answer",
    },
    "Link": {
        "name": "Link", "in": "header", "schema": {"type": "string"},
        "description": 'the @context: `<url>; rel="http://www.w3.org/ns/json-ld#context"; '
                       'type="application/ld+json"` (only with application/json bodies)',
    },
    "id": _query("id", STRING_LIST, "entity ids"),
    "idPattern": _query("idPattern", {"type": "string"}, "RE2 pattern over entity ids"),
    "type": _query("type", {"type": "string"}, "entity type selector (clause 4.17)"),
    "attrs": _query("attrs", STRING_LIST),
    "q": _query("q", {"type": "string"}, "query language (clause 4.9)"),
    "scopeQ": _query("scopeQ", {"type": "string"}),
    "georel": _query("georel", {"type": "string"}),
    "geometry": _query("geometry", {"enum": ["Point", "MultiPoint", "LineString",
                                             "MultiLineString", "Polygon", "MultiPolygon"]}),
    "coordinates": _query("coordinates", {"type": "string"}, "GeoJSON coordinates as JSON"),
    "geoproperty": _query("geoproperty", {"type": "string"}),
    "limit": _query("limit", COUNT, "above the configured maximum: 403 TooManyResults"),
    "offset": _query("offset", COUNT),
    "count": _query("count", BOOLEAN),
    "orderBy": _query("orderBy", {"type": "string"}),
    "csf": _query("csf", {"type": "string"}),
    "options": _query("options", STRING_LIST,
                      "normalized, concise, keyValues, simplified, sysAttrs, noOverwrite, "
                      "replace, update (which apply depends on the operation)"),
    "format": _query("format", {"enum": ["normalized", "concise", "keyValues", "simplified"]}),
    "lang": _query("lang", {"type": "string"}),
    "datasetId": _query("datasetId", {"type": "string"}),
    "geometryProperty": _query("geometryProperty", {"type": "string"}),
    "local": _query("local", BOOLEAN),
    "join": _query("join", {"enum": ["flat", "inline", "@none"]}, "not supported: 422"),
    "joinLevel": _query("joinLevel", COUNT, "not supported: 422"),
    "containedBy": _query("containedBy", STRING_LIST, "not supported: 422"),
    "pick": _query("pick", STRING_LIST),
    "omit": _query("omit", STRING_LIST),
    "details": _query("details", BOOLEAN),
    "keep": _query("keep", STRING_LIST),
    "drop": _query("drop", STRING_LIST),
    "deleteAll": _query("deleteAll", BOOLEAN),
    "reload": _query("reload", BOOLEAN),
    "kind": _query("kind", {"enum": ["Hosted", "Cached", "ImplicitlyCreated"]}),
}

SECURITY_SCHEMES: dict[str, Fragment] = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "an access token from /auth/token, or MADINA_ADMIN_TOKEN"},
    "basic": {"type": "http", "scheme": "basic",
              "description": "client_id and client_secret of an API client (token endpoint)"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "a device's API key"},
}

HEADERS: dict[str, Fragment] = {
    "Location": {"schema": {"type": "string"}, "description": "the created resource"},
    "Link": {"schema": {"type": "string"}, "description": "the @context of the answer"},
    "NGSILD-Results-Count": {"schema": {"type": "string", "pattern": "^[0-9]+$"},
                             "description": "with count=true"},
    "Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"}},
}

ERROR_DESCRIPTIONS = {
    400: "invalid request or data",
    401: "invalid credential (or, where a credential is required, none)",
    403: "not allowed for this caller, or a query too large or too complex",
    404: "no such resource or tenant",
    406: "none of the accepted media types can be produced",
    409: "already exists, or a concurrent write conflicted",
    413: "request body too large",
    415: "unsupported request media type",
    422: "operation not supported",
    429: "rate limit exceeded; see Retry-After",
    503: "database or remote @context unavailable; retry later",
}


ERROR_SCHEMAS = ("ProblemDetails", "Error")


def _error_answer(status: int, schema: str) -> Fragment:
    answer: Fragment = {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {JSON: {"schema": ref("schemas", schema)}},
    }
    if status in (429, 503):
        answer["headers"] = {"Retry-After": ref("headers", "Retry-After")}
    return answer


RESPONSES: dict[str, Fragment] = {
    f"{schema}{status}": _error_answer(status, schema)
    for schema in ERROR_SCHEMAS for status in ERROR_DESCRIPTIONS
}
"""Every error answer, once per API error format, always application/json (clause 5.5.3,
RFC 6749 §5.2)."""


def errors(*statuses: int, schema: str = "ProblemDetails") -> dict[str, Fragment]:
    return {str(status): ref("responses", f"{schema}{status}") for status in statuses}


def json_answer(description: str, schema: Fragment, geo: Fragment | None = None,
                headers: tuple[str, ...] = ("Link",)) -> Fragment:
    """An NGSI-LD answer: JSON with the @context in Link, or JSON-LD with it in the body."""
    content = {JSON: {"schema": schema}, JSON_LD: {"schema": schema}}
    if geo is not None:
        content[GEO_JSON] = {"schema": geo}
    return {"description": description, "content": content,
            "headers": {name: ref("headers", name) for name in headers}}


def empty(description: str, *headers: str) -> Fragment:
    answer: Fragment = {"description": description}
    if headers:
        answer["headers"] = {name: ref("headers", name) for name in headers}
    return answer


def ngsi_body(schema: str, *, array: bool = False, merge: bool = False) -> Fragment:
    """A request body in JSON (context in Link) or JSON-LD (context in the body)."""
    if array:
        plain: Fragment = {"type": "array", "minItems": 1, "items": ref("schemas", schema)}
        ld: Fragment = {"type": "array", "minItems": 1, "items": {
            "allOf": [ref("schemas", schema), {"required": ["@context"]}]}}
    else:
        plain = ref("schemas", schema)
        ld = {"allOf": [plain, {"required": ["@context"]}]}
    content = {JSON: {"schema": plain}, JSON_LD: {"schema": ld}}
    if merge:
        content[MERGE_PATCH] = {"schema": plain}
    return {"required": True, "content": content}
