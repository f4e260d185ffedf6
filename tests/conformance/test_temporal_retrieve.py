"""Retrieve and query the temporal evolution of entities (clauses 5.7.3, 5.7.4): timerel,
timeproperty, lastN, attribute and dataset selection, the representations, deleted entities,
tenants."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import BASE, assert_problem, create, entity, prop

CAR = "urn:ngsi-ld:Vehicle:retrieve"
SPEEDS = [(120, "2020-08-01T12:03:00Z"), (80, "2020-08-01T12:05:00Z"),
          (100, "2020-08-01T12:07:00Z")]
FUEL = [(67, "2020-08-01T12:03:00Z"), (53, "2020-08-01T13:05:00Z"), (40, "2020-08-01T14:07:00Z")]


def instances(pairs: list[tuple[Any, str]], **extra: Any) -> list[dict[str, Any]]:
    return [{"type": "Property", "value": v, "observedAt": t, **extra} for v, t in pairs]


def temporal(client, entity_id: str = CAR, **params: Any) -> dict[str, Any]:
    response = client.get(f"{BASE}/temporal/entities/{entity_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def values(attribute: list[dict[str, Any]]) -> list[Any]:
    return [instance["value"] for instance in attribute]


@pytest.fixture
def car(client):
    body = {"id": CAR, "type": "Vehicle", "speed": instances(SPEEDS), "fuelLevel": instances(FUEL)}
    assert client.post(f"{BASE}/temporal/entities", json=body).status_code == 201
    return client


def test_the_whole_history_in_time_order_with_instance_ids(car) -> None:
    answer = temporal(car)
    assert answer["id"] == CAR and answer["type"] == "Vehicle"
    assert values(answer["speed"]) == [120, 80, 100]
    assert [i["observedAt"] for i in answer["fuelLevel"]] == [t for _, t in FUEL]
    ids = [i["instanceId"] for attr in ("speed", "fuelLevel") for i in answer[attr]]
    assert len(set(ids)) == 6 and all(i.startswith("urn:ngsi-ld:Instance:") for i in ids)


@pytest.mark.parametrize(("params", "speeds"), [
    ({"timerel": "before", "timeAt": "2020-08-01T12:05:00Z"}, [120]),
    ({"timerel": "after", "timeAt": "2020-08-01T12:05:00Z"}, [80, 100]),
    ({"timerel": "between", "timeAt": "2020-08-01T12:03:00Z",
      "endTimeAt": "2020-08-01T12:07:00Z"}, [120, 80]),
    ({"timerel": "between", "timeAt": "2020-08-01T12:03:00.001Z",
      "endTimeAt": "2020-08-01T12:07:00.001Z"}, [80, 100]),
    ({"timerel": "after", "timeAt": "2020-08-01T14:05:00+02:00"}, [80, 100]),
])
def test_timerel(car, params, speeds) -> None:
    """before: earlier than timeAt; after: timeAt or later; between: [timeAt, endTimeAt)."""
    assert values(temporal(car, attrs="speed", **params)["speed"]) == speeds


def test_attributes_without_instances_in_the_window_are_left_out(car) -> None:
    answer = temporal(car, timerel="after", timeAt="2020-08-01T13:00:00Z")
    assert "speed" not in answer
    assert values(answer["fuelLevel"]) == [53, 40]


def test_last_n_per_attribute_oldest_first(car) -> None:
    answer = temporal(car, lastN="2")
    assert values(answer["speed"]) == [80, 100]
    assert values(answer["fuelLevel"]) == [53, 40]
    within = temporal(car, lastN="1", timerel="before", timeAt="2020-08-01T14:00:00Z")
    assert values(within["fuelLevel"]) == [53]


def test_attrs_selects_attributes(car) -> None:
    answer = temporal(car, attrs="fuelLevel")
    assert set(answer) == {"id", "type", "fuelLevel"}


def test_every_change_through_the_entity_api_is_an_instance(client) -> None:
    """Writes through /entities are recorded too: observedAt when given, else modifiedAt."""
    create(client, entity("urn:ngsi-ld:Room:h", "Room", temperature=prop(20)))
    client.patch(f"{BASE}/entities/urn:ngsi-ld:Room:h/attrs/temperature",
                 json={"type": "Property", "value": 21})
    client.patch(f"{BASE}/entities/urn:ngsi-ld:Room:h/attrs",
                 json={"temperature": prop(22, observedAt="2030-01-01T00:00:00Z")})
    history = temporal(client, "urn:ngsi-ld:Room:h", attrs="temperature")["temperature"]
    assert values(history) == [20, 21, 22]
    assert history[-1]["observedAt"] == "2030-01-01T00:00:00Z"


def test_deletions_are_instances_of_deleted_at(car) -> None:
    assert car.delete(f"{BASE}/entities/{CAR}/attrs/speed").status_code == 204
    deleted = temporal(car, timeproperty="deletedAt")
    assert set(deleted) == {"id", "type", "speed"}
    (instance,) = deleted["speed"]
    assert instance["value"] == "urn:ngsi-ld:null" and instance["type"] == "Property"
    assert instance["deletedAt"].endswith("Z") and instance["instanceId"]
    assert values(temporal(car, attrs="speed")["speed"]) == [120, 80, 100]


def test_deleted_relationship_keeps_its_kind(client) -> None:
    body = {"id": "urn:ngsi-ld:Vehicle:rel", "type": "Vehicle", "isParkedIn": {
        "type": "Relationship", "object": "urn:ngsi-ld:Parking:1",
        "observedAt": "2020-08-01T12:00:00Z"}}
    assert client.post(f"{BASE}/temporal/entities", json=body).status_code == 201
    client.delete(f"{BASE}/entities/urn:ngsi-ld:Vehicle:rel/attrs/isParkedIn")
    simplified = temporal(client, "urn:ngsi-ld:Vehicle:rel", timeproperty="deletedAt",
                          options="temporalValues")
    assert simplified["isParkedIn"]["type"] == "Relationship"
    assert simplified["isParkedIn"]["objects"][0][0] == "urn:ngsi-ld:null"


def test_created_and_modified_at(car) -> None:
    """An instance written later has a later modifiedAt (and createdAt): the window compares
    the property asked for, and each instance carries it."""
    car.post(f"{BASE}/temporal/entities/{CAR}/attrs",
             json={"speed": [{"type": "Property", "value": 1,
                              "observedAt": "2019-01-01T00:00:00Z"}]})
    everything = temporal(car, attrs="speed", timeproperty="modifiedAt")["speed"]
    written_last = next(i["modifiedAt"] for i in everything if i["value"] == 1)
    assert values(everything) == [120, 80, 100, 1]  # in modifiedAt order, not observedAt
    newest = temporal(car, attrs="speed", timeproperty="modifiedAt", timerel="after",
                      timeAt=written_last)
    assert values(newest["speed"]) == [1]
    earlier = temporal(car, attrs="speed", timeproperty="createdAt", timerel="before",
                       timeAt=written_last)
    assert values(earlier["speed"]) == [120, 80, 100]
    assert all("createdAt" in i for i in earlier["speed"])


def test_temporal_values(car) -> None:
    answer = temporal(car, options="temporalValues")
    assert answer["speed"] == {"type": "Property", "values": [[v, t] for v, t in SPEEDS]}
    assert temporal(car, format="temporalValues") == answer
    assert temporal(car, options="keyValues") == answer


def test_temporal_values_of_every_kind(client) -> None:
    body = {"id": "urn:ngsi-ld:Thing:kinds", "type": "Thing",
            "owner": [{"type": "Relationship", "object": "urn:ngsi-ld:Person:1",
                       "observedAt": "2020-01-01T00:00:00Z"}],
            "name": [{"type": "LanguageProperty", "languageMap": {"en": "bridge", "fi": "silta"},
                      "observedAt": "2020-01-01T00:00:00Z"}],
            "speed": [{"type": "Property", "value": 1, "observedAt": "2020-01-01T00:00:00Z"},
                      {"type": "Property", "value": 5, "observedAt": "2020-01-01T00:00:00Z",
                       "datasetId": "urn:ngsi-ld:Dataset:gps"}]}
    assert client.post(f"{BASE}/temporal/entities", json=body).status_code == 201
    answer = temporal(client, "urn:ngsi-ld:Thing:kinds", options="temporalValues")
    assert answer["owner"] == {"type": "Relationship",
                               "objects": [["urn:ngsi-ld:Person:1", "2020-01-01T00:00:00Z"]]}
    assert answer["name"] == {"type": "LanguageProperty", "languageMaps": [
        [{"en": "bridge", "fi": "silta"}, "2020-01-01T00:00:00Z"]]}
    assert sorted(answer["speed"], key=lambda g: g.get("datasetId", "")) == [
        {"type": "Property", "values": [[1, "2020-01-01T00:00:00Z"]]},
        {"type": "Property", "datasetId": "urn:ngsi-ld:Dataset:gps",
         "values": [[5, "2020-01-01T00:00:00Z"]]},
    ]
    in_finnish = temporal(client, "urn:ngsi-ld:Thing:kinds", options="temporalValues", lang="fi")
    assert in_finnish["name"] == {"type": "Property", "values": [["silta",
                                                                   "2020-01-01T00:00:00Z"]]}
    only_gps = temporal(client, "urn:ngsi-ld:Thing:kinds", attrs="speed",
                        datasetId="urn:ngsi-ld:Dataset:gps")
    assert values(only_gps["speed"]) == [5]
    default = temporal(client, "urn:ngsi-ld:Thing:kinds", attrs="speed", datasetId="@none")
    assert values(default["speed"]) == [1]


def test_concise_and_sys_attrs(car) -> None:
    concise = temporal(car, options="concise", attrs="speed")["speed"]
    assert concise[0] == {"value": 120, "observedAt": "2020-08-01T12:03:00Z",
                          "instanceId": concise[0]["instanceId"]}
    with_sys = temporal(car, options="sysAttrs", attrs="speed")
    assert {"createdAt", "modifiedAt"} <= set(with_sys) | set(with_sys["speed"][0])


def test_pick_and_omit(car) -> None:
    assert set(temporal(car, pick="id,speed")) == {"id", "speed"}
    assert set(temporal(car, omit="fuelLevel")) == {"id", "type", "speed"}


def test_a_deleted_entity_is_found_by_id(car) -> None:
    assert car.delete(f"{BASE}/entities/{CAR}").status_code == 204
    answer = temporal(car, attrs="speed")
    assert answer["type"] == "Vehicle" and values(answer["speed"]) == [120, 80, 100]
    listed = car.get(f"{BASE}/temporal/entities", params={"type": "Vehicle"})
    assert listed.status_code == 200 and listed.json() == []


def test_query_selects_entities_like_entities_do(car) -> None:
    other = {"id": "urn:ngsi-ld:Vehicle:slow", "type": "Vehicle",
             "speed": instances([(10, "2020-08-01T12:04:00Z")])}
    assert car.post(f"{BASE}/temporal/entities", json=other).status_code == 201
    answer = car.get(f"{BASE}/temporal/entities", params={
        "type": "Vehicle", "q": "speed>50", "attrs": "speed", "count": "true"})
    assert answer.status_code == 200
    assert answer.headers["NGSILD-Results-Count"] == "1"
    (vehicle,) = answer.json()
    assert vehicle["id"] == CAR and values(vehicle["speed"]) == [120, 80, 100]
    both = car.get(f"{BASE}/temporal/entities", params={
        "type": "Vehicle", "timerel": "between", "timeAt": "2020-08-01T12:04:00Z",
        "endTimeAt": "2020-08-01T12:06:00Z", "attrs": "speed"}).json()
    assert {v["id"]: values(v["speed"]) for v in both} == {
        CAR: [80], "urn:ngsi-ld:Vehicle:slow": [10]}
    page = car.get(f"{BASE}/temporal/entities", params={"type": "Vehicle", "limit": "1",
                                                         "offset": "1", "attrs": "speed"}).json()
    assert len(page) == 1


def test_query_by_post(car) -> None:
    body = {"type": "Query", "entities": [{"type": "Vehicle"}], "attrs": ["speed"],
            "temporalQ": {"timerel": "after", "timeAt": "2020-08-01T12:04:00Z", "lastN": 1}}
    answer = car.post(f"{BASE}/temporal/entityOperations/query", json=body)
    assert answer.status_code == 200, answer.text
    (vehicle,) = answer.json()
    assert values(vehicle["speed"]) == [100] and "fuelLevel" not in vehicle
    aggregated = car.post(f"{BASE}/temporal/entityOperations/query", json={
        "type": "Query", "entities": [{"type": "Vehicle"}],
        "temporalQ": {"timerel": "after", "timeAt": "2020-08-01T12:00:00Z",
                      "aggrMethods": ["avg"], "aggrPeriodDuration": "PT1H"}})
    assert aggregated.status_code == 200
    assert aggregated.json()[0]["speed"]["avg"][0][0] == 100.0


def test_tenants_keep_their_histories_apart(car) -> None:
    header = {"NGSILD-Tenant": "other-city"}
    assert_problem(car.get(f"{BASE}/temporal/entities/{CAR}", headers=header), 404,
                   "NonexistentTenant")
    body = {"id": CAR, "type": "Vehicle", "speed": instances([(5, "2020-08-01T12:00:00Z")])}
    assert car.post(f"{BASE}/temporal/entities", json=body, headers=header).status_code == 201
    theirs = car.get(f"{BASE}/temporal/entities/{CAR}", headers=header).json()
    assert values(theirs["speed"]) == [5]
    assert values(temporal(car, attrs="speed")["speed"]) == [120, 80, 100]


def test_json_ld_answers_carry_the_context(car) -> None:
    answer = car.get(f"{BASE}/temporal/entities/{CAR}", headers={"Accept": "application/ld+json"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/ld+json"
    assert "@context" in answer.json()
