"""Tables range-partitioned by month (attribute history, audit log), kept and retired whole.

Declarative range partitions keep each month's rows in its own table: queries over a time range
touch only the months they name, and retention drops a whole month with `DROP TABLE` (instant,
no vacuum debt) instead of deleting rows one by one. There is no DEFAULT partition — it would
have to be scanned every time a month is added — so months are created ahead of time, when a
store opens and once a day after, and a row older than the oldest month creates its month on
demand (`ensure_month`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg


def month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


END_OF_TIME = datetime.max.replace(tzinfo=UTC)
"""Where December 9999 ends: Python has no year 10000 (its partition is bounded by MAXVALUE)."""


def add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    if index // 12 > 9999:
        return END_OF_TIME
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class MonthlyPartitions:
    """The month partitions of one table (created by a migration with PARTITION BY RANGE)."""

    table: str
    months_ahead: int

    def partition_name(self, month: datetime) -> str:
        return f"{self.table}_{month.year:04d}_{month.month:02d}"

    def ensure_month(self, conn: psycopg.Connection, moment: datetime) -> str:
        """The partition holding `moment`, created if missing (concurrent creators are fine)."""
        start = month_start(moment)
        name = self.partition_name(start)
        end = add_months(start, 1)
        upper = "(MAXVALUE)" if end == END_OF_TIME else f"('{end.isoformat()}')"
        bounds = f"FROM ('{start.isoformat()}') TO {upper}"
        try:
            with conn.transaction():
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {self.table}"
                    f" FOR VALUES {bounds}"
                )
        except (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation):
            pass  # another worker created it between our check and our CREATE
        return name

    def ensure_ahead(self, conn: psycopg.Connection, now: datetime) -> list[str]:
        """This month and the next `months_ahead`, so writes never wait on DDL."""
        start = month_start(now)
        return [
            self.ensure_month(conn, add_months(start, n)) for n in range(self.months_ahead + 1)
        ]

    def partitions(self, conn: psycopg.Connection) -> list[tuple[str, datetime]]:
        """(name, first day) of every month partition, oldest first."""
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass",
            (self.table,),
        ).fetchall()
        pattern = re.compile(rf"^{re.escape(self.table)}_(\d{{4}})_(\d{{2}})$")
        found = []
        for (name,) in rows:
            match = pattern.match(name)
            if match:
                found.append((name, datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)))
        return sorted(found, key=lambda item: item[1])

    def drop_expired(self, conn: psycopg.Connection, keep_after: datetime) -> list[str]:
        """Drop every month that ends on or before `keep_after`: at most a month more is kept
        than asked for, never less."""
        dropped = []
        for name, start in self.partitions(conn):
            if add_months(start, 1) <= keep_after:
                conn.execute(f"DROP TABLE IF EXISTS {name}")
                dropped.append(name)
        return dropped


HISTORY = MonthlyPartitions("attribute_instances", months_ahead=3)
AUDIT = MonthlyPartitions("audit_log", months_ahead=2)
