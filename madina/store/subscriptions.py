"""Subscriptions, their notification outbox and the notifier's change-log cursor (madina.events).

A subscription is kept as the JSON document madina.context.subscriptions validated (names
expanded), beside counters of its notifications that deliverers add to in batches, never with
a write per notification. Every change of a document bumps one revision number in the same
transaction, so the notifier of each worker process notices with one indexed read per batch of
changes that its compiled copies are stale (as the IoT gateway's caches do).

The outbox holds one row per notification to send: the whole HTTP or MQTT request, built when
the change was matched, so a delivery depends on nothing that may change later. The matcher
inserts rows and moves its change-log cursor in one transaction: a crash loses neither a
change nor its notifications, and repeats at most a batch (at-least-once). Rows are claimed by
a worker process for a lease (`claimed_by`, `claimed_until`), deleted once delivered, and put
back with a later `due` time after a failure; a row whose claimer died is claimed again when its
lease runs out. Times in the outbox are Unix seconds (a float both engines store alike).

Both engines run the same SQL through `SubscriptionSQL` (`?` placeholders, translated for
PostgreSQL); how rows are inserted and claimed differs and lives in each engine's module. The
matcher runs in one process at a time (`Store.try_lead`).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from madina.store.identities import Executor


@dataclass(frozen=True)
class StoredSubscription:
    tenant: str
    id: str
    doc: dict[str, Any]
    """The validated subscription (madina.context.subscriptions), expanded names."""
    created_at: str
    modified_at: str
    times_sent: int = 0
    times_failed: int = 0
    last_notification: str | None = None
    last_success: str | None = None
    last_failure: str | None = None
    delivery_status: str | None = None
    """"ok" or "failed" after the latest attempt; None before the first."""


@dataclass(frozen=True)
class NewDelivery:
    """A notification the matcher produced, to be written to the outbox."""

    tenant: str
    subscription_id: str
    lane: str
    """Deliveries of one lane (an HTTP origin, an MQTT broker) share a queue and its limits."""
    request: dict[str, Any]
    """What to send: see madina.events.delivery.Request."""


@dataclass(frozen=True)
class Delivery:
    """An outbox row claimed by this process."""

    seq: int
    tenant: str
    subscription_id: str
    lane: str
    request: dict[str, Any]
    attempts: int
    """Failed attempts so far."""


@dataclass(frozen=True)
class Outcome:
    """What became of one subscription's deliveries since the last flush (summed)."""

    tenant: str
    subscription_id: str
    sent: int = 0
    failed: int = 0
    last_notification: str | None = None
    last_success: str | None = None
    last_failure: str | None = None
    status: str | None = None


class SubscriptionStore(Protocol):
    """Both engines implement it with `SubscriptionSQL` plus their claim and leadership."""

    def add(self, tenant: str, doc: dict[str, Any], now: str) -> bool:
        """False when the tenant already has a subscription with this id (nothing written)."""
    def get(self, tenant: str, subscription_id: str) -> StoredSubscription | None: ...
    def page(self, tenant: str, limit: int, offset: int) -> tuple[list[StoredSubscription], int]:
        """The tenant's subscriptions in creation order, and how many it has."""
    def replace(self, tenant: str, doc: dict[str, Any], now: str) -> bool:
        """Store a changed document; False when the subscription is gone."""
    def delete(self, tenant: str, subscription_id: str) -> bool:
        """Also drops the subscription's undelivered notifications."""
    def every(self) -> list[StoredSubscription]:
        """Every tenant's subscriptions (the notifier compiles them)."""
    def revision(self) -> int:
        """A number that changes whenever any subscription document changes (in any worker)."""

    def cursor(self, consumer: str) -> str | None:
        """Where a change-log consumer stopped (None: it never ran on this database)."""
    def init_cursor(self, consumer: str, cursor: str) -> None:
        """Set the consumer's cursor unless it has one already."""
    def enqueue(
        self, consumer: str, cursor: str | None, deliveries: list[NewDelivery],
        claimed_by: str, claimed_until: float, now: float,
    ) -> list[Delivery]:
        """Write the deliveries, claimed by `claimed_by`, and move the consumer's cursor (when
        given) in one transaction; returns them with their outbox sequence numbers."""
    def claim(self, claimer: str, now: float, lease: float, limit: int) -> list[Delivery]:
        """Claim due deliveries nobody holds (or whose claimer's lease ran out), oldest first."""
    def delivered(self, seqs: list[int]) -> None: ...
    def retry(self, claimer: str, retries: list[tuple[int, int, float, float]]) -> None:
        """(seq, failed attempts so far, due time, claimed until): the claimer keeps the row
        and retries it when due; should it die, the claim runs out and anyone may."""
    def release(self, claimer: str, seqs: list[int] | None = None) -> None:
        """Give claimed rows back untouched (all of the claimer's when `seqs` is None)."""
    def pending(self) -> int:
        """Undelivered notifications in the outbox (monitoring, tests, benchmarks)."""
    def record(self, outcomes: Iterable[Outcome]) -> None:
        """Add delivery outcomes to the subscriptions' counters and timestamps."""


