"""The noise service end to end: NoiseLevelObserved intervals in, L_day/L_evening/L_night/L_den
per assessment day and WHO 2018 exceedances out — periods in local time across a clock change,
intervals split at period boundaries, coverage, late and redelivered data."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.domains.environment.noise_service import NoiseService
from madina.domains.environment.settings import NoiseSettings
from madina.domains.writes import Write

STATION = "urn:ngsi-ld:NoiseLevelObserved:hameentie"
DAY = datetime(2026, 6, 1, 7, tzinfo=UTC)  # an assessment day's start (UTC city)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def interval(start: datetime, end: datetime, laeq: float) -> dict[str, Any]:
    """A NoiseLevelObserved as Smart Data Models gives it: LAeq over dateObservedFrom/To."""
    return {
        "id": STATION, "type": "NoiseLevelObserved",
        "LAeq": {"type": "Property", "value": laeq},
        "dateObservedFrom": {"type": "Property",
                             "value": {"@type": "DateTime", "@value": iso(start)}},
        "dateObservedTo": {"type": "Property", "value": {"@type": "DateTime", "@value": iso(end)}},
    }


def hourly(service: NoiseService, start: datetime, levels: list[float]) -> list[list[Write]]:
    """Feed one interval per hour from `start` with the given levels; every call's writes."""
    results = []
    for index, level in enumerate(levels):
        begin = start + timedelta(hours=index)
        results.append(service.react(interval(begin, begin + timedelta(hours=1), level),
                                     begin + timedelta(hours=1)))
    return results


def day_levels(day: float, evening: float, night: float) -> list[float]:
    """24 hourly levels from 07:00: 12 of day, 4 of evening, 8 of night."""
    return [day] * 12 + [evening] * 4 + [night] * 8


def indicators(writes: list[Write]) -> dict[str, Any]:
    [write] = writes
    assert (write.entity_id, write.entity_type) == (STATION, "NoiseLevelObserved")
    return write.attributes


def test_a_constant_level_gives_the_penalised_lden() -> None:
    service = NoiseService()
    results = hourly(service, DAY, [60.0] * 24)
    assert all(writes == [] for writes in results[:-1])  # nothing until the day is complete
    attributes = indicators(results[-1])
    for name in ("Lday", "Levening", "Lnight"):
        assert attributes[name]["value"] == 60.0
        assert attributes[name]["coverage"]["value"] == 1.0
    assert attributes["Lden"]["value"] == 66.4  # 60 + 10·lg((12 + 4·10^0.5 + 80)/24)
    lden = attributes["Lden"]
    assert (lden["unitCode"], lden["observedAt"]) == ("2N", "2026-06-02T07:00:00Z")
    assert lden["periodStart"]["value"] == "2026-06-01T07:00:00Z"
    assert lden["referenceSpecification"]["value"] == "Directive 2002/49/EC, Annex I"
    exceedances = attributes["noiseGuidelineExceedances"]
    assert exceedances["value"] == ["Lden", "Lnight"]
    assert exceedances["noiseSource"]["value"] == "roadTraffic"
    assert exceedances["guidelines"]["value"] == {"Lden": 53.0, "Lnight": 45.0}


def test_lden_from_three_different_periods() -> None:
    service = NoiseService()
    attributes = indicators(hourly(service, DAY, day_levels(65.0, 62.0, 55.0))[-1])
    assert [attributes[n]["value"] for n in ("Lday", "Levening", "Lnight", "Lden")] == [
        65.0, 62.0, 55.0, 65.4]  # 10·lg((12·10^6.5 + 4·10^6.7 + 8·10^6.5)/24) = 65.40


def test_quiet_nights_do_not_exceed() -> None:
    service = NoiseService()
    attributes = indicators(hourly(service, DAY, day_levels(50.0, 48.0, 40.0))[-1])
    assert attributes["Lden"]["value"] == 50.7  # 10·lg((12·10^5 + 4·10^5.3 + 8·10^5)/24)
    assert attributes["noiseGuidelineExceedances"]["value"] == []


