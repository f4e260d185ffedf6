"""The temporal API (madina.api.temporal) in the OpenAPI document: its routes, its temporal
query parameters, and the representations it answers with (clauses 4.5.6, 4.5.7, 4.5.19)."""

from __future__ import annotations

from madina.api.openapi.components import (
    ENTITY_URI,
    NAME,
    STRING_LIST,
    Fragment,
    json_answer,
    ngsi_body,
    ref,
)
from madina.api.openapi.paths import (
    ATTR_ID,
    ENTITY_ID,
    EXAMPLE_ENTITY,
    QUERY,
    WRITE,
    empty,
    ngsi,
    no_content,
    params,
    path_param,
)
from madina.store.history import AGGREGATION_METHODS, TIME_PROPERTIES


def _query(name: str, schema: Fragment, description: str) -> Fragment:
    return {"name": name, "in": "query", "schema": schema, "description": description}


DATE_TIME = {"type": "string", "format": "date-time"}
METHOD = {"enum": list(AGGREGATION_METHODS)}
TEMPORAL_QUERY = [
    _query("timerel", {"enum": ["before", "after", "between"]},
           "before: earlier than timeAt; after: timeAt or later; between: timeAt or later and "
           "earlier than endTimeAt"),
    _query("timeAt", DATE_TIME, "needed with timerel"),
    _query("endTimeAt", DATE_TIME, "needed with timerel=between, only there"),
    _query("timeproperty", {"enum": list(TIME_PROPERTIES)},
           "what timerel compares; observedAt (else modifiedAt, as recorded) by default; "
           "deletedAt selects deletions"),
    _query("lastN", {"type": "integer", "minimum": 1},
           "only the last N instances per attribute; above the instance limit the answer is "
           "paged backwards (206)"),
    _query("aggrMethods", {"type": "string", "description": "comma-separated list of "
                           + ", ".join(AGGREGATION_METHODS)},
           "asks for the aggregated representation"),
    _query("aggrPeriodDuration", {"type": "string", "pattern": r"^P.+"},
           "ISO 8601 duration of each aggregation period; PT0S (default): the whole range"),
]
RENDER = [*params("attrs", "lang", "datasetId", "pick", "omit"),
          _query("options", STRING_LIST, "temporalValues, aggregatedValues, normalized, concise, "
                 "sysAttrs (keyValues and simplified mean temporalValues)"),
          _query("format", {"enum": ["normalized", "concise", "temporalValues",
                                     "aggregatedValues", "keyValues", "simplified"]},
                 "the representation")]
INSTANCE_ID = path_param("instanceId", "an instanceId from a temporal representation",
                         ENTITY_URI, "urn:ngsi-ld:Instance:1")
TEMPORAL_ENTITY = {
    "description": "an entity with the history of its attributes: per attribute an array of "
                   "instances (normalized or concise, each with its instanceId), an object with "
                   "`values`/`objects`/... [content, time] pairs (temporalValues), or with "
                   "[value, start, end] triples per aggregation method (aggregatedValues); an "
                   "array of such objects when the attribute has several datasetIds",
    "type": "object",
    "properties": {"id": {"type": "string"}, "type": {"anyOf": [
        {"type": "string"}, {"type": "array", "items": {"type": "string"}}]}},
}
PARTIAL = {"Content-Range": {"schema": {"type": "string", "pattern": r"^date-time \S+-\S+/\S+$"},
                             "description": "the time range the answer covers (clause 6.3.10)"}}


def _answer(description: str, schema: Fragment, headers: tuple[str, ...] = ("Link",)) -> Fragment:
    return json_answer(description, schema, headers=headers)


def _partial(answer: Fragment) -> Fragment:
    """The same answer cut to the instance limit: 206 with Content-Range."""
    return {**answer, "description": answer["description"] + ", cut to the instance limit",
            "headers": {**answer["headers"], **PARTIAL}}


ONE = _answer("the entity's temporal representation", ref("schemas", "TemporalEntity"))
MANY = _answer("the matching entities' temporal representations",
               {"type": "array", "items": ref("schemas", "TemporalEntity")},
               headers=("Link", "NGSILD-Results-Count"))
