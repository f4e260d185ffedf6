"""The CAP messages a tenant has published: each message's XML exactly as issued, with what the
public feed selects on.

A published CAP message never changes (a correction is a new message referencing it), so a row
is written once and only its `superseded` mark moves: when a later message references it, in
the same transaction as that message's insert. The feed lists the messages still current — not
superseded, not expired — newest first.

Both engines run the same SQL through `CapMessageSQL` (`?` placeholders, translated for
PostgreSQL); times are fixed-width ISO 8601 UTC text (CAP times are whole seconds), so string
order is time order on both.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from madina.store.identities import Executor

_TIME = "%Y-%m-%dT%H:%M:%SZ"


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_TIME)


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.strptime(text, _TIME).replace(tzinfo=UTC)


@dataclass(frozen=True)
class StoredCapMessage:
    identifier: str
    sent: datetime
    msg_type: str
    """Alert, Update, Cancel, Ack or Error."""
    references: tuple[str, ...]
    """Identifiers of the earlier messages this one references."""
    expires: datetime | None
    """When the message stops being current (None: never, by itself)."""
    xml: bytes
    """The CAP document as issued."""
    superseded: bool = False


COLUMNS = "identifier, sent, msg_type, refs, expires, xml, superseded"


def _row(row: tuple) -> StoredCapMessage:
    refs = tuple(row[3].split()) if row[3] else ()
    return StoredCapMessage(row[0], _moment(row[1]), row[2], refs,  # type: ignore[arg-type]
                            _moment(row[4]), row[5].encode(), bool(row[6]))


class CapMessageSQL:
    """Engines supply `_read` (one statement, its rows) and `_atomic` (a write transaction
    yielding an executor)."""

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def _atomic(self) -> AbstractContextManager[Executor]:
        raise NotImplementedError

    def add(self, tenant: str, message: StoredCapMessage) -> bool:
        """Store a newly issued message and mark the ones it references superseded, in one
        transaction. False when the tenant already has a message with that identifier (nothing
        written: publishing is idempotent, a retry after a crash stores it once)."""
        with self._atomic() as run:
            inserted = run(
                f"INSERT INTO cap_messages (tenant, {COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (tenant, identifier) DO NOTHING RETURNING identifier",
                (tenant, message.identifier, _text(message.sent), message.msg_type,
                 " ".join(message.references),
                 None if message.expires is None else _text(message.expires),
                 message.xml.decode(), False),
            )
            if not inserted:
                return False
            for identifier in message.references:
                run("UPDATE cap_messages SET superseded = ? WHERE tenant = ? AND identifier = ?",
                    (True, tenant, identifier))
            return True

    def get(self, tenant: str, identifier: str) -> StoredCapMessage | None:
        rows = self._read(
            f"SELECT {COLUMNS} FROM cap_messages WHERE tenant = ? AND identifier = ?",
            (tenant, identifier),
        )
        return _row(rows[0]) if rows else None

    def current(self, tenant: str, now: datetime, limit: int) -> list[StoredCapMessage]:
        """The tenant's current messages, newest first: not superseded by a later one and not
        expired at `now`."""
        rows = self._read(
            f"SELECT {COLUMNS} FROM cap_messages WHERE tenant = ? AND superseded = ?"
            " AND (expires IS NULL OR expires > ?) ORDER BY sent DESC, identifier LIMIT ?",
            (tenant, False, _text(now), limit),
        )
        return [_row(row) for row in rows]
