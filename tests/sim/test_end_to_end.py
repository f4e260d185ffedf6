"""A few seconds of the demo city against a real server and the embedded MQTT broker, fast:
every kind of entity arrives through the public interfaces, citizens' reports are filed and
moved along, and the domain services derive from what the devices sent."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import uvicorn

from madina.app import create_app
from madina.config import Settings
from madina.iot.embedded_broker import EmbeddedBroker
from madina.sim.clock import default_start
from madina.sim.replay import CitySimulation
from tests.iot.mqtt_helpers import eventually

TOKEN = "sim-e2e"
KINDS = {
    "TrafficFlowObserved": "intensity", "AirQualityObserved": "no2",
    "NoiseLevelObserved": "LAeq", "ACMeasurement": "totalActiveEnergyImport",
    "FloodMonitoring": "currentLevel", "WeatherObserved": "temperature",
    "RoadSegment": "totalLaneNumber", "Building": "floorArea",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[str, str]]:
    """(base URL, MQTT URL) of a Madina served by uvicorn as `madina demo` serves it."""
    embedded = EmbeddedBroker(port=0)
    embedded.start()
    port = _free_port()
    settings = Settings(database=str(tmp_path / "demo.db"), database_url=None,
                        admin_token=TOKEN, host="127.0.0.1", port=port,
                        rate_limit_per_ip="0", rate_limit_per_client="0",
                        mqtt_url=embedded.url, mqtt_version="3.1.1", mqtt_share_group="")
    uvicorn_server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1",
                                                   port=port, log_config=None))
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: uvicorn_server.started, timeout=20)
        yield base_url, embedded.url
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)
        embedded.stop()


def test_a_fast_replay_fills_the_city_through_its_public_interfaces(server) -> None:
    base_url, mqtt_url = server
    # 07:30 in Helsinki: the surge is high, the morning's reports come in, rush hour starts.
    start = default_start() + timedelta(hours=2, minutes=30)
    simulation = CitySimulation(base_url, TOKEN, mqtt_url, speed=1800, seed=5, start=start)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        counts = simulation.setup(client)
        assert counts["devices"] == len(simulation.sensors)
        stats = simulation.run(client, threading.Event(), duration_s=5)
        first = client.get("/ngsi-ld/v1/temporal/entities/"
                           "urn:ngsi-ld:FloodMonitoring:gauge-kauppatori",
                           params={"attrs": "currentLevel", "lastN": 1000}).json()
        # The replay starts at its start whatever the set-up took: 07:30 is in the history.
        assert min(i["observedAt"] for i in first["currentLevel"]) == start.strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        assert stats.readings > stats.messages > 100
        assert stats.reports_filed >= 1 and stats.reports_refused == 0

        def entities(kind: str, attribute: str) -> list[dict]:
            answer = client.get("/ngsi-ld/v1/entities",
                                params={"type": kind, "limit": 200, "options": "keyValues"})
            return [e for e in answer.json() if attribute in e]

        for kind, attribute in KINDS.items():
            eventually(lambda k=kind, a=attribute: entities(k, a), timeout=15)

        meter = entities("ACMeasurement", "address")[0]
        assert meter["address"]["district"] and meter["refBuilding"].startswith("urn:ngsi-ld:")

        requests = client.get("/open311/v2/requests.json").json()
        assert len(requests) == stats.reports_filed
        assert all(r["agency_responsible"].endswith("street maintenance") for r in requests)
        assert eventually(lambda: entities("Open311ServiceRequest", "service_code"))

        # What the domain services derive from the devices' measures.
        def derived() -> bool:
            gauges = entities("FloodMonitoring", "floodWarningLevel")
            weather = entities("WeatherObserved", "heatIndex")
            segments = entities("RoadSegment", "levelOfService")
            return bool(gauges and weather and segments)

        eventually(derived, timeout=15)
        alerts = client.get("/ngsi-ld/v1/entities", params={
            "type": "Alert", "options": "keyValues", "limit": 1000}).json()
        assert {a["alertSource"].split(":")[2] for a in alerts} >= {"FloodMonitoring",
                                                                   "AirQualityObserved"}
        assert "<entry>" in client.get("/alerts/cap").text
