"""US AQI (EPA-454/B-24-002): every band boundary on both sides, truncation, the O3 and SO2
switches, categories, EPA's worked examples and the interpolation's invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.domains.environment import epa_aqi
from madina.domains.environment.epa_aqi import (
    BREAKPOINTS,
    SubIndex,
    category,
    ozone_sub_index,
    simple_sub_index,
    sulfur_dioxide_sub_index,
)

# (pollutant, metric, concentration, expected sub-index): both sides of every boundary of
# Table 6, written out from the table rather than derived from the code's copy of it.
BOUNDARIES = [
    ("pm25", "pm25_24h", 0.0, 0), ("pm25", "pm25_24h", 9.0, 50), ("pm25", "pm25_24h", 9.1, 51),
    ("pm25", "pm25_24h", 35.4, 100), ("pm25", "pm25_24h", 35.5, 101),
    ("pm25", "pm25_24h", 55.4, 150), ("pm25", "pm25_24h", 55.5, 151),
    ("pm25", "pm25_24h", 125.4, 200), ("pm25", "pm25_24h", 125.5, 201),
    ("pm25", "pm25_24h", 225.4, 300), ("pm25", "pm25_24h", 225.5, 301),
    ("pm25", "pm25_24h", 325.4, 500),
    ("pm10", "pm10_24h", 0, 0), ("pm10", "pm10_24h", 54, 50), ("pm10", "pm10_24h", 55, 51),
    ("pm10", "pm10_24h", 154, 100), ("pm10", "pm10_24h", 155, 101),
    ("pm10", "pm10_24h", 254, 150), ("pm10", "pm10_24h", 255, 151),
    ("pm10", "pm10_24h", 354, 200), ("pm10", "pm10_24h", 355, 201),
    ("pm10", "pm10_24h", 424, 300), ("pm10", "pm10_24h", 425, 301),
    ("pm10", "pm10_24h", 604, 500),
    ("co", "co_8h", 0.0, 0), ("co", "co_8h", 4.4, 50), ("co", "co_8h", 4.5, 51),
    ("co", "co_8h", 9.4, 100), ("co", "co_8h", 9.5, 101), ("co", "co_8h", 12.4, 150),
    ("co", "co_8h", 12.5, 151), ("co", "co_8h", 15.4, 200), ("co", "co_8h", 15.5, 201),
    ("co", "co_8h", 30.4, 300), ("co", "co_8h", 30.5, 301), ("co", "co_8h", 50.4, 500),
    ("no2", "no2_1h", 0, 0), ("no2", "no2_1h", 53, 50), ("no2", "no2_1h", 54, 51),
    ("no2", "no2_1h", 100, 100), ("no2", "no2_1h", 101, 101), ("no2", "no2_1h", 360, 150),
    ("no2", "no2_1h", 361, 151), ("no2", "no2_1h", 649, 200), ("no2", "no2_1h", 650, 201),
    ("no2", "no2_1h", 1249, 300), ("no2", "no2_1h", 1250, 301), ("no2", "no2_1h", 2049, 500),
]

O3_8H_BOUNDARIES = [
    (0.000, 0), (0.054, 50), (0.055, 51), (0.070, 100), (0.071, 101), (0.085, 150),
    (0.086, 151), (0.105, 200), (0.106, 201), (0.200, 300),
]
O3_1H_BOUNDARIES = [
    (0.125, 101), (0.164, 150), (0.165, 151), (0.204, 200), (0.205, 201), (0.404, 300),
    (0.405, 301), (0.604, 500),
]
SO2_1H_BOUNDARIES = [
    (0, 0), (35, 50), (36, 51), (75, 100), (76, 101), (185, 150), (186, 151), (304, 200),
]


@pytest.mark.parametrize(("pollutant", "metric", "concentration", "expected"), BOUNDARIES)
def test_band_boundaries(pollutant: str, metric: str, concentration: float, expected: int) -> None:
    sub_index = simple_sub_index(pollutant, metric, concentration, BREAKPOINTS)
    assert sub_index == SubIndex(pollutant, expected, metric)


@pytest.mark.parametrize(("ppm", "expected"), O3_8H_BOUNDARIES)
def test_ozone_eight_hour_boundaries(ppm: float, expected: int) -> None:
    assert ozone_sub_index(ppm, None, BREAKPOINTS) == SubIndex("o3", expected, "o3_8h")


@pytest.mark.parametrize(("ppm", "expected"), O3_1H_BOUNDARIES)
def test_ozone_one_hour_boundaries(ppm: float, expected: int) -> None:
    assert ozone_sub_index(None, ppm, BREAKPOINTS) == SubIndex("o3", expected, "o3_1h")


@pytest.mark.parametrize(("ppb", "expected"), SO2_1H_BOUNDARIES)
def test_sulfur_dioxide_one_hour_boundaries(ppb: float, expected: int) -> None:
    assert sulfur_dioxide_sub_index(ppb, None, BREAKPOINTS) == SubIndex("so2", expected, "so2_1h")


@pytest.mark.parametrize(("pollutant", "metric", "concentration", "expected"), [
    ("pm25", "pm25_24h", 9.09, 50),  # truncated to 9.0, not rounded to 9.1
    ("pm25", "pm25_24h", 35.49, 100),
    ("pm10", "pm10_24h", 54.9, 50),
    ("co", "co_8h", 4.49, 50),
    ("no2", "no2_1h", 53.9, 50),
    ("no2", "no2_1h", 100.99, 100),
])
def test_concentrations_are_truncated_before_interpolation(
    pollutant: str, metric: str, concentration: float, expected: int
) -> None:
    assert simple_sub_index(pollutant, metric, concentration, BREAKPOINTS).value == expected


def test_truncation_survives_binary_representation() -> None:
    assert epa_aqi.truncate(0.07, 3) == 0.07  # 0.07 * 1000 is 70.00000000000001
    assert epa_aqi.truncate(0.29, 2) == 0.29  # 0.29 * 100 is 28.999999999999996
    assert epa_aqi.truncate(0.0709, 3) == 0.070
    assert ozone_sub_index(0.0709, None, BREAKPOINTS).value == 100
    assert sulfur_dioxide_sub_index(35.99, None, BREAKPOINTS).value == 50


def test_tad_example_ozone() -> None:
    """EPA's example: an 8-hour O3 of 0.07853 ppm truncates to 0.078, falls in 0.071–0.085
    (101–150), and (150 − 101)/(0.085 − 0.071) × (0.078 − 0.071) + 101 = 125.5 → 126."""
    assert ozone_sub_index(0.07853, None, BREAKPOINTS) == SubIndex("o3", 126, "o3_8h")


def test_tad_example_multiple_pollutants() -> None:
    """EPA's example: O3 0.078 ppm (126), PM2.5 35.9 µg/m³ (102), CO 8.4 ppm (90): the AQI is
    126 and ozone is the pollutant responsible."""
    sub_indices = [
        ozone_sub_index(0.078, None, BREAKPOINTS),
        simple_sub_index("pm25", "pm25_24h", 35.9, BREAKPOINTS),
        simple_sub_index("co", "co_8h", 8.4, BREAKPOINTS),
    ]
    assert [s.value for s in sub_indices] == [126, 102, 90]
    aqi = epa_aqi.overall(sub_indices)
    assert (aqi.value, aqi.responsible, aqi.category.name) == (
        126, "o3", "unhealthyForSensitiveGroups")


def test_halves_round_up() -> None:
    assert epa_aqi.round_half_up(125.5) == 126
    assert epa_aqi.round_half_up(124.5) == 125  # Python's round() would give 124
    assert epa_aqi.round_half_up(124.49) == 124


class TestOzoneSwitch:
    def test_eight_hour_above_its_table_defers_to_one_hour(self) -> None:
        assert ozone_sub_index(0.201, None, BREAKPOINTS) is None
        # 1-hour 0.450: (500 − 301)/(0.604 − 0.405) × (0.450 − 0.405) + 301 = 346
        assert ozone_sub_index(0.201, 0.450, BREAKPOINTS) == SubIndex("o3", 346, "o3_1h")

    def test_one_hour_defines_nothing_below_101(self) -> None:
        assert ozone_sub_index(None, 0.124, BREAKPOINTS) is None
        assert ozone_sub_index(0.060, 0.124, BREAKPOINTS) == SubIndex("o3", 67, "o3_8h")

    def test_the_higher_of_both_is_reported(self) -> None:
        # 8-hour 0.080 → 132.5 → 133; 1-hour 0.130 → 107
        assert ozone_sub_index(0.080, 0.130, BREAKPOINTS) == SubIndex("o3", 133, "o3_8h")
        # 8-hour 0.060 → 67; 1-hour 0.170 → 157
        assert ozone_sub_index(0.060, 0.170, BREAKPOINTS) == SubIndex("o3", 157, "o3_1h")

    def test_negative_noise_counts_as_zero(self) -> None:
        assert ozone_sub_index(-0.002, None, BREAKPOINTS) == SubIndex("o3", 0, "o3_8h")


class TestSulfurDioxideSwitch:
    def test_one_hour_above_304_uses_the_day(self) -> None:
        # 24-hour 350: (300 − 201)/(604 − 305) × (350 − 305) + 201 = 215.9 → 216
        assert sulfur_dioxide_sub_index(400, 350, BREAKPOINTS) == SubIndex("so2", 216, "so2_24h")

    def test_one_hour_above_304_with_a_low_day_is_200(self) -> None:
        assert sulfur_dioxide_sub_index(400, 200, BREAKPOINTS) == SubIndex("so2", 200, "so2_1h")
        assert sulfur_dioxide_sub_index(305, None, BREAKPOINTS) == SubIndex("so2", 200, "so2_1h")

    def test_day_alone_only_defines_200_and_up(self) -> None:
        assert sulfur_dioxide_sub_index(None, 200, BREAKPOINTS) is None
        # 24-hour 700: (500 − 301)/(1004 − 605) × (700 − 605) + 301 = 348.4 → 348
        assert sulfur_dioxide_sub_index(None, 700, BREAKPOINTS) == SubIndex("so2", 348, "so2_24h")

    def test_one_hour_within_its_table_wins_over_the_day(self) -> None:
        assert sulfur_dioxide_sub_index(100, 400, BREAKPOINTS) == SubIndex("so2", 112, "so2_1h")


@pytest.mark.parametrize(("aqi", "name", "color"), [
    (0, "good", "#00E400"), (50, "good", "#00E400"),
    (51, "moderate", "#FFFF00"), (100, "moderate", "#FFFF00"),
    (101, "unhealthyForSensitiveGroups", "#FF7E00"),
    (150, "unhealthyForSensitiveGroups", "#FF7E00"),
    (151, "unhealthy", "#FF0000"), (200, "unhealthy", "#FF0000"),
    (201, "veryUnhealthy", "#8F3F97"), (300, "veryUnhealthy", "#8F3F97"),
    (301, "hazardous", "#7E0023"), (500, "hazardous", "#7E0023"), (700, "hazardous", "#7E0023"),
])
def test_categories_and_colors(aqi: int, name: str, color: str) -> None:
    assert (category(aqi).name, category(aqi).color) == (name, color)


def test_beyond_the_index_extrapolates_and_stays_hazardous() -> None:
    sub_index = simple_sub_index("pm25", "pm25_24h", 425.4, BREAKPOINTS)
    # the top band's slope carried on: (500 − 301)/(325.4 − 225.5) × (425.4 − 225.5) + 301 = 699.2
    assert sub_index.value == 699
    assert category(sub_index.value).name == "hazardous"


def test_cautionary_statements_follow_pollutant_and_category() -> None:
    particles = epa_aqi.cautionary_statement("pm25", 2)
    assert particles.startswith("People with heart or lung disease")
    assert epa_aqi.cautionary_statement("pm10", 2) == particles
    assert epa_aqi.cautionary_statement("co", 1) == ""  # EPA gives none for Moderate CO
    assert "busy roads" in epa_aqi.cautionary_statement("no2", 3)
    assert epa_aqi.cautionary_statement("o3", 5) == "Everyone should avoid all outdoor exertion."
    assert epa_aqi.cautionary_statement("so2", 0) == ""


def test_overall_is_empty_without_sub_indices() -> None:
    assert epa_aqi.overall([]) is None


@pytest.mark.parametrize("metric", sorted(BREAKPOINTS))
@given(data=st.data())
def test_sub_index_is_monotonic_and_within_the_scale(metric: str, data: st.DataObject) -> None:
    bands = BREAKPOINTS[metric]
    low, high = bands[0][0], bands[-1][1]
    pollutant = metric.split("_")[0]
    decimals = epa_aqi.TRUNCATION_DECIMALS[pollutant]
    a = data.draw(st.floats(low, high))
    b = data.draw(st.floats(low, high))
    a, b = min(a, b), max(a, b)
    first = epa_aqi.interpolate(epa_aqi.truncate(a, decimals), bands)
    second = epa_aqi.interpolate(epa_aqi.truncate(b, decimals), bands)
    assert first is not None and second is not None
    assert first <= second
    assert bands[0][2] <= first <= second <= bands[-1][3]
