"""The demo's devices: one service group, and a weather station that reports over MQTT the way
any FIWARE UltraLight device does, so `madina demo` shows the gateway end to end."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

APIKEY = "demo-weather"
DEVICE = "station-1"
ENTITY = f"urn:ngsi-ld:WeatherObserved:{DEVICE}"
GROUP = {
    "apikey": APIKEY, "resource": "/iot/d", "entity_type": "WeatherObserved",
    "attributes": [
        {"object_id": "t", "name": "temperature", "type": "Number",
         "metadata": {"unitCode": {"type": "Text", "value": "CEL"}}},
        {"object_id": "h", "name": "relativeHumidity", "type": "Number"},
    ],
    "static_attributes": [{"name": "location", "type": "geo:point", "value": "24.9384, 60.1699"}],
}


def start_devices(client: httpx.Client, mqtt_url: str) -> list[str]:
    """Provision the group, publish one measure over MQTT, wait for it in the broker; the lines
    the welcome prints about it."""
    answer = client.post("/iot/services", json={"services": [GROUP]})
    if answer.status_code not in (201, 409):  # 409: a previous demo run provisioned it
        raise RuntimeError(f"provisioning answered {answer.status_code}: {answer.text[:300]}")
    parts = urlsplit(mqtt_url)
    device = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"madina-demo-{DEVICE}")
    device.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    device.loop_start()
    try:
        device.publish(f"/ul/{APIKEY}/{DEVICE}/attrs", "t|3.5|h|81", qos=1).wait_for_publish(5)
    finally:
        device.disconnect()
        device.loop_stop()
    deadline = time.monotonic() + 10
    while client.get(f"/ngsi-ld/v1/entities/{ENTITY}").status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError("the demo device's measure did not arrive")
        time.sleep(0.1)
    host, port = parts.hostname, parts.port or 1883
    return [
        f"IoT gateway: MQTT on {mqtt_url}; a weather station reports as FIWARE devices do:",
        f"  mosquitto_pub -h {host} -p {port} -t /ul/{APIKEY}/{DEVICE}/attrs -m 't|4.1|h|79'",
        f"  curl '{client.base_url}/ngsi-ld/v1/entities/{ENTITY}?options=keyValues'",
    ]
