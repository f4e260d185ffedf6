"""WHO 2021 short-term guideline levels: above is exceeded, at the level is not."""

from __future__ import annotations

import pytest

from madina.domains.environment.who_guidelines import SHORT_TERM_GUIDELINES, check_guidelines


@pytest.mark.parametrize(("metric", "level"), [
    ("pm25_24h", 15.0), ("pm10_24h", 45.0), ("no2_24h", 25.0), ("so2_24h", 40.0),
    ("o3_8h", 100.0), ("co_24h", 4000.0),
])
def test_guideline_levels(metric: str, level: float) -> None:
    assert SHORT_TERM_GUIDELINES[metric] == level
    assert check_guidelines({metric: level}).exceeded == ()
    assert check_guidelines({metric: level + 0.01}).exceeded == (metric,)
    assert check_guidelines({metric: level}).ratios == {metric: 1.0}


def test_ratios_and_order() -> None:
    check = check_guidelines({"o3_8h": 150.0, "pm25_24h": 7.5, "pm10_24h": 90.0, "nox": 1.0})
    assert check.exceeded == ("o3_8h", "pm10_24h")
    assert check.ratios == {"o3_8h": 1.5, "pm25_24h": 0.5, "pm10_24h": 2.0}
