"""Area alerts: e-mail addresses that asked to hear of new service requests in an area (a polygon,
or a circle drawn as one), optionally only some services. An alert counts once its owner
confirmed it with the token mailed to them; the unsubscribe token ends it. The confirmation
token is stored as its hash only; the unsubscribe token as it is, since every e-mail of the
alert carries it (it can do nothing but end that alert). Each alert keeps its area's bounding
box, so a new request looks only at the alerts around its point.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import orjson

from madina.store.identities import Executor
from madina.store.open311_outbox import Mail, Open311OutboxSQL

Doc = dict[str, Any]


@dataclass(frozen=True)
class Alert:
    id: int
    tenant: str
    email: str
    area: Doc
    """A GeoJSON Polygon or MultiPolygon (WGS84)."""
    bbox: tuple[float, float, float, float]
    service_codes: tuple[str, ...] | None
    """Only these services (None: every service)."""
    confirmed_at: str | None
    created_at: str
    unsubscribe_token: str = ""


ALERT_COLUMNS = ("id, tenant, email, area, min_lon, min_lat, max_lon, max_lat, service_codes,"
                 " confirmed_at, created_at, unsubscribe_token")


def _alert(row: tuple) -> Alert:
    codes = orjson.loads(row[8]) if row[8] is not None else None
    return Alert(row[0], row[1], row[2], orjson.loads(row[3]), tuple(row[4:8]),
                 tuple(codes) if codes is not None else None, row[9], row[10], row[11])


class Open311AlertSQL:
    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def _atomic(self) -> AbstractContextManager[Executor]:
        raise NotImplementedError

    @staticmethod
    def add_alert(run: Executor, alert: Alert, confirm_hash: str) -> int:
        """A new, unconfirmed alert (inside the caller's transaction, with its confirmation
        e-mail); its id."""
        return run(
            "INSERT INTO open311_alerts (tenant, email, area, min_lon, min_lat, max_lon,"
            " max_lat, service_codes, confirm_hash, unsubscribe_token, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (alert.tenant, alert.email, orjson.dumps(alert.area).decode(), *alert.bbox,
             orjson.dumps(list(alert.service_codes)).decode()
             if alert.service_codes is not None else None,
             confirm_hash, alert.unsubscribe_token, alert.created_at))[0][0]

    def subscribe_alert(self, alert: Alert, confirm_hash: str, mail: Mail, now: str,
                        due: float) -> int:
        """The alert and its confirmation e-mail, together."""
        with self._atomic() as run:
            alert_id = self.add_alert(run, alert, confirm_hash)
            Open311OutboxSQL.queue_mail(run, [mail], now, due)
        return alert_id

    def confirm_alert(self, confirm_hash: str, now: str) -> Alert | None:
        """The alert whose confirmation token this is, confirmed now (at its first use)."""
        with self._atomic() as run:
            run("UPDATE open311_alerts SET confirmed_at = ? WHERE confirm_hash = ?"
                " AND confirmed_at IS NULL", (now, confirm_hash))
            rows = run(f"SELECT {ALERT_COLUMNS} FROM open311_alerts WHERE confirm_hash = ?",
                       (confirm_hash,))
        return _alert(rows[0]) if rows else None

    def remove_alert(self, unsubscribe_token: str) -> Alert | None:
        with self._atomic() as run:
            rows = run(f"DELETE FROM open311_alerts WHERE unsubscribe_token = ?"
                       f" RETURNING {ALERT_COLUMNS}", (unsubscribe_token,))
        return _alert(rows[0]) if rows else None

    @staticmethod
    def alerts_in_box(run: Executor, tenant: str,
                      box: tuple[float, float, float, float]) -> list[Alert]:
        """Confirmed alerts whose area's box meets `box` (min lon, min lat, max lon, max lat);
        the exact tests are the caller's."""
        rows = run(
            f"SELECT {ALERT_COLUMNS} FROM open311_alerts WHERE tenant = ? AND min_lon <= ?"
            " AND max_lon >= ? AND min_lat <= ? AND max_lat >= ? AND confirmed_at IS NOT NULL"
            " ORDER BY id", (tenant, box[2], box[0], box[3], box[1]))
        return [_alert(row) for row in rows]

    def alerts_of(self, tenant: str, email: str) -> list[Alert]:
        rows = self._read(f"SELECT {ALERT_COLUMNS} FROM open311_alerts WHERE tenant = ?"
                          " AND email = ? ORDER BY id", (tenant, email))
        return [_alert(row) for row in rows]

    @staticmethod
    def forget_alerts(run: Executor, tenant: str, email: str) -> int:
        return len(run("DELETE FROM open311_alerts WHERE tenant = ? AND email = ? RETURNING id",
                       (tenant, email)))
