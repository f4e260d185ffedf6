"""The route table of the OpenAPI document: one entry per (path, method) the app serves.

Each entry says, in a line or two, what the route takes and answers; `operation()` expands that
into the OpenAPI fragment, adding the error answers every route of its API shares. A route added
to the app without an entry here fails tests/api/test_openapi.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from madina.api.http import JSON
from madina.api.openapi.components import (
    CONTEXT,
    ENTITY_URI,
    FORM,
    NAME,
    Fragment,
    empty,
    errors,
    json_answer,
    ngsi_body,
    ref,
)

NGSI_ERRORS = (400, 401, 403, 404, 406, 429, 503)
"""Every NGSI-LD route: bad input, bad credential, refused, unknown tenant or resource, Accept
that cannot be met, rate limit, database or remote @context down."""
PUBLIC: list[Fragment] = [{}]
"""`security` of a route that needs no credential (an invalid one is still refused: 401)."""

ENTITY = ref("schemas", "EntityRepresentation")
ENTITIES = {"type": "array", "items": ENTITY}
IDS = {"type": "array", "items": {"type": "string"}}
DISCOVERY = {"type": ["object", "array"]}


def params(*names: str) -> list[Fragment]:
    return [ref("parameters", name) for name in names]


def path_param(name: str, description: str, schema: Fragment | None = None,
               example: str | None = None) -> Fragment:
    parameter = {"name": name, "in": "path", "required": True,
                 "schema": schema or {"type": "string"}, "description": description}
    if example is not None:
        parameter["example"] = example
    return parameter


EXAMPLE_ENTITY = {
    "id": "urn:ngsi-ld:AirQualityObserved:Kallio",
    "type": "AirQualityObserved",
    "no2": {"type": "Property", "value": 31.5, "unitCode": "GQ"},
    "location": {"type": "GeoProperty",
                 "value": {"type": "Point", "coordinates": [24.95, 60.18]}},
}
ENTITY_ID = path_param("entityId", "the entity's id (a URI)", ENTITY_URI,
                       EXAMPLE_ENTITY["id"])
ATTR_ID = path_param("attrId", "an attribute name (term or IRI)", NAME, "no2")
NGSI_HEADERS = params("Tenant", "Link")
QUERY = params("id", "idPattern", "type", "attrs", "q", "scopeQ", "georel", "geometry",
               "coordinates", "geoproperty")
RENDER = params("attrs", "pick", "omit", "options", "format", "lang", "datasetId",
                "geometryProperty", "local", "join", "joinLevel")


def operation(
    operation_id: str,
    summary: str,
    tag: str,
    answers: dict[int, Fragment],
    *,
    parameters: Sequence[Fragment] = (),
    body: Fragment | None = None,
    statuses: tuple[int, ...] = (),
    error_schema: str = "ProblemDetails",
    security: list[Fragment] | None = None,
) -> Fragment:
    """One operation; a request body brings 415 along, as every body-reading route checks the
    Content-Type before anything else."""
    responses = {str(status): answer for status, answer in answers.items()}
    if body is not None and error_schema == "ProblemDetails":
        statuses = (*statuses, 415)
    responses.update(errors(*sorted(set(statuses)), schema=error_schema))
    fragment: Fragment = {"operationId": operation_id, "summary": summary, "tags": [tag],
                          "parameters": list(parameters), "responses": responses}
    if body is not None:
        fragment["requestBody"] = body
    if security is not None:
        fragment["security"] = security
    return fragment


def ngsi(operation_id: str, summary: str, answers: dict[int, Fragment], *,
         parameters: Sequence[Fragment] = (), body: Fragment | None = None,
         extra: tuple[int, ...] = ()) -> Fragment:
    """An NGSI-LD operation: tenant and @context headers, ProblemDetails errors."""
    return operation(operation_id, summary, "NGSI-LD", answers,
                     parameters=[*NGSI_HEADERS, *parameters], body=body,
                     statuses=(*NGSI_ERRORS, *extra))


WRITE = (409,)
"""Writes may meet an existing entity or lose a race on the database: 409."""
LINKED = (422,)
"""Render parameters include linked-entity retrieval, refused with 422."""

no_content = empty("done")
entities = json_answer("the matching entities", ENTITIES, ref("schemas", "FeatureCollection"),
                       headers=("Link", "NGSILD-Results-Count"))
update_result = json_answer("some attributes were not updated", ref("schemas", "UpdateResult"))
batch_result = json_answer("some entities failed", ref("schemas", "BatchOperationResult"))

NGSI_LD: dict[str, dict[str, Fragment]] = {
    "/entities": {
        "post": ngsi("createEntity", "create an entity",
                     {201: empty("created", "Location")},
                     body=ngsi_body("Entity"), extra=WRITE),
        "get": ngsi("queryEntities", "query entities", {200: entities},
                    parameters=[*QUERY, *params("limit", "offset", "count", "orderBy", "csf",
                                                "pick", "omit", "options", "format", "lang",
                                                "datasetId", "geometryProperty", "local",
                                                "join", "joinLevel", "containedBy")],
                    extra=LINKED),
        "delete": ngsi("purgeEntities", "delete the matching entities, or some of their "
                       "attributes", {204: no_content},
                       parameters=[*QUERY, *params("keep", "drop")], extra=WRITE),
    },
    "/entities/{entityId}": {
        "get": ngsi("retrieveEntity", "retrieve an entity",
                    {200: json_answer("the entity", ENTITY, ref("schemas", "Feature"))},
                    parameters=[ENTITY_ID, *RENDER, *params("type")], extra=LINKED),
        "put": ngsi("replaceEntity", "replace an entity", {204: no_content},
                    parameters=[ENTITY_ID], body=ngsi_body("EntityReplacement"), extra=WRITE),
        "patch": ngsi("mergeEntity", "merge-patch an entity", {204: no_content},
                      parameters=[ENTITY_ID, *params("options")],
                      body=ngsi_body("EntityFragment", merge=True), extra=WRITE),
        "delete": ngsi("deleteEntity", "delete an entity", {204: no_content},
                       parameters=[ENTITY_ID, *params("type")], extra=WRITE),
    },
    "/entities/{entityId}/attrs": {
        "post": ngsi("appendAttributes", "append attributes",
                     {204: no_content, 207: update_result},
                     parameters=[ENTITY_ID, *params("options", "type")],
                     body=ngsi_body("EntityFragment"), extra=WRITE),
        "patch": ngsi("updateAttributes", "update existing attributes",
                      {204: no_content, 207: update_result},
                      parameters=[ENTITY_ID, *params("options")],
                      body=ngsi_body("EntityFragment"), extra=WRITE),
    },
    "/entities/{entityId}/attrs/{attrId}": {
        "patch": ngsi("partialAttributeUpdate", "update parts of an attribute",
                      {204: no_content}, parameters=[ENTITY_ID, ATTR_ID],
                      body=ngsi_body("Attribute"), extra=WRITE),
        "put": ngsi("replaceAttribute", "replace an attribute", {204: no_content},
                    parameters=[ENTITY_ID, ATTR_ID], body=ngsi_body("Attribute"), extra=WRITE),
        "delete": ngsi("deleteAttribute", "delete an attribute", {204: no_content},
                       parameters=[ENTITY_ID, ATTR_ID, *params("datasetId", "deleteAll")],
                       extra=WRITE),
    },
    "/entityOperations/create": {
        "post": ngsi("batchCreate", "create entities",
                     {201: json_answer("all created: their ids", IDS), 207: batch_result},
                     body=ngsi_body("Entity", array=True), extra=WRITE),
    },
    "/entityOperations/upsert": {
        "post": ngsi("batchUpsert", "create or replace/update entities",
                     {201: json_answer("the ids of the created entities", IDS),
                      204: no_content, 207: batch_result},
                     parameters=params("options"), body=ngsi_body("Entity", array=True),
                     extra=WRITE),
    },
    "/entityOperations/update": {
        "post": ngsi("batchUpdate", "update attributes of entities",
                     {204: no_content, 207: batch_result}, parameters=params("options"),
                     body=ngsi_body("EntityUpdate", array=True), extra=WRITE),
    },
    "/entityOperations/merge": {
        "post": ngsi("batchMerge", "merge-patch entities", {204: no_content, 207: batch_result},
                     body=ngsi_body("EntityUpdate", array=True), extra=WRITE),
    },
    "/entityOperations/delete": {
        "post": ngsi("batchDelete", "delete entities by id", {204: no_content, 207: batch_result},
                     body={"required": True, "content": {JSON: {"schema": {
                         "type": "array", "minItems": 1, "items": {"type": "string"}}}}},
                     extra=WRITE),
    },
    "/entityOperations/query": {
        "post": ngsi("queryBatch", "query entities with a Query body", {200: entities},
                     parameters=params("limit", "offset", "count", "options", "format", "lang",
                                       "local"),
                     body=ngsi_body("Query"), extra=LINKED),
    },
    "/types": {
        "get": ngsi("listTypes", "the entity types in use",
                    {200: json_answer("EntityTypeList, or EntityType details", DISCOVERY)},
                    parameters=params("details", "local")),
    },
    "/types/{type}": {
        "get": ngsi("getType", "one entity type",
                    {200: json_answer("EntityTypeInfo", DISCOVERY)},
                    parameters=[path_param("type", "type name (term or IRI)", NAME,
                                           EXAMPLE_ENTITY["type"]),
                                *params("local")]),
    },
    "/attributes": {
        "get": ngsi("listAttributes", "the attributes in use",
                    {200: json_answer("AttributeList, or Attribute details", DISCOVERY)},
                    parameters=params("details", "local")),
    },
    "/attributes/{attrId}": {
        "get": ngsi("getAttribute", "one attribute",
                    {200: json_answer("Attribute", DISCOVERY)},
                    parameters=[ATTR_ID, *params("local")]),
    },
}

CONTEXT_ID = path_param("contextId", "a hosted context's id, or a cached context's URL")
CONTEXT_DOCUMENT = {"type": "object", "required": ["@context"], "properties": {"@context": CONTEXT}}
JSONLD_CONTEXTS: dict[str, dict[str, Fragment]] = {
    "/jsonldContexts": {
        "get": operation("listContexts", "the @contexts the broker holds", "JSON-LD contexts",
                         {200: {"description": "URLs, or details with details=true",
                                "content": {JSON: {"schema": {"type": "array"}}}}},
                         parameters=params("details", "kind"), statuses=(400, 401, 403, 429)),
        "post": operation("addContext", "host a client's @context", "JSON-LD contexts",
                          {201: empty("hosted", "Location")},
                          body={"required": True,
                                "content": {JSON: {"schema": CONTEXT_DOCUMENT}}},
                          statuses=(400, 401, 403, 429, 503)),
    },
    "/jsonldContexts/{contextId}": {
        "get": operation("getContext", "one @context document", "JSON-LD contexts",
                         {200: {"description": "the document",
                                "content": {JSON: {"schema": {"type": "object"}}}}},
                         parameters=[CONTEXT_ID], statuses=(400, 401, 403, 404, 429)),
        "delete": operation("deleteContext", "forget a @context, or reload a cached one",
                            "JSON-LD contexts", {204: no_content},
                            parameters=[CONTEXT_ID, *params("reload")],
                            statuses=(400, 401, 403, 404, 429, 503)),
    },
}


def _form(schema: Fragment) -> Fragment:
    return {"required": True, "content": {FORM: {"schema": schema}}}


def auth(operation_id: str, summary: str, answers: dict[int, Fragment],
         statuses: tuple[int, ...], **kw) -> Fragment:
    return operation(operation_id, summary, "Auth", answers, statuses=statuses,
                     error_schema="Error", **kw)


NO_STORE = {"Cache-Control": {"schema": {"const": "no-store"}}}
AUTH: dict[str, dict[str, Fragment]] = {
    "/auth/token": {
        "post": auth("token", "OAuth 2.0 token endpoint (RFC 6749)",
                     {200: {"description": "a token", "headers": NO_STORE,
                            "content": {JSON: {"schema": ref("schemas", "Token")}}}},
                     (400, 401, 413, 429, 503), body=_form(ref("schemas", "TokenForm")),
                     security=[{}, {"basic": []}]),
    },
    "/auth/revoke": {
        "post": auth("revoke", "revoke a token (RFC 7009)",
                     {200: {"description": "revoked, or was not valid", "headers": NO_STORE,
                            "content": {JSON: {"schema": {"type": "object"}}}}},
                     (400, 401, 413, 429, 503),
                     body=_form({"type": "object", "required": ["token"],
                                 "properties": {"token": {"type": "string"},
                                                "token_type_hint": {"type": "string"}}}),
                     security=PUBLIC),
    },
    "/auth/logout": {
        "post": auth("logout", "end the presented access token's sign-in",
                     {204: empty("signed out")}, (401, 429, 503),
                     security=[{"bearer": []}]),
    },
}

LIVE_EVENTS = (
    "Server-Sent Events. Each message's `id` is its resume cursor and its `data` a JSON "
    "object: `kind` (created, updated, deleted), entity `id` and `type`, `at`, the changed "
    "`attributes`, `matches` (false once the entity no longer satisfies the filters: it left "
    "the box, fails q, or was deleted) and the `entity` rendered as GET /entities renders it. "
    "`event: reset` ends the stream: reload the state, then reconnect from its id."
)
APP: dict[str, dict[str, Fragment]] = {
    "/live": {
        "get": operation(
            "liveStream", "entity changes as Server-Sent Events, filtered", "Live",
            {200: {"description": LIVE_EVENTS, "headers": {"Link": ref("headers", "Link")},
                   "content": {"text/event-stream": {"schema": {"type": "string"}}}}},
            parameters=[
                *NGSI_HEADERS, *params("type", "q", "attrs", "geoproperty", "options",
                                       "format", "lang"),
                {"name": "bbox", "in": "query", "description": "minLon,minLat,maxLon,maxLat "
                 "around the entities' `location` (or `geoproperty`)",
                 "schema": {"type": "string"}, "example": "24.5,60.0,25.5,60.5"},
                {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"},
                 "description": "resume after this event's id (EventSource sends it itself)"},
                {"name": "lastEventId", "in": "query", "schema": {"type": "string"},
                 "description": "Last-Event-ID for clients that cannot set headers"},
            ],
            statuses=NGSI_ERRORS),
    },
    "/health": {
        "get": operation("health", "able to serve: the database answers", "Operations",
                         {200: {"description": "healthy", "content": {JSON: {"schema": {
                             "type": "object", "required": ["status", "version", "database"],
                             "properties": {"status": {"const": "ok"},
                                            "version": {"type": "string"},
                                            "database": {"const": "ok"}}}}}}},
                         statuses=(401, 429, 503), error_schema="Error", security=PUBLIC),
    },
    "/openapi.json": {
        "get": operation("openapi", "this document", "Operations",
                         {200: {"description": "OpenAPI 3.1",
                                "content": {JSON: {"schema": {"type": "object"}}}}},
                         statuses=(401, 429), error_schema="Error", security=PUBLIC),
    },
    "/metrics": {
        "get": operation("metrics", "Prometheus metrics: requests per route, latency, database "
                         "pool, audit log", "Operations",
                         {200: {"description": "Prometheus text exposition format",
                                "content": {"text/plain": {"schema": {"type": "string"}}}}},
                         statuses=(401, 403, 429), error_schema="Error",
                         security=[{}, {"bearer": []}]),
    },
}
