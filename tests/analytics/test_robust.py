"""Robust statistics: NumPy's percentile definition, MAD, and Iglewicz-Hoaglin's z-score."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.analytics.robust import (
    median,
    median_absolute_deviation,
    modified_z_score,
    percentile,
)

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


@given(st.lists(finite, min_size=1, max_size=50), st.floats(min_value=0, max_value=100))
def test_percentile_is_numpys_linear_definition(values: list[float], q: float) -> None:
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-9,
                                                  abs=1e-6)


def test_median_and_mad_worked_example() -> None:
    # Iglewicz and Hoaglin's style of example: a small sample with one wild value.
    sample = [2.1, 2.3, 2.2, 2.4, 2.2, 9.8]
    assert median(sample) == pytest.approx(2.25)
    assert median_absolute_deviation(sample) == pytest.approx(0.1)
    # 9.8 is (9.8 - 2.25) / 0.1 = 75.5 MADs out: M = 0.6745 · 75.5 ≈ 50.9, far past 3.5.
    assert modified_z_score(9.8, 2.25, 0.1) == pytest.approx(0.6745 * 75.5)
    assert abs(modified_z_score(2.3, 2.25, 0.1)) < 3.5


def test_flat_history_needs_a_floor() -> None:
    assert modified_z_score(5.0, 5.0, 0.0) == 0.0
    assert modified_z_score(5.1, 5.0, 0.0) == math.inf
    assert modified_z_score(4.9, 5.0, 0.0) == -math.inf
    assert modified_z_score(5.1, 5.0, 0.0, mad_floor=0.1) == pytest.approx(0.6745)


def test_bad_input() -> None:
    with pytest.raises(ValueError):
        median([])
    with pytest.raises(ValueError):
        percentile([1.0], 101)
