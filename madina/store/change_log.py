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


MAX_SEQ = 2**63 - 1
"""Change sequence numbers are 64-bit signed integers on both engines."""


def cursor_seq(cursor: str | None) -> int:
    """The sequence number a cursor names (0: before the first change). Anything else is a
    BadCursor here, so a forged cursor never reaches the database as a number it cannot hold
    (SQLite and PostgreSQL would fail on one past 64 bits) nor as a non-ASCII digit."""
    if cursor is None:
        return 0
    if not (cursor.isascii() and cursor.isdigit()) or int(cursor) > MAX_SEQ:
        raise BadCursor(f"{cursor!r} is not a change-log cursor")
    return int(cursor)
