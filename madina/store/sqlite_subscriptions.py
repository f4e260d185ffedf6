"""`SubscriptionStore` on the embedded engine: the identity tables' way to the database (the
store's lock and its write turn across worker processes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from madina.store.identities import Executor
from madina.store.sqlite_identities import SQLiteIdentities
from madina.store.subscriptions import INSERT_DELIVERY, SubscriptionSQL, to_json

if TYPE_CHECKING:
    from madina.store.sqlite import SQLiteStore


class SQLiteSubscriptions(SubscriptionSQL):
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    _read = SQLiteIdentities._read
    _atomic = SQLiteIdentities._atomic

    def _insert_deliveries(self, run: Executor, rows: list[tuple]) -> list[int]:
        """One statement for all rows; inside the writer's transaction nobody else inserts,
        so AUTOINCREMENT gave them consecutive numbers ending at the last one."""
        conn = self.store.conn
        conn.executemany(INSERT_DELIVERY, [(*row[:3], to_json(row[3]), *row[4:]) for row in rows])
        last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        return list(range(last - len(rows) + 1, last + 1))

    def _each(self, run: Executor, sql: str, rows: list[tuple]) -> None:
        self.store.conn.executemany(sql, rows)
