"""The Open311 extensions citizens and their apps use besides submitting, at /open311/v2, each in
`.json` and `.xml` with the spec's error lists (madina.api.open311):

- `GET servicerequestupdates` — mySociety's extension (FixMyStreet, open311-adapter): every
  public change made to the city's requests between `start_date` and `end_date`;
- `POST requests/{id}/followers` — join an open request (a duplicate found before submitting)
  to hear of its changes by e-mail, instead of reporting it again;
- `POST alerts`, `GET alerts/confirm/{token}`, `GET|POST alerts/unsubscribe/{token}` — area
  alerts: new requests in an area, by e-mail, once confirmed;
- `GET media/{name}` — the photos uploaded with requests (cleaned of metadata on upload).

Joining and subscribing need what submitting needs (an app's api_key or a signed-in citizen),
so a city's SMTP server only mails addresses its apps vouched for; the confirmation and
unsubscribe links work for anyone holding them, as links in e-mails must.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from madina.api import http
from madina.api.open311 import (
    Payload,
    form_of,
    georeport_routes,
    params_of,
    public_base,
    service_of,
    submitter_of,
    tenant_of_call,
)
from madina.auth.rules import OPEN, PUBLIC_READ, allow
from madina.context.errors import ResourceNotFound
from madina.services.open311 import alerts, workflow
from madina.services.open311.entity import public_time
from madina.services.open311.errors import Open311Error
from madina.services.open311.media import MEDIA_TYPES
from madina.services.open311.query import update_window
from madina.services.open311.submission import canonical_now, read_contact
from madina.store.open311 import Reporter, StatusChange

PHOTO_HEADERS = {"Cache-Control": "public, max-age=31536000, immutable",
                 "Content-Security-Policy": "default-src 'none'; sandbox"}
"""A photo's name is its content's hash: it never changes, and it is never a document."""


def update_json(request_id: str, change: StatusChange) -> dict[str, Any]:
    """One item of servicerequestupdates (open311-adapter's Update::mySociety fields;
    `external_status_code` is Madina's own workflow state)."""
    return {"update_id": str(change.id), "service_request_id": request_id,
            "status": workflow.update_status(change.state, change.reason),
            "updated_datetime": public_time(change.at), "description": change.note,
            "media_url": None, "external_status_code": change.state}


async def request_updates(request: Request, fmt: str) -> Payload:
    params = params_of(request)
    tenant = await tenant_of_call(request, params.get("jurisdiction_id"))
    window = update_window(params)
    found = await http.call(request, service_of(request).updates, tenant, window)
    return "service_request_updates", [update_json(i, change) for i, change in found], 200


async def follow(request: Request, fmt: str) -> Payload:
    """Join an open request: the follower is told of each change, as its reporter is."""
    fields, _ = await form_of(request)
    first = dict(reversed(fields))
    tenant = await tenant_of_call(request, first.get("jurisdiction_id") or None)
    submitter = await submitter_of(request, tenant, first.get("api_key") or None)
    contact = read_contact(fields)
    follower = Reporter("follower", contact.email, contact.first_name, contact.last_name,
                        contact.phone, contact.device_id, contact.account_id,
                        submitter.subject, submitter.app_key, canonical_now())
    request_id = request.path_params["service_request_id"]
    added = await http.call(request, service_of(request).follow, tenant, request_id, follower)
    return "service_requests", [{"service_request_id": request_id}], 201 if added else 200


async def subscribe(request: Request, fmt: str) -> Payload:
    fields, _ = await form_of(request)
    first = dict(reversed(fields))
    tenant = await tenant_of_call(request, first.get("jurisdiction_id") or None)
    await submitter_of(request, tenant, first.get("api_key") or None)
    open311 = service_of(request)
    catalogue, _ = await http.call(request, open311.configured, tenant)
    wanted = alerts.read_alert(first, catalogue)
    sender = request.app.state.open311_mail
    if sender is None:
        raise Open311Error(503, "this city sends no e-mail (no SMTP server is configured), so "
                                "alerts cannot be confirmed")
    links = await http.call(request, open311.links, tenant, public_base(request))
    alert_id = await http.call(request, alerts.subscribe, open311.tables, tenant, wanted,
                               links, canonical_now())
    sender.wake()
    return "alerts", [{"alert_id": str(alert_id), "status": "unconfirmed",
                       "description": "a confirmation link was e-mailed to the address"}], 201


async def confirm(request: Request, fmt: str) -> Payload:
    alert = await http.call(request, alerts.confirm, service_of(request).tables,
                            request.path_params["token"])
    return "alerts", [{"alert_id": str(alert.id), "status": "confirmed"}], 200


async def unsubscribe(request: Request, fmt: str) -> Payload:
    alert = await http.call(request, alerts.unsubscribe, service_of(request).tables,
                            request.path_params["token"])
    return "alerts", [{"alert_id": str(alert.id), "status": "ended"}], 200


@allow(PUBLIC_READ)
async def photo(request: Request) -> Response:
    name = request.path_params["name"]
    path = request.app.state.open311_media.path(name)
    if path is None or not path.is_file():
        raise ResourceNotFound(f"no photo {name!r}")
    return FileResponse(path, media_type=MEDIA_TYPES[name.rsplit(".", 1)[1]],
                        headers=PHOTO_HEADERS)


routes = [
    *georeport_routes("/servicerequestupdates", request_updates, "GET", PUBLIC_READ),
    *georeport_routes("/requests/{service_request_id}/followers", follow, "POST", OPEN),
    *georeport_routes("/alerts", subscribe, "POST", OPEN),
    *georeport_routes("/alerts/confirm/{token}", confirm, "GET", OPEN),
    *georeport_routes("/alerts/unsubscribe/{token}", unsubscribe, "GET", OPEN),
    *georeport_routes("/alerts/unsubscribe/{token}", unsubscribe, "POST", OPEN),
    Route("/media/{name}", photo, methods=["GET"]),
]
