"""`IotStore` on the embedded engine: the same way to the database as the identity tables (the
store's lock and its write turn across worker processes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from madina.store.iot import IotSQL
from madina.store.sqlite_identities import SQLiteIdentities

if TYPE_CHECKING:
    from madina.store.sqlite import SQLiteStore


class SQLiteIot(IotSQL):
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    _read = SQLiteIdentities._read
    _atomic = SQLiteIdentities._atomic