def test_an_interval_across_a_period_boundary_is_split() -> None:
    service = NoiseService()
    half = timedelta(minutes=30)
    steps = [(DAY + timedelta(hours=h), DAY + timedelta(hours=h + 1), 50.0) for h in range(11)]
    evening = DAY + timedelta(hours=12)
    steps += [(evening - 2 * half, evening - half, 50.0), (evening - half, evening + half, 70.0),
              (evening + half, evening + 2 * half, 50.0)]
    steps += [(DAY + timedelta(hours=h), DAY + timedelta(hours=h + 1), 50.0)
              for h in range(13, 24)]
    for start, end, level in steps:
        writes = service.react(interval(start, end, level), end)
    attributes = indicators(writes)
    # day: 11.5 h at 50 dB and 0.5 h at 70 dB; evening: 0.5 h at 70 and 3.5 h at 50
    assert attributes["Lday"]["value"] == round(10 * math.log10((11.5e5 + 0.5e7) / 12), 1)
    assert attributes["Levening"]["value"] == round(10 * math.log10((0.5e7 + 3.5e5) / 4), 1)
    assert attributes["Lnight"]["value"] == 50.0


@pytest.mark.parametrize(("clock_hour", "period"), [
    (7, "Lday"), (18, "Lday"), (19, "Levening"), (22, "Levening"), (23, "Lnight"), (6, "Lnight"),
])
def test_each_hour_lands_in_its_period(clock_hour: int, period: str) -> None:
    """One loud hour among quiet ones raises the level of its own period only."""
    service = NoiseService()
    levels = [50.0] * 24
    levels[(clock_hour - 7) % 24] = 80.0
    attributes = indicators(hourly(service, DAY, levels)[-1])
    for name in ("Lday", "Levening", "Lnight"):
        assert (attributes[name]["value"] > 50.0) is (name == period)


def test_thin_periods_are_not_reported_but_their_coverage_is() -> None:
    service = NoiseService()
    levels = day_levels(60.0, 60.0, 60.0)
    results = hourly(service, DAY, levels[:18] + levels[21:])  # three night hours missing …
    # … so the last interval ends three hours early: push one past the day's end
    next_day = DAY + timedelta(days=1)
    attributes = indicators(service.react(interval(next_day, next_day + timedelta(hours=1), 60.0),
                                          next_day + timedelta(hours=1)))
    assert results[-1] == []
    assert "Lnight" not in attributes and "Lden" not in attributes
    assert attributes["Lday"]["value"] == 60.0
    assert attributes["noiseGuidelineExceedances"]["coverage"]["value"] == {
        "Lday": 1.0, "Levening": 1.0, "Lnight": 0.625}


def test_late_data_rewrites_the_day_and_redelivery_does_nothing() -> None:
    service = NoiseService()
    levels = day_levels(60.0, 60.0, 50.0)
    skipped = DAY + timedelta(hours=18)
    for index, level in enumerate(levels):
        begin = DAY + timedelta(hours=index)
        if begin not in (skipped, skipped + timedelta(hours=1), skipped + timedelta(hours=2)):
            writes = service.react(interval(begin, begin + timedelta(hours=1), level),
                                   begin + timedelta(hours=1))
    assert "Lnight" not in indicators(writes)
    assert service.react(interval(skipped, skipped + timedelta(hours=1), 50.0), DAY) == []
    late = service.react(interval(skipped + timedelta(hours=1), skipped + timedelta(hours=2),
                                  50.0), DAY + timedelta(days=1))
    attributes = indicators(late)
    assert attributes["Lnight"]["value"] == 50.0
    assert attributes["Lnight"]["coverage"]["value"] == 0.75
    # the same interval again (an event delivered twice) changes nothing
    assert service.react(interval(skipped + timedelta(hours=1), skipped + timedelta(hours=2),
                                  50.0), DAY + timedelta(days=1)) == []


def test_periods_follow_the_citys_local_time() -> None:
    service = NoiseService(NoiseSettings(timezone="Europe/Helsinki"))
    start = datetime(2026, 6, 1, 4, tzinfo=UTC)  # 07:00 in Helsinki (UTC+3 in summer)
    attributes = indicators(hourly(service, start, day_levels(65.0, 62.0, 55.0))[-1])
    assert attributes["Lden"]["value"] == 65.4
    assert attributes["Lden"]["observedAt"] == "2026-06-02T04:00:00Z"
    assert attributes["Lden"]["periodStart"]["value"] == "2026-06-01T04:00:00Z"


def test_the_night_the_clocks_go_back_is_nine_hours() -> None:
    """Helsinki leaves summer time at 04:00 on 25 October 2026: the night from 23:00 to 07:00
    lasts nine hours, the assessment day 25, and L_den weighs the night by its real length."""
    service = NoiseService(NoiseSettings(timezone="Europe/Helsinki"))
    start = datetime(2026, 10, 24, 4, tzinfo=UTC)  # 07:00 EEST
    attributes = indicators(hourly(service, start, [60.0] * 25)[-1])
    assert attributes["Lnight"]["coverage"]["value"] == 1.0
    assert attributes["Lnight"]["observedAt"] == "2026-10-25T05:00:00Z"  # 07:00 EET
    # 60 + 10·lg((12 + 4·10^0.5 + 9·10)/25) = 66.61
    assert attributes["Lden"]["value"] == 66.6


