"""European Air Quality Index: both band sets at every boundary, the poorest pollutant, the
plausibility cap and the health messages."""

from __future__ import annotations

import pytest

from madina.domains.environment.eaqi import (
    BANDS,
    HEALTH_MESSAGES,
    LEVELS,
    european_index,
)

# (band set, pollutant, upper bounds of Good … Very poor, µg/m³), written out from the EEA tables.
TABLES = [
    ("2024", "pm25", (5, 15, 50, 90, 140)),
    ("2024", "pm10", (15, 45, 120, 195, 270)),
    ("2024", "no2", (10, 25, 60, 100, 150)),
    ("2024", "o3", (60, 100, 120, 160, 180)),
    ("2024", "so2", (20, 40, 125, 190, 275)),
    ("2021", "pm25", (10, 20, 25, 50, 75)),
    ("2021", "pm10", (20, 40, 50, 100, 150)),
    ("2021", "no2", (40, 90, 120, 230, 340)),
    ("2021", "o3", (50, 100, 130, 240, 380)),
    ("2021", "so2", (100, 200, 350, 500, 750)),
]


@pytest.mark.parametrize(("band_set", "pollutant", "bounds"), TABLES)
def test_every_boundary_on_both_sides(
    band_set: str, pollutant: str, bounds: tuple[float, ...]
) -> None:
    assert european_index({pollutant: 0.0}, BANDS[band_set]).level == "good"
    for rank, upper in enumerate(bounds):
        at_bound = european_index({pollutant: upper}, BANDS[band_set])
        above = european_index({pollutant: upper + 0.1}, BANDS[band_set])
        assert at_bound.level == LEVELS[rank]
        assert above.level == LEVELS[rank + 1]
    assert european_index({pollutant: bounds[-1] + 0.1}, BANDS[band_set]).level == "extremelyPoor"


def test_the_poorest_pollutant_sets_the_level() -> None:
    index = european_index({"pm25": 12.0, "no2": 70.0, "o3": 40.0}, BANDS["2024"])
    assert (index.level, index.rank, index.responsible) == ("poor", 3, "no2")
    assert index.levels == {"pm25": "fair", "no2": "poor", "o3": "good"}


def test_a_tie_goes_to_the_first_pollutant() -> None:
    index = european_index({"pm10": 30.0, "pm25": 10.0}, BANDS["2024"])
    assert (index.level, index.responsible) == ("fair", "pm10")


def test_implausible_values_are_left_out() -> None:
    index = european_index({"pm25": 900.0, "no2": 5.0}, BANDS["2024"])
    assert (index.level, index.responsible, index.levels) == ("good", "no2", {"no2": "good"})
    assert european_index({"pm25": 900.0}, BANDS["2024"]) is None


def test_pollutants_without_bands_are_ignored() -> None:
    assert european_index({"co": 5000.0}, BANDS["2024"]) is None
    assert european_index({}, BANDS["2024"]) is None


def test_every_level_has_general_and_sensitive_advice() -> None:
    assert set(HEALTH_MESSAGES) == set(LEVELS)
    for general, sensitive in HEALTH_MESSAGES.values():
        assert general and sensitive
    assert HEALTH_MESSAGES["extremelyPoor"] == (
        "Reduce physical activities outdoors.", "Avoid physical activities outdoors.")
