"""CAP 1.2 XML: write a `Message`, read one back, check one against the OASIS XML Schema.

Element order, names and time format follow "Common Alerting Protocol Version 1.2", OASIS
Standard, 1 July 2010, §3.2 and §3.3.2 (times carry an explicit offset; UTC is written "-00:00",
never "Z"; no fractional seconds) and its schema, shipped as `data/CAP-v1.2.xsd`. `references`
is "sender,identifier,sent" per referenced message, separated by spaces (§3.2.1).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from importlib import resources

from lxml import etree

from madina.domains.safety.model import Area, Info, Message, Reference

NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
CONTENT_TYPE = "application/cap+xml"
_NS = f"{{{NAMESPACE}}}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


class InvalidCap(ValueError):
    """A document that is not a valid CAP 1.2 message."""


def cap_time(moment: datetime) -> str:
    """A time as CAP writes it: UTC, whole seconds, offset "-00:00" (§3.3.2)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S-00:00")


def parse_cap_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    if moment.utcoffset() is None:
        raise InvalidCap(f"CAP time {text!r} has no offset")
    return moment.astimezone(UTC)


def _add(parent: etree._Element, name: str, text: str) -> etree._Element:
    element = etree.SubElement(parent, _NS + name)
    element.text = text
    return element


def _pair(parent: etree._Element, name: str, value_name: str, value: str) -> None:
    element = etree.SubElement(parent, _NS + name)
    _add(element, "valueName", value_name)
    _add(element, "value", value)


def _number(value: float) -> str:
    """Coordinates and radii in plain decimals (never exponents), to 6 places: 0.1 m of
    latitude, finer than any warning area needs."""
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _area(parent: etree._Element, area: Area) -> None:
    element = etree.SubElement(parent, _NS + "area")
    _add(element, "areaDesc", area.description)
    for ring in area.polygons:
        _add(element, "polygon", " ".join(f"{_number(lat)},{_number(lon)}" for lat, lon in ring))
    for lat, lon, radius in area.circles:
        _add(element, "circle", f"{_number(lat)},{_number(lon)} {_number(radius)}")
    for name, value in area.geocodes:
        _pair(element, "geocode", name, value)


def _info(parent: etree._Element, info: Info) -> None:
    element = etree.SubElement(parent, _NS + "info")
    _add(element, "language", info.language)
    for category in info.categories:
        _add(element, "category", category)
    _add(element, "event", info.event)
    for response in info.response_types:
        _add(element, "responseType", response)
    _add(element, "urgency", info.urgency)
    _add(element, "severity", info.severity)
    _add(element, "certainty", info.certainty)
    for name, moment in (("effective", info.effective), ("expires", info.expires)):
        if moment is not None:
            _add(element, name, cap_time(moment))
    for name in ("sender_name", "headline", "description", "instruction", "web"):
        text = getattr(info, name)
        if text:
            _add(element, "senderName" if name == "sender_name" else name, text)
    for value_name, value in info.parameters:
        _pair(element, "parameter", value_name, value)
    for area in info.areas:
        _area(element, area)


def references_text(references: tuple[Reference, ...]) -> str:
    return " ".join(f"{r.sender},{r.identifier},{cap_time(r.sent)}" for r in references)


