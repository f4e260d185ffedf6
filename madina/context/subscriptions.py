"""NGSI-LD subscriptions (clause 5.2.12): validation, the stored form, and how clients read it.

A subscription is stored with its names expanded (entity types, watched and notified
attributes, the geoQ property), so the request's @context decides what they mean once, and
each reader compacts them with its own. Texts that hold names inside them (`q`) are kept as
written together with the @context they were written in (`_qContext`); the notifier resolves
them with it. `_context` is the @context notifications are compacted with: the subscription's
`jsonldContext` when given, else the one it was created with.

Every check happens here, before anything is stored, so a bad subscription is a 400 and never a
half-written one; the notifier compiles only documents that passed (madina.context.
subscription_match).
"""

from __future__ import annotations

import math
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from madina.context import geo, qlang
from madina.context.entity_model import (
    bad,
    canonical_datetime,
    check_name,
    display_datetime,
    is_uri,
)
from madina.context.errors import BadRequestData, OperationNotSupported
from madina.context.jsonld import TermMap
from madina.context.query import parse_type_expression
from madina.store.filters import PatternError, compiled_pattern
from madina.store.subscriptions import StoredSubscription

ENTITY_CREATED = "entityCreated"
ENTITY_UPDATED = "entityUpdated"
ENTITY_DELETED = "entityDeleted"
ATTRIBUTE_CREATED = "attributeCreated"
ATTRIBUTE_UPDATED = "attributeUpdated"
ATTRIBUTE_DELETED = "attributeDeleted"
TRIGGERS = (ENTITY_CREATED, ENTITY_UPDATED, ENTITY_DELETED, ATTRIBUTE_CREATED,
            ATTRIBUTE_UPDATED, ATTRIBUTE_DELETED)
DEFAULT_TRIGGERS = (ATTRIBUTE_CREATED, ATTRIBUTE_UPDATED)
"""Table 5.2.12-1: without `notificationTrigger`, created and updated attributes notify."""

FORMATS = ("normalized", "concise", "keyValues")
FORMAT_ALIASES = {"simplified": "keyValues"}
ACCEPTS = ("application/json", "application/ld+json", "application/geo+json")
HTTP_SCHEMES = ("http", "https")
MQTT_SCHEMES = ("mqtt", "mqtts")
MQTT_VERSION = "MQTT-Version"
MQTT_QOS = "MQTT-QoS"
MQTT_VERSIONS = ("mqtt3.1.1", "mqtt5.0")

MEMBERS = frozenset({
    "id", "type", "subscriptionName", "description", "entities", "watchedAttributes",
    "notificationTrigger", "timeInterval", "q", "geoQ", "csf", "scopeQ", "isActive",
    "notification", "expiresAt", "throttling", "lang", "jsonldContext",
})
READ_ONLY = frozenset({"status", "createdAt", "modifiedAt", "@context"})
"""Members the broker writes: a client may send a subscription back as it read it."""
NOT_SUPPORTED = frozenset({"temporalQ", "datasetId", "join", "joinLevel", "pick", "omit",
                           "containedBy", "jsonKeys", "expandValues", "localOnly"})
NOTIFICATION_MEMBERS = frozenset({"attributes", "format", "sysAttrs", "showChanges", "endpoint"})
NOTIFICATION_READ_ONLY = frozenset({"status", "timesSent", "timesFailed", "lastNotification",
                                    "lastSuccess", "lastFailure"})
ENDPOINT_MEMBERS = frozenset({"uri", "accept", "receiverInfo", "notifierInfo", "timeout",
                              "cooldown"})
GEOQ_MEMBERS = frozenset({"georel", "geometry", "coordinates", "geoproperty"})
REMOVABLE = frozenset({"subscriptionName", "description", "watchedAttributes",
                       "notificationTrigger", "timeInterval", "q", "geoQ", "csf", "scopeQ",
                       "expiresAt", "throttling", "lang", "jsonldContext", "entities"})
"""Members a PATCH may remove by setting them to null."""

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_FORBIDDEN_HEADERS = frozenset({"content-length", "host", "transfer-encoding", "connection"})


def new_id() -> str:
    return f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"


