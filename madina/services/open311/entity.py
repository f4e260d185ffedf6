"""The public side of a service request as an NGSI-LD entity: Smart Data Models'
`Open311_ServiceRequest` (IssueTracking), normalized, in the core @context like the model's
normalized example, so it shows on maps, in subscriptions and in open data.

Built only from the public record: no reporter, e-mail, name, phone, device or account is ever
passed here, so none can leak into the entity.
"""

from __future__ import annotations

from typing import Any

from madina.services.open311.catalogue import Service
from madina.store.open311 import RequestRecord

ENTITY_TYPE = "Open311ServiceRequest"


def entity_id(request_id: str) -> str:
    return f"urn:ngsi-ld:{ENTITY_TYPE}:{request_id}"


def entity(record: RequestRecord, service: Service | None) -> dict[str, Any]:
    """The whole entity for `record` (create and replace alike); `service` names list keys."""
    body: dict[str, Any] = {"id": entity_id(record.id), "type": ENTITY_TYPE}
    texts = {
        "service_request_id": record.id, "service_code": record.service_code,
        "service_name": record.service_name, "status": record.status,
        "status_notes": record.status_notes, "description": record.description,
        "agency_responsible": record.agency_responsible,
        "service_notice": record.service_notice, "address_string": record.address,
        "address_id": record.address_id, "zipcode": record.zipcode,
        "media_url": record.media_url,
    }
    for name, value in texts.items():
        if value is not None:
            body[name] = {"type": "Property", "value": value}
    for name, moment in (("requested_datetime", record.requested_at),
                         ("updated_datetime", record.updated_at),
                         ("expected_datetime", record.expected_at)):
        if moment is not None:
            body[name] = {"type": "Property",
                          "value": {"@type": "DateTime", "@value": public_time(moment)}}
    if record.attributes:
        body["attributes"] = {"type": "Property",
                              "value": attribute_values(record.attributes, service)}
    if record.lat is not None and record.long is not None:
        body["location"] = {"type": "GeoProperty",
                            "value": {"type": "Point", "coordinates": [record.long, record.lat]}}
    return body


def attribute_values(values: dict[str, Any], service: Service | None) -> list[dict[str, Any]]:
    """The model's `attributes`: [{code, values: [{key, name}]}], names from the service
    definition for list attributes (the value itself otherwise)."""
    names: dict[str, dict[str, str]] = {}
    if service is not None:
        names = {a.code: {v.key: v.name for v in a.values} for a in service.attributes}
    out = []
    for code, value in values.items():
        keys = value if isinstance(value, list) else [value]
        out.append({"code": code, "values": [{"key": key, "name": names.get(code, {}).get(key, key)}
                                             for key in keys]})
    return out


def public_time(moment: str) -> str:
    """A stored time (microseconds, Z) as GeoReport v2 shows it: to the second, in UTC."""
    return moment[:19] + "Z"
