"""The CAP message table on PostgreSQL: pooled connections, `?` translated, as for the identity
tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from madina.store.cap_messages import CapMessageSQL
from madina.store.postgres_identities import PostgresIdentities

if TYPE_CHECKING:
    from madina.store.postgres import PostgresStore


class PostgresCapMessages(CapMessageSQL):
    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    _read = PostgresIdentities._read
    _atomic = PostgresIdentities._atomic
