"""The audit log on PostgreSQL, one partition per month (like the attribute history in
postgres_history): retention drops a whole month with `DROP TABLE` instead of deleting rows one
by one, and time-range queries touch only the months they name. Months are created ahead of
time (`prepare`, daily); an entry that finds no month (a clock far off) creates it on demand.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import psycopg

from madina.store.audit import AuditEntry, AuditSQL
from madina.store.postgres_history import add_months, month_start
from madina.store.postgres_identities import PostgresIdentities

TABLE = "audit_log"
MONTHS_AHEAD = 2
_PARTITION = re.compile(rf"^{TABLE}_(\d{{4}})_(\d{{2}})$")


class PostgresAudit(AuditSQL):
    # The same way to the database as the identity tables: pooled, `?` translated.
    _read = PostgresIdentities._read
    _atomic = PostgresIdentities._atomic

    def __init__(self, store: object) -> None:
        self.store = store

    def _time_param(self, moment: datetime) -> datetime:
        return moment

    def _time_value(self, stored: datetime) -> datetime:
        return stored.astimezone(UTC)

    def append(self, entry: AuditEntry) -> None:
        try:
            super().append(entry)
        except psycopg.errors.CheckViolation:  # "no partition of relation found for row"
            with self.store.connection() as conn:
                ensure_month(conn, entry.at)
            super().append(entry)

    def prepare(self, now: datetime) -> None:
        with self.store.connection() as conn:
            for n in range(MONTHS_AHEAD + 1):
                ensure_month(conn, add_months(month_start(now), n))

    def expire(self, before: datetime) -> None:
        """Drop every month that ends on or before `before`: at most a month more is kept than
        asked for, never less."""
        with self.store.connection() as conn:
            for name, start in partitions(conn):
                if add_months(start, 1) <= before:
                    conn.execute(f"DROP TABLE IF EXISTS {name}")


def partition_name(month: datetime) -> str:
    return f"{TABLE}_{month.year:04d}_{month.month:02d}"


def ensure_month(conn: psycopg.Connection, moment: datetime) -> str:
    """The partition holding `moment`, created if missing (concurrent creators are fine)."""
    start = month_start(moment)
    name = partition_name(start)
    bounds = f"FROM ('{start.isoformat()}') TO ('{add_months(start, 1).isoformat()}')"
    try:
        with conn.transaction():
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {TABLE} FOR VALUES {bounds}"
            )
    except (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation):
        pass  # another worker created it between our check and our CREATE
    return name


def partitions(conn: psycopg.Connection) -> list[tuple[str, datetime]]:
    """(name, first day) of every month partition, oldest first."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = %s::regclass",
        (TABLE,),
    ).fetchall()
    found = []
    for (name,) in rows:
        match = _PARTITION.match(name)
        if match:
            found.append((name, datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)))
    return sorted(found, key=lambda item: item[1])
