"""`madina demo`'s embedded MQTT broker (amqtt, MQTT 3.1.1) carries device measures to the
gateway like any broker: the demo needs no Mosquitto."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from madina.app import create_app
from madina.config import Settings
from madina.iot import demo_devices
from madina.iot.embedded_broker import EmbeddedBroker
from tests.iot.mqtt_helpers import Device, eventually


@pytest.fixture
def embedded() -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(port=0)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def test_the_demo_device_reports_through_the_embedded_broker(embedded, tmp_path) -> None:
    settings = Settings(database=str(tmp_path / "demo.db"), database_url=None,
                        admin_token="demo", rate_limit_per_ip="0", rate_limit_per_client="0",
                        mqtt_url=embedded.url, mqtt_version="3.1.1", mqtt_share_group="")
    with TestClient(create_app(settings), headers={"Authorization": "Bearer demo"}) as client:
        assert client.app.state.iot.mqtt.connected.wait(10)
        lines = demo_devices.start_devices(client, embedded.url)
        assert embedded.url in lines[0]
        device = Device(embedded.url)
        try:
            device.publish(f"/ul/{demo_devices.APIKEY}/{demo_devices.DEVICE}/attrs", "t|7.5")
        finally:
            device.close()

        def temperature():
            answer = client.get(f"/ngsi-ld/v1/entities/{demo_devices.ENTITY}",
                                params={"options": "keyValues"})
            return answer.json().get("temperature") == 7.5

        eventually(temperature)
