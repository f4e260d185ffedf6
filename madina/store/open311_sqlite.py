"""The Open311 tables on the embedded engine: the store's connection, lock and write turn, as
for the identity tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from madina.store.identities import Executor
from madina.store.open311_tables import Open311Tables
from madina.store.sqlite_identities import SQLiteIdentities

if TYPE_CHECKING:
    from madina.store.sqlite import SQLiteStore, SQLiteTransaction


class SQLiteOpen311(Open311Tables):
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    _read = SQLiteIdentities._read
    _atomic = SQLiteIdentities._atomic

    def executor(self, tx: SQLiteTransaction) -> Executor:
        conn = tx.conn
        return lambda sql, params: conn.execute(sql, params).fetchall()