COLUMNS = ("tenant, id, doc, created_at, modified_at, times_sent, times_failed,"
           " last_notification, last_success, last_failure, delivery_status")
DELIVERY_COLUMNS = "seq, tenant, subscription_id, lane, request, attempts"


def to_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _doc(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _subscription(row: tuple) -> StoredSubscription:
    return StoredSubscription(row[0], row[1], _doc(row[2]), *row[3:])


def _delivery(row: tuple) -> Delivery:
    return Delivery(row[0], row[1], row[2], row[3], _doc(row[4]), row[5])


def _later(column: str) -> str:
    """`column` set to the parameter when it is later (canonical timestamps sort as text)."""
    return (f"{column} = CASE WHEN CAST(? AS TEXT) IS NOT NULL AND ({column} IS NULL"
            f" OR {column} < CAST(? AS TEXT)) THEN CAST(? AS TEXT) ELSE {column} END")


class SubscriptionSQL:
    """`SubscriptionStore` in SQL both engines understand. Engines supply `_read`, `_atomic`,
    `_insert_deliveries` and `_claim_lock`."""

    _claim_lock = ""
    """Appended to the claim's row selection (PostgreSQL: FOR UPDATE SKIP LOCKED)."""

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def _atomic(self) -> AbstractContextManager[Executor]:
        raise NotImplementedError

    def _insert_deliveries(self, run: Executor, rows: list[tuple]) -> list[int]:
        """Insert outbox rows (`delivery_row`s); their sequence numbers, in order."""
        raise NotImplementedError

    @staticmethod
    def _bump(run: Executor) -> None:
        run("UPDATE subscription_revision SET revision = revision + 1", ())

    # -- subscriptions -------------------------------------------------------------------------
    def add(self, tenant: str, doc: dict[str, Any], now: str) -> bool:
        with self._atomic() as run:
            rows = run(
                "INSERT INTO subscriptions (tenant, id, doc, created_at, modified_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO NOTHING RETURNING id",
                (tenant, doc["id"], to_json(doc), now, now),
            )
            if not rows:
                return False
            if tenant:
                run("INSERT INTO tenants (name, created_at) VALUES (?, ?)"
                    " ON CONFLICT (name) DO NOTHING", (tenant, now))
            self._bump(run)
            return True

    def get(self, tenant: str, subscription_id: str) -> StoredSubscription | None:
        rows = self._read(f"SELECT {COLUMNS} FROM subscriptions WHERE tenant = ? AND id = ?",
                          (tenant, subscription_id))
        return _subscription(rows[0]) if rows else None

    def page(self, tenant: str, limit: int, offset: int) -> tuple[list[StoredSubscription], int]:
        total = self._read("SELECT count(*) FROM subscriptions WHERE tenant = ?", (tenant,))
        rows = self._read(
            f"SELECT {COLUMNS} FROM subscriptions WHERE tenant = ?"
            " ORDER BY created_at, id LIMIT ? OFFSET ?",
            (tenant, limit, offset),
        )
        return [_subscription(row) for row in rows], int(total[0][0])

    def replace(self, tenant: str, doc: dict[str, Any], now: str) -> bool:
        with self._atomic() as run:
            rows = run(
                "UPDATE subscriptions SET doc = ?, modified_at = ? WHERE tenant = ? AND id = ?"
                " RETURNING id",
                (to_json(doc), now, tenant, doc["id"]),
            )
            if rows:
                self._bump(run)
            return bool(rows)

    def delete(self, tenant: str, subscription_id: str) -> bool:
        with self._atomic() as run:
            rows = run("DELETE FROM subscriptions WHERE tenant = ? AND id = ? RETURNING id",
                       (tenant, subscription_id))
            if rows:
                run("DELETE FROM notification_outbox WHERE tenant = ? AND subscription_id = ?",
                    (tenant, subscription_id))
                self._bump(run)
            return bool(rows)

    def every(self) -> list[StoredSubscription]:
        rows = self._read(f"SELECT {COLUMNS} FROM subscriptions ORDER BY tenant, created_at, id")
        return [_subscription(row) for row in rows]

    def revision(self) -> int:
        return int(self._read("SELECT revision FROM subscription_revision")[0][0])

    # -- the notifier's cursor and outbox ------------------------------------------------------
    def cursor(self, consumer: str) -> str | None:
        rows = self._read("SELECT cursor FROM event_cursors WHERE consumer = ?", (consumer,))
        return rows[0][0] if rows else None

    def init_cursor(self, consumer: str, cursor: str) -> None:
        with self._atomic() as run:
            run("INSERT INTO event_cursors (consumer, cursor) VALUES (?, ?)"
                " ON CONFLICT (consumer) DO NOTHING", (consumer, cursor))

    def enqueue(
        self, consumer: str, cursor: str | None, deliveries: list[NewDelivery],
        claimed_by: str, claimed_until: float, now: float,
    ) -> list[Delivery]:
        rows = [delivery_row(d, now, claimed_by, claimed_until) for d in deliveries]
        with self._atomic() as run:
            seqs = self._insert_deliveries(run, rows) if rows else []
            if cursor is not None:
                run("INSERT INTO event_cursors (consumer, cursor) VALUES (?, ?)"
                    " ON CONFLICT (consumer) DO UPDATE SET cursor = excluded.cursor",
                    (consumer, cursor))
        return [
            Delivery(seq, d.tenant, d.subscription_id, d.lane, d.request, 0)
            for seq, d in zip(seqs, deliveries, strict=True)
        ]

    def claim(self, claimer: str, now: float, lease: float, limit: int) -> list[Delivery]:
        with self._atomic() as run:
            rows = run(
                "UPDATE notification_outbox SET claimed_by = ?, claimed_until = ?"
                " WHERE seq IN (SELECT seq FROM notification_outbox WHERE due <= ?"
                " AND (claimed_until IS NULL OR claimed_until < ?)"
                f" ORDER BY due, seq LIMIT ?{self._claim_lock})"
                f" RETURNING {DELIVERY_COLUMNS}",
                (claimer, now + lease, now, now, limit),
            )
        return sorted((_delivery(row) for row in rows), key=lambda d: d.seq)

    def delivered(self, seqs: list[int]) -> None:
        if seqs:
            with self._atomic() as run:
                self._each(run, "DELETE FROM notification_outbox WHERE seq = ?",
                           [(seq,) for seq in seqs])

    def retry(self, claimer: str, retries: list[tuple[int, int, float, float]]) -> None:
        if retries:
            with self._atomic() as run:
                self._each(run, "UPDATE notification_outbox SET attempts = ?, due = ?,"
                                " claimed_by = ?, claimed_until = ? WHERE seq = ?",
                           [(attempts, due, claimer, until, seq)
                            for seq, attempts, due, until in retries])

    def release(self, claimer: str, seqs: list[int] | None = None) -> None:
        with self._atomic() as run:
            if seqs is None:
                run("UPDATE notification_outbox SET claimed_by = NULL, claimed_until = NULL"
                    " WHERE claimed_by = ?", (claimer,))
            elif seqs:
                self._each(run, "UPDATE notification_outbox SET claimed_by = NULL,"
                                " claimed_until = NULL WHERE seq = ? AND claimed_by = ?",
                           [(seq, claimer) for seq in seqs])

    def pending(self) -> int:
        return int(self._read("SELECT count(*) FROM notification_outbox")[0][0])

    def record(self, outcomes: Iterable[Outcome]) -> None:
        rows = [
            (o.sent, o.failed,
             o.last_notification, o.last_notification, o.last_notification,
             o.last_success, o.last_success, o.last_success,
             o.last_failure, o.last_failure, o.last_failure,
             o.status, o.tenant, o.subscription_id)
            for o in outcomes
        ]
        if rows:
            with self._atomic() as run:
                self._each(
                    run,
                    "UPDATE subscriptions SET times_sent = times_sent + ?,"
                    " times_failed = times_failed + ?,"
                    f" {_later('last_notification')}, {_later('last_success')},"
                    f" {_later('last_failure')},"
                    " delivery_status = coalesce(CAST(? AS TEXT), delivery_status)"
                    " WHERE tenant = ? AND id = ?",
                    rows,
                )

    def _each(self, run: Executor, sql: str, rows: list[tuple]) -> None:
        for row in rows:
            run(sql, row)


def delivery_row(
    delivery: NewDelivery, due: float, claimed_by: str, claimed_until: float
) -> tuple:
    """The INSERT_DELIVERY parameters of a new outbox row (the request still a dict)."""
    return (delivery.tenant, delivery.subscription_id, delivery.lane, delivery.request, due,
            claimed_by, claimed_until)


INSERT_DELIVERY = (
    "INSERT INTO notification_outbox (tenant, subscription_id, lane, request, due, claimed_by,"
    " claimed_until) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
