"""`SubscriptionStore` on PostgreSQL: pooled connections with `?` placeholders translated (as
the identity tables do), claims that skip rows another worker holds, batched row statements
sent as one pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg

from madina.store.postgres_identities import PostgresIdentities, _pg
from madina.store.subscriptions import SubscriptionSQL, to_json

if TYPE_CHECKING:
    from madina.store.postgres import PostgresStore


class _Run:
    """The shared SQL's executor on one connection, plus `many` for a pipelined batch."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def __call__(self, sql: str, params: tuple) -> list[tuple]:
        cursor = self.conn.execute(_pg(sql), params)
        return cursor.fetchall() if cursor.description else []

    def many(self, sql: str, rows: list[tuple]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(_pg(sql), rows)


class PostgresSubscriptions(SubscriptionSQL):
    _claim_lock = " FOR UPDATE SKIP LOCKED"

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    _read = PostgresIdentities._read

    @contextmanager
    def _atomic(self) -> Iterator[_Run]:
        with self.store.connection() as conn, conn.transaction():
            yield _Run(conn)

    def _each(self, run: Any, sql: str, rows: list[tuple]) -> None:
        run.many(sql, rows)

    def _insert_deliveries(self, run: Any, rows: list[tuple]) -> list[int]:
        """Sequence numbers first (as entity inserts take their pks), then every row in one
        statement with one JSON array parameter."""
        seqs = [seq for (seq,) in run(
            "SELECT nextval(pg_get_serial_sequence('notification_outbox', 'seq'))"
            " FROM generate_series(1, ?)", (len(rows),))]
        run(
            "INSERT INTO notification_outbox (seq, tenant, subscription_id, lane, request, due,"
            " claimed_by, claimed_until) SELECT (x->>0)::bigint, x->>1, x->>2, x->>3, x->4,"
            " (x->>5)::float8, x->>6, (x->>7)::float8 FROM jsonb_array_elements(?::jsonb) x",
            (to_json([(seq, *row) for seq, row in zip(seqs, rows, strict=True)]),),
        )
        return seqs
