"""The Open311 tables on the embedded engine: the store's connection, lock and write turn, as
for the identity tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from madina.store.open311 import Open311SQL
from madina.store.sqlite_identities import SQLiteIdentities

if TYPE_CHECKING:
    from madina.store.sqlite import SQLiteStore


class SQLiteOpen311(Open311SQL):
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    _read = SQLiteIdentities._read
    _atomic = SQLiteIdentities._atomic
