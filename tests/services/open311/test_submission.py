"""Bad submissions: each gets the spec's error list with a precise description (400, or 403 for
the api_key, 404 for an unknown jurisdiction) in the format asked for, and nothing is stored —
no request, no reporter, no entity."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.services.open311.conftest import API, OUTSIDE, pothole, submit, xml_of

ENTITIES = "/ngsi-ld/v1/entities?type=Open311ServiceRequest"
BAD = [
    ({"service_code": ""}, 400, "service_code is missing"),
    ({"service_code": "elephant"}, 400,
     "service_code 'elephant' is not a service of City of Example"),
    ({"lat": "", "long": ""}, 400, "a location is missing"),
    ({"long": ""}, 400, "lat and long go together"),
    ({"lat": "north"}, 400, "lat and long must be decimal numbers"),
    ({"lat": "91"}, 400, "lat must be from -90 to 90"),
    ({"long": "nan"}, 400, "long must be from -180 to 180"),
    (OUTSIDE, 400, "the location (lat 60.3, long 24.92) is outside the boundary of City of "
                   "Example (jurisdiction city.example)"),
    ({"description": "x" * 4001}, 400, "description is longer than 4000 characters"),
    ({"email": "not-an-address"}, 400, "email is not an e-mail address"),
    ({"media_url": "ftp://example.org/a.jpg"}, 400, "media_url must be an http or https URL"),
    ({"description": "bell\x07"}, 400, "'description' holds a control character"),
    ({"attribute[size]": ""}, 400, "attribute[size] is required: How big is it?"),
    ({"attribute[size]": "huge"}, 400, "attribute[size] must be one of its keys: s, l"),
    ({"attribute[depth]": "deep"}, 400, "attribute[depth] must be a number"),
    ({"attribute[depth]": "inf"}, 400, "attribute[depth] must be a number"),
    ({"attribute[seen]": "yesterday"}, 400,
     "attribute[seen] must be an ISO 8601 date-time with a time zone"),
    ({"attribute[seen]": "2026-01-01T10:00:00"}, 400,
     "attribute[seen] must be an ISO 8601 date-time with a time zone"),
    ({"attribute[lanes][]": "west"}, 400, "attribute[lanes] has values that are not among its "
                                          "keys: 'west'"),
    ({"attribute[colour]": "red"}, 400, "attribute['colour'] is not an attribute of service "
                                        "'pothole'"),
    ({"attribute[info]": "ok"}, 400, "attribute[info] is information for the citizen"),
    ({"attribute[note]": "y" * 4001}, 400, "attribute[note] is longer than 4000 characters"),
    ({"api_key": "wrong"}, 403, "api_key is not valid for this jurisdiction"),
    ({"api_key": ""}, 403, "api_key is missing"),
    ({"jurisdiction_id": "elsewhere.example"}, 404,
     "jurisdiction_id 'elsewhere.example' is not served here"),
]


def stored(client: TestClient) -> tuple[int, int]:
    """(requests listed, entities published)."""
    return (len(client.get(f"{API}/requests.json").json()),
            len(client.get(ENTITIES).json()))


@pytest.mark.parametrize(("fields", "status", "description"), BAD,
                         ids=[next(iter(f)) + f"={next(iter(f.values()))!r}"[:30]
                              for f, _, _ in BAD])
def test_bad_input_is_refused_and_stores_nothing(city: TestClient, api_key: str, fields,
                                                 status: int, description: str) -> None:
    before = stored(city)
    answer = submit(city, {**pothole(api_key), **fields})
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    errors = answer.json()
    assert all(error["code"] == str(status) for error in errors)
    assert any(description in error["description"] for error in errors), errors
    xml = submit(city, {**pothole(api_key), **fields}, "xml")
    assert xml.status_code == status
    root = xml_of(xml)
    assert root.tag == "errors"
    assert [e.findtext("description") for e in root] == [e["description"] for e in errors]
    assert stored(city) == before


def test_every_problem_is_reported_at_once(city: TestClient, api_key: str) -> None:
    answer = submit(city, pothole(api_key, lat="91", email="x", description="d" * 4001))
    assert answer.status_code == 400
    assert [e["description"] for e in answer.json()] == [
        "description is longer than 4000 characters",
        "lat must be from -90 to 90",
        "email is not an e-mail address",
    ]


def test_a_valid_submission_with_every_datatype(city: TestClient, api_key: str) -> None:
    form = pothole(api_key, **{"attribute[depth]": "12", "attribute[seen]":
                               "2026-01-01T10:00:00+02:00", "attribute[note]": "next to a bin",
                               "attribute[plate]": "ABC-123"})
    answer = submit(city, form | {"attribute[lanes][]": "n"})
    assert answer.status_code == 201, answer.text
    request_id = answer.json()[0]["service_request_id"]
    (request,) = city.get(f"{API}/requests/{request_id}.json?extensions=true").json()
    values = {a["code"]: [v["key"] for v in a["values"]]
              for a in request["extended_attributes"]["attributes"]}
    assert values == {"size": ["l"], "depth": ["12"], "seen": ["2026-01-01T08:00:00.000000Z"],
                      "lanes": ["n"], "note": ["next to a bin"], "plate": ["ABC-123"]}


def test_a_multivaluelist_takes_repeated_values(city: TestClient, api_key: str) -> None:
    body = "&".join(f"{k}={v}" for k, v in pothole(api_key).items() if k != "phone")
    body += "&attribute[lanes][]=n&attribute[lanes][]=s&attribute[lanes][]=n"
    answer = city.post(f"{API}/requests.json", content=body,
                       headers={"Authorization": "",
                                "Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 201, answer.text
    request_id = answer.json()[0]["service_request_id"]
    (request,) = city.get(f"{API}/requests/{request_id}.json?extensions=true").json()
    lanes = next(a for a in request["extended_attributes"]["attributes"] if a["code"] == "lanes")
    assert [v["name"] for v in lanes["values"]] == ["North", "South"]


@pytest.mark.parametrize(("content_type", "body", "reason"), [
    ("application/json", b'{"service_code": "pothole"}', "is posted as"),
    ("application/x-www-form-urlencoded", b"service_code=%FF%FE", "the form cannot be read"),
    ("application/x-www-form-urlencoded", b"service_code=a&service_code=b&address_id=1",
     "service_code is given more than once"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; "
     b"name=\"document\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
     b"PDF\r\n--x--\r\n", "the file part 'document' is not accepted: a photo goes in media"),
])
def test_unreadable_bodies_are_400(city: TestClient, content_type: str, body: bytes,
                                   reason: str) -> None:
    answer = city.post(f"{API}/requests.json", content=body,
                       headers={"Content-Type": content_type})
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()[0]["description"]


def test_signed_in_citizens_and_staff_submit_without_a_key(city: TestClient) -> None:
    from madina.auth.principal import Principal, Role, Via

    signer = city.app.state.auth.signer
    form = pothole("")
    form.pop("api_key")
    citizen = signer.issue(Principal("ana", "", frozenset({Role.CITIZEN}), Via.PASSWORD), None)
    answer = city.post(f"{API}/requests.json", data=form,
                       headers={"Authorization": f"Bearer {citizen}"})
    assert answer.status_code == 201, answer.text
    device = signer.issue(Principal("loop", "", frozenset({Role.DEVICE}), Via.API_KEY), None)
    refused = city.post(f"{API}/requests.json", data=form,
                        headers={"Authorization": f"Bearer {device}"})
    assert refused.status_code == 403
    assert "may not submit" in refused.json()[0]["description"]
    foreign = signer.issue(Principal("bo", "other", frozenset({Role.CITIZEN}), Via.PASSWORD),
                           None)
    refused = city.post(f"{API}/requests.json", data=form,
                        headers={"Authorization": f"Bearer {foreign}"})
    assert refused.status_code == 403
    assert "belongs to tenant 'other'" in refused.json()[0]["description"]
