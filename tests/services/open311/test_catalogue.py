"""The catalogue: every way a document can be wrong is refused whole, the admin API manages it
per tenant (whole, or a service or department at a time), app keys come and go, and the CLI
loads the same document."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from madina.app import create_app
from madina.cli import main
from madina.config import Settings
from madina.services.open311.catalogue import CatalogueError, parse_catalogue
from tests.services.open311.conftest import (
    ADMIN_API,
    API,
    CATALOGUE,
    INSIDE_EAST,
    INSIDE_WEST,
    pothole,
    submit,
)

SELF_CROSSING = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}


def changed(path: str, value: Any) -> dict[str, Any]:
    """CATALOGUE with the member at `path` (dotted; list indexes as numbers) replaced, or
    removed when `value` is DELETE."""
    document = copy.deepcopy(CATALOGUE)
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is DELETE:
        del node[key]
    else:
        node[key] = value
    return document


DELETE = object()
BAD_DOCUMENTS = [
    ("jurisdiction", DELETE, "the catalogue lacks jurisdiction"),
    ("extra", 1, "unknown members: extra"),
    ("jurisdiction.jurisdiction_id", "no spaces", "jurisdiction_id must be"),
    ("jurisdiction.boundary", {"type": "Point", "coordinates": [24.9, 60.1]},
     "GeoJSON Polygon or MultiPolygon"),
    ("jurisdiction.boundary", SELF_CROSSING, "not a valid polygon (Self-intersection"),
    ("jurisdiction.boundary", {"type": "Polygon", "coordinates": [[["a", "b"]]]},
     "malformed coordinates"),
    ("jurisdiction.boundary", {"type": "Polygon", "coordinates": [
        [[200, 0], [201, 0], [201, 1], [200, 1], [200, 0]]]}, "WGS84"),
    ("jurisdiction.name", "", "name must be a non-empty text"),
    ("services.0.service_code", "has/slash", "service_code must be"),
    ("services.0.type", "sometimes", "type must be one of realtime, batch, blackbox"),
    ("services.0.group", "nowhere", "names unknown group 'nowhere'"),
    ("services.0.keywords", ["a,b"], "keywords must be"),
    ("services.1.service_code", "pothole", "service_code 'pothole' appears twice"),
    ("services.0.attributes.0.datatype", "colour", "datatype must be one of"),
    ("services.0.attributes.0.values", [], "is a singlevaluelist: it needs values"),
    ("services.0.attributes.1.values", [{"key": "a", "name": "A"}],
     "only list datatypes have values"),
    ("services.0.attributes.0.values.1.key", "s", "value key of"),
    ("services.0.attributes.0.required", "yes", "required must be true or false"),
    ("services.0.attributes.0.order", -1, "order must be a whole number"),
    ("services.0.attributes.1.code", "size", "attribute code of service 'pothole' 'size' "
                                             "appears twice"),
    ("departments.0.service_areas.0.service_code", "nothing", "unknown service 'nothing'"),
    ("departments.1.code", "roads-west", "department code 'roads-west' appears twice"),
    ("departments.0.service_areas.0.area", SELF_CROSSING, "not a valid polygon"),
    ("groups.0", "streets", "groups[0] must be a JSON object"),
]


@pytest.mark.parametrize(("path", "value", "reason"), BAD_DOCUMENTS,
                         ids=[f"{p}={'(deleted)' if v is DELETE else repr(v)}"[:60]
                              for p, v, _ in BAD_DOCUMENTS])
def test_a_bad_catalogue_is_refused_with_its_reason(path: str, value: Any, reason: str) -> None:
    with pytest.raises(CatalogueError) as refused:
        parse_catalogue(changed(path, value))
    assert reason in str(refused.value)


def test_the_example_catalogue_round_trips() -> None:
    catalogue = parse_catalogue(CATALOGUE)
    assert parse_catalogue(catalogue.to_json()) == catalogue
    assert catalogue.service("pothole").attributes[0].values[1].name == "Large"


def test_a_bad_catalogue_changes_nothing(city: TestClient) -> None:
    before = city.get(f"{ADMIN_API}/catalogue").json()
    answer = city.put(f"{ADMIN_API}/catalogue", json=changed("services.0.group", "nowhere"))
    assert answer.status_code == 400
    assert answer.json()["type"].endswith("/BadRequestData")
    assert "unknown group" in answer.json()["detail"]
    assert city.get(f"{ADMIN_API}/catalogue").json() == before


def test_the_catalogue_is_per_tenant(city: TestClient) -> None:
    assert city.get(f"{ADMIN_API}/catalogue").json() == parse_catalogue(CATALOGUE).to_json()
    other = city.get(f"{ADMIN_API}/catalogue", headers={"NGSILD-Tenant": "other"})
    assert other.json() == {"jurisdiction": None, "groups": [], "services": [],
                            "departments": []}


def test_services_are_added_replaced_and_removed(city: TestClient, api_key: str) -> None:
    service = {"service_name": "Broken bench", "type": "realtime",
               "attributes": [{"code": "seat", "datatype": "string", "required": True}]}
    added = city.put(f"{ADMIN_API}/services/bench", json=service)
    assert added.status_code == 201, added.text
    assert added.headers["location"] == "/open311/v2/admin/services/bench"
    assert city.get(f"{API}/services/bench.json").json()["attributes"][0]["code"] == "seat"
    replaced = city.put(f"{ADMIN_API}/services/bench", json={**service, "attributes": []})
    assert replaced.status_code == 200
    assert city.get(f"{API}/services/bench.json").json()["attributes"] == []
    mismatch = city.put(f"{ADMIN_API}/services/bench",
                        json={**service, "service_code": "chair"})
    assert mismatch.status_code == 400
    assert city.delete(f"{ADMIN_API}/services/pothole").status_code == 204
    assert city.delete(f"{ADMIN_API}/services/pothole").status_code == 404
    assert city.get(f"{API}/services/pothole.json").status_code == 404
    refused = submit(city, pothole(api_key))
    assert refused.status_code == 400
    assert "'pothole' is not a service of City of Example" in refused.text
    departments = city.get(f"{ADMIN_API}/catalogue").json()["departments"]
    assert all(area["service_code"] != "pothole"
               for d in departments for area in d["service_areas"])


def test_departments_are_added_replaced_and_removed(city: TestClient, api_key: str) -> None:
    whole_city = CATALOGUE["jurisdiction"]["boundary"]
    answer = city.put(f"{ADMIN_API}/departments/roads-west",
                      json={"name": "Roads (all)",
                            "service_areas": [{"service_code": "pothole", "area": whole_city}]})
    assert answer.status_code == 200, answer.text
    assert city.delete(f"{ADMIN_API}/departments/roads-east").status_code == 204
    east = submit(city, pothole(api_key, **INSIDE_EAST))
    request_id = east.json()[0]["service_request_id"]
    request = city.get(f"{API}/requests/{request_id}.json").json()[0]
    assert request["agency_responsible"] == "Roads (all)"
    new = city.put(f"{ADMIN_API}/departments/lighting", json={"name": "Lighting"})
    assert new.status_code == 201
    assert city.delete(f"{ADMIN_API}/departments/nobody").status_code == 404
    unknown = city.put(f"{ADMIN_API}/departments/lighting",
                       json={"name": "Lighting", "service_areas": [
                           {"service_code": "lamp", "area": whole_city}]})
    assert unknown.status_code == 400


def test_app_keys(city: TestClient) -> None:
    created = city.post(f"{ADMIN_API}/keys", json={"name": "fixer app"})
    assert created.status_code == 201
    key = created.json()
    listed = city.get(f"{ADMIN_API}/keys").json()
    assert listed == [{k: v for k, v in key.items() if k != "secret"}]
    assert "secret" not in str(listed)
    assert submit(city, pothole(key["secret"])).status_code == 201
    disabled = city.patch(f"{ADMIN_API}/keys/{key['id']}", json={"disabled": True})
    assert disabled.json()["disabled"] is True
    refused = submit(city, pothole(key["secret"]))
    assert refused.status_code == 403
    assert refused.json() == [{"code": "403",
                               "description": "api_key is not valid for this jurisdiction"}]
    assert city.patch(f"{ADMIN_API}/keys/nope", json={"disabled": True}).status_code == 404
    other = city.patch(f"{ADMIN_API}/keys/{key['id']}", json={"disabled": False},
                       headers={"NGSILD-Tenant": "other"})
    assert other.status_code == 404, "a tenant sees only its own keys"
    for body in ({}, {"name": ""}, {"name": "x", "roles": []}):
        assert city.post(f"{ADMIN_API}/keys", json=body).status_code == 400


def test_the_cli_loads_shows_and_adds_keys(tmp_path, capsys) -> None:
    database = str(tmp_path / "city.db")
    document = tmp_path / "catalogue.json"
    document.write_bytes(orjson.dumps(CATALOGUE))
    assert main(["open311", "load", str(document), "--db", database]) == 0
    assert "3 services, 3 departments" in capsys.readouterr().out
    assert main(["open311", "show", "--db", database]) == 0
    assert orjson.loads(capsys.readouterr().out) == parse_catalogue(CATALOGUE).to_json()
    assert main(["open311", "key", "add", "kiosk", "--db", database]) == 0
    secret = capsys.readouterr().out.split("api_key: ")[1].split()[0]
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps(changed("services.0.type", "sometimes")))
    assert main(["open311", "load", str(bad), "--db", database]) == 1
    assert "type must be one of" in capsys.readouterr().err
    settings = Settings(database=database, database_url=None, rate_limit_per_ip="0",
                        rate_limit_per_client="0", admin_token="test-admin-token")
    with TestClient(create_app(settings)) as client:
        answer = client.post(f"{API}/requests.json", data=pothole(secret, **INSIDE_WEST))
        assert answer.status_code == 201, answer.text
