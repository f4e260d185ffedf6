"""Writing temporal representations (clauses 5.6.11–5.6.16): create or add instances, delete
an entity's or an attribute's history, change or delete one instance. An entity's current
state shows each attribute's most recent observation."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import BASE, assert_problem, create, entity, exists, prop, retrieve

CAR = "urn:ngsi-ld:Vehicle:writes"


def observed(value: Any, at: str, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, "observedAt": at, **extra}


def history(client, entity_id: str = CAR, **params: Any) -> dict[str, Any]:
    response = client.get(f"{BASE}/temporal/entities/{entity_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def values(attribute: list[dict[str, Any]]) -> list[Any]:
    return [instance["value"] for instance in attribute]


@pytest.fixture
def car(client):
    body = {"id": CAR, "type": "Vehicle", "speed": [
        observed(120, "2020-08-01T12:03:00Z"), observed(100, "2020-08-01T12:07:00Z"),
        observed(80, "2020-08-01T12:05:00Z")]}
    response = client.post(f"{BASE}/temporal/entities", json=body)
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/ngsi-ld/v1/temporal/entities/{CAR}"
    return client


def test_creating_creates_the_entity_with_the_newest_observation(car) -> None:
    assert retrieve(car, CAR)["speed"] == {"type": "Property", "value": 100,
                                           "observedAt": "2020-08-01T12:07:00Z"}
    assert values(history(car)["speed"]) == [120, 80, 100]


def test_posting_again_adds_instances_and_keeps_the_newest_current(car) -> None:
    body = {"id": CAR, "type": "Vehicle", "speed": [observed(60, "2020-08-01T12:04:00Z")],
            "fuel": observed(30, "2020-08-01T12:00:00Z")}
    assert car.post(f"{BASE}/temporal/entities", json=body).status_code == 204
    assert values(history(car)["speed"]) == [120, 60, 80, 100]
    current = retrieve(car, CAR)
    assert current["speed"]["value"] == 100  # an older observation changes only the history
    assert current["fuel"]["value"] == 30  # a new attribute appears
    newer = {"id": CAR, "type": "Vehicle", "speed": [observed(90, "2020-08-01T13:00:00Z")]}
    assert car.post(f"{BASE}/temporal/entities", json=newer).status_code == 204
    assert retrieve(car, CAR)["speed"]["value"] == 90
    assert values(history(car)["speed"]) == [120, 60, 80, 100, 90]


def test_appending_attributes(car) -> None:
    body = {"speed": [observed(1, "2019-01-01T00:00:00Z"), observed(2, "2019-01-02T00:00:00Z")]}
    assert car.post(f"{BASE}/temporal/entities/{CAR}/attrs", json=body).status_code == 204
    assert values(history(car)["speed"]) == [1, 2, 120, 80, 100]
    missing = car.post(f"{BASE}/temporal/entities/urn:ngsi-ld:Vehicle:none/attrs", json=body)
    assert_problem(missing, 404, "ResourceNotFound")


def test_appending_to_a_deleted_entity_adds_to_its_history(car) -> None:
    assert car.delete(f"{BASE}/entities/{CAR}").status_code == 204
    body = {"speed": observed(5, "2020-08-01T11:00:00Z")}
    assert car.post(f"{BASE}/temporal/entities/{CAR}/attrs", json=body).status_code == 204
    assert not exists(car, CAR)
    assert values(history(car)["speed"]) == [5, 120, 80, 100]


def test_deleting_the_temporal_entity_deletes_history_and_entity(car) -> None:
    assert car.delete(f"{BASE}/temporal/entities/{CAR}").status_code == 204
    assert not exists(car, CAR)
    assert_problem(car.get(f"{BASE}/temporal/entities/{CAR}"), 404, "ResourceNotFound")
    assert_problem(car.delete(f"{BASE}/temporal/entities/{CAR}"), 404, "ResourceNotFound")
    again = {"id": CAR, "type": "Vehicle", "speed": observed(1, "2021-01-01T00:00:00Z")}
    assert car.post(f"{BASE}/temporal/entities", json=again).status_code == 201
    assert values(history(car)["speed"]) == [1]


def test_deleting_an_attribute_instance_by_dataset(client) -> None:
    body = {"id": CAR, "type": "Vehicle", "speed": [
        observed(1, "2020-01-01T00:00:00Z"), observed(2, "2020-01-02T00:00:00Z"),
        observed(10, "2020-01-01T00:00:00Z", datasetId="urn:ngsi-ld:Dataset:gps"),
        observed(20, "2020-01-02T00:00:00Z", datasetId="urn:ngsi-ld:Dataset:radar")],
        "fuel": observed(50, "2020-01-01T00:00:00Z")}
    assert client.post(f"{BASE}/temporal/entities", json=body).status_code == 201
    url = f"{BASE}/temporal/entities/{CAR}/attrs/speed"
    assert client.delete(url).status_code == 204  # the default instance
    assert sorted(values(history(client)["speed"])) == [10, 20]
    assert {i.get("datasetId") for i in retrieve(client, CAR)["speed"]} == {
        "urn:ngsi-ld:Dataset:gps", "urn:ngsi-ld:Dataset:radar"}
    gone = client.delete(url, params={"datasetId": "urn:ngsi-ld:Dataset:gps"})
    assert gone.status_code == 204
    assert values(history(client)["speed"]) == [20]
    assert client.delete(url, params={"deleteAll": "true"}).status_code == 204
    assert "speed" not in history(client) and "speed" not in retrieve(client, CAR)
    assert values(history(client)["fuel"]) == [50]
    assert_problem(client.delete(url), 404, "ResourceNotFound")


def test_a_deleted_attribute_leaves_no_deletion_instance(car) -> None:
    assert car.delete(f"{BASE}/temporal/entities/{CAR}/attrs/speed").status_code == 204
    assert "speed" not in history(car, timeproperty="deletedAt")


def test_changing_one_instance(car) -> None:
    first = history(car)["speed"][0]
    url = f"{BASE}/temporal/entities/{CAR}/attrs/speed/{first['instanceId']}"
    answer = car.patch(url, json={"value": 121, "unitCode": "KMH"})
    assert answer.status_code == 204, answer.text
    changed = history(car)["speed"][0]
    assert changed == {**first, "value": 121, "unitCode": "KMH"}
    moved = car.patch(url, json={"speed": observed(7, "2021-06-01T00:00:00Z")})
    assert moved.status_code == 204
    speed = history(car)["speed"]
    assert values(speed) == [80, 100, 7] and speed[-1]["instanceId"] == first["instanceId"]
    assert retrieve(car, CAR)["speed"]["value"] == 100  # the entity is not changed
    wrong_dataset = car.patch(url, json={"datasetId": "urn:ngsi-ld:Dataset:x"})
    assert_problem(wrong_dataset, 400, "BadRequestData")
    wrong_kind = car.patch(url, json={"type": "Relationship"})
    assert_problem(wrong_kind, 400, "BadRequestData")
    relationship = car.patch(url, json={"type": "Relationship", "object": "urn:ngsi-ld:X:1"})
    assert relationship.status_code == 204
    assert history(car)["speed"][-1]["object"] == "urn:ngsi-ld:X:1"


def test_deleting_one_instance(car) -> None:
    speed = history(car)["speed"]
    url = f"{BASE}/temporal/entities/{CAR}/attrs/speed/{speed[1]['instanceId']}"
    assert car.delete(url).status_code == 204
    assert values(history(car)["speed"]) == [120, 100]
    assert_problem(car.delete(url), 404, "ResourceNotFound")
    other_attr = f"{BASE}/temporal/entities/{CAR}/attrs/fuel/{speed[0]['instanceId']}"
    assert_problem(car.delete(other_attr), 404, "ResourceNotFound")
    foreign = f"{BASE}/temporal/entities/{CAR}/attrs/speed/urn:ngsi-ld:Instance:abc"
    assert_problem(car.delete(foreign), 404, "ResourceNotFound")


def test_a_deletion_instance_cannot_be_changed(client) -> None:
    create(client, entity(CAR, "Vehicle", speed=prop(1)))
    client.delete(f"{BASE}/entities/{CAR}/attrs/speed")
    (deletion,) = history(client, timeproperty="deletedAt")["speed"]
    url = f"{BASE}/temporal/entities/{CAR}/attrs/speed/{deletion['instanceId']}"
    assert_problem(client.patch(url, json={"value": 3}), 400, "BadRequestData")
    assert client.delete(url).status_code == 204


def test_a_bad_instance_writes_nothing(client) -> None:
    body = {"id": CAR, "type": "Vehicle", "speed": [
        observed(1, "2020-01-01T00:00:00Z"), {"type": "Property", "value": 2}]}
    assert_problem(client.post(f"{BASE}/temporal/entities", json=body), 400, "BadRequestData")
    assert not exists(client, CAR)
    assert_problem(client.get(f"{BASE}/temporal/entities/{CAR}"), 404, "ResourceNotFound")


def test_creating_notifies_like_any_create(client) -> None:
    """The entity a temporal create makes is a change like any other: in the change log."""
    store = client.app.state.store
    before = store.latest_change_cursor()
    body = {"id": CAR, "type": "Vehicle", "speed": observed(1, "2020-01-01T00:00:00Z")}
    assert client.post(f"{BASE}/temporal/entities", json=body).status_code == 201
    changes = [c for c in store.changes_after(before, 100) if c.row.entity_id == CAR]
    assert [c.row.kind for c in changes] == ["created"]
