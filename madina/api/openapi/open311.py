"""Open311 GeoReport v2 (/open311/v2) and its admin API in the OpenAPI document.

Each GeoReport route exists twice, `.json` and `.xml`; both answer the same structure, the XML
one as a `text/xml` document. Errors the Open311 endpoints write are the spec's list of
`{code, description}` in the route's format; refusals by the layers in front of every route
(an invalid credential, the rate limit, a read credential of another tenant) stay
ProblemDetails, as everywhere in Madina.
"""

from __future__ import annotations

from madina.api.http import JSON
from madina.api.openapi.components import FORM, Fragment, errors, ref
from madina.api.openapi.paths import PUBLIC, operation, params, path_param
from madina.auth.principal import Role
from madina.services.open311 import workflow
from madina.services.open311.catalogue import CODE as CODE_PATTERN
from madina.services.open311.catalogue import DATATYPES, SERVICE_TYPES
from madina.services.open311.media import NAME as MEDIA_NAME

XML = "text/xml"
MULTIPART = "multipart/form-data"
TEXT = {"type": "string"}
NULLABLE_TEXT = {"type": ["string", "null"]}
ERRORS = {"type": "array", "minItems": 1, "items": {
    "type": "object", "required": ["code", "description"],
    "properties": {"code": {"type": "string", "pattern": "^[0-9]{3}$"}, "description": TEXT}}}
SERVICE = {
    "type": "object", "required": ["service_code", "service_name", "metadata", "type"],
    "properties": {"service_code": TEXT, "service_name": TEXT, "description": NULLABLE_TEXT,
                   "metadata": {"type": "boolean"}, "type": {"enum": list(SERVICE_TYPES)},
                   "keywords": NULLABLE_TEXT, "group": NULLABLE_TEXT},
}
ATTRIBUTE = {
    "type": "object", "required": ["variable", "code", "datatype", "required", "order"],
    "properties": {"variable": {"type": "boolean"}, "code": TEXT,
                   "datatype": {"enum": list(DATATYPES)}, "required": {"type": "boolean"},
                   "datatype_description": NULLABLE_TEXT, "order": {"type": "integer"},
                   "description": NULLABLE_TEXT,
                   "values": {"type": "array", "items": {
                       "type": "object", "required": ["key", "name"],
                       "properties": {"key": TEXT, "name": TEXT}}}},
}
SERVICE_DEFINITION = {"type": "object", "required": ["service_code", "attributes"],
                      "properties": {"service_code": TEXT,
                                     "attributes": {"type": "array", "items": ATTRIBUTE}}}
REQUEST = {
    "type": "object",
    "required": ["service_request_id", "status", "service_code", "requested_datetime"],
    "properties": {
        "service_request_id": TEXT, "status": {"enum": ["open", "closed"]},
        "status_notes": NULLABLE_TEXT, "service_name": NULLABLE_TEXT, "service_code": TEXT,
        "description": NULLABLE_TEXT, "agency_responsible": NULLABLE_TEXT,
        "service_notice": NULLABLE_TEXT, "requested_datetime": TEXT,
        "updated_datetime": NULLABLE_TEXT, "expected_datetime": NULLABLE_TEXT,
        "address": NULLABLE_TEXT, "address_id": NULLABLE_TEXT, "zipcode": NULLABLE_TEXT,
        "lat": {"type": ["number", "null"]}, "long": {"type": ["number", "null"]},
        "media_url": NULLABLE_TEXT,
        "extended_attributes": {
            "type": "object",
            "description": "extensions=true: the attribute values, the workflow `state`, the "
                           "closing `reason`, `duplicate_of` and `reported_by` (a name only "
                           "when the reporter chose to be named; else anonymous)"},
        "notes": {"type": "array", "description": "extensions=true: the public history "
                                                  "(datetime, status, state, reason, "
                                                  "description)",
                  "items": {"type": "object"}},
    },
}
DISCOVERY = {
    "type": "object", "required": ["changeset", "endpoints"],
    "properties": {"changeset": TEXT, "contact": NULLABLE_TEXT, "key_service": NULLABLE_TEXT,
                   "endpoints": {"type": "array", "items": {"type": "object"}}},
}
SUBMITTED = {"type": "array", "items": {
    "type": "object",
    "properties": {"service_request_id": TEXT, "token": TEXT, "service_notice": NULLABLE_TEXT,
                   "account_id": NULLABLE_TEXT}}}
