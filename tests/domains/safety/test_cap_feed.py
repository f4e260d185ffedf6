"""The CAP message table and the public feed, on both engines: messages the flood service
issued are published, the Atom feed lists the current ones, each message is served as issued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lxml import etree

from madina.api.alerts import publish, stored
from madina.domains.safety import atom, cap
from madina.domains.safety.config import SafetySettings
from madina.domains.safety.flood_service import FloodService
from madina.domains.safety.model import Message
from madina.store.base import Store

A = f"{{{atom.NAMESPACE}}}"
GAUGE = "urn:ngsi-ld:WaterObserved:vantaa-1"


def flood_messages(start: datetime) -> list[Message]:
    """Alert, Update, Update, Cancel of one flood warning, as the service issues them
    (at 0, 20, 80 and 140 minutes after `start`)."""
    service = FloodService(SafetySettings.from_dict(
        {"flood": {"gauges": {GAUGE: {"advisory": 1.0, "warning": 2.0}}}}))
    for i, height in enumerate([1.2, 2.2, 1.5, 0.2, 0.2, 0.2, 0.2, 0.2]):
        at = start + timedelta(minutes=20 * i)
        service.react({"id": GAUGE, "type": "WaterObserved",
                       "height": {"type": "Property", "value": height,
                                  "observedAt": at.isoformat()}}, at)
    return service.take_messages()


def test_a_message_is_stored_once_and_read_back_as_issued(store: Store) -> None:
    message = flood_messages(datetime.now(UTC))[0]
    assert store.cap_messages.add("", stored(message))
    assert not store.cap_messages.add("", stored(message))
    row = store.cap_messages.get("", message.identifier)
    assert row == stored(message)
    assert cap.parse_message(row.xml) == message
    assert store.cap_messages.get("other", message.identifier) is None


def test_only_current_messages_are_listed_newest_first(store: Store) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    alert, update, update2, cancel = flood_messages(now - timedelta(hours=3))
    other = flood_messages(now - timedelta(minutes=30))[0]
    assert publish(store, "", [alert, update]) == 2
    current = store.cap_messages.current("", now, 10)
    assert [m.identifier for m in current] == [update.identifier]  # the Alert is superseded
    assert publish(store, "", [update, update2, cancel, other]) == 3
    assert [m.identifier for m in store.cap_messages.current("", now, 10)] == [
        other.identifier, cancel.identifier]
    assert [m.identifier for m in store.cap_messages.current("", now, 1)] == [other.identifier]
    # the Cancel stays in the feed an hour, the other Alert six
    later = cancel.sent + timedelta(hours=1, seconds=1)
    assert [m.identifier for m in store.cap_messages.current("", later, 10)] == [
        other.identifier]
    assert store.cap_messages.current("elsewhere", now, 10) == []


def feed_entries(answer) -> list[str]:
    return [entry.findtext(A + "id") for entry in etree.fromstring(answer.content)
            .findall(A + "entry")]


def test_the_feed_and_the_messages_over_http(client) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    messages = flood_messages(now - timedelta(minutes=90))
    publish(client.app.state.store, "", messages[:2])
    anonymous = {"Authorization": ""}
    answer = client.get("/alerts/cap", headers=anonymous)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/atom+xml"
    assert answer.headers["cache-control"] == "public, max-age=60"
    feed = etree.fromstring(answer.content)
    assert feed.findtext(A + "id") == "http://testserver/alerts/cap"
    url = f"http://testserver/alerts/cap/{messages[1].identifier}"
    assert feed_entries(answer) == [url]
    link = feed.find(f"{A}entry/{A}link")
    assert (link.get("type"), link.get("href")) == ("application/cap+xml", url)

    for message in messages[:2]:  # a superseded message stays at its URL
        one = client.get(f"/alerts/cap/{message.identifier}", headers=anonymous)
        assert one.status_code == 200
        assert one.headers["content-type"] == "application/cap+xml"
        cap.validate(one.content)
        assert cap.parse_message(one.content) == message


def test_feed_follows_the_warning_to_its_cancel(client) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    messages = flood_messages(now - timedelta(minutes=150))
    assert [m.msg_type for m in messages] == ["Alert", "Update", "Update", "Cancel"]
    publish(client.app.state.store, "", messages)
    assert feed_entries(client.get("/alerts/cap")) == [
        f"http://testserver/alerts/cap/{messages[-1].identifier}"]


def test_tenants_have_their_own_feeds(client) -> None:
    message = flood_messages(datetime.now(UTC) - timedelta(minutes=5))[0]
    publish(client.app.state.store, "espoo", [message])
    assert feed_entries(client.get("/alerts/cap")) == []
    espoo = {"NGSILD-Tenant": "espoo"}
    assert len(feed_entries(client.get("/alerts/cap", headers=espoo))) == 1
    assert client.get(f"/alerts/cap/{message.identifier}").status_code == 404
    assert client.get(f"/alerts/cap/{message.identifier}", headers=espoo).status_code == 200


def test_unknown_messages_and_bad_tenants_are_problem_details(client) -> None:
    missing = client.get("/alerts/cap/no-such-message")
    assert missing.status_code == 404
    assert missing.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
    bad = client.get("/alerts/cap", headers={"NGSILD-Tenant": "no tenant!"})
    assert bad.status_code == 400
    assert bad.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
