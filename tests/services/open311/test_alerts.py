"""Area alerts: anyone (through an app with an api_key, or signed in) asks to be e-mailed about
new requests in an area — a point and a radius, or a polygon — of every service or some;
nothing is sent before the address confirms with the mailed link; every alert e-mail carries the
link (and List-Unsubscribe) that ends it."""

from __future__ import annotations

import re
import time

import orjson
import pytest
from starlette.testclient import TestClient

from tests.services.open311.conftest import (
    API,
    EAST,
    INSIDE_EAST,
    Mailbox,
    app_key,
    pothole,
    submit,
    xml_of,
)

ANONYMOUS = {"Authorization": ""}
LINK = re.compile(r"https://city\.example/open311/v2/alerts/(confirm|unsubscribe)/"
                  r"([A-Za-z0-9_-]+)\.json\?jurisdiction_id=city\.example")


def links_in(message) -> dict[str, str]:
    return {kind: token for kind, token in LINK.findall(message.get_content())}


def subscribe(client: TestClient, key: str, **fields: str):
    return client.post(f"{API}/alerts.json", data={"api_key": key, **fields},
                       headers=ANONYMOUS)


def test_an_alert_mails_new_requests_in_its_circle_once_confirmed(
        mailing_city: TestClient, mailbox: tuple[Mailbox, int]) -> None:
    box, _ = mailbox
    key = app_key(mailing_city)
    answer = subscribe(mailing_city, key, email="eve@example.org", lat="60.17",
                       long="24.92", radius="300")
    assert answer.status_code == 201, answer.text
    assert answer.json()[0]["status"] == "unconfirmed"
    (confirmation,) = box.wait_for(1)
    assert confirmation["To"] == "eve@example.org"
    assert "confirm your alert" in confirmation["Subject"]
    tokens = links_in(confirmation)
    assert set(tokens) == {"confirm", "unsubscribe"}
    submit(mailing_city, pothole(key))  # at 60.17, 24.92: inside, but not confirmed yet
    time.sleep(0.5)
    assert len(box.messages) == 1, "nothing before confirmation"
    confirmed = mailing_city.get(f"{API}/alerts/confirm/{tokens['confirm']}.json",
                                 headers=ANONYMOUS)
    assert confirmed.status_code == 200 and confirmed.json()[0]["status"] == "confirmed"
    request_id = submit(mailing_city, pothole(key, description="Deep one")
                        ).json()[0]["service_request_id"]
    submit(mailing_city, pothole(key, lat="60.19"))  # 2 km north: outside
    (_, alert) = box.wait_for(2)
    assert alert["To"] == "eve@example.org"
    assert alert["Subject"] == "City of Example: new report — Pothole"
    body = alert.get_content()
    assert "Deep one" in body and f"requests/{request_id}.json" in body
    assert "ana.virtanen" not in body, "no reporter's data in alerts"
    unsubscribe = f"https://city.example/open311/v2/alerts/unsubscribe/{tokens['unsubscribe']}"
    assert alert["List-Unsubscribe"] == f"<{unsubscribe}.json?jurisdiction_id=city.example>"
    assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    time.sleep(0.5)
    assert len(box.messages) == 2, "the request outside the circle mailed nobody"
    ended = mailing_city.post(f"{API}/alerts/unsubscribe/{tokens['unsubscribe']}.xml",
                              headers=ANONYMOUS)
    assert ended.status_code == 200
    assert xml_of(ended)[0].findtext("status") == "ended"
    submit(mailing_city, pothole(key))
    time.sleep(0.5)
    assert len(box.messages) == 2, "an ended alert mails nothing"
    again = mailing_city.get(f"{API}/alerts/unsubscribe/{tokens['unsubscribe']}.json",
                             headers=ANONYMOUS)
    assert again.status_code == 404


def test_a_polygon_alert_for_some_services(mailing_city: TestClient,
                                           mailbox: tuple[Mailbox, int]) -> None:
    box, _ = mailbox
    key = app_key(mailing_city)
    assert subscribe(mailing_city, key, email="eve@example.org",
                     area=orjson.dumps(EAST).decode(),
                     service_code="graffiti").status_code == 201
    (confirmation,) = box.wait_for(1)
    token = links_in(confirmation)["confirm"]
    assert mailing_city.get(f"{API}/alerts/confirm/{token}.json").status_code == 200
    submit(mailing_city, pothole(key, **INSIDE_EAST))  # east, but a pothole
    submit(mailing_city, {"api_key": key, "service_code": "graffiti", "lat": "60.17",
                          "long": "24.92"})  # graffiti, but west
    submit(mailing_city, {"api_key": key, "service_code": "graffiti", **INSIDE_EAST})
    (_, alert) = box.wait_for(2)
    assert alert["Subject"].endswith("Graffiti")
    time.sleep(0.5)
    assert len(box.messages) == 2


@pytest.mark.parametrize(("fields", "description"), [
    ({"lat": "60.17", "long": "24.92", "radius": "300"}, "email must be"),
    ({"email": "eve@example.org"}, "the area is missing"),
    ({"email": "eve@example.org", "lat": "60.17", "long": "24.92", "radius": "30000"},
     "radius must be metres, above 0 and at most 20000"),
    ({"email": "eve@example.org", "lat": "60.17", "radius": "300"}, "lat and long must be"),
    ({"email": "eve@example.org", "area": "{\"type\": \"Point\"}"},
     "area must be a GeoJSON Polygon or MultiPolygon"),
    ({"email": "eve@example.org", "area": "not json"}, "area must be GeoJSON"),
    ({"email": "eve@example.org", "lat": "10", "long": "10", "radius": "300"},
     "the area lies outside City of Example"),
    ({"email": "eve@example.org", "lat": "60.17", "long": "24.92", "radius": "300",
      "service_code": "pothole,elephant"}, "service_code names no service: elephant"),
])
def test_bad_alerts_are_the_specs_errors(mailing_city: TestClient,
                                         mailbox: tuple[Mailbox, int], fields: dict,
                                         description: str) -> None:
    box, _ = mailbox
    answer = subscribe(mailing_city, app_key(mailing_city), **fields)
    assert answer.status_code == 400, answer.text
    assert any(description in e["description"] for e in answer.json()), answer.json()
    time.sleep(0.3)
    assert box.messages == [], "no confirmation for a refused alert"


def test_alerts_need_a_key_and_an_smtp_server(city: TestClient, api_key: str) -> None:
    fields = {"email": "eve@example.org", "lat": "60.17", "long": "24.92", "radius": "300"}
    refused = city.post(f"{API}/alerts.json", data=fields, headers=ANONYMOUS)
    assert refused.status_code == 403
    unavailable = subscribe(city, api_key, **fields)
    assert unavailable.status_code == 503
    assert "no SMTP server" in unavailable.json()[0]["description"]
    assert city.get(f"{API}/alerts/confirm/nope.json").status_code == 404