TEMPORAL_BODY = {
    "description": "a temporal representation: id, type, and per attribute an instance or an "
                   "array of instances, each with its observedAt",
    "example": {"id": EXAMPLE_ENTITY["id"], "type": EXAMPLE_ENTITY["type"],
                "no2": [{"type": "Property", "value": 31.5, "observedAt": "2026-11-20T08:00:00Z"},
                        {"type": "Property", "value": 28.0, "observedAt": "2026-11-20T09:00:00Z"}]},
    "type": "object",
    "required": ["id", "type"],
    "properties": {"id": ENTITY_URI, "type": {"anyOf": [NAME, {"type": "array", "items": NAME}]}},
}
QUERY_BODY = {
    "description": "the Query data type (clause 5.2.23) with its temporalQ (clause 5.2.21)",
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"const": "Query"},
        "entities": {"type": "array", "items": {"type": "object", "required": ["type"]}},
        "attrs": {"type": "array", "items": {"type": "string"}},
        "q": {"type": "string"},
        "scopeQ": {"type": "string"},
        "geoQ": {"type": "object"},
        "lang": {"type": "string"},
        "temporalQ": {"type": "object", "properties": {
            "timerel": {"enum": ["before", "after", "between"]},
            "timeAt": DATE_TIME, "endTimeAt": DATE_TIME,
            "timeproperty": {"enum": list(TIME_PROPERTIES)},
            "lastN": {"type": "integer", "minimum": 1},
            "aggrMethods": {"anyOf": [{"type": "string"}, {"type": "array", "items": METHOD}]},
            "aggrPeriodDuration": {"type": "string"},
        }},
    },
}
SCHEMAS: dict[str, Fragment] = {"TemporalEntity": TEMPORAL_ENTITY, "TemporalEntityInput":
                                TEMPORAL_BODY, "TemporalQuery": QUERY_BODY}

PATHS: dict[str, dict[str, Fragment]] = {
    "/temporal/entities": {
        "get": ngsi("queryTemporalEntities", "query the temporal evolution of entities",
                    {200: MANY, 206: _partial(MANY)},
                    parameters=[*QUERY, *TEMPORAL_QUERY, *RENDER,
                                *params("limit", "offset", "count", "local")]),
        "post": ngsi("upsertTemporalEntity", "create a temporal representation, or add its "
                     "instances to an existing entity",
                     {201: empty("created (the entity too)", "Location"),
                      204: empty("instances added")},
                     body=ngsi_body("TemporalEntityInput"), extra=WRITE),
    },
    "/temporal/entities/{entityId}": {
        "get": ngsi("retrieveTemporalEntity", "the temporal evolution of an entity (also of one "
                    "deleted since)", {200: ONE, 206: _partial(ONE)},
                    parameters=[ENTITY_ID, *TEMPORAL_QUERY, *RENDER]),
        "delete": ngsi("deleteTemporalEntity", "delete an entity and its history",
                       {204: no_content}, parameters=[ENTITY_ID], extra=WRITE),
    },
    "/temporal/entities/{entityId}/attrs": {
        "post": ngsi("appendTemporalAttributes", "add attribute instances to an entity's history",
                     {204: no_content}, parameters=[ENTITY_ID],
                     body=ngsi_body("EntityFragment"), extra=WRITE),
    },
    "/temporal/entities/{entityId}/attrs/{attrId}": {
        "delete": ngsi("deleteTemporalAttribute", "delete an attribute and its history",
                       {204: no_content},
                       parameters=[ENTITY_ID, ATTR_ID, *params("datasetId", "deleteAll")],
                       extra=WRITE),
    },
    "/temporal/entities/{entityId}/attrs/{attrId}/{instanceId}": {
        "patch": ngsi("modifyAttributeInstance", "change one instance of an attribute's history",
                      {204: no_content}, parameters=[ENTITY_ID, ATTR_ID, INSTANCE_ID],
                      body=ngsi_body("Attribute"), extra=WRITE),
        "delete": ngsi("deleteAttributeInstance", "delete one instance of an attribute's "
                       "history", {204: no_content},
                       parameters=[ENTITY_ID, ATTR_ID, INSTANCE_ID], extra=WRITE),
    },
    "/temporal/entityOperations/query": {
        "post": ngsi("queryTemporalBatch", "query the temporal evolution of entities with a Query "
                     "body", {200: MANY, 206: _partial(MANY)},
                     parameters=[*params("limit", "offset", "count", "lang", "local", "datasetId",
                                         "pick", "omit"),
                                 *[p for p in RENDER if p.get("name") in ("options", "format")]],
                     body=ngsi_body("TemporalQuery")),
    },
}
