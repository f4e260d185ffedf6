"""The change log and attribute history on PostgreSQL. Sequence order is not commit order
there (a later number may commit first), so readers wait at gaps: see `changes_after`."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import orjson
import psycopg
import structlog

from madina.store.base import ChangeRow, InstanceRow, StoredChange
from madina.store.change_log import canonical, cursor_seq, parse_canonical, to_json
from madina.store.postgres_partitions import HISTORY

log = structlog.get_logger("madina.store")


def record(
    conn: psycopg.Connection, tenant: str, instances: list[InstanceRow], changes: list[ChangeRow]
) -> None:
    """Rows go as one JSON array parameter per table, like the entity rows (postgres.py)."""
    if instances:
        conn.execute(
            "INSERT INTO attribute_instances (tenant, entity_id, entity_type, attr, dataset_id,"
            " instance, observed_at, deleted)"
            " SELECT %s, x->>0, x->>1, x->>2, x->>3, x->4, (x->>5)::timestamptz,"
            " jsonb_typeof(x->4) = 'null'"
            " FROM jsonb_array_elements(%s::jsonb) x",
            (
                tenant,
                to_json([
                    (r.entity_id, r.entity_type, r.attr, r.dataset_id, r.instance, r.observed_at)
                    for r in instances
                ]),
            ),
        )
    if changes:
        conn.execute(
            "INSERT INTO changes (tenant, entity_id, kind, at, payload, types)"
            " SELECT %s, x->>0, x->>1, (x->>2)::timestamptz, x->3, x->>4"
            " FROM jsonb_array_elements(%s::jsonb) x",
            (tenant, to_json([(c.entity_id, c.kind, c.at, c.payload, c.types)
                              for c in changes])),
        )


def history_months(instances: list[InstanceRow]) -> set[datetime]:
    """The first day of every month the rows fall in: each needs its partition. Canonical
    timestamps start with a four-digit year and the month, so rows are told apart by that
    prefix and only one timestamp per month is parsed (strptime costs ~5 µs a row)."""
    prefixes = {row.observed_at[:7]: row.observed_at for row in instances}
    months = set()
    for observed in prefixes.values():
        moment = parse_canonical(observed)
        months.add(datetime(moment.year, moment.month, 1, tzinfo=UTC))
    return months


def ensure_history_months(conn: psycopg.Connection, months: set[datetime]) -> None:
    for month in months:
        HISTORY.ensure_month(conn, month)


GAP_PATIENCE = 10.0
"""Seconds a missing sequence number holds readers back. Rows are numbered when inserted,
at the very end of a transaction (just before its COMMIT), so a gap is a transaction about to
commit, filled within milliseconds; one still open after this long rolled back, or the
sequence skipped numbers in a crash recovery, and readers move on."""


class Gaps:
    """When each gap in the change log was first seen, per process (readers share it)."""

    def __init__(self) -> None:
        self._seen: dict[int, float] = {}
        self._lock = threading.Lock()

    def patient(self, first_missing: int, now: float) -> bool:
        """True while the gap starting at `first_missing` may still fill."""
        with self._lock:
            seen = self._seen.setdefault(first_missing, now)
            if len(self._seen) > 1000:
                self._seen = {k: v for k, v in self._seen.items() if now - v < GAP_PATIENCE}
        return now - seen < GAP_PATIENCE


def changes_after(
    conn: psycopg.Connection, cursor: str | None, limit: int, gaps: Gaps
) -> list[StoredChange]:
    """The changes after `cursor` in sequence order, stopping before a gap that may still
    fill: nothing can later appear before the cursor returned last."""
    after = cursor_seq(cursor)
    rows = conn.execute(
        "SELECT seq, tenant, entity_id, kind, at, types, payload::text FROM changes"
        " WHERE seq > %s ORDER BY seq LIMIT %s",
        (after, limit),
    ).fetchall()
    found = []
    expected = None if cursor is None else after + 1
    now = time.monotonic()
    for seq, tenant, entity_id, kind, at, types, payload in rows:
        if expected is not None and seq != expected and not _pruned_before(conn, seq, found):
            if gaps.patient(expected, now):
                break
            log.warning("change log gap skipped", first_missing=expected, next=seq)
        expected = seq + 1
        found.append(StoredChange(str(seq), tenant, entity_id, kind, canonical(at),
                                  None if types is None else orjson.loads(types), payload))
    return found


def _pruned_before(conn: psycopg.Connection, seq: int, found: list[StoredChange]) -> bool:
    """A gap right after the cursor up to the oldest change kept was pruned, not in flight:
    the reader's cursor is older than the log (the feed tells it so), no use waiting."""
    if found:
        return False
    return conn.execute("SELECT min(seq) FROM changes").fetchone()[0] == seq


def latest_cursor(conn: psycopg.Connection) -> str:
    return str(conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0])


def prune(conn: psycopg.Connection, before: str) -> int:
    return conn.execute("DELETE FROM changes WHERE at < %s", (parse_canonical(before),)).rowcount