def test_a_shortened_evening_lengthens_the_night() -> None:
    service = NoiseService(NoiseSettings(night_start_hour=22))
    levels = [50.0] * 15 + [80.0] + [50.0] * 8  # 22:00–23:00 loud
    attributes = indicators(hourly(service, DAY, levels)[-1])
    assert attributes["Levening"]["value"] == 50.0  # 19–22 only
    assert attributes["Lnight"]["value"] == 70.5  # 10·lg((10^8 + 8·10^5)/9)


def test_observed_at_alone_stands_for_an_hour_ending_then() -> None:
    service = NoiseService()
    for index in range(24):
        end = DAY + timedelta(hours=index + 1)
        entity = {"id": STATION, "type": "NoiseLevelObserved",
                  "LAeq": {"type": "Property", "value": 60.0, "observedAt": iso(end)}}
        writes = service.react(entity, end)
    assert indicators(writes)["Lden"]["value"] == 66.4


def test_an_iso_interval_in_date_observed() -> None:
    service = NoiseService()
    for index in range(24):
        begin = DAY + timedelta(hours=index)
        entity = {"id": STATION, "type": "NoiseLevelObserved",
                  "LAeq": {"type": "Property", "value": 60.0},
                  "dateObserved": {"type": "Property",
                                   "value": f"{iso(begin)}/{iso(begin + timedelta(hours=1))}"}}
        writes = service.react(entity, begin + timedelta(hours=1))
    assert indicators(writes)["Lden"]["value"] == 66.4


def test_unusable_intervals_are_refused() -> None:
    service = NoiseService()
    two_days = interval(DAY, DAY + timedelta(hours=25), 60.0)
    assert service.react(two_days, DAY + timedelta(days=2)) == []
    future = interval(DAY + timedelta(hours=3), DAY + timedelta(hours=4), 60.0)
    assert service.react(future, DAY) == []
    backwards = interval(DAY + timedelta(hours=1), DAY, 60.0)
    assert service.react(backwards, DAY + timedelta(hours=1)) == []
    ancient = interval(DAY, DAY, 60.0)
    ancient["dateObservedFrom"]["value"]["@value"] = "0001-01-01T00:00:00Z"
    ancient["dateObservedTo"]["value"]["@value"] = "0001-01-01T01:00:00Z"
    assert service.react(ancient, DAY) == []  # older than the days kept (and than 07:00 of year 1)
    assert not service._stations  # none of them started a station


def test_days_older_than_kept_are_refused() -> None:
    service = NoiseService(NoiseSettings(days_kept=1))
    hourly(service, DAY, [60.0] * 25)
    yesterday = DAY - timedelta(hours=2)
    assert service.react(interval(yesterday, yesterday + timedelta(hours=1), 90.0),
                         DAY + timedelta(days=1)) == []


def test_other_types_and_missing_levels_are_not_ours() -> None:
    service = NoiseService()
    entity = interval(DAY, DAY + timedelta(hours=1), 60.0)
    assert service.react({**entity, "type": "AirQualityObserved"}, DAY) == []
    assert service.react({**entity, "LAeq": {"type": "Property", "value": "loud"}}, DAY) == []
    assert service.react({**entity, "LAeq": {"type": "Property", "value": 1e308}}, DAY) == []


instants = st.builds(  # ISO 8601 texts of any date, with offsets up to ±14 h
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
    st.datetimes(), st.integers(-14 * 60, 14 * 60))
json_values = st.recursive(
    instants | st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["type", "value", "observedAt", "@type", "@value"]),
                      children, max_size=4),
    max_leaves=15,
)


@given(st.dictionaries(
    st.sampled_from(["LAeq", "dateObserved", "dateObservedFrom", "dateObservedTo"]),
    json_values, max_size=4))
def test_never_crashes_on_arbitrary_attributes(attributes: dict[str, Any]) -> None:
    service = NoiseService()
    entity = {"id": STATION, "type": "NoiseLevelObserved", **attributes}
    for write in service.react(entity, DAY) + service.react(entity, DAY + timedelta(days=1)):
        assert isinstance(write, Write)
