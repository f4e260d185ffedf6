"""Measure conversion to NGSI-LD attributes: types, timestamps, timezones, rejections."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.iot import ultralight
from madina.iot.measures import AttributeMapping, Device, StaticAttribute, attribute, convert
from madina.iot.payload import MeasureGroup

RECEIVED = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
RECEIVED_ISO = "2026-01-15T12:00:00.000000Z"
HELSINKI = Device(
    "sensor01",
    "urn:ngsi-ld:AirQualityObserved:1",
    "AirQualityObserved",
    attributes=(
        AttributeMapping("t", "temperature", "Number"),
        AttributeMapping("c", "count", "Integer"),
        AttributeMapping("on", "enabled", "Boolean"),
        AttributeMapping("l", "location", "geo:point"),
        AttributeMapping("w", "windSpeed", "Float", {"unitCode": {"type": "Text", "value": "MTS"}}),
    ),
    static_attributes=(StaticAttribute("owner", "Relationship", "urn:ngsi-ld:Org:city"),),
    timezone="Europe/Helsinki",
)


@pytest.mark.parametrize(
    ("type_name", "raw", "expected"),
    [
        ("Number", "15", {"type": "Property", "value": 15}),
        ("Number", "-1.5e2", {"type": "Property", "value": -150.0}),
        ("Number", 21.5, {"type": "Property", "value": 21.5}),
        ("Integer", "42", {"type": "Property", "value": 42}),
        ("Integer", 42.0, {"type": "Property", "value": 42}),
        ("Float", "3", {"type": "Property", "value": 3.0}),
        ("Boolean", "true", {"type": "Property", "value": True}),
        ("Boolean", "0", {"type": "Property", "value": False}),
        ("Boolean", False, {"type": "Property", "value": False}),
        ("Text", "abc", {"type": "Property", "value": "abc"}),
        ("Text", 7, {"type": "Property", "value": 7}),  # Text keeps the value as sent
        ("text", "x", {"type": "Property", "value": "x"}),  # type names ignore case
        ("NUMBER", "2", {"type": "Property", "value": 2}),
        ("Property", {"a": [1]}, {"type": "Property", "value": {"a": [1]}}),
        # an unknown type name types the value, as convertAttrNGSILD's default case does
        ("celsius", "15", {"type": "Property", "value": {"@type": "celsius", "@value": "15"}}),
        ("Date", "2026-01-15T23:30:00Z",
         {"type": "Property", "value": {"@type": "Date", "@value": "2026-01-15"}}),
        ("Time", "2026-01-15T23:30:05Z",
         {"type": "Property", "value": {"@type": "Time", "@value": "23:30:05"}}),
        ("LanguageProperty", {"fi": "katu", "en": "street"},
         {"type": "LanguageProperty", "languageMap": {"fi": "katu", "en": "street"}}),
        (
            "DateTime",
            "2026-01-15T14:00:00",
            {
                "type": "Property",
                "value": {"@type": "DateTime", "@value": "2026-01-15T12:00:00.000000Z"},
            },
        ),
        (  # NGSI-LD agents read coordinates longitude first (api.md, GeoProperty support)
            "geo:point",
            "24.94, 60.17",
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [24.94, 60.17]}},
        ),
        (
            "Point",
            [24.94, 60.17],
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [24.94, 60.17]}},
        ),
        (
            "geo:linestring",
            "24.9, 60.1, 25.0, 60.2",
            {"type": "GeoProperty",
             "value": {"type": "LineString", "coordinates": [[24.9, 60.1], [25.0, 60.2]]}},
        ),
        (
            "geo:json",
            '{"type": "Point", "coordinates": [24.94, 60.17]}',
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [24.94, 60.17]}},
        ),
        (
            "GeoProperty",
            {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
            {
                "type": "GeoProperty",
                "value": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
            },
        ),
        (
            "Relationship",
            "urn:ngsi-ld:Org:city",
            {"type": "Relationship", "object": "urn:ngsi-ld:Org:city"},
        ),
    ],
)
def test_conversions(type_name, raw, expected):
    assert attribute(type_name, raw, HELSINKI.zone) == expected


@pytest.mark.parametrize(
    ("type_name", "raw"),
    [
        ("Number", "abc"),
        ("Number", True),
        ("Number", "nan"),
        ("Number", "inf"),
        ("Number", [1]),
        ("Integer", "1.5"),
        ("Integer", 1.5),
        ("Float", None),
        ("Boolean", "maybe"),
        ("Boolean", 2),
        ("celsius", {"a": 1}),
        ("DateTime", "soon"),
        ("DateTime", 1700000000),
        ("geo:point", "60.17"),
        ("geo:point", "10, 95"),
        ("geo:point", "1, 2, 3, 4"),
        ("LanguageProperty", "katu"),
        ("geo:point", "a, b"),
        ("geo:point", [200, 24]),
        ("geo:json", "{"),
        ("geo:json", {"type": "Circle"}),
        ("geo:json", {"type": "Point"}),
        ("Relationship", "city"),
        ("Relationship", 3),
    ],
)
def test_bad_values(type_name, raw):
    with pytest.raises(ValueError):
        attribute(type_name, raw, HELSINKI.zone)


def test_ultralight_message_end_to_end():
    (group,) = ultralight.parse_measures("t|15|on|1|l|24.94,60.17|x|9|w|3.5")
    result = convert(HELSINKI, group, received_at=RECEIVED, with_static=True)
    assert result.rejected == []
    assert result.attributes == {
        "temperature": {"type": "Property", "value": 15, "observedAt": RECEIVED_ISO},
        "enabled": {"type": "Property", "value": True, "observedAt": RECEIVED_ISO},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [24.94, 60.17]},
            "observedAt": RECEIVED_ISO,
        },
        "x": {"type": "Property", "value": "9", "observedAt": RECEIVED_ISO},
        "windSpeed": {"type": "Property", "value": 3.5, "unitCode": "MTS",
                      "observedAt": RECEIVED_ISO},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Org:city"},
    }


def test_static_attributes_only_on_request_and_reserved_names_renamed():
    result = convert(HELSINKI, MeasureGroup({"id": "7", "type": "x"}), received_at=RECEIVED)
    assert set(result.attributes) == {"measure_id", "measure_type"}


def test_null_is_dropped_and_counted():
    result = convert(HELSINKI, MeasureGroup({"t": None, "c": "1"}), received_at=RECEIVED)
    assert set(result.attributes) == {"count"}
    assert [(r.object_id, r.reason) for r in result.rejected] == [("t", "bad_value")]


def test_bad_value_rejects_only_its_attribute():
    result = convert(HELSINKI, MeasureGroup({"t": "hot", "c": "3"}), received_at=RECEIVED)
    assert [(r.object_id, r.reason) for r in result.rejected] == [("t", "bad_value")]
    assert result.attributes["count"]["value"] == 3
    assert "temperature" not in result.attributes


def test_unknown_measures_dropped_with_explicit_attrs():
    device = Device("d", "urn:ngsi-ld:Thing:d", "Thing", HELSINKI.attributes, explicit_attrs=True)
    result = convert(device, MeasureGroup({"x": "9", "t": "1"}), received_at=RECEIVED)
    assert set(result.attributes) == {"temperature"}
    assert [(r.object_id, r.reason) for r in result.rejected] == [("x", "unknown_attribute")]


def test_mapping_also_found_by_attribute_name():
    result = convert(HELSINKI, MeasureGroup({"temperature": "2"}), received_at=RECEIVED)
    assert result.attributes["temperature"]["value"] == 2


@pytest.mark.parametrize(
    ("timestamp", "observed"),
    [
        (datetime(2026, 7, 1, 15, 0), "2026-07-01T12:00:00.000000Z"),  # Helsinki summer, +3
        (datetime(2026, 1, 1, 15, 0), "2026-01-01T13:00:00.000000Z"),  # Helsinki winter, +2
        (datetime(2026, 1, 1, 15, 0, tzinfo=UTC), "2026-01-01T15:00:00.000000Z"),
        (None, RECEIVED_ISO),
    ],
)
def test_observed_at(timestamp, observed):
    result = convert(HELSINKI, MeasureGroup({"t": "1"}, timestamp), received_at=RECEIVED)
    assert result.attributes["temperature"]["observedAt"] == observed


def test_device_timezone_defaults_to_utc_and_rejects_unknown_zones():
    device = Device("d", "urn:ngsi-ld:Thing:d", "Thing")
    result = convert(device, MeasureGroup({"t": "1"}, datetime(2026, 1, 1)), received_at=RECEIVED)
    assert result.attributes["t"]["observedAt"] == "2026-01-01T00:00:00.000000Z"
    with pytest.raises(ValueError):
        Device("d", "urn:ngsi-ld:Thing:d", "Thing", timezone="Mars/Olympus")


def test_bad_static_attribute_is_reported():
    device = Device(
        "d",
        "urn:ngsi-ld:Thing:d",
        "Thing",
        static_attributes=(StaticAttribute("where", "geo:point", "nowhere"),),
    )
    result = convert(device, MeasureGroup({"t": "1"}), received_at=RECEIVED, with_static=True)
    assert [(r.object_id, r.reason) for r in result.rejected] == [("where", "bad_value")]
    assert set(result.attributes) == {"t"}


TYPES = st.sampled_from(
    [
        "Number",
        "Integer",
        "Float",
        "Boolean",
        "Text",
        "DateTime",
        "Date",
        "LanguageProperty",
        "LineString",
        "geo:point",
        "geo:json",
        "GeoProperty",
        "Relationship",
        "Property",
        "celsius",
    ]
)
RAW = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["type", "coordinates", "x"]), children, max_size=3)
    ),
    max_leaves=10,
)


@given(TYPES, RAW)
def test_conversion_never_crashes(type_name, raw):
    device = Device(
        "d", "urn:ngsi-ld:Thing:d", "Thing", attributes=(AttributeMapping("v", "value", type_name),)
    )
    result = convert(device, MeasureGroup({"v": raw}), received_at=RECEIVED)
    assert len(result.attributes) + len(result.rejected) == 1


@pytest.mark.parametrize("raw", [
    {"type": ["Point"], "coordinates": [24.9, 60.1]},  # an unhashable type crashed conversion
    {"type": "Point", "coordinates": [24.9]},
    '{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}',
    "24.9",
])
def test_invalid_geojson_is_a_bad_value(raw):
    mapping = AttributeMapping("v", "where", "geo:json")
    device = Device("d", "urn:ngsi-ld:Thing:d", "Thing", attributes=(mapping,))
    result = convert(device, MeasureGroup({"v": raw}), received_at=RECEIVED)
    assert not result.attributes and len(result.rejected) == 1
