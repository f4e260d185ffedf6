"""GeoReport v2 answers in both formats: XML, which the spec requires, and JSON.

One structure (lists, dicts, text, numbers, booleans, None) is built per answer and written in
either format, so the two can never disagree. JSON answers a list where the XML has a root
element around repeated items (`services`/`service`, `service_requests`/`request`,
`errors`/`error`); nested lists take their items' names from `ITEM_TAGS` the same way.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import orjson

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
FORMATS = ("json", "xml")
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "notes": "note",
    "service_request_updates": "request_update",
    "alerts": "alert",
}
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'


def render(root: str, payload: Any, fmt: str) -> tuple[bytes, str]:
    """(body, media type) of `payload` in `fmt`; `root` names the XML document element."""
    if fmt == "json":
        return orjson.dumps(payload), JSON_TYPE
    element = ElementTree.Element(root)
    _fill(element, payload)
    return XML_DECLARATION + ElementTree.tostring(element, encoding="utf-8",
                                                  xml_declaration=False), XML_TYPE


def _fill(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ElementTree.SubElement(element, key), item)
    elif isinstance(value, list):
        tag = ITEM_TAGS[element.tag]
        for item in value:
            _fill(ElementTree.SubElement(element, tag), item)
    elif value is None:
        return
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)
