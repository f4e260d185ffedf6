"""`IdentityStore` on the PostgreSQL engine's connection pool.

Every statement that must agree across workers (using a refresh token once, counting failed
sign-ins) is a single atomic statement or runs in one transaction, so concurrent workers never
both win a race."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from madina.store.identities import Executor, IdentitySQL

if TYPE_CHECKING:
    from madina.store.postgres import PostgresStore


def _pg(sql: str) -> str:
    """The shared SQL's `?` placeholders in psycopg's style (no `?` appears otherwise)."""
    return sql.replace("?", "%s")


class PostgresIdentities(IdentitySQL):
    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.store._read(_pg(sql), params)

    @contextmanager
    def _atomic(self) -> Iterator[Executor]:
        with self.store.connection() as conn, conn.transaction():

            def run(sql: str, params: tuple) -> list[tuple]:
                cursor = conn.execute(_pg(sql), params)
                return cursor.fetchall() if cursor.description else []

            yield run
