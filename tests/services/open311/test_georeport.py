"""Every GeoReport v2 endpoint in both formats, on both engines: JSON checked against the
Open311 JSON Schemas, XML against the element structure the spec documents, and the two
formats carrying the same content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from tests.services.open311.conftest import (
    API,
    INSIDE_EAST,
    assert_valid,
    children,
    pothole,
    submit,
    xml_of,
)

REQUEST_ELEMENTS = ["service_request_id", "status", "status_notes", "service_name",
                    "service_code", "description", "agency_responsible", "service_notice",
                    "requested_datetime", "updated_datetime", "expected_datetime", "address",
                    "address_id", "zipcode", "lat", "long", "media_url"]


def test_discovery(city: TestClient) -> None:
    answer = city.get(f"{API}/discovery.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    document = answer.json()
    assert document["contact"] == "open311@city.example"
    endpoint = document["endpoints"][0]
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    root = xml_of(city.get(f"{API}/discovery.xml"))
    assert root.tag == "discovery"
    assert children(root) == ["changeset", "contact", "key_service", "endpoints"]
    xml_endpoint = root.find("endpoints/endpoint")
    assert children(xml_endpoint) == ["specification", "url", "changeset", "type", "formats"]
    assert [f.text for f in xml_endpoint.findall("formats/format")] == endpoint["formats"]


def test_services(city: TestClient) -> None:
    services = city.get(f"{API}/services.json").json()
    assert_valid(services, "services.json")
    assert [s["service_code"] for s in services] == ["pothole", "graffiti", "noise"]
    assert services[0] == {"service_code": "pothole", "service_name": "Pothole",
                           "description": "A hole in a road", "metadata": True,
                           "type": "realtime", "keywords": "road,hole", "group": "Streets"}
    assert services[2]["metadata"] is False and services[2]["group"] is None
    root = xml_of(city.get(f"{API}/services.xml"))
    assert root.tag == "services" and children(root) == ["service"] * 3
    first = root.find("service")
    assert children(first) == ["service_code", "service_name", "description", "metadata",
                               "type", "keywords", "group"]
    assert [first.findtext(tag) for tag in ("service_code", "metadata", "type", "group")] == \
        ["pothole", "true", "realtime", "Streets"]


def test_service_definition(city: TestClient) -> None:
    definition = city.get(f"{API}/services/pothole.json").json()
    assert_valid(definition, "service-definition.json")
    attributes = definition["attributes"]
    assert [a["code"] for a in attributes] == ["size", "depth", "seen", "lanes", "note",
                                               "plate", "info"]
    assert [a["order"] for a in attributes] == [1, 2, 3, 4, 5, 6, 7]
    assert attributes[0]["values"] == [{"key": "s", "name": "Small"},
                                       {"key": "l", "name": "Large"}]
    assert "values" not in attributes[1]
    assert attributes[6]["variable"] is False
    root = xml_of(city.get(f"{API}/services/pothole.xml"))
    assert root.tag == "service_definition"
    assert children(root) == ["service_code", "attributes"]
    size = root.find("attributes/attribute")
    assert children(size) == ["variable", "code", "datatype", "required",
                              "datatype_description", "order", "description", "values"]
    assert [(v.findtext("key"), v.findtext("name")) for v in size.findall("values/value")] == \
        [("s", "Small"), ("l", "Large")]
    assert size.findtext("required") == "true"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_service_definition_is_404(city: TestClient, fmt: str) -> None:
    answer = city.get(f"{API}/services/no-such.{fmt}")
    assert answer.status_code == 404
    if fmt == "json":
        assert answer.json() == [{"code": "404",
                                  "description": "service_code 'no-such' not found"}]
    else:
        root = xml_of(answer)
        assert root.tag == "errors" and children(root) == ["error"]
        assert children(root[0]) == ["code", "description"]
        assert root[0].findtext("code") == "404"


def test_post_request_in_both_formats(city: TestClient, api_key: str) -> None:
    answer = submit(city, pothole(api_key))
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created == [{"service_request_id": created[0]["service_request_id"],
                        "service_notice": "Potholes are filled within 48 hours.",
                        "account_id": None}]
    answer = submit(city, pothole(api_key), "xml")
    assert answer.status_code == 201, answer.text
    root = xml_of(answer)
    assert root.tag == "service_requests" and children(root) == ["request"]
    assert children(root[0]) == ["service_request_id", "service_notice", "account_id"]
    assert int(root[0].findtext("service_request_id")) > int(created[0]["service_request_id"])


def test_post_multipart(city: TestClient, api_key: str) -> None:
    form = pothole(api_key)
    answer = city.post(f"{API}/requests.json", files={k: (None, v) for k, v in form.items()},
                       headers={"Authorization": ""})
    assert answer.status_code == 201, answer.text
    request_id = answer.json()[0]["service_request_id"]
    stored = city.get(f"{API}/requests/{request_id}.json").json()[0]
    assert stored["description"] == form["description"]
    assert stored["agency_responsible"] == "Roads West"


def test_a_batch_service_answers_a_token_and_the_token_its_request(
        city: TestClient, api_key: str) -> None:
    form = {"api_key": api_key, "service_code": "graffiti", **INSIDE_EAST}
    answer = submit(city, form)
    assert answer.status_code == 201, answer.text
    (created,) = answer.json()
    assert set(created) == {"token", "service_notice", "account_id"}
    found = city.get(f"{API}/tokens/{created['token']}.json")
    assert found.status_code == 200
    (pair,) = found.json()
    assert pair["token"] == created["token"]
    request = city.get(f"{API}/requests/{pair['service_request_id']}.json").json()[0]
    assert request["service_code"] == "graffiti"
    root = xml_of(city.get(f"{API}/tokens/{created['token']}.xml"))
    assert root.tag == "service_requests"
    assert children(root[0]) == ["service_request_id", "token"]
    missing = city.get(f"{API}/tokens/nope.xml")
    assert missing.status_code == 404 and xml_of(missing).tag == "errors"


def test_a_blackbox_service_answers_no_id(city: TestClient, api_key: str) -> None:
    answer = submit(city, {"api_key": api_key, "service_code": "noise", **INSIDE_EAST})
    assert answer.status_code == 201
    assert answer.json() == [{"service_notice": "We look at every report within a week.",
                              "account_id": None}]


def test_get_requests_in_both_formats(city: TestClient, api_key: str) -> None:
    ids = [submit(city, pothole(api_key)).json()[0]["service_request_id"] for _ in range(3)]
    listed = city.get(f"{API}/requests.json").json()
    assert_valid(listed, "requests.json")
    assert [r["service_request_id"] for r in listed] == ids[::-1]
    first = listed[0]
    assert first["status"] == "open" and first["agency_responsible"] == "Roads West"
    assert (first["lat"], first["long"]) == (60.17, 24.92)
    assert "extended_attributes" not in first
    root = xml_of(city.get(f"{API}/requests.xml"))
    assert root.tag == "service_requests" and children(root) == ["request"] * 3
    assert children(root[0]) == REQUEST_ELEMENTS
    assert [r.findtext("service_request_id") for r in root] == ids[::-1]
    assert root[0].findtext("lat") == "60.17" and root[0].find("status_notes").text is None


def test_get_one_request_in_both_formats(city: TestClient, api_key: str) -> None:
    request_id = submit(city, pothole(api_key)).json()[0]["service_request_id"]
    answer = city.get(f"{API}/requests/{request_id}.json")
    assert_valid(answer.json(), "requests.json")
    assert len(answer.json()) == 1
    root = xml_of(city.get(f"{API}/requests/{request_id}.xml"))
    assert children(root) == ["request"] and children(root[0]) == REQUEST_ELEMENTS
    for fmt in ("json", "xml"):
        missing = city.get(f"{API}/requests/999999.{fmt}")
        assert missing.status_code == 404


def test_extensions_add_attributes_and_notes(city: TestClient, api_key: str) -> None:
    form = pothole(api_key, **{"attribute[lanes][]": "n", "attribute[depth]": "12.5"})
    request_id = submit(city, form).json()[0]["service_request_id"]
    (request,) = city.get(f"{API}/requests/{request_id}.json?extensions=true").json()
    assert_valid([request], "requests.json")
    assert request["extended_attributes"]["attributes"] == [
        {"code": "size", "values": [{"key": "l", "name": "Large"}]},
        {"code": "depth", "values": [{"key": "12.5", "name": "12.5"}]},
        {"code": "lanes", "values": [{"key": "n", "name": "North"}]},
    ]
    assert [(n["status"], n["description"]) for n in request["notes"]] == [("open", None)]
    listed = city.get(f"{API}/requests.json?extensions=true").json()
    assert listed[0]["notes"] == request["notes"]
    root = xml_of(city.get(f"{API}/requests/{request_id}.xml?extensions=true"))
    assert children(root[0]) == [*REQUEST_ELEMENTS, "extended_attributes", "notes"]
    attribute = root[0].find("extended_attributes/attributes/attribute")
    assert children(attribute) == ["code", "values"]
    assert children(root[0].find("notes/note")) == ["datetime", "status", "state", "reason",
                                                    "description"]
    extended = request["extended_attributes"]
    assert (extended["state"], extended["reason"], extended["duplicate_of"],
            extended["reported_by"]) == ("open", None, None, "anonymous")


def test_filters_dates_status_and_pages(city: TestClient, api_key: str) -> None:
    west = submit(city, pothole(api_key)).json()[0]["service_request_id"]
    graffiti = submit(city, {"api_key": api_key, "service_code": "graffiti",
                             **INSIDE_EAST}).json()[0]["token"]
    graffiti_id = city.get(f"{API}/tokens/{graffiti}.json").json()[0]["service_request_id"]
    east = submit(city, pothole(api_key, **INSIDE_EAST)).json()[0]["service_request_id"]

    def ids(query: str) -> list[str]:
        answer = city.get(f"{API}/requests.json?{query}")
        assert answer.status_code == 200, answer.text
        return [r["service_request_id"] for r in answer.json()]

    assert ids("service_code=pothole") == [east, west]
    assert ids("service_code=graffiti,noise") == [graffiti_id]
    assert ids("service_code=graffiti&service_code=pothole") == [east, graffiti_id, west]
    assert ids("status=open") == [east, graffiti_id, west]
    assert ids("status=closed") == []
    assert ids(f"service_request_id={west},{east},424242") == [east, west]
    assert ids(f"service_request_id={west}&status=closed") == [west], "ids override the rest"
    assert ids("page_size=2") == [east, graffiti_id]
    assert ids("page_size=2&page=2") == [west]
    assert ids("page=3&page_size=2") == []
    now = datetime.now(UTC)
    future = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    past = (now - timedelta(days=100)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(f"start_date={future}") == []
    assert ids(f"end_date={past}") == []
    offset = (now - timedelta(days=1)).astimezone(timezone(timedelta(hours=2))).isoformat()
    assert ids(f"start_date={quote(offset)}") == [east, graffiti_id, west]


def test_the_tenant_comes_from_the_jurisdiction_id(city: TestClient, api_key: str) -> None:
    request_id = submit(city, pothole(api_key)).json()[0]["service_request_id"]
    answer = city.get(f"{API}/requests/{request_id}.json?jurisdiction_id=city.example")
    assert answer.status_code == 200
    for fmt in ("json", "xml"):
        unknown = city.get(f"{API}/services.{fmt}?jurisdiction_id=elsewhere.example")
        assert unknown.status_code == 404
    assert city.get(f"{API}/services.json?jurisdiction_id=elsewhere.example").json() == [
        {"code": "404", "description": "jurisdiction_id 'elsewhere.example' is not served here"}]
    other_tenant = city.get(f"{API}/services.json", headers={"NGSILD-Tenant": "other"})
    assert other_tenant.status_code == 404
    mismatch = city.get(f"{API}/services.json?jurisdiction_id=city.example",
                        headers={"NGSILD-Tenant": "other"})
    assert mismatch.status_code == 400


def test_two_cities_on_one_endpoint(client: TestClient) -> None:
    from tests.services.open311.conftest import ADMIN_API, CATALOGUE

    for tenant, jurisdiction in (("north", "north.example"), ("south", "south.example")):
        catalogue = {**CATALOGUE, "jurisdiction": {**CATALOGUE["jurisdiction"],
                                                   "jurisdiction_id": jurisdiction,
                                                   "name": tenant.title()}}
        answer = client.put(f"{ADMIN_API}/catalogue", json=catalogue,
                            headers={"NGSILD-Tenant": tenant})
        assert answer.status_code == 200, answer.text
    key = client.post(f"{ADMIN_API}/keys", json={"name": "north app"},
                      headers={"NGSILD-Tenant": "north"}).json()["secret"]
    north = submit(client, pothole(key, jurisdiction_id="north.example"))
    assert north.status_code == 201, north.text
    south = submit(client, pothole(key, jurisdiction_id="south.example"))
    assert south.status_code == 403, "a key of one city submits nothing to another"
    request_id = north.json()[0]["service_request_id"]
    assert client.get(f"{API}/requests/{request_id}.json?jurisdiction_id=north.example"
                      ).status_code == 200
    assert client.get(f"{API}/requests/{request_id}.json?jurisdiction_id=south.example"
                      ).status_code == 404
    taken = client.put(f"{ADMIN_API}/catalogue", headers={"NGSILD-Tenant": "south"},
                       json={**CATALOGUE, "jurisdiction": {**CATALOGUE["jurisdiction"],
                                                           "jurisdiction_id": "north.example"}})
    assert taken.status_code == 400 and "another tenant" in taken.json()["detail"]


@pytest.mark.parametrize("path", ["discovery", "services", "services/pothole", "requests",
                                  "requests/1", "tokens/abc"])
def test_no_jurisdiction_configured_is_404(client: TestClient, path: str) -> None:
    for fmt in ("json", "xml"):
        answer = client.get(f"{API}/{path}.{fmt}")
        assert answer.status_code == 404, answer.text
    assert client.get(f"{API}/{path}.json").json()[0]["description"] == \
        "no Open311 jurisdiction is configured"
