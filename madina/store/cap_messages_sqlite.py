"""The CAP message table on the embedded engine: the store's connection, lock and write turn, as
for the identity tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from madina.store.cap_messages import CapMessageSQL
from madina.store.sqlite_identities import SQLiteIdentities

if TYPE_CHECKING:
    from madina.store.sqlite import SQLiteStore


class SQLiteCapMessages(CapMessageSQL):
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    _read = SQLiteIdentities._read
    _atomic = SQLiteIdentities._atomic
