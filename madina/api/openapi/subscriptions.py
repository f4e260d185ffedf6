"""/subscriptions (madina.api.subscriptions) in the OpenAPI document: the routes and the
Subscription schemas (clause 5.2.12), as precise as the checks madina.context.subscriptions
makes, so the fuzzer exercises them."""

from __future__ import annotations

from madina.api.openapi.components import ENTITY_URI, NAME, Fragment, json_answer, ngsi_body, ref
from madina.api.openapi.paths import WRITE, empty, ngsi, no_content, params, path_param
from madina.context.subscriptions import ACCEPTS, FORMATS, MQTT_VERSIONS, TRIGGERS

EXAMPLE = {
    "id": "urn:ngsi-ld:Subscription:kallio-no2",
    "type": "Subscription",
    "entities": [{"type": "AirQualityObserved"}],
    "watchedAttributes": ["no2"],
    "q": "no2>40",
    "notification": {"format": "keyValues", "attributes": ["no2"],
                     "endpoint": {"uri": "http://127.0.0.1:8080/notify",
                                  "accept": "application/json"}},
}
NAMES = {"type": "array", "minItems": 1, "items": NAME}
HEADER_NAME = {"type": "string", "pattern": r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"}
KEY_VALUES = {"type": "array", "items": {
    "type": "object", "required": ["key", "value"], "additionalProperties": False,
    "properties": {"key": HEADER_NAME, "value": {"type": "string", "pattern": r"^[^\r\n\x00]*$"}},
}}
MILLISECONDS = {"type": "number", "minimum": 0}
ENDPOINT = {
    "type": "object", "required": ["uri"], "additionalProperties": False,
    "properties": {
        "uri": {"type": "string", "pattern": r"^(https?|mqtts?)://[A-Za-z0-9.-]+(:[0-9]{1,5})?"
                                             r"(/[A-Za-z0-9._~/-]*)?$",
                "description": "http(s)://, or mqtt(s)://host[:port]/topic"},
        "accept": {"enum": list(ACCEPTS)},
        "receiverInfo": KEY_VALUES,
        "notifierInfo": {**KEY_VALUES, "description": f"MQTT-Version ({', '.join(MQTT_VERSIONS)})"
                                                      ", MQTT-QoS (0, 1, 2)"},
        "timeout": MILLISECONDS,
        "cooldown": MILLISECONDS,
    },
}
NOTIFICATION = {
    "type": "object", "required": ["endpoint"],
    "properties": {
        "attributes": NAMES,
        "format": {"enum": [*FORMATS, "simplified"]},
        "sysAttrs": {"type": "boolean"},
        "showChanges": {"type": "boolean"},
        "endpoint": ENDPOINT,
    },
}
SELECTOR = {"type": "object", "required": ["type"], "additionalProperties": False,
            "properties": {"id": ENTITY_URI, "idPattern": {"type": "string", "minLength": 1},
                           "type": {"type": "string", "minLength": 1}}}
GEO_Q = {"type": "object", "required": ["georel", "geometry", "coordinates"],
         "additionalProperties": False,
         "properties": {"georel": {"type": "string"}, "geometry": {"type": "string"},
                        "coordinates": {"anyOf": [{"type": "array"}, {"type": "string"}]},
                        "geoproperty": NAME}}
MEMBERS: Fragment = {
    "subscriptionName": {"type": "string", "minLength": 1},
    "description": {"type": "string", "minLength": 1},
    "entities": {"type": "array", "minItems": 1, "items": SELECTOR},
    "watchedAttributes": NAMES,
    "notificationTrigger": {"type": "array", "minItems": 1, "items": {"enum": list(TRIGGERS)}},
    "timeInterval": {"type": "number", "exclusiveMinimum": 0},
    "q": {"type": "string", "minLength": 1},
    "geoQ": GEO_Q,
    "csf": {"type": "string", "minLength": 1},
    "scopeQ": {"type": "string", "minLength": 1},
    "isActive": {"type": "boolean"},
    "notification": NOTIFICATION,
    "expiresAt": {"type": "string", "format": "date-time"},
    "throttling": {"type": "number", "minimum": 0},
    "lang": {"type": "string", "minLength": 1},
    "jsonldContext": {"type": "string", "format": "uri"},
    "@context": {"anyOf": [{"type": "string"}, {"type": "object"}, {"type": "array"}]},
}
SCHEMAS: dict[str, Fragment] = {
    "Subscription": {
        "description": "a subscription to create (clause 5.2.12); entities or "
                       "watchedAttributes are needed, timeInterval excludes watchedAttributes, "
                       "throttling and notificationTrigger",
        "example": EXAMPLE,
        "type": "object", "required": ["type", "notification"], "additionalProperties": False,
        "properties": {"id": ENTITY_URI, "type": {"const": "Subscription"}, **MEMBERS},
    },
    "SubscriptionFragment": {
        "description": "members to change; null removes an optional one, notification members "
                       "merge into the notification",
        "type": "object", "additionalProperties": False, "minProperties": 1,
        "properties": {"id": ENTITY_URI, "type": {"const": "Subscription"}, **MEMBERS,
                       "notification": {**NOTIFICATION, "required": []}},
    },
    "SubscriptionRepresentation": {
        "description": "a subscription as answered, with the status of its notifications",
        "type": "object", "required": ["id", "type", "notification", "status", "isActive"],
        "properties": {
            "id": {"type": "string"}, "type": {"const": "Subscription"},
            "status": {"enum": ["active", "paused", "expired"]},
            "notification": {"type": "object", "required": ["endpoint", "timesSent"],
                             "properties": {"status": {"enum": ["ok", "failed"]},
                                            "timesSent": {"type": "integer", "minimum": 0},
                                            "timesFailed": {"type": "integer", "minimum": 0},
                                            "lastNotification": {"type": "string"},
                                            "lastSuccess": {"type": "string"},
                                            "lastFailure": {"type": "string"}}},
        },
    },
}

SUBSCRIPTION_ID = path_param("subscriptionId", "the subscription's id (a URI)", ENTITY_URI,
                             EXAMPLE["id"])
SUBSCRIPTION = ref("schemas", "SubscriptionRepresentation")

PATHS: dict[str, dict[str, Fragment]] = {
    "/subscriptions": {
        "post": ngsi("createSubscription", "create a subscription",
                     {201: empty("created", "Location")}, body=ngsi_body("Subscription"),
                     extra=(*WRITE, 422)),
        "get": ngsi("querySubscriptions", "the tenant's subscriptions, oldest first",
                    {200: json_answer("the subscriptions",
                                      {"type": "array", "items": SUBSCRIPTION},
                                      headers=("Link", "NGSILD-Results-Count"))},
                    parameters=params("limit", "offset", "count", "options")),
    },
    "/subscriptions/{subscriptionId}": {
        "get": ngsi("retrieveSubscription", "one subscription and its notification status",
                    {200: json_answer("the subscription", SUBSCRIPTION)},
                    parameters=[SUBSCRIPTION_ID, *params("options")]),
        "patch": ngsi("updateSubscription", "change members of a subscription",
                      {204: no_content}, parameters=[SUBSCRIPTION_ID],
                      body=ngsi_body("SubscriptionFragment"), extra=(422,)),
        "delete": ngsi("deleteSubscription", "delete a subscription and its pending "
                       "notifications", {204: no_content}, parameters=[SUBSCRIPTION_ID]),
    },
}
