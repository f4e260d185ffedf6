"""The audit log on PostgreSQL, one partition per month (`postgres_partitions.AUDIT`):
retention drops a whole month with `DROP TABLE` instead of deleting rows one by one, and
time-range queries touch only the months they name. Months are created ahead of
time (`prepare`, daily); an entry that finds no month (a clock far off) creates it on demand.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from madina.store.audit import AuditEntry, AuditSQL
from madina.store.postgres_identities import PostgresIdentities
from madina.store.postgres_partitions import AUDIT


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

    def append(self, entries: list[AuditEntry]) -> None:
        try:
            super().append(entries)
        except psycopg.errors.CheckViolation:  # "no partition of relation found for row"
            with self.store.connection() as conn:
                for entry in entries:
                    AUDIT.ensure_month(conn, entry.at)
            super().append(entries)

    def prepare(self, now: datetime) -> None:
        with self.store.connection() as conn:
            AUDIT.ensure_ahead(conn, now)

    def expire(self, before: datetime) -> None:
        """Drop every month that ends on or before `before`."""
        with self.store.connection() as conn:
            AUDIT.drop_expired(conn, before)
