"""GDPR: a person's data — reporter and follower rows, alerts, waiting e-mails — is exported as
one JSON document and erased on request, by admins through the API or from the shell; the
public requests stay, shown as anonymous; every access is in the audit log. A reporter chooses
at submission whether to be named publicly (first name and last initial) or not (the default)."""

from __future__ import annotations

import orjson
import pytest
from starlette.testclient import TestClient

from madina.app import create_app
from madina.auth.principal import Role
from madina.cli import main
from madina.config import Settings
from tests.services.open311.conftest import (
    ADMIN_API,
    API,
    CATALOGUE,
    REPORTER,
    app_key,
    pothole,
    submit,
)
from tests.services.open311.test_privacy import token_for

EXPORT = f"{ADMIN_API}/personal-data/export"
ERASE = f"{ADMIN_API}/personal-data/erase"
NGSI = "/ngsi-ld/v1/entities/urn:ngsi-ld:Open311ServiceRequest:"


def public(client: TestClient, request_id: str) -> dict:
    (request,) = client.get(f"{API}/requests/{request_id}.json?extensions=true",
                            headers={"Authorization": ""}).json()
    return request


@pytest.fixture
def ana(city: TestClient, api_key: str) -> dict[str, str]:
    """Ana reported two potholes (one named publicly) and follows a third request."""
    named = submit(city, pothole(api_key, anonymous="false")).json()[0]["service_request_id"]
    quiet = submit(city, pothole(api_key)).json()[0]["service_request_id"]
    other = submit(city, pothole(api_key, email="bo@example.org", first_name="Bo",
                                 last_name="Berg", phone="+358400000000")
                   ).json()[0]["service_request_id"]
    joined = city.post(f"{API}/requests/{other}/followers.json",
                       data={"api_key": api_key, "email": REPORTER["email"]},
                       headers={"Authorization": ""})
    assert joined.status_code == 201
    return {"named": named, "quiet": quiet, "other": other}


def test_a_reporter_chooses_to_be_named(city: TestClient, ana: dict[str, str]) -> None:
    assert public(city, ana["named"])["extended_attributes"]["reported_by"] == "Ana V."
    assert public(city, ana["quiet"])["extended_attributes"]["reported_by"] == "anonymous"
    entity = city.get(f"{NGSI}{ana['named']}", params={"options": "keyValues"}).json()
    assert "Ana" not in orjson.dumps(entity).decode(), "never in the entity"


def test_export_holds_everything_about_the_person(city: TestClient,
                                                  ana: dict[str, str]) -> None:
    answer = city.post(EXPORT, json={"email": REPORTER["email"]})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    found = answer.json()
    assert found["found_by"] == {"email": REPORTER["email"]}
    assert [(r["service_request_id"], r["role"]) for r in found["requests"]] == [
        (ana["named"], "reporter"), (ana["quiet"], "reporter"), (ana["other"], "follower")]
    first = found["requests"][0]
    assert first["contact"] == {**REPORTER}
    assert first["request"]["shown_as"] == "Ana V."
    assert first["request"]["description"] == "A deep hole near the tram stop"
    assert first["app_key"]
    assert "bo@example.org" not in answer.text, "nobody else's data"
    by_phone = city.post(EXPORT, json={"phone": REPORTER["phone"]}).json()
    assert [r["service_request_id"] for r in by_phone["requests"]] == [ana["named"],
                                                                      ana["quiet"]]
    assert city.post(EXPORT, json={"email": "nobody@example.org"}).json()["requests"] == []


