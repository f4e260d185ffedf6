"""Notifications as a receiver on loopback gets them, on both engines: every trigger, every
format, showChanges, sysAttrs, attributes, throttling, headers, tenants, and the delivery status
the subscription shows afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import anyio
import pytest
from starlette.testclient import TestClient

from tests.events.receiver import Receiver, wait_until

API = "/ngsi-ld/v1"
E1 = "urn:ngsi-ld:Building:1"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
NULL = "urn:ngsi-ld:null"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


def subscribe(client: TestClient, receiver: Receiver, headers: dict | None = None,
              endpoint: dict | None = None, **members: Any) -> str:
    notification = members.pop("notification", {})
    body = {"type": "Subscription", "entities": [{"type": "Building"}],
            "notification": {**notification,
                             "endpoint": {"uri": receiver.url, **(endpoint or {})}},
            **members}
    answer = client.post(f"{API}/subscriptions", json=body, headers=headers or {})
    assert answer.status_code == 201, answer.text
    return answer.headers["location"].rsplit("/", 1)[1]


def building(**attributes: Any) -> dict[str, Any]:
    return {"id": E1, "type": "Building",
            "name": {"type": "Property", "value": "Eiffel Tower"},
            "height": {"type": "Property", "value": 300, "unitCode": "MTR"},
            "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"},
            **attributes}


def write(client: TestClient, method: str, path: str, body: Any = None, **kw) -> None:
    answer = client.request(method, API + path, json=body, **kw)
    assert answer.status_code in (201, 204), answer.text


def test_creation_normalized_with_headers(client: TestClient, receiver: Receiver) -> None:
    sid = subscribe(client, receiver, endpoint={"receiverInfo": [
        {"key": "X-Auth-Token", "value": "s3cret"}]})
    write(client, "POST", "/entities", building())
    got = receiver.wait(1)[0]
    assert got.headers["content-type"] == "application/json"
    assert got.headers["link"] == (f'<{CORE}>; rel="http://www.w3.org/ns/json-ld#context"; '
                                   'type="application/ld+json"')
    assert got.headers["x-auth-token"] == "s3cret"
    assert "ngsild-tenant" not in got.headers
    notification = got.body
    assert notification["type"] == "Notification"
    assert notification["subscriptionId"] == sid
    assert notification["id"].startswith("urn:ngsi-ld:Notification:")
    assert notification["notifiedAt"].endswith("Z")
    assert notification["data"] == [building()]


def test_update_key_values_of_chosen_attributes(client: TestClient, receiver: Receiver) -> None:
    write(client, "POST", "/entities", building())
    subscribe(client, receiver, watchedAttributes=["height"],
              notification={"format": "keyValues", "attributes": ["height", "owner"]})
    write(client, "PATCH", f"/entities/{E1}/attrs", {"name": {"type": "Property",
                                                              "value": "unwatched"}})
    write(client, "PATCH", f"/entities/{E1}/attrs/height", {"type": "Property", "value": 330})
    got = receiver.wait(1)
    assert got[0].body["data"] == [{"id": E1, "type": "Building", "height": 330,
                                    "owner": "urn:ngsi-ld:Person:1"}]


def test_concise_and_sys_attrs(client: TestClient, receiver: Receiver) -> None:
    subscribe(client, receiver, notification={"format": "concise", "sysAttrs": True})
    write(client, "POST", "/entities", building())
    entity = receiver.wait(1)[0].body["data"][0]
    assert entity["name"]["value"] == "Eiffel Tower" and "createdAt" in entity["name"]
    assert entity["owner"]["object"] == "urn:ngsi-ld:Person:1"
    assert entity["createdAt"].endswith("Z") and entity["modifiedAt"].endswith("Z")


def test_show_changes(client: TestClient, receiver: Receiver) -> None:
    write(client, "POST", "/entities", building())
    subscribe(client, receiver, notification={"showChanges": True},
              notificationTrigger=["attributeUpdated", "attributeDeleted"])
    write(client, "PATCH", f"/entities/{E1}/attrs",
          {"name": {"type": "Property", "value": "Tour Eiffel"},
           "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:2"}})
    write(client, "DELETE", f"/entities/{E1}/attrs/height")
    updated, deleted = receiver.entities(2)
    assert updated["name"] == {"type": "Property", "value": "Tour Eiffel",
                               "previousValue": "Eiffel Tower"}
    assert updated["owner"] == {"type": "Relationship", "object": "urn:ngsi-ld:Person:2",
                                "previousObject": "urn:ngsi-ld:Person:1"}
    assert deleted["height"] == {"type": "Property", "value": NULL, "previousValue": 300}
    assert deleted["name"]["value"] == "Tour Eiffel"


def test_attribute_deleted_without_show_changes(client: TestClient, receiver: Receiver) -> None:
    write(client, "POST", "/entities", building())
    subscribe(client, receiver, notificationTrigger=["attributeDeleted"],
              notification={"format": "keyValues"})
    write(client, "DELETE", f"/entities/{E1}/attrs/owner")
    assert receiver.wait(1)[0].body["data"] == [
        {"id": E1, "type": "Building", "name": "Eiffel Tower", "height": 300, "owner": NULL}]


def test_entity_deleted(client: TestClient, receiver: Receiver) -> None:
    write(client, "POST", "/entities", building())
    subscribe(client, receiver, notificationTrigger=["entityDeleted"])
    write(client, "DELETE", f"/entities/{E1}")
    entity = receiver.wait(1)[0].body["data"][0]
    assert set(entity) == {"id", "type", "deletedAt"}
    assert entity["id"] == E1 and entity["deletedAt"].endswith("Z")


def test_entity_deleted_with_show_changes(client: TestClient, receiver: Receiver) -> None:
    write(client, "POST", "/entities", building())
    subscribe(client, receiver, notificationTrigger=["entityDeleted"],
              notification={"showChanges": True})
    write(client, "DELETE", f"/entities/{E1}")
    entity = receiver.wait(1)[0].body["data"][0]
    assert entity["owner"] == {"type": "Relationship", "object": NULL,
                               "previousObject": "urn:ngsi-ld:Person:1"}
    assert entity["name"] == {"type": "Property", "value": NULL,
                              "previousValue": "Eiffel Tower"}


def test_entity_created_and_updated_triggers(client: TestClient, receiver: Receiver) -> None:
    subscribe(client, receiver, notificationTrigger=["entityCreated"])
    subscribe(client, receiver, notificationTrigger=["entityUpdated"],
              notification={"format": "keyValues"})
    write(client, "POST", "/entities", building())
    write(client, "PATCH", f"/entities/{E1}", {"height": {"type": "Property", "value": 1}})
    created, updated = sorted(receiver.entities(2), key=lambda e: isinstance(e["height"], int))
    assert created["height"]["value"] == 300
    assert updated["height"] == 1


def test_json_ld_tenant_and_q(client: TestClient, receiver: Receiver) -> None:
    tenant = {"NGSILD-Tenant": "paris"}
    subscribe(client, receiver, headers=tenant, q="height>310",
              endpoint={"accept": "application/ld+json"})
    write(client, "POST", "/entities", building())  # another tenant: not notified
    write(client, "POST", "/entities", building(), headers=tenant)  # 300: q not met
    write(client, "PATCH", f"/entities/{E1}/attrs/height", {"type": "Property", "value": 320},
          headers=tenant)
    got = receiver.wait(1)[0]
    assert got.headers["content-type"] == "application/ld+json"
    assert got.headers["ngsild-tenant"] == "paris"
    assert got.body["@context"] == CORE
    assert got.body["data"][0]["height"]["value"] == 320
    wait_until(lambda: client.app.state.store.subscriptions.pending() == 0, what="outbox empty")
    assert len(receiver.received) == 1


def test_geo_json_endpoint(client: TestClient, receiver: Receiver) -> None:
    subscribe(client, receiver, endpoint={"accept": "application/geo+json"})
    location = {"type": "Point", "coordinates": [2.29, 48.86]}
    write(client, "POST", "/entities", building(location={"type": "GeoProperty",
                                                         "value": location}))
    got = receiver.wait(1)[0]
    assert got.headers["content-type"] == "application/geo+json"
    feature = got.body["data"]["features"][0]
    assert feature["type"] == "Feature" and feature["geometry"] == location


def test_throttling_and_batching(client: TestClient, receiver: Receiver) -> None:
    """Within the throttling period nothing more is sent; after it, again."""
    write(client, "POST", "/entities", building())
    subscribe(client, receiver, throttling=1, notification={"format": "keyValues"})
    for height in (1, 2, 3):
        write(client, "PATCH", f"/entities/{E1}/attrs/height",
              {"type": "Property", "value": height})
    first = receiver.wait(1)[0]
    assert first.body["data"][0]["height"] in (1, 2, 3)
    wait_until(lambda: client.app.state.store.subscriptions.pending() == 0, what="outbox empty")
    assert len(receiver.received) == 1
    client.portal.call(anyio.sleep, 1.1)
    write(client, "PATCH", f"/entities/{E1}/attrs/height", {"type": "Property", "value": 4})
    assert receiver.wait(2)[1].body["data"][0]["height"] == 4


def test_paused_and_deleted_subscriptions_notify_nobody(client: TestClient,
                                                       receiver: Receiver) -> None:
    paused = subscribe(client, receiver, isActive=False)
    gone = subscribe(client, receiver)
    assert client.delete(f"{API}/subscriptions/{gone}").status_code == 204
    write(client, "POST", "/entities", building())
    live = subscribe(client, receiver, notificationTrigger=["entityUpdated"])
    write(client, "PATCH", f"/entities/{E1}", {"height": {"type": "Property", "value": 1}})
    assert [r.body["subscriptionId"] for r in receiver.wait(1)] == [live]
    wait_until(lambda: client.app.state.store.subscriptions.pending() == 0, what="outbox empty")
    assert len(receiver.received) == 1
    assert paused


def test_status_after_deliveries(client: TestClient, receiver: Receiver) -> None:
    sid = subscribe(client, receiver)
    write(client, "POST", "/entities", building())
    receiver.wait(1)

    def counted() -> bool:
        return client.get(f"{API}/subscriptions/{sid}").json()["notification"]["timesSent"] == 1

    wait_until(counted, what="timesSent")
    notification = client.get(f"{API}/subscriptions/{sid}").json()["notification"]
    assert notification["status"] == "ok"
    assert notification["lastNotification"] == notification["lastSuccess"]
    assert "lastFailure" not in notification


def test_periodic_notifications(client: TestClient, receiver: Receiver) -> None:
    write(client, "POST", "/entities", building())
    write(client, "POST", "/entities", {**building(), "id": "urn:ngsi-ld:Building:2",
                                        "height": {"type": "Property", "value": 10}})
    subscribe(client, receiver, timeInterval=0.2, q="height>100",
              notification={"format": "keyValues", "attributes": ["height"]})
    first, second = receiver.wait(2, timeout=10)
    assert first.body["data"] == [{"id": E1, "type": "Building", "height": 300}]
    sent = [datetime.fromisoformat(r.body["notifiedAt"]) for r in (first, second)]
    assert (sent[1] - sent[0]).total_seconds() >= 0.19