def message_xml(message: Message) -> bytes:
    """The message as a CAP 1.2 XML document (UTF-8, with an XML declaration)."""
    alert = etree.Element(_NS + "alert", nsmap={None: NAMESPACE})
    _add(alert, "identifier", message.identifier)
    _add(alert, "sender", message.sender)
    _add(alert, "sent", cap_time(message.sent))
    _add(alert, "status", message.status)
    _add(alert, "msgType", message.msg_type)
    _add(alert, "scope", message.scope)
    if message.restriction:
        _add(alert, "restriction", message.restriction)
    if message.addresses:
        _add(alert, "addresses", message.addresses)
    if message.note:
        _add(alert, "note", message.note)
    if message.references:
        _add(alert, "references", references_text(message.references))
    for info in message.infos:
        _info(alert, info)
    return etree.tostring(alert, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@functools.cache
def schema() -> etree.XMLSchema:
    """The OASIS CAP 1.2 XML Schema shipped with the package (parsed once per process)."""
    source = resources.files("madina.domains.safety").joinpath("data/CAP-v1.2.xsd")
    return etree.XMLSchema(etree.fromstring(source.read_bytes(), _PARSER))


def _document(xml: bytes) -> etree._Element:
    try:
        return etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise InvalidCap(f"not well-formed XML: {exc}") from None


def validate(xml: bytes) -> None:
    """Raise InvalidCap unless `xml` is valid against the CAP 1.2 XML Schema."""
    document = _document(xml)
    checker = schema()
    if not checker.validate(document):
        raise InvalidCap(str(checker.error_log.last_error))


def _text(element: etree._Element, name: str) -> str:
    child = element.find(_NS + name)
    return "" if child is None or child.text is None else child.text


def _texts(element: etree._Element, name: str) -> tuple[str, ...]:
    return tuple(child.text or "" for child in element.findall(_NS + name))


def _pairs(element: etree._Element, name: str) -> tuple[tuple[str, str], ...]:
    return tuple((_text(child, "valueName"), _text(child, "value"))
                 for child in element.findall(_NS + name))


def _time(element: etree._Element, name: str) -> datetime | None:
    text = _text(element, name)
    return parse_cap_time(text) if text else None


def _coordinates(text: str) -> tuple[float, float]:
    lat, lon = text.split(",")
    return float(lat), float(lon)


def _read_area(element: etree._Element) -> Area:
    circles = []
    for text in _texts(element, "circle"):
        point, radius = text.split()
        circles.append((*_coordinates(point), float(radius)))
    return Area(
        description=_text(element, "areaDesc"),
        polygons=tuple(tuple(_coordinates(p) for p in ring.split())
                       for ring in _texts(element, "polygon")),
        circles=tuple(circles),
        geocodes=_pairs(element, "geocode"),
    )


def _read_info(element: etree._Element) -> Info:
    return Info(
        categories=_texts(element, "category"),
        event=_text(element, "event"),
        urgency=_text(element, "urgency"),
        severity=_text(element, "severity"),
        certainty=_text(element, "certainty"),
        language=_text(element, "language") or "en-US",
        response_types=_texts(element, "responseType"),
        effective=_time(element, "effective"),
        expires=_time(element, "expires"),
        sender_name=_text(element, "senderName"),
        headline=_text(element, "headline"),
        description=_text(element, "description"),
        instruction=_text(element, "instruction"),
        web=_text(element, "web"),
        parameters=_pairs(element, "parameter"),
        areas=tuple(_read_area(area) for area in element.findall(_NS + "area")),
    )


def _read_references(text: str) -> tuple[Reference, ...]:
    references = []
    for triple in text.split():
        sender, identifier, sent = triple.split(",")
        references.append(Reference(sender, identifier, parse_cap_time(sent)))
    return tuple(references)


def parse_message(xml: bytes) -> Message:
    """Read back a CAP 1.2 message (the subset `message_xml` writes: no resources, eventCodes,
    codes or signatures). Raises InvalidCap when the document is not one."""
    alert = _document(xml)
    if alert.tag != _NS + "alert":
        raise InvalidCap(f"the root element is {alert.tag}, not a CAP 1.2 alert")
    try:
        return Message(
            identifier=_text(alert, "identifier"),
            sender=_text(alert, "sender"),
            sent=parse_cap_time(_text(alert, "sent")),
            status=_text(alert, "status"),
            msg_type=_text(alert, "msgType"),
            scope=_text(alert, "scope"),
            references=_read_references(_text(alert, "references")),
            infos=tuple(_read_info(info) for info in alert.findall(_NS + "info")),
            restriction=_text(alert, "restriction"),
            addresses=_text(alert, "addresses"),
            note=_text(alert, "note"),
        )
    except ValueError as exc:
        raise InvalidCap(str(exc)) from None
