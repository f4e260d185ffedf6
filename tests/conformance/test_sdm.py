"""Smart Data Models examples round-trip through the broker unchanged.

The official examples reference remote @contexts on GitHub; the suite never touches the
internet, so each example is sent with a locally served context whose @vocab puts its terms
in the Smart Data Models namespace (what the official contexts do for these terms).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import BASE, ids_of, link_header, query, retrieve, strip_system

EXAMPLES = Path(__file__).resolve().parents[2] / "madina" / "data" / "examples"
NORMALIZED = sorted(EXAMPLES.glob("*.normalized.json"))
SDM_VOCAB = "https://smartdatamodels.org/dataModel/"
CORE_FILE = EXAMPLES.parent / "contexts" / "ngsi-ld-core-context-v1.9.jsonld"
CORE_TERMS = set(json.loads(CORE_FILE.read_text())["@context"])


def load(path: Path) -> dict[str, Any]:
    body = json.loads(path.read_text())
    body.pop("@context", None)
    return body


def key_values(attr: Any) -> Any:
    """The keyValues rendering the spec (clause 4.5.4) derives from a normalized attribute."""
    if isinstance(attr, list):
        return [key_values(a) for a in attr]
    if not isinstance(attr, dict):
        return attr
    kind = attr.get("type")
    if kind in ("Property", "GeoProperty"):
        return attr["value"]
    if kind == "Relationship":
        return attr["object"]
    if kind == "LanguageProperty":
        return {"languageMap": attr["languageMap"]}
    if kind == "VocabProperty":
        return attr["vocab"]
    if kind == "JsonProperty":
        return attr["json"]
    if kind == "ListProperty":
        return attr["valueList"]
    return attr


@pytest.fixture
def sdm_context(context_server):
    return context_server.add("/sdm.jsonld", {"@vocab": SDM_VOCAB})


def test_examples_are_present():
    names = {p.name.split(".")[0] for p in NORMALIZED}
    assert {"AirQualityObserved", "TrafficFlowObserved", "ParkingSpot", "Streetlight",
            "WeatherObserved", "Open311_ServiceRequest"} <= names


@pytest.mark.parametrize("path", NORMALIZED, ids=[p.name for p in NORMALIZED])
def test_normalized_round_trip_with_context(client, sdm_context, path):
    body = load(path)
    headers = link_header(sdm_context)
    response = client.post(f"{BASE}/entities", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert strip_system(retrieve(client, body["id"], headers=headers)) == body


@pytest.mark.parametrize("path", NORMALIZED, ids=[p.name for p in NORMALIZED])
def test_key_values_rendering(client, sdm_context, path):
    body = load(path)
    headers = link_header(sdm_context)
    client.post(f"{BASE}/entities", json=body, headers=headers)
    got = retrieve(client, body["id"], headers=headers, options="keyValues")
    expected = {k: (v if k in ("id", "type") else key_values(v)) for k, v in body.items()}
    assert got == expected


@pytest.mark.parametrize("path", NORMALIZED, ids=[p.name for p in NORMALIZED])
def test_round_trip_with_default_context(client, path):
    body = load(path)
    response = client.post(f"{BASE}/entities", json=body)
    assert response.status_code == 201, response.text
    assert strip_system(retrieve(client, body["id"])) == body
    assert ids_of(query(client, type=body["type"])) == {body["id"]}


@pytest.mark.parametrize("path", NORMALIZED, ids=[p.name for p in NORMALIZED])
def test_full_iris_without_context(client, sdm_context, path):
    body = load(path)
    client.post(f"{BASE}/entities", json=body, headers=link_header(sdm_context))
    got = retrieve(client, body["id"])
    assert got["type"] == SDM_VOCAB + body["type"]
    for name in body:
        if name not in CORE_TERMS:
            assert SDM_VOCAB + name in got, name
