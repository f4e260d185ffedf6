"""`IotStore` on PostgreSQL: pooled connections, `?` placeholders translated, as the identity
tables do."""

from __future__ import annotations

from typing import TYPE_CHECKING

from madina.store.iot import IotSQL
from madina.store.postgres_identities import PostgresIdentities

if TYPE_CHECKING:
    from madina.store.postgres import PostgresStore


class PostgresIot(IotSQL):
    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    _read = PostgresIdentities._read
    _atomic = PostgresIdentities._atomic
