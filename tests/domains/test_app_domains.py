"""The app runs the city's domain services: observations posted through the NGSI-LD API come
back with derived attributes, and a flood warning appears as an Alert and in the CAP feed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from xml.etree import ElementTree

import pytest
from starlette.testclient import TestClient

from madina.app import create_app
from madina.config import Settings
from madina.domains.services import DOMAINS, domain_services

ENTITIES = "/ngsi-ld/v1/entities"
NOW = "2026-11-21T08:00:00Z"
ATOM = "{http://www.w3.org/2005/Atom}"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


@pytest.fixture
def city(settings: Settings) -> Iterator[TestClient]:
    on = settings.model_copy(update={"domains": "environment,safety"})
    with TestClient(create_app(on), headers={"Authorization": f"Bearer {on.admin_token}"}) as c:
        yield c


def wait_for(client: TestClient, path: str, ready, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(path)
        if answer.status_code == 200 and ready(answer.json()):
            return answer.json()
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.05)


def test_air_quality_index_is_derived(city: TestClient) -> None:
    station = {
        "id": "urn:ngsi-ld:AirQualityObserved:kallio", "type": "AirQualityObserved",
        "location": {"type": "GeoProperty", "value": {"type": "Point",
                                                      "coordinates": [24.95, 60.18]}},
        "pm25": {"type": "Property", "value": 40.0, "unitCode": "GQ", "observedAt": NOW},
        "no2": {"type": "Property", "value": 60.0, "unitCode": "GQ", "observedAt": NOW},
    }
    assert city.post(ENTITIES, json=station).status_code == 201
    got = wait_for(city, f"{ENTITIES}/{station['id']}", lambda e: "airQualityIndex" in e)
    assert got["airQualityIndex"]["value"] > 0


def test_a_flood_warning_is_an_alert_and_a_cap_message(city: TestClient) -> None:
    gauge = {
        "id": "urn:ngsi-ld:FloodMonitoring:kauppatori", "type": "FloodMonitoring",
        "location": {"type": "GeoProperty", "value": {"type": "Point",
                                                      "coordinates": [24.95, 60.167]}},
        "alertLevel": {"type": "Property", "value": 1.0},
        "dangerLevel": {"type": "Property", "value": 1.5},
        "currentLevel": {"type": "Property", "value": 1.8, "observedAt": NOW},
    }
    assert city.post(ENTITIES, json=gauge).status_code == 201
    got = wait_for(city, f"{ENTITIES}/{gauge['id']}", lambda e: "floodWarningLevel" in e)
    assert got["floodWarningLevel"]["value"] != "normal"
    alerts = wait_for(city, f"{ENTITIES}?type=Alert", lambda found: len(found) == 1)
    assert alerts[0]["alertSource"]["object"] == gauge["id"]
    feed = city.get("/alerts/cap")
    assert feed.status_code == 200
    entries = ElementTree.fromstring(feed.content).findall(f"{ATOM}entry")
    assert len(entries) == 1
    message = city.get(entries[0].find(f"{ATOM}link").get("href").split("testserver")[-1])
    assert message.status_code == 200
    assert ElementTree.fromstring(message.content).findtext(f"{CAP}msgType") == "Alert"


def test_every_domain_builds_from_defaults_and_unknown_names_fail() -> None:
    assert len(domain_services(DOMAINS, None)) == 6
    with pytest.raises(ValueError, match="unknown domain"):
        domain_services(["weather-magic"], None)
