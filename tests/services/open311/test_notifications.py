"""Citizens hear of every change of their request: by e-mail through a real SMTP server
(aiosmtpd on a free loopback port), from an outbox written with the change, so a restart or an
SMTP server that is away loses nothing; and through NGSI-LD subscriptions on the
Open311ServiceRequest entity, which changes with the request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from madina.app import create_app
from madina.auth.setup import runner
from madina.config import Settings
from madina.services.open311.mail import SmtpServer, smtp_server
from madina.services.open311.outbox import MailSender
from madina.store.open311_outbox import Mail
from tests.events.receiver import Receiver
from tests.services.open311.conftest import (
    ADMIN_API,
    CATALOGUE,
    REPORTER,
    Mailbox,
    app_key,
    mail_settings,
    pothole,
    staff,
    submit,
)


def test_every_change_is_mailed_to_the_reporter(mailing_city: TestClient,
                                                mailbox: tuple[Mailbox, int]) -> None:
    box, _ = mailbox
    key = app_key(mailing_city)
    request_id = submit(mailing_city, pothole(key, address_string="Mannerheimintie 1")
                        ).json()[0]["service_request_id"]
    path = f"{ADMIN_API}/requests/{request_id}"
    roads = staff(mailing_city, "roads-west")
    assert mailing_city.patch(path, json={"state": "in_progress", "status_notes": "Crew sent"},
                              headers=roads).status_code == 200
    assert mailing_city.patch(path, json={"status_notes": "Asphalt ordered"},
                              headers=roads).status_code == 200
    assert mailing_city.patch(path, json={"state": "closed", "reason": "fixed"},
                              headers=roads).status_code == 200
    first, note, closed = box.wait_for(3)
    assert all(m["To"] == REPORTER["email"] for m in (first, note, closed))
    assert first["From"] == "City of Example <noreply@city.example>"
    assert first["Subject"] == (f"City of Example: your request {request_id} (Pothole at "
                                "Mannerheimintie 1) is in progress")
    body = first.get_content()
    assert "Crew sent" in body
    assert (f"https://city.example/open311/v2/requests/{request_id}.json?jurisdiction_id="
            "city.example&extensions=true") in body
    assert note["Subject"].endswith("news on your request "
                                    f"{request_id} (Pothole at Mannerheimintie 1)")
    assert "Asphalt ordered" in note.get_content()
    assert closed["Subject"].endswith("is closed (fixed)")
    assert "mia" not in body, "staff names stay internal"
    time.sleep(0.3)
    assert len(box.messages) == 3, "the submission itself sends nothing"
    assert mailing_city.app.state.store.open311.mail_counts() == (0, 0), "outbox emptied"


def test_followers_hear_too_and_nobody_twice(mailing_city: TestClient,
                                            mailbox: tuple[Mailbox, int]) -> None:
    box, _ = mailbox
    key = app_key(mailing_city)
    request_id = submit(mailing_city, pothole(key)).json()[0]["service_request_id"]
    follow = f"/open311/v2/requests/{request_id}/followers.json"
    joined = mailing_city.post(follow, data={"api_key": key, "email": "bo@example.org"},
                               headers={"Authorization": ""})
    assert joined.status_code == 201, joined.text
    again = mailing_city.post(follow, data={"api_key": key, "email": REPORTER["email"]},
                              headers={"Authorization": ""})
    assert again.status_code == 200, "the reporter follows already"
    mailing_city.patch(f"{ADMIN_API}/requests/{request_id}", json={"state": "acknowledged"})
    messages = box.wait_for(2)
    assert sorted(m["To"] for m in messages) == sorted([REPORTER["email"], "bo@example.org"])
    (to_bo,) = box.to("bo@example.org")
    text = to_bo.as_string()
    assert not [field for field, value in REPORTER.items() if value in text], \
        "a follower learns nothing about the reporter"
    time.sleep(0.3)
    assert len(box.messages) == 2


def test_mail_waits_in_the_outbox_across_a_restart(settings: Settings,
                                                   mailbox: tuple[Mailbox, int]) -> None:
    """Changes made while no SMTP server is configured (or the process stops before sending)
    are sent by the next process that has one."""
    box, port = mailbox
    admin = {"Authorization": f"Bearer {settings.admin_token}"}
    with TestClient(create_app(settings), headers=admin) as first:
        first.put(f"{ADMIN_API}/catalogue", json=CATALOGUE)
        request_id = submit(first, pothole(app_key(first))).json()[0]["service_request_id"]
        assert first.patch(f"{ADMIN_API}/requests/{request_id}",
                           json={"state": "fixed"}).status_code == 200
        assert first.app.state.store.open311.mail_counts() == (1, 0)
    assert box.messages == []
    with TestClient(create_app(mail_settings(settings, port)), headers=admin):
        (message,) = box.wait_for(1)
    assert message["To"] == REPORTER["email"]
    assert message["Subject"].endswith("is fixed")


@pytest.fixture
def sender_parts(settings: Settings, mailbox: tuple[Mailbox, int]) -> Iterator[tuple]:
    """The tables of a fresh store and the local SMTP server, for driving a MailSender."""
    store = settings.store()
    store.open()
    try:
        server = smtp_server(f"smtp://127.0.0.1:{mailbox[1]}", None, None, None, None,
                             "noreply@city.example", starttls=False)
        yield store, server, mailbox[0]
    finally:
        store.close()


def _queue(store, *recipients: str) -> None:
    with store.open311._atomic() as run:
        store.open311.queue_mail(run, [Mail("", r, '{"subject": "s", "text": "t", '
                                                   '"headers": {}}') for r in recipients],
                                 "2026-01-01T00:00:00.000000Z", time.time())


def test_a_refused_attempt_is_retried_and_a_final_refusal_kept(sender_parts) -> None:
    store, server, box = sender_parts
    _queue(store, "ana@example.org", "bo@example.org")
    box.refuse_next = ["451 4.3.0 try again later", "550 5.1.1 no such user"]

    async def rounds() -> None:
        sender = MailSender(store.open311, server, runner(store, None), retry_base=0.05)
        assert await sender.round() == 2
        assert box.messages == []
        await asyncio.sleep(0.2)  # past the retry delay
        assert await sender.round() == 1
        assert await sender.round() == 0

    asyncio.run(rounds())
    assert [m["To"] for m in box.messages] == ["ana@example.org"]
    assert store.open311.mail_counts() == (0, 1), "the 550 is kept, marked failed"
    ((_, _, attempts, failed),) = store.open311.mail_to("", "bo@example.org")
    assert (attempts, failed) == (1, True)


def test_an_unreachable_server_keeps_the_mail_for_later(sender_parts) -> None:
    store, _, _ = sender_parts
    _queue(store, "ana@example.org")
    away = SmtpServer("127.0.0.1", 9, "noreply@city.example", starttls=False, timeout=2.0)

    async def attempt() -> None:
        sender = MailSender(store.open311, away, runner(store, None))
        assert await sender.round() == 1
        assert await sender.round() == 0, "not due again before its retry delay"

    asyncio.run(attempt())
    assert store.open311.mail_counts() == (1, 0)
    (kept,) = store.open311.mail_to("", "ana@example.org")
    assert kept[2] == 1 and kept[3] is False


def test_a_subscription_on_the_entity_notifies_each_change(client: TestClient,
                                                           api_key: str) -> None:
    """The NGSI-LD path (webhooks, MQTT): the public entity changes with the request."""
    receiver = Receiver()
    try:
        subscription = {"type": "Subscription", "entities": [{"type": "Open311ServiceRequest"}],
                        "watchedAttributes": ["status", "status_notes"],
                        "notification": {"endpoint": {"uri": receiver.url},
                                         "attributes": ["status", "status_notes"],
                                         "format": "keyValues"}}
        assert client.post("/ngsi-ld/v1/subscriptions", json=subscription).status_code == 201
        request_id = submit(client, pothole(api_key)).json()[0]["service_request_id"]
        client.patch(f"{ADMIN_API}/requests/{request_id}",
                     json={"state": "closed", "reason": "fixed", "status_notes": "Filled"})
        entities = receiver.entities(2)
    finally:
        receiver.close()
    entity_id = f"urn:ngsi-ld:Open311ServiceRequest:{request_id}"
    assert [(e["id"], e["status"], e.get("status_notes")) for e in entities] == [
        (entity_id, "open", None), (entity_id, "closed", "Filled")]
    assert not set(entities[1]) & {"email", "first_name", "last_name", "phone"}
