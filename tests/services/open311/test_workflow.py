"""The workflow: staff of the department a request is routed to move it through acknowledged,
in progress, fixed, closed with a reason and reopened, each move with its public note and time;
GeoReport's status stays open|closed; expected_datetime comes from the service's expected
resolution time; mySociety's servicerequestupdates lists every change by time, in both
formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from madina.services.open311.errors import Open311Error
from madina.services.open311.workflow import MOVES, STATES, Move, check_move, update_status
from tests.services.open311.conftest import (
    ADMIN_API,
    API,
    CATALOGUE,
    children,
    pothole,
    staff,
    submit,
    xml_of,
)

UPDATES = f"{API}/servicerequestupdates"


def move(client: TestClient, request_id: str, body: dict, headers: dict | None = None):
    return client.patch(f"{ADMIN_API}/requests/{request_id}", json=body, headers=headers or {})


def public(client: TestClient, request_id: str) -> dict:
    (request,) = client.get(f"{API}/requests/{request_id}.json?extensions=true").json()
    return request


def test_a_request_moves_through_the_workflow_with_public_notes(city: TestClient,
                                                               api_key: str) -> None:
    request_id = submit(city, pothole(api_key)).json()[0]["service_request_id"]
    roads_west = staff(city, "roads-west")
    steps = [({"state": "acknowledged", "status_notes": "Thanks, we have it"}, "open"),
             ({"state": "in_progress"}, "open"),
             ({"status_notes": "The crew is on its way"}, "open"),
             ({"state": "fixed", "status_notes": "Filled"}, "closed"),
             ({"state": "reopened", "status_notes": "It opened again"}, "open"),
             ({"state": "closed", "reason": "no_further_action"}, "closed")]
    for body, status in steps:
        answer = move(city, request_id, body, roads_west)
        assert answer.status_code == 200, (body, answer.text)
        assert answer.json()["status"] == status
    request = public(city, request_id)
    assert request["status"] == "closed" and request["status_notes"] is None
    assert request["extended_attributes"]["state"] == "closed"
    assert request["extended_attributes"]["reason"] == "no_further_action"
    assert [(n["state"], n["status"], n["reason"], n["description"])
            for n in request["notes"]] == [
        ("open", "open", None, None),
        ("acknowledged", "open", None, "Thanks, we have it"),
        ("in_progress", "open", None, None),
        ("in_progress", "open", None, "The crew is on its way"),
        ("fixed", "closed", None, "Filled"),
        ("reopened", "open", None, "It opened again"),
        ("closed", "closed", "no_further_action", None)]
    times = [n["datetime"] for n in request["notes"]]
    assert times == sorted(times) and times[-1] == request["updated_datetime"]
    assert "mia" not in str(request), "who moved it is not public"
    entity = city.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:Open311ServiceRequest:{request_id}",
                      params={"options": "keyValues"}).json()
    assert entity["status"] == "closed"


@pytest.mark.parametrize(("state", "body", "refusal"), [
    ("open", {"state": "reopened"}, "can move to acknowledged, in_progress, fixed, closed, "
                                    "not reopened"),
    ("open", {"state": "open"}, "the request is open already"),
    ("open", {"state": "acknowledged", "reason": "fixed"}, "a reason goes with closing"),
    ("open", {"reason": "duplicate"}, "an update needs a new state, a public note, or both"),
    ("closed", {"state": "in_progress"}, "can move to reopened, not in_progress"),
    ("fixed", {"state": "acknowledged"}, "can move to closed, reopened, not acknowledged"),
])
def test_moves_the_workflow_does_not_allow_are_refused(city: TestClient, api_key: str,
                                                        state: str, body: dict,
                                                        refusal: str) -> None:
    request_id = submit(city, pothole(api_key)).json()[0]["service_request_id"]
    if state != "open":
        assert move(city, request_id, {"state": state}).status_code == 200
    before = public(city, request_id)
    refused = move(city, request_id, body)
    assert refused.status_code == 400
    assert refusal in refused.json()["detail"]
    assert public(city, request_id) == before, "nothing changed"


def test_every_state_moves_as_the_table_says() -> None:
    for current in STATES:
        for target in STATES:
            allowed = target in MOVES[current]
            try:
                check_move(current, Move(target))
                moved = True
            except Open311Error:
                moved = False
            assert moved == allowed, (current, target)


def test_bad_bodies_are_400(city: TestClient, api_key: str) -> None:
    request_id = submit(city, pothole(api_key)).json()[0]["service_request_id"]
    for body in ({}, {"state": "done"}, {"reason": "lazy", "state": "closed"},
                 {"state": "closed", "owner": "x"}, {"status_notes": "x" * 4001},
                 {"status_notes": "bell\x07"}, [], "closed"):
        assert move(city, request_id, body).status_code == 400, body
    assert move(city, "424242", {"state": "closed"}).status_code == 404


def test_only_staff_of_the_department_move_it(city: TestClient, api_key: str) -> None:
    request_id = submit(city, pothole(api_key)).json()[0]["service_request_id"]
    refused = move(city, request_id, {"state": "acknowledged"}, staff(city, "roads-east"))
    assert refused.status_code == 403
    assert "handled by Roads West" in refused.json()["detail"]
    assert public(city, request_id)["extended_attributes"]["state"] == "open"
    assert move(city, request_id, {"state": "acknowledged"},
                staff(city, "roads-west")).status_code == 200


def test_expected_datetime_comes_from_the_service(client: TestClient, api_key_for_fast: str
                                                  ) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    request_id = submit(client, pothole(api_key_for_fast)).json()[0]["service_request_id"]
    request = public(client, request_id)
    expected = datetime.fromisoformat(request["expected_datetime"])
    assert before + timedelta(hours=48) <= expected <= datetime.now(UTC) + timedelta(hours=48)
    assert move(client, request_id, {"state": "fixed"}).status_code == 200
    assert public(client, request_id)["expected_datetime"] == request["expected_datetime"]
    assert move(client, request_id, {"state": "reopened"}).status_code == 200
    reopened = public(client, request_id)
    assert datetime.fromisoformat(reopened["expected_datetime"]) >= \
        datetime.fromisoformat(reopened["updated_datetime"]) + timedelta(hours=48)
    graffiti = submit(client, {"api_key": api_key_for_fast, "service_code": "graffiti",
                               "lat": "60.17", "long": "24.98"}).json()[0]["token"]
    graffiti_id = client.get(f"{API}/tokens/{graffiti}.json").json()[0]["service_request_id"]
    assert public(client, graffiti_id)["expected_datetime"] is None, "no expectation set"


@pytest.fixture
def api_key_for_fast(client: TestClient) -> str:
    """A city whose potholes are expected fixed within 48 hours."""
    catalogue = {**CATALOGUE, "services": [
        {**CATALOGUE["services"][0], "expected_resolution_hours": 48},
        *CATALOGUE["services"][1:]]}
    assert client.put(f"{ADMIN_API}/catalogue", json=catalogue).status_code == 200
    bad = {**catalogue["services"][0], "expected_resolution_hours": -1}
    refused = client.put(f"{ADMIN_API}/services/pothole", json=bad)
    assert refused.status_code == 400
    assert "expected_resolution_hours must be a number of hours" in refused.json()["detail"]
    return client.post(f"{ADMIN_API}/keys", json={"name": "app"}).json()["secret"]


def test_servicerequestupdates_lists_changes_by_time(city: TestClient, api_key: str) -> None:
    first = submit(city, pothole(api_key)).json()[0]["service_request_id"]
    second = submit(city, pothole(api_key)).json()[0]["service_request_id"]
    assert city.get(f"{UPDATES}.json").json() == [], "a submission is not an update"
    move(city, first, {"state": "acknowledged", "status_notes": "Seen"})
    move(city, second, {"state": "closed", "reason": "duplicate"})
    move(city, first, {"state": "closed", "reason": "not_responsible",
                       "status_notes": "The state's road"})
    updates = city.get(f"{UPDATES}.json").json()
    assert [(u["service_request_id"], u["status"], u["external_status_code"], u["description"])
            for u in updates] == [
        (first, "investigating", "acknowledged", "Seen"),
        (second, "duplicate", "closed", None),
        (first, "not_councils_responsibility", "closed", "The state's road")]
    ids = [u["update_id"] for u in updates]
    assert len(set(ids)) == 3 and all(i.isdigit() for i in ids)
    assert all(u["updated_datetime"].endswith("Z") for u in updates)
    root = xml_of(city.get(f"{UPDATES}.xml"))
    assert root.tag == "service_request_updates" and children(root) == ["request_update"] * 3
    assert children(root[0]) == ["update_id", "service_request_id", "status",
                                 "updated_datetime", "description", "media_url",
                                 "external_status_code"]
    assert root[1].findtext("status") == "duplicate"
    later = updates[1]["updated_datetime"]
    since = city.get(f"{UPDATES}.json", params={"start_date": later}).json()
    assert [u["update_id"] for u in since][-2:] == ids[1:]
    past = city.get(f"{UPDATES}.json", params={"end_date": "2020-01-01T00:00:00Z"}).json()
    assert past == []
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert city.get(f"{UPDATES}.json", params={"start_date": future}).json() == []
    assert len(city.get(f"{UPDATES}.json", params={"page_size": "2"}).json()) == 2
    assert city.get(f"{UPDATES}.json", params={"page_size": "2", "page": "2"}).json()[0][
        "update_id"] == ids[2]


@pytest.mark.parametrize(("params", "description"), [
    ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
     "at most 90 days apart"),
    ({"start_date": "yesterday"}, "start_date must be an ISO 8601 date-time"),
    ({"end_date": "2026-01-01T00:00:00Z", "start_date": "2026-02-01T00:00:00Z"},
     "start_date is after end_date"),
    ({"page_size": "0"}, "page_size must be a whole number"),
])
def test_bad_update_windows_are_the_specs_errors(city: TestClient, params: dict,
                                                 description: str) -> None:
    for fmt in ("json", "xml"):
        answer = city.get(f"{UPDATES}.{fmt}", params=params)
        assert answer.status_code == 400
    errors = city.get(f"{UPDATES}.json", params=params).json()
    assert errors[0]["code"] == "400" and description in errors[0]["description"]


def test_update_statuses_follow_mysociety() -> None:
    assert update_status("open", None) == "open"
    assert update_status("in_progress", None) == "in_progress"
    assert update_status("fixed", None) == "fixed"
    assert update_status("closed", "fixed") == "fixed"
    assert update_status("closed", None) == "closed"
    assert update_status("reopened", None) == "reopen"
