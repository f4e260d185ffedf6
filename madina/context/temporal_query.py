"""The temporal query (clause 4.11 and the TemporalQuery data type, 5.2.21) and the aggregation
periods (clause 4.5.19): parsed and checked once, whether it came as GET parameters or as the
`temporalQ` member of a POST query body, so both answer bad input with the same 400.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from madina.context.entity_model import canonical_datetime
from madina.context.errors import BadRequestData
from madina.store.change_log import canonical, parse_canonical
from madina.store.history import AGGREGATION_METHODS, TIME_PROPERTIES, Window

TIMERELS = ("before", "after", "between")
MAX_PERIODS = 100_000
"""More aggregation periods than this in one time range is refused (400): each period is a
bucket the database walks to, and no chart or client needs more."""
_DURATION = re.compile(
    r"^P(?!$)(?:(\d{1,6})Y)?(?:(\d{1,7})M)?(?:(\d{1,7})W)?(?:(\d{1,8})D)?"
    r"(?:T(?!$)(?:(\d{1,9})H)?(?:(\d{1,10})M)?(?:(\d{1,12}(?:\.\d{1,6})?)S)?)?$"
)
_MAX_SPAN_DAYS = 10_000 * 366
"""A period longer than ten thousand years is refused: no DateTime range holds two of them."""
_LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration (clause 4.5.19: P[n]Y[n]M[n]DT[n]H[n]M[n]S or P[n]W). Years and
    months are calendar months (a month added to 31 January is the last day of February);
    the rest is an exact length."""

    text: str
    months: int
    microseconds: int

    @property
    def zero(self) -> bool:
        """PT0S: one period spanning the whole time range of the query."""
        return self.months == 0 and self.microseconds == 0

    def times(self, start: datetime, count: int) -> datetime:
        """`start` plus `count` of this duration (calendar months first, then the rest)."""
        moment = _add_months(start, self.months * count) if self.months else start
        return moment + timedelta(microseconds=self.microseconds * count)

    @property
    def shortest(self) -> timedelta:
        """A lower bound of its length (a month is at least 28 days)."""
        return timedelta(days=28 * self.months, microseconds=self.microseconds)


def parse_duration(text: Any) -> Duration:
    if not isinstance(text, str):
        raise BadRequestData(f"aggrPeriodDuration must be an ISO 8601 duration, not {text!r}")
    match = _DURATION.match(text)
    if match is None:
        raise BadRequestData(
            f"aggrPeriodDuration {text!r} is not an ISO 8601 duration like PT1H, P1D or P1M"
        )
    years, months, weeks, days, hours, minutes, seconds = match.groups()
    whole_months = int(years or 0) * 12 + int(months or 0)
    fraction = float(seconds or 0)
    microseconds = (
        ((int(weeks or 0) * 7 + int(days or 0)) * 86_400
         + int(hours or 0) * 3600 + int(minutes or 0) * 60) * 1_000_000
        + round(fraction * 1_000_000)
    )
    if whole_months * 31 + microseconds / 86_400e6 > _MAX_SPAN_DAYS:
        raise BadRequestData(f"aggrPeriodDuration {text!r} is longer than ten thousand years")
    return Duration(text, whole_months, microseconds)


WHOLE_RANGE = Duration("PT0S", 0, 0)


@dataclass(frozen=True)
class TemporalQuery:
    timerel: str | None = None
    time_at: str | None = None
    """Canonical UTC."""
    end_time_at: str | None = None
    timeproperty: str = "observedAt"
    last_n: int | None = None
    aggr_methods: tuple[str, ...] | None = None
    """Set: the aggregated temporal representation is asked for."""
    aggr_period: Duration = WHOLE_RANGE

    def window(self, dataset_ids: frozenset[str] | None = None) -> Window:
        """`before`: earlier than timeAt; `after`: timeAt or later; `between`: from timeAt up
        to, not including, endTimeAt."""
        start = self.time_at if self.timerel in ("after", "between") else None
        end = {"before": self.time_at, "between": self.end_time_at}.get(self.timerel or "")
        return Window(self.timeproperty, start, end, dataset_ids)


