"""The provisioning API as the FIWARE IoT Agents offer it, on both engines (the `client`
fixture is an admin of the tenant its requests name)."""

from __future__ import annotations

import pytest

NGSI = "/ngsi-ld/v1"
CITY = {"fiware-service": "helsinki", "fiware-servicepath": "/lights"}
GROUP = {"apikey": "k-lights", "resource": "/iot/d", "entity_type": "Streetlight",
         "attributes": [{"object_id": "l", "name": "illuminance", "type": "Number",
                         "metadata": {"unitCode": {"type": "Text", "value": "LUX"}}}],
         "commands": [{"name": "on", "type": "command"}]}
LAMP = {"device_id": "lamp1", "entity_name": "urn:ngsi-ld:Streetlight:lamp1",
        "entity_type": "Streetlight", "transport": "HTTP",
        "static_attributes": [{"name": "location", "type": "geo:point", "value": "24.94, 60.17"},
                              {"name": "refPole", "type": "Relationship",
                               "value": "urn:ngsi-ld:Pole:p1"}]}


def entity(client, entity_id: str, tenant: str = "helsinki") -> dict:
    answer = client.get(f"{NGSI}/entities/{entity_id}", headers={"NGSILD-Tenant": tenant},
                        params={"options": "keyValues"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_service_groups_crud(client) -> None:
    created = client.post("/iot/services", json={"services": [GROUP]}, headers=CITY)
    assert created.status_code == 201, created.text
    listed = client.get("/iot/services", headers=CITY).json()
    assert listed["count"] == 1
    assert listed["services"][0]["apikey"] == "k-lights"
    assert listed["services"][0]["subservice"] == "/lights"
    everywhere = client.get("/iot/services", headers={**CITY, "fiware-servicepath": "/*"})
    assert everywhere.json()["count"] == 1
    elsewhere = client.get("/iot/services", headers={"fiware-service": "espoo"})
    assert elsewhere.json() == {"count": 0, "services": []}

    duplicate = client.post("/iot/services", json={"services": [GROUP]}, headers=CITY)
    assert duplicate.status_code == 409
    assert duplicate.json()["name"] == "DUPLICATE_GROUP"

    keys = {"apikey": "k-lights", "resource": "/iot/d"}
    changed = client.put("/iot/services", params=keys, json={"entity_type": "Lamp"},
                         headers=CITY)
    assert changed.status_code == 204, changed.text
    assert client.get("/iot/services", headers=CITY).json()["services"][0]["entity_type"] == (
        "Lamp")
    renamed = client.put("/iot/services", params=keys, json={"apikey": "other"}, headers=CITY)
    assert renamed.status_code == 400 and renamed.json()["name"] == "WRONG_SYNTAX"
    missing = client.delete("/iot/services", params={"apikey": "k-lights"}, headers=CITY)
    assert missing.json()["name"] == "MISSING_CONFIG_PARAMS"
    other_path = client.delete("/iot/services", params=keys,
                               headers={**CITY, "fiware-servicepath": "/parks"})
    assert other_path.status_code == 404
    assert other_path.json()["name"] == "DEVICE_GROUP_NOT_FOUND"
    assert client.delete("/iot/services", params=keys, headers=CITY).status_code == 204
    assert client.get("/iot/services", headers=CITY).json()["count"] == 0


@pytest.mark.parametrize("body", [
    {"services": [{"resource": "/iot/d", "entity_type": "T"}]},          # no apikey
    {"services": [{"apikey": "a/b", "resource": "/iot/d", "entity_type": "T"}]},
    {"services": [{**GROUP, "explicitAttrs": "['a']"}]},                    # JEXL
    {"services": [{**GROUP, "attributes": [{"type": "Number"}]}]},          # no name
    {"services": []},
    {"devices": [GROUP]},
])
def test_bad_groups_are_wrong_syntax(client, body) -> None:
    answer = client.post("/iot/services", json=body, headers=CITY)
    assert answer.status_code == 400
    assert answer.json()["name"] == "WRONG_SYNTAX"
    assert set(answer.json()) == {"name", "message"}


def test_devices_crud_creates_the_entity(client) -> None:
    client.post("/iot/services", json={"services": [GROUP]}, headers=CITY)
    created = client.post("/iot/devices", json={"devices": [LAMP]}, headers=CITY)
    assert created.status_code == 201, created.text
    lamp = entity(client, "urn:ngsi-ld:Streetlight:lamp1")
    assert lamp["location"] == {"type": "Point", "coordinates": [24.94, 60.17]}
    assert lamp["refPole"] == "urn:ngsi-ld:Pole:p1"
    assert lamp["on_status"] == "UNKNOWN"  # the group's command

    got = client.get("/iot/devices/lamp1", headers=CITY)
    assert got.status_code == 200
    assert got.json()["apikey"] == "k-lights"  # inherited from the group
    assert got.json()["service"] == "helsinki" and got.json()["service_path"] == "/lights"
    listed = client.get("/iot/devices", headers=CITY).json()
    assert listed["count"] == 1 and listed["devices"][0]["device_id"] == "lamp1"
    assert client.get("/iot/devices", headers={"fiware-service": "espoo"}).json()["count"] == 0

    duplicate = client.post("/iot/devices", json={"devices": [LAMP]}, headers=CITY)
    assert duplicate.status_code == 409
    assert duplicate.json()["name"] == "DUPLICATE_DEVICE_ID"

    moved = client.put("/iot/devices/lamp1", headers=CITY, json={
        "static_attributes": [{"name": "height", "type": "Number", "value": 8}]})
    assert moved.status_code == 204, moved.text
    assert entity(client, "urn:ngsi-ld:Streetlight:lamp1")["height"] == 8
    renamed = client.put("/iot/devices/lamp1", headers=CITY, json={"entity_name": "x"})
    assert renamed.status_code == 400

    assert client.delete("/iot/devices/lamp1", headers=CITY).status_code == 204
    gone = client.get("/iot/devices/lamp1", headers=CITY)
    assert gone.status_code == 404
    assert gone.json() == {"name": "DEVICE_NOT_FOUND", "message": gone.json()["message"]}


def test_a_refused_device_leaves_nothing_behind(client) -> None:
    client.post("/iot/services", json={"services": [GROUP]}, headers=CITY)
    no_key = client.post("/iot/devices", headers={"fiware-service": "helsinki"},
                         json={"devices": [{"device_id": "d1", "entity_type": "T"}]})
    assert no_key.status_code == 400 and "apikey" in no_key.json()["message"]
    bad_static = {**LAMP, "static_attributes": [{"name": "where", "type": "geo:point",
                                                 "value": "north"}]}
    refused = client.post("/iot/devices", json={"devices": [bad_static]}, headers=CITY)
    assert refused.status_code == 400
    assert client.get("/iot/devices", headers=CITY).json()["count"] == 0


def test_tenant_headers_must_agree(client) -> None:
    answer = client.get("/iot/services", headers={"fiware-service": "a", "NGSILD-Tenant": "b"})
    assert answer.status_code in (400, 403)
    same = client.get("/iot/services", headers={"fiware-service": "a", "NGSILD-Tenant": "a"})
    assert same.status_code == 200
    bad_path = client.get("/iot/services", headers={"fiware-servicepath": "lights"})
    assert bad_path.status_code == 400
