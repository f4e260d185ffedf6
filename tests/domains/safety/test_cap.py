"""CAP 1.2 messages: the model refuses what the standard forbids, the XML validates against the
OASIS schema shipped in the package, and reading it back gives the same message."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources

import pytest
from lxml import etree

from madina.domains.safety import cap
from madina.domains.safety.model import Area, Info, Message, Reference

SENT = datetime(2026, 4, 1, 6, 30, 15, 123456, tzinfo=UTC)
AREA = Area(
    "Vantaa river, Oulunkylä",
    polygons=(((60.22, 24.96), (60.23, 24.97), (60.22, 24.98), (60.22, 24.96)),),
    circles=((60.2251, 24.9655, 1.5),),
    geocodes=(("NUTS3", "FI1B1"),),
)
INFO = Info(
    categories=("Met",), event="Flood", urgency="Immediate", severity="Severe",
    certainty="Observed", language="fi-FI", response_types=("Prepare",), effective=SENT,
    expires=SENT + timedelta(hours=6), sender_name="City of Helsinki",
    headline="Flood warning: Vantaa river", description="The water is 2.10 m & rising <fast>.",
    instruction="Avoid riverside paths.", web="https://city.example/warnings",
    parameters=(("level", "warning"),), areas=(AREA,),
)
ALERT = Message("hel-flood-1", "warnings@city.example", SENT, "Actual", "Alert", "Public",
                infos=(INFO,))


def later(message: Message, msg_type: str, minutes: int, *earlier: Message) -> Message:
    return replace(message, identifier=f"hel-flood-{len(earlier) + 1}", msg_type=msg_type,
                   sent=SENT + timedelta(minutes=minutes),
                   references=tuple(m.reference() for m in earlier))


UPDATE = later(ALERT, "Update", 45, ALERT)
CANCEL = later(ALERT, "Cancel", 200, ALERT, UPDATE)


@pytest.mark.parametrize("message", [ALERT, UPDATE, CANCEL], ids=["Alert", "Update", "Cancel"])
def test_alert_update_and_cancel_validate_against_the_oasis_schema(message: Message) -> None:
    xml = cap.message_xml(message)
    cap.validate(xml)
    assert cap.schema().validate(etree.fromstring(xml))


@pytest.mark.parametrize("message", [ALERT, UPDATE, CANCEL], ids=["Alert", "Update", "Cancel"])
def test_reading_back_gives_the_same_message(message: Message) -> None:
    assert cap.parse_message(cap.message_xml(message)) == message


def test_times_are_kept_to_whole_seconds_as_cap_writes_them() -> None:
    assert ALERT.sent == datetime(2026, 4, 1, 6, 30, 15, tzinfo=UTC)
    assert INFO.effective == ALERT.sent
    assert Reference("s", "i", SENT).sent == ALERT.sent


def test_references_are_sender_identifier_sent_triples_separated_by_spaces() -> None:
    document = etree.fromstring(cap.message_xml(CANCEL))
    text = document.findtext(f"{{{cap.NAMESPACE}}}references")
    assert text == ("warnings@city.example,hel-flood-1,2026-04-01T06:30:15-00:00 "
                    "warnings@city.example,hel-flood-2,2026-04-01T07:15:15-00:00")


def test_times_are_utc_with_minus_zero_offset_and_no_fraction() -> None:
    helsinki = timezone(timedelta(hours=3))
    assert cap.cap_time(datetime(2026, 7, 1, 15, 0, 0, 999, tzinfo=helsinki)) == \
        "2026-07-01T12:00:00-00:00"
    assert cap.parse_cap_time("2026-07-01T15:00:00+03:00") == \
        datetime(2026, 7, 1, 12, tzinfo=UTC)


def test_special_characters_are_escaped_and_the_document_is_utf8() -> None:
    xml = cap.message_xml(ALERT)
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert b"&amp; rising &lt;fast&gt;" in xml
    assert "Oulunkylä".encode() in xml


def test_element_order_follows_the_schema_sequence() -> None:
    info = etree.fromstring(cap.message_xml(ALERT)).find(f"{{{cap.NAMESPACE}}}info")
    names = [etree.QName(child).localname for child in info]
    assert names == ["language", "category", "event", "responseType", "urgency", "severity",
                     "certainty", "effective", "expires", "senderName", "headline",
                     "description", "instruction", "web", "parameter", "area"]


def test_the_shipped_schema_is_the_oasis_file_with_its_notice() -> None:
    data = resources.files("madina.domains.safety").joinpath("data")
    xsd = data.joinpath("CAP-v1.2.xsd").read_text()
    assert xsd.startswith("<!--  Copyright OASIS Open 2010 All Rights Reserved  -->")
    assert 'targetNamespace="urn:oasis:names:tc:emergency:cap:1.2"' in xsd
    assert "CAP-v1.2.xsd" in data.joinpath("NOTICE.md").read_text()


@pytest.mark.parametrize(("broken", "why"), [
    (b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>x</identifier></alert>",
     "missing sender"),
    (cap.message_xml(ALERT).replace(b"-00:00</sent>", b"Z</sent>"), "Z as time zone"),
    (cap.message_xml(ALERT).replace(b"<severity>Severe", b"<severity>Bad"), "unknown severity"),
    (cap.message_xml(ALERT).replace(b"<status>Actual</status>", b""), "missing status"),
    (b"<alert><identifier>x</identifier></alert>", "no namespace"),
    (b"not xml at all", "not XML"),
])
def test_invalid_documents_are_refused(broken: bytes, why: str) -> None:
    with pytest.raises(cap.InvalidCap):
        cap.validate(broken)


def test_entities_are_not_resolved() -> None:
    hostile = (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
               b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'>"
               b"<identifier>&e;</identifier></alert>")
    with pytest.raises(cap.InvalidCap):
        cap.parse_message(hostile)


@pytest.mark.parametrize(("change", "message"), [
    (lambda: replace(ALERT, identifier="has space"), "identifier"),
    (lambda: replace(ALERT, identifier="a,b"), "identifier"),
    (lambda: replace(ALERT, sender="a&b"), "sender"),
    (lambda: replace(ALERT, status="Real"), "status"),
    (lambda: replace(ALERT, msg_type="Warn"), "msgType"),
    (lambda: replace(ALERT, scope="Everyone"), "scope"),
    (lambda: replace(ALERT, scope="Restricted"), "restriction"),
    (lambda: replace(ALERT, scope="Private"), "addresses"),
    (lambda: replace(ALERT, sent=datetime(2026, 4, 1)), "timezone-aware"),
    (lambda: replace(ALERT, msg_type="Update"), "reference"),
    (lambda: replace(INFO, categories=()), "category"),
    (lambda: replace(INFO, categories=("Weather",)), "category"),
    (lambda: replace(INFO, urgency="Now"), "urgency"),
    (lambda: replace(INFO, severity="High"), "severity"),
    (lambda: replace(INFO, certainty="Sure"), "certainty"),
    (lambda: replace(INFO, response_types=("Run",)), "responseType"),
    (lambda: replace(INFO, expires=SENT - timedelta(seconds=1)), "expire"),
    (lambda: replace(INFO, event=" "), "event"),
    (lambda: Area(" "), "areaDesc"),
    (lambda: Area("x", polygons=(((60.0, 24.0), (60.1, 24.0), (60.0, 24.1)),)), "polygon"),
    (lambda: Area("x", polygons=(((60.0, 24.0), (60.1, 24.0), (60.0, 24.1), (60.0, 24.2)),)),
     "polygon"),
    (lambda: Area("x", circles=((91.0, 24.0, 1.0),)), "latitude"),
    (lambda: Area("x", circles=((60.0, 181.0, 1.0),)), "latitude"),
    (lambda: Area("x", circles=((60.0, 24.0, -1.0),)), "radius"),
    (lambda: Reference("s", "i", datetime(2026, 1, 1)), "timezone-aware"),
])
def test_the_model_refuses_what_cap_forbids(change, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        change()


def test_a_restricted_or_private_message_with_its_audience_validates() -> None:
    for message in (replace(ALERT, scope="Restricted", restriction="city staff"),
                    replace(ALERT, scope="Private", addresses="ops@city.example")):
        cap.validate(cap.message_xml(message))
        assert cap.parse_message(cap.message_xml(message)).scope == message.scope


def test_a_message_without_info_or_area_validates() -> None:
    bare = replace(ALERT, infos=())
    cap.validate(cap.message_xml(bare))
    no_area = replace(ALERT, infos=(replace(INFO, areas=(), effective=None, expires=None),))
    cap.validate(cap.message_xml(no_area))
    assert cap.parse_message(cap.message_xml(no_area)) == no_area


def test_expires_is_the_latest_info_expiry() -> None:
    second = replace(INFO, language="en-US", expires=SENT + timedelta(hours=9))
    assert replace(ALERT, infos=(INFO, second)).expires == ALERT.sent + timedelta(hours=9)
    assert replace(ALERT, infos=(INFO, replace(second, expires=None))).expires is None
    assert replace(ALERT, infos=()).expires is None
