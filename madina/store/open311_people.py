"""A person's data in the Open311 tables, found by an e-mail address, a phone number or an account
id: everything held about them for an export (GDPR art. 15 and 20), and its erasure (art. 17),
which leaves the public requests as they are, shown as anonymous.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

from madina.store.identities import Executor
from madina.store.open311 import REPORTER_COLUMNS, Reporter
from madina.store.open311_alerts import Open311AlertSQL
from madina.store.open311_outbox import Open311OutboxSQL

IDENTIFIERS = ("email", "phone", "account_id")
"""The reporter columns a person can be found by (fixed names: they go into SQL)."""


@dataclass(frozen=True)
class Erased:
    reporters: int
    """Reporter and follower rows removed."""
    anonymised: list[str]
    """Requests that showed the person's name and now show none."""
    alerts: int
    mails: int
    """Queued e-mails to them that will not be sent."""


class Open311PeopleSQL:
    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def _atomic(self) -> AbstractContextManager[Executor]:
        raise NotImplementedError

    def reporters_by(self, tenant: str, identifier: str,
                     value: str) -> list[tuple[str, Reporter]]:
        """(service_request_id, reporter row) of every request the person reported or
        follows."""
        column = _column(identifier)
        rows = self._read(
            f"SELECT request_pk, {REPORTER_COLUMNS} FROM open311_reporters"
            f" WHERE tenant = ? AND {column} = ? ORDER BY request_pk, id", (tenant, value))
        return [(str(row[0]), Reporter(*row[1:])) for row in rows]

    def erase_person(self, tenant: str, identifier: str, value: str) -> Erased:
        """Every row about the person, in one transaction: their reporter rows (the requests
        stay, and any name shown with them goes), their area alerts and queued e-mails to
        every address they used."""
        column = _column(identifier)
        with self._atomic() as run:
            rows = run(f"DELETE FROM open311_reporters WHERE tenant = ? AND {column} = ?"
                       " RETURNING request_pk, role, email", (tenant, value))
            named = sorted({pk for pk, role, _ in rows if role == "reporter"})
            anonymised = []
            for pk in named:
                if run("UPDATE open311_requests SET reported_by = NULL WHERE tenant = ?"
                       " AND pk = ? AND reported_by IS NOT NULL RETURNING pk", (tenant, pk)):
                    anonymised.append(str(pk))
            emails = {email for _, _, email in rows if email is not None}
            if identifier == "email":
                emails.add(value)
            alerts = sum(Open311AlertSQL.forget_alerts(run, tenant, e) for e in emails)
            mails = sum(Open311OutboxSQL.forget_mail(run, tenant, e) for e in emails)
        return Erased(len(rows), anonymised, alerts, mails)


def _column(identifier: str) -> str:
    if identifier not in IDENTIFIERS:
        raise ValueError(f"a person is found by {', '.join(IDENTIFIERS)}")
    return identifier