TOKEN = {"type": "array", "items": {"type": "object",
                                    "required": ["service_request_id", "token"],
                                    "properties": {"service_request_id": TEXT, "token": TEXT}}}
SUBMISSION = {
    "type": "object",
    "description": "GeoReport v2 POST Service Request arguments; attribute[CODE] (and "
                   "attribute[CODE][] for a multivaluelist) carry the service definition's "
                   "attributes",
    "properties": {name: TEXT for name in (
        "api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string",
        "address_id", "email", "device_id", "account_id", "first_name", "last_name", "phone",
        "description", "media_url")} | {
        "anonymous": {"enum": ["true", "false"],
                      "description": "false: show the reporter's first name and last initial "
                                     "with the request (default true)"}},
}
PHOTO_SUBMISSION = {**SUBMISSION, "properties": {**SUBMISSION["properties"], "media": {
    "type": "string", "format": "binary",
    "description": "a JPEG, PNG or WebP photo (by content), re-encoded without metadata and "
                   "served at the request's media_url; at most MADINA_OPEN311_MEDIA_MAX_BYTES"}}}
FOLLOWER = {"type": "object", "required": ["email"], "properties": {name: TEXT for name in (
    "api_key", "jurisdiction_id", "email", "first_name", "last_name", "phone", "device_id",
    "account_id")}}
ALERT_FORM = {
    "type": "object", "required": ["email"],
    "description": "the area as lat, long and radius (metres, at most 20000), or as area",
    "properties": {**{name: TEXT for name in ("api_key", "jurisdiction_id", "email", "lat",
                                              "long", "radius")},
                   "area": {"type": "string",
                            "description": "a GeoJSON Polygon or MultiPolygon (WGS84)"},
                   "service_code": {"type": "string",
                                    "description": "only these services (comma-separated)"}}}
ALERTS = {"type": "array", "items": {"type": "object", "required": ["alert_id", "status"],
                                     "properties": {"alert_id": TEXT, "status": TEXT,
                                                    "description": TEXT}}}
UPDATES = {"type": "array", "items": {
    "type": "object", "required": ["update_id", "service_request_id", "status",
                                   "updated_datetime"],
    "properties": {"update_id": TEXT, "service_request_id": TEXT,
                   "status": {"type": "string", "description": "mySociety's update status "
                                                               "(open, investigating, "
                                                               "in_progress, fixed, closed, "
                                                               "duplicate, "
                                                               "not_councils_responsibility, "
                                                               "no_further_action, reopen)"},
                   "updated_datetime": TEXT, "description": NULLABLE_TEXT,
                   "media_url": NULLABLE_TEXT,
                   "external_status_code": {"type": "string",
                                            "description": "Madina's workflow state"}}}}
FOLLOWED = {"type": "array", "items": {"type": "object", "required": ["service_request_id"],
                                       "properties": {"service_request_id": TEXT}}}


def _query(name: str, description: str, schema: Fragment | None = None) -> Fragment:
    return {"name": name, "in": "query", "required": False, "schema": schema or TEXT,
            "description": description}


JURISDICTION = _query("jurisdiction_id", "the city, when one endpoint serves several")
EXTENSIONS = _query("extensions", "true: add extended_attributes and notes",
                    {"enum": ["true", "false"]})
LIST_PARAMETERS = [
    _query("service_request_id", "comma-separated ids; overrides every other argument"),
    _query("service_code", "comma-separated service codes"),
    _query("start_date", "ISO 8601 date-time with a time zone"),
    _query("end_date", "ISO 8601 date-time with a time zone; at most 90 days after start"),
    _query("status", "open, closed or both, comma-separated"),
    _query("page", "pagination extension, from 1", {"type": "string", "pattern": "^[0-9]+$"}),
    _query("page_size", "pagination extension, up to 1000",
           {"type": "string", "pattern": "^[0-9]+$"}),
    _query("lat", "with long: only requests near this point, nearest first (duplicates; no "
                  "default date window then)"),
    _query("long", "with lat"),
    _query("radius", "metres around lat/long, at most 5000 (default "
                     "MADINA_OPEN311_DUPLICATE_RADIUS_M, 250)"),
    EXTENSIONS,
]
UPDATE_PARAMETERS = [p for p in LIST_PARAMETERS
                     if p["name"] in ("start_date", "end_date", "page", "page_size")]


