"""`IdentityStore` on the embedded engine's connection, taking its write lock like entity writes
do (worker processes queue for the lock file; one connection per process)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from madina.store.identities import Executor, IdentitySQL

if TYPE_CHECKING:
    from madina.store.sqlite import SQLiteStore


class SQLiteIdentities(IdentitySQL):
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.store._lock:
            return self.store.conn.execute(sql, params).fetchall()

    @contextmanager
    def _atomic(self) -> Iterator[Executor]:
        store = self.store
        with store._lock, store._writer_turn():
            conn = store.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield lambda sql, params: conn.execute(sql, params).fetchall()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
