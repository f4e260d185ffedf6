"""A small city for the Open311 tests: a square jurisdiction split between two road
departments (west and east halves), a parks department for graffiti everywhere, services with
every attribute datatype, and an app's api_key."""

from __future__ import annotations

import functools
import socket
import threading
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import orjson
import pytest
from aiosmtpd.controller import Controller
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from starlette.testclient import TestClient

from madina.app import create_app
from madina.auth.principal import Principal, Role, Via
from madina.config import Settings

ADMIN_API = "/open311/v2/admin"
API = "/open311/v2"
# The city: lon 24.90-25.00, lat 60.15-60.20.
CITY = {"type": "Polygon", "coordinates": [[[24.90, 60.15], [25.00, 60.15], [25.00, 60.20],
                                            [24.90, 60.20], [24.90, 60.15]]]}
WEST = {"type": "Polygon", "coordinates": [[[24.90, 60.15], [24.95, 60.15], [24.95, 60.20],
                                            [24.90, 60.20], [24.90, 60.15]]]}
EAST = {"type": "Polygon", "coordinates": [[[24.95, 60.15], [25.00, 60.15], [25.00, 60.20],
                                            [24.95, 60.20], [24.95, 60.15]]]}
INSIDE_WEST = {"lat": "60.17", "long": "24.92"}
INSIDE_EAST = {"lat": "60.17", "long": "24.98"}
OUTSIDE = {"lat": "60.30", "long": "24.92"}
REPORTER = {"email": "ana.virtanen@example.org", "first_name": "Ana", "last_name": "Virtanen",
            "phone": "+358401234567", "device_id": "device-8c1f", "account_id": "acct-5521"}
"""Personal data a submission carries: none of it may appear in any public output."""

CATALOGUE: dict[str, Any] = {
    "jurisdiction": {"jurisdiction_id": "city.example", "name": "City of Example",
                     "boundary": CITY, "contact": "open311@city.example",
                     "key_service": "https://city.example/open311/keys",
                     "service_notice": "We look at every report within a week."},
    "groups": [{"code": "streets", "name": "Streets"}, {"code": "parks", "name": "Parks"}],
    "services": [
        {"service_code": "pothole", "service_name": "Pothole", "description": "A hole in a road",
         "type": "realtime", "keywords": ["road", "hole"], "group": "streets",
         "service_notice": "Potholes are filled within 48 hours.",
         "attributes": [
             {"code": "size", "datatype": "singlevaluelist", "required": True,
              "description": "How big is it?", "order": 1,
              "values": [{"key": "s", "name": "Small"}, {"key": "l", "name": "Large"}]},
             {"code": "depth", "datatype": "number", "order": 2,
              "datatype_description": "centimetres"},
             {"code": "seen", "datatype": "datetime", "order": 3},
             {"code": "lanes", "datatype": "multivaluelist", "order": 4,
              "values": [{"key": "n", "name": "North"}, {"key": "s", "name": "South"}]},
             {"code": "note", "datatype": "text", "order": 5},
             {"code": "plate", "datatype": "string", "order": 6},
             {"code": "info", "datatype": "text", "variable": False, "order": 7,
              "description": "Do not stand in the road."},
         ]},
        {"service_code": "graffiti", "service_name": "Graffiti", "type": "batch",
         "group": "parks"},
        {"service_code": "noise", "service_name": "Noise", "type": "blackbox"},
    ],
    "departments": [
        {"code": "roads-west", "name": "Roads West",
         "service_areas": [{"service_code": "pothole", "area": WEST}]},
        {"code": "roads-east", "name": "Roads East",
         "service_areas": [{"service_code": "pothole", "area": EAST}]},
        {"code": "parks", "name": "Parks Department",
         "service_areas": [{"service_code": "graffiti", "area": CITY},
                           {"service_code": "noise", "area": CITY}]},
    ],
}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The engine's settings, with uploaded photos kept in the test's own directory (with
    PostgreSQL they would go to the working directory)."""
    return settings.model_copy(update={"open311_media_dir": str(tmp_path / "media")})


@pytest.fixture
def city(client: TestClient) -> TestClient:
    """The admin client, with the catalogue loaded in the default tenant."""
    answer = client.put(f"{ADMIN_API}/catalogue", json=CATALOGUE)
    assert answer.status_code == 200, answer.text
    return client


@pytest.fixture
def api_key(city: TestClient) -> str:
    answer = city.post(f"{ADMIN_API}/keys", json={"name": "a city app"})
    assert answer.status_code == 201, answer.text
    return answer.json()["secret"]


def pothole(api_key: str, **fields: str) -> dict[str, str]:
    """A valid pothole submission in the west half, with a reporter's personal data."""
    return {"api_key": api_key, "service_code": "pothole", "attribute[size]": "l",
            "description": "A deep hole near the tram stop", **INSIDE_WEST, **REPORTER,
            **fields}


