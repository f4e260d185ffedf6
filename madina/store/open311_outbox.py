"""The Open311 e-mail outbox: every message to a citizen is a row, written in the transaction of
the change it tells about, so a committed change always has its e-mail queued and a crash or a
restart loses none. A sender (madina.services.open311.outbox) claims due rows for a while,
sends them, and deletes each one sent; a failed one is due again later, and after the last
attempt it stays in the table marked failed, for the operators.

Claiming is one UPDATE whose outer condition is checked again on each row it locks, so two
workers (PostgreSQL) never both hold a row; a claim that expires (its worker died) makes the row
claimable again: at least once.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

from madina.store.identities import Executor


@dataclass(frozen=True)
class Mail:
    tenant: str
    recipient: str
    message: str
    """The rendered message as JSON (subject, text, headers): what is sent is fixed when the
    change is made, not when the sender gets to it."""


@dataclass(frozen=True)
class QueuedMail:
    id: int
    tenant: str
    recipient: str
    message: str
    attempts: int
    """Attempts made before this claim."""


class Open311OutboxSQL:
    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def _atomic(self) -> AbstractContextManager[Executor]:
        raise NotImplementedError

    @staticmethod
    def queue_mail(run: Executor, mails: list[Mail], now: str, due: float) -> None:
        """Queue `mails` inside the caller's transaction."""
        for mail in mails:
            run("INSERT INTO open311_outbox (tenant, recipient, message, due, created_at)"
                " VALUES (?, ?, ?, ?, ?)", (mail.tenant, mail.recipient, mail.message, due, now))

    def claim_mail(self, worker: str, now: float, until: float, limit: int) -> list[QueuedMail]:
        """Due rows nobody holds, held by `worker` until `until` (epoch seconds)."""
        with self._atomic() as run:
            rows = run(
                "UPDATE open311_outbox SET claimed_by = ?, claimed_until = ?"
                " WHERE id IN (SELECT id FROM open311_outbox WHERE failed = ? AND due <= ?"
                "   AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY due, id LIMIT ?)"
                " AND (claimed_until IS NULL OR claimed_until < ?)"
                " RETURNING id, tenant, recipient, message, attempts",
                (worker, until, False, now, now, limit, now))
        return sorted((QueuedMail(*row) for row in rows), key=lambda mail: mail.id)

    def mail_sent(self, ids: list[int]) -> None:
        if not ids:
            return
        with self._atomic() as run:
            run(f"DELETE FROM open311_outbox WHERE id IN ({', '.join('?' * len(ids))})",
                tuple(ids))

    def mail_failed(self, mail_id: int, error: str, due: float | None) -> None:
        """One more failed attempt: due again at `due`, or (None) given up and kept."""
        with self._atomic() as run:
            run("UPDATE open311_outbox SET attempts = attempts + 1, last_error = ?, due = ?,"
                " failed = ?, claimed_by = NULL, claimed_until = NULL WHERE id = ?",
                (error[:1000], due if due is not None else 0.0, due is None, mail_id))

    def next_mail_due(self) -> float | None:
        rows = self._read("SELECT MIN(due) FROM open311_outbox WHERE failed = ?", (False,))
        return rows[0][0] if rows else None

    def mail_counts(self) -> tuple[int, int]:
        """(waiting, failed) messages."""
        rows = self._read("SELECT failed, COUNT(*) FROM open311_outbox GROUP BY failed")
        counts = {bool(failed): count for failed, count in rows}
        return counts.get(False, 0), counts.get(True, 0)

    def mail_to(self, tenant: str, recipient: str) -> list[tuple[str, str, int, bool]]:
        """(message, created_at, attempts, failed) of every message kept for `recipient`."""
        rows = self._read(
            "SELECT message, created_at, attempts, failed FROM open311_outbox"
            " WHERE tenant = ? AND recipient = ? ORDER BY id", (tenant, recipient))
        return [(row[0], row[1], row[2], bool(row[3])) for row in rows]

    @staticmethod
    def forget_mail(run: Executor, tenant: str, recipient: str) -> int:
        return len(run("DELETE FROM open311_outbox WHERE tenant = ? AND recipient = ?"
                       " RETURNING id", (tenant, recipient)))
