"""HCM 7th Edition Exhibit 12-15, at every band boundary from both sides."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.domains.traffic.level_of_service import HCM7_FREEWAY_BANDS, level_of_service


@pytest.mark.parametrize(
    ("density", "expected"),
    [
        (0.0, "A"),
        (11.0, "A"),
        (11.01, "B"),
        (18.0, "B"),
        (18.01, "C"),
        (26.0, "C"),
        (26.01, "D"),
        (35.0, "D"),
        (35.01, "E"),
        (45.0, "E"),
        (45.01, "F"),
        (200.0, "F"),
    ],
)
def test_hcm7_basic_freeway_bands(density: float, expected: str) -> None:
    assert level_of_service(density) == expected


def test_bands_are_configurable() -> None:
    urban = (("A", 7.0), ("B", 11.0))
    assert level_of_service(7.0, urban) == "A"
    assert level_of_service(10.0, urban) == "B"
    assert level_of_service(11.5, urban) == "F"
    assert [upper for _, upper in HCM7_FREEWAY_BANDS] == [11, 18, 26, 35, 45]


@given(st.floats(min_value=0, max_value=500), st.floats(min_value=0, max_value=500))
def test_more_density_never_gives_a_better_level(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert level_of_service(low) <= level_of_service(high)
