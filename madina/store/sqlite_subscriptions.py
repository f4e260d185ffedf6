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
        statement = INSERT_DELIVERY + " RETURNING seq"
        return [run(statement, (*row[:3], to_json(row[3]), *row[4:]))[0][0] for row in rows]