# -- parsing ---------------------------------------------------------------------------------------
def parse_subscription(body: Any, terms: TermMap, context: Any, now: str) -> dict[str, Any]:
    """The stored form of a new subscription (clause 5.8.1), or BadRequestData saying why not.
    `context` is the request's @context value (None: the core context)."""
    if not isinstance(body, dict):
        raise BadRequestData("a subscription must be a JSON object")
    if body.get("type") != "Subscription":
        raise BadRequestData('a subscription needs "type": "Subscription"')
    if "notification" not in body:
        raise BadRequestData("a subscription needs a notification member")
    subscription_id = body.get("id", new_id())
    if not is_uri(subscription_id):
        raise BadRequestData(f"subscription id must be a URI, not {subscription_id!r}")
    doc: dict[str, Any] = {"id": subscription_id, "type": "Subscription", "isActive": True,
                           "_context": context}
    _apply(doc, {k: v for k, v in body.items() if k not in ("id", "type")}, terms, context)
    check_whole(doc, now)
    return doc


def merge_subscription(
    stored: dict[str, Any], fragment: Any, terms: TermMap, context: Any, now: str
) -> dict[str, Any]:
    """`stored` with a PATCH fragment applied (clause 5.8.2): members given replace, members
    set to null go, `notification` members merge into the notification."""
    if not isinstance(fragment, dict):
        raise BadRequestData("a subscription fragment must be a JSON object")
    if not fragment:
        raise BadRequestData("the subscription fragment is empty")
    for member in ("id", "type"):
        if member in fragment and fragment[member] != stored[member]:
            raise BadRequestData(f"{member} of a subscription cannot be changed")
    doc = {k: v for k, v in stored.items()}
    changes = {k: v for k, v in fragment.items() if k not in ("id", "type")}
    notification = changes.get("notification")
    if isinstance(notification, dict):
        changes["notification"] = _merged_notification(stored["notification"], notification,
                                                       terms)
    _apply(doc, changes, terms, context)
    check_whole(doc, now, created=False)
    return doc


def _merged_notification(
    stored: dict[str, Any], fragment: dict[str, Any], terms: TermMap
) -> dict[str, Any]:
    """The notification as the client would write it whole: the stored one compacted with the
    request's terms, then the fragment's members on top (null removes one)."""
    merged = render_notification(stored, terms)
    for key, value in fragment.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _apply(doc: dict[str, Any], members: dict[str, Any], terms: TermMap, context: Any) -> None:
    for key, value in members.items():
        if key in READ_ONLY:
            continue
        if key in NOT_SUPPORTED:
            raise OperationNotSupported(f"subscription member {key} is not supported")
        if key not in MEMBERS:
            raise BadRequestData(f"unknown subscription member {key!r}")
        if value is None:
            if key not in REMOVABLE:
                raise BadRequestData(f"subscription member {key} cannot be null")
            doc.pop(key, None)
            if key == "q":
                doc.pop("_qContext", None)
            continue
        doc[key] = _PARSERS[key](value, terms)
        if key == "q":
            doc["_qContext"] = context
        if key == "jsonldContext":
            doc["_context"] = value


def check_whole(doc: dict[str, Any], now: str, created: bool = True) -> None:
    """Rules across members (Table 5.2.12-1), once every member is valid on its own."""
    if "entities" not in doc and "watchedAttributes" not in doc:
        raise BadRequestData("a subscription needs entities or watchedAttributes")
    if "timeInterval" in doc:
        if "watchedAttributes" in doc:
            raise BadRequestData("timeInterval and watchedAttributes cannot be used together")
        if "throttling" in doc:
            raise BadRequestData("timeInterval and throttling cannot be used together")
        if "notificationTrigger" in doc:
            raise BadRequestData("timeInterval and notificationTrigger cannot be used together")
        if "entities" not in doc:
            raise BadRequestData("a periodic subscription (timeInterval) needs entities")
    if created and "expiresAt" in doc and doc["expiresAt"] <= now:
        raise BadRequestData("expiresAt must lie in the future")
    endpoint = doc["notification"]["endpoint"]
    if urlsplit(endpoint["uri"]).scheme in HTTP_SCHEMES and endpoint.get("notifierInfo"):
        names = {item["key"] for item in endpoint["notifierInfo"]}
        if names & {MQTT_VERSION, MQTT_QOS}:
            raise BadRequestData("MQTT notifierInfo needs an mqtt:// or mqtts:// endpoint")


# -- members ---------------------------------------------------------------------------------------
def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequestData(f"{where} must be a non-empty string")
    return value


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise BadRequestData(f"{where} must be true or false")
    return value


