"""The Atom feed of CAP messages, checked against what RFC 4287 requires of a feed and its
entries, and against the CAP-feed mapping (each entry links to its message, application/cap+xml).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from madina.domains.safety import atom
from madina.domains.safety.model import Info, Message

A = f"{{{atom.NAMESPACE}}}"
BASE = "https://city.example"
SENT = datetime(2026, 4, 1, 6, 30, tzinfo=UTC)
INFO = Info(("Met",), "Flood", "Immediate", "Severe", "Observed",
            sender_name="City of Helsinki", headline="Flood warning: Vantaa river",
            description="The water is at 2.10 m.")
FIRST = Message("hel-flood-1", "warnings@city.example", SENT, "Actual", "Alert", "Public",
                infos=(INFO,))
SECOND = replace(FIRST, identifier="hel-heat-1", sent=SENT + timedelta(hours=2),
                 infos=(replace(INFO, categories=("Met", "Health"), event="Extreme heat",
                                headline="", description=""),))
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def parsed(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def check_rfc4287(feed: etree._Element) -> None:
    """RFC 4287 §4.1.1 and §4.1.2: what every feed and entry must contain, exactly once."""
    assert feed.tag == A + "feed"
    for name in ("id", "title", "updated"):
        assert len(feed.findall(A + name)) == 1, name
    assert RFC3339.match(feed.findtext(A + "updated"))
    entries = feed.findall(A + "entry")
    assert feed.findall(A + "author") or all(e.findall(A + "author") for e in entries)
    ids = [entry.findtext(A + "id") for entry in entries]
    assert len(ids) == len(set(ids)), "entry ids are unique"
    for entry in entries:
        for name in ("id", "title", "updated"):
            assert len(entry.findall(A + name)) == 1, name
            assert entry.findtext(A + name).strip()
        assert RFC3339.match(entry.findtext(A + "updated"))
        alternates = [link for link in entry.findall(A + "link")
                      if link.get("rel", "alternate") == "alternate"]
        content = entry.find(A + "content")
        assert alternates or content is not None
        if content is not None and content.get("src") is not None:
            assert entry.find(A + "summary") is not None  # §4.1.1.1


def test_every_entry_links_to_its_cap_message() -> None:
    feed = parsed(atom.feed([SECOND, FIRST], BASE))
    check_rfc4287(feed)
    entries = feed.findall(A + "entry")
    assert [e.findtext(A + "id") for e in entries] == [
        "https://city.example/alerts/cap/hel-heat-1", "https://city.example/alerts/cap/hel-flood-1"]
    for entry in entries:
        url = entry.findtext(A + "id")
        link = entry.find(A + "link")
        assert (link.get("rel"), link.get("type"), link.get("href")) == \
            ("alternate", "application/cap+xml", url)
        content = entry.find(A + "content")
        assert (content.get("type"), content.get("src")) == ("application/cap+xml", url)


def test_entries_carry_headline_sent_author_categories_and_summary() -> None:
    entry = parsed(atom.feed([FIRST], BASE)).find(A + "entry")
    assert entry.findtext(A + "title") == "Flood warning: Vantaa river"
    assert entry.findtext(A + "updated") == "2026-04-01T06:30:00Z"
    assert entry.findtext(f"{A}author/{A}name") == "City of Helsinki"
    assert [c.get("term") for c in entry.findall(A + "category")] == ["Met"]
    assert entry.findtext(A + "summary") == "The water is at 2.10 m."


def test_an_entry_without_headline_or_description_falls_back_to_the_event() -> None:
    entry = parsed(atom.feed([SECOND], BASE)).find(A + "entry")
    assert entry.findtext(A + "title") == "Extreme heat"
    assert entry.findtext(A + "summary") == "Extreme heat"
    bare = replace(FIRST, infos=())
    entry = parsed(atom.feed([bare], BASE)).find(A + "entry")
    assert entry.findtext(A + "title") == "Alert hel-flood-1"
    assert entry.findtext(f"{A}author/{A}name") == "warnings@city.example"


def test_the_feed_names_itself_and_is_as_new_as_its_newest_message() -> None:
    feed = parsed(atom.feed([FIRST, SECOND], BASE + "/", title="Helsinki warnings",
                            author="City of Helsinki"))
    assert feed.findtext(A + "id") == "https://city.example/alerts/cap"
    assert feed.findtext(A + "title") == "Helsinki warnings"
    assert feed.findtext(A + "updated") == "2026-04-01T08:30:00Z"
    assert feed.findtext(f"{A}author/{A}name") == "City of Helsinki"
    self_link = feed.find(A + "link")
    assert (self_link.get("rel"), self_link.get("href"), self_link.get("type")) == \
        ("self", "https://city.example/alerts/cap", "application/atom+xml")


def test_an_empty_feed_is_still_a_valid_feed() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    feed = parsed(atom.feed([], BASE, updated=moment))
    check_rfc4287(feed)
    assert feed.findtext(A + "updated") == "2026-01-01T00:00:00Z"
    assert feed.findall(A + "entry") == []


@pytest.mark.parametrize(("identifier", "path"), [
    ("hel-flood-1", "hel-flood-1"),
    ("urn:oid:2.49.0.1.246.0", "urn%3Aoid%3A2.49.0.1.246.0"),
    ("a/b", "a%2Fb"),
])
def test_message_urls_escape_the_identifier(identifier: str, path: str) -> None:
    assert atom.message_url(BASE, identifier) == f"{BASE}/alerts/cap/{path}"
