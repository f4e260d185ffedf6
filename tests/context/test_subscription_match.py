"""Which changes notify which subscriptions (clause 7.2), table by table, on real events: each
change is recorded the way the broker records it (madina.context.recording)."""

from __future__ import annotations

from typing import Any

import pytest

from madina.context.entity_parse import parse_entity
from madina.context.recording import entity_change
from madina.context.subscription_match import SubscriptionIndex, compile_subscription
from madina.context.subscriptions import parse_subscription
from madina.events.model import ChangeEvent
from tests.context.entity_helpers import LATER, NOW, TERMS, point, prop, rel

CREATED_AT = "2025-12-31T00:00:00.000000Z"
ENDPOINT = {"endpoint": {"uri": "http://127.0.0.1:9/n"}}


def entity(entity_id: str = "urn:ngsi-ld:Sensor:1", entity_type: str = "Sensor",
           **attributes: Any) -> dict[str, Any]:
    return parse_entity({"id": entity_id, "type": entity_type, **attributes}, TERMS, NOW)


def change(before: dict | None, after: dict | None) -> ChangeEvent:
    event = entity_change("", before, after, LATER, [])
    assert event is not None
    return event


def fired(members: dict[str, Any], event: ChangeEvent) -> list[str]:
    body = {"type": "Subscription", "notification": ENDPOINT, **members}
    doc = parse_subscription(body, TERMS, None, NOW)
    return compile_subscription("", doc, CREATED_AT, TERMS, TERMS).fired(event)


SENSOR = entity(temperature=prop(20), humidity=prop(50))
HOT = entity(temperature=prop(35), humidity=prop(50))
DRY = entity(temperature=prop(20), humidity=prop(10))
NO_HUMIDITY = entity(temperature=prop(20))
OTHER = entity("urn:ngsi-ld:Sensor:2", temperature=prop(20))
CAR = entity("urn:ngsi-ld:Car:1", "Car", speed=prop(50))

ANY_SENSOR = {"entities": [{"type": "Sensor"}]}
ALL_TRIGGERS = ["entityCreated", "entityUpdated", "entityDeleted", "attributeCreated",
                "attributeUpdated", "attributeDeleted"]

CASES = [
    # (what, subscription members, before, after, triggers fired)
    ("creation fires attributeCreated by default", ANY_SENSOR, None, SENSOR,
     ["attributeCreated"]),
    ("an update fires attributeUpdated by default", ANY_SENSOR, SENSOR, HOT,
     ["attributeUpdated"]),
    ("a deletion is silent by default", ANY_SENSOR, SENSOR, None, []),
    ("a deleted attribute is silent by default", ANY_SENSOR, SENSOR, NO_HUMIDITY, []),
    ("another type is not selected", ANY_SENSOR, None, CAR, []),
    ("every trigger on creation", {**ANY_SENSOR, "notificationTrigger": ALL_TRIGGERS},
     None, SENSOR, ["entityCreated", "attributeCreated"]),
    ("every trigger on an update", {**ANY_SENSOR, "notificationTrigger": ALL_TRIGGERS},
     SENSOR, HOT, ["entityUpdated", "attributeUpdated"]),
    ("every trigger on a deletion", {**ANY_SENSOR, "notificationTrigger": ALL_TRIGGERS},
     SENSOR, None, ["entityDeleted", "attributeDeleted"]),
    ("attributeDeleted", {**ANY_SENSOR, "notificationTrigger": ["attributeDeleted"]},
     SENSOR, NO_HUMIDITY, ["attributeDeleted"]),
    ("entityUpdated covers a deleted attribute",
     {**ANY_SENSOR, "notificationTrigger": ["entityUpdated"]}, SENSOR, NO_HUMIDITY,
     ["entityUpdated"]),
    ("watched attribute changed", {**ANY_SENSOR, "watchedAttributes": ["temperature"]},
     SENSOR, HOT, ["attributeUpdated"]),
    ("unwatched attribute changed", {**ANY_SENSOR, "watchedAttributes": ["temperature"]},
     SENSOR, DRY, []),
    ("watchedAttributes alone select any type", {"watchedAttributes": ["speed"]},
     None, CAR, ["attributeCreated"]),
    ("entityCreated needs a watched attribute",
     {"watchedAttributes": ["speed"], "notificationTrigger": ["entityCreated"]},
     None, SENSOR, []),
    ("entityDeleted of an entity with a watched attribute",
     {"watchedAttributes": ["humidity"], "notificationTrigger": ["entityDeleted"]},
     SENSOR, None, ["entityDeleted"]),
    ("attributeDeleted of a watched attribute when the entity goes",
     {**ANY_SENSOR, "watchedAttributes": ["humidity"],
      "notificationTrigger": ["attributeDeleted"]}, SENSOR, None, ["attributeDeleted"]),
    ("id selects", {"entities": [{"type": "Sensor", "id": "urn:ngsi-ld:Sensor:2"}]},
     None, SENSOR, []),
    ("id takes precedence over idPattern",
     {"entities": [{"type": "Sensor", "id": "urn:ngsi-ld:Sensor:1", "idPattern": "^nothing$"}]},
     None, SENSOR, ["attributeCreated"]),
    ("idPattern selects", {"entities": [{"type": "Sensor", "idPattern": ":2$"}]},
     None, OTHER, ["attributeCreated"]),
    ("idPattern excludes", {"entities": [{"type": "Sensor", "idPattern": ":2$"}]},
     None, SENSOR, []),
    ("a type expression", {"entities": [{"type": "(Car|Bus);Sensor"}]}, None, SENSOR, []),
    ("any selector may match", {"entities": [{"type": "Car"}, {"type": "Sensor"}]},
     None, SENSOR, ["attributeCreated"]),
    ("q on the new state", {**ANY_SENSOR, "q": "temperature>30"}, SENSOR, HOT,
     ["attributeUpdated"]),
    ("q not met", {**ANY_SENSOR, "q": "temperature>30"}, HOT, SENSOR, []),
    ("q on the last state of a deleted entity",
     {**ANY_SENSOR, "q": "temperature>30", "notificationTrigger": ["entityDeleted"]},
     HOT, None, ["entityDeleted"]),
    ("scopeQ met", {**ANY_SENSOR, "scopeQ": "/Helsinki/#"}, None,
     entity(scope="/Helsinki/Kallio", temperature=prop(1)), ["attributeCreated"]),
    ("scopeQ not met", {**ANY_SENSOR, "scopeQ": "/Espoo"}, None,
     entity(scope="/Helsinki", temperature=prop(1)), []),
    ("geoQ near", {**ANY_SENSOR, "geoQ": {"georel": "near;maxDistance==2000",
                                          "geometry": "Point", "coordinates": [24.94, 60.17]}},
     None, entity(location={"type": "GeoProperty", "value": point(24.95, 60.17)}),
     ["attributeCreated"]),
    ("geoQ far", {**ANY_SENSOR, "geoQ": {"georel": "near;maxDistance==2000",
                                         "geometry": "Point", "coordinates": [24.94, 60.17]}},
     None, entity(location={"type": "GeoProperty", "value": point(25.5, 60.5)}), []),
    ("geoQ without a location", {**ANY_SENSOR, "geoQ": {
        "georel": "within", "geometry": "Polygon",
        "coordinates": [[[24, 60], [25, 60], [25, 61], [24, 61], [24, 60]]]}},
     None, SENSOR, []),
    ("relationship watched", {**ANY_SENSOR, "watchedAttributes": ["owner"]},
     SENSOR, entity(temperature=prop(20), humidity=prop(50), owner=rel("urn:ngsi-ld:P:1")),
     ["attributeCreated"]),
]


