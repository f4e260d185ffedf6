"""The Open311 tables on PostgreSQL: pooled connections, `?` translated, as for the identity
tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from madina.store.open311 import Open311SQL
from madina.store.postgres_identities import PostgresIdentities

if TYPE_CHECKING:
    from madina.store.postgres import PostgresStore


class PostgresOpen311(Open311SQL):
    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    _read = PostgresIdentities._read
    _atomic = PostgresIdentities._atomic
