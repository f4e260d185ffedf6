"""What happens to Open311 requests after submission: their state moves (each with its history
row, inside the transaction that also republishes the entity), the people following them, the
public feed of updates (servicerequestupdates), and the open requests near a point (duplicates).
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from madina.store.identities import Executor
from madina.store.open311 import (
    REPORTER_COLUMNS,
    REQUEST_COLUMNS,
    Open311SQL,
    Reporter,
    RequestRecord,
    StatusChange,
    placeholders,
    request_from_row,
    request_pk,
)

NEARBY_CAP = 10_000
"""Most requests one nearby search may read; a box holding more is a search to narrow."""


class TooMany(ValueError):
    """More requests than NEARBY_CAP lie in the searched box."""


class Open311WorkflowSQL:
    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def _atomic(self) -> AbstractContextManager[Executor]:
        raise NotImplementedError

    # -- state -------------------------------------------------------------------------------
    @staticmethod
    def lock_request(run: Executor, tenant: str, request_id: str) -> RequestRecord | None:
        """The request, its row locked until the caller's transaction ends (a no-op write
        takes the lock on PostgreSQL; SQLite's writer lock covers all), so concurrent moves of
        one request queue instead of one being lost."""
        pk = request_pk(request_id)
        if pk is None:
            return None
        if not run("UPDATE open311_requests SET updated_at = updated_at"
                   " WHERE tenant = ? AND pk = ? RETURNING pk", (tenant, pk)):
            return None
        return request_from_row(run(f"SELECT {REQUEST_COLUMNS} FROM open311_requests"
                            " WHERE tenant = ? AND pk = ?", (tenant, pk))[0])

    @staticmethod
    def save_state(run: Executor, record: RequestRecord, change: StatusChange) -> RequestRecord:
        """Store the request's new public side (`record`) and append `change` to its
        history; the stored record."""
        pk = request_pk(record.id)
        row = run(
            "UPDATE open311_requests SET state = ?, status = ?, status_notes = ?, reason = ?,"
            " updated_at = ?, expected_at = ?, duplicate_of = ?, reported_by = ?"
            f" WHERE tenant = ? AND pk = ? RETURNING {REQUEST_COLUMNS}",
            (record.state, record.status, record.status_notes, record.reason,
             record.updated_at, record.expected_at,
             request_pk(record.duplicate_of) if record.duplicate_of else None, record.reported_by,
             record.tenant, pk))[0]
        Open311SQL.add_history(run, record.tenant, pk, change)
        return request_from_row(row)

    # -- followers ---------------------------------------------------------------------------
    @staticmethod
    def recipients(run: Executor, tenant: str, request_id: str) -> list[str]:
        """The e-mail addresses told of the request's changes: its reporter's and its
        followers', once each."""
        rows = run("SELECT DISTINCT email FROM open311_reporters WHERE tenant = ?"
                   " AND request_pk = ? AND email IS NOT NULL ORDER BY email",
                   (tenant, request_pk(request_id)))
        return [row[0] for row in rows]

    def add_follower(self, tenant: str, request_id: str, who: Reporter) -> bool:
        """`who` follows the request from now on; False when that e-mail address already
        does (as reporter or follower), and nothing is added."""
        pk = request_pk(request_id)
        with self._atomic() as run:
            if run("SELECT 1 FROM open311_reporters WHERE tenant = ? AND request_pk = ?"
                   " AND email = ?", (tenant, pk, who.email)):
                return False
            Open311SQL.add_reporter(run, tenant, pk, who)
        return True

    @staticmethod
    def move_followers(run: Executor, tenant: str, from_id: str, to_id: str, now: str) -> int:
        """Everyone behind request `from_id` (merged as a duplicate) follows `to_id` too,
        except e-mail addresses already there; how many were added."""
        source, target = request_pk(from_id), request_pk(to_id)
        columns = REPORTER_COLUMNS.replace("role, ", "").replace(", created_at", "")
        rows = run(
            f"INSERT INTO open311_reporters (tenant, request_pk, role, {columns}, created_at)"
            f" SELECT tenant, ?, 'follower', {columns}, ? FROM open311_reporters r"
            " WHERE r.tenant = ? AND r.request_pk = ? AND (r.email IS NULL OR NOT EXISTS ("
            "   SELECT 1 FROM open311_reporters k WHERE k.tenant = r.tenant"
            "   AND k.request_pk = ? AND k.email = r.email)) RETURNING id",
            (target, now, tenant, source, target))
        return len(rows)

    # -- reading -----------------------------------------------------------------------------
    def updates(self, tenant: str, start: str, end: str, limit: int,
                offset: int) -> list[tuple[str, StatusChange]]:
        """(service_request_id, change) of every change made after submission between
        `start` and `end`, oldest first: mySociety's servicerequestupdates."""
        rows = self._read(
            "SELECT h.request_pk, h.at, h.status, h.note, h.author, h.reason, h.id"
            " FROM open311_status_history h WHERE h.tenant = ? AND h.at >= ? AND h.at <= ?"
            " AND h.id > (SELECT MIN(f.id) FROM open311_status_history f"
            "   WHERE f.tenant = h.tenant AND f.request_pk = h.request_pk)"
            " ORDER BY h.at, h.id LIMIT ? OFFSET ?", (tenant, start, end, limit, offset))
        return [(str(row[0]), StatusChange(row[1], row[2], row[3], row[4], row[5], row[6]))
                for row in rows]

    def requests_in_box(self, tenant: str, box: tuple[float, float, float, float],
                        service_codes: list[str] | None, statuses: list[str] | None,
                        start: str | None, end: str | None) -> list[RequestRecord]:
        """Requests whose point lies in the box (min lon, min lat, max lon, max lat), with the
        other filters; the caller measures the real distances. TooMany past NEARBY_CAP."""
        conditions = ["tenant = ?", "lat >= ?", "lat <= ?", "long >= ?", "long <= ?"]
        params: list = [tenant, box[1], box[3], box[0], box[2]]
        for column, values in (("service_code", service_codes), ("status", statuses)):
            if values is not None:
                conditions.append(f"{column} IN ({placeholders(values)})")
                params.extend(values)
        for condition, value in (("requested_at >= ?", start), ("requested_at <= ?", end)):
            if value is not None:
                conditions.append(condition)
                params.append(value)
        rows = self._read(f"SELECT {REQUEST_COLUMNS} FROM open311_requests"
                          f" WHERE {' AND '.join(conditions)} LIMIT ?", (*params, NEARBY_CAP + 1))
        if len(rows) > NEARBY_CAP:
            raise TooMany(f"more than {NEARBY_CAP} requests")
        return [request_from_row(row) for row in rows]
