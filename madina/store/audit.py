"""The audit log's table: who did what, when, from where — appended, queried, expired.

Both engines run the same SQL through `AuditSQL` (`?` placeholders, translated for PostgreSQL);
they differ in how a statement reaches the database, in how a time is stored (ISO 8601 text that
sorts as time in SQLite, `timestamptz` in PostgreSQL) and in how old entries go (row deletes in
SQLite, whole month partitions in PostgreSQL).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from madina.store.identities import Executor


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    """When, timezone-aware UTC."""
    tenant: str
    """The tenant the request was about (its NGSILD-Tenant, else the caller's own)."""
    subject: str
    subject_tenant: str
    """The tenant the caller's identity belongs to."""
    via: str
    """How the caller signed in (madina.auth.principal.Via)."""
    roles: tuple[str, ...]
    action: str
    """"write", "refused" (a write answered 401/403) or "personal_data"."""
    method: str
    path: str
    """The request path without its query string (which may carry personal data)."""
    entity_ids: tuple[str, ...] = ()
    status: int | None = None
    """The HTTP status; None for a personal-data access recorded before the answer exists."""
    detail: str = ""
    """For personal-data access: what was read, in words."""
    client: str = ""
    """The client address, as the rate limiter determines it (trusted proxies honoured)."""
    request_id: str = ""


COLUMNS = ("at, tenant, subject, subject_tenant, via, roles, action, method, path, entity_ids,"
           " status, detail, client, request_id")


class AuditSQL:
    """Engines supply `_read`, `_atomic`, and the time conversions `_time_param`/`_time_value`."""

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def _atomic(self) -> AbstractContextManager[Executor]:
        raise NotImplementedError

    def _time_param(self, moment: datetime) -> Any:
        raise NotImplementedError

    def _time_value(self, stored: Any) -> datetime:
        raise NotImplementedError

    def append(self, entries: list[AuditEntry]) -> None:
        """Durable once this returns: the entries share one committed transaction."""
        with self._atomic() as run:
            for entry in entries:
                run(f"INSERT INTO audit_log ({COLUMNS}) VALUES ({', '.join('?' * 14)})",
                    self._row(entry))

    def _row(self, entry: AuditEntry) -> tuple:
        return (self._time_param(entry.at), entry.tenant, entry.subject, entry.subject_tenant,
                entry.via, _json(entry.roles), entry.action, entry.method, entry.path,
                _json(entry.entity_ids), entry.status, entry.detail, entry.client,
                entry.request_id)

    def query(
        self,
        tenant: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        subject: str | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Newest first; `tenant` None means every tenant. `since` inclusive, `until` not."""
        conditions, params = [], []
        for column, operator, value in (("tenant", "=", tenant), ("subject", "=", subject),
                                        ("at", ">=", since), ("at", "<", until)):
            if value is not None:
                conditions.append(f"{column} {operator} ?")
                params.append(self._time_param(value) if column == "at" else value)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._read(f"SELECT {COLUMNS} FROM audit_log{where} ORDER BY at DESC LIMIT ?",
                          (*params, limit))
        return [self._entry(row) for row in rows]

    def _entry(self, row: tuple) -> AuditEntry:
        return AuditEntry(self._time_value(row[0]), row[1], row[2], row[3], row[4],
                          _list(row[5]), row[6], row[7], row[8], _list(row[9]), row[10], row[11],
                          row[12], row[13])

    def prepare(self, now: datetime) -> None:
        """Make appends around `now` possible (PostgreSQL: the month partitions ahead)."""
        raise NotImplementedError

    def expire(self, before: datetime) -> None:
        """Forget entries older than `before` (retention)."""
        raise NotImplementedError


def _json(values: tuple[str, ...]) -> str:
    return orjson.dumps(list(values)).decode()


def _list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = orjson.loads(value)
    return tuple(value)
