"""The @context URL carried by an HTTP Link header (ETSI GS CIM 009 clause 6.3.5, RFC 8288)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from madina.context.errors import BadRequestData

JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"

# One link-value: <target> followed by ;param[=value] pairs, up to the next "," or the end.
_LINK = re.compile(
    r"""\s*<(?P<target>[^<>]*)>\s*
        (?P<params>(?:;\s*[^\s;,=]+\s*(?:=\s*(?:"(?:[^"\\]|\\.)*"|[^\s;,"]*))?\s*)*)
        (?:,|$)""",
    re.VERBOSE,
)
_PARAM = re.compile(r';\s*([^\s;,=]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;,"]*)))?')


def parse_link_header(value: str) -> str | None:
    """The URL of the single JSON-LD context link in `value`, None when it has no such link.

    Several context links are ambiguous (JSON-LD 1.1 "multiple context link headers") and a
    header that is not valid Link syntax cannot be trusted; both are BadRequestData.
    """
    found: list[str] = []
    position = 0
    while position < len(value):
        if not value[position:].strip():
            break
        match = _LINK.match(value, position)
        if match is None or match.end() == position:
            raise BadRequestData(f"malformed Link header: {value!r}")
        position = match.end()
        rels: list[str] = []
        for name, quoted, token in _PARAM.findall(match["params"]):
            if name.lower() == "rel":
                rels.extend((quoted or token).split())
        if JSONLD_CONTEXT_REL in rels:
            found.append(match["target"].strip())
    if len(found) > 1:
        raise BadRequestData("the Link header carries more than one JSON-LD context link")
    if not found:
        return None
    url = found[0]
    if not urlsplit(url).scheme or any(c.isspace() for c in url):
        raise BadRequestData(f"the JSON-LD context link is not an absolute URI: {url!r}")
    return url
