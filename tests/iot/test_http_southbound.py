"""Devices over HTTP: UltraLight on /iot/d, JSON on /iot/json, commands by polling, bad input
answered in the agents' format and counted in /metrics by reason."""

from __future__ import annotations

import re

from tests.iot.test_provisioning_api import CITY, GROUP, entity

NO_AUTH = {"Authorization": ""}
JSON_GROUP = {"apikey": "k-json", "resource": "/iot/json", "entity_type": "AirQualityObserved",
              "attributes": [{"object_id": "n", "name": "NO2", "type": "Float"}],
              "commands": [{"name": "reset"}]}


def provision(client) -> None:
    answer = client.post("/iot/services", json={"services": [GROUP, JSON_GROUP]}, headers=CITY)
    assert answer.status_code == 201, answer.text


def rejected(client, reason: str, transport: str = "http") -> float:
    text = client.get("/metrics").text
    line = rf'madina_iot_measures_rejected_total\{{reason="{reason}",transport="{transport}"\}}'
    match = re.search(line + r" (\S+)", text)
    return float(match.group(1)) if match else 0.0


def test_ultralight_post_with_timestamp_and_autoprovision(client) -> None:
    provision(client)
    answer = client.post("/iot/d", params={"k": "k-lights", "i": "lamp7",
                                           "t": "2026-01-15T10:00:00Z"},
                         content="l|250#l|260", headers={"Content-Type": "text/plain", **NO_AUTH})
    assert answer.status_code == 200, answer.text
    lamp = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Streetlight:lamp7",
                      headers={"NGSILD-Tenant": "helsinki"}).json()
    illuminance = lamp["illuminance"]
    assert illuminance["value"] == 260  # the second group came after the first
    assert illuminance["unitCode"] == "LUX"
    assert illuminance["observedAt"].startswith("2026-01-15T10:00:00")
    device = client.get("/iot/devices/lamp7", headers=CITY).json()  # autoprovisioned
    assert device["apikey"] == "k-lights"


def test_ultralight_get_and_json_post(client) -> None:
    provision(client)
    assert client.get("/iot/d", params={"k": "k-lights", "i": "lamp8", "d": "l|5"},
                      headers=NO_AUTH).status_code == 200
    assert entity(client, "urn:ngsi-ld:Streetlight:lamp8")["illuminance"] == 5
    answer = client.post("/iot/json", params={"k": "k-json", "i": "aq1"},
                         json=[{"n": "31.5"}, {"n": 32, "TimeInstant": "2026-01-15T10:00:00Z"}],
                         headers=NO_AUTH)
    assert answer.status_code == 200, answer.text
    assert entity(client, "urn:ngsi-ld:AirQualityObserved:aq1")["NO2"] == 32.0


def test_bad_input_is_refused_in_the_agents_format_and_counted(client) -> None:
    provision(client)
    client.put("/iot/services", params={"apikey": "k-json", "resource": "/iot/json"},
               json={"autoprovision": False}, headers=CITY)
    cases = [
        ("post", "/iot/d", {"k": "nokey", "i": "x"}, b"t|1", "text/plain", 404,
         "DEVICE_GROUP_NOT_FOUND", "unknown_apikey"),
        ("post", "/iot/json", {"k": "k-json", "i": "stranger"}, b'{"n": 1}',
         "application/json", 404, "DEVICE_NOT_FOUND", "unknown_device"),
        ("post", "/iot/d", {"k": "k-lights", "i": "lamp1"}, b"l|1|x", "text/plain", 400,
         "PARSE_ERROR", "malformed"),
        ("post", "/iot/d", {"k": "k-lights", "i": "lamp1"}, b"l|" + b"9" * 70_000,
         "text/plain", 413, "PAYLOAD_TOO_LARGE", "too_large"),
        ("post", "/iot/d", {"k": "k-lights", "i": "lamp1"}, b"l|dark", "text/plain", 400,
         "BAD_REQUEST", "bad_value"),
    ]
    for method, path, params, body, media, status, name, reason in cases:
        before = rejected(client, reason)
        answer = client.request(method, path, params=params, content=body,
                                headers={"Content-Type": media, **NO_AUTH})
        assert answer.status_code == status, (path, body[:20], answer.text)
        assert answer.json()["name"] == name
        if reason != "too_large":  # refused before reading on: counted by the route
            assert rejected(client, reason) == before + 1, reason
    missing = client.post("/iot/d", params={"k": "k-lights"}, content=b"l|1",
                          headers={"Content-Type": "text/plain"})
    assert missing.json()["name"] == "MANDATORY_PARAMS_NOT_FOUND"
    wrong_type = client.post("/iot/d", params={"k": "k-lights", "i": "l"}, content=b"l|1",
                             headers={"Content-Type": "application/xml"})
    assert wrong_type.json()["name"] == "UNSUPPORTED_TYPE"