def _seconds(value: Any, where: str, positive: bool = False) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequestData(f"{where} must be a number of seconds")
    if value < 0 or (positive and value == 0):
        raise BadRequestData(f"{where} must be {'positive' if positive else 'non-negative'}")
    return value


def _names(value: Any, terms: TermMap, where: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise BadRequestData(f"{where} must be a non-empty array of attribute names")
    names = []
    for name in value:
        if not isinstance(name, str) or not name:
            raise BadRequestData(f"{where} must hold attribute names, not {name!r}")
        check_name(name, where)
        names.append(terms.expand(name))
    return list(dict.fromkeys(names))


def _entities(value: Any, terms: TermMap) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise BadRequestData("entities must be a non-empty array of EntitySelectors")
    selectors = []
    for selector in value:
        if not isinstance(selector, dict):
            raise BadRequestData("an EntitySelector must be an object")
        unknown = set(selector) - {"id", "idPattern", "type"}
        if unknown:
            raise BadRequestData(f"unknown EntitySelector member {sorted(unknown)[0]!r}")
        if not isinstance(selector.get("type"), str):
            raise BadRequestData("an EntitySelector needs a type (Table 5.2.33-1)")
        stored: dict[str, Any] = {"type": _expanded_types(selector["type"], terms)}
        if "id" in selector:
            if not is_uri(selector["id"]):
                raise BadRequestData(f"EntitySelector id must be a URI, not {selector['id']!r}")
            stored["id"] = selector["id"]
        if "idPattern" in selector:
            pattern = _string(selector["idPattern"], "idPattern")
            try:
                compiled_pattern(pattern)
            except PatternError as exc:
                raise BadRequestData(f"idPattern is not a valid regular expression: {exc}") \
                    from None
            stored["idPattern"] = pattern
        selectors.append(stored)
    return selectors


_TYPE_NAME = re.compile(r"[^(),;|\s]+")


def _expanded_types(expression: str, terms: TermMap) -> str:
    """A type expression (clause 4.17) with every name expanded; checked by parsing it."""
    parse_type_expression(expression, terms)
    return _TYPE_NAME.sub(lambda m: terms.expand(m.group(0)), expression.replace(" ", ""))


def compact_types(expression: str, terms: TermMap) -> str:
    return _TYPE_NAME.sub(lambda m: terms.compact(m.group(0)), expression)


def _triggers(value: Any, terms: TermMap) -> list[str]:
    if not isinstance(value, list) or not value:
        raise BadRequestData("notificationTrigger must be a non-empty array")
    for trigger in value:
        if trigger not in TRIGGERS:
            raise BadRequestData(
                f"unknown notificationTrigger {trigger!r}; expected one of " + ", ".join(TRIGGERS)
            )
    return list(dict.fromkeys(value))


def _q(value: Any, terms: TermMap) -> str:
    qlang.parse_q(_string(value, "q"))
    return value


def _csf(value: Any, terms: TermMap) -> str:
    qlang.parse_q(_string(value, "csf"))
    return value


def _scope_q(value: Any, terms: TermMap) -> str:
    qlang.parse_scope_q(_string(value, "scopeQ"))
    return value


def _geo_q(value: Any, terms: TermMap) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequestData("geoQ must be an object")
    unknown = set(value) - GEOQ_MEMBERS
    if unknown:
        raise BadRequestData(f"unknown geoQ member {sorted(unknown)[0]!r}")
    for member in ("georel", "geometry"):
        if not isinstance(value.get(member), str):
            raise BadRequestData(f"geoQ needs {member} as a string")
    coordinates = value.get("coordinates")
    if not isinstance(coordinates, str | list):
        raise BadRequestData("geoQ needs coordinates (an array, or its JSON text)")
    geoproperty = value.get("geoproperty", "location")
    if not isinstance(geoproperty, str):
        raise BadRequestData("geoQ geoproperty must be a string")
    parsed = geo.parse_geoquery(value["georel"], value["geometry"], coordinates, geoproperty)
    assert parsed is not None
    return {"georel": value["georel"], "geometry": value["geometry"],
            "coordinates": coordinates, "geoproperty": terms.expand(geoproperty)}


def geo_query(stored: dict[str, Any]) -> geo.GeoQuery:
    """The stored geoQ ready to test values (it was checked when stored)."""
    parsed = geo.parse_geoquery(stored["georel"], stored["geometry"], stored["coordinates"])
    assert parsed is not None
    return parsed


def _expires_at(value: Any, terms: TermMap) -> str:
    return canonical_datetime(value, "expiresAt")


def _uri_member(value: Any, terms: TermMap) -> str:
    if not is_uri(value):
        raise BadRequestData(f"jsonldContext must be a URI, not {value!r}")
    return value


def _notification(value: Any, terms: TermMap) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequestData("notification must be an object")
    members = {k: v for k, v in value.items() if k not in NOTIFICATION_READ_ONLY}
    unknown = set(members) - NOTIFICATION_MEMBERS
    if unknown:
        raise BadRequestData(f"unknown notification member {sorted(unknown)[0]!r}")
    if "endpoint" not in members:
        raise BadRequestData("notification needs an endpoint")
    stored: dict[str, Any] = {"endpoint": _endpoint(members["endpoint"])}
    form = members.get("format", "normalized")
    form = FORMAT_ALIASES.get(form, form) if isinstance(form, str) else form
    if form not in FORMATS:
        raise BadRequestData(f"unknown notification format {form!r}; expected one of "
                             + ", ".join(FORMATS))
    stored["format"] = form
    if "attributes" in members:
        stored["attributes"] = _names(members["attributes"], terms, "notification.attributes")
    for flag in ("sysAttrs", "showChanges"):
        if flag in members:
            stored[flag] = _boolean(members[flag], f"notification.{flag}")
    return stored


def _endpoint(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequestData("notification.endpoint must be an object")
    unknown = set(value) - ENDPOINT_MEMBERS
    if unknown:
        raise BadRequestData(f"unknown endpoint member {sorted(unknown)[0]!r}")
    uri = value.get("uri")
    if not isinstance(uri, str) or not is_uri(uri) or not uri.isascii():
        raise BadRequestData(f"endpoint uri must be a URI (ASCII, percent-encoded), not {uri!r}")
    parts = urlsplit(uri)
    if parts.scheme not in HTTP_SCHEMES + MQTT_SCHEMES:
        raise BadRequestData(f"endpoint uri {uri!r}: the scheme must be http, https, mqtt or "
                             "mqtts")
    try:
        host, _ = parts.hostname, parts.port
    except ValueError as exc:
        raise BadRequestData(f"endpoint uri {uri!r}: {exc}") from None
    if not host:
        raise BadRequestData(f"endpoint uri {uri!r} names no host")
    if parts.scheme in MQTT_SCHEMES and not parts.path.strip("/"):
        raise BadRequestData(f"endpoint uri {uri!r}: an MQTT endpoint names its topic as the path")
    stored: dict[str, Any] = {"uri": uri, "accept": value.get("accept", ACCEPTS[0])}
    if stored["accept"] not in ACCEPTS:
        raise BadRequestData(f"endpoint accept must be one of {', '.join(ACCEPTS)}")
    for member in ("receiverInfo", "notifierInfo"):
        if member in value:
            stored[member] = _key_values(value[member], member)
    for name in ("timeout", "cooldown"):
        if name in value:
            stored[name] = _seconds(value[name], f"endpoint.{name} (milliseconds)")
    for item in stored.get("notifierInfo", ()):
        if item["key"] == MQTT_VERSION and item["value"] not in MQTT_VERSIONS:
            raise BadRequestData(f"{MQTT_VERSION} must be one of {', '.join(MQTT_VERSIONS)}")
        if item["key"] == MQTT_QOS and item["value"] not in ("0", "1", "2"):
            raise BadRequestData(f"{MQTT_QOS} must be 0, 1 or 2")
    return stored


def _key_values(value: Any, where: str) -> list[dict[str, str]]:
    """KeyValuePairs (clause 5.2.22); receiverInfo keys become HTTP headers, so they must be
    valid header names and values may not split a header."""
    if not isinstance(value, list):
        raise BadRequestData(f"{where} must be an array of {{key, value}} objects")
    pairs = []
    for item in value:
        if not (isinstance(item, dict) and set(item) == {"key", "value"}
                and isinstance(item["key"], str) and isinstance(item["value"], str)):
            raise BadRequestData(f"{where} items must be {{key, value}} objects of strings")
        if not _HEADER_NAME.match(item["key"]) or item["key"].lower() in _FORBIDDEN_HEADERS:
            raise BadRequestData(f"{where} key {item['key']!r} is not a usable header name")
        if any(c in item["value"] for c in "\r\n\x00"):
            raise BadRequestData(f"{where} value of {item['key']!r} has a line break")
        if not item["value"].isascii():
            raise BadRequestData(f"{where} value of {item['key']!r} must be ASCII "
                                 "(HTTP header values are)")
        pairs.append({"key": item["key"], "value": item["value"]})
    return pairs


_PARSERS = {
    "subscriptionName": lambda v, t: _string(v, "subscriptionName"),
    "description": lambda v, t: _string(v, "description"),
    "entities": _entities,
    "watchedAttributes": lambda v, t: _names(v, t, "watchedAttributes"),
    "notificationTrigger": _triggers,
    "timeInterval": lambda v, t: _seconds(v, "timeInterval", positive=True),
    "q": _q,
    "geoQ": _geo_q,
    "csf": _csf,
    "scopeQ": _scope_q,
    "isActive": lambda v, t: _boolean(v, "isActive"),
    "notification": _notification,
    "expiresAt": _expires_at,
    "throttling": lambda v, t: _seconds(v, "throttling"),
    "lang": lambda v, t: _string(v, "lang"),
    "jsonldContext": _uri_member,
}


# -- reading ---------------------------------------------------------------------------------------
def status(doc: dict[str, Any], now: str) -> str:
    """active, paused (isActive false) or expired (expiresAt passed): Table 5.2.12-1."""
    if not doc.get("isActive", True):
        return "paused"
    if "expiresAt" in doc and doc["expiresAt"] <= now:
        return "expired"
    return "active"


def render_subscription(
    stored: StoredSubscription, terms: TermMap, now: str, sys_attrs: bool = False
) -> dict[str, Any]:
    """The subscription as a client reads it, names compacted with the request's terms."""
    doc = stored.doc
    out: dict[str, Any] = {"id": doc["id"], "type": "Subscription"}
    for key in ("subscriptionName", "description"):
        if key in doc:
            out[key] = doc[key]
    if "entities" in doc:
        out["entities"] = [{**s, "type": compact_types(s["type"], terms)} for s in doc["entities"]]
    if "watchedAttributes" in doc:
        out["watchedAttributes"] = [terms.compact(n) for n in doc["watchedAttributes"]]
    for key in ("notificationTrigger", "timeInterval", "q", "scopeQ", "csf"):
        if key in doc:
            out[key] = doc[key]
    if "geoQ" in doc:
        out["geoQ"] = {**doc["geoQ"], "geoproperty": terms.compact(doc["geoQ"]["geoproperty"])}
    out["isActive"] = doc.get("isActive", True)
    notification = render_notification(doc["notification"], terms)
    notification.update(_delivery_status(stored))
    out["notification"] = notification
    for key in ("throttling", "lang", "jsonldContext"):
        if key in doc:
            out[key] = doc[key]
    if "expiresAt" in doc:
        out["expiresAt"] = display_datetime(doc["expiresAt"])
    out["status"] = status(doc, now)
    if sys_attrs:
        out["createdAt"] = stored.created_at
        out["modifiedAt"] = stored.modified_at
    return out


def render_notification(stored: dict[str, Any], terms: TermMap) -> dict[str, Any]:
    out = {k: v for k, v in stored.items() if k != "attributes"}
    if "attributes" in stored:
        out["attributes"] = [terms.compact(n) for n in stored["attributes"]]
    return out


def _delivery_status(stored: StoredSubscription) -> dict[str, Any]:
    """NotificationParams' read-only members (clause 5.2.14)."""
    out: dict[str, Any] = {"timesSent": stored.times_sent}
    if stored.times_failed:
        out["timesFailed"] = stored.times_failed
    if stored.delivery_status is not None:
        out["status"] = stored.delivery_status
    for key, value in (("lastNotification", stored.last_notification),
                       ("lastSuccess", stored.last_success),
                       ("lastFailure", stored.last_failure)):
        if value is not None:
            out[key] = value
    return out


def check_uri_path(value: str) -> str:
    """A subscription id from the path: a URI, as every id."""
    if not is_uri(value):
        raise bad("subscriptionId", f"{value!r} is not a URI")
    return value
