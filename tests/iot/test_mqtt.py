"""Devices over MQTT against a real broker (Mosquitto on 127.0.0.1:1883; CI fails without it):
both payload formats on every topic form, commands both ways, bad input counted by reason while
good measures keep landing, on both storage engines."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from madina.app import create_app
from madina.config import Settings
from tests.iot.mqtt_helpers import Device, eventually
from tests.services import require_mqtt

NGSI = "/ngsi-ld/v1"
CITY = {"fiware-service": "city", "fiware-servicepath": "/"}


@pytest.fixture
def gateway(settings: Settings) -> Iterator[tuple[TestClient, Device, str]]:
    """The app with MQTT on, an apikey of its own (tests never see each other's messages),
    and a device connected to the same broker."""
    url = require_mqtt()
    tag = uuid.uuid4().hex[:8]
    settings = settings.model_copy(update={
        "mqtt_url": url, "mqtt_client_id": f"madina-test-{tag}", "mqtt_share_group": tag,
        "mqtt_session_expiry_s": 60, "iot_max_payload_bytes": 4096})
    headers = {"Authorization": f"Bearer {settings.admin_token}"}
    with TestClient(create_app(settings), headers=headers) as client:
        assert client.app.state.iot.mqtt.connected.wait(10), "the gateway did not connect"
        device = Device(url)
        try:
            yield client, device, f"key-{tag}"
        finally:
            device.close()


def provision(client: TestClient, apikey: str, **group) -> None:
    body = {"services": [{"apikey": apikey, "resource": "/iot/d", "entity_type": "Sensor",
                          "attributes": [{"object_id": "t", "name": "temperature",
                                          "type": "Number"}], **group}]}
    assert client.post("/iot/services", json=body, headers=CITY).status_code == 201


def value(client: TestClient, entity_id: str, attribute: str):
    answer = client.get(f"{NGSI}/entities/{entity_id}", headers={"NGSILD-Tenant": "city"},
                        params={"options": "keyValues"})
    return answer.json().get(attribute) if answer.status_code == 200 else None


def counter(client: TestClient, reason: str) -> float:
    line = rf'madina_iot_measures_rejected_total\{{reason="{reason}",transport="mqtt"\}}'
    match = re.search(line + r" (\S+)", client.get("/metrics").text)
    return float(match.group(1)) if match else 0.0


def test_both_formats_on_every_topic(gateway) -> None:
    client, device, key = gateway
    provision(client, key)
    json_device = {"device_id": "j1", "protocol": "IoTA-JSON", "entity_type": "Sensor"}
    assert client.post("/iot/devices", json={"devices": [json_device]},
                       headers=CITY).status_code == 201
    device.publish(f"/ul/{key}/u1/attrs", "t|21#t|22")
    device.publish(f"/ul/{key}/u2/attrs/t", "23.5")
    device.publish(f"/json/{key}/j2/attrs", '[{"t": 1}, {"t": 24, "h": "high"}]')
    device.publish(f"/json/{key}/j3/attrs/t", "25")
    device.publish(f"/{key}/u3/attrs", "t|26")       # no protocol level: the device's (UL)
    device.publish(f"/{key}/j1/attrs", '{"t": 27}')  # provisioned as a JSON device
    expected = {"u1": 22, "u2": 23.5, "j2": 24, "j3": 25, "u3": 26, "j1": 27}
    for device_id, temperature in expected.items():
        entity_id = f"urn:ngsi-ld:Sensor:{device_id}"
        eventually(lambda e=entity_id, t=temperature: value(client, e, "temperature") == t)
    assert value(client, "urn:ngsi-ld:Sensor:j2", "h") == "high"


def test_commands_round_trip(gateway) -> None:
    client, device, key = gateway
    provision(client, key, commands=[{"name": "ping"}])
    devices = [{"device_id": "lamp", "entity_type": "Sensor", "transport": "MQTT"},
               {"device_id": "jlamp", "entity_type": "Sensor", "transport": "MQTT",
                "protocol": "IoTA-JSON"}]
    assert client.post("/iot/devices", json={"devices": devices}, headers=CITY).status_code == 201
    device.subscribe(f"/{key}/+/cmd")

    assert client.post("/iot/devices/lamp/commands", json={"ping": "hello"},
                       headers=CITY).status_code == 204
    assert device.next_message() == (f"/{key}/lamp/cmd", b"lamp@ping|hello")
    assert value(client, "urn:ngsi-ld:Sensor:lamp", "ping_status") == "PENDING"
    device.publish(f"/ul/{key}/lamp/cmdexe", "lamp@ping|pong")
    eventually(lambda: value(client, "urn:ngsi-ld:Sensor:lamp", "ping_status") == "OK")
    assert value(client, "urn:ngsi-ld:Sensor:lamp", "ping_info") == "pong"

    assert client.post("/iot/devices/jlamp/commands", json={"ping": {"data": 22}},
                       headers=CITY).status_code == 204
    assert device.next_message() == (f"/{key}/jlamp/cmd", b'{"ping":{"data":22}}')
    device.publish(f"/json/{key}/jlamp/cmdexe", '{"ping": "done"}')
    eventually(lambda: value(client, "urn:ngsi-ld:Sensor:jlamp", "ping_info") == "done")


def test_bad_input_is_counted_and_good_measures_still_land(gateway) -> None:
    client, device, key = gateway
    provision(client, key)
    strict = f"{key}-strict"
    provision(client, strict, autoprovision=False)
    cases = [
        (f"/ul/{key}/d1/attrs", "t|1|x", "malformed"),
        (f"/json/{key}/d1/attrs", "{not json", "malformed"),
        (f"/ul/nokey-{key}/d1/attrs", "t|1", "unknown_apikey"),
        (f"/ul/{strict}/stranger/attrs", "t|1", "unknown_device"),
        (f"/ul/{key}/d1/attrs", "t|" + "9" * 5000, "too_large"),
        (f"/ul/{key}/d1/attrs", "t|warm", "bad_value"),
        (f"/ul/{key}/d1/cmdexe", "d1@nothing|x", "unknown_command"),
    ]
    before = {reason: counter(client, reason) for _, _, reason in cases}
    for topic, payload, _ in cases:
        device.publish(topic, payload)
    device.publish(f"/ul/{key}/d2/attrs", "t|30")
    eventually(lambda: value(client, "urn:ngsi-ld:Sensor:d2", "temperature") == 30)
    for _, _, reason in cases:
        eventually(lambda r=reason: counter(client, r) >= before[r] + 1)
    assert value(client, "urn:ngsi-ld:Sensor:d1", "temperature") is None
