"""An Atom 1.0 feed (RFC 4287) listing CAP messages, each entry pointing at the message's own URL.

The mapping follows OASIS "Example Practices: CAP Feeds Version 1.0" (Committee Note 02, 2014):
one entry per CAP message; the entry's id is the message's permanent URL; title = headline
(else event); updated = the message's `sent`; author = senderName (else sender); a
`link rel="alternate" type="application/cap+xml"` to the full message. The entry also carries
`content type="application/cap+xml" src=…` (RFC 4287 §4.1.3.2, out-of-line content), which
obliges it to carry a `summary` (§4.1.1.1): the description.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import quote

from lxml import etree

from madina.domains.safety.cap import CONTENT_TYPE
from madina.domains.safety.model import Message

NAMESPACE = "http://www.w3.org/2005/Atom"
CONTENT_TYPE_ATOM = "application/atom+xml"
FEED_PATH = "/alerts/cap"
_NS = f"{{{NAMESPACE}}}"


def feed_url(base_url: str) -> str:
    return base_url.rstrip("/") + FEED_PATH


def message_url(base_url: str, identifier: str) -> str:
    """Where one message is served: the feed's URL, then the identifier, percent-encoded
    (CAP identifiers may hold characters such as ':' or '/' that a path segment must escape)."""
    return f"{feed_url(base_url)}/{quote(identifier, safe='')}"


def atom_time(moment: datetime) -> str:
    """RFC 3339 date-time in UTC, as RFC 4287 §3.3 requires."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add(parent: etree._Element, name: str, text: str | None = None,
         **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _NS + name, attributes)
    if text is not None:
        element.text = text
    return element


def _entry(parent: etree._Element, message: Message, base_url: str) -> None:
    info = message.infos[0] if message.infos else None
    url = message_url(base_url, message.identifier)
    entry = _add(parent, "entry")
    _add(entry, "id", url)
    title = (info.headline or info.event) if info else ""
    _add(entry, "title", title or f"{message.msg_type} {message.identifier}")
    _add(entry, "updated", atom_time(message.sent))
    _add(entry, "published", atom_time(message.sent))
    author = _add(entry, "author")
    _add(author, "name", (info.sender_name if info else "") or message.sender)
    _add(entry, "link", rel="alternate", type=CONTENT_TYPE, href=url)
    if info is not None:
        for category in info.categories:
            _add(entry, "category", term=category)
    summary = (info.description or info.headline or info.event) if info else ""
    _add(entry, "summary", summary or f"CAP {message.msg_type} message {message.identifier}")
    _add(entry, "content", type=CONTENT_TYPE, src=url)


def feed(
    messages: Iterable[Message],
    base_url: str,
    *,
    title: str = "Public warnings",
    author: str = "Madina",
    updated: datetime | None = None,
) -> bytes:
    """The Atom feed document listing `messages` in the order given (newest first is usual).

    `base_url` is the public address the API is served at (e.g. "https://city.example"); the
    feed's id and self link are its `/alerts/cap`. `updated` is the newest message's `sent`,
    or the given time (default now) for an empty feed."""
    messages = list(messages)
    root = etree.Element(_NS + "feed", nsmap={None: NAMESPACE})
    _add(root, "id", feed_url(base_url))
    _add(root, "title", title)
    newest = max((m.sent for m in messages), default=None)
    _add(root, "updated", atom_time(newest or updated or datetime.now(UTC)))
    _add(_add(root, "author"), "name", author)
    _add(root, "link", rel="self", type=CONTENT_TYPE_ATOM, href=feed_url(base_url))
    for message in messages:
        _entry(root, message, base_url)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
