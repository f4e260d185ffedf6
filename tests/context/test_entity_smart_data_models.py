"""FIWARE Smart Data Models examples shipped in madina/data/examples go through the model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from madina.context.entity import parse_entity, render_entity

from .entity_helpers import NOW, SDM, TERMS, d

EXAMPLES = Path(__file__).parents[2] / "madina" / "data" / "examples"
NORMALIZED = sorted(p.name for p in EXAMPLES.glob("*.normalized.json"))


def load(name: str) -> dict:
    body = json.loads((EXAMPLES / name).read_text())
    body.pop("@context", None)
    return body


def test_examples_are_present():
    assert len(NORMALIZED) >= 5


@pytest.mark.parametrize("name", NORMALIZED)
def test_normalized_example_round_trips_exactly(name):
    body = load(name)
    assert render_entity(parse_entity(body, TERMS, NOW), TERMS) == body


@pytest.mark.parametrize("name", NORMALIZED)
def test_concise_of_example_parses_back_to_the_same(name):
    doc = parse_entity(load(name), TERMS, NOW)
    concise = render_entity(doc, TERMS, form="concise")
    assert render_entity(parse_entity(concise, TERMS, NOW), TERMS) == load(name)


@pytest.mark.parametrize("model", ["ParkingSpot", "TrafficFlowObserved"])
def test_key_values_matches_published_example(model):
    doc = parse_entity(load(f"{model}.normalized.json"), TERMS, NOW)
    assert render_entity(doc, TERMS, form="keyValues") == load(f"{model}.keyValues.json")


def test_air_quality_observed_stored_shape():
    body = {
        "id": "urn:ngsi-ld:AirQualityObserved:Madrid-1",
        "type": "AirQualityObserved",
        "scope": "/Madrid/Centro",
        "NO2": {"type": "Property", "value": 22, "unitCode": "GQ",
                "observedAt": "2026-11-21T04:59:00Z",
                "reliability": {"type": "Property", "value": 0.9}},
        "location": {"type": "GeoProperty",
                     "value": {"type": "Point", "coordinates": [-3.712, 40.423]}},
        "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:aq-1"},
    }
    doc = parse_entity(body, TERMS, NOW)
    assert doc["type"] == [SDM + "AirQualityObserved"] and doc["scope"] == ["/Madrid/Centro"]
    [no2] = doc[SDM + "NO2"]
    assert no2["observedAt"] == "2026-11-21T04:59:00.000000Z"
    assert no2[d("reliability")] == {"type": "Property", "value": 0.9}
    assert render_entity(doc, TERMS, form="keyValues") == {
        "id": body["id"], "type": "AirQualityObserved", "scope": "/Madrid/Centro", "NO2": 22,
        "location": body["location"]["value"], "refDevice": "urn:ngsi-ld:Device:aq-1"}
    assert render_entity(doc, TERMS) == body
