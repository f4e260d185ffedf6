"""The change log and attribute history: what `Transaction.record` writes and consumers of the
log (madina.events) read back. Engine-specific halves live in change_log_sqlite and
change_log_postgres.

History rows and change rows are written with the change they describe, in the same
transaction, so a crash can lose neither without losing the change itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson


def to_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def parse_canonical(canonical: str) -> datetime:
    return datetime.strptime(canonical, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def canonical(moment: datetime) -> str:
    """isoformat pads the year to four digits, which string order needs (strftime's %Y
    does not)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").removesuffix("+00:00") + "Z"


class BadCursor(ValueError):
    """A cursor this engine never handed out (e.g. a forged `Last-Event-ID`)."""
