"""The city's service catalogue: its jurisdiction (with the boundary requests must fall in),
service groups, services with their definitions (attributes), and departments with the areas
where each handles each service.

One JSON document describes it all (the admin API's body, the CLI's file); it is checked here in
full before anything is stored, so a catalogue in the database is always a coherent one:
services name existing groups, areas name existing services, geometries are valid polygons.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any

import shapely
from shapely import Geometry
from shapely.geometry import shape

from madina.store.open311 import CatalogueRecord, Doc, ServiceArea

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
"""Service, group, department and attribute codes: they appear in URL paths and form keys."""
JURISDICTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SERVICE_TYPES = ("realtime", "batch", "blackbox")
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
LIST_DATATYPES = ("singlevaluelist", "multivaluelist")
MAX_TEXT = 4000
AREA_TYPES = ("Polygon", "MultiPolygon")
MAX_RESOLUTION_HOURS = 87_600
"""Ten years: longer is no expectation."""


class CatalogueError(ValueError):
    """The catalogue document is not acceptable; the message says where and why."""


@dataclass(frozen=True)
class AttributeValue:
    key: str
    name: str


@dataclass(frozen=True)
class Attribute:
    """One field of a service definition (GeoReport v2 "GET Service Definition")."""

    code: str
    datatype: str
    variable: bool = True
    """False: information shown to the citizen, not a question (never submitted)."""
    required: bool = False
    datatype_description: str | None = None
    order: int = 1
    description: str | None = None
    values: tuple[AttributeValue, ...] = ()

    def to_json(self) -> Doc:
        out: Doc = {"variable": self.variable, "code": self.code, "datatype": self.datatype,
                    "required": self.required, "datatype_description": self.datatype_description,
                    "order": self.order, "description": self.description}
        if self.datatype in LIST_DATATYPES:
            out["values"] = [{"key": v.key, "name": v.name} for v in self.values]
        return out


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    description: str | None = None
    type: str = "realtime"
    keywords: tuple[str, ...] = ()
    group: str | None = None
    """The code of its group."""
    service_notice: str | None = None
    """What a citizen is told when submitting (else the jurisdiction's)."""
    attributes: tuple[Attribute, ...] = ()
    expected_resolution_hours: float | None = None
    """How long the city expects to take (from submission or reopening): the requests'
    `expected_datetime`."""

    def to_json(self) -> Doc:
        return {"service_code": self.code, "service_name": self.name,
                "description": self.description, "type": self.type,
                "keywords": list(self.keywords), "group": self.group,
                "service_notice": self.service_notice,
                "attributes": [a.to_json() for a in self.attributes],
                "expected_resolution_hours": self.expected_resolution_hours}


@dataclass(frozen=True)
class Group:
    code: str
    name: str


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    service_areas: tuple[tuple[str, Doc], ...] = ()
    """(service code, GeoJSON polygon) pairs: where this department handles that service."""

    def to_json(self) -> Doc:
        return {"code": self.code, "name": self.name,
                "service_areas": [{"service_code": code, "area": area}
                                  for code, area in self.service_areas]}


@dataclass(frozen=True)
class Jurisdiction:
    id: str
    name: str
    boundary: Doc
    """GeoJSON Polygon or MultiPolygon: requests with coordinates outside it are refused."""
    contact: str | None = None
    key_service: str | None = None
    """Where app developers get an api_key (discovery)."""
    service_notice: str | None = None

    def to_json(self) -> Doc:
        return {"jurisdiction_id": self.id, "name": self.name, "boundary": self.boundary,
                "contact": self.contact, "key_service": self.key_service,
                "service_notice": self.service_notice}


@dataclass(frozen=True)
class Catalogue:
    jurisdiction: Jurisdiction | None = None
    groups: tuple[Group, ...] = ()
    services: tuple[Service, ...] = ()
    departments: tuple[Department, ...] = ()
    changed_at: str = ""

    def service(self, code: str) -> Service | None:
        return next((s for s in self.services if s.code == code), None)

    def department(self, code: str) -> Department | None:
        return next((d for d in self.departments if d.code == code), None)

    def group_name(self, code: str | None) -> str | None:
        return next((g.name for g in self.groups if g.code == code), None)

    @functools.cached_property
    def boundary_shape(self) -> Geometry | None:
        """The jurisdiction's boundary, prepared once per catalogue kept in memory."""
        return _prepared(self.jurisdiction.boundary) if self.jurisdiction else None

    @functools.cached_property
    def service_areas(self) -> dict[str, list[tuple[str, Geometry]]]:
        """Service code -> (department code, prepared area) in department-code order:
        routing reads the catalogue kept in memory, never the database, per submission."""
        areas: dict[str, list[tuple[str, Geometry]]] = {}
        for department in sorted(self.departments, key=lambda d: d.code):
            for code, area in department.service_areas:
                areas.setdefault(code, []).append((department.code, _prepared(area)))
        return areas

    def to_json(self) -> Doc:
        return {
            "jurisdiction": self.jurisdiction.to_json() if self.jurisdiction else None,
            "groups": [{"code": g.code, "name": g.name} for g in self.groups],
            "services": [s.to_json() for s in self.services],
            "departments": [d.to_json() for d in self.departments],
        }

    def record(self, changed_at: str) -> CatalogueRecord:
        """What the store keeps: each part as its JSON document, areas with their boxes."""
        areas = tuple(
            ServiceArea(d.code, code, area, _bbox(area))
            for d in self.departments for code, area in d.service_areas
        )
        j = self.jurisdiction
        return CatalogueRecord(
            jurisdiction_id=j.id if j else None,
            jurisdiction=j.to_json() if j else None,
            groups=tuple((g.code, {"code": g.code, "name": g.name}) for g in self.groups),
            services=tuple((s.code, s.to_json()) for s in self.services),
            departments=tuple((d.code, {"code": d.code, "name": d.name})
                              for d in self.departments),
            areas=areas,
            changed_at=changed_at,
        )


def from_record(record: CatalogueRecord) -> Catalogue:
    """The stored catalogue (checked when it was stored, so read back without new checks)."""
    areas: dict[str, list[tuple[str, Doc]]] = {}
    for area in record.areas:
        areas.setdefault(area.department, []).append((area.service_code, area.geometry))
    return Catalogue(
        jurisdiction=jurisdiction_of(record.jurisdiction) if record.jurisdiction else None,
        groups=tuple(Group(code, doc["name"]) for code, doc in record.groups),
        services=tuple(service_of(doc) for _, doc in record.services),
        departments=tuple(Department(code, doc["name"], tuple(areas.get(code, ())))
                          for code, doc in record.departments),
        changed_at=record.changed_at,
    )


def jurisdiction_of(doc: Doc) -> Jurisdiction:
    return Jurisdiction(doc["jurisdiction_id"], doc["name"], doc["boundary"], doc.get("contact"),
                        doc.get("key_service"), doc.get("service_notice"))


def service_of(doc: Doc) -> Service:
    """A stored service document (the output of `Service.to_json`) as a Service."""
    return Service(
        doc["service_code"], doc["service_name"], doc.get("description"), doc["type"],
        tuple(doc.get("keywords", ())), doc.get("group"), doc.get("service_notice"),
        tuple(Attribute(a["code"], a["datatype"], a["variable"], a["required"],
                        a.get("datatype_description"), a["order"], a.get("description"),
                        tuple(AttributeValue(v["key"], v["name"]) for v in a.get("values", ())))
              for a in doc["attributes"]),
        doc.get("expected_resolution_hours"),
    )


# -- checking a catalogue document -------------------------------------------------------------
def parse_catalogue(body: Any) -> Catalogue:
    """A whole catalogue document, checked; raises CatalogueError naming the first problem."""
    doc = _object(body, "the catalogue", {"jurisdiction", "groups", "services", "departments"},
                  {"jurisdiction"})
    jurisdiction = parse_jurisdiction(doc["jurisdiction"])
    groups = tuple(_group(item, f"groups[{i}]") for i, item in enumerate(_list(doc, "groups")))
    _unique([g.code for g in groups], "group code")
    services = tuple(parse_service(item, f"services[{i}]")
                     for i, item in enumerate(_list(doc, "services")))
    departments = tuple(parse_department(item, f"departments[{i}]")
                        for i, item in enumerate(_list(doc, "departments")))
    return checked(Catalogue(jurisdiction, groups, services, departments))


def checked(catalogue: Catalogue) -> Catalogue:
    """Cross-references: unique codes, services in known groups, areas of known services."""
    _unique([s.code for s in catalogue.services], "service_code")
    _unique([d.code for d in catalogue.departments], "department code")
    groups = {g.code for g in catalogue.groups}
    for service in catalogue.services:
        if service.group is not None and service.group not in groups:
            raise CatalogueError(f"service {service.code!r} names unknown group {service.group!r}")
    codes = {s.code for s in catalogue.services}
    for department in catalogue.departments:
        for code, _ in department.service_areas:
            if code not in codes:
                raise CatalogueError(
                    f"department {department.code!r} has a service area for unknown service "
                    f"{code!r}")
    return catalogue


def parse_jurisdiction(body: Any) -> Jurisdiction:
    doc = _object(body, "jurisdiction", {"jurisdiction_id", "name", "boundary", "contact",
                                         "key_service", "service_notice"},
                  {"jurisdiction_id", "name", "boundary"})
    jurisdiction_id = doc["jurisdiction_id"]
    if not isinstance(jurisdiction_id, str) or not JURISDICTION_ID.match(jurisdiction_id):
        raise CatalogueError("jurisdiction.jurisdiction_id must be 1 to 128 letters, digits, "
                             "'.', '_' or '-' (e.g. a domain name such as city.example)")
    return Jurisdiction(
        jurisdiction_id, _text(doc, "name", "jurisdiction", required=True),
        polygon(doc["boundary"], "jurisdiction.boundary"),
        _text(doc, "contact", "jurisdiction"), _text(doc, "key_service", "jurisdiction"),
        _text(doc, "service_notice", "jurisdiction"),
    )


def parse_service(body: Any, where: str = "service") -> Service:
    doc = _object(body, where, {"service_code", "service_name", "description", "type",
                                "keywords", "group", "service_notice", "attributes",
                                "expected_resolution_hours"},
                  {"service_code", "service_name"})
    code = _code(doc["service_code"], f"{where}.service_code")
    kind = doc.get("type", "realtime")
    if kind not in SERVICE_TYPES:
        raise CatalogueError(f"{where}.type must be one of {', '.join(SERVICE_TYPES)}")
    keywords = doc.get("keywords", [])
    if isinstance(keywords, str):
        keywords = [k.strip() for k in keywords.split(",") if k.strip()]
    if not isinstance(keywords, list) or not all(isinstance(k, str) and k and "," not in k
                                                 for k in keywords):
        raise CatalogueError(f"{where}.keywords must be a list of words (no commas) or a "
                             "comma-separated string")
    group = doc.get("group")
    if group is not None:
        group = _code(group, f"{where}.group")
    attributes = tuple(_attribute(item, f"{where}.attributes[{i}]", i)
                       for i, item in enumerate(_list(doc, "attributes")))
    _unique([a.code for a in attributes], f"attribute code of service {code!r}")
    return Service(code, _text(doc, "service_name", where, required=True),
                   _text(doc, "description", where), kind, tuple(keywords), group,
                   _text(doc, "service_notice", where),
                   tuple(sorted(attributes, key=lambda a: a.order)),
                   _hours(doc.get("expected_resolution_hours"), where))


def parse_department(body: Any, where: str = "department") -> Department:
    doc = _object(body, where, {"code", "name", "service_areas"}, {"code", "name"})
    areas = []
    for i, item in enumerate(_list(doc, "service_areas")):
        place = f"{where}.service_areas[{i}]"
        area = _object(item, place, {"service_code", "area"}, {"service_code", "area"})
        areas.append((_code(area["service_code"], f"{place}.service_code"),
                      polygon(area["area"], f"{place}.area")))
    return Department(_code(doc["code"], f"{where}.code"), _text(doc, "name", where, True),
                      tuple(areas))


def _group(body: Any, where: str) -> Group:
    doc = _object(body, where, {"code", "name"}, {"code", "name"})
    return Group(_code(doc["code"], f"{where}.code"), _text(doc, "name", where, True))


def _attribute(body: Any, where: str, position: int) -> Attribute:
    doc = _object(body, where, {"code", "variable", "datatype", "required",
                                "datatype_description", "order", "description", "values"},
                  {"code", "datatype"})
    datatype = doc["datatype"]
    if datatype not in DATATYPES:
        raise CatalogueError(f"{where}.datatype must be one of {', '.join(DATATYPES)}")
    order = doc.get("order", position + 1)
    if not isinstance(order, int) or isinstance(order, bool) or not 0 <= order < 10**6:
        raise CatalogueError(f"{where}.order must be a whole number from 0 to 999999")
    values = []
    for i, item in enumerate(_list(doc, "values")):
        value = _object(item, f"{where}.values[{i}]", {"key", "name"}, {"key", "name"})
        key, name = value["key"], value["name"]
        if isinstance(key, int) and not isinstance(key, bool):
            key = str(key)
        if not isinstance(key, str) or not key or not isinstance(name, str) or not name:
            raise CatalogueError(f"{where}.values[{i}] needs a non-empty key and name (text)")
        values.append(AttributeValue(key, name))
    _unique([v.key for v in values], f"value key of {where}")
    if datatype in LIST_DATATYPES and not values:
        raise CatalogueError(f"{where} is a {datatype}: it needs values")
    if datatype not in LIST_DATATYPES and values:
        raise CatalogueError(f"{where} is a {datatype}: only list datatypes have values")
    return Attribute(_code(doc["code"], f"{where}.code"), datatype,
                     _flag(doc, "variable", where, True), _flag(doc, "required", where, False),
                     _text(doc, "datatype_description", where), order,
                     _text(doc, "description", where), tuple(values))


# -- small checks ------------------------------------------------------------------------------
def _object(body: Any, where: str, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise CatalogueError(f"{where} must be a JSON object")
    unknown = set(body) - allowed
    if unknown:
        raise CatalogueError(f"{where} has unknown members: {', '.join(sorted(unknown))}")
    missing = required - set(body)
    if missing:
        raise CatalogueError(f"{where} lacks {', '.join(sorted(missing))}")
    return body


def _list(doc: dict[str, Any], member: str) -> list[Any]:
    value = doc.get(member, [])
    if not isinstance(value, list):
        raise CatalogueError(f"{member} must be a list")
    return value


def _code(value: Any, where: str) -> str:
    if not isinstance(value, str) or not CODE.match(value):
        raise CatalogueError(f"{where} must be 1 to 64 letters, digits, '.', '_' or '-', "
                             "starting with a letter or digit")
    return value


def _text(doc: dict[str, Any], member: str, where: str, required: bool = False) -> Any:
    value = doc.get(member)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT \
            or "\x00" in value:
        raise CatalogueError(f"{where}.{member} must be a non-empty text of at most "
                             f"{MAX_TEXT} characters")
    return value


def _flag(doc: dict[str, Any], member: str, where: str, default: bool) -> bool:
    value = doc.get(member, default)
    if not isinstance(value, bool):
        raise CatalogueError(f"{where}.{member} must be true or false")
    return value


def _hours(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not 0 < value <= MAX_RESOLUTION_HOURS:
        raise CatalogueError(f"{where}.expected_resolution_hours must be a number of hours "
                             f"above 0 and at most {MAX_RESOLUTION_HOURS}")
    return value


def _unique(codes: list[str], what: str) -> None:
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            raise CatalogueError(f"{what} {code!r} appears twice")
        seen.add(code)


def polygon(value: Any, where: str) -> Doc:
    """A valid GeoJSON Polygon or MultiPolygon in WGS84 longitude/latitude."""
    if not isinstance(value, dict) or value.get("type") not in AREA_TYPES \
            or set(value) - {"type", "coordinates"}:
        raise CatalogueError(f"{where} must be a GeoJSON Polygon or MultiPolygon")
    try:
        geometry = shape(value)
    except Exception:  # shapely raises several kinds for malformed coordinates
        raise CatalogueError(f"{where} has malformed coordinates") from None
    if geometry.is_empty or not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry) if not geometry.is_empty else "empty"
        raise CatalogueError(f"{where} is not a valid polygon ({reason})")
    lon_min, lat_min, lon_max, lat_max = geometry.bounds
    if not all(map(math.isfinite, geometry.bounds)) or lon_min < -180 or lon_max > 180 \
            or lat_min < -90 or lat_max > 90:
        raise CatalogueError(f"{where} must be in WGS84 longitude/latitude")
    return {"type": value["type"], "coordinates": value["coordinates"]}


def _prepared(area: Doc) -> Geometry:
    geometry = shape(area)
    shapely.prepare(geometry)
    return geometry


def _bbox(area: Doc) -> tuple[float, float, float, float]:
    return tuple(shape(area).bounds)  # type: ignore[return-value]