def test_a_bad_value_drops_only_itself(client) -> None:
    provision(client)
    before = rejected(client, "bad_value")
    answer = client.post("/iot/d", params={"k": "k-lights", "i": "lamp9"}, content=b"l|dark|m|7",
                         headers={"Content-Type": "text/plain"})
    assert answer.status_code == 200
    lamp = entity(client, "urn:ngsi-ld:Streetlight:lamp9")
    assert lamp["m"] == "7" and "illuminance" not in lamp
    assert rejected(client, "bad_value") == before + 1


def test_polling_commands_round_trip(client) -> None:
    provision(client)
    lamp = {"device_id": "lamp1", "entity_type": "Streetlight", "transport": "HTTP"}
    assert client.post("/iot/devices", json={"devices": [lamp]}, headers=CITY).status_code == 201
    unknown = client.post("/iot/devices/lamp1/commands", json={"fly": 1}, headers=CITY)
    assert unknown.json()["name"] == "COMMAND_NOT_FOUND"
    sent = client.post("/iot/devices/lamp1/commands", json={"on": {"level": 80}}, headers=CITY)
    assert sent.status_code == 204, sent.text
    assert entity(client, "urn:ngsi-ld:Streetlight:lamp1")["on_status"] == "PENDING"

    polled = client.get("/iot/d", params={"k": "k-lights", "i": "lamp1", "getCmd": "1"},
                        headers=NO_AUTH)
    assert polled.status_code == 200
    assert polled.text == "lamp1@on|level=80"
    assert entity(client, "urn:ngsi-ld:Streetlight:lamp1")["on_status"] == "DELIVERED"
    again = client.get("/iot/d", params={"k": "k-lights", "i": "lamp1", "getCmd": "1"})
    assert again.text == ""

    result = client.post("/iot/d", params={"k": "k-lights", "i": "lamp1"},
                         content=b"lamp1@on|switched on", headers={"Content-Type": "text/plain"})
    assert result.status_code == 200, result.text
    lamp_entity = entity(client, "urn:ngsi-ld:Streetlight:lamp1")
    assert lamp_entity["on_status"] == "OK"
    assert lamp_entity["on_info"] == "switched on"


def test_mqtt_commands_need_a_broker(client) -> None:
    provision(client)
    device = {"device_id": "aq9", "protocol": "IoTA-JSON", "transport": "MQTT"}
    assert client.post("/iot/devices", json={"devices": [device]}, headers=CITY).status_code == 201
    answer = client.post("/iot/devices/aq9/commands", json={"reset": ""}, headers=CITY)
    assert answer.status_code == 409
    assert answer.json()["name"] == "COMMAND_UNAVAILABLE"


def test_a_batch_retried_while_the_database_is_away_is_received_once(client, monkeypatch) -> None:
    """The measure waits, unanswered, until the database is back; it lands once and counts
    once as received."""
    from madina.iot.ingest import Ingestor
    from madina.store.base import StoreUnavailable

    provision(client)
    real, failures = Ingestor.process, []

    def flaky(self, batch):
        if not failures:
            failures.append(1)
            raise StoreUnavailable("database restarting")
        return real(self, batch)

    monkeypatch.setattr(Ingestor, "process", flaky)
    text = client.get("/metrics").text
    received = re.search(r'madina_iot_measures_received_total\{transport="http"\} (\S+)', text)
    before = float(received.group(1)) if received else 0.0
    answer = client.post("/iot/d", params={"k": "k-lights", "i": "lamp5"}, content=b"l|42",
                         headers={"Content-Type": "text/plain"})
    assert answer.status_code == 200 and failures == [1]
    assert entity(client, "urn:ngsi-ld:Streetlight:lamp5")["illuminance"] == 42
    text = client.get("/metrics").text
    after = re.search(r'madina_iot_measures_received_total\{transport="http"\} (\S+)', text)
    assert float(after.group(1)) == before + 1
