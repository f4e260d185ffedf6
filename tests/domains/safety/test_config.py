"""City configuration: defaults, loading from TOML and dicts, and refusals."""

from __future__ import annotations

import pytest

from madina.domains.safety.config import (
    FloodSettings,
    HeatSettings,
    LevelPolicy,
    SafetySettings,
    WarningSettings,
    levels_from,
)
from madina.domains.safety.levels import Levels
from madina.domains.safety.model import Area

GAUGE = "urn:ngsi-ld:WaterObserved:vantaa-1"
TOML = f"""
[flood]
lower_after_minutes = 45
[flood.gauges."{GAUGE}"]
danger = 2.4
advisory = 1.2
warning = 1.8
[flood.areas."{GAUGE}"]
description = "Vantaa river, Oulunkylä"
polygons = [[[60.22, 24.96], [60.23, 24.97], [60.22, 24.98], [60.22, 24.96]]]
geocodes = [["NUTS3", "FI1B1"]]
[flood.policies.danger]
instruction = "Leave the riverside now."

[heat]
metric = "temperature"
levels = {{ warm = 25.0, danger = 27.0, extremeDanger = 30.0 }}
warn_from = "danger"
raise_after_minutes = 180
[heat.policies.warm]
severity = "Minor"
urgency = "Expected"
alert_severity = "low"

[warnings]
sender = "warnings@hel.fi"
sender_name = "City of Helsinki"
language = "fi-FI"
"""


def test_defaults_are_the_nws_heat_categories_and_no_flood_levels() -> None:
    settings = SafetySettings()
    assert settings.heat.levels.names == ("caution", "extremeCaution", "danger", "extremeDanger")
    assert settings.heat.levels.thresholds == (26.67, 32.22, 39.44, 51.67)
    assert settings.heat.warning_levels() == Levels(("danger", "extremeDanger"), (39.44, 51.67))
    assert settings.flood.gauges == {}
    assert settings.flood.default_levels is None
    assert settings.flood.policies["warning"].severity == "Severe"


def test_from_toml() -> None:
    settings = SafetySettings.from_toml(TOML)
    flood = settings.flood
    assert flood.gauges[GAUGE] == Levels(("advisory", "warning", "danger"), (1.2, 1.8, 2.4))
    assert flood.lower_after_minutes == 45
    assert flood.areas[GAUGE] == Area(
        "Vantaa river, Oulunkylä",
        polygons=(((60.22, 24.96), (60.23, 24.97), (60.22, 24.98), (60.22, 24.96)),),
        geocodes=(("NUTS3", "FI1B1"),))
    assert flood.policies["danger"].instruction == "Leave the riverside now."
    assert flood.policies["danger"].severity == "Extreme"  # the rest of the default stays
    heat = settings.heat
    assert heat.metric == "temperature"
    assert heat.levels == Levels(("warm", "danger", "extremeDanger"), (25.0, 27.0, 30.0))
    assert heat.policies["warm"] == LevelPolicy("Minor", "Expected", "low")
    assert heat.raise_after_minutes == 180
    assert settings.warnings.sender == "warnings@hel.fi"
    assert settings.warnings.language == "fi-FI"


@pytest.mark.parametrize(("data", "message"), [
    ({"flod": {}}, "unknown"),
    ({"flood": {"deadband": 0.1}}, "unknown"),
    ({"heat": {"warn_form": "danger"}}, "unknown"),
    ({"warnings": {"sendr": "x"}}, "unknown"),
    ({"flood": {"areas": {GAUGE: {"description": "x", "circle": []}}}}, "unknown"),
    ({"flood": {"gauges": {GAUGE: {"flooding": 1.0}}}}, "policy"),
    ({"flood": {"gauges": {GAUGE: {"advisory": 1.0, "warning": 1.0}}}}, "rise"),
    ({"flood": {"rate_min_readings": 1}}, "rate_min_readings"),
    ({"heat": {"warn_from": "hot"}}, "warn_from"),
    ({"heat": {"levels": {"hot": 30.0}, "warn_from": "hot"}}, "policy"),
    ({"heat": {"policies": {"danger": {"severity": "Awful"}}}}, "severity"),
    ({"heat": {"policies": {"danger": {"alert_severity": "severe"}}}}, "Alert severity"),
    ({"heat": {"policies": {"danger": "Severe"}}}, "table"),
    ({"heat": {"policies": {"danger": {"severty": "Severe"}}}}, "unknown"),
    ({"flood": "deep"}, "table"),
    ({"warnings": {"identifier_prefix": "has space"}}, "identifier_prefix"),
    ({"warnings": {"renew_minutes": 400}}, "renew_minutes"),
])
def test_mistakes_are_refused(data, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SafetySettings.from_dict(data)


def test_levels_from_orders_by_threshold() -> None:
    assert levels_from({"danger": 3, "watch": 1.5}) == Levels(("watch", "danger"), (1.5, 3.0))


def test_settings_are_frozen() -> None:
    for settings in (FloodSettings(), HeatSettings(), WarningSettings()):
        with pytest.raises(AttributeError):
            settings.max_gauges = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        FloodSettings().policies["warning"] = LevelPolicy(  # type: ignore[index]
            "Minor", "Expected", "low")