def submit(client: TestClient, form: dict[str, str], fmt: str = "json",
           anonymous: bool = True) -> Any:
    """POST a form; anonymous by default (an app with only its api_key)."""
    headers = {"Authorization": ""} if anonymous else {}
    return client.post(f"{API}/requests.{fmt}", data=form, headers=headers)


SCHEMAS = Path(__file__).parent / "schemas"


@functools.cache
def _registry() -> Registry:
    resources = [(path.name, Resource.from_contents(orjson.loads(path.read_bytes()),
                                                    default_specification=DRAFT7))
                 for path in SCHEMAS.glob("*.json")]
    return Registry().with_resources(resources)


def assert_valid(document: Any, schema_file: str) -> None:
    """`document` conforms to the Open311 JSON Schema in `schema_file` (shipped copies of
    github.com/open311/schema-validation, schema/georeport-v2/)."""
    schema = orjson.loads((SCHEMAS / schema_file).read_bytes())
    Draft7Validator(schema, registry=_registry(),
                    format_checker=Draft7Validator.FORMAT_CHECKER).validate(document)


def xml_of(answer: Any) -> ElementTree.Element:
    """The XML document of an answer, which must declare UTF-8 and be text/xml."""
    assert answer.headers["content-type"] == "text/xml; charset=utf-8"
    assert answer.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ElementTree.fromstring(answer.content)


def children(element: ElementTree.Element) -> list[str]:
    return [child.tag for child in element]


class Mailbox:
    """What a real SMTP server (aiosmtpd, on a free loopback port) received: the messages it
    accepted, parsed; `refuse_next` makes it answer the next messages with that reply."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse_next: list[str] = []
        self.attempts = 0
        self._cond = threading.Condition()

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._cond:
            self.attempts += 1
            if self.refuse_next:
                return self.refuse_next.pop(0)
            message = BytesParser(policy=policy.default).parsebytes(envelope.content)
            self.messages.append(message)
            self._cond.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[EmailMessage]:
        """The first `count` messages, waiting for them to arrive."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.messages) >= count, timeout)
            assert len(self.messages) >= count, \
                f"{len(self.messages)} of {count} e-mails arrived: " \
                f"{[m['Subject'] for m in self.messages]}"
            return self.messages[:count]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """A running SMTP server and its port."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def mail_settings(settings: Settings, port: int) -> Settings:
    """`settings` sending e-mail to the local SMTP server on `port` (plain, on loopback)."""
    return settings.model_copy(update={
        "smtp_url": f"smtp://127.0.0.1:{port}", "smtp_starttls": False,
        "smtp_from": "City of Example <noreply@city.example>",
        "public_url": "https://city.example"})


@pytest.fixture
def mailing_city(settings: Settings, mailbox: tuple[Mailbox, int]) -> Iterator[TestClient]:
    """The admin client of an app that sends e-mail to `mailbox`, catalogue loaded."""
    headers = {"Authorization": f"Bearer {settings.admin_token}"}
    with TestClient(create_app(mail_settings(settings, mailbox[1])),
                    headers=headers) as client:
        assert client.put(f"{ADMIN_API}/catalogue", json=CATALOGUE).status_code == 200
        yield client


def app_key(client: TestClient) -> str:
    answer = client.post(f"{ADMIN_API}/keys", json={"name": "an app"})
    assert answer.status_code == 201, answer.text
    return answer.json()["secret"]


def staff(client: TestClient, *departments: str, name: str = "mia") -> dict[str, str]:
    """A department staff member's credential."""
    principal = Principal(name, "", frozenset({Role.DEPARTMENT}), Via.PASSWORD,
                          departments=frozenset(departments))
    return {"Authorization": f"Bearer {client.app.state.auth.signer.issue(principal, None)}"}
