"""Area alerts: anyone may ask to be e-mailed about every new request in an area of the city
(FixMyStreet's "local alerts"), given as a polygon or as a point and a radius, for every service
or some. Nothing is sent until the address's owner confirms with the link mailed to them; every
alert e-mail carries the link that ends the alert (and List-Unsubscribe, RFC 8058).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass

import orjson
from shapely.geometry import shape

from madina.services.open311 import nearby, notices
from madina.services.open311.catalogue import Catalogue, CatalogueError, polygon
from madina.services.open311.errors import bad_request, not_found
from madina.services.open311.notices import Links
from madina.services.open311.routing import covers
from madina.services.open311.submission import CONTROL, EMAIL, canonical_now
from madina.store.identities import Executor
from madina.store.open311 import Doc, RequestRecord
from madina.store.open311_alerts import Alert
from madina.store.open311_outbox import Mail
from madina.store.open311_tables import Open311Tables

MAX_ALERT_RADIUS_M = 20_000.0
MAX_AREA_BYTES = 64 * 1024


@dataclass(frozen=True)
class AlertRequest:
    email: str
    area: Doc
    service_codes: tuple[str, ...] | None


def read_alert(fields: dict[str, str], catalogue: Catalogue) -> AlertRequest:
    """The form of POST alerts: `email`; `lat`, `long` and `radius` (metres) or `area` (a
    GeoJSON Polygon or MultiPolygon); optionally `service_code` (comma-separated)."""
    problems = []
    email = fields.get("email", "").strip()
    if not EMAIL.match(email) or len(email) > 254 or CONTROL.search(email):
        problems.append("email must be the e-mail address to alert")
    area = None
    if fields.get("area"):
        area = _polygon_field(fields["area"], problems)
    elif any(fields.get(name) for name in ("lat", "long", "radius")):
        area = _circle_fields(fields, problems)
    else:
        problems.append("the area is missing: give lat, long and radius (metres), or area "
                        "(a GeoJSON Polygon)")
    codes = None
    if fields.get("service_code"):
        codes = tuple(dict.fromkeys(c.strip() for c in fields["service_code"].split(",")
                                    if c.strip()))
        unknown = [c for c in codes if catalogue.service(c) is None]
        if unknown:
            problems.append(f"service_code names no service: {', '.join(unknown)[:200]}")
    jurisdiction = catalogue.jurisdiction
    if area is not None and jurisdiction is not None \
            and not shape(area).intersects(shape(jurisdiction.boundary)):
        problems.append(f"the area lies outside {jurisdiction.name}")
    if problems:
        raise bad_request(*problems)
    assert area is not None
    return AlertRequest(email, area, codes)


def _polygon_field(text: str, problems: list[str]) -> Doc | None:
    if len(text) > MAX_AREA_BYTES:
        problems.append(f"area is larger than {MAX_AREA_BYTES} bytes")
        return None
    try:
        return polygon(orjson.loads(text), "area")
    except orjson.JSONDecodeError:
        problems.append("area must be GeoJSON (a Polygon or MultiPolygon)")
    except CatalogueError as exc:
        problems.append(str(exc))
    return None


def _circle_fields(fields: dict[str, str], problems: list[str]) -> Doc | None:
    try:
        lat, lon, radius = (float(fields.get(n) or "nan") for n in ("lat", "long", "radius"))
    except ValueError:
        lat = lon = radius = math.nan
    if not (math.isfinite(lat) and -85 <= lat <= 85 and math.isfinite(lon)
            and -180 <= lon <= 180):
        problems.append("lat and long must be a WGS84 position (latitude within ±85)")
        return None
    if not (math.isfinite(radius) and 0 < radius <= MAX_ALERT_RADIUS_M):
        problems.append(f"radius must be metres, above 0 and at most {MAX_ALERT_RADIUS_M:g}")
        return None
    return nearby.circle(lat, lon, radius)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def subscribe(tables: Open311Tables, tenant: str, wanted: AlertRequest, links: Links,
              now: str) -> int:
    """Store the unconfirmed alert and queue its confirmation e-mail, together; its id."""
    confirm, unsubscribe = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    bounds = shape(wanted.area).bounds
    alert = Alert(0, tenant, wanted.email, wanted.area, tuple(bounds), wanted.service_codes,
                  None, now, unsubscribe)
    mail = Mail(tenant, wanted.email, notices.alert_confirmation(links, confirm, unsubscribe))
    return tables.subscribe_alert(alert, _hash(confirm), mail, now, time.time())


def confirm(tables: Open311Tables, token: str) -> Alert:
    alert = tables.confirm_alert(_hash(token), canonical_now())
    if alert is None:
        raise not_found("no alert has this confirmation token (it may have been ended)")
    return alert


def unsubscribe(tables: Open311Tables, token: str) -> Alert:
    alert = tables.remove_alert(token)
    if alert is None:
        raise not_found("no alert has this token (it may have been ended already)")
    return alert


def mails_for(tables: Open311Tables, run: Executor, tenant: str,
              new: list[tuple[RequestRecord, Links]]) -> list[Mail]:
    """The alert e-mails new requests of one tenant send: for each, one per confirmed alert
    whose area holds it and whose services include its service. The alerts around all of
    them are read at once."""
    placed = [(r, links) for r, links in new if r.lat is not None and r.long is not None]
    if not placed:
        return []
    lons = [r.long for r, _ in placed]
    lats = [r.lat for r, _ in placed]
    around = tables.alerts_in_box(run, tenant, (min(lons), min(lats), max(lons), max(lats)))
    mails = []
    for record, links in placed:
        for alert in around:
            west, south, east, north = alert.bbox
            if not (west <= record.long <= east and south <= record.lat <= north):
                continue
            if alert.service_codes is not None and \
                    record.service_code not in alert.service_codes:
                continue
            if covers(alert.area, record.lat, record.long):
                mails.append(Mail(tenant, alert.email,
                                  notices.new_request(links, record, alert.unsubscribe_token)))
    return mails