def _georeport(name: str, summary: str, fmt: str, status: int, schema: Fragment, *,
               parameters: list[Fragment], submit: bool = False,
               form: Fragment | None = None, extra: tuple[int, ...] = ()) -> Fragment:
    """One GeoReport operation in one format; `submit`: a form posted with an api_key or a
    credential (`form` its fields, the submission's by default)."""
    media = JSON if fmt == "json" else XML
    body = schema if fmt == "json" else TEXT
    error_body = ERRORS if fmt == "json" else TEXT
    spec_errors = ((400, 403, 404) if submit else (400, 404)) + extra
    responses: dict[str, Fragment] = {
        str(status): {"description": summary, "content": {media: {"schema": body}}},
        **{str(code): {"description": "the spec's error list",
                       "content": {media: {"schema": error_body}}} for code in spec_errors},
        "503": {"description": "the database is unavailable; retry later (the spec's list)",
                "headers": {"Retry-After": ref("headers", "Retry-After")},
                "content": {media: {"schema": error_body}}},
        **errors(401, 429),
    }
    if not submit:  # a read credential of another tenant is refused before the endpoint
        responses.update(errors(403))
    fragment: Fragment = {
        "operationId": f"open311{name}{fmt.title()}", "summary": f"{summary} ({fmt})",
        "tags": ["Open311"], "parameters": [*params("Tenant"), JURISDICTION, *parameters],
        "responses": responses, "security": [{}, {"bearer": []}] if submit else PUBLIC,
    }
    if submit:
        fields = form or SUBMISSION
        fragment["requestBody"] = {"required": True, "content": {
            FORM: {"schema": fields},
            MULTIPART: {"schema": PHOTO_SUBMISSION if form is None else fields}}}
    return fragment


def _both(name: str, summary: str, status: int, schema: Fragment,
          parameters: list[Fragment] | None = None, submit: bool = False,
          method: str | None = None, **options) -> dict[str, Fragment]:
    method = method or ("post" if submit else "get")
    return {fmt: {method: _georeport(name, summary, fmt, status, schema,
                                     parameters=parameters or [], submit=submit, **options)}
            for fmt in ("json", "xml")}


CODE = {"type": "string", "pattern": CODE_PATTERN.pattern}
SERVICE_CODE = path_param("service_code", "a service's code", CODE, "pothole")
REQUEST_ID = path_param("service_request_id", "a service request's id",
                        {"type": "string", "pattern": "^[0-9]{1,18}$"}, "1")