def test_erasure_leaves_the_public_requests_anonymous(city: TestClient,
                                                      ana: dict[str, str]) -> None:
    before = {name: public(city, request_id) for name, request_id in ana.items()}
    answer = city.post(ERASE, json={"email": REPORTER["email"]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["reporter_rows_erased"] == 3
    assert answer.json()["requests_now_anonymous"] == [ana["named"]]
    after = {name: public(city, request_id) for name, request_id in ana.items()}
    assert after["named"]["extended_attributes"]["reported_by"] == "anonymous"
    for name in ana:
        kept = {k: v for k, v in after[name].items() if k != "extended_attributes"}
        assert kept == {k: v for k, v in before[name].items() if k != "extended_attributes"}
        assert city.get(f"{NGSI}{ana[name]}").status_code == 200
    staff_view = city.get(f"{ADMIN_API}/requests/{ana['named']}/reporters").json()
    assert staff_view == []
    other = city.get(f"{ADMIN_API}/requests/{ana['other']}/reporters").json()
    assert [p["email"] for p in other] == ["bo@example.org"], "Bo is untouched"
    assert city.post(EXPORT, json={"email": REPORTER["email"]}).json()["requests"] == []


def test_only_admins_and_every_access_is_audited(city: TestClient,
                                                ana: dict[str, str]) -> None:
    for role in (Role.DEPARTMENT, Role.OPERATOR, Role.CITIZEN):
        headers = token_for(city, "x", role, departments=("roads-west",))
        assert city.post(EXPORT, json={"email": REPORTER["email"]},
                         headers=headers).status_code == 403
    city.post(EXPORT, json={"email": REPORTER["email"]})
    city.post(ERASE, json={"email": REPORTER["email"]})
    entries = [e for e in city.get("/auth/audit").json() if e["action"] == "personal_data"]
    assert [e["detail"] for e in entries] == [  # newest first
        "Open311 personal data erasure of one person (by email)",
        "Open311 personal data export of one person (by email)"]
    assert sorted(entries[1]["entityIds"]) == sorted(
        f"urn:ngsi-ld:Open311ServiceRequest:{i}" for i in ana.values())
    assert REPORTER["email"] not in orjson.dumps(city.get("/auth/audit").json()).decode(), \
        "the audit log names no one's e-mail address"


@pytest.mark.parametrize("body", [{}, {"email": ""}, {"email": 5},
                                  {"email": "a@b.c", "phone": "1"}, {"name": "Ana"}, []])
def test_bad_bodies_are_400(city: TestClient, body) -> None:
    assert city.post(EXPORT, json=body).status_code == 400
    assert city.post(ERASE, json=body).status_code == 400


def test_anonymous_must_be_a_choice(city: TestClient, api_key: str) -> None:
    bad = submit(city, pothole(api_key, anonymous="maybe"))
    assert bad.status_code == 400 and "anonymous must be true or false" in bad.text
    nameless = dict(pothole(api_key, anonymous="false"))
    nameless.pop("first_name")
    refused = submit(city, nameless)
    assert refused.status_code == 400 and "it needs first_name" in refused.text


def test_the_cli_exports_and_erases(settings: Settings, capsys) -> None:
    admin = {"Authorization": f"Bearer {settings.admin_token}"}
    with TestClient(create_app(settings), headers=admin) as client:
        client.put(f"{ADMIN_API}/catalogue", json=CATALOGUE)
        request_id = submit(client, pothole(app_key(client), anonymous="false")
                            ).json()[0]["service_request_id"]
    database = settings.store_database
    capsys.readouterr()  # the app's log lines
    assert main(["open311", "export", "--email", REPORTER["email"], "--db", database]) == 0
    found = orjson.loads(capsys.readouterr().out)
    assert [r["service_request_id"] for r in found["requests"]] == [request_id]
    assert main(["open311", "erase", "--email", REPORTER["email"], "--db", database]) == 0
    assert "1 requests now shown as anonymous" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="exactly one of"):
        main(["open311", "export", "--db", database])
    with TestClient(create_app(settings), headers=admin) as client:
        assert public(client, request_id)["extended_attributes"]["reported_by"] == "anonymous"
        entries = [e for e in client.get("/auth/audit").json()
                   if e["action"] == "personal_data"]
        assert [(e["subject"].startswith("cli:"), e["detail"]) for e in entries] == [
            (True, "Open311 personal data erasure of one person (by email)"),
            (True, "Open311 personal data export of one person (by email)")]
