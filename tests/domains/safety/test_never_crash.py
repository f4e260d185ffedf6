"""Whatever a device sends, the safety services answer writes or nothing, never an exception."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from madina.domains.safety.config import SafetySettings
from madina.domains.safety.flood_service import FloodService
from madina.domains.safety.heat_service import HeatService

NOW = datetime(2026, 7, 1, tzinfo=UTC)
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
           | st.text(max_size=30)
           | st.datetimes(timezones=st.timezones()).map(datetime.isoformat))
JSON = st.recursive(SCALARS, lambda children: st.lists(children, max_size=3) | st.dictionaries(
    st.sampled_from(["type", "value", "observedAt", "@type", "@value", "coordinates",
                     "object"]), children, max_size=4), max_leaves=8)
NAMES = ["height", "currentLevel", "alertLevel", "dangerLevel", "temperature",
         "relativeHumidity", "dateObserved", "location", "name"]
ENTITIES = st.fixed_dictionaries(
    {"id": st.sampled_from(["urn:ngsi-ld:X:1", "urn:ngsi-ld:X:2"]) | JSON,
     "type": st.sampled_from(["WaterObserved", "FloodMonitoring", "WeatherObserved"]) | JSON},
    optional={name: JSON | st.fixed_dictionaries(
        {"type": st.just("Property"), "value": JSON},
        optional={"observedAt": JSON}) for name in NAMES})
SETTINGS = SafetySettings.from_dict({"flood": {"default_levels": {"watch": 1.0, "danger": 2.0}},
                                     "heat": {"raise_after_minutes": 0}})


@given(st.lists(ENTITIES, min_size=1, max_size=8))
def test_never_crashes(entities) -> None:
    flood, heat = FloodService(SETTINGS), HeatService(SETTINGS)
    for i, entity in enumerate(entities):
        now = NOW + timedelta(minutes=i)
        for service in (flood, heat):
            for write in service.react(entity, now):
                assert isinstance(write.entity_id, str) and write.attributes
    flood.take_messages()
    heat.take_messages()


def test_absurd_readings_never_write_non_finite_numbers() -> None:
    heat = HeatService(SETTINGS)
    assert heat.react({"id": "urn:ngsi-ld:X:1", "type": "WeatherObserved",
                       "temperature": {"type": "Property", "value": 1e300},
                       "relativeHumidity": {"type": "Property", "value": 0.5}}, NOW) == []
    flood = FloodService(SETTINGS)
    for i, height in enumerate([1.7e308, -1.7e308, 1.7e308, -1.7e308, 1.7e308]):
        for write in flood.react({"id": "urn:ngsi-ld:X:1", "type": "WaterObserved",
                                  "height": {"type": "Property", "value": height}},
                                 NOW + timedelta(minutes=i)):
            for attribute in write.attributes.values():
                value = attribute.get("value")
                assert not isinstance(value, float) or math.isfinite(value)