@pytest.mark.parametrize(("members", "before", "after", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_triggers(members, before, after, expected) -> None:
    assert fired(members, change(before, after)) == expected


def test_inactive_expired_and_older_changes_notify_nobody() -> None:
    event = change(None, SENSOR)
    paused = compile_subscription("", parse_subscription(
        {"type": "Subscription", "notification": ENDPOINT, **ANY_SENSOR, "isActive": False},
        TERMS, None, NOW), CREATED_AT, TERMS, TERMS)
    assert not paused.live(LATER)
    expiring = parse_subscription({"type": "Subscription", "notification": ENDPOINT,
                                   **ANY_SENSOR, "expiresAt": "2026-01-01T12:00:00Z"},
                                  TERMS, None, NOW)
    compiled = compile_subscription("", expiring, CREATED_AT, TERMS, TERMS)
    assert compiled.live(NOW) and not compiled.live(LATER)
    newer = compile_subscription("", expiring, "2026-06-01T00:00:00.000000Z", TERMS, TERMS)
    assert newer.fired(event) == []  # the change happened before the subscription existed


def test_the_index_finds_subscriptions_by_tenant_and_type() -> None:
    def sub(tenant: str, sid: str, **members: Any):
        doc = parse_subscription({"type": "Subscription", "id": f"urn:ngsi-ld:Subscription:{sid}",
                                  "notification": ENDPOINT, **members}, TERMS, None, NOW)
        return compile_subscription(tenant, doc, CREATED_AT, TERMS, TERMS)

    index = SubscriptionIndex([
        sub("", "sensors", entities=[{"type": "Sensor"}]),
        sub("", "cars", entities=[{"type": "Car"}]),
        sub("", "either", entities=[{"type": "Car|Sensor"}]),
        sub("", "watching", watchedAttributes=["temperature"]),
        sub("espoo", "sensors", entities=[{"type": "Sensor"}]),
        sub("", "periodic", entities=[{"type": "Sensor"}], timeInterval=60),
        sub("", "this-one", entities=[{"type": "Sensor", "id": "urn:ngsi-ld:Sensor:1"}]),
        sub("", "that-one", entities=[{"type": "Sensor", "id": "urn:ngsi-ld:Sensor:2"}]),
    ])
    event = change(None, SENSOR)
    assert [s.id.rsplit(":", 1)[1] for s, _ in index.matches(event, LATER)] == [
        "watching", "this-one", "sensors", "either"]
    assert [s.id.rsplit(":", 1)[1] for s in index.candidates(change(None, OTHER))] == [
        "watching", "that-one", "sensors", "either"]
