"""GET requests arguments: which requests, which page.

GeoReport v2: `service_request_id` (comma-separated) overrides every other argument;
otherwise `service_code` and `status` lists, `start_date`/`end_date` at most 90 days apart,
by default the last 90 days, at most 1,000 requests. `page`/`page_size` is the widely
implemented pagination extension.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from madina.services.open311.errors import bad_request
from madina.services.open311.submission import canonical, parse_datetime
from madina.store.open311 import RequestFilter

MAX_SPAN = timedelta(days=90)
MAX_PAGE_SIZE = 1000
STATUSES = ("open", "closed")


@dataclass(frozen=True)
class RequestQuery:
    ids: list[str] | None
    """service_request_id given: exactly these, every other argument ignored."""
    filter: RequestFilter
    extensions: bool = False


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


def request_query(params: dict[str, str], now: datetime | None = None) -> RequestQuery:
    extensions = extensions_flag(params.get("extensions"))
    ids = _list(params.get("service_request_id"))
    if ids is not None:
        if len(ids) > MAX_PAGE_SIZE:
            raise bad_request(f"at most {MAX_PAGE_SIZE} service_request_id at once")
        return RequestQuery(ids, RequestFilter(), extensions)
    problems = []
    start = end = None
    for name in ("start_date", "end_date"):
        if name in params:
            moment = parse_datetime(params[name])
            if moment is None:
                problems.append(f"{name} must be an ISO 8601 date-time with a time zone, "
                                "e.g. 2026-01-31T00:00:00Z")
            elif name == "start_date":
                start = moment
            else:
                end = moment
    statuses = _list(params.get("status"))
    if statuses is not None and set(statuses) - set(STATUSES):
        problems.append("status must be open, closed or both (comma-separated)")
    if problems:
        raise bad_request(*problems)
    now = now or datetime.now(UTC)
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
    page = _whole(params.get("page"), "page", 1, 10**6)
    size = _whole(params.get("page_size"), "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    return RequestQuery(None, RequestFilter(
        start=canonical(start), end=canonical(end), service_codes=_list(params.get("service_code")),
        statuses=statuses, limit=size, offset=(page - 1) * size), extensions)
