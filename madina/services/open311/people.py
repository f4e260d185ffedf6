"""A person's rights over what the Open311 service holds about them (GDPR art. 15, 17 and 20):
everything, exported as one JSON document; and its erasure, after which the public requests
they made stay as they are, shown as anonymous.

A person is found by the e-mail address, the phone number or the account id they gave. What is
held: their reporter and follower rows (contact details, which app or sign-in they used), the
requests those rows belong to (the public side, which they wrote), their area alerts and the
e-mails still waiting to be sent to them. Free text they wrote into a request's description is
public and stays; staff who find personal data in it edit the request.
"""

from __future__ import annotations

from typing import Any

import orjson

from madina.services.open311.entity import public_time
from madina.services.open311.errors import bad_request
from madina.store.open311_people import IDENTIFIERS, Erased
from madina.store.open311_tables import Open311Tables

MAX_IDENTIFIER = 254


def identifier_of(body: Any) -> tuple[str, str]:
    """The one identifier of a request body: {"email": ...}, {"phone": ...} or
    {"account_id": ...}."""
    if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in IDENTIFIERS:
        raise bad_request("the body names the person by exactly one of "
                          f"{', '.join(IDENTIFIERS)}, e.g. {{\"email\": \"ana@example.org\"}}")
    name, value = next(iter(body.items()))
    if not isinstance(value, str) or not 0 < len(value.strip()) <= MAX_IDENTIFIER:
        raise bad_request(f"{name} must be text of 1 to {MAX_IDENTIFIER} characters")
    return name, value.strip()


def export(tables: Open311Tables, tenant: str, identifier: str, value: str) -> dict[str, Any]:
    """Everything held about the person in the tenant, as JSON-ready data."""
    rows = tables.reporters_by(tenant, identifier, value)
    requests = {r.id: r for r in tables.requests_by_id(tenant, sorted({i for i, _ in rows}))}
    emails = sorted({who.email for _, who in rows if who.email}
                    | ({value} if identifier == "email" else set()))
    return {
        "found_by": {identifier: value},
        "requests": [{
            "service_request_id": request_id, "role": who.role,
            "contact": {"email": who.email, "first_name": who.first_name,
                        "last_name": who.last_name, "phone": who.phone,
                        "device_id": who.device_id, "account_id": who.account_id},
            "signed_in_as": who.subject, "app_key": who.app_key,
            "since": public_time(who.created_at),
            "request": _public(requests.get(request_id)),
        } for request_id, who in rows],
        "alerts": [{
            "email": alert.email, "area": alert.area,
            "service_codes": list(alert.service_codes) if alert.service_codes else None,
            "confirmed": public_time(alert.confirmed_at) if alert.confirmed_at else None,
            "created": public_time(alert.created_at),
        } for email in emails for alert in tables.alerts_of(tenant, email)],
        "emails_waiting": [{
            "to": email, **orjson.loads(message), "queued": public_time(created_at),
            "attempts": attempts, "failed": failed,
        } for email in emails
            for message, created_at, attempts, failed in tables.mail_to(tenant, email)],
    }


def _public(record: Any) -> dict[str, Any] | None:
    if record is None:
        return None
    return {"service_code": record.service_code, "service_name": record.service_name,
            "description": record.description, "address": record.address,
            "lat": record.lat, "long": record.long, "media_url": record.media_url,
            "requested_datetime": public_time(record.requested_at),
            "state": record.state, "shown_as": record.reported_by or "anonymous"}


def erase(tables: Open311Tables, tenant: str, identifier: str, value: str) -> dict[str, Any]:
    erased: Erased = tables.erase_person(tenant, identifier, value)
    return {"found_by": {identifier: value}, "reporter_rows_erased": erased.reporters,
            "requests_now_anonymous": erased.anonymised, "alerts_ended": erased.alerts,
            "emails_dropped": erased.mails}
