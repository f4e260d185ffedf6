"""Duplicates: before submitting, a client asks for the open requests of the same service near
its point (geodesic metres, nearest first); a citizen joins one instead of filing a new one;
staff merge duplicates — the duplicate closed with reason duplicate, its people following the
request kept, a public note on both."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from madina.context.geo import geodesic_distance
from tests.services.open311.conftest import (
    ADMIN_API,
    API,
    REPORTER,
    Mailbox,
    app_key,
    pothole,
    staff,
    submit,
    xml_of,
)

HERE = (60.17, 24.92)
"""A point in the west half; the requests below lie at known distances from it."""


def at(client: TestClient, key: str, lat: float, lon: float, **fields: str) -> str:
    answer = submit(client, pothole(key, lat=str(lat), long=str(lon), **fields))
    assert answer.status_code == 201, answer.text
    return answer.json()[0]["service_request_id"]


def near(client: TestClient, fmt: str = "json", **params: str):
    return client.get(f"{API}/requests.{fmt}", params={"lat": str(HERE[0]),
                                                       "long": str(HERE[1]), **params})


@pytest.fixture
def around(city: TestClient, api_key: str) -> dict[str, str]:
    """Potholes 0, ~100 m, ~240 m and ~400 m north of HERE, one closed; a graffiti report at
    HERE."""
    ids = {name: at(city, api_key, HERE[0] + metres / 111_400, HERE[1])
           for name, metres in (("here", 0), ("100m", 100), ("240m", 240), ("400m", 400),
                                ("closed", 50))}
    city.patch(f"{ADMIN_API}/requests/{ids['closed']}", json={"state": "fixed"})
    ids["graffiti"] = city.get(f"{API}/tokens/" + submit(city, {
        "api_key": api_key, "service_code": "graffiti", "lat": str(HERE[0]),
        "long": str(HERE[1])}).json()[0]["token"] + ".json").json()[0]["service_request_id"]
    return ids


def ids_of(answer) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [r["service_request_id"] for r in answer.json()]


def test_open_requests_of_the_service_nearest_first(city: TestClient,
                                                   around: dict[str, str]) -> None:
    found = ids_of(near(city, service_code="pothole", status="open"))
    assert found == [around["here"], around["100m"], around["240m"]], "250 m by default"
    assert ids_of(near(city, service_code="pothole", status="open", radius="150")) == [
        around["here"], around["100m"]]
    assert ids_of(near(city, service_code="pothole", radius="150")) == [
        around["here"], around["closed"], around["100m"]]
    assert ids_of(near(city, status="open", radius="10")) == [
        around["graffiti"], around["here"]], "every service; newest first at one distance"
    assert ids_of(near(city, service_code="pothole", status="open", radius="1000",
                       page_size="2", page="2")) == [around["240m"], around["400m"]]
    root = xml_of(near(city, "xml", service_code="pothole", status="open"))
    assert [r.findtext("service_request_id") for r in root] == found


def test_the_radius_is_geodesic(city: TestClient, api_key: str) -> None:
    """East-west at 60°N a degree of longitude is about half a degree of latitude: a box or a
    flat-earth distance in degrees would get both of these wrong."""
    lon_200m = 200 / geodesic_distance(HERE[1], HERE[0], HERE[1] + 1, HERE[0])
    inside = at(city, api_key, HERE[0], HERE[1] + lon_200m * 0.99)
    outside = at(city, api_key, HERE[0], HERE[1] + lon_200m * 1.01)
    assert ids_of(near(city, radius="200")) == [inside]
    assert outside in ids_of(near(city, radius="205"))


@pytest.mark.parametrize(("params", "description"), [
    ({"lat": "60.17"}, "lat and long go together"),
    ({"radius": "100"}, "lat and long go together"),
    ({"lat": "60.17", "long": "24.92", "radius": "0"}, "radius must be metres"),
    ({"lat": "60.17", "long": "24.92", "radius": "5001"}, "at most 5000"),
    ({"lat": "north", "long": "24.92"}, "must be decimal numbers"),
    ({"lat": "91", "long": "24.92"}, "lat must be from -90 to 90"),
])
def test_bad_nearby_arguments_are_the_specs_errors(city: TestClient, params: dict,
                                                   description: str) -> None:
    answer = city.get(f"{API}/requests.json", params=params)
    assert answer.status_code == 400
    assert description in answer.json()[0]["description"]


def test_a_citizen_joins_an_open_request(city: TestClient, api_key: str,
                                         around: dict[str, str]) -> None:
    path = f"{API}/requests/{around['here']}/followers"
    anonymous = {"Authorization": ""}
    joined = city.post(f"{path}.xml", data={"api_key": api_key, "email": "bo@example.org",
                                            "first_name": "Bo"}, headers=anonymous)
    assert joined.status_code == 201, joined.text
    assert xml_of(joined)[0].findtext("service_request_id") == around["here"]
    people = city.get(f"{ADMIN_API}/requests/{around['here']}/reporters").json()
    assert [(p["role"], p["email"], p["first_name"]) for p in people] == [
        ("reporter", REPORTER["email"], REPORTER["first_name"]),
        ("follower", "bo@example.org", "Bo")]
    assert people[1]["app_key"], "which app vouched for the address"
    refused = [
        (city.post(f"{path}.json", data={"api_key": api_key}, headers=anonymous), 400,
         "email is missing"),
        (city.post(f"{path}.json", data={"email": "bo@example.org"}, headers=anonymous), 403,
         "api_key is missing"),
        (city.post(f"{API}/requests/{around['closed']}/followers.json",
                   data={"api_key": api_key, "email": "bo@example.org"}, headers=anonymous),
         400, "is closed"),
        (city.post(f"{API}/requests/424242/followers.json",
                   data={"api_key": api_key, "email": "bo@example.org"}, headers=anonymous),
         404, "not found"),
    ]
    for answer, status, description in refused:
        assert answer.status_code == status, answer.text
        assert description in answer.json()[0]["description"]
    assert len(city.get(f"{ADMIN_API}/requests/{around['here']}/reporters").json()) == 2


def test_staff_merge_a_duplicate(mailing_city: TestClient,
                                 mailbox: tuple[Mailbox, int]) -> None:
    box, _ = mailbox
    key = app_key(mailing_city)
    kept = at(mailing_city, key, *HERE)
    duplicate = at(mailing_city, key, HERE[0] + 0.0002, HERE[1],
                   email="bo@example.org", first_name="Bo")
    anonymous = {"Authorization": ""}
    mailing_city.post(f"{API}/requests/{duplicate}/followers.json",
                      data={"api_key": key, "email": "cy@example.org"}, headers=anonymous)
    roads_east = staff(mailing_city, "roads-east")
    refused = mailing_city.post(f"{ADMIN_API}/requests/{duplicate}/merge",
                                json={"into": kept}, headers=roads_east)
    assert refused.status_code == 403
    merged = mailing_city.post(f"{ADMIN_API}/requests/{duplicate}/merge",
                               json={"into": kept, "status_notes": "Same hole."},
                               headers=staff(mailing_city, "roads-west"))
    assert merged.status_code == 200, merged.text
    assert merged.json()["duplicate"]["status"] == "closed"
    (gone,) = mailing_city.get(f"{API}/requests/{duplicate}.json?extensions=true").json()
    assert gone["extended_attributes"]["state"] == "closed"
    assert gone["extended_attributes"]["reason"] == "duplicate"
    assert gone["extended_attributes"]["duplicate_of"] == kept
    assert gone["notes"][-1]["description"] == f"Reported before as request {kept}. Same hole."
    (alive,) = mailing_city.get(f"{API}/requests/{kept}.json?extensions=true").json()
    assert alive["status"] == "open"
    assert alive["notes"][-1]["description"] == f"Request {duplicate} was merged into this one."
    people = mailing_city.get(f"{ADMIN_API}/requests/{kept}/reporters").json()
    assert [(p["role"], p["email"]) for p in people] == [
        ("reporter", REPORTER["email"]), ("follower", "bo@example.org"),
        ("follower", "cy@example.org")]
    # The duplicate's people hear it was closed, then everyone on the kept one of the note.
    messages = box.wait_for(5)
    assert sorted(m["To"] for m in messages) == sorted(
        ["bo@example.org", "cy@example.org", REPORTER["email"], "bo@example.org",
         "cy@example.org"])
    closing = box.to("cy@example.org")[0]
    assert closing["Subject"].endswith("is closed (a duplicate of another report)")
    assert f"It was reported before as request {kept}" in closing.get_content()
    mailing_city.patch(f"{ADMIN_API}/requests/{kept}", json={"state": "fixed"})
    box.wait_for(5 + 3)
    assert {m["To"] for m in box.messages[-3:]} == {REPORTER["email"], "bo@example.org",
                                                     "cy@example.org"}


def test_merging_is_refused_when_it_makes_no_sense(city: TestClient, api_key: str) -> None:
    first, second = at(city, api_key, *HERE), at(city, api_key, *HERE)
    merge = f"{ADMIN_API}/requests/{first}/merge"
    assert city.post(merge, json={"into": first}).status_code == 400
    assert city.post(merge, json={"into": "424242"}).status_code == 404
    assert city.post(merge, json={"into": 5}).status_code == 400
    city.patch(f"{ADMIN_API}/requests/{second}", json={"state": "fixed"})
    refused = city.post(merge, json={"into": second})
    assert refused.status_code == 400 and "reopen it before" in refused.json()["detail"]
    (still,) = city.get(f"{API}/requests/{first}.json").json()
    assert still["status"] == "open"
