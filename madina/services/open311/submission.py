"""A POSTed service request, read and checked: GeoReport v2 "POST Service Request" arguments,
the service definition's attributes, and limits on every text.

Every problem found is reported at once (the spec's error answer is a list), and nothing here
touches storage: a submission either passes every check or is refused whole.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from madina.services.open311.catalogue import LIST_DATATYPES, MAX_TEXT, Attribute, Service
from madina.services.open311.errors import bad_request

SINGLE_FIELDS = ("jurisdiction_id", "api_key", "service_code", "lat", "long", "address_string",
                 "address_id", "email", "device_id", "account_id", "first_name", "last_name",
                 "phone", "description", "media_url", "anonymous")
CONTACT_FIELDS = ("email", "device_id", "account_id", "first_name", "last_name", "phone")
ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
"""Characters no XML 1.0 document may hold (answers are XML too), nor any sane text field."""
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LIMITS = {"address_string": 1000, "address_id": 200, "email": 254, "device_id": 200,
          "account_id": 200, "first_name": 200, "last_name": 200, "phone": 50,
          "media_url": 2048, "description": MAX_TEXT, "service_code": 64,
          "jurisdiction_id": 128, "api_key": 200, "lat": 64, "long": 64, "anonymous": 5}


@dataclass(frozen=True)
class Contact:
    """Personal data: stored for the staff handling the request, never published."""

    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Submission:
    service_code: str
    lat: float | None = None
    long: float | None = None
    address_string: str | None = None
    address_id: str | None = None
    description: str | None = None
    media_url: str | None = None
    raw_attributes: dict[str, list[str]] = field(default_factory=dict)
    """attribute code -> the values given, before the service definition checks them."""
    contact: Contact = Contact()
    api_key: str | None = None
    jurisdiction_id: str | None = None
    anonymous: bool = True
    """False: the reporter asked to be named with the request (first name and the initial of
    the last name); shown anonymously otherwise, by default."""

    @property
    def has_coordinates(self) -> bool:
        return self.lat is not None and self.long is not None


def read_form(fields: list[tuple[str, str]], with_media: bool = False) -> Submission:
    """The arguments of a POST (form-encoded or multipart, already decoded to text fields;
    `with_media`: a photo came as a file part too). Unknown fields are ignored, as clients of
    many Open311 servers send extras."""
    problems: list[str] = []
    single: dict[str, str] = {}
    attributes: dict[str, list[str]] = {}
    for name, value in fields:
        if CONTROL.search(name) or CONTROL.search(value):
            problems.append(f"{_shown(name)} holds a control character")
            continue
        match = ATTRIBUTE.match(name)
        if match:
            attributes.setdefault(match.group(1), []).append(value)
        elif name in SINGLE_FIELDS:
            if name in single:
                problems.append(f"{name} is given more than once")
            single[name] = value.strip()
    for name, value in single.items():
        if len(value) > LIMITS[name]:
            problems.append(f"{name} is longer than {LIMITS[name]} characters")
    texts = {name: value or None for name, value in single.items()}
    lat, lon = _coordinates(texts.get("lat"), texts.get("long"), problems)
    if not texts.get("service_code"):
        problems.append("service_code is missing: name the service this request is for "
                        "(GET services lists them)")
    if texts.get("lat") is None and texts.get("long") is None \
            and not texts.get("address_string") and not texts.get("address_id"):
        problems.append("a location is missing: give lat and long, address_string or "
                        "address_id")
    email = texts.get("email")
    if email is not None and not EMAIL.match(email):
        problems.append("email is not an e-mail address")
    media_url = texts.get("media_url")
    if media_url is not None and not re.match(r"^https?://[^\s/]+\S*$", media_url):
        problems.append("media_url must be an http or https URL")
    if media_url is not None and with_media:
        problems.append("give a photo as media or as media_url, not both")
    anonymous = texts.get("anonymous") or "true"
    if anonymous not in ("true", "false"):
        problems.append("anonymous must be true or false")
    elif anonymous == "false" and not texts.get("first_name"):
        problems.append("anonymous=false names the reporter: it needs first_name")
    if problems:
        raise bad_request(*problems)
    return Submission(
        service_code=single["service_code"], lat=lat, long=lon,
        address_string=texts.get("address_string"), address_id=texts.get("address_id"),
        description=texts.get("description"), media_url=media_url,
        raw_attributes=attributes,
        contact=Contact(*(texts.get(name) for name in CONTACT_FIELDS)),
        api_key=texts.get("api_key"), jurisdiction_id=texts.get("jurisdiction_id"),
        anonymous=anonymous != "false",
    )


def read_contact(fields: list[tuple[str, str]]) -> Contact:
    """Who joins an existing request to hear of its changes: `email` (required: it is how
    they hear) and optionally the other contact fields of a submission."""
    problems = []
    given: dict[str, str] = {}
    for name, value in fields:
        if name not in CONTACT_FIELDS:
            continue
        if CONTROL.search(value):
            problems.append(f"{name} holds a control character")
        elif len(value.strip()) > LIMITS[name]:
            problems.append(f"{name} is longer than {LIMITS[name]} characters")
        elif name in given:
            problems.append(f"{name} is given more than once")
        else:
            given[name] = value.strip()
    email = given.get("email")
    if not email or not EMAIL.match(email):
        problems.append("email is missing or not an e-mail address: it is how followers hear "
                        "of the request's changes")
    if problems:
        raise bad_request(*problems)
    return Contact(*(given.get(name) or None for name in CONTACT_FIELDS))


def _coordinates(lat_text: str | None, lon_text: str | None,
                 problems: list[str]) -> tuple[float | None, float | None]:
    if lat_text is None and lon_text is None:
        return None, None
    if lat_text is None or lon_text is None:
        problems.append("lat and long go together: give both or neither")
        return None, None
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        problems.append("lat and long must be decimal numbers (WGS84 degrees)")
        return None, None
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        problems.append("lat must be from -90 to 90")
        return None, None
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        problems.append("long must be from -180 to 180")
        return None, None
    return lat, lon


def check_attributes(service: Service, given: dict[str, list[str]]) -> dict[str, str | list[str]]:
    """The attribute values as the service definition wants them: every required one present,
    numbers numbers, date-times with a time zone (stored in UTC), list values among the keys.
    Returns code -> value (text), or a list of keys for a multivaluelist."""
    problems: list[str] = []
    known = {a.code: a for a in service.attributes}
    for code in given:
        if code not in known:
            problems.append(f"attribute[{_shown(code)}] is not an attribute of service "
                            f"{service.code!r}")
        elif not known[code].variable:
            problems.append(f"attribute[{code}] is information for the citizen, not a question")
    values: dict[str, str | list[str]] = {}
    for attribute in service.attributes:
        if not attribute.variable:
            continue
        entered = [v.strip() for v in given.get(attribute.code, []) if v.strip()]
        if not entered:
            if attribute.required:
                problems.append(f"attribute[{attribute.code}] is required"
                                + (f": {attribute.description}" if attribute.description else ""))
            continue
        value = _attribute_value(attribute, entered, problems)
        if value is not None:
            values[attribute.code] = value
    if problems:
        raise bad_request(*problems)
    return values


def _attribute_value(attribute: Attribute, entered: list[str],
                     problems: list[str]) -> str | list[str] | None:
    name = f"attribute[{attribute.code}]"
    if attribute.datatype == "multivaluelist":
        keys = {v.key for v in attribute.values}
        unknown = [v for v in entered if v not in keys]
        if unknown:
            problems.append(f"{name} has values that are not among its keys: "
                            f"{', '.join(map(_shown, unknown))}")
            return None
        return list(dict.fromkeys(entered))
    if len(entered) > 1:
        problems.append(f"{name} takes one value")
        return None
    value = entered[0]
    if attribute.datatype == "singlevaluelist" and value not in {v.key for v in attribute.values}:
        problems.append(f"{name} must be one of its keys: "
                        f"{', '.join(v.key for v in attribute.values)}")
        return None
    if attribute.datatype == "number":
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            problems.append(f"{name} must be a number")
            return None
    if attribute.datatype == "datetime":
        moment = parse_datetime(value)
        if moment is None:
            problems.append(f"{name} must be an ISO 8601 date-time with a time zone")
            return None
        return canonical(moment)
    if attribute.datatype not in LIST_DATATYPES and len(value) > MAX_TEXT:
        problems.append(f"{name} is longer than {MAX_TEXT} characters")
        return None
    return value


def parse_datetime(text: str) -> datetime | None:
    """An ISO 8601 date-time with its time zone (the spec's w3 format), else None."""
    try:
        moment = datetime.fromisoformat(text)
        return moment.astimezone(UTC) if moment.tzinfo is not None else None
    except (ValueError, OverflowError):  # out of range once moved to UTC (year 1 at +14:00)
        return None


def canonical(moment: datetime) -> str:
    """The stored form of a time: fixed-width UTC text, so string order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_now() -> str:
    return canonical(datetime.now(UTC))


def _shown(text: str) -> str:
    """A client's text quoted in an error, cut short and without control characters."""
    return repr(CONTROL.sub("?", text[:64]))
