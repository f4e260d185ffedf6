"""The change log and attribute history on PostgreSQL. Sequence order is not commit order
there, so the log is read by transaction id: see `changes_after`."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import psycopg

from madina.store.base import ChangeRow, InstanceRow, StoredChange
from madina.store.change_log import BadCursor, canonical, parse_canonical, to_json
from madina.store.postgres_partitions import HISTORY


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
            "INSERT INTO changes (tenant, entity_id, kind, at, payload)"
            " SELECT %s, x->>0, x->>1, (x->>2)::timestamptz, x->3"
            " FROM jsonb_array_elements(%s::jsonb) x",
            (tenant, to_json([(c.entity_id, c.kind, c.at, c.payload) for c in changes])),
        )


def history_months(instances: list[InstanceRow]) -> set[datetime]:
    """The first day of every month the rows fall in: each needs its partition."""
    months = set()
    for row in instances:
        moment = parse_canonical(row.observed_at)
        months.add(datetime(moment.year, moment.month, 1, tzinfo=UTC))
    return months


def ensure_history_months(conn: psycopg.Connection, months: set[datetime]) -> None:
    for month in months:
        HISTORY.ensure_month(conn, month)


def changes_after(
    conn: psycopg.Connection, cursor: str | None, limit: int
) -> list[StoredChange]:
    """Only changes of transactions older than every running one are read: all of those have
    ended, so nothing can later appear before the cursor returned last."""
    txid, seq = _position(cursor)
    rows = conn.execute(
        "SELECT txid::text, seq, tenant, entity_id, kind, at, payload::text FROM changes"
        " WHERE (txid, seq) > (%s::text::xid8, %s)"
        " AND txid < pg_snapshot_xmin(pg_current_snapshot())"
        " ORDER BY txid, seq LIMIT %s",
        (txid, seq, limit),
    ).fetchall()
    return [
        StoredChange(
            f"{txid}:{seq}",
            tenant,
            ChangeRow(entity_id, kind, canonical(at), orjson.loads(payload)),
        )
        for txid, seq, tenant, entity_id, kind, at, payload in rows
    ]


def latest_cursor(conn: psycopg.Connection) -> str:
    """Before the oldest running transaction: a consumer starting here may see a few changes
    that had already committed again, never miss one."""
    xmin = conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").fetchone()[0]
    return f"{xmin}:0"


def prune(conn: psycopg.Connection, before: str) -> int:
    return conn.execute("DELETE FROM changes WHERE at < %s", (parse_canonical(before),)).rowcount


def _position(cursor: str | None) -> tuple[str, int]:
    if cursor is None:
        return "0", 0
    txid, _, seq = cursor.partition(":")
    if not (txid.isdigit() and seq.isdigit()):
        raise BadCursor(f"{cursor!r} is not a change-log cursor")
    return txid, int(seq)