def parse_temporal_query(
    *,
    timerel: Any = None,
    time_at: Any = None,
    end_time_at: Any = None,
    timeproperty: Any = None,
    last_n: Any = None,
    aggr_methods: Any = None,
    aggr_period: Any = None,
    aggregated: bool = False,
) -> TemporalQuery:
    """Check every member; errors name the parameter. `aggregated` says the client asked for
    the aggregated representation, which needs aggrMethods (aggrMethods alone implies it)."""
    if timerel is not None and timerel not in TIMERELS:
        raise BadRequestData(f"timerel must be before, after or between, not {timerel!r}")
    if timerel is not None and time_at is None:
        raise BadRequestData(f"timerel={timerel} needs timeAt")
    if timerel is None and time_at is not None:
        raise BadRequestData("timeAt needs timerel (before, after or between)")
    if timerel == "between" and end_time_at is None:
        raise BadRequestData("timerel=between needs endTimeAt")
    if timerel != "between" and end_time_at is not None:
        raise BadRequestData("endTimeAt is only for timerel=between")
    start = canonical_datetime(time_at, "timeAt") if time_at is not None else None
    end = canonical_datetime(end_time_at, "endTimeAt") if end_time_at is not None else None
    if start is not None and end is not None and end <= start:
        raise BadRequestData("endTimeAt must be later than timeAt")
    prop = "observedAt" if timeproperty is None else timeproperty
    if prop not in TIME_PROPERTIES:
        raise BadRequestData(f"timeproperty must be one of {', '.join(TIME_PROPERTIES)}, "
                             f"not {prop!r}")
    methods = _methods(aggr_methods)
    if aggregated and methods is None:
        raise BadRequestData("the aggregated representation needs aggrMethods")
    if aggr_period is not None and methods is None:
        raise BadRequestData("aggrPeriodDuration needs aggrMethods")
    period = parse_duration(aggr_period) if aggr_period is not None else WHOLE_RANGE
    return TemporalQuery(timerel, start, end, prop, _last_n(last_n), methods, period)


def _last_n(value: Any) -> int | None:
    """A positive integer (Table 5.2.21-1): `0`, `-1`, `2.5` and `true` are refused."""
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit() and len(value) <= 9:
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise BadRequestData(f"lastN must be a positive integer, not {value!r}")
    if number < 1:
        raise BadRequestData(f"lastN must be a positive integer, not {value!r}")
    return number


def _methods(value: Any) -> tuple[str, ...] | None:
    """A comma-separated string or a list of strings (both spellings of Table 5.2.21-1)."""
    if value is None:
        return None
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        items = [item.strip() for item in value]
    else:
        raise BadRequestData(f"aggrMethods must be a list of method names, not {value!r}")
    if not items or not all(items):
        raise BadRequestData("aggrMethods needs at least one method, without empty items")
    for item in items:
        if item not in AGGREGATION_METHODS:
            raise BadRequestData(
                f"unknown aggregation method {item!r}; known: {', '.join(AGGREGATION_METHODS)}"
            )
    return tuple(dict.fromkeys(items))


def period_boundaries(duration: Duration, origin: str, last: str, last_included: bool) -> list[str]:
    """The edges of the periods covering [origin, last] (or [origin, last) when `last` is an
    exclusive end): period i is edges[i] <= time < edges[i + 1]. PT0S is one period."""
    start = parse_canonical(origin)
    stop = parse_canonical(last)
    if last_included and stop < _LATEST:
        stop += timedelta(microseconds=1)
    if duration.zero:
        return [origin, canonical(stop)]
    if (stop - start) / duration.shortest > MAX_PERIODS:
        raise _too_many(duration)
    if duration.months == 0:  # an exact step: the edges are a range
        step = timedelta(microseconds=duration.microseconds)
        count = -((start - stop) // step) + 1  # up to the first edge at or after stop
        if count > MAX_PERIODS + 1:
            raise _too_many(duration)
        try:
            edges = [start + step * n for n in range(count)]
        except OverflowError:  # the last edge lies beyond year 9999
            edges = [*(start + step * n for n in range(count - 1)), _LATEST]
    else:
        edges = [start]
        while edges[-1] < stop:
            if len(edges) > MAX_PERIODS:
                raise _too_many(duration)
            try:
                edges.append(duration.times(start, len(edges)))
            except OverflowError:
                edges.append(_LATEST)
                break
    # All in UTC: formatting the naive time is canonical() without its conversions, which
    # a year of hourly periods would notice.
    return [edge.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z" for edge in edges]


def _too_many(duration: Duration) -> BadRequestData:
    return BadRequestData(
        f"aggrPeriodDuration {duration.text} cuts the time range into more than {MAX_PERIODS:,} "
        "periods: ask for longer periods or a shorter range (timerel)"
    )


def _add_months(moment: datetime, months: int) -> datetime:
    """Calendar months; a day the target month lacks becomes its last day."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    if year > 9999:
        raise OverflowError("beyond year 9999")
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)
