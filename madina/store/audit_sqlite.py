"""The audit log on the embedded engine: one row per entry, expired by row deletes (an index on
time keeps the daily delete a range scan)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from madina.store.audit import AuditSQL
from madina.store.sqlite_identities import SQLiteIdentities

if TYPE_CHECKING:
    from madina.store.sqlite import SQLiteStore


class SQLiteAudit(AuditSQL):
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    # The same way to the database as the identity tables: the store's lock and write turn.
    _read = SQLiteIdentities._read
    _atomic = SQLiteIdentities._atomic

    def _time_param(self, moment: datetime) -> str:
        """Fixed-width UTC text, so comparing strings compares times."""
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _time_value(self, stored: str) -> datetime:
        return datetime.strptime(stored, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

    def prepare(self, now: datetime) -> None:
        """Nothing to prepare: the table needs no partitions."""

    def expire(self, before: datetime) -> None:
        with self._atomic() as run:
            run("DELETE FROM audit_log WHERE at < ?", (self._time_param(before),))
