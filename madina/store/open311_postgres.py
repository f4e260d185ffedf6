"""The Open311 tables on PostgreSQL: pooled connections, `?` translated, as for the identity
tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from madina.store.identities import Executor
from madina.store.open311_tables import Open311Tables
from madina.store.postgres_identities import PostgresIdentities, _pg

if TYPE_CHECKING:
    from madina.store.postgres import PostgresStore, PostgresTransaction


def _returns_rows(sql: str) -> bool:
    """Whether a statement answers rows: entity transactions run in pipeline mode, where a
    cursor tells nothing (not even `description`) until its rows are fetched, and fetching
    from a statement without rows is an error."""
    text = sql.lstrip().upper()
    return text.startswith("SELECT") or " RETURNING " in text


class PostgresOpen311(Open311Tables):
    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    _read = PostgresIdentities._read
    _atomic = PostgresIdentities._atomic

    def executor(self, tx: PostgresTransaction) -> Executor:
        conn = tx.conn

        def run(sql: str, params: tuple) -> list[tuple]:
            cursor = conn.execute(_pg(sql), params)
            return cursor.fetchall() if _returns_rows(sql) else []

        return run
