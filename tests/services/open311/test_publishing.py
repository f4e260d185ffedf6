"""Every request is also an `Open311ServiceRequest` entity (Smart Data Models IssueTracking),
kept in step with its status; a request whose entity cannot be written is not stored."""

from __future__ import annotations

import orjson
from starlette.testclient import TestClient

from madina.auth.principal import Principal, Role, Via
from tests.services.open311.conftest import ADMIN_API, API, pothole, submit

NGSI = "/ngsi-ld/v1/entities"
EXAMPLE = "madina/data/examples/Open311_ServiceRequest.normalized.json"


def entity(client: TestClient, request_id: str) -> dict:
    answer = client.get(f"{NGSI}/urn:ngsi-ld:Open311ServiceRequest:{request_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def staff(client: TestClient, *departments: str) -> dict[str, str]:
    principal = Principal("mia", "", frozenset({Role.DEPARTMENT}), Via.PASSWORD,
                          departments=frozenset(departments))
    return {"Authorization": f"Bearer {client.app.state.auth.signer.issue(principal, None)}"}


def test_the_entity_follows_the_smart_data_model(city: TestClient, api_key: str) -> None:
    form = pothole(api_key, media_url="https://img.example/1.jpg",
                   address_string="Mannerheimintie 1", **{"attribute[lanes][]": "s"})
    request_id = submit(city, form).json()[0]["service_request_id"]
    published = entity(city, request_id)
    with open(EXAMPLE, "rb") as example_file:
        example = orjson.loads(example_file.read())
    assert published["type"] == example["type"] == "Open311ServiceRequest"
    assert published["id"] == f"urn:ngsi-ld:Open311ServiceRequest:{request_id}"
    assert set(published) - {"id", "type", "service_notice"} <= set(example)
    values = {name: attr["value"] for name, attr in published.items()
              if isinstance(attr, dict) and "value" in attr}
    assert values["service_request_id"] == request_id
    assert values["service_code"] == "pothole" and values["service_name"] == "Pothole"
    assert values["status"] == "open" and values["agency_responsible"] == "Roads West"
    assert values["address_string"] == "Mannerheimintie 1"
    assert values["media_url"] == "https://img.example/1.jpg"
    assert values["location"] == {"type": "Point", "coordinates": [24.92, 60.17]}
    assert values["attributes"] == [
        {"code": "size", "values": [{"key": "l", "name": "Large"}]},
        {"code": "lanes", "values": [{"key": "s", "name": "South"}]}]
    assert published["requested_datetime"]["value"]["@type"] == "DateTime"
    near = city.get(NGSI, params={"type": "Open311ServiceRequest", "geometry": "Point",
                                  "georel": "near;maxDistance==500",
                                  "coordinates": "[24.921,60.171]"})
    assert [e["id"] for e in near.json()] == [published["id"]], "it is on the map"


def test_a_status_change_reaches_the_entity(city: TestClient, api_key: str) -> None:
    request_id = submit(city, pothole(api_key)).json()[0]["service_request_id"]
    path = f"{ADMIN_API}/requests/{request_id}"
    refused = city.patch(path, json={"state": "closed"}, headers=staff(city, "roads-east"))
    assert refused.status_code == 403
    closed = city.patch(path, json={"state": "closed", "reason": "fixed",
                                    "status_notes": "Filled on Monday"},
                        headers=staff(city, "roads-west"))
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    published = entity(city, request_id)
    assert published["status"]["value"] == "closed"
    assert published["status_notes"]["value"] == "Filled on Monday"
    (public,) = city.get(f"{API}/requests/{request_id}.json?extensions=true").json()
    assert (public["status"], public["status_notes"]) == ("closed", "Filled on Monday")
    assert public["updated_datetime"] >= public["requested_datetime"]
    assert [(n["status"], n["state"], n["reason"], n["description"]) for n in public["notes"]] \
        == [("open", "open", None, None), ("closed", "closed", "fixed", "Filled on Monday")]
    assert "mia" not in str(public), "staff names are not public"
    assert city.get(f"{API}/requests.json?status=closed").json()[0]["service_request_id"] == \
        request_id
    reopened = city.patch(path, json={"state": "reopened"})
    assert reopened.status_code == 200
    assert "status_notes" not in entity(city, request_id)
    assert entity(city, request_id)["status"]["value"] == "open"
    for bad in ({"state": "done"}, {"state": "reopened", "owner": "x"}, {},
                {"state": "fixed", "status_notes": 5}, {"state": "open"},
                {"reason": "duplicate", "status_notes": "x"}, {"status": "closed"}):
        assert city.patch(path, json=bad).status_code == 400, bad


def test_an_entity_deleted_through_ngsi_ld_is_published_again(city: TestClient,
                                                              api_key: str) -> None:
    request_id = submit(city, pothole(api_key)).json()[0]["service_request_id"]
    assert city.delete(f"{NGSI}/urn:ngsi-ld:Open311ServiceRequest:{request_id}"
                       ).status_code == 204
    assert city.patch(f"{ADMIN_API}/requests/{request_id}",
                      json={"state": "closed"}).status_code == 200
    assert entity(city, request_id)["status"]["value"] == "closed"


def test_a_request_whose_entity_cannot_be_written_is_not_stored(city: TestClient,
                                                               api_key: str) -> None:
    first = submit(city, pothole(api_key)).json()[0]["service_request_id"]
    squatter = f"urn:ngsi-ld:Open311ServiceRequest:{int(first) + 1}"
    assert city.post(NGSI, json={"id": squatter, "type": "Thing"}).status_code == 201
    failed = submit(city, pothole(api_key))
    assert failed.status_code == 409, failed.text
    assert failed.json()[0]["code"] == "409"
    listed = city.get(f"{API}/requests.json").json()
    assert [r["service_request_id"] for r in listed] == [first]
    assert city.get(f"{ADMIN_API}/requests/{int(first) + 1}/reporters").status_code == 404
    after = submit(city, pothole(api_key)).json()[0]["service_request_id"]
    assert int(after) == int(first) + 2, "the failed request's number is not given again"
