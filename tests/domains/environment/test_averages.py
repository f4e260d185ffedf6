"""Hourly running averages: out-of-order data, gaps, redelivery, sub-hourly averaging and the
completeness rules (6 of 8, 18 of 24)."""

from __future__ import annotations

from madina.domains.environment.averages import HOUR, HourlySeries, window_mean

T0 = 1_780_000_000 // HOUR * HOUR  # an hour boundary
H0 = T0 // HOUR


def series_with(values: dict[int, float]) -> HourlySeries:
    series = HourlySeries(24)
    for hour, value in values.items():
        assert series.add(T0 + hour * HOUR, value)
    return series


def test_recent_hours_most_recent_first_with_gaps() -> None:
    series = series_with({0: 1.0, 1: 2.0, 3: 4.0})
    assert series.recent(H0 + 3, 5) == [4.0, None, 2.0, 1.0, None]


def test_out_of_order_observations_land_in_their_hour() -> None:
    series = series_with({0: 1.0, 3: 4.0})
    assert series.add(T0 + 2 * HOUR + 600, 3.0)  # late, but its hour is still kept
    assert series.recent(H0 + 3, 4) == [4.0, 3.0, None, 1.0]
    assert series.latest_hour == H0 + 3


def test_observations_older_than_the_ring_are_refused() -> None:
    series = series_with({0: 1.0, 30: 2.0})
    assert not series.add(T0 + 6 * HOUR, 9.0)  # 24 hours behind the latest
    assert series.add(T0 + 7 * HOUR, 9.0)
    assert series.recent(H0 + 30, 24)[-1] == 9.0


def test_an_instant_already_counted_is_refused() -> None:
    series = series_with({0: 1.0})
    assert not series.add(T0, 5.0)
    assert series.add(T0 + 60, 3.0)
    assert not series.add(T0 + 60, 3.0)
    assert not series.add(T0, 3.0)
    assert series.recent(H0, 1) == [2.0]


def test_sub_hourly_values_average_into_their_hour() -> None:
    series = HourlySeries(24)
    for minute, value in ((0, 10.0), (20, 20.0), (40, 30.0)):
        series.add(T0 + minute * 60, value)
    assert series.recent(H0, 1) == [20.0]


def test_the_ring_wraps_without_stale_hours() -> None:
    series = HourlySeries(24)
    for hour in range(60):
        series.add(T0 + hour * HOUR, float(hour))
    assert series.recent(H0 + 59, 24) == [float(hour) for hour in range(59, 35, -1)]
    # windows ending later than the data show the hours that have aged out as missing
    assert series.recent(H0 + 70, 24)[:11] == [None] * 11


def test_eight_hour_means_need_six_hours() -> None:
    six = [1.0, 2.0, None, 3.0, 4.0, None, 5.0, 6.0]
    assert window_mean(six, 8, 6) == (3.5, 6)  # divisor: the hours present
    five = [1.0, None, None, 3.0, 4.0, None, 5.0, 6.0]
    assert window_mean(five, 8, 6) == (None, 5)


def test_day_means_need_eighteen_hours() -> None:
    assert window_mean([2.0] * 18 + [None] * 6, 24, 18) == (2.0, 18)
    assert window_mean([2.0] * 17 + [None] * 7, 24, 18).value is None
    assert window_mean([None] * 24, 24, 18) == (None, 0)