TOKEN_PARAM = path_param("token", "the token a batch service answered",
                         {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"})
ALERT_TOKEN = path_param("token", "the token of the e-mailed link",
                         {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"})


def _georeport_paths() -> dict[str, dict[str, Fragment]]:
    table = [
        ("/discovery", _both("Discovery", "the endpoint's discovery document", 200, DISCOVERY)),
        ("/services", _both("Services", "the city's services", 200,
                            {"type": "array", "items": SERVICE})),
        ("/services/{service_code}", _both("ServiceDefinition", "a service's attributes", 200,
                                           SERVICE_DEFINITION, [SERVICE_CODE])),
        ("/requests", _both("Submit", "submit a service request", 201, SUBMITTED,
                            submit=True)),
        ("/requests", _both("Requests", "service requests, newest first", 200,
                             {"type": "array", "items": REQUEST}, LIST_PARAMETERS)),
        ("/requests/{service_request_id}", _both("Request", "one service request", 200,
                                                 {"type": "array", "items": REQUEST},
                                                 [REQUEST_ID, EXTENSIONS])),
        ("/tokens/{token}", _both("Token", "the request a token stands for", 200, TOKEN,
                                  [TOKEN_PARAM])),
        ("/servicerequestupdates", _both(
            "Updates", "public changes of requests between start_date and end_date "
                       "(mySociety's extension)", 200, UPDATES, UPDATE_PARAMETERS)),
        ("/requests/{service_request_id}/followers", _both(
            "Follow", "join an open request to be e-mailed its changes (200: already "
                      "following)", 201, FOLLOWED, [REQUEST_ID], submit=True, form=FOLLOWER)),
        ("/alerts", _both("Alert", "e-mail alerts of new requests in an area; a "
                                   "confirmation link is mailed first", 201, ALERTS,
                          submit=True, form=ALERT_FORM, extra=(503,))),
        ("/alerts/confirm/{token}", _both("AlertConfirm", "confirm an area alert", 200,
                                          ALERTS, [ALERT_TOKEN])),
        ("/alerts/unsubscribe/{token}", _both("AlertEnd", "end an area alert", 200, ALERTS,
                                              [ALERT_TOKEN])),
        ("/alerts/unsubscribe/{token}", _both(
            "AlertEndOneClick", "end an area alert (RFC 8058 one-click)", 200, ALERTS,
            [ALERT_TOKEN], method="post")),
    ]
    out: dict[str, dict[str, Fragment]] = {}
    for path, formats in table:
        for fmt, operations in formats.items():
            out.setdefault(f"/open311/v2{path}.{fmt}", {}).update(operations)
    return out


# -- admin -------------------------------------------------------------------------------------
ADMIN_ERRORS = (400, 401, 403, 429, 503)
CATALOGUE = {"type": "object", "required": ["jurisdiction"],
             "description": "jurisdiction (with its boundary polygon), groups, services and "
                            "departments with service areas; see docs/open311.md",
             "properties": {"jurisdiction": {"type": ["object", "null"]},
                            "groups": {"type": "array"}, "services": {"type": "array"},
                            "departments": {"type": "array"}}}
ADMIN_SERVICE = {"type": "object", "required": ["service_name"],
                 "properties": {"service_code": TEXT, "service_name": TEXT,
                                "attributes": {"type": "array"}}}
DEPARTMENT = {"type": "object", "required": ["name"],
              "properties": {"code": TEXT, "name": TEXT, "service_areas": {"type": "array"}}}
KEY = {"type": "object", "required": ["id", "name", "disabled", "createdAt"],
       "properties": {"id": TEXT, "name": TEXT, "disabled": {"type": "boolean"},
                      "createdAt": TEXT,
                      "secret": {"type": "string", "description": "the api_key; only in the "
                                                                  "answer that creates it"}}}
REPORTER = {"type": "object", "required": ["role"], "properties": {
    name: NULLABLE_TEXT for name in ("email", "first_name", "last_name", "phone", "device_id",
                                     "account_id", "subject", "app_key", "created_at")}}
PERSON = {"type": "object", "minProperties": 1, "maxProperties": 1,
          "additionalProperties": False,
          "properties": {name: {"type": "string", "minLength": 1, "maxLength": 254}
                         for name in ("email", "phone", "account_id")}}
DEPARTMENT_CODE = path_param("department", "a department's code", CODE, "roads")
KEY_ID = path_param("keyId", "an api_key's id")


def _json_answer(description: str, schema: Fragment, *headers: str) -> Fragment:
    answer: Fragment = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        answer["headers"] = {name: ref("headers", name) for name in headers}
    return answer


def _body(schema: Fragment) -> Fragment:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _admin(operation_id: str, summary: str, answers: dict[int, Fragment],
           extra: tuple[int, ...] = (), role: Role = Role.ADMIN, **kw) -> Fragment:
    who = "admins" if role is Role.ADMIN else "department staff of the request, or admins"
    return operation(operation_id, f"{summary} ({who})", "Open311 admin", answers,
                     parameters=[*params("Tenant"), *kw.pop("parameters", [])],
                     statuses=(*ADMIN_ERRORS, *extra), security=[{"bearer": []}], **kw)


ADMIN_PATHS: dict[str, dict[str, Fragment]] = {
    "/open311/v2/admin/catalogue": {
        "get": _admin("open311GetCatalogue", "the tenant's Open311 catalogue",
                      {200: _json_answer("the catalogue", CATALOGUE)}),
        "put": _admin("open311PutCatalogue", "replace the tenant's Open311 catalogue",
                      {200: _json_answer("the catalogue stored", CATALOGUE)},
                      body=_body(CATALOGUE)),
    },
    "/open311/v2/admin/services/{service_code}": {
        "put": _admin("open311PutService", "add or replace a service",
                      {200: _json_answer("replaced", ADMIN_SERVICE),
                       201: _json_answer("added", ADMIN_SERVICE, "Location")},
                      parameters=[SERVICE_CODE], body=_body(ADMIN_SERVICE)),
        "delete": _admin("open311DeleteService", "remove a service and its service areas",
                         {204: {"description": "removed"}}, (404,), parameters=[SERVICE_CODE]),
    },
    "/open311/v2/admin/departments/{department}": {
        "put": _admin("open311PutDepartment", "add or replace a department and its areas",
                      {200: _json_answer("replaced", DEPARTMENT),
                       201: _json_answer("added", DEPARTMENT, "Location")},
                      parameters=[DEPARTMENT_CODE], body=_body(DEPARTMENT)),
        "delete": _admin("open311DeleteDepartment", "remove a department",
                         {204: {"description": "removed"}}, (404,),
                         parameters=[DEPARTMENT_CODE]),
    },
    "/open311/v2/admin/keys": {
        "get": _admin("open311ListKeys", "the api_keys of submitting apps",
                      {200: _json_answer("keys", {"type": "array", "items": KEY})}),
        "post": _admin("open311CreateKey", "a new api_key; its secret is in this answer only",
                       {201: _json_answer("the key and its secret", KEY, "Location")},
                       body=_body({"type": "object", "required": ["name"],
                                   "additionalProperties": False,
                                   "properties": {"name": {"type": "string", "minLength": 1,
                                                           "maxLength": 64}}})),
    },
    "/open311/v2/admin/keys/{keyId}": {
        "patch": _admin("open311UpdateKey", "disable or enable an api_key",
                        {200: _json_answer("the key", KEY)}, (404,), parameters=[KEY_ID],
                        body=_body({"type": "object", "required": ["disabled"],
                                    "additionalProperties": False,
                                    "properties": {"disabled": {"type": "boolean"}}})),
    },
    "/open311/v2/admin/requests/{service_request_id}": {
        "patch": _admin("open311UpdateRequest", "move a request through the workflow, or add "
                                                "a public note, or both; its followers are "
                                                "e-mailed",
                        {200: _json_answer("the request", REQUEST)}, (404,),
                        role=Role.DEPARTMENT, parameters=[REQUEST_ID],
                        body=_body({"type": "object", "minProperties": 1,
                                    "additionalProperties": False,
                                    "properties": {"state": {"enum": list(workflow.STATES)},
                                                   "reason": {"enum": list(workflow.REASONS)},
                                                   "status_notes": NULLABLE_TEXT}})),
    },
    "/open311/v2/admin/requests/{service_request_id}/merge": {
        "post": _admin("open311MergeRequest", "close a request as a duplicate of another; "
                                              "its people follow the one kept",
                       {200: _json_answer("both requests after the merge", {
                           "type": "object", "required": ["duplicate", "kept"],
                           "properties": {"duplicate": REQUEST, "kept": REQUEST}})}, (404,),
                       role=Role.DEPARTMENT, parameters=[REQUEST_ID],
                       body=_body({"type": "object", "required": ["into"],
                                   "additionalProperties": False,
                                   "properties": {"into": TEXT,
                                                  "status_notes": NULLABLE_TEXT}})),
    },
    "/open311/v2/admin/personal-data/export": {
        "post": _admin("open311ExportPerson", "everything held about one person (GDPR art. "
                                              "15/20); audited",
                       {200: _json_answer("the person's data", {"type": "object"})},
                       body=_body(PERSON)),
    },
    "/open311/v2/admin/personal-data/erase": {
        "post": _admin("open311ErasePerson", "erase one person's data (GDPR art. 17); their "
                                             "requests stay, anonymous; audited",
                       {200: _json_answer("what was erased", {"type": "object"})},
                       body=_body(PERSON)),
    },
    "/open311/v2/admin/requests/{service_request_id}/reporters": {
        "get": _admin("open311Reporters", "who reported a request: personal data, audited",
                      {200: _json_answer("the reporters",
                                         {"type": "array", "items": REPORTER})}, (404,),
                      role=Role.DEPARTMENT, parameters=[REQUEST_ID]),
    },
}

MEDIA_PATHS: dict[str, dict[str, Fragment]] = {
    "/open311/v2/media/{name}": {
        "get": operation(
            "open311Photo", "a photo uploaded with a request (re-encoded, no metadata)",
            "Open311", {200: {"description": "the photo", "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in ("image/jpeg", "image/png", "image/webp")}}},
            parameters=[path_param("name", "<sha256>.<jpg|png|webp>",
                                   {"type": "string", "pattern": MEDIA_NAME.pattern})],
            statuses=(401, 403, 404, 429), security=PUBLIC),
    },
}

OPEN311: dict[str, dict[str, Fragment]] = {**_georeport_paths(), **ADMIN_PATHS, **MEDIA_PATHS}
