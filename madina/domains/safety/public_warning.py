"""One public warning, independent of how it is published, and its two publications: the CAP
`info` block and the NGSI-LD `Alert` entity (Smart Data Models dataModel.Alert).

The Alert entity holds what the Smart Data Models schema defines — `category` (traffic,
naturalDisaster, weather, environment, health, security, agriculture), `subCategory` (e.g.
flood, highTemperature, heatWave), `severity` (informational, low, medium, high, critical),
`description`, `location`, `dateIssued`, `validFrom`, `validTo`, `alertSource` (a Relationship
to the observed entity) — and puts the CAP specifics the schema lacks (event, level, CAP
severity, urgency, certainty, responseType, headline, instruction, area) in its `data` object
(the schema's "payload containing the data retrieved"), so `warning_from_alert` gives back the
whole warning and the CAP feed can be rendered from stored Alert entities.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from madina.domains.safety.config import LevelPolicy
from madina.domains.safety.model import Area, Info

CLEARED = "cleared"
"""The `data.level` of an Alert entity whose warning is over."""


@dataclass(frozen=True)
class Hazard:
    """A kind of danger, named in each vocabulary it is published in."""

    key: str
    """Short name used in identifiers: letters and digits."""
    event: str
    """CAP event."""
    cap_categories: tuple[str, ...]
    alert_category: str
    """Smart Data Models Alert category."""
    sub_category: str
    """Smart Data Models Alert subCategory."""


FLOOD = Hazard("flood", "Flood", ("Met",), "weather", "flood")
"""CAP 1.2 §3.2.2: "Met – Meteorological (inc. flood)"; Smart Data Models lists `flood` among
the weather alert subcategories (dataModel.Weather WeatherAlertCategories)."""
HEAT = Hazard("heat", "Extreme heat", ("Met", "Health"), "weather", "highTemperature")


@dataclass(frozen=True)
class PublicWarning:
    """What a warning says at one moment; each change is a new value."""

    alert_id: str
    """The NGSI-LD id of its Alert entity (one per warning, from raise to clear)."""
    source_id: str
    """The observed entity it derives from."""
    hazard: Hazard
    level: str
    """A level name, or CLEARED once the warning is over."""
    policy: LevelPolicy
    headline: str
    description: str
    issued: datetime
    """When it was first raised."""
    valid_to: datetime
    """When it lapses unless renewed (its CAP messages' `expires`)."""
    area: Area | None = None
    location: dict[str, Any] | None = None
    """GeoJSON geometry of the hazard (the source's location)."""

    @property
    def cleared(self) -> bool:
        return self.level == CLEARED


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date_time(moment: datetime) -> dict[str, Any]:
    return {"type": "Property", "value": {"@type": "DateTime", "@value": iso(moment)}}


def _prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


def _area_data(area: Area) -> dict[str, Any]:
    return {"description": area.description,
            "polygons": [[list(p) for p in ring] for ring in area.polygons],
            "circles": [list(c) for c in area.circles],
            "geocodes": [list(g) for g in area.geocodes]}


def _area_back(data: dict[str, Any]) -> Area:
    return Area(data["description"],
                tuple(tuple((lat, lon) for lat, lon in ring) for ring in data["polygons"]),
                tuple((lat, lon, r) for lat, lon, r in data["circles"]),
                tuple((name, value) for name, value in data["geocodes"]))


def alert_attributes(warning: PublicWarning) -> dict[str, Any]:
    """The Alert entity's attributes (normalized, compact Smart Data Models names)."""
    policy = warning.policy
    data: dict[str, Any] = {
        "hazard": warning.hazard.key,
        "event": warning.hazard.event,
        "level": warning.level,
        "capCategories": list(warning.hazard.cap_categories),
        "capSeverity": policy.severity,
        "urgency": policy.urgency,
        "certainty": policy.certainty,
        "responseType": policy.response,
        "alertSeverity": policy.alert_severity,
        "headline": warning.headline,
        "instruction": policy.instruction,
    }
    if warning.area is not None:
        data["area"] = _area_data(warning.area)
    attributes = {
        "category": _prop(warning.hazard.alert_category),
        "subCategory": _prop(warning.hazard.sub_category),
        "severity": _prop(policy.alert_severity),
        "name": _prop(warning.headline),
        "description": _prop(warning.description),
        "dateIssued": _date_time(warning.issued),
        "validFrom": _date_time(warning.issued),
        "validTo": _date_time(warning.valid_to),
        "alertSource": {"type": "Relationship", "object": warning.source_id},
        "data": _prop(data),
    }
    if warning.location is not None:
        attributes["location"] = {"type": "GeoProperty", "value": warning.location}
    return attributes


def _value(entity: dict[str, Any], name: str) -> Any:
    attribute = entity[name]
    if isinstance(attribute, list):
        attribute = attribute[0]
    if isinstance(attribute, dict) and attribute.get("type") == "Relationship":
        return attribute["object"]
    value = attribute["value"] if isinstance(attribute, dict) and "value" in attribute \
        else attribute
    if isinstance(value, dict) and "@value" in value:
        return value["@value"]
    return value


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def warning_from_alert(entity: dict[str, Any]) -> PublicWarning:
    """Back from an Alert entity written by `alert_attributes` (normalized or keyValues)."""
    data = _value(entity, "data")
    hazard = Hazard(
        key=data["hazard"],
        event=data["event"],
        cap_categories=tuple(data["capCategories"]),
        alert_category=_value(entity, "category"),
        sub_category=_value(entity, "subCategory"),
    )
    policy = LevelPolicy(severity=data["capSeverity"], urgency=data["urgency"],
                         alert_severity=_value(entity, "severity"),
                         certainty=data["certainty"], response=data["responseType"],
                         instruction=data["instruction"])
    return PublicWarning(
        alert_id=entity["id"],
        source_id=_value(entity, "alertSource"),
        hazard=hazard,
        level=data["level"],
        policy=policy,
        headline=data["headline"],
        description=_value(entity, "description"),
        issued=_moment(_value(entity, "dateIssued")),
        valid_to=_moment(_value(entity, "validTo")),
        area=_area_back(data["area"]) if "area" in data else None,
        location=_value(entity, "location") if "location" in entity else None,
    )


def cap_info(warning: PublicWarning, *, sent: datetime, language: str, sender_name: str,
             web: str = "") -> Info:
    """The CAP info block of a message sent at `sent` about `warning`. A cleared warning's
    info says so: urgency Past, responseType AllClear (CAP 1.2 §3.2.2: "the subject event no
    longer poses a threat")."""
    policy = warning.policy
    over = warning.cleared
    return Info(
        categories=warning.hazard.cap_categories,
        event=warning.hazard.event,
        urgency="Past" if over else policy.urgency,
        severity=policy.severity,
        certainty=policy.certainty,
        language=language,
        response_types=("AllClear",) if over else (policy.response,),
        effective=sent,
        expires=warning.valid_to,
        sender_name=sender_name,
        headline=warning.headline,
        description=warning.description,
        instruction="" if over else policy.instruction,
        web=web,
        parameters=(("level", warning.level),),
        areas=(warning.area,) if warning.area is not None else (),
    )
