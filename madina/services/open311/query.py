"""GET requests arguments: which requests, which page.

GeoReport v2: `service_request_id` (comma-separated) overrides every other argument;
otherwise `service_code` and `status` lists, `start_date`/`end_date` at most 90 days apart,
by default the last 90 days, at most 1,000 requests. `page`/`page_size` is the widely
implemented pagination extension; `lat`, `long` and `radius` (metres) are Madina's for finding
duplicates before submitting (FixMyStreet's around/nearby): the requests near the point,
nearest first, with the other filters (typically `service_code` and `status=open`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from madina.services.open311.errors import bad_request
from madina.services.open311.nearby import MAX_RADIUS_M
from madina.services.open311.submission import canonical, parse_datetime
from madina.store.open311 import RequestFilter

MAX_SPAN = timedelta(days=90)
MAX_PAGE_SIZE = 1000
STATUSES = ("open", "closed")


@dataclass(frozen=True)
class Near:
    """Only requests within `radius` metres of the point, nearest first (duplicates)."""

    lat: float
    long: float
    radius: float


@dataclass(frozen=True)
class RequestQuery:
    ids: list[str] | None
    """service_request_id given: exactly these, every other argument ignored."""
    filter: RequestFilter
    extensions: bool = False
    near: Near | None = None


@dataclass(frozen=True)
class UpdateWindow:
    """GET servicerequestupdates: the changes made from `start` to `end`, one page."""

    start: str
    end: str
    limit: int
    offset: int


def _list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = list(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    return items or None


def _whole(value: str | None, name: str, default: int, maximum: int) -> int:
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= maximum:
        raise bad_request(f"{name} must be a whole number from 1 to {maximum}")
    return int(value)


def extensions_flag(value: str | None) -> bool:
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    raise bad_request("extensions must be true or false")


def request_query(params: dict[str, str], now: datetime | None = None,
                  default_radius: float = 250.0) -> RequestQuery:
    extensions = extensions_flag(params.get("extensions"))
    ids = _list(params.get("service_request_id"))
    if ids is not None:
        if len(ids) > MAX_PAGE_SIZE:
            raise bad_request(f"at most {MAX_PAGE_SIZE} service_request_id at once")
        return RequestQuery(ids, RequestFilter(), extensions)
    problems: list[str] = []
    dates = _dates(params, problems)
    statuses = _list(params.get("status"))
    if statuses is not None and set(statuses) - set(STATUSES):
        problems.append("status must be open, closed or both (comma-separated)")
    near = _near(params, default_radius, problems)
    if problems:
        raise bad_request(*problems)
    # Near a point, an open request from last year is still a duplicate: no default window.
    start, end = (None, None) if near is not None and dates == (None, None) else \
        _window(*dates, now or datetime.now(UTC))
    page, size = _page(params)
    return RequestQuery(None, RequestFilter(
        start=canonical(start) if start else None, end=canonical(end) if end else None,
        service_codes=_list(params.get("service_code")), statuses=statuses, limit=size,
        offset=(page - 1) * size), extensions, near)


def update_window(params: dict[str, str], now: datetime | None = None) -> UpdateWindow:
    """mySociety's servicerequestupdates takes start_date and end_date (the same rules as
    GET requests: at most 90 days apart, by default the last 90 days) and pages like them."""
    problems: list[str] = []
    dates = _dates(params, problems)
    if problems:
        raise bad_request(*problems)
    start, end = _window(*dates, now or datetime.now(UTC))
    page, size = _page(params)
    return UpdateWindow(canonical(start), canonical(end), size, (page - 1) * size)


def _dates(params: dict[str, str], problems: list[str]) -> tuple[datetime | None,
                                                                 datetime | None]:
    found: dict[str, datetime | None] = {"start_date": None, "end_date": None}
    for name in found:
        if name in params:
            moment = parse_datetime(params[name])
            if moment is None:
                problems.append(f"{name} must be an ISO 8601 date-time with a time zone, "
                                "e.g. 2026-01-31T00:00:00Z")
            found[name] = moment
    return found["start_date"], found["end_date"]


def _window(start: datetime | None, end: datetime | None,
            now: datetime) -> tuple[datetime, datetime]:
    try:
        if start is None and end is None:
            start, end = now - MAX_SPAN, now
        elif start is None:
            start = end - MAX_SPAN
        elif end is None:
            end = start + MAX_SPAN
    except OverflowError:  # 90 days before year 1 or after year 9999
        raise bad_request("start_date and end_date must leave 90 days within years 1-9999") \
            from None
    if start > end:
        raise bad_request("start_date is after end_date")
    if end - start > MAX_SPAN:
        raise bad_request("start_date and end_date must be at most 90 days apart")
    return start, end


def _page(params: dict[str, str]) -> tuple[int, int]:
    return (_whole(params.get("page"), "page", 1, 10**6),
            _whole(params.get("page_size"), "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE))


def _near(params: dict[str, str], default_radius: float, problems: list[str]) -> Near | None:
    """lat, long and radius (metres, at most MAX_RADIUS_M; the configured default)."""
    given = [name for name in ("lat", "long", "radius") if params.get(name)]
    if not given:
        return None
    if "lat" not in given or "long" not in given:
        problems.append("lat and long go together (and radius needs them)")
        return None
    try:
        lat, lon = float(params["lat"]), float(params["long"])
        radius = float(params["radius"]) if "radius" in given else default_radius
    except ValueError:
        problems.append("lat, long and radius must be decimal numbers")
        return None
    if not (math.isfinite(lat) and -90 <= lat <= 90 and math.isfinite(lon)
            and -180 <= lon <= 180):
        problems.append("lat must be from -90 to 90 and long from -180 to 180")
        return None
    if not (math.isfinite(radius) and 0 < radius <= MAX_RADIUS_M):
        problems.append(f"radius must be metres, above 0 and at most {MAX_RADIUS_M:g}")
        return None
    return Near(lat, lon, radius)
