"""Privacy: a reporter's e-mail, name, phone, device and account never appear in any public
answer — GeoReport in both formats (requests, nearby requests, servicerequestupdates, the
extensions), the submission's and the follower's own answers, the NGSI-LD entity — and only the
staff of the department a request is routed to (or an admin) read them, each reading recorded
in the audit log."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from madina.auth.principal import Principal, Role, Via
from tests.services.open311.conftest import (
    ADMIN_API,
    API,
    INSIDE_EAST,
    REPORTER,
    pothole,
    submit,
)

NGSI = "/ngsi-ld/v1"


def token_for(client: TestClient, name: str, *roles: Role,
              departments: tuple[str, ...] = ()) -> dict[str, str]:
    principal = Principal(name, "", frozenset(roles), Via.PASSWORD,
                          departments=frozenset(departments))
    return {"Authorization": f"Bearer {client.app.state.auth.signer.issue(principal, None)}"}


@pytest.fixture
def reported(city: TestClient, api_key: str) -> dict[str, str]:
    """A pothole in the west (an app with a key) and a graffiti report (a signed-in citizen,
    batch: answered with a token); their ids, and every answer the submitters saw."""
    west = submit(city, pothole(api_key))
    form = {"service_code": "graffiti", **INSIDE_EAST, **REPORTER}
    graffiti = city.post(f"{API}/requests.xml", data=form,
                         headers=token_for(city, "ana", Role.CITIZEN))
    assert west.status_code == graffiti.status_code == 201, (west.text, graffiti.text)
    token = graffiti.text.split("<token>")[1].split("</token>")[0]
    graffiti_id = city.get(f"{API}/tokens/{token}.json").json()[0]["service_request_id"]
    west_id = west.json()[0]["service_request_id"]
    follower = city.post(f"{API}/requests/{west_id}/followers.xml",
                         data={"api_key": api_key, **REPORTER}, headers={"Authorization": ""})
    moved = city.patch(f"{ADMIN_API}/requests/{west_id}",
                       json={"state": "in_progress", "status_notes": "On it"})
    assert follower.status_code in (200, 201) and moved.status_code == 200
    return {"west": west_id, "graffiti": graffiti_id, "token": token,
            "answers": west.text + graffiti.text + follower.text}


def public_outputs(client: TestClient, ids: dict[str, str]) -> list[str]:
    """Every public answer about the requests, fetched without any credential."""
    anonymous = {"Authorization": ""}
    paths = []
    for fmt in ("json", "xml"):
        paths += [f"{API}/discovery.{fmt}", f"{API}/services.{fmt}",
                  f"{API}/services/pothole.{fmt}", f"{API}/requests.{fmt}",
                  f"{API}/requests.{fmt}?extensions=true",
                  f"{API}/requests.{fmt}?lat=60.17&long=24.92&radius=5000&extensions=true",
                  f"{API}/servicerequestupdates.{fmt}",
                  f"{API}/tokens/{ids['token']}.{fmt}"]
        for request_id in (ids["west"], ids["graffiti"]):
            paths += [f"{API}/requests/{request_id}.{fmt}",
                      f"{API}/requests/{request_id}.{fmt}?extensions=true"]
    paths += [f"{NGSI}/entities?type=Open311ServiceRequest",
              f"{NGSI}/entities?type=Open311ServiceRequest&options=keyValues",
              f"{NGSI}/entities?type=Open311ServiceRequest&options=sysAttrs"]
    for request_id in (ids["west"], ids["graffiti"]):
        paths.append(f"{NGSI}/entities/urn:ngsi-ld:Open311ServiceRequest:{request_id}")
    outputs = []
    for path in paths:
        answer = client.get(path, headers=anonymous)
        assert answer.status_code == 200, (path, answer.text)
        outputs.append(answer.text)
    assert ids["west"] in "".join(outputs) and "On it" in "".join(outputs)
    return outputs


def test_no_personal_data_in_any_public_output(city: TestClient,
                                               reported: dict[str, str]) -> None:
    outputs = [reported["answers"], *public_outputs(city, reported)]
    for text in outputs:
        for field, value in REPORTER.items():
            assert value not in text, f"{field} leaked"
    entity = city.get(f"{NGSI}/entities/urn:ngsi-ld:Open311ServiceRequest:{reported['west']}",
                      params={"options": "keyValues"}).json()
    assert not set(entity) & {"email", "first_name", "last_name", "phone", "device_id",
                              "account_id"}


def test_department_staff_read_contact_of_their_requests_only(
        city: TestClient, reported: dict[str, str]) -> None:
    west = f"{ADMIN_API}/requests/{reported['west']}/reporters"
    roads_west = token_for(city, "mia", Role.DEPARTMENT, departments=("roads-west",))
    answer = city.get(west, headers=roads_west)
    assert answer.status_code == 200, answer.text
    (reporter,) = answer.json()
    assert {k: reporter[k] for k in REPORTER} == REPORTER
    assert reporter["app_key"] and reporter["subject"] is None
    roads_east = token_for(city, "eli", Role.DEPARTMENT, departments=("roads-east",))
    refused = city.get(west, headers=roads_east)
    assert refused.status_code == 403
    assert "handled by Roads West" in refused.json()["detail"]
    for role in (Role.OPERATOR, Role.CITIZEN):
        assert city.get(west, headers=token_for(city, "x", role)).status_code == 403
    graffiti = city.get(f"{ADMIN_API}/requests/{reported['graffiti']}/reporters",
                        headers=token_for(city, "pia", Role.DEPARTMENT,
                                          departments=("parks",)))
    assert graffiti.json()[0]["subject"] == "ana", "the signed-in citizen is linked"
    assert city.get(west).status_code == 200, "an admin handles every department"
    missing = city.get(f"{ADMIN_API}/requests/424242/reporters", headers=roads_west)
    assert missing.status_code == 404


def test_every_reading_of_contact_details_is_audited(city: TestClient,
                                                     reported: dict[str, str]) -> None:
    staff = token_for(city, "mia", Role.DEPARTMENT, departments=("roads-west",))
    city.get(f"{ADMIN_API}/requests/{reported['west']}/reporters", headers=staff)
    city.get(f"{ADMIN_API}/requests/{reported['west']}/reporters",
             headers=token_for(city, "eli", Role.DEPARTMENT, departments=("roads-east",)))
    entries = [e for e in city.get("/auth/audit").json() if e["action"] == "personal_data"]
    assert [(e["subject"], e["detail"], e["entityIds"]) for e in entries] == [
        ("mia", f"reporter contact of service request {reported['west']}",
         [f"urn:ngsi-ld:Open311ServiceRequest:{reported['west']}"])]
